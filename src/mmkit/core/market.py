"""Market state maintained by the engine from market-data events.

The book keeps both sides as sorted numpy arrays (bids descending, asks ascending). Snapshots
replace the book; deltas update it level by level. The state records what the data-quality
gate needs: last update time per stream and of the book, crossed/empty book, timestamp
regressions and sequence gaps.
"""

from __future__ import annotations

import math

from mmkit.core.batching import stream_regressions
from mmkit.core.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Event,
    EventKind,
    FeedStatus,
    FloatArray,
    Trade,
    TradeBatch,
    empty_levels,
)


def _apply_delta(m: MarketState, ev: BookDelta) -> None:
    """Both sides of ``m``'s book after the delta (see :mod:`mmkit.core._kernels_book`): a
    size of 0 (or not finite) removes the level, any other size sets it, the last update of
    a price wins. One kernel call; a few microseconds on a book thousands of levels deep."""
    if ev.bid_px.size == 0 and ev.ask_px.size == 0:
        return
    from mmkit.core._kernels_book import apply_delta

    m.bid_px, m.bid_sz, m.ask_px, m.ask_sz = apply_delta(
        m.bid_px, m.bid_sz, m.ask_px, m.ask_sz, ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz
    )


class MarketState:
    """Book, last trade and feed-health facts, updated in place by :meth:`apply`."""

    __slots__ = (
        "ask_px",
        "ask_sz",
        "best_ask",
        "best_bid",
        "bid_px",
        "bid_sz",
        "book_seq",
        "book_ts",
        "book_update_ns",
        "connected",
        "gap_count",
        "last_event_ts",
        "last_stream_ts",
        "last_trade_px",
        "last_trade_side",
        "last_trade_sz",
        "last_trade_ts",
        "last_update",
        "mid",
        "pending_gap",
        "ts_regressions",
    )

    def __init__(self) -> None:
        self.bid_px: FloatArray = empty_levels()
        self.bid_sz: FloatArray = empty_levels()
        self.ask_px: FloatArray = empty_levels()
        self.ask_sz: FloatArray = empty_levels()
        #: top of book as plain floats (NaN when a side is empty), refreshed on every book
        #: change: read on every tick by gates, quoters and executors
        self.best_bid = math.nan
        self.best_ask = math.nan
        #: (best bid + best ask) / 2, NaN unless both sides have a level
        self.mid = math.nan
        self.book_ts = -1
        self.book_seq = -1
        #: local time (ns, the engine's ``now_ns``) of the latest book snapshot or delta, of
        #: any stream; -1 before the first. The data-quality gate judges the *book's* age by
        #: it, so a frozen book is noticed while trades keep other streams fresh
        self.book_update_ns = -1
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
    def is_crossed_or_empty(self) -> bool:
        return not self.best_bid < self.best_ask  # also NaN: an empty side

    def set_book(
        self, bid_px: FloatArray, bid_sz: FloatArray, ask_px: FloatArray, ask_sz: FloatArray
    ) -> None:
        """Replace the book without an event (models and tests; the engine uses :meth:`apply`)."""
        self.bid_px, self.bid_sz, self.ask_px, self.ask_sz = bid_px, bid_sz, ask_px, ask_sz
        self._top_changed()

    def _top_changed(self) -> None:
        b = float(self.bid_px[0]) if self.bid_px.size else math.nan
        a = float(self.ask_px[0]) if self.ask_px.size else math.nan
        self.best_bid = b
        self.best_ask = a
        self.mid = 0.5 * (b + a)

    # -- update --------------------------------------------------------------------------
    def _apply_trades(self, b: TradeBatch) -> None:
        """A trade batch: the same state as applying its rows one by one."""
        times = b.times_for_scan()
        stream = b.stream
        n_back, _, latest = stream_regressions(self.last_stream_ts.get(stream, -1), times)
        self.ts_regressions += n_back
        if n_back < len(times):  # some row moved the stream forward
            self.last_stream_ts[stream] = latest
            if latest > self.last_event_ts:
                self.last_event_ts = latest
        ts, px, sz, side, recv = b.last()
        self.last_trade_px = px
        self.last_trade_sz = sz
        self.last_trade_side = side
        self.last_trade_ts = ts
        self.last_update[stream] = recv

    def apply(self, ev: Event, now_ns: int) -> None:
        k = ev.kind
        if not k.is_market_data and k is not EventKind.FEED_STATUS:
            return
        if k is EventKind.TRADE_BATCH:
            assert isinstance(ev, TradeBatch)
            self._apply_trades(ev)
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
            self.set_book(ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz)
            self.book_ts = ts
            self.book_seq = ev.seq
            self.pending_gap = False
            self.last_update[ev.stream] = now_ns
            self.book_update_ns = now_ns
        elif k is EventKind.BOOK_DELTA:
            assert isinstance(ev, BookDelta)
            if ev.prev_seq >= 0 and self.book_seq >= 0 and ev.prev_seq != self.book_seq:
                self.gap_count += 1
                self.pending_gap = True
            _apply_delta(self, ev)
            self._top_changed()
            self.book_ts = ts
            self.book_seq = ev.seq
            self.last_update[ev.stream] = now_ns
            self.book_update_ns = now_ns
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
