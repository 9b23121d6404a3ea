"""The Hyperliquid ``trades`` subscription replay (issue 19): the first message of a
subscription replays trades from before it started; they are dropped (and counted) by
default, kept and flagged on request, and never reach estimation as fresh trades."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.events import Trade
from mmkit.data.loaders import make_loader
from mmkit.data.market_stream import load_market, open_records
from mmkit.data.replay import ReplayFeed
from mmkit.data.schema import FLAG_REPLAY, RecordKind, concat_chunks
from mmkit.errors import DataError
from mmkit.venues.sim import _layout as lay

from .helpers import hl_book, write_capture

HL = "hyperliquid/btcusd_20250126.gz"


def _raw_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with gzip.open(path, "rt") as fh:
        out = []
        for line in fh:
            ns, _, body = line.partition(" ")
            out.append((int(ns), json.loads(body)))
        return out


def _replayed_by_raw_reading(path: Path) -> tuple[set[int], set[int]]:
    """(tids replayed, tids live), read straight from the JSON: a trade is a replay when its
    exchange time precedes the first l2Book's exchange time (the subscription's start)."""
    lines = _raw_lines(path)
    start_ms = next(o["data"]["time"] for _, o in lines if o["channel"] == "l2Book")
    replay: set[int] = set()
    live: set[int] = set()
    for _, o in lines:
        if o["channel"] == "trades":
            for t in o["data"]:
                (replay if t["time"] < start_ms else live).add(int(t["tid"]))
    return replay, live


def _trade_rows(loader: Any) -> tuple[list[int], list[int]]:
    c = concat_chunks(list(loader.chunks()))
    tr = c["kind"] == RecordKind.TRADE
    return c["seq"][tr].tolist(), c["flags"][tr].tolist()


def test_real_capture_drops_exactly_the_replayed_trades(shared_data: Path) -> None:
    src = shared_data / HL
    replay, live = _replayed_by_raw_reading(src)
    assert len(replay) == 30 and len(live) == 34  # the README's figures

    loader = make_loader("auto", [src])
    tids, flags = _trade_rows(loader)
    assert set(tids) == live and len(tids) == len(live)
    assert not any(f & FLAG_REPLAY for f in flags)
    assert loader.diag.counts["replay_trades_excluded"] == len(replay)

    keep = make_loader("auto", [src], include_replay=True)
    tids, flags = _trade_rows(keep)
    flagged = {t for t, f in zip(tids, flags, strict=True) if f & FLAG_REPLAY}
    assert flagged == replay and set(tids) == replay | live
    assert keep.diag.counts["replay_trades_included"] == len(replay)


def test_research_paths_see_only_live_trades(shared_data: Path) -> None:
    """What backtest/calibrate read (``open_records`` / ``load_market``) and what the
    engine is fed (the replay feed's events) hold only the 34 live trades."""
    src = shared_data / HL
    _, live = _replayed_by_raw_reading(src)
    rec = open_records(src)
    c = concat_chunks(list(rec.chunks))
    assert int((c["kind"] == RecordKind.TRADE).sum()) == len(live)
    market, _tick = load_market([src])
    assert int(np.count_nonzero(market.kind == lay.EV_TRADE)) == len(live)
    trades = [e for e in ReplayFeed([str(src)]).events() if isinstance(e, Trade)]
    assert {t.tid for t in trades} == live


def test_include_replay_is_refused_for_a_venue_without_replay(shared_data: Path) -> None:
    src = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    with pytest.raises(DataError, match="include-replay applies to Hyperliquid"):
        make_loader("auto", [src], include_replay=True)
    make_loader("auto", [src], include_replay=False)  # the default is accepted everywhere


# -- the rule on synthetic captures ------------------------------------------------------


def _trades_msg(rows: list[tuple[int, int]]) -> dict[str, Any]:
    """A trades message of (tid, time ms) rows."""
    return {
        "channel": "trades",
        "data": [
            {"coin": "BTC", "side": "B", "px": "100.0", "sz": "0.1", "time": t, "tid": tid}
            for tid, t in rows
        ],
    }


ACK = {
    "channel": "subscriptionResponse",
    "data": {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}},
}

ages = st.lists(st.integers(1, 60_000), max_size=12)  # ms before the subscription start
leads = st.lists(st.integers(0, 3_000), max_size=12)  # ms at or after it
later = st.lists(st.lists(st.integers(-60_000, 60_000), min_size=1, max_size=5), max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    book_first=st.booleans(),
    old1=ages,
    new1=leads,
    later1=later,
    old2=ages,
    new2=leads,
    later2=later,
)
def test_only_the_first_message_of_a_subscription_before_its_start_is_replay(
    tmp_path_factory: pytest.TempPathFactory,
    book_first: bool,
    old1: list[int],
    new1: list[int],
    later1: list[list[int]],
    old2: list[int],
    new2: list[int],
    later2: list[list[int]],
) -> None:
    """Two subscriptions (a file start, then an ack of a new trades subscription). In
    each, the first trades message mixes trades from before its start (replays, by
    construction) with trades at or after it; later messages are live whatever their time
    (even older than the start). The start is the first book's exchange time, or the
    local receive time of the subscription's first message when no book came first."""
    tid = iter(range(1, 10_000))
    expect_replay: set[int] = set()
    expect_live: set[int] = set()
    lines: list[tuple[int, Any]] = []

    def subscription(start_ms: int, old: list[int], new: list[int], rest: list[list[int]]) -> None:
        first = []
        for a in old:
            first.append((next(tid), start_ms - a))
            expect_replay.add(first[-1][0])
        for b in new:
            first.append((next(tid), start_ms + b))
            expect_live.add(first[-1][0])
        local = start_ms * 1_000_000
        if book_first:  # the book's exchange time is the start; received 300 ms later
            lines.append((local + 300_000_000, hl_book(start_ms, [("99", "1")], [("101", "1")])))
            local += 400_000_000
        lines.append((local, _trades_msg(first)))
        for k, msg in enumerate(rest):
            rows = [(next(tid), start_ms + d) for d in msg]
            expect_live.update(r[0] for r in rows)
            lines.append((local + (k + 1) * 1_000_000, _trades_msg(rows)))

    s1 = 1_700_000_000_000
    subscription(s1, old1, new1, later1)
    s2 = s1 + 500_000
    if book_first:
        lines.append(((s2 - 1) * 1_000_000, ACK))
    else:  # no book: the ack's receive time is the start
        lines.append((s2 * 1_000_000, ACK))
    subscription(s2, old2, new2, later2)
    # a closing book, so that a file of nothing but replays still holds a usable record
    lines.append(((s2 + 90_000) * 1_000_000, hl_book(s2 + 90_000, [("99", "1")], [("101", "1")])))

    path = write_capture(tmp_path_factory.mktemp("hl") / "cap.gz", lines)
    loader = make_loader("hyperliquid", [path])
    tids, _ = _trade_rows(loader)
    assert sorted(tids) == sorted(expect_live)
    assert loader.diag.counts["replay_trades_excluded"] == len(expect_replay)
    keep = make_loader("hyperliquid", [path], include_replay=True)
    tids, flags = _trade_rows(keep)
    assert {t for t, f in zip(tids, flags, strict=True) if f & FLAG_REPLAY} == expect_replay
    assert sorted(tids) == sorted(expect_live | expect_replay)
