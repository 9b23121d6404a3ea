"""The official SDK, over real HTTP, against the scripted server: every request it sends is
verified by mmkit's ``recover_signer`` (what the loopback emulator does)."""

from __future__ import annotations

import asyncio

import pytest
from tests.venues.hyperliquid.hl_canned import order_ok
from tests.venues.hyperliquid.hl_server import FakeHyperliquid, Scripted

sdk_exchange = pytest.importorskip("hyperliquid.exchange")
sdk_types = pytest.importorskip("hyperliquid.utils.types")
from eth_account import Account  # noqa: E402

pytestmark = pytest.mark.network

KEY = "0x" + "33" * 32


def test_sdk_requests_verify_with_recover_signer() -> None:
    async def main() -> None:
        server = FakeHyperliquid()
        await server.start()
        try:
            wallet = Account.from_key(KEY)
            server.script = [
                Scripted(body=order_ok({"resting": {"oid": 1}})),
                Scripted(body=order_ok({"resting": {"oid": 2}})),
            ]
            ex = await asyncio.to_thread(sdk_exchange.Exchange, wallet, server.url)
            cloid = sdk_types.Cloid.from_int(7)
            placed = await asyncio.to_thread(
                ex.order, "BTC", True, 0.001, 100000.0, {"limit": {"tif": "Alo"}}, False, cloid
            )
            assert placed["response"]["data"]["statuses"][0]["resting"]["oid"] == 1
            await asyncio.to_thread(
                ex.modify_order,
                1,
                "BTC",
                True,
                0.002,
                99000.0,
                {"limit": {"tif": "Alo"}},
                False,
                cloid,
            )
            await asyncio.to_thread(ex.cancel, "BTC", 2)
            await asyncio.to_thread(ex.cancel_by_cloid, "BTC", cloid)
            await asyncio.to_thread(ex.schedule_cancel, None)
        finally:
            await server.stop()
        kinds = [r["action"]["type"] for r in server.exchange_requests]
        assert kinds == ["order", "batchModify", "cancel", "cancelByCloid", "scheduleCancel"]
        assert set(server.signers) == {wallet.address.lower()}

    asyncio.run(main())
