"""A backtest's simulated exchange keeps the book of a market that travels far from its
first price: the book's grid covers the whole market it is given in bulk, not the first
price +- ``price_range`` (which ignored every level beyond, so that the book emptied and
quoting stopped with a data-quality gate and no word of why). A market whose prices span
too many columns for one grid (a stray price far off) keeps the first price's grid, and
the rows outside are counted and said in the backtest's report.

The oracle is the data itself: the replayed book's best levels are the last snapshot's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mmkit.data.market_stream import MarketStream
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim import venue as venue_mod
from mmkit.venues.sim.arrays import MarketArrays
from mmkit.venues.sim.convert import market_from_events
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.venue import SimVenue

from ._simkit import INST, book


def _walk(start: float, end: float, n: int) -> list[Any]:
    """``n`` snapshots of a book whose bid goes geometrically from ``start`` to ``end``
    (tick 1; a second bid a tick below), the ask one tick above."""
    out = []
    for k in range(n):
        bid = float(round(start * (end / start) ** (k / max(n - 1, 1))))
        out.append(book(k * 1_000_000, [(bid, 1.0), (bid - 1.0, 2.0)], [(bid + 1.0, 1.0)]))
    return out


def _chunk(snaps: list[Any]) -> dict[str, Any]:
    """Event-store records of book snapshots (the columns :class:`MarketStream` reads)."""
    rows: list[tuple[int, int, int, float, float]] = []
    for ev in snaps:
        levels = [(1, p, q) for p, q in zip(ev.bid_px, ev.bid_sz, strict=True)]
        levels += [(-1, p, q) for p, q in zip(ev.ask_px, ev.ask_sz, strict=True)]
        for j, (side, p, q) in enumerate(levels):  # the snapshot's last row ends it
            rows.append((ev.ts, side, 1 if j == len(levels) - 1 else 0, float(p), float(q)))
    cols = list(zip(*rows, strict=True))
    return {
        "ts": np.array(cols[0], dtype=np.int64),
        "kind": np.full(len(rows), 1, dtype=np.int64),  # RecordKind.SNAPSHOT
        "side": np.array(cols[1], dtype=np.int64),
        "flags": np.array(cols[2], dtype=np.int64),
        "px": np.array(cols[3], dtype=np.float64),
        "sz": np.array(cols[4], dtype=np.float64),
    }


def _market(evs: list[Any], per_chunk: int) -> MarketArrays:
    """A backtest's market: the store's chunks converted by :class:`MarketStream`."""
    stream = MarketStream(INST.tick)
    parts = [stream.convert(_chunk(evs[k : k + per_chunk])) for k in range(0, len(evs), per_chunk)]
    cols = [
        np.concatenate([getattr(m, c) for m in parts]) for c in ("ts", "kind", "side", "px", "sz")
    ]
    return MarketArrays.build(*cols)


def _run(evs: list[Any], per_chunk: int = 1) -> SimVenue:
    v = SimVenue(SimParams(), INST)
    m = _market(evs, per_chunk)
    assert v.run_market(m, 0, evs[-1].ts) == len(m)
    return v


@given(st.floats(20.0, 5000.0), st.floats(20.0, 5000.0), st.integers(2, 25), st.integers(1, 4))
# one chunk of two far apart books: no price near the median (this crashed the conversion
# with an OverflowError)
@example(20.0, 49.0, 2, 2)
def test_the_book_follows_a_market_however_far_it_travels(
    start: float, end: float, n: int, per_chunk: int
) -> None:
    """Converted chunk by chunk as a backtest loads a store, then replayed: the book at the
    end is the last snapshot's, wherever the market went."""
    evs = _walk(start, end, n)
    v = _run(evs, per_chunk)
    assert v.best_bid == float(evs[-1].bid_px[0])
    assert v.best_ask == float(evs[-1].ask_px[0])
    assert v.off_grid_rows == 0


@pytest.mark.parametrize("mutant", ["venue's first-price grid", "conversion's first-chunk grid"])
def test_either_grid_fixed_at_the_start_loses_a_doubled_market(
    monkeypatch: pytest.MonkeyPatch, mutant: str
) -> None:
    """Either grid fixed at the start (the venue's at the first price +- 50 %, the
    conversion's at the first chunk's median +- 50 %), the book of a market that doubles
    is stale at the end (its last levels inside the old grid, 147 here): the check above
    fails on the code before."""
    evs = _walk(100.0, 200.0, 10)
    assert _run(evs).best_bid == 200.0
    if mutant.startswith("venue"):
        monkeypatch.setattr(SimVenue, "_fit_grid", lambda self, market: None)
    else:
        monkeypatch.setattr(MarketStream, "_follow", lambda self, px: None)
    assert _run(evs).best_bid != 200.0


def test_a_stray_price_keeps_the_first_prices_grid_and_is_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A market whose prices span more columns than a grid may have (here a limit of
    10,000, and one depth row at 90,000 among prices near 100): the first price's grid,
    the stray row counted, the book still the data's."""
    monkeypatch.setattr(venue_mod, "AUTO_GRID_MAX", 10_000)
    evs = _walk(100.0, 120.0, 6)
    m = _market(evs, 1)
    k = len(m) // 2  # a far ask level set, then removed, mid-market
    cols = {c: list(getattr(m, c)) for c in ("ts", "kind", "side", "px", "sz")}
    for j, (sz, ts) in enumerate(((0.5, int(m.ts[k])), (0.0, int(m.ts[k])))):
        for c, x in (
            ("ts", ts),
            ("kind", lay.EV_DEPTH),
            ("side", -1),
            ("px", 90_000.0),
            ("sz", sz),
        ):
            cols[c].insert(k + j, x)
    stray = MarketArrays.build(*(np.array(cols[c], dtype=getattr(m, c).dtype) for c in cols))
    v = SimVenue(SimParams(), INST)
    assert v.run_market(stray, 0, evs[-1].ts) == len(stray)
    assert v.off_grid_rows == 2
    assert v.best_bid == float(evs[-1].bid_px[0]) and v.best_ask == float(evs[-1].ask_px[0])


def test_a_market_without_a_usable_price_is_a_clear_error() -> None:
    from mmkit.errors import DataError

    v = SimVenue(SimParams(), INST)
    m = market_from_events([book(0, [(100.0, 1.0)], [(101.0, 1.0)])], INST.tick)
    m.px[:] = np.nan
    with pytest.raises(DataError, match="row 0: price nan"):
        v.run_market(m, 0, 0)


@pytest.mark.slow
@pytest.mark.parametrize("cadence", ["timer", "event"])
def test_the_backtest_report_says_rows_were_ignored_first(
    synthetic_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cadence: Literal["event", "timer"],
) -> None:
    """A backtest whose market spans more columns than one grid: its report's first line
    says how many rows were ignored, and its notes why; with the market given whole (the
    timer cadence) or fed event by event (the event cadence, as paper trading feeds it)."""
    from mmkit.backtest.runner import BacktestOptions, run_backtest
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={}, sets=["instrument.tick=0.1"])
    opts = BacktestOptions(cadence=cadence, duration_s=60.0)
    clean = run_backtest(s, host, [synthetic_store], opts).report
    assert clean.run is not None and "ignored" not in clean.run.headline
    # the synthetic market spans a few hundred ticks: a grid of 50 columns cannot hold it,
    # and the first price +- 0.01 % leaves most of its levels out
    monkeypatch.setattr(venue_mod, "AUTO_GRID_MAX", 50)
    narrow = load_settings(
        None, host.registry, env={}, sets=["instrument.tick=0.1", "venues.sim.price_range=1e-4"]
    )
    report = run_backtest(narrow, host, [synthetic_store], opts).report
    assert report.run is not None
    assert "market rows ignored: off the simulated exchange's price grid" in report.run.headline
    assert any("set venues.sim.tick coarser" in n for n in report.run.notes)


def test_calibration_follows_a_market_that_travels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mmkit calibrate``'s scan rebuilds the book from the same conversion: its mids
    follow a market that doubles, to the last snapshot's (and do not when the conversion's
    grid stays where it started)."""
    from mmkit.calibrate.scan import ScanSettings, scan_files
    from mmkit.data.schema import empty_chunk
    from mmkit.data.store import StoreMeta, write_store

    evs = _walk(100.0, 200.0, 12)
    chunks = []
    for k in range(0, len(evs), 3):
        part = _chunk(evs[k : k + 3])
        c = empty_chunk(len(part["ts"]))
        for name, col in part.items():
            c[name][:] = col
        c["local_ts"][:] = part["ts"]
        chunks.append(c)
    path = tmp_path / "walk.parquet"
    write_store(path, chunks, StoreMeta(coin="TEST", tick=1.0, lot=0.01))
    import mmkit.calibrate.scan as scan_mod
    from mmkit.data.market_stream import open_records as real_open

    # read back nine rows at a time: the conversion then meets the market chunk by chunk
    monkeypatch.setattr(scan_mod, "open_records", lambda p, fmt: real_open(p, fmt, batch_rows=9))
    # the last mid sampled is the next-to-last snapshot's (the last one's sample time is
    # the end of the data)
    want = 0.5 * float(evs[-2].bid_px[0] + evs[-2].ask_px[0])
    scan = ScanSettings(mid_every_s=0.0005, book_every_s=1.0)

    def last_mid() -> float:
        mid = scan_files([path], scan).mid
        return float(mid[np.isfinite(mid)][-1])

    assert last_mid() == want
    monkeypatch.setattr(MarketStream, "_follow", lambda self, px: None)
    assert last_mid() < want
