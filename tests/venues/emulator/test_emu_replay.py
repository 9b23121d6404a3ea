"""The emulator replays real captures (Hyperliquid, and Binance mapped to Hyperliquid
shapes) instead of the synthetic market; skipped when the shared data is absent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mmkit.core.actions import Place, make_cloid
from mmkit.core.events import ActionResult
from mmkit.core.outcomes import Outcome
from mmkit.core.types import Side, Tif
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.server import Emulator
from mmkit.venues.hyperliquid.client import HyperliquidClient
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint

pytestmark = pytest.mark.network

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
KEY = SigningKey.from_hex("0x" + "42" * 32)


@pytest.mark.parametrize(
    ("rel", "tick"),
    [("hyperliquid/btcusd_20250126.gz", 1.0), ("binance-usdm/btcusdt_20240808.gz", 0.1)],
)
def test_replayed_capture_backs_the_emulator(rel: str, tick: float) -> None:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"shared capture {rel} not present")

    async def main() -> None:
        cfg = EmulatorConfig(data=str(path), accounts=(KEY.address,), speed=5.0)
        async with Emulator(cfg) as emu:
            assert emu.instrument.tick == pytest.approx(tick)
            client = HyperliquidClient(ClientSettings(resolve_endpoint("testnet", emu.url)), KEY)
            try:
                await asyncio.sleep(0.3)
                book = await client.l2_book("BTC")
                assert book.bid_px[0] < book.ask_px[0]
                bid = float(book.bid_px[0])
                place = Place(1, make_cloid(1), Side.BUY, round(bid) - 20, 0.001, Tif.ALO)
                [res] = await client.execute([place], emu.instrument)
                assert isinstance(res, ActionResult) and res.outcome is Outcome.RESTING
                snap = await client.position_snapshot("BTC")
                assert [o.oid for o in snap.open_orders or ()] == [res.oid]
            finally:
                await client.close()

    asyncio.run(main())


@pytest.mark.parametrize("cut", [True, False])
def test_the_end_of_replayed_data_is_said_with_its_problems(tmp_path: Path, cut: bool) -> None:
    """When the replayed data ends the emulator says so (the book stays as it was), and
    what was wrong in the data (a truncated capture): before, it went quiet without a word.
    A whole capture ends without a problem line."""
    from tests.backtest.test_input_problems import capture

    data = capture(tmp_path, "cap", cut=cut)
    said: list[str] = []

    async def main() -> None:
        cfg = EmulatorConfig(data=str(data), accounts=(KEY.address,), speed=1000.0)
        emu = Emulator(cfg)
        emu.market.on_finished = said.extend
        async with emu:
            for _ in range(200):
                if emu.market.finished:
                    break
                await asyncio.sleep(0.05)
        assert emu.market.finished

    asyncio.run(main())
    assert said[0].startswith("emulator: the replayed data ended after ")
    problems = [s for s in said if s.startswith("emulator: input data problems: ")]
    if cut:
        (line,) = problems
        assert "cap.gz: truncated 1" in line
    else:
        assert problems == []
