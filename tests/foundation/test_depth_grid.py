"""The depth grid (mmkit.core.depth_grid) against the sorted-array merge it replaces.

Two market states take the same events, one with its depth grid, one built with
``grid=False`` (every delta merged into the sorted arrays, the reference): the books, best
prices and mids must be the same bit for bit after every event, for hostile books (unsorted,
repeated and non-finite prices, levels off the price step) and deltas (repeated prices,
removals of absent levels, non-finite values, prices far beyond the book) alike.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core import depth_grid
from mmkit.core.events import BookDelta, BookSnapshot, levels
from mmkit.core.market import MarketState

TICK = 0.5
# mostly on a 0.5 step around 100; sometimes off it, far away or not a number
_price = st.one_of(
    st.integers(-60, 60).map(lambda i: 100.0 + TICK * i),
    st.integers(-60, 60).map(lambda i: 100.0 + TICK * i + 0.1),
    st.sampled_from([1e9, -5.0, 0.0, 1e-300, math.nan, math.inf]),
)
_size = st.one_of(
    st.floats(0.001, 10.0), st.just(0.0), st.just(-1.0), st.just(math.nan), st.just(math.inf)
)
_level = st.tuples(_price, _size)
_side = st.lists(_level, max_size=25)


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _same(a: MarketState, b: MarketState) -> None:
    for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.float64, name
        assert x.tobytes() == y.tobytes(), (name, x.tolist(), y.tolist())
    for name in ("best_bid", "best_ask", "mid"):
        assert _bits(getattr(a, name)) == _bits(getattr(b, name)), name


def _arrays(side: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    return levels([p for p, _ in side]), levels([s for _, s in side])


@st.composite
def _snapshot(draw: st.DrawFn) -> BookSnapshot:
    """A book: usually sorted, unique and on the price step, sometimes not."""
    bids, asks = draw(_side), draw(_side)
    if draw(st.booleans()):  # a well-formed book (what the feeds send)
        bid_map = {p: s for p, s in bids if math.isfinite(p)}
        ask_map = {p: s for p, s in asks if math.isfinite(p)}
        bids = sorted(bid_map.items(), reverse=True)
        asks = sorted(ask_map.items())
    return BookSnapshot(0, *_arrays(bids), *_arrays(asks))


_event = st.one_of(
    st.tuples(st.just("delta"), _side, _side),
    st.tuples(st.just("snapshot"), _snapshot(), st.none()),
)


@contextlib.contextmanager
def _half_width(n: int) -> Iterator[None]:
    """Grids of ``n`` slots each side of the touch (small ones put many levels beyond)."""
    was = depth_grid.HALF_WIDTH
    depth_grid.HALF_WIDTH = n
    try:
        yield
    finally:
        depth_grid.HALF_WIDTH = was


@settings(max_examples=400)
@given(
    _snapshot(),
    st.lists(_event, max_size=25),
    st.booleans(),
    st.sampled_from([depth_grid.HALF_WIDTH, 8, 2]),
)
def test_the_grid_gives_the_merged_book_bit_for_bit(
    first: BookSnapshot,
    events: list[tuple[str, object, object]],
    read_every_step: bool,
    half_width: int,
) -> None:
    with _half_width(half_width):
        _replay_both(first, events, read_every_step)


def _replay_both(
    first: BookSnapshot, events: list[tuple[str, object, object]], read_every_step: bool
) -> None:
    grid, merged = MarketState(), MarketState(grid=False)
    for m in (grid, merged):
        m.apply(first, 0)
    for t, (kind, a, b) in enumerate(events, 1):
        if kind == "snapshot":
            assert isinstance(a, BookSnapshot)
            ev: BookSnapshot | BookDelta = BookSnapshot(t, a.bid_px, a.bid_sz, a.ask_px, a.ask_sz)
        else:
            assert isinstance(a, list) and isinstance(b, list)
            ev = BookDelta(t, *_arrays(a), *_arrays(b))
        for m in (grid, merged):
            m.apply(ev, t)
        for name in ("best_bid", "best_ask", "mid"):
            assert _bits(getattr(grid, name)) == _bits(getattr(merged, name)), (t, name)
        if read_every_step:  # the lazy arrays, read now or only at the end
            _same(grid, merged)
    _same(grid, merged)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.integers(-40, 40), st.floats(0.001, 10.0)), min_size=2, max_size=40),
    st.lists(st.tuples(st.lists(_level, max_size=8), st.lists(_level, max_size=8)), max_size=10),
    st.sampled_from([4, 16]),
)
def test_a_refused_delta_leaves_the_grid_as_it_was(
    start: list[tuple[int, float]],
    deltas: list[tuple[list[tuple[float, float]], list[tuple[float, float]]]],
    half_width: int,
) -> None:
    """Refused (a conflict or a bid above the slots, found after some slots were written):
    every slot, count and best is as before; accepted: the merged book."""
    book = {100.0 + TICK * i: s for i, s in start}
    bids = sorted(((p, s) for p, s in book.items() if p < 100.0), reverse=True)
    asks = sorted((p, s) for p, s in book.items() if p >= 100.0)
    with _half_width(half_width):
        g = depth_grid.DepthGrid.build(*_arrays(bids), *_arrays(asks))
    if g is None:
        return  # e.g. one side only, a single level: no step to find
    ref = MarketState(grid=False)
    ref.apply(BookSnapshot(0, *_arrays(bids), *_arrays(asks)), 0)
    for t, (b, a) in enumerate(deltas, 1):
        slots = (g.gpx.tobytes(), g.gsz.tobytes(), g.meta.tobytes())
        sides = [b"".join(x.tobytes() for x in g.levels(side)) for side in (0, 1)]
        st_ = g.apply(*_arrays(b), *_arrays(a))
        if st_ != 0:
            assert (g.gpx.tobytes(), g.gsz.tobytes(), g.meta.tobytes()) == slots
            assert [b"".join(x.tobytes() for x in g.levels(side)) for side in (0, 1)] == sides
            return
        ref.apply(BookDelta(t, *_arrays(b), *_arrays(a)), t)
        for side, (px, sz) in ((0, (ref.bid_px, ref.bid_sz)), (1, (ref.ask_px, ref.ask_sz))):
            got = g.levels(side)
            assert got[0].tobytes() == px.tobytes() and got[1].tobytes() == sz.tobytes()
            assert _bits(g.best(side)) == _bits(float(px[0]) if px.size else math.nan)


def _book(n: int, mid: float = 1000.0) -> BookSnapshot:
    bids = [(mid - TICK * (i + 1), 1.0 + i) for i in range(n)]
    asks = [(mid + TICK * (i + 1), 2.0 + i) for i in range(n)]
    return BookSnapshot(0, *_arrays(bids), *_arrays(asks))


@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(-300, 300), _size), max_size=15),
            st.lists(st.tuples(st.integers(-300, 300), _size), max_size=15),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_a_deep_book_on_the_price_step_stays_on_the_grid(
    deltas: list[tuple[list[tuple[int, float]], list[tuple[int, float]]]],
) -> None:
    """Deltas on the book's price step, within its range, never leave the grid (the fast
    path is the one taken), and the book is the merged one."""
    grid, merged = MarketState(), MarketState(grid=False)
    snap = _book(200)
    for m in (grid, merged):
        m.apply(snap, 0)
    updated = False
    for t, (bu, au) in enumerate(deltas, 1):
        b = [(1000.0 + TICK * i, s) for i, s in bu]
        a = [(1000.0 + TICK * i, s) for i, s in au]
        ev = BookDelta(t, *_arrays(b), *_arrays(a))
        for m in (grid, merged):
            m.apply(ev, t)
        updated = updated or bool(b or a)  # the first delta with an update builds the grid
        if updated:
            assert grid._grid is not None, "a delta on the price step left the grid"
    _same(grid, merged)


def test_arrays_read_from_the_book_are_never_written_afterwards() -> None:
    """A reader may keep the arrays it read: later deltas (in place on the grid) do not
    touch them, and neither the snapshot's arrays the book started from."""
    snap = _book(50)
    kept_snap = [x.copy() for x in (snap.bid_px, snap.bid_sz, snap.ask_px, snap.ask_sz)]
    m = MarketState()
    m.apply(snap, 0)
    m.apply(BookDelta(1, levels([999.5]), levels([7.0]), levels([]), levels([])), 1)
    read = [m.bid_px, m.bid_sz, m.ask_px, m.ask_sz]
    kept = [x.copy() for x in read]
    assert m.bid_sz[0] == 7.0
    m.apply(
        BookDelta(2, levels([999.5, 998.0]), levels([0.0, 3.0]), levels([1000.5]), levels([0.0])), 2
    )
    for x, y in zip(read, kept, strict=True):
        assert x.tobytes() == y.tobytes()
    for x, y in zip((snap.bid_px, snap.bid_sz, snap.ask_px, snap.ask_sz), kept_snap, strict=True):
        assert x.tobytes() == y.tobytes()
    assert m.best_bid == 999.0 and m.best_ask == 1001.0


def test_a_delta_the_grid_cannot_hold_is_merged_and_the_grid_comes_back() -> None:
    """Far levels (beyond the slots) are merged beside the grid; a bid above the slots is
    refused whole and merged into the arrays, and the next delta builds a new grid (none
    when the book then cannot be centred on one); a price between two slots' prices:
    merged, and no grid until the next snapshot."""
    grid, merged = MarketState(), MarketState(grid=False)
    for m in (grid, merged):
        m.apply(_book(20), 0)
    script = [
        ([(999.0, 5.0)], []),  # on the grid
        ([], [(1e5, 1.0)]),  # a far ask (the slots end ~16,000 steps from the touch)
        ([(1.0, 1.0)], [(1e5, 0.0)]),  # a far bid; the far ask removed
        ([(2e4, 1.0)], []),  # a bid above the slots: merged
        ([(2e4, 0.0)], []),  # a new grid, centred on that book
        ([(997.3, 1.0)], []),  # lands in the slot of 997.5, which holds a level: merged
        ([(996.0, 2.0)], []),  # merged: no grid until a snapshot
    ]
    has_grid = []
    for t, (b, a) in enumerate(script, 1):
        ev = BookDelta(t, *_arrays(b), *_arrays(a))
        for m in (grid, merged):
            m.apply(ev, t)
        _same(grid, merged)
        has_grid.append(grid._grid is not None)
    assert has_grid == [True, True, True, False, True, False, False]
    has_grid = []
    later: list[BookSnapshot | BookDelta] = [
        _book(20),  # a snapshot: the grid may come back
        BookDelta(0, levels([999.0]), levels([1.0]), levels([]), levels([])),
        BookDelta(0, levels([1e7]), levels([1.0]), levels([]), levels([])),
        BookDelta(0, levels([999.0]), levels([2.0]), levels([]), levels([])),
    ]
    for t, later_ev in enumerate(later, 10):
        for m in (grid, merged):
            m.apply(later_ev, t)
        _same(grid, merged)
        has_grid.append(grid._grid is not None)
    # a bid at 1e7 over asks at 1,000: no grid of 65,537 slots of 0.5 holds both
    assert has_grid == [False, True, False, False]


CAPTURE = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "binance-usdm"
) / "btcusdt_20240808.gz"


@pytest.mark.slow
@pytest.mark.skipif(not CAPTURE.exists(), reason="the USD-M capture is not here")
def test_the_usdm_capture_book_is_the_merged_one_after_every_delta(tmp_path: Path) -> None:
    """The real depth stream (a book ~2,400 levels a side, 17 updates a side a delta): the
    grid holds it (few deltas merged) and gives the merged book after every delta."""
    from mmkit.data.adapter import events_from_chunks
    from mmkit.data.loaders import convert
    from mmkit.data.store import iter_chunks

    store = tmp_path / "btc.parquet"
    convert([CAPTURE], store)
    grid, merged = MarketState(), MarketState(grid=False)
    deltas = merged_deltas = 0
    for ev in events_from_chunks(iter_chunks(store)):
        for m in (grid, merged):
            m.apply(ev, 0)
        if isinstance(ev, BookDelta):
            deltas += 1
            merged_deltas += grid._grid is None
            assert _bits(grid.best_bid) == _bits(merged.best_bid)
            assert _bits(grid.best_ask) == _bits(merged.best_ask)
            if deltas % 50 == 0:
                _same(grid, merged)
            if deltas >= 4000:
                break
    _same(grid, merged)
    assert deltas >= 1000
    assert merged_deltas <= deltas // 100, f"{merged_deltas} of {deltas} deltas left the grid"


def test_the_status_codes_copied_beside_the_kernels_are_theirs() -> None:
    """market.py and depth_grid.py name two kernel status codes without importing the
    kernels (that would load numba with mmkit.core)."""
    from mmkit.core import _kernels_book as kb
    from mmkit.core import market

    assert market._GRID_OUTSIDE == kb.GRID_OUTSIDE
    assert depth_grid._GRID_FULL == kb.GRID_FULL
    assert (kb.M_BEST, kb.M_COUNT, kb.M_FAR) == (0, 2, 4)  # depth_grid reads meta by these


def test_a_copied_market_state_has_its_own_grid() -> None:
    """The audit deep-copies whole rigs (engine and market state): a copy, or a pickled
    and loaded one, holds its own grid; deltas to one leave the other as it was."""
    m = MarketState()
    m.apply(_book(30), 0)
    m.apply(BookDelta(1, levels([999.5]), levels([4.0]), levels([]), levels([])), 1)
    for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert other._grid is not None and other._grid is not m._grid
        other.apply(BookDelta(2, levels([999.5]), levels([0.0]), levels([]), levels([])), 2)
        assert other.best_bid == 999.0 and m.best_bid == 999.5
        assert m.bid_sz[0] == 4.0 and other.bid_px[0] == 999.0
