"""Bad input is reported with file and line, counted, and never half-written."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from mmkit.core.events import BookDelta, BookSnapshot, FeedStatus
from mmkit.data.adapter import events_from_chunks
from mmkit.data.loaders import convert, make_loader
from mmkit.data.store import iter_chunks, read_meta
from mmkit.errors import DataError

from .helpers import bn_diff, bn_snapshot, bn_ticker, bn_trade, hl_book, hl_trades, write_capture

BIDS = [("100.0", "1.0"), ("99.0", "2.0")]
ASKS = [("101.0", "1.0"), ("102.0", "2.0")]


def _binance_lines() -> list[tuple[int, object] | str]:
    return [
        (1, bn_diff(5, 9, 4, b=[("100.0", "1.5")])),  # before the snapshot: buffered
        (2, bn_snapshot(7, BIDS, ASKS)),
        (3, bn_diff(10, 12, 9, a=[("101.0", "0")])),  # deletes the best ask
        (4, bn_ticker(12, "100.0", "102.0")),
        (5, bn_trade(1, "102.0", "0.5", True)),
    ]


def test_binance_sync_and_folded_snapshot(tmp_path: Path) -> None:
    src = write_capture(tmp_path / "b.gz", _binance_lines())
    out = tmp_path / "b.parquet"
    meta = convert([src], out)
    assert meta.stats["bbo_checked"] == 1 and meta.stats["bbo_mismatch"] == 0
    evs = list(events_from_chunks(iter_chunks(out)))
    snap = evs[0]
    assert isinstance(snap, BookSnapshot)
    assert snap.seq == 9 and snap.bid_sz.tolist() == [1.5, 2.0]  # diff [5, 9] folded in
    delta = evs[1]
    assert isinstance(delta, BookDelta) and delta.prev_seq == 9 and delta.seq == 12


def test_sequence_gap_is_marked_not_bridged(tmp_path: Path) -> None:
    lines = [
        *_binance_lines(),
        (6, bn_diff(20, 25, 19, b=[("100.0", "3.0")])),  # pu 19 != 12: gap
        (7, bn_diff(26, 27, 25, b=[("100.0", "4.0")])),  # no snapshot since: not applied
        (8, bn_snapshot(26, BIDS, ASKS)),
        (9, bn_diff(26, 30, 27, b=[("99.5", "1.0")])),  # straddles 26: applied again
    ]
    src = write_capture(tmp_path / "b.gz", lines)
    out = tmp_path / "b.parquet"
    meta = convert([src], out)
    assert meta.stats["sequence_gap"] == 1
    assert any("b.gz:6: sequence_gap" in s for s in meta.issues)
    kinds = [type(e).__name__ for e in events_from_chunks(iter_chunks(out))]
    assert kinds == [
        "BookSnapshot",
        "BookDelta",
        "BBO",
        "Trade",
        "FeedStatus",
        "BookSnapshot",
        "BookDelta",
    ]
    gap = next(e for e in events_from_chunks(iter_chunks(out)) if isinstance(e, FeedStatus))
    assert gap.gap and gap.detail == "sequence"
    with pytest.raises(DataError, match=r"b\.gz:6: sequence_gap"):
        convert([src], tmp_path / "strict.parquet", strict=True)
    assert not (tmp_path / "strict.parquet").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_malformed_unknown_regression_crossed(tmp_path: Path) -> None:
    lines: list[tuple[int, object] | str] = [
        (100, hl_book(1, BIDS, ASKS)),
        "not a line",
        "200 {broken json",
        (300, {"channel": "whatever", "data": {}}),
        (250, hl_trades(2)),  # local time goes back
        (400, hl_book(3, [("101.5", "1")], ASKS)),  # crossed
        (500, {"channel": "l2Book", "data": {"levels": "nope"}}),
        (600, {"channel": "subscriptionResponse", "data": {}}),
    ]
    src = write_capture(tmp_path / "h.gz", lines)
    meta = convert([src], tmp_path / "h.parquet")
    s = meta.stats
    assert (s["malformed"], s["unknown_type"], s["ts_regression"], s["crossed"]) == (3, 1, 1, 1)
    text = "\n".join(meta.issues)
    for n, what in (
        (2, "malformed"),
        (3, "malformed"),
        (4, "unknown_type"),
        (5, "ts_regression"),
        (6, "crossed"),
        (7, "malformed"),
    ):
        assert f"h.gz:{n}: {what}" in text
    assert read_meta(tmp_path / "h.parquet").stats["crossed"] == 1


def test_truncated_gzip_is_counted_and_marked(tmp_path: Path) -> None:
    lines = [(i, hl_book(i, BIDS, ASKS)) for i in range(1, 400)]
    full = write_capture(tmp_path / "full.gz", lines)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    out = tmp_path / "cut.parquet"
    meta = convert([cut], out)
    assert meta.stats["truncated"] == 1
    assert any("cut.gz:" in s and "truncated" in s for s in meta.issues)
    evs = list(events_from_chunks(iter_chunks(out)))
    assert isinstance(evs[-1], FeedStatus) and evs[-1].detail == "truncated"
    assert 0 < sum(isinstance(e, BookSnapshot) for e in evs) < 399


def test_nothing_usable_is_an_error(tmp_path: Path) -> None:
    src = write_capture(tmp_path / "junk.gz", ["1 [1,2]", '2 {"channel": 5}'])
    with pytest.raises(DataError, match=r"junk\.gz"):
        convert([src], tmp_path / "o.parquet", fmt="hyperliquid")
    assert not (tmp_path / "o.parquet").exists()


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("hello\n")
    with pytest.raises(DataError, match=r"x\.txt:1: cannot tell the format"):
        convert([p], tmp_path / "o.parquet")
    with pytest.raises(DataError, match="no such file"):
        make_loader("auto", [tmp_path / "nope.gz"])
    with pytest.raises(DataError, match="unknown data format"):
        make_loader("csv", [p])


def test_hyperliquid_archive_plain_and_lz4(tmp_path: Path) -> None:
    import lz4.frame

    recs = [
        {
            "time": f"2024-08-05T00:00:0{i}.402514755",
            "ver_num": 1,
            "raw": hl_book(1722816000000 + i * 1000, BIDS, ASKS),
        }
        for i in range(5)
    ]
    text = "".join(json.dumps(r) + "\n" for r in recs) + "{bad\n"
    plain = tmp_path / "BTC"
    plain.write_text(text)
    packed = tmp_path / "BTC.lz4"
    packed.write_bytes(lz4.frame.compress(text.encode()))
    for src in (plain, packed):
        out = tmp_path / (src.name + ".parquet")
        meta = convert([src], out)
        assert meta.stats["malformed"] == 1 and any(":6: malformed" in s for s in meta.issues)
        books = [e for e in events_from_chunks(iter_chunks(out)) if isinstance(e, BookSnapshot)]
        assert len(books) == 5
        assert books[0].local_ts == 1722816000 * 10**9 + 402514755
        assert books[2].ts == (1722816000000 + 2000) * 10**6


def test_lobster_bad_rows(tmp_path: Path) -> None:
    msgs = "34200.1,1,11,100,1000000,1\n34200.2,1,12,50,1010000,-1\nxx,1,1,1,1,1\n"
    book = "1010000,0,1000000,100\n1010000,50,1000000,100\n1010000,50,1000000,100\n"
    z = tmp_path / "TEST_2012-06-21_34200000_57600000_5.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("TEST_2012-06-21_34200000_57600000_message_1.csv", msgs)
        zf.writestr("TEST_2012-06-21_34200000_57600000_orderbook_1.csv", book)
    meta = convert([z], tmp_path / "o.parquet", tick=None, lot=None)  # as the CLI passes them
    assert (meta.tick, meta.lot, meta.coin) == (0.01, 1.0, "TEST")
    assert meta.stats["malformed"] == 1 and any("message_1.csv:3" in s for s in meta.issues)
    short = tmp_path / "SHORT_2012-06-21_1_2_5.zip"
    with zipfile.ZipFile(short, "w") as zf:
        zf.writestr("SHORT_2012-06-21_1_2_message_1.csv", msgs)
        zf.writestr("SHORT_2012-06-21_1_2_orderbook_1.csv", book.splitlines()[0] + "\n")
    with pytest.raises(DataError, match=r"orderbook_1\.csv:2: orderbook file ends"):
        convert([short], tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()


def test_gzip_garbage_is_truncated_not_crash(tmp_path: Path) -> None:
    p = tmp_path / "g.gz"
    p.write_bytes(gzip.compress(b"1 {}\n")[:12] + b"\x00garbage")
    with pytest.raises(DataError):
        convert([p], tmp_path / "o.parquet", fmt="hyperliquid")
