"""The batch layer: market/action arrays, replay, L3 FIFO, conversion, registration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mmkit.core.actions import Place
from mmkit.core.events import Event, OwnFill
from mmkit.core.types import Side
from mmkit.errors import ConfigError, DataError
from mmkit.plugin_manager import get_host
from mmkit.registry import BuildContext, RiskLimits
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim.arrays import ActionArrays, MarketArrays
from mmkit.venues.sim.convert import (
    market_from_events,
    market_from_order_records,
    market_from_records,
)
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.replay import replay
from mmkit.venues.sim.state import MatchConfig, new_state
from mmkit.venues.sim.venue import SimVenue

from ._simkit import INST, book, cl, delta, trade, venue

CFG = MatchConfig(tick=1.0)


def market(rows: list[tuple[int, int, int, float, float, int]]) -> MarketArrays:
    ts, kind, side, px, sz, ref = zip(*rows, strict=True)
    return MarketArrays.build(ts, kind, side, px, sz, ref)


def test_replay_fills_match_the_event_driven_venue() -> None:
    evs: list[Event] = [
        book(0, [(100.0, 5.0)], [(101.0, 4.0)]),
        trade(10, Side.SELL, 100.0, 3.0),
        delta(20, Side.BUY, 100.0, 2.0),
        trade(30, Side.SELL, 100.0, 4.0),
    ]
    m = market_from_events(evs, 1.0)
    acts = ActionArrays.build([5], [lay.A_PLACE], [1], [100.0], [1.0], cid=[0])
    res = replay(m, acts, CFG)
    v = venue()
    out = []
    for e in evs:
        if e.ts == 10:
            v.submit([Place(0, cl(0), Side.BUY, 100.0, 1.0)], 5)
        v.on_market(e, e.ts)
        out += v.drain(e.ts)
    got = [(f.px, f.sz, f.ts) for f in out if isinstance(f, OwnFill)]
    assert got == list(
        zip(res.fills.px.tolist(), res.fills.sz.tolist(), res.fills.ts.tolist(), strict=True)
    )
    assert got == [(100.0, 1.0, 30)]


def test_l3_fifo_is_exact() -> None:
    # two market orders ahead of ours (adds 0, 1), one behind (add 3)
    rows = [
        (0, lay.EV_L3_ADD, 1, 100.0, 2.0, 0),
        (1, lay.EV_L3_ADD, 1, 100.0, 3.0, 1),
        (2, lay.EV_L3_ADD, -1, 101.0, 1.0, 2),
        # our order arrives at t=5 (after index 2)
        (10, lay.EV_L3_ADD, 1, 100.0, 4.0, 3),
        (11, lay.EV_L3_CANCEL, 1, 100.0, 4.0, 3),  # behind us: no progress
        (12, lay.EV_L3_CANCEL, 1, 100.0, 2.0, 0),  # ahead: 3 left ahead
        (13, lay.EV_L3_EXEC, 1, 100.0, 3.0, 1),  # ahead executes: 0 ahead, no fill
        (14, lay.EV_L3_ADD, 1, 100.0, 5.0, 7),
        (15, lay.EV_L3_EXEC, 1, 100.0, 2.0, 7),  # behind us executes: we traded first
    ]
    m = market(rows)
    acts = ActionArrays.build([5], [lay.A_PLACE], [1], [100.0], [1.5], cid=[0])
    res = replay(m, acts, CFG)
    f = res.fills
    assert f.ts.tolist() == [15] and f.sz.tolist() == [1.5] and f.px.tolist() == [100.0]


def test_arrays_reject_bad_rows() -> None:
    with pytest.raises(DataError, match="row 1: timestamp goes backwards"):
        MarketArrays.build([2, 1], [1, 1], [1, 1], [1.0, 1.0], [1.0, 1.0])
    with pytest.raises(DataError, match="row 0: price nan"):
        MarketArrays.build([1], [1], [1], [np.nan], [1.0])
    with pytest.raises(DataError, match="side 0"):
        MarketArrays.build([1], [1], [0], [1.0], [1.0])
    with pytest.raises(DataError, match="not a multiple"):
        MarketArrays.build([1], [1], [1], [1.05], [1.0]).check_tick(0.1)
    with pytest.raises(DataError, match="unknown action kind"):
        ActionArrays.build([1], [99], [1], [1.0], [1.0])


def test_oversized_grid_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ticks"):
        new_state(CFG, 1, 10**9)


def test_records_conversion_turns_snapshots_into_diffs() -> None:
    evs = [
        book(0, [(100.0, 5.0), (99.0, 1.0)], [(101.0, 4.0)]),
        book(1, [(99.0, 2.0)], [(100.0, 1.0), (102.0, 3.0)]),
    ]
    m = market_from_events(evs, 1.0)
    rows = list(zip(m.ts.tolist(), m.side.tolist(), m.px.tolist(), m.sz.tolist(), strict=True))
    later = [r for r in rows if r[0] == 1]
    # 100 bid removed, 99 bid resized, 100 ask added, 101 ask removed, 102 ask added
    assert sorted(later) == sorted(
        [
            (1, 1, 100.0, 0.0),
            (1, 1, 99.0, 2.0),
            (1, -1, 100.0, 1.0),
            (1, -1, 101.0, 0.0),
            (1, -1, 102.0, 3.0),
        ]
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(90, 100), st.integers(1, 9)), max_size=5),
            st.lists(st.tuples(st.integers(101, 110), st.integers(1, 9)), max_size=5),
        ),
        min_size=1,
        max_size=6,
    )
)
@example([([(90, 1)], []), ([], [(109, 1)])])  # explored: the ask beyond the default region
def test_converted_snapshots_rebuild_the_same_book(snaps: list) -> None:  # type: ignore[type-arg]
    evs = []
    for t, (bids, asks) in enumerate(snaps):
        b = sorted({p: float(s) for p, s in bids}.items(), reverse=True)
        a = sorted({p: float(s) for p, s in asks}.items())
        evs.append(book(t, [(float(p), s) for p, s in b], [(float(p), s) for p, s in a]))
    v = SimVenue(SimParams(), INST)
    for e in evs:
        v.on_market(e, e.ts)
    m = market_from_events(evs, 1.0)
    # the venue's grid covers the first price +-50 %; the bulk replay's region of interest
    # is the median +-20 % by default (documented: levels beyond it are ignored), which a
    # draw can leave (a bid at 90, then only an ask at 109: 21 % above the median 90).
    # This is about converting snapshots: both cover the same prices
    res = replay(m, None, CFG, price_range=0.5)
    last = evs[-1]
    expect_bid = float(last.bid_px[0]) if last.bid_px.size else np.nan
    expect_ask = float(last.ask_px[0]) if last.ask_px.size else np.nan
    from mmkit.venues.sim._kernels_book import best_ask_px, best_bid_px

    for got, want in (
        (best_bid_px(res.state.si, res.state.sf), expect_bid),
        (best_ask_px(res.state.si, res.state.sf), expect_ask),
        (v.best_bid, expect_bid),
        (v.best_ask, expect_ask),
    ):
        assert (np.isnan(got) and np.isnan(want)) or got == want


def test_registered_as_venue_sim() -> None:
    spec = get_host().registry.get("venue", "sim")
    assert spec.params is SimParams
    v = spec.build(
        BuildContext("venue", "sim", SimParams(maker_fee=-0.0001), INST, RiskLimits(), seed=5)
    )
    assert isinstance(v, SimVenue) and v.cfg.maker_fee == -0.0001 and v.cfg.seed == 5


@pytest.mark.slow
def test_binance_capture_replays(shared_data) -> None:  # type: ignore[no-untyped-def]
    path = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    if not path.exists():
        pytest.skip(f"{path} not available")
    from mmkit.data.loaders import make_loader
    from mmkit.data.schema import concat_chunks

    rec = concat_chunks(list(make_loader("binance", [path]).chunks()))
    m = market_from_records(rec, 0.1)
    assert len(m) > 400_000
    t0 = int(m.ts[0])
    n = 50
    ts = t0 + np.arange(1, n + 1) * 1_000_000_000
    acts = ActionArrays.build(
        ts,
        lay.A_PLACE,
        np.where(np.arange(n) % 2 == 0, 1, -1),
        np.where(np.arange(n) % 2 == 0, 61000.0, 62600.0),
        0.001,
        cid=np.arange(n),
    )
    res = replay(m, acts, MatchConfig(tick=0.1, lot=0.001, min_notional=10.0))
    ok = res.records.of_type(lay.REC_RESULT).ri[:, lay.RI_CODE]
    assert len(ok) == n
    assert np.isfinite(res.cash) and res.fees >= 0


def test_order_records_map_messages_to_l3_events() -> None:
    # snapshot: bid 100 x 5 ; then add #7 (100 x 2), cancel #7 partly, cancel an old order, exec #7
    rec = {
        "ts": np.array([0, 1, 2, 3, 4], np.int64),
        "kind": np.array([1, 11, 11, 11, 11], np.int64),
        "side": np.array([1, 1, 1, 1, 1], np.int64),
        "flags": np.array([1, 1, 1, 1, 1], np.int64),
        "px": np.array([100.0, 100.0, 100.0, 100.0, 100.0]),
        "sz": np.array([5.0, 2.0, 1.0, 3.0, 1.0]),
        "val": np.array([np.nan, 1.0, 2.0, 3.0, 4.0]),
        "aux": np.array([-1, 7, 7, 99, 7], np.int64),
    }
    m = market_from_order_records(rec, 1.0)
    assert m.kind.tolist() == [
        lay.EV_DEPTH,
        lay.EV_L3_ADD,
        lay.EV_L3_CANCEL,
        lay.EV_L3_CANCEL,
        lay.EV_L3_EXEC,
    ]
    assert m.ref.tolist() == [-1, 1, 1, -1, 1]


@pytest.mark.slow
def test_lobster_sample_replays_with_exact_fifo(shared_data) -> None:  # type: ignore[no-untyped-def]
    path = shared_data / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    if not path.exists():
        pytest.skip(f"{path} not available")
    from mmkit.data.loaders import make_loader
    from mmkit.data.schema import concat_chunks

    rec = concat_chunks(list(make_loader("lobster", [path]).chunks()))
    m = market_from_order_records(rec, 0.01)
    assert (m.kind == lay.EV_L3_ADD).sum() > 10_000
    bb = float(m.px[(m.kind == lay.EV_DEPTH) & (m.side == 1)].max())
    n = 20
    ts = int(m.ts[0]) + np.arange(1, n + 1) * 600_000_000_000
    acts = ActionArrays.build(ts, lay.A_PLACE, 1, bb, 1.0, cid=np.arange(n))
    res = replay(m, acts, MatchConfig(tick=0.01))
    assert len(res.fills) > 0
    assert np.all(res.fills.px <= bb + 1e-9)
    assert res.position == pytest.approx(float(res.fills.sz.sum()))


def _five_events() -> list[Event]:
    """A book, then trades and deltas that fill a bid at 100 placed at t=5."""
    return [
        book(0, [(100.0, 5.0), (99.0, 2.0)], [(101.0, 4.0)]),
        trade(10, Side.SELL, 100.0, 3.0),
        delta(20, Side.BUY, 100.0, 2.0),
        trade(30, Side.SELL, 99.0, 4.0),
        delta(40, Side.SELL, 102.0, 1.0),
    ]


def test_run_market_in_bulk_matches_event_by_event() -> None:
    evs = _five_events()
    m = market_from_events(evs, 1.0)
    bulk = venue()
    i = bulk.run_market(m, 0, 5)
    bulk.submit([Place(0, cl(0), Side.BUY, 100.0, 1.0)], 5)
    i = bulk.run_market(m, i, 10**9)
    assert i == len(m)
    one = venue()
    for e in evs:
        if e.ts == 10:
            one.submit([Place(0, cl(0), Side.BUY, 100.0, 1.0)], 5)
        one.on_market(e, e.ts)
    a, b = bulk.drain(10**9), one.drain(10**9)
    assert [type(e).__name__ for e in a] == [type(e).__name__ for e in b]
    assert [f.px for f in a if isinstance(f, OwnFill)] == [100.0]
    snap = bulk.book_snapshot(50, depth=2)
    assert snap.bid_px.tolist() == [100.0, 99.0] and snap.ask_px.tolist() == [101.0, 102.0]
    assert snap.bid_sz.tolist() == [2.0, 2.0]


def _market_of_other_types(m: MarketArrays) -> MarketArrays:
    """``m``'s rows in columns of other dtypes and layouts, built without
    :meth:`MarketArrays.build` (which would convert them)."""
    return MarketArrays(
        ts=m.ts.astype(np.int32) if m.ts.max() < 2**31 else m.ts.astype(np.uint64),
        kind=m.kind.astype(np.int64),
        side=np.repeat(m.side, 2)[::2],  # a strided view
        px=m.px.astype(np.float32),
        sz=m.sz.astype(np.float32),
        ref=m.ref,
    )


def test_run_market_takes_columns_of_other_types_as_the_kernel_reads_them() -> None:
    """run_market calls its kernel's compiled entry point for the types of a market's
    columns, typed once per market object: a market of other dtypes and layouts (built by
    hand, not converted by MarketArrays.build) gets its own, also when one venue alternates
    between the two, and the fills and book are the same."""
    evs = _five_events()
    m = market_from_events(evs, 1.0)
    odd = _market_of_other_types(m)
    assert odd.ts.dtype != m.ts.dtype and not odd.side.flags.c_contiguous
    runs = []
    for market in (m, odd, m):
        v = venue()
        i = v.run_market(market, 0, 5)
        v.submit([Place(0, cl(0), Side.BUY, 100.0, 1.0)], 5)
        i = v.run_market(market, i, np.int64(10**9))  # type: ignore[arg-type]
        assert i == len(m)
        snap = v.book_snapshot(50, depth=np.int64(3))  # type: ignore[arg-type]
        runs.append(
            (
                [(type(e).__name__, getattr(e, "px", None)) for e in v.drain(10**9)],
                snap.bid_px.tolist(),
                snap.bid_sz.tolist(),
                snap.ask_px.tolist(),
            )
        )
    assert runs[0] == runs[1] == runs[2]
    mixed = venue()
    i = mixed.run_market(m, 0, 5)
    i = mixed.run_market(odd, i, 25)
    i = mixed.run_market(m, i, 10**9)
    assert i == len(m)
    assert mixed.book_snapshot(50, 3).ask_px.tolist() == runs[0][3]
