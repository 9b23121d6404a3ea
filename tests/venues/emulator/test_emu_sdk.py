"""The official SDK (``hyperliquid-python-sdk``) against the emulator over real HTTP/WS.

It places, modifies and cancels (so the emulator speaks the real protocol, not only mmkit's
dialect), and the emulator refuses a tampered signature, a reused nonce, a price with six
significant figures and a crossing post-only order, each with the venue's own string.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
import requests

sdk_exchange = pytest.importorskip("hyperliquid.exchange")
sdk_info = pytest.importorskip("hyperliquid.info")
sdk_types = pytest.importorskip("hyperliquid.utils.types")
sdk_signing = pytest.importorskip("hyperliquid.utils.signing")
from eth_account import Account  # noqa: E402

from mmkit.venues.emulator.config import EmulatorConfig  # noqa: E402
from mmkit.venues.emulator.thread import EmulatorThread  # noqa: E402

pytestmark = pytest.mark.network

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    cfg = EmulatorConfig(port=0, accounts=(ADDRESS,), speed=1.0, book_interval_s=0.1)
    with EmulatorThread(cfg) as t:
        yield t


@pytest.fixture(scope="module")
def exchange(emu: EmulatorThread) -> Any:
    return sdk_exchange.Exchange(Account.from_key(KEY), emu.url, timeout=5)


def _bbo(emu: EmulatorThread) -> tuple[float, float]:
    info = sdk_info.Info(emu.url, skip_ws=True, timeout=5)
    book = info.l2_snapshot("BTC")
    return float(book["levels"][0][0]["px"]), float(book["levels"][1][0]["px"])


def _status(reply: dict[str, Any]) -> Any:
    assert reply["status"] == "ok", reply
    return reply["response"]["data"]["statuses"][0]


def test_sdk_places_modifies_and_cancels(emu: EmulatorThread, exchange: Any) -> None:
    bid, _ask = _bbo(emu)
    info = sdk_info.Info(emu.url, skip_ws=True, timeout=5)
    cloid = sdk_types.Cloid.from_int(11)
    placed = _status(
        exchange.order("BTC", True, 0.001, bid - 250, {"limit": {"tif": "Alo"}}, cloid=cloid)
    )
    oid = placed["resting"]["oid"]
    assert placed["resting"]["cloid"] == cloid.to_raw()
    rows = info.open_orders(ADDRESS)
    assert [r["oid"] for r in rows] == [oid]
    modified = _status(
        exchange.modify_order(
            oid, "BTC", True, 0.002, bid - 260, {"limit": {"tif": "Alo"}}, cloid=cloid
        )
    )
    new_oid = modified["resting"]["oid"]
    assert new_oid != oid  # cancel-replace: a new oid
    old = info.query_order_by_oid(ADDRESS, oid)
    assert old["order"]["status"] == "canceled"
    by_cloid = info.query_order_by_cloid(ADDRESS, cloid)
    assert by_cloid["order"]["order"]["oid"] == new_oid
    assert by_cloid["order"]["order"]["origSz"] == "0.002"
    assert _status(exchange.cancel("BTC", new_oid)) == "success"
    assert info.open_orders(ADDRESS) == []
    gone = _status(exchange.cancel("BTC", new_oid))
    assert gone == {"error": "Order was never placed, already canceled, or filled. asset=0"}
    state = info.user_state(ADDRESS)
    assert "marginSummary" in state and "assetPositions" in state
    assert info.user_rate_limit(ADDRESS)["nRequestsUsed"] >= 4


def test_emulator_rejects_six_significant_figures(emu: EmulatorThread, exchange: Any) -> None:
    bid, _ = _bbo(emu)
    px = round(bid - 1000) + 0.5  # e.g. 98999.5: six significant figures
    reply = exchange.order("BTC", True, 0.001, px, {"limit": {"tif": "Gtc"}})
    assert _status(reply) == {"error": "Order has invalid price."}


def test_emulator_rejects_crossing_post_only(emu: EmulatorThread, exchange: Any) -> None:
    _, ask = _bbo(emu)
    reply = exchange.order("BTC", True, 0.001, ask + 5, {"limit": {"tif": "Alo"}})
    err = _status(reply)["error"]
    assert err.startswith("Post only order would have immediately matched, bbo was ")
    assert err.endswith(". asset=0")


def _signed_body(action: dict[str, Any], nonce: int) -> dict[str, Any]:
    wallet = Account.from_key(KEY)
    sig = sdk_signing.sign_l1_action(wallet, action, None, nonce, None, False)
    return {
        "action": action,
        "nonce": nonce,
        "signature": sig,
        "vaultAddress": None,
        "expiresAfter": None,
    }


def _order_action(px: str) -> dict[str, Any]:
    wire = {"a": 0, "b": True, "p": px, "s": "0.001", "r": False, "t": {"limit": {"tif": "Alo"}}}
    return {"type": "order", "orders": [wire], "grouping": "na"}


def test_emulator_rejects_tampered_signature(emu: EmulatorThread) -> None:
    bid, _ = _bbo(emu)
    nonce = sdk_signing.get_timestamp_ms()
    body = _signed_body(_order_action(str(int(bid - 100))), nonce)
    body["action"]["orders"][0]["p"] = str(int(bid - 101))  # tampered after signing
    reply = requests.post(emu.url + "/exchange", json=body, timeout=5).json()
    assert reply["status"] == "err"
    msg = reply["response"]
    assert msg.startswith("User or API Wallet 0x") and msg.endswith(" does not exist.")
    assert ADDRESS.lower() not in msg.lower()


def test_emulator_rejects_reused_nonce(emu: EmulatorThread) -> None:
    bid, _ = _bbo(emu)
    nonce = sdk_signing.get_timestamp_ms() + 7
    body = _signed_body(_order_action(str(int(bid - 200))), nonce)
    first = requests.post(emu.url + "/exchange", json=body, timeout=5).json()
    assert first["status"] == "ok"
    again = requests.post(emu.url + "/exchange", json=body, timeout=5).json()
    assert again == {"status": "err", "response": f"Invalid nonce: duplicate nonce {nonce}"}
    cancel = {
        "type": "cancel",
        "cancels": [{"a": 0, "o": first["response"]["data"]["statuses"][0]["resting"]["oid"]}],
    }
    assert (
        requests.post(
            emu.url + "/exchange", json=_signed_body(cancel, nonce + 1), timeout=5
        ).json()["status"]
        == "ok"
    )


def test_sdk_websocket_subscriptions(emu: EmulatorThread) -> None:
    info = sdk_info.Info(emu.url, skip_ws=False, timeout=5)
    got: queue.Queue[dict[str, Any]] = queue.Queue()
    try:
        info.subscribe({"type": "l2Book", "coin": "BTC"}, got.put)
        info.subscribe({"type": "userFills", "user": ADDRESS}, got.put)
        channels = set()
        for _ in range(20):
            try:
                channels.add(got.get(timeout=5)["channel"])
            except queue.Empty:
                break
            if {"l2Book", "userFills"} <= channels:
                break
        assert {"l2Book", "userFills"} <= channels
    finally:
        info.disconnect_websocket()


def test_sdk_agent_wallet_trades_for_its_master(emu: EmulatorThread, exchange: Any) -> None:
    reply, agent_key = exchange.approve_agent("bot")
    assert reply == {"status": "ok", "response": {"type": "default"}}
    agent = sdk_exchange.Exchange(
        Account.from_key(agent_key), emu.url, account_address=ADDRESS, timeout=5
    )
    bid, _ = _bbo(emu)
    oid = _status(agent.order("BTC", True, 0.001, bid - 300, {"limit": {"tif": "Alo"}}))["resting"][
        "oid"
    ]
    info = sdk_info.Info(emu.url, skip_ws=True, timeout=5)
    assert oid in [r["oid"] for r in info.open_orders(ADDRESS)]  # the master's order
    agent_address = Account.from_key(agent_key).address
    assert info.open_orders(agent_address) == []  # an agent's own address has no data
    assert _status(agent.cancel("BTC", oid)) == "success"
