"""MarketState: snapshots, deltas, gaps, crossed/empty books, timestamp regressions."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.events import BookDelta, BookSnapshot, FeedStatus, Trade, levels
from mmkit.core.market import MarketState
from mmkit.core.types import Side


def snap(ts: int, bids: list[float], asks: list[float], seq: int = -1) -> BookSnapshot:
    return BookSnapshot(
        ts,
        levels(bids),
        levels([1.0] * len(bids)),
        levels(asks),
        levels([1.0] * len(asks)),
        seq=seq,
    )


def test_snapshot_then_deltas_keep_sorted_sides() -> None:
    m = MarketState()
    m.apply(snap(1, [99.0, 98.0], [101.0, 102.0], seq=10), 1)
    m.apply(
        BookDelta(
            2,
            levels([99.5, 99.0]),
            levels([2.0, 0.0]),
            levels([100.5]),
            levels([3.0]),
            seq=11,
            prev_seq=10,
        ),
        2,
    )
    assert m.bid_px.tolist() == [99.5, 98.0] and m.ask_px.tolist() == [100.5, 101.0, 102.0]
    assert m.mid == 100.0 and not m.pending_gap and m.gap_count == 0


def test_sequence_gap_is_marked_until_a_snapshot() -> None:
    m = MarketState()
    m.apply(snap(1, [99.0], [101.0], seq=10), 1)
    m.apply(BookDelta(2, levels([]), levels([]), levels([]), levels([]), seq=13, prev_seq=12), 2)
    assert m.pending_gap and m.gap_count == 1
    m.apply(snap(3, [99.0], [101.0], seq=20), 3)
    assert not m.pending_gap


def test_crossed_and_empty_books() -> None:
    m = MarketState()
    assert m.is_crossed_or_empty and math.isnan(m.mid)
    m.apply(snap(1, [101.0], [100.0]), 1)
    assert m.is_crossed_or_empty
    m.apply(snap(2, [99.0], []), 2)
    assert m.is_crossed_or_empty and math.isnan(m.best_ask)


def test_regressions_are_counted_per_stream() -> None:
    m = MarketState()
    m.apply(Trade(100, 1.0, 1.0, Side.BUY), 100)
    m.apply(snap(90, [99.0], [101.0]), 101)  # another stream, earlier exchange time: fine
    assert m.ts_regressions == 0
    m.apply(Trade(95, 1.0, 1.0, Side.BUY), 102)
    assert m.ts_regressions == 1 and m.last_stream_ts["trades"] == 100


def test_feed_disconnect_marks_a_gap() -> None:
    m = MarketState()
    m.apply(FeedStatus(1, "book", connected=False), 1)
    assert m.pending_gap and m.connected["book"] is False


@given(
    st.lists(
        st.tuples(st.sampled_from(["bid", "ask"]), st.floats(1, 200), st.floats(0, 5)), max_size=60
    )
)
def test_random_deltas_keep_sides_sorted_and_positive(
    updates: list[tuple[str, float, float]],
) -> None:
    m = MarketState()
    for i, (side, px, sz) in enumerate(updates):
        b = (levels([px]), levels([sz])) if side == "bid" else (levels([]), levels([]))
        a = (levels([px]), levels([sz])) if side == "ask" else (levels([]), levels([]))
        m.apply(BookDelta(i, b[0], b[1], a[0], a[1]), i)
    assert m.bid_px.tolist() == sorted(m.bid_px.tolist(), reverse=True)
    assert m.ask_px.tolist() == sorted(m.ask_px.tolist())
    assert (m.bid_sz > 0).all() and (m.ask_sz > 0).all()


def _reference_side(
    book: dict[float, float], updates: list[tuple[float, float]], descending: bool
) -> list[tuple[float, float]]:
    """The delta rule on a dict: size 0 (or not finite) removes, otherwise sets."""
    for p, s in updates:
        if s > 0.0 and math.isfinite(s):
            book[p] = s
        else:
            book.pop(p, None)
    return sorted(book.items(), reverse=descending)


_price = st.integers(1, 40).map(lambda i: 100.0 + 0.5 * i)
_size = st.one_of(st.just(0.0), st.floats(0.001, 10.0), st.just(math.nan), st.just(math.inf))


@given(
    st.lists(st.tuples(_price, st.floats(0.001, 10.0)), max_size=30),
    st.lists(st.lists(st.tuples(_price, _size), max_size=12), max_size=8),
    st.booleans(),
)
def test_deltas_match_the_dict_model(
    start: list[tuple[float, float]],
    deltas: list[list[tuple[float, float]]],
    bids: bool,
) -> None:
    """Vectorised delta application == applying the updates one by one to a dict (with
    repeated prices in one delta, removals of absent levels and non-finite sizes)."""
    book = dict(start)
    first = sorted(book.items(), reverse=bids)
    side = (levels([p for p, _ in first]), levels([s for _, s in first]))
    none = (levels([]), levels([]))
    m = MarketState()
    m.apply(BookSnapshot(0, *(side if bids else none), *(none if bids else side)), 0)
    for i, upd in enumerate(deltas, 1):
        u = (levels([p for p, _ in upd]), levels([s for _, s in upd]))
        m.apply(BookDelta(i, *(u if bids else none), *(none if bids else u)), i)
        want = _reference_side(book, upd, bids)
        got_px, got_sz = (m.bid_px, m.bid_sz) if bids else (m.ask_px, m.ask_sz)
        assert list(zip(got_px.tolist(), got_sz.tolist(), strict=True)) == want
        best = m.best_bid if bids else m.best_ask
        assert best == want[0][0] if want else math.isnan(best)


@given(
    st.lists(st.tuples(_price, st.floats(0.001, 10.0)), min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), _size), min_size=1, max_size=12),
    st.booleans(),
)
def test_a_delta_never_writes_to_the_arrays_it_replaces(
    start: list[tuple[float, float]], upd: list[tuple[int, float]], bids: bool
) -> None:
    """A book adopts a snapshot's arrays; a delta makes new ones (the snapshot, held by
    whoever else read it, is not changed), whether it only sets sizes of levels the book
    has or adds and removes levels."""
    book = sorted(dict(start).items(), reverse=bids)
    px, sz = levels([p for p, _ in book]), levels([s for _, s in book])
    keep_px, keep_sz = px.copy(), sz.copy()
    none = (levels([]), levels([]))
    m = MarketState()
    m.apply(BookSnapshot(0, *((px, sz) if bids else none), *(none if bids else (px, sz))), 0)
    # updates at prices of the book (sizes only, when every size is positive and finite)
    u_px = levels([book[i % len(book)][0] for i, _ in upd])
    u_sz = levels([s for _, s in upd])
    m.apply(BookDelta(1, *((u_px, u_sz) if bids else none), *(none if bids else (u_px, u_sz))), 1)
    assert px.tolist() == keep_px.tolist() and sz.tolist() == keep_sz.tolist()
    got_px = m.bid_px if bids else m.ask_px
    if all(0.0 < s < math.inf for _, s in upd):
        assert got_px.tolist() == keep_px.tolist()  # no level added or removed


def test_market_data_kinds_are_books_trades_tops_and_batches() -> None:
    """``EventKind.is_market_data`` (a plain attribute set on each member) for every kind;
    a new kind must be placed on one side of this line."""
    from mmkit.core.events import EventKind

    market = {"BOOK_SNAPSHOT", "BOOK_DELTA", "TRADE", "BBO", "TRADE_BATCH"}
    other = {"OWN_FILL", "ORDER_UPDATE", "ACTION_RESULT", "POSITION_SNAPSHOT", "TIMER"}
    assert {k.name for k in EventKind} == market | other | {"FEED_STATUS"}
    for k in EventKind:
        assert k.is_market_data is (k.name in market), k
