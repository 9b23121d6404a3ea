"""``SimVenue``: the simulated exchange behind the :class:`~mmkit.components.Venue` protocol.

The matching decisions are made by the numba kernels (the same ones the batch replay and
the backtest loop use); this class translates events and actions to the kernels' arrays
and the kernels' records back to typed events:

* ``on_market(ev, now_ns)`` applies a market event at its exchange time ``ev.ts`` (after
  any of our actions that reached the exchange before it);
* ``submit(actions, now_ns)`` sends actions at local time ``now_ns`` (entry latency);
* ``drain(now_ns)`` returns every acknowledgement, fill, order update and snapshot whose
  news has arrived by ``now_ns`` (response latency), in time order.

Market data should reach the strategy ``feed_latency`` after it happened;
:meth:`SimVenue.market_local_ts` stamps an event for the runner when the data carry no
local time.

Options the audit harness (:class:`mmkit.audit.harness.FakeVenue`) runs on, off by default
(backtest and paper never change): ``queue_model = "front"`` (we stand first at our level),
``first_oid`` and ``apply_on_submit`` (with entry latency 0, an action is applied inside
:meth:`SimVenue.submit`). The **venue-side event API** applies what the venue does to the
account by itself: :meth:`SimVenue.venue_cancel` (its own cancel, ``OTHER_CANCELED``),
:meth:`SimVenue.venue_fill` (a fill the replayed data do not show) and
:meth:`SimVenue.account_fill` (a fill of an order we never placed: another session, a
liquidation); :meth:`SimVenue.take_events` hands every produced event to a wrapper that
delivers them itself.
"""

from __future__ import annotations

import math
import operator
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mmkit.core.actions import (
    Action,
    Cancel,
    CancelAll,
    Modify,
    Place,
    QueryOrder,
    SyncState,
)
from mmkit.core.entry_points import entry_for
from mmkit.core.events import (
    BBO,
    ActionResult,
    BookDelta,
    BookSnapshot,
    Event,
    OpenOrder,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
    TradeBatch,
)
from mmkit.core.outcomes import RejectReason
from mmkit.core.portfolio import Portfolio
from mmkit.core.resting import best_resting
from mmkit.core.types import NS_PER_MS, Instrument, Side
from mmkit.errors import DataError, VenueError
from mmkit.registry import BuildContext
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim._kernels_book import (
    best_ask_px,
    best_bid_px,
    check_prices,
    off_grid,
    top_levels,
)
from mmkit.venues.sim._kernels_latency import feed_time
from mmkit.venues.sim._kernels_orders import enqueue, process_pending
from mmkit.venues.sim._kernels_replay import advance, record_margin
from mmkit.venues.sim._kernels_snapshot import apply_snapshot_side
from mmkit.venues.sim._kernels_venue import account_fill, venue_cancel, venue_fill
from mmkit.venues.sim.arrays import MarketArrays
from mmkit.venues.sim.convert import widen_grid
from mmkit.venues.sim.messages import (
    OUTCOMES,
    REASONS,
    STATUSES,
    TIFS,
    modify_place_message,
    reject_message,
)
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.replay import drain as drain_records
from mmkit.venues.sim.state import (
    MAX_FIT_TICKS,
    MatchConfig,
    SimState,
    grid_around,
    new_state,
)

#: the most book-grid columns the venue sizes its book to (a backtest's whole market, or a
#: market fed event by event that travels beyond its grid); beyond, the rows outside the
#: grid are counted (:attr:`SimVenue.off_grid_rows`) and ignored
AUTO_GRID_MAX = MAX_FIT_TICKS
#: ticks of margin beyond the prices a grid is widened to cover
FIT_MARGIN_TICKS = 1024
#: what a run's summary says of market rows off the grid (:attr:`SimVenue.off_grid_rows`)
OFF_GRID_SAID = "market rows ignored: off the simulated exchange's price grid"
#: why market rows fall off the grid, and what to change
OFF_GRID_WHY = (
    "the market's prices span more book columns than the simulated exchange's grid may "
    f"have ({AUTO_GRID_MAX:,}), or are not positive, so the levels and trades beyond it "
    "are not in the book: set venues.sim.tick coarser, or drop the stray prices from the data"
)

_QUEUE = {
    "power": lay.Q_POWER,
    "log": lay.Q_LOG,
    "risk_averse": lay.Q_RISK_AVERSE,
    "front": lay.Q_FRONT,
}
_LATENCY = {
    "constant": lay.LAT_CONSTANT,
    "exponential": lay.LAT_EXPONENTIAL,
    "lognormal": lay.LAT_LOGNORMAL,
}
_NO_REF = np.full(1, -1, dtype=np.int64)
#: an ended order's status -> the venue's raw status word (``orderStatus`` answers)
_RAW: dict[OrderStatus, str] = dict(STATUSES.values())


def match_config(p: SimParams, instrument: Instrument, seed: int) -> MatchConfig:
    """Kernel configuration from venue parameters and the instrument."""
    return MatchConfig(
        tick=p.tick if p.tick > 0 else instrument.tick,
        maker_fee=p.maker_fee,
        taker_fee=p.taker_fee,
        entry_latency_ns=round(p.entry_latency_ms * NS_PER_MS),
        response_latency_ns=round(p.response_latency_ms * NS_PER_MS),
        feed_latency_ns=round(p.feed_latency_ms * NS_PER_MS),
        latency_model=_LATENCY[p.latency_model],
        latency_jitter=p.latency_jitter,
        queue_model=_QUEUE[p.queue_model],
        queue_power=p.queue_power,
        min_notional=instrument.min_notional if p.enforce_min_notional else 0.0,
        lot=instrument.lot if p.enforce_lot else 0.0,
        max_orders=p.max_orders,
        seed=(p.seed if p.seed >= 0 else seed),
        first_oid=p.first_oid,
    )


@dataclass
class _Order:
    oid: int
    cloid: str | None
    side: Side
    px: float
    sz: float
    orig_sz: float
    ts: int


class SimVenue:
    """The simulated exchange as a synchronous venue (backtest and paper trading)."""

    def __init__(
        self, params: SimParams | None = None, instrument: Instrument | None = None, seed: int = 0
    ) -> None:
        self.params = params or SimParams()
        self.instrument = instrument or Instrument()
        self.cfg = match_config(self.params, self.instrument, seed)
        self._st: SimState | None = None
        self._provisional = False
        self._have_depth = False
        self._cids: dict[str, int] = {}
        self._cloids: list[str] = []
        self._echo: dict[int, SyncState | QueryOrder] = {}
        self._open: dict[int, _Order] = {}
        self._final: dict[int, OrderStatus] = {}
        self._final_cloid: dict[str, int] = {}
        self._final_info: dict[int, _Order] = {}
        self._portfolio = Portfolio()
        self._out: deque[Event] = deque()
        self._one_ts = np.zeros(1, dtype=np.int64)  # reused buffers for single events
        self._one_kind = np.zeros(1, dtype=np.int8)
        self._margin = 0
        #: market rows (trades, levels) that fell outside the book's grid, ignored
        #: (:meth:`_fit_grid`, :meth:`_cover`; 0 unless the market spans more than
        #: AUTO_GRID_MAX columns or holds a price on no positive tick)
        self.off_grid_rows = 0
        #: times the grid of a market fed event by event was widened (:meth:`_cover`)
        self.grid_widenings = 0
        # compiled entry points of the per-step kernels (mmkit.core.entry_points), bound on
        # first use: advance's to the last market's column types, top_levels'
        self._entry_market: MarketArrays | None = None
        self._advance_market: Callable[..., tuple[int, bool]] = advance
        self._top_levels: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
        self._off_grid: Callable[..., tuple[int, int, int]] | None = None
        self._check_prices: Callable[..., tuple[int, int]] | None = None
        # the ticks whose +- half price_range the grid covers (:meth:`_set_state`); none yet
        self._ok_lo, self._ok_hi = 1, 0

    # -- the Venue protocol ----------------------------------------------------------------
    def on_market(self, event: Event, now_ns: int) -> None:
        if isinstance(event, TradeBatch):  # the exchange matches trades one at a time
            for tr, t in event.trades():
                self.on_market(tr, t)
            return
        if isinstance(event, Trade):
            px1 = np.array([event.px])
            off = self._check_px(px1, "trade")
            st = self._state(event.px)
            if off:
                st = self._cover(st, px1)
            self._advance(
                st,
                lay.EV_TRADE,
                np.array([int(event.side)], np.int8),
                px1,
                np.array([event.sz]),
                event.ts,
            )
        elif isinstance(event, BookDelta):
            self._have_depth = True
            px = np.concatenate((event.bid_px, event.ask_px))
            if not px.size:
                return
            off = self._check_px(px, "book delta")
            sz = np.concatenate((event.bid_sz, event.ask_sz))
            side = np.concatenate(
                (np.ones(event.bid_px.size, np.int8), -np.ones(event.ask_px.size, np.int8))
            )
            st = self._state(float(px[0]))
            if off:
                st = self._cover(st, px)
            self._advance(st, lay.EV_DEPTH, side, px, np.where(np.isfinite(sz), sz, 0.0), event.ts)
        elif isinstance(event, BookSnapshot):
            self._have_depth = True
            self._snapshot(event.bid_px, event.bid_sz, event.ask_px, event.ask_sz, event.ts)
        elif isinstance(event, BBO) and not self._have_depth:
            ok = [math.isfinite(v) and v > 0 for v in (event.bid_px, event.ask_px)]
            self._snapshot(
                np.array([event.bid_px] if ok[0] else []),
                np.array([event.bid_sz] if ok[0] else []),
                np.array([event.ask_px] if ok[1] else []),
                np.array([event.ask_sz] if ok[1] else []),
                event.ts,
            )

    def submit(self, actions: Sequence[Action], now_ns: int) -> None:
        for a in actions:
            self._send(a, now_ns)
        if self.params.apply_on_submit and self._st is not None:
            # every action just sent is applied when it arrives (the entry channel is FIFO:
            # not before an earlier action's arrival)
            st = self._st
            self._run_pending(st, max(now_ns, int(st.si[lay.SI_LAST_ARR])))

    def drain(self, now_ns: int) -> list[Event]:
        if self._st is not None:
            self._run_pending(self._st, now_ns)
        out: list[Event] = []
        q = self._out
        while q and q[0].local_ts <= now_ns:
            out.append(q.popleft())
        return out

    # -- extras ----------------------------------------------------------------------------
    def market_local_ts(self, event: Event) -> int:
        """When a market event reaches the strategy: its own local time, else ts + feed latency."""
        if event.local_ts >= 0:
            return event.local_ts
        st = self._state(None)
        return int(feed_time(st.si, st.sf, st.rng, event.ts))

    @property
    def position(self) -> float:
        return float(self._st.sf[lay.SF_POSITION]) if self._st is not None else 0.0

    @property
    def cash(self) -> float:
        return float(self._st.sf[lay.SF_CASH]) if self._st is not None else 0.0

    @property
    def fees(self) -> float:
        return float(self._st.sf[lay.SF_FEES]) if self._st is not None else 0.0

    @property
    def best_bid(self) -> float:
        return float(best_bid_px(self._st.si, self._st.sf)) if self._st is not None else math.nan

    @property
    def best_ask(self) -> float:
        return float(best_ask_px(self._st.si, self._st.sf)) if self._st is not None else math.nan

    def open_orders(self) -> tuple[OpenOrder, ...]:
        """Resting orders as the venue's records have reported them so far."""
        return tuple(
            OpenOrder(o.oid, o.cloid, o.side, o.px, o.sz, o.orig_sz, o.ts)
            for o in self._open.values()
        )

    def resting_best(self) -> tuple[float, float]:
        """Our best bid and ask among :meth:`open_orders` (NaN for a side with none), read
        from the records without building the orders (a backtest samples it every step)."""
        return best_resting(self._open.values())

    def run_market(self, market: MarketArrays, i: int, t_end: int) -> int:
        """Apply columnar market events ``i..`` stamped ``<= t_end`` in one kernel call.

        For backtests that drive the engine only at requote times: the market runs through
        the kernels in bulk, the engine sees :meth:`book_snapshot` and the drained events.
        Returns the index of the first event not applied.
        """
        if i >= len(market):
            return i
        if i == 0:
            market.check_tick(self.cfg.tick)
            if self._st is None or self._provisional:
                self._fit_grid(market)
        st = self._state(float(market.px[i]))
        run = self._advance_market if market is self._entry_market else self._bind(st, market)
        if type(i) is not int or type(t_end) is not int:
            run = advance  # the dispatcher types what it gets
        while True:
            i, done = run(
                st, market.ts, market.kind, market.side, market.px, market.sz, market.ref, i, t_end
            )
            self._collect(st)
            if done:
                return int(i)

    def _bind(self, st: SimState, market: MarketArrays) -> Callable[..., tuple[int, bool]]:
        """``advance``'s entry point for the types of ``market``'s columns (numba types them
        once here; the columns of a market object stay the same arrays)."""
        cols = (market.ts, market.kind, market.side, market.px, market.sz, market.ref)
        self._entry_market = market
        self._advance_market = entry_for(advance, st, *cols, 0, 0)
        return self._advance_market

    def book_snapshot(self, ts: int, depth: int = 20) -> BookSnapshot:
        """The simulated book's best ``depth`` levels per side, as a core event."""
        st = self._state(None)
        top = self._top_levels
        if top is None:  # the state's arrays always have the same types (new_state)
            top = self._top_levels = entry_for(top_levels, st.grid, st.si, st.sf, 0, 0)
        depth = operator.index(depth)
        bp, bs = top(st.grid, st.si, st.sf, 0, depth)
        ap, as_ = top(st.grid, st.si, st.sf, 1, depth)
        return BookSnapshot(ts, bp, bs, ap, as_, local_ts=ts, stream="sim")

    @property
    def state(self) -> SimState | None:
        """The kernels' state arrays (None before the first event or action); read-only use."""
        return self._st

    def queue_ahead(self, oid: int) -> float:
        """Market size ahead of a resting order (NaN when the order is not resting)."""
        st = self._st
        if st is None:
            return math.nan
        for k in range(int(st.si[lay.SI_NORD])):
            if st.oi[k, lay.OI_OID] == oid:
                return float(st.of[k, lay.OF_AHEAD])
        return math.nan

    @property
    def entry_px(self) -> float:
        """Average entry price of the current position (0 when flat), from our fills."""
        return float(self._portfolio.avg_entry)

    @property
    def volume(self) -> float:
        """Traded notional so far (USD)."""
        return float(self._st.sf[lay.SF_VOLUME]) if self._st is not None else 0.0

    # -- the venue-side event API ------------------------------------------------------------
    # What the venue does to the account by itself (its own cancels, fills the replayed data
    # do not show, position changes from orders we never placed). Backtest and paper never
    # call these; the audit harness injects them as faults. Each is applied at exchange time
    # ``max(now_ns, the exchange clock)`` and reported like any other change (records ->
    # events, with the response latency), so :meth:`drain` / :meth:`take_events` return them.

    def take_events(self) -> list[Event]:
        """Every event produced so far, whatever its local time (for a wrapper that delivers
        them itself, e.g. with injected delays); :meth:`drain` returns nothing of them after."""
        out = list(self._out)
        self._out.clear()
        return out

    def resting(self, oid: int | None = None, cloid: str | None = None) -> OpenOrder | None:
        """The resting order ``oid`` (or, without one, the resting order of ``cloid``)."""
        key = oid if oid is not None else self._oid_of_cloid(cloid)
        o = self._open.get(key) if key is not None else None
        return None if o is None else OpenOrder(o.oid, o.cloid, o.side, o.px, o.sz, o.orig_sz, o.ts)

    def venue_fill(
        self, now_ns: int, oid: int | None = None, cloid: str | None = None, sz: float | None = None
    ) -> float:
        """Fill the resting order ``oid`` (or ``cloid``'s) at its own price, as maker: all of
        it, or ``sz`` contracts when smaller. Returns the size filled (0: nothing rests)."""
        st, o, c = self._target(oid, cloid)
        if st is None:
            return 0.0
        q = float(venue_fill(st, o, c, -1.0 if sz is None else float(sz), now_ns))
        self._collect(st)
        return q

    def venue_cancel(
        self,
        now_ns: int,
        oid: int | None = None,
        cloid: str | None = None,
        *,
        by_venue: bool = True,
        request_id: int = -1,
    ) -> bool:
        """End the resting order ``oid`` (or ``cloid``'s): ``OTHER_CANCELED`` when the venue
        cancels it by itself (margin, reduce-only, scheduled), ``CANCELED`` otherwise (the
        cancel leg of a modify; ``request_id`` is then that action's). False: nothing rests."""
        st, o, c = self._target(oid, cloid)
        if st is None:
            return False
        status = lay.ST_OTHER_CANCELED if by_venue else lay.ST_CANCELED
        ok = bool(venue_cancel(st, o, c, now_ns, status, request_id))
        self._collect(st)
        return ok

    def account_fill(
        self, side: Side, sz: float, px: float, now_ns: int, *, taker: bool = True
    ) -> int:
        """A fill of ``sz`` contracts at ``px`` of an order we never placed (another session,
        a liquidation): position, cash and fees move (taker fee unless ``taker`` is False).
        Returns the fresh oid the venue gave it."""
        if not (math.isfinite(sz) and sz > 0 and math.isfinite(px) and px > 0):
            raise VenueError(f"sim venue: account fill of {sz!r} at {px!r} is not a trade")
        st = self._state(px)
        oid = int(account_fill(st, int(side), float(px), float(sz), now_ns, taker))
        self._collect(st)
        return oid

    def _target(self, oid: int | None, cloid: str | None) -> tuple[SimState | None, int, int]:
        """(state, kernel oid, kernel client id) of an order reference; state None when no
        order can rest yet."""
        if self._st is None or (oid is None and (cloid is None or cloid not in self._cids)):
            return None, -1, -1
        if oid is not None:
            return self._st, int(oid), -1
        return self._st, -1, self._cids[cloid or ""]

    # -- state -----------------------------------------------------------------------------
    def _fit_grid(self, market: MarketArrays) -> None:
        """Size the book's grid to a whole market known in advance (a backtest's): the
        first price's grid (``price_range`` around it, as for a market fed event by event)
        widened to the market's lowest and highest prices and half ``price_range`` beyond
        them (where our orders may go, as for a fed market; or, when that is too wide, a
        margin of :data:`FIT_MARGIN_TICKS`), so that a market that travels further than
        ``price_range`` keeps its book (the first price's grid alone ignored every level
        beyond) and our orders near its extremes are not refused as too far. A market whose
        span needs more than :data:`AUTO_GRID_MAX` columns (a stray price far off, a very
        fine tick) keeps the first price's grid; its rows outside are counted
        (:attr:`off_grid_rows`) for the run's report."""
        px = market.px
        valid = (px > 0.0) & (px < math.inf)  # NaN fails both
        lo_px = float(np.min(px, initial=math.inf, where=valid))
        hi_px = float(np.max(px, initial=-math.inf, where=valid))
        first = float(px[0])
        tick = self.cfg.tick
        base, n = grid_around(
            first if 0.0 < first < math.inf else lo_px, tick, self.params.price_range
        )
        if lo_px <= hi_px:
            h = min(0.5 * self.params.price_range, 1.0)
            lo_t, hi_t = math.floor(lo_px / tick), math.ceil(hi_px / tick)
            for lo, hi in (  # the prices +- half price_range (where our orders may go), as
                # a fed market's grid holds them (_set_state); else the prices +- a margin
                (math.floor(lo_t * (1.0 - h)), math.ceil(hi_t * (1.0 + h))),
                (lo_t - FIT_MARGIN_TICKS, hi_t + FIT_MARGIN_TICKS),
            ):
                lo, hi = min(base, max(1, lo)), max(base + n - 1, hi)
                if hi - lo + 1 <= AUTO_GRID_MAX:
                    self._regrid(lo, hi - lo + 1, False)
                    return
        st = self._regrid(base, n, False)
        base, n = int(st.si[lay.SI_BASE]), int(st.si[lay.SI_NT])
        cols = np.floor(px / tick + 0.5) - base
        self.off_grid_rows = int(np.count_nonzero(valid & ((cols < 0) | (cols >= n))))

    def _set_state(self, st: SimState) -> None:
        """Make ``st`` the exchange's state and note the ticks whose +- half ``price_range``
        its grid covers: a market price outside them widens a fed market's grid to that
        price +- ``price_range`` (:meth:`_cover`), so that the grid always holds our orders
        up to half ``price_range`` from the market, and widens only after the market has
        moved some way (not at every new high)."""
        self._st = st
        base, nt = int(st.si[lay.SI_BASE]), int(st.si[lay.SI_NT])
        h = 0.5 * self.params.price_range
        self._ok_lo = 0 if base <= 1 or h >= 1.0 else math.ceil(base / (1.0 - h))
        self._ok_hi = math.floor((base + nt - 1) / (1.0 + h))

    def _cover(self, st: SimState, px: np.ndarray) -> SimState:
        """The state whose grid holds the prices ``px`` of a market event fed one by one
        (paper trading, an event-cadence backtest, the emulator) and half ``price_range``
        around each (where our orders may go): widened when it does not (:meth:`_widen`, to
        the price +- ``price_range``); the rows still outside the grid counted in
        :attr:`off_grid_rows` (a price it cannot reach, or on no positive tick). The grid of
        a fed market starts as the first price +- ``price_range``; without this, a market
        that travelled beyond it lost its book there (levels and trades ignored, quietly),
        and near its edge our orders a few ticks beyond were refused as too far from the
        market."""
        span = self._off_grid
        if span is None:
            span = self._off_grid = entry_for(off_grid, px, 1.0, 0, 0)
        inv = st.sf[lay.SF_INV_TICK]
        lo_ok, hi_ok = self._ok_lo, self._ok_hi
        n_off, lo_t, hi_t = span(px, inv, lo_ok, hi_ok - lo_ok + 1)
        if n_off and lo_t <= hi_t:
            wide = self._widen(st, int(lo_t), int(hi_t))
            if wide is not None:
                st = wide
        si = st.si
        self.off_grid_rows += int(span(px, inv, si[lay.SI_BASE], si[lay.SI_NT])[0])
        return st

    def _widen(self, st: SimState, lo_t: int, hi_t: int) -> SimState | None:
        """``st`` on a grid that also covers ticks ``lo_t .. hi_t`` and ``price_range``
        around them, its book, best levels and resting orders carried over at their prices
        (as a fresh grid around the new extreme would be, so that a market drifting on widens
        it a few times, not at every tick); when that exceeds :data:`AUTO_GRID_MAX` columns,
        the ticks themselves and a margin; None when that too exceeds it, or adds nothing."""
        si = st.si
        base, n = int(si[lay.SI_BASE]), int(si[lay.SI_NT])
        top = base + n - 1
        r = self.params.price_range
        lo = min(base, math.floor(lo_t * (1.0 - r)), lo_t - FIT_MARGIN_TICKS)
        hi = max(top, math.ceil(hi_t * (1.0 + r)), hi_t + FIT_MARGIN_TICKS)
        lo = max(lo, 1) if lo_t < self._ok_lo else base
        hi = hi if hi_t > self._ok_hi else top
        if hi - lo + 1 > AUTO_GRID_MAX:  # the least that covers them
            lo = max(1, lo_t - FIT_MARGIN_TICKS) if lo_t < base else base
            hi = hi_t + FIT_MARGIN_TICKS if hi_t > top else top
            if hi - lo + 1 > AUTO_GRID_MAX:
                return None
        if lo == base and hi == top:  # already as wide as it may grow
            return None
        off = base - lo
        grid = widen_grid(st.grid, si, lo, hi - lo + 1)  # moves si's base, width, bests
        nord = int(si[lay.SI_NORD])
        if off and nord:
            st.oi[:nord, lay.OI_PXI] += off
        wide = st._replace(grid=grid)
        self._set_state(wide)
        self.grid_widenings += 1
        return wide

    def _regrid(self, base: int, n: int, provisional: bool) -> SimState:
        """A new exchange over ticks ``base .. base + n - 1``, carrying over a provisional
        state's account; the provisional state itself once orders rest on its grid."""
        st = self._st
        if st is not None and int(st.si[lay.SI_NORD]) > 0:
            return st
        fresh = new_state(self.cfg, base, n)
        if st is not None:  # provisional grid from a priceless start: keep everything else
            keep = [
                c
                for c in range(lay.SI_SIZE)
                if c not in (lay.SI_BASE, lay.SI_NT, lay.SI_BB, lay.SI_BA)
            ]
            fresh.si[keep] = st.si[keep]
            fresh.sf[:] = st.sf
            fresh.ai[:] = st.ai
            fresh.af[:] = st.af
            fresh.ri[:] = st.ri
            fresh.rf[:] = st.rf
            fresh.rng[:] = st.rng
        self._set_state(fresh)
        self._margin = int(record_margin(fresh))
        self._provisional = provisional
        return fresh

    def _state(self, price: float | None) -> SimState:
        st = self._st
        if st is not None and not (self._provisional and price is not None):
            return st
        p = price if price is not None else 1.0
        base, n = grid_around(p, self.cfg.tick, self.params.price_range)
        return self._regrid(base, n, price is None)

    def _check_px(self, px: np.ndarray, what: str) -> bool:
        """Raise a :class:`DataError` when a price is not on the tick; whether a price is not
        half ``price_range`` inside the book's grid (or there is no book yet; :meth:`_cover`)."""
        chk = self._check_prices
        if chk is None:
            chk = self._check_prices = entry_for(check_prices, px, 1.0, 0, 0)
        i, n_off = chk(px, 1.0 / self.cfg.tick, self._ok_lo, self._ok_hi)
        if i >= 0:
            raise DataError(
                f"sim venue: {what} price {float(px[i])!r} is not a multiple of the "
                f"tick {self.cfg.tick!r} (set venues.sim.tick to the data's tick)"
            )
        return n_off > 0

    def _advance(
        self, st: SimState, kind: int, side: np.ndarray, px: np.ndarray, sz: np.ndarray, ts: int
    ) -> None:
        n = px.shape[0]
        if n == 1:
            tsa = self._one_ts
            tsa[0] = ts
            kinds = self._one_kind
            kinds[0] = kind
            ref = _NO_REF
        else:
            tsa = np.full(n, ts, dtype=np.int64)
            kinds = np.full(n, kind, dtype=np.int8)
            ref = np.full(n, -1, dtype=np.int64)
        i = 0
        while True:
            i, done = advance(st, tsa, kinds, side, px, sz, ref, i, ts)
            self._collect(st)
            if done and i >= n:
                return

    def _snapshot(
        self,
        bid_px: np.ndarray,
        bid_sz: np.ndarray,
        ask_px: np.ndarray,
        ask_sz: np.ndarray,
        ts: int,
    ) -> None:
        px = np.concatenate((bid_px, ask_px))
        off = px.size and self._check_px(px, "book snapshot")
        st = self._state(float(px[0]) if px.size else None)
        if off:
            st = self._cover(st, px)
        self._run_pending(st, ts)
        for row, p, s in ((0, bid_px, bid_sz), (1, ask_px, ask_sz)):
            szs = np.where(np.isfinite(s), s, 0.0).astype(np.float64)
            apply_snapshot_side(st, row, np.ascontiguousarray(p, dtype=np.float64), szs, ts)
            self._collect(st)

    def _run_pending(self, st: SimState, t: int) -> None:
        if not st.si[lay.SI_ACOUNT]:
            return
        while not process_pending(st, t, self._margin):
            self._collect(st)
        self._collect(st)

    def _cid(self, cloid: str | None) -> int:
        if cloid is None:
            return -1
        c = self._cids.get(cloid)
        if c is None:
            c = len(self._cloids)
            self._cids[cloid] = c
            self._cloids.append(cloid)
        return c

    def _send(self, a: Action, now: int) -> None:
        if isinstance(a, Place | Modify):
            st = self._state(a.px if math.isfinite(a.px) and a.px > 0 else None)
            px, sz = float(a.px), float(a.sz)
            if isinstance(a, Place):
                ok = enqueue(
                    st,
                    lay.A_PLACE,
                    now,
                    a.request_id,
                    -1,
                    self._cid(a.cloid),
                    int(a.side),
                    TIFS[a.tif],
                    a.reduce_only,
                    px,
                    sz,
                )
            else:
                ok = enqueue(
                    st,
                    lay.A_MODIFY,
                    now,
                    a.request_id,
                    -1 if a.oid is None else a.oid,
                    self._cid(a.cloid),
                    int(a.side),
                    TIFS[a.tif],
                    a.reduce_only,
                    px,
                    sz,
                )
        else:
            st = self._state(None)
            if isinstance(a, Cancel):
                ok = enqueue(
                    st,
                    lay.A_CANCEL,
                    now,
                    a.request_id,
                    -1 if a.oid is None else a.oid,
                    self._cid(a.cloid),
                    0,
                    0,
                    False,
                    0.0,
                    0.0,
                )
            elif isinstance(a, CancelAll):
                ok = enqueue(st, lay.A_CANCEL_ALL, now, a.request_id, -1, -1, 0, 0, False, 0.0, 0.0)
            elif isinstance(a, SyncState | QueryOrder):
                self._echo[a.request_id] = a
                ok = enqueue(st, lay.A_ECHO, now, a.request_id, -1, -1, 0, 0, False, 0.0, 0.0)
            else:
                raise VenueError(f"sim venue: unsupported action {type(a).__name__}")
        if not ok:
            raise VenueError("sim venue: too many actions in flight (pending queue full)")

    # -- records -> events -------------------------------------------------------------------
    def _collect(self, st: SimState) -> None:
        if not st.si[lay.SI_NREC]:
            return
        ri, rf = drain_records(st)
        for r in range(ri.shape[0]):
            self._out.append(self._event(ri[r].tolist(), rf[r].tolist()))

    def _cloid(self, cid: int) -> str | None:
        return self._cloids[cid] if 0 <= cid < len(self._cloids) else None

    def _event(self, ri: list[int], rf: list[float]) -> Event:
        typ = ri[lay.RI_TYPE]
        ets, lts, oid = ri[lay.RI_ETS], ri[lay.RI_LTS], ri[lay.RI_OID]
        cloid = self._cloid(ri[lay.RI_CID])
        if typ == lay.REC_FILL:
            side = Side(ri[lay.RI_SIDE])
            fill = OwnFill(
                ets,
                oid,
                cloid,
                side,
                rf[lay.RF_PX],
                rf[lay.RF_SZ],
                rf[lay.RF_FEE],
                tid=ri[lay.RI_CODE],
                crossed=ri[lay.RI_SUB] == 1,
                local_ts=lts,
            )
            self._portfolio.apply_fill(fill)
            o = self._open.get(oid)
            if o is not None:
                o.sz = rf[lay.RF_SZ2]
            return fill
        if typ == lay.REC_ORDER:
            status, raw = STATUSES[ri[lay.RI_CODE]]
            side = Side(ri[lay.RI_SIDE])
            if status is OrderStatus.OPEN:
                self._open[oid] = _Order(
                    oid, cloid, side, rf[lay.RF_PX], rf[lay.RF_SZ], rf[lay.RF_SZ2], ets
                )
            else:
                done = self._open.pop(oid, None)
                self._final[oid] = status
                self._final_info[oid] = done or _Order(
                    oid, cloid, side, rf[lay.RF_PX], rf[lay.RF_SZ], rf[lay.RF_SZ2], ets
                )
                if cloid is not None:
                    self._final_cloid[cloid] = oid
            return OrderUpdate(
                ets,
                oid,
                cloid,
                status,
                side,
                rf[lay.RF_PX],
                rf[lay.RF_SZ],
                rf[lay.RF_SZ2],
                local_ts=lts,
                raw_status=raw,
            )
        if typ == lay.REC_RESULT:
            return self._result(ri, rf, cloid)
        return self._answer(ri, rf)

    def _result(self, ri: list[int], rf: list[float], cloid: str | None) -> ActionResult:
        code = ri[lay.RI_REASON]
        reason = REASONS[code]
        msg = ""
        if code == lay.R_MODIFY_GONE:
            target = (
                ri[lay.RI_OID] if ri[lay.RI_OID] >= 0 else self._final_cloid.get(cloid or "", -1)
            )
            if self._final.get(target) is OrderStatus.FILLED:
                reason = RejectReason.MODIFY_TARGET_FILLED
            msg = self._message(code, rf)
        elif code == lay.R_MODIFY_PLACE_FAILED:
            msg = modify_place_message(self._message(ri[lay.RI_SUB], rf))
        elif code != lay.R_NONE:
            msg = self._message(code, rf)
        oid = ri[lay.RI_OID]
        return ActionResult(
            ri[lay.RI_ETS],
            ri[lay.RI_REQ],
            cloid,
            oid if oid >= 0 else None,
            OUTCOMES[ri[lay.RI_CODE]],
            reason,
            msg,
            filled_sz=rf[lay.RF_SZ],
            avg_px=rf[lay.RF_PX],
            local_ts=ri[lay.RI_LTS],
        )

    def _message(self, code: int, rf: list[float]) -> str:
        return reject_message(
            code,
            asset=self.instrument.asset,
            bid=rf[lay.RF_BID],
            ask=rf[lay.RF_ASK],
            min_notional=self.instrument.min_notional,
            max_orders=self.cfg.max_orders,
        )

    def _answer(self, ri: list[int], rf: list[float]) -> Event:
        ets, lts, req = ri[lay.RI_ETS], ri[lay.RI_LTS], ri[lay.RI_REQ]
        a = self._echo.pop(req)
        if isinstance(a, SyncState):
            orders = self.open_orders() if a.orders else None
            return PositionSnapshot(
                ets, rf[lay.RF_FEE], self._portfolio.avg_entry, orders, local_ts=lts
            )
        oid = a.oid if a.oid is not None else self._oid_of_cloid(a.cloid)
        o = self._open.get(oid) if oid is not None else None
        if o is not None:
            return OrderUpdate(
                ets,
                o.oid,
                o.cloid,
                OrderStatus.OPEN,
                o.side,
                o.px,
                o.sz,
                o.orig_sz,
                local_ts=lts,
                raw_status="open",
            )
        status = self._final.get(oid) if oid is not None else None
        info = self._final_info.get(oid) if oid is not None else None
        if status is None or info is None or oid is None:
            return OrderUpdate(
                ets,
                oid if oid is not None else -1,
                a.cloid,
                OrderStatus.REJECTED,
                Side.BUY,
                0.0,
                0.0,
                0.0,
                local_ts=lts,
                raw_status="unknownOid",
            )
        raw = _RAW[status]
        return OrderUpdate(
            ets,
            oid,
            info.cloid,
            status,
            info.side,
            info.px,
            info.sz,
            info.orig_sz,
            local_ts=lts,
            raw_status=raw,
        )

    def _oid_of_cloid(self, cloid: str | None) -> int | None:
        if cloid is None:
            return None
        for o in self._open.values():
            if o.cloid == cloid:
                return o.oid
        return self._final_cloid.get(cloid)


def build(ctx: BuildContext[SimParams]) -> SimVenue:
    """Factory registered as venue ``sim``."""
    return SimVenue(ctx.params, ctx.instrument, ctx.seed)


__all__ = ["SimVenue", "build", "match_config"]
