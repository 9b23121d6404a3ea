"""scheduleCancel (the dead-man's switch) against the emulator over loopback HTTP, through
mmkit's client and :class:`DeadmanSwitch`: the venue's volume gate and error string, the 5 s
rule, the 10-a-day limit, firing, and the CLI's threshold option."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from typer.testing import CliRunner

from mmkit.core.actions import Place, make_cloid
from mmkit.core.types import Side, Tif
from mmkit.errors import ConfigError
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.exchange import SCHEDULE_CANCEL_DAILY_FIRES
from mmkit.venues.emulator.server import Emulator
from mmkit.venues.hyperliquid.client import HyperliquidClient
from mmkit.venues.hyperliquid.deadman import DeadmanSettings, DeadmanSwitch
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint

pytestmark = pytest.mark.network

KEY = SigningKey.from_hex("0x" + "42" * 32)
ME = KEY.address.lower()
VOLUME_REFUSAL = (
    "Cannot set scheduled cancel time until enough volume traded. Required: $1000000. Traded: $"
)


def run(
    cfg: EmulatorConfig, body: Callable[[Emulator, HyperliquidClient], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with Emulator(cfg) as emu:
            client = HyperliquidClient(
                ClientSettings(endpoint=resolve_endpoint("testnet", emu.url)), KEY
            )
            try:
                await body(emu, client)
            finally:
                await client.close()

    asyncio.run(main())


def test_refused_below_the_volume_threshold_with_the_venues_words() -> None:
    async def body(emu: Emulator, client: HyperliquidClient) -> None:
        sw = DeadmanSwitch(client)
        await sw.start()
        st = sw.status()
        assert st["state"] == "refused"
        assert st["reason"].startswith(VOLUME_REFUSAL)
        assert sw.describe().startswith("refused: " + VOLUME_REFUSAL)
        acct = emu.book.get(ME)
        assert acct is not None and acct.schedule_cancel_ms is None
        await sw.clear()

    run(EmulatorConfig(accounts=(ME,)), body)


def test_armed_above_the_threshold_then_cleared() -> None:
    async def body(emu: Emulator, client: HyperliquidClient) -> None:
        sw = DeadmanSwitch(client, DeadmanSettings(horizon_s=15.0))
        before = emu.clock.now_ms()
        await sw.start()
        acct = emu.book.get(ME)
        assert acct is not None
        assert sw.status()["state"] == "armed"
        t = acct.schedule_cancel_ms
        assert t is not None and t - before >= 14_000  # ~15 s ahead of the venue's time
        await sw.clear()
        assert acct.schedule_cancel_ms is None
        assert sw.status()["state"] == "cleared"

    run(EmulatorConfig(accounts=(ME,), schedule_cancel_min_volume=0.0), body)


def test_too_early_and_the_daily_limit() -> None:
    async def body(emu: Emulator, client: HyperliquidClient) -> None:
        reply = await client.schedule_cancel(emu.clock.now_ms() + 1_000)
        assert reply.error is not None
        assert reply.error.message == (
            "Scheduled cancel time too early, must be at least 5 seconds from now."
        )
        acct = emu.book.get(ME)
        assert acct is not None
        acct.schedule_cancel_day = emu.clock.now_ms() // 86_400_000
        acct.schedule_cancel_fires = SCHEDULE_CANCEL_DAILY_FIRES
        reply = await client.schedule_cancel(emu.clock.now_ms() + 10_000)
        assert reply.error is not None and "too many times today" in reply.error.message
        assert (await client.schedule_cancel(None)).ok  # clearing is always allowed

    run(EmulatorConfig(accounts=(ME,), schedule_cancel_min_volume=0.0), body)


def test_fires_cancel_every_order_and_count_against_the_day() -> None:
    async def body(emu: Emulator, client: HyperliquidClient) -> None:
        inst = await client.instrument("BTC")
        book = emu.market.book
        assert book is not None
        px = float(book.bid_px[0]) - 500 * inst.tick
        places = [Place(i, make_cloid(i), Side.BUY, px, 0.001, Tif.ALO) for i in (1, 2)]
        await client.execute(places, inst)
        acct = emu.book.get(ME)
        assert acct is not None and len(acct.open_orders()) == 2
        assert (await client.schedule_cancel(emu.clock.now_ms() + 6_000)).ok
        acct.schedule_cancel_ms = emu.clock.now_ms()  # as if the horizon had passed
        emu.exchange.fire_scheduled_cancels()
        assert acct.open_orders() == []
        assert acct.schedule_cancel_fires == 1
        statuses = {o.status for o in acct.orders.values()}
        assert statuses == {"scheduledCancel"}

    run(EmulatorConfig(accounts=(ME,), schedule_cancel_min_volume=0.0), body)


def test_threshold_is_validated_and_settable_from_the_command_line() -> None:
    with pytest.raises(ConfigError, match="schedule_cancel_min_volume"):
        EmulatorConfig(schedule_cancel_min_volume=float("nan"))
    with pytest.raises(ConfigError, match="schedule_cancel_min_volume"):
        EmulatorConfig(schedule_cancel_min_volume=-1.0)
    from mmkit.cli.main import build_app

    argv = ["venue", "emulate", "--help"]
    out = CliRunner().invoke(build_app(argv), argv, terminal_width=200)
    assert out.exit_code == 0
    assert "--schedule-cancel-min-volume" in out.output
