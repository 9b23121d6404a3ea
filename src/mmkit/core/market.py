"""Market state maintained by the engine from market-data events.

The book keeps both sides as sorted numpy arrays (bids descending, asks ascending). Snapshots
replace the book; deltas update it level by level. The state records what the data-quality
gate needs: last update time per stream, crossed/empty book, timestamp regressions and
sequence gaps.
"""

from __future__ import annotations

import math

import numpy as np

from mmkit.core.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Event,
    EventKind,
    FeedStatus,
    FloatArray,
    Trade,
    empty_levels,
)


def _apply_side(
    px: FloatArray, sz: FloatArray, upd_px: FloatArray, upd_sz: FloatArray, descending: bool
) -> tuple[FloatArray, FloatArray]:
    book = dict(zip(px.tolist(), sz.tolist(), strict=True))
    for p, s in zip(upd_px.tolist(), upd_sz.tolist(), strict=True):
        if s <= 0.0 or not math.isfinite(s):
            book.pop(p, None)
        else:
            book[p] = s
    keys = sorted(book, reverse=descending)
    return (
        np.fromiter(keys, dtype=np.float64, count=len(keys)),
        np.fromiter((book[k] for k in keys), dtype=np.float64, count=len(keys)),
    )


class MarketState:
    """Book, last trade and feed-health facts, updated in place by :meth:`apply`."""

    __slots__ = (
        "ask_px",
        "ask_sz",
        "bid_px",
        "bid_sz",
        "book_seq",
        "book_ts",
        "connected",
        "gap_count",
        "last_event_ts",
        "last_stream_ts",
        "last_trade_px",
        "last_trade_side",
        "last_trade_sz",
        "last_trade_ts",
        "last_update",
        "pending_gap",
        "ts_regressions",
    )

    def __init__(self) -> None:
        self.bid_px: FloatArray = empty_levels()
        self.bid_sz: FloatArray = empty_levels()
        self.ask_px: FloatArray = empty_levels()
        self.ask_sz: FloatArray = empty_levels()
        self.book_ts = -1
        self.book_seq = -1
        self.last_trade_px = math.nan
        self.last_trade_sz = 0.0
        self.last_trade_side = 0
        self.last_trade_ts = -1
        self.last_event_ts = -1
        #: stream name -> exchange time (ns) of its latest message; regressions are per stream,
        #: since venues interleave streams (Binance depth vs trades) out of exchange-time order
        self.last_stream_ts: dict[str, int] = {}
        #: stream name -> local time (ns) of its latest message
        self.last_update: dict[str, int] = {}
        self.connected: dict[str, bool] = {}
        self.gap_count = 0
        self.ts_regressions = 0
        #: a sequence gap or feed gap seen and not yet healed by a snapshot
        self.pending_gap = False

    # -- derived -------------------------------------------------------------------------
    @property
    def best_bid(self) -> float:
        return float(self.bid_px[0]) if self.bid_px.size else math.nan

    @property
    def best_ask(self) -> float:
        return float(self.ask_px[0]) if self.ask_px.size else math.nan

    @property
    def mid(self) -> float:
        if self.bid_px.size and self.ask_px.size:
            return 0.5 * (float(self.bid_px[0]) + float(self.ask_px[0]))
        return math.nan

    @property
    def has_data(self) -> bool:
        return bool(self.last_update)

    @property
    def is_crossed_or_empty(self) -> bool:
        if not (self.bid_px.size and self.ask_px.size):
            return True
        return bool(self.bid_px[0] >= self.ask_px[0])

    # -- update --------------------------------------------------------------------------
    def apply(self, ev: Event, now_ns: int) -> None:
        k = ev.kind
        if not k.is_market_data and k is not EventKind.FEED_STATUS:
            return
        ts = ev.ts
        if k.is_market_data:
            stream = ev.stream  # type: ignore[union-attr]
            prev = self.last_stream_ts.get(stream, -1)
            if ts < prev:
                self.ts_regressions += 1
            else:
                self.last_stream_ts[stream] = ts
                if ts > self.last_event_ts:
                    self.last_event_ts = ts
        if k is EventKind.BOOK_SNAPSHOT:
            assert isinstance(ev, BookSnapshot)
            self.bid_px, self.bid_sz = ev.bid_px, ev.bid_sz
            self.ask_px, self.ask_sz = ev.ask_px, ev.ask_sz
            self.book_ts = ts
            self.book_seq = ev.seq
            self.pending_gap = False
            self.last_update[ev.stream] = now_ns
        elif k is EventKind.BOOK_DELTA:
            assert isinstance(ev, BookDelta)
            if ev.prev_seq >= 0 and self.book_seq >= 0 and ev.prev_seq != self.book_seq:
                self.gap_count += 1
                self.pending_gap = True
            self.bid_px, self.bid_sz = _apply_side(
                self.bid_px, self.bid_sz, ev.bid_px, ev.bid_sz, True
            )
            self.ask_px, self.ask_sz = _apply_side(
                self.ask_px, self.ask_sz, ev.ask_px, ev.ask_sz, False
            )
            self.book_ts = ts
            self.book_seq = ev.seq
            self.last_update[ev.stream] = now_ns
        elif k is EventKind.TRADE:
            assert isinstance(ev, Trade)
            self.last_trade_px = ev.px
            self.last_trade_sz = ev.sz
            self.last_trade_side = int(ev.side)
            self.last_trade_ts = ts
            self.last_update[ev.stream] = now_ns
        elif k is EventKind.BBO:
            assert isinstance(ev, BBO)
            self.last_update[ev.stream] = now_ns
        elif k is EventKind.FEED_STATUS:
            assert isinstance(ev, FeedStatus)
            self.connected[ev.stream] = ev.connected
            if ev.gap or not ev.connected:
                self.pending_gap = True
                self.gap_count += int(ev.gap)
