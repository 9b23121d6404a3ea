"""Loaders on the real captures in ``<repo>/../shared/data`` (skipped when absent)."""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mmkit.core.events import BBO, BookDelta, BookSnapshot, FeedStatus, Trade
from mmkit.core.market import MarketState
from mmkit.data.adapter import count_kinds, events_from_chunks
from mmkit.data.loaders import convert, detect_format
from mmkit.data.loaders.lobster import PRICE_SCALE, parse_book_row, parse_seconds
from mmkit.data.scan import scan
from mmkit.data.schema import RecordKind
from mmkit.data.store import StoreMeta, iter_chunks, read_all, read_meta

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _rebuild_and_compare(store: Path) -> tuple[int, int, int, int]:
    """Replay the store's events into a plain dict book (independent of the loader's);
    returns (BBO compared, mismatches, crossed books, gaps), comparing each BBO with the
    book whose update id equals the BBO's."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    compared = mismatched = crossed = gaps = 0
    last_seq = -1
    pending: dict[int, tuple[float, float]] = {}
    book_at: dict[int, tuple[float, float]] = {}
    for ev in events_from_chunks(iter_chunks(store)):
        if isinstance(ev, BookSnapshot | BookDelta):
            if isinstance(ev, BookSnapshot):
                bids.clear()
                asks.clear()
            elif ev.prev_seq != last_seq:
                gaps += 1
            last_seq = ev.seq
            for book, px, sz in ((bids, ev.bid_px, ev.bid_sz), (asks, ev.ask_px, ev.ask_sz)):
                for p, q in zip(px.tolist(), sz.tolist(), strict=True):
                    if q == 0.0:
                        book.pop(p, None)
                    else:
                        book[p] = q
            best = (max(bids), min(asks))
            crossed += best[0] >= best[1]
            book_at[ev.seq] = best
            if ev.seq in pending:
                compared += 1
                mismatched += pending.pop(ev.seq) != best
        elif isinstance(ev, BBO):
            tick = (ev.bid_px, ev.ask_px)
            if ev.seq in book_at:
                compared += 1
                mismatched += book_at[ev.seq] != tick
            else:
                pending[ev.seq] = tick
        elif isinstance(ev, FeedStatus):
            gaps += 1
    return compared, mismatched, crossed, gaps


@pytest.fixture(scope="module")
def usdm_btc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoreMeta]:
    src = SHARED / "binance-usdm" / "btcusdt_20240808.gz"
    if not src.is_file():
        pytest.skip("../shared/data is not available")
    assert detect_format(src) == "binance"
    out = tmp_path_factory.mktemp("usdm") / "btc.parquet"
    return out, convert([src], out)


def test_usdm_btc_rebuilds_exactly(usdm_btc: tuple[Path, StoreMeta]) -> None:
    out, meta = usdm_btc
    assert meta.stats["sequence_gap"] == 0
    assert meta.stats["crossed"] == 0
    assert meta.stats["bbo_mismatch"] == 0
    assert meta.stats["bbo_checked"] >= 126
    assert (meta.coin, meta.tick, meta.lot) == ("BTCUSDT", 0.1, 0.001)
    assert meta.stats["input_records"] == 93_954
    compared, mismatched, crossed, gaps = _rebuild_and_compare(out)
    assert compared >= 126 and mismatched == 0 and crossed == 0 and gaps == 0
    facts = scan(iter_chunks(out))  # the numba walk agrees
    assert (facts.books, facts.crossed, facts.gaps, facts.ts_regressions) == (6546, 0, 0, 0)
    lts = read_all(out)["local_ts"]
    assert np.all(np.diff(lts) >= 0)


def test_usdm_btc_through_the_core_market_state(usdm_btc: tuple[Path, StoreMeta]) -> None:
    out, _ = usdm_btc
    state = MarketState()
    for ev in itertools.islice(events_from_chunks(iter_chunks(out, batch_rows=50_000)), 20_000):
        state.apply(ev, ev.local_ts)
    assert state.gap_count == 0 and not state.pending_gap and not state.is_crossed_or_empty


@pytest.mark.slow
def test_usdm_eth_and_spot_pair(shared_data: Path, tmp_path: Path) -> None:
    eth = convert([shared_data / "binance-usdm" / "ethusdt_20240808.gz"], tmp_path / "e.pq")
    assert eth.stats["sequence_gap"] == eth.stats["crossed"] == eth.stats["bbo_mismatch"] == 0
    spot_files = [shared_data / "binance-spot" / f"btcusdt_2024080{d}.gz" for d in (8, 9)]
    spot = convert(spot_files, tmp_path / "s.pq")
    assert spot.stats["sequence_gap"] == spot.stats["crossed"] == spot.stats["bbo_mismatch"] == 0
    assert spot.stats["bbo_checked"] > 100
    assert (spot.tick, spot.lot) == (0.01, 1e-5)


def test_binance_trade_aggressor(usdm_btc: tuple[Path, StoreMeta]) -> None:
    out, _ = usdm_btc
    trades = [e for e in events_from_chunks(iter_chunks(out)) if isinstance(e, Trade)]
    first = trades[0]  # {"t":5266583935,"p":"61800.30","q":"0.006","m":false}
    assert (first.tid, first.px, first.sz, int(first.side)) == (5266583935, 61800.3, 0.006, 1)
    assert {int(t.side) for t in trades} == {1, -1}


def test_hyperliquid_capture(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "hyperliquid" / "btcusd_20250126.gz"
    assert detect_format(src) == "hyperliquid"
    out = tmp_path / "hl.parquet"
    meta = convert([src], out)
    counts = count_kinds(iter_chunks(out))
    # 64 trades in the file, of which the subscription's first message replays 30 from
    # before the capture began: dropped and counted (tests/data/test_hyperliquid_replay.py)
    assert counts["events"] == {"book_snapshot": 46, "trade": 34}
    assert meta.stats["replay_trades_excluded"] == 30
    assert (meta.coin, meta.tick, meta.lot) == ("BTC", 1.0, 1e-5)
    assert meta.stats["crossed"] == 0 and meta.stats["malformed"] == 0
    books = [e for e in events_from_chunks(iter_chunks(out)) if isinstance(e, BookSnapshot)]
    assert all(b.bid_px.size == 20 and b.ask_px.size == 20 for b in books)
    assert books[0].bid_px[0] == 105055.0 and books[0].ask_px[0] == 105056.0


def _lobster_rows(zpath: Path) -> tuple[list[list[str]], list[list[str]]]:
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
        m = next(n for n in names if "_message_" in n)
        b = next(n for n in names if "_orderbook_" in n)
        msgs = list(csv.reader(io.TextIOWrapper(zf.open(m), encoding="ascii")))
        books = list(csv.reader(io.TextIOWrapper(zf.open(b), encoding="ascii")))
    return msgs, books


@pytest.mark.slow
def test_lobster_day_round_trips(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    assert detect_format(src) == "lobster"
    out = tmp_path / "amzn.parquet"
    meta = convert([src], out)
    assert meta.stats["malformed"] == 0 and meta.stats.get("book_message_mismatch", 0) == 0
    assert meta.stats["book_message_checked"] > 100_000
    msgs, raw_books = _lobster_rows(src)
    books = [parse_book_row(r, "orderbook") for r in raw_books]
    c = read_all(out)
    midnight = 1340236800 * 10**9  # 2012-06-21T00:00:00Z
    orders = np.flatnonzero(c["kind"] == RecordKind.ORDER)
    # 1. every message row comes back exactly
    assert len(orders) == len(msgs)
    for row, i in zip(msgs, orders.tolist(), strict=True):
        assert c["ts"][i] - midnight == parse_seconds(row[0])
        assert int(c["val"][i]) == int(row[1]) and c["aux"][i] == int(row[2])
        assert c["sz"][i] == float(row[3]) and round(c["px"][i] * PRICE_SCALE) == int(row[4])
        assert c["side"][i] == int(row[5])
    # 2. the book rebuilt from the store equals every orderbook row at all its levels
    state = MarketState()
    row_of_seq = 0
    ev_iter = events_from_chunks(iter_chunks(out))
    checked = 0
    for ev in ev_iter:
        if not isinstance(ev, (BookSnapshot, BookDelta)):
            continue
        state.apply(ev, ev.local_ts)
        row_of_seq = ev.seq  # message line number (1-based) that produced this book
        bids, asks = books[row_of_seq - 1]
        want_b = sorted(bids.items(), reverse=True)
        want_a = sorted(asks.items())
        got_b = [
            (round(p * PRICE_SCALE), int(s))
            for p, s in zip(state.bid_px.tolist(), state.bid_sz.tolist(), strict=True)
        ]
        got_a = [
            (round(p * PRICE_SCALE), int(s))
            for p, s in zip(state.ask_px.tolist(), state.ask_sz.tolist(), strict=True)
        ]
        assert (got_b, got_a) == (want_b, want_a), f"row {row_of_seq}"
        checked += 1
    assert checked > 100_000
    # 3. the messages alone move the visible book: previous row + message == next row at
    #    every price visible in both rows
    mism = 0
    for j in range(1, len(msgs)):
        typ, size, price, direction = (int(msgs[j][k]) for k in (1, 3, 4, 5))
        if typ not in (1, 2, 3, 4):
            continue
        before = books[j - 1][0 if direction == 1 else 1]
        after = books[j][0 if direction == 1 else 1]
        moved = dict(before)
        moved[price] = moved.get(price, 0) + (size if typ == 1 else -size)
        lo, hi = max(min(before), min(after)), min(max(before), max(after))
        common = {p for p in set(moved) | set(after) if lo <= p <= hi}
        mism += any(moved.get(p, 0) != after.get(p, 0) for p in common)
    assert mism == 0
    gaps = [e for e in events_from_chunks(iter_chunks(out)) if isinstance(e, FeedStatus)]
    assert not gaps  # the AMZN sample has no halts
    assert read_meta(out).tick == 0.01
