"""Market state maintained by the engine from market-data events.

The book keeps both sides as sorted numpy arrays (bids descending, asks ascending). Snapshots
replace the book; deltas update it level by level. The state records what the data-quality
gate needs: last update time per stream and of the book, crossed/empty book, timestamp
regressions and sequence gaps.
"""

from __future__ import annotations

import math

from mmkit.core.batching import stream_regressions
from mmkit.core.depth_grid import DepthGrid
from mmkit.core.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Event,
    FeedStatus,
    FloatArray,
    Kinds,
    Trade,
    TradeBatch,
    empty_levels,
)


def _merge_delta(m: MarketState, ev: BookDelta) -> None:
    """Both sides of ``m``'s book after the delta, merged into new sorted arrays (see
    :mod:`mmkit.core._kernels_book`): a size of 0 (or not finite) removes the level, any
    other size sets it, the last update of a price wins."""
    from mmkit.core._kernels_book import apply_delta

    m._bid_px, m._bid_sz, m._ask_px, m._ask_sz = apply_delta(
        m._bid_px, m._bid_sz, m._ask_px, m._ask_sz, ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz
    )


def _apply_delta(m: MarketState, ev: BookDelta) -> None:
    """The delta on ``m``'s book: on its depth grid when it has one or can build one
    (:mod:`mmkit.core.depth_grid`: in place, a few slots), merged into the sorted arrays
    otherwise (a delta the grid refuses, a book it cannot hold, a state built with
    ``grid=False``). Either way the same book, bit for bit."""
    if ev.bid_px.size == 0 and ev.ask_px.size == 0:
        return
    g = m._grid
    if g is None and m._try_grid:
        g = m._grid = DepthGrid.build(m._bid_px, m._bid_sz, m._ask_px, m._ask_sz)
        if g is None:
            m._try_grid = False  # until the next snapshot: this book does not fit a grid
    if g is not None:
        st = g.apply(ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz)
        if st == 0:
            m._stale = True
            return
        # refused whole (the grid is as it was): back to the arrays; a price beyond the
        # grid gets a new grid on the next delta, a conflict none until the next snapshot
        m._export()
        m._grid = None
        m._try_grid = st == _GRID_OUTSIDE
    _merge_delta(m, ev)


_GRID_OUTSIDE = 2  # mmkit.core._kernels_book.GRID_OUTSIDE (not imported: that loads numba)


def _book_array(slot: str, doc: str) -> property:
    """A book array of :class:`MarketState`, built from its depth grid when stale."""

    def get(self: MarketState) -> FloatArray:
        if self._stale:
            self._export()
        got: FloatArray = getattr(self, slot)
        return got

    return property(get, doc=doc)


class MarketState:
    """Book, last trade and feed-health facts, updated in place by :meth:`apply`."""

    __slots__ = (
        "_ask_px",
        "_ask_sz",
        "_bid_px",
        "_bid_sz",
        "_grid",
        "_stale",
        "_try_grid",
        "_want_grid",
        "best_ask",
        "best_bid",
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

    def __init__(self, grid: bool = True) -> None:
        # the book's sides, sorted (bids descending); while a depth grid holds the book
        # (``_grid``) they are built from it when read, ``_stale`` saying they must be
        self._bid_px: FloatArray = empty_levels()
        self._bid_sz: FloatArray = empty_levels()
        self._ask_px: FloatArray = empty_levels()
        self._ask_sz: FloatArray = empty_levels()
        self._grid: DepthGrid | None = None
        self._stale = False
        # ``grid``: take book deltas on a depth grid (:mod:`mmkit.core.depth_grid`) when
        # the book fits one; False merges every delta into the sorted arrays (the
        # reference the grid is tested against). ``_try_grid`` is off while the book is
        # known not to fit, until the next snapshot.
        self._want_grid = grid
        self._try_grid = grid
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

    # -- the book ------------------------------------------------------------------------
    # Arrays read from here are the book at the time of reading: never written afterwards,
    # so a reader may keep them.
    bid_px = _book_array("_bid_px", "bid prices, best first")
    bid_sz = _book_array("_bid_sz", "sizes of the bid levels")
    ask_px = _book_array("_ask_px", "ask prices, best first")
    ask_sz = _book_array("_ask_sz", "sizes of the ask levels")

    def _export(self) -> None:
        """The sorted arrays from the depth grid (new arrays: the grid changes in place)."""
        g = self._grid
        if g is not None and self._stale:
            self._bid_px, self._bid_sz = g.levels(0)
            self._ask_px, self._ask_sz = g.levels(1)
        self._stale = False

    # -- derived -------------------------------------------------------------------------
    @property
    def is_crossed_or_empty(self) -> bool:
        return not self.best_bid < self.best_ask  # also NaN: an empty side

    def set_book(
        self, bid_px: FloatArray, bid_sz: FloatArray, ask_px: FloatArray, ask_sz: FloatArray
    ) -> None:
        """Replace the book without an event (models and tests; the engine uses :meth:`apply`)."""
        self._bid_px, self._bid_sz, self._ask_px, self._ask_sz = bid_px, bid_sz, ask_px, ask_sz
        self._grid = None
        self._stale = False
        self._try_grid = self._want_grid  # a new book: it may fit a grid
        self._top_changed()

    def _top_changed(self) -> None:
        g = self._grid
        if g is not None:
            b = g.best(0)
            a = g.best(1)
        else:
            b = float(self._bid_px[0]) if self._bid_px.size else math.nan
            a = float(self._ask_px[0]) if self._ask_px.size else math.nan
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
        if not k.is_market_data and k is not Kinds.FEED_STATUS:
            return
        if k is Kinds.TRADE_BATCH:
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
        if k is Kinds.BOOK_SNAPSHOT:
            assert isinstance(ev, BookSnapshot)
            self.set_book(ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz)
            self.book_ts = ts
            self.book_seq = ev.seq
            self.pending_gap = False
            self.last_update[ev.stream] = now_ns
            self.book_update_ns = now_ns
        elif k is Kinds.BOOK_DELTA:
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
        elif k is Kinds.TRADE:
            assert isinstance(ev, Trade)
            self.last_trade_px = ev.px
            self.last_trade_sz = ev.sz
            self.last_trade_side = int(ev.side)
            self.last_trade_ts = ts
            self.last_update[ev.stream] = now_ns
        elif k is Kinds.BBO:
            assert isinstance(ev, BBO)
            self.last_update[ev.stream] = now_ns
        elif k is Kinds.FEED_STATUS:
            assert isinstance(ev, FeedStatus)
            self.connected[ev.stream] = ev.connected
            if ev.gap or not ev.connected:
                self.pending_gap = True
                self.gap_count += int(ev.gap)
