"""The numba scan kernel: book rebuilt from records agrees with a plain Python rebuild."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.data.scan import scan
from mmkit.data.schema import GapReason, RecordBuilder, RecordKind, slice_chunk

level = st.tuples(st.integers(1, 30).map(float), st.sampled_from([0.0, 0.5, 1.0, 2.0]))
book_event = st.tuples(
    st.sampled_from([RecordKind.BOOK_SNAPSHOT, RecordKind.BOOK_DELTA, RecordKind.GAP]),
    st.lists(level, max_size=5),
    st.lists(level, max_size=5),
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(book_event, max_size=25), cut=st.integers(0, 200))
def test_scan_matches_python_rebuild(
    events: list[tuple[RecordKind, list[tuple[float, float]], list[tuple[float, float]]]],
    cut: int,
) -> None:
    b = RecordBuilder()
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    crossed = gaps = books = 0
    for t, (kind, bl, al) in enumerate(events):
        if kind == RecordKind.GAP:
            b.add_gap(t, t, GapReason.SEQUENCE)
            bids.clear()
            asks.clear()
            gaps += 1
            continue
        if kind == RecordKind.BOOK_SNAPSHOT:
            bl = [(p, s) for p, s in dict(bl).items() if s > 0]
            al = [(p, s) for p, s in dict(al).items() if s > 0]
            bids.clear()
            asks.clear()
        b.add_book(kind, t, t, bl, al)
        for book, lv in ((bids, bl), (asks, al)):
            for p, s in lv:
                if s > 0:
                    book[p] = s
                else:
                    book.pop(p, None)
        books += 1
        crossed += bool(bids and asks and max(bids) >= min(asks))
    chunk = b.take()
    # any split of the records into two chunks gives the same answer
    res = scan([slice_chunk(chunk, 0, cut), slice_chunk(chunk, cut)])
    assert (res.books, res.crossed, res.gaps, res.ts_regressions) == (books, crossed, gaps, 0)
    if bids:
        assert res.best_bid == max(bids)
    if asks:
        assert res.best_ask == min(asks)


def test_scan_counts_local_time_regressions() -> None:
    b = RecordBuilder()
    b.add(RecordKind.TRADE, 10, 10, 1, 1.0, 1.0)
    b.add(RecordKind.TRADE, 11, 5, 1, 1.0, 1.0)
    b.add(RecordKind.TRADE, 12, 12, 1, 1.0, 1.0)
    assert scan([b.take()]).ts_regressions == 1
