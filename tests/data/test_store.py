"""The event store: round trip, streaming across chunk boundaries, atomic writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mmkit.core.events import BBO, BookDelta, BookSnapshot, FeedStatus, OwnFill, Trade
from mmkit.core.types import Side
from mmkit.data.adapter import count_kinds, events_from_chunks
from mmkit.data.schema import (
    FLAG_CROSSED,
    Chunk,
    GapReason,
    RecordBuilder,
    RecordKind,
    from_structured,
    to_structured,
)
from mmkit.data.store import StoreMeta, StoreWriter, iter_chunks, read_all, read_meta, write_store
from mmkit.errors import DataError


def _sample() -> RecordBuilder:
    b = RecordBuilder()
    b.add_book(RecordKind.BOOK_SNAPSHOT, 10, 11, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 3.0)], seq=5)
    b.add_book(RecordKind.BOOK_DELTA, 20, 21, [(100.0, 0.0)], [(102.0, 1.5)], seq=6, aux=5)
    b.add(RecordKind.TRADE, 30, 31, -1, 100.0, 0.25, seq=77)
    b.add(RecordKind.BBO, 40, 41, 1, 99.0, 2.0, seq=6, flags=0)
    b.add(RecordKind.BBO, 40, 41, -1, 101.0, 3.0, seq=6)
    b.add(
        RecordKind.OWN_FILL,
        50,
        51,
        1,
        101.0,
        0.1,
        val=0.02,
        seq=9,
        aux=1234,
        flags=1 | FLAG_CROSSED,
    )
    b.add_gap(60, 61, GapReason.DISCONNECT)
    b.add_book(RecordKind.BOOK_SNAPSHOT, 70, 71, [], [])
    return b


def test_round_trip_and_events(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    meta = write_store(
        out, [_sample().take()], StoreMeta(coin="X", tick=0.5, lot=0.1, stats={"crossed": 2})
    )
    assert meta.rows == 11
    back = read_meta(out)
    assert (back.coin, back.tick, back.lot, back.stats["crossed"]) == ("X", 0.5, 0.1, 2)
    assert (back.first_ts, back.last_ts) == (10, 70)
    evs = list(events_from_chunks(iter_chunks(out)))
    assert [type(e) for e in evs] == [
        BookSnapshot,
        BookDelta,
        Trade,
        BBO,
        OwnFill,
        FeedStatus,
        BookSnapshot,
    ]
    snap = evs[0]
    assert isinstance(snap, BookSnapshot)
    assert snap.bid_px.tolist() == [100.0, 99.0] and snap.ask_sz.tolist() == [3.0]
    assert (snap.ts, snap.local_ts, snap.seq) == (10, 11, 5)
    delta = evs[1]
    assert isinstance(delta, BookDelta) and delta.prev_seq == 5 and delta.bid_sz.tolist() == [0]
    trade = evs[2]
    assert isinstance(trade, Trade) and trade.side is Side.SELL and trade.tid == 77
    bbo = evs[3]
    assert isinstance(bbo, BBO) and (bbo.bid_px, bbo.ask_px) == (99.0, 101.0)
    fill = evs[4]
    assert isinstance(fill, OwnFill) and fill.crossed and fill.oid == 1234 and fill.fee == 0.02
    gap = evs[5]
    assert isinstance(gap, FeedStatus) and gap.gap and not gap.connected
    assert gap.detail == "disconnect"
    empty = evs[6]
    assert isinstance(empty, BookSnapshot) and empty.bid_px.size == 0 == empty.ask_px.size


def test_events_identical_whatever_the_batch_size(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    b = _sample()
    chunks = [b.take() for _ in range(1)] * 5
    write_store(out, chunks)
    whole = list(events_from_chunks(iter_chunks(out)))
    for batch in (1, 2, 3, 7):
        parts = list(events_from_chunks(iter_chunks(out, batch_rows=batch)))
        assert len(parts) == len(whole) == 35
        assert [repr(e) for e in parts] == [repr(e) for e in whole]


def test_structured_round_trip() -> None:
    c = _sample().take()
    s = to_structured(c)
    back = from_structured(s)
    for name, arr in c.items():
        np.testing.assert_array_equal(arr, back[name])


def test_count_kinds(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    write_store(out, [_sample().take()])
    counts = count_kinds(iter_chunks(out))
    assert counts["events"] == {
        "book_snapshot": 2,
        "book_delta": 1,
        "trade": 1,
        "bbo": 1,
        "own_fill": 1,
        "gap": 1,
    }
    assert counts["rows"] == 11


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"

    def chunks() -> Iterator[Chunk]:
        yield _sample().take()
        raise RuntimeError("converter died")

    with pytest.raises(RuntimeError):
        write_store(out, chunks(), row_group_rows=2)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    write_store(out, [_sample().take()], StoreMeta(coin="OLD"))
    with pytest.raises(ValueError), StoreWriter(out, StoreMeta(coin="NEW")) as w:
        w.write(_sample().take())
        raise ValueError("boom")
    assert read_meta(out).coin == "OLD"
    assert [p.name for p in tmp_path.iterdir()] == ["s.parquet"]


def test_not_a_store(tmp_path: Path) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"junk\.parquet"):
        read_meta(junk)
    with pytest.raises(DataError, match="no such file"):
        read_meta(tmp_path / "missing.parquet")
    good = tmp_path / "good.parquet"
    write_store(good, [_sample().take()])
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"cut\.parquet"):
        list(iter_chunks(cut))


def test_plain_parquet_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), p)
    with pytest.raises(DataError, match="not an event store"):
        read_all(p)
