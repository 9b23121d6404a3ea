"""The audit's and tests' fake Hyperliquid venue: fault injection over the simulated exchange.

:class:`FakeVenue` implements the :class:`~mmkit.components.Venue` protocol (``on_market``,
``submit``, ``drain``). It has no matcher of its own: the book, the matching, the fills, the
order ids, the position and every venue string come from the simulated exchange,
:class:`mmkit.venues.sim.venue.SimVenue` (its numba kernels, the same ones backtests use),
configured as the harness needs it:

* entry latency 0 and ``apply_on_submit``: an action is applied when it is **submitted**,
  in submission order; its news (``ActionResult``, ``OrderUpdate``, ``OwnFill``,
  ``PositionSnapshot``) arrives ``latency_ns`` later (the simulator's response latency),
  and :meth:`FakeVenue.drain` returns the due events in time order;
* a ``PositionSnapshot`` at venue time T holds every fill dated <= T: whatever happens after
  it (a trade, a venue-side fill, the next action) is applied from T + 1 ns on the harness
  clock, never at T;
* queue model ``front``: our order stands first at its level, so a market trade at our
  price fills us up to the trade's size, and the book moving through our price fills us;
* order ids from 1001; the price grid is the instrument's finest valid price step
  (``10 ** -px_decimals``) over ±90 % of the first price; the open-order cap is 1000;
  the instrument's minimum value and lot are enforced; maker fee ``maker_fee``, taker fee
  ``taker_fee``;
* the venue's rules are the simulator's (see ``docs/venues.md``): post-only refusal, a
  crossing GTC/IOC takes the book's depth up to its limit (taker fee), an IOC that matches
  nothing is refused, a modify is cancel-and-replace with a new oid and a post-only new leg,
  reduce-only orders never grow the position. A refused modify whose target is gone is
  ``MODIFY_TARGET_CANCELED`` whether it was cancelled or filled: the venue's one string,
  classified by the one catalogue (:func:`~mmkit.venues.hyperliquid.errors.reason_of`).

What this module adds is what the simulator does not model: **faults** and **inspection**.

* IP weight (§6 weights) over a rolling minute, charged per request as the venue client
  makes them of one submission (its batches of cancels, modifies and places:
  :func:`~mmkit.execution.rate_limit.requests_of`): a request above ``ip_limit`` gets HTTP
  429 (``REJECTED``/``RATE_LIMITED_IP`` for each of its actions) and is not applied;
  :attr:`FakeVenue.ip_peak` is the highest rolling weight of accepted requests.
* Fault knobs (deterministic; ``seed`` drives the reordering). Each is an entry of the one
  fault catalogue, :data:`mmkit.venues.faults.FAULTS`, shared with the loopback emulator,
  which also validates the knobs' arguments and holds the texts (429, timeout, connection
  lost):

  ``reject_next(n, reason)``
      the next n PLACE/MODIFY are refused with ``reason`` (a MODIFY's replacement fails:
      original gone); ``reject_side(side, on)`` refuses every PLACE/MODIFY on a side.
  ``fail_next_modify(kind)``
      ``"target_filled"`` (the target fills just before the modify), ``"target_canceled"``
      (the venue cancels it first) or ``"place_failed"`` (cancel leg done, replacement
      refused).
  ``lose_next_acks(n, applied=True)``
      the next n requests are answered ``UNKNOWN`` (applied or not).
  ``drop_next_acks(n)``
      the next n order actions are applied but never answered at all.
  ``delay_next_acks(n, extra_ns)`` / ``reorder``
      delay answers; when ``reorder`` is true every drained batch is shuffled.
  ``rate_limit_next(n, retry_after_s=None)``
      the next n requests get HTTP 429 (with ``Retry-After`` in the message when given).
  ``maintenance_post_only(on=True)``
      every non-ALO PLACE/MODIFY is refused (the emulator's ``post_only`` maintenance).
  ``disconnect()`` / ``reconnect()``
      while disconnected requests are not applied and answered ``UNKNOWN``; fills and order
      updates still happen on the venue but their events are lost.
  ``drop_pending()``
      lose every undelivered event (a restart of our side).
  ``fill_order(oid=..., cloid=..., sz=None)``, ``cancel_order_externally(oid)``,
  ``external_fill(side, sz, px, emit=True, liquidation=False)``
      venue-side fills, cancels and position changes (liquidation: ``emit=False``), applied
      through the simulator's venue-side event API.

* Inspection: ``open_orders()`` (the exchange's state, not what has been reported),
  ``resting_size(side)``, ``exposure(side)``, ``take_exposure_peak(side)``,
  ``filled_by_cloid``, ``history`` (every order incarnation by oid), ``ip_peak``,
  ``ip_rejections``, ``submitted`` (every ``(now_ns, action)``), ``position``, ``pending``.

Every event leaves through :meth:`FakeVenue._emit` (subclasses hook it, e.g. a lagging user
stream); an event's delivery time is its ``local_ts`` (exchange time + ``latency_ns``) plus
any injected delay.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from mmkit.core.actions import Action, Modify, Place, QueryOrder, SyncState
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
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_MS, Instrument, Side, Tif
from mmkit.execution.rate_limit import WINDOW_NS, requests_of
from mmkit.rounding import price_step
from mmkit.venues import faults
from mmkit.venues.hyperliquid.errors import fmt_amount, reason_of, venue_message
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.state import SimState
from mmkit.venues.sim.venue import SimVenue

#: raw status of an order the venue does not know (``orderStatus`` reply)
UNKNOWN_OID = "unknownOid"
#: the first order id the harness venue hands out (then +1 per order, as the venue counts)
FIRST_OID = 1001
#: Hyperliquid's default open-order cap per account
MAX_OPEN_ORDERS = 1000
#: the harness book's grid covers the first price * (1 +- this)
PRICE_RANGE = 0.9
#: columns of the harness grid beyond which its tick is coarsened (:func:`grid_tick`): a
#: grid of tens of millions of columns costs gigabytes and seconds of page faults
LARGE_GRID = 4_000_000

#: reason of a ``reject_next`` knob -> the catalogue key of the venue's string for it
_REASON_KEYS: dict[RejectReason, str] = {
    RejectReason.INSUFFICIENT_MARGIN: "margin",
    RejectReason.MIN_NOTIONAL: "min_notional",
    RejectReason.INVALID_PRICE: "invalid_price",
    RejectReason.INVALID_SIZE: "invalid_size",
    RejectReason.REDUCE_ONLY: "reduce_only",
}


def reason_from_message(message: str) -> RejectReason:
    """Classify a Hyperliquid error string: the one catalogue's
    :func:`~mmkit.venues.hyperliquid.errors.reason_of` (kept under this name for tests)."""
    return reason_of(message)


def _divides(step: float, x: float) -> bool:
    q = x / step
    return abs(q - round(q)) <= 1e-9 * max(1.0, abs(q))


def grid_tick(instrument: Instrument, price: float, fine: float) -> float:
    """The tick of the harness book's grid around ``price``: ``fine`` (the finest valid step,
    ``10 ** -px_decimals``) unless its grid over ``price * (1 +- PRICE_RANGE)`` would hold
    more than :data:`LARGE_GRID` columns. Then it is the largest power of ten that still
    divides every price the harness can see: the valid order prices of the range (their
    step is coarsest at its low end: :func:`~mmkit.rounding.price_step`) and its market
    data, which sits on the instrument's tick or half-way between two ticks. BTC at 20,000
    with ``sz_decimals = 3`` (a 0.1 tick) needs 36 million columns at 0.001 and 3.6 million
    at 0.01; at 100,000 it would need 180 million, more than the simulator holds."""
    if not (math.isfinite(price) and price > 0) or 2.0 * PRICE_RANGE * price / fine <= LARGE_GRID:
        return fine
    valid = price_step(price * (1.0 - PRICE_RANGE), instrument.sz_decimals)
    e = round(math.log10(valid))  # valid steps are powers of ten
    while 10.0**e > fine:
        step = 10.0**e
        if _divides(step, valid) and _divides(step, instrument.tick / 2):
            return step
        e -= 1
    return fine


class _HarnessSim(SimVenue):
    """The simulator with the harness's grid: its tick is chosen when the first price sets
    the grid (:func:`grid_tick`), before any order rests on it."""

    def _state(self, price: float | None) -> SimState:
        st = self._st
        settles = price is not None and (
            st is None or (self._provisional and int(st.si[lay.SI_NORD]) == 0)
        )
        if settles:
            assert price is not None
            tick = grid_tick(self.instrument, price, self.params.tick)
            if tick != self.cfg.tick:
                self.cfg = replace(self.cfg, tick=tick)
        out = super()._state(price)
        if settles:  # a provisional grid's constants were copied over: the tick is the new one
            out.sf[lay.SF_TICK] = self.cfg.tick
            out.sf[lay.SF_INV_TICK] = 1.0 / self.cfg.tick
        return out


def harness_params(
    instrument: Instrument,
    latency_ns: int,
    *,
    maker_fee: float,
    taker_fee: float,
    seed: int = 0,
) -> SimParams:
    """The simulator's parameters for the harness (see the module docstring): actions
    applied at submit, answers after ``latency_ns``, we stand first at our level."""
    if not (isinstance(latency_ns, int) and 0 <= latency_ns <= 60_000 * NS_PER_MS):
        raise ValueError(f"fake venue: latency_ns {latency_ns!r} must be an int in 0..60 s")
    return SimParams(
        maker_fee=maker_fee,
        taker_fee=taker_fee,
        entry_latency_ms=0.0,
        response_latency_ms=latency_ns / NS_PER_MS,
        feed_latency_ms=0.0,
        queue_model="front",
        tick=10.0**-instrument.px_decimals,
        price_range=PRICE_RANGE,
        max_orders=MAX_OPEN_ORDERS,
        enforce_min_notional=True,
        enforce_lot=True,
        seed=seed,
        first_oid=FIRST_OID,
        apply_on_submit=True,
    )


@dataclass(slots=True)
class VenueOrder:
    """One order incarnation as the venue last reported it (``sz`` = remaining)."""

    oid: int
    cloid: str | None
    side: Side
    px: float
    sz: float  # remaining
    orig_sz: float
    ts: int
    status: OrderStatus = OrderStatus.OPEN


@dataclass
class _Knobs:
    reject: deque[RejectReason] = field(default_factory=deque)
    reject_sides: set[Side] = field(default_factory=set)
    modify_fail: deque[str] = field(default_factory=deque)
    lose: deque[bool] = field(default_factory=deque)
    delay: deque[int] = field(default_factory=deque)
    rate_limit: deque[float | None] = field(default_factory=deque)
    drop: int = 0


@dataclass(frozen=True, slots=True)
class _Answering:
    """How the answer to the action being applied is treated: delayed by ``extra_ns``,
    replaced by ``UNKNOWN`` (``lost``), or never sent (``mute``)."""

    action: Action
    extra_ns: int = 0
    lost: bool = False
    mute: bool = False


class FakeVenue:
    """See the module docstring."""

    def __init__(
        self,
        instrument: Instrument | None = None,
        *,
        latency_ns: int = NS_PER_MS,
        seed: int = 0,
        ip_limit: float = 1200.0,
        maker_fee: float = -0.00002,
        taker_fee: float = 0.00045,
    ) -> None:
        self.instrument = instrument or Instrument()
        self.latency_ns = latency_ns
        self.rng = random.Random(seed)
        self.sim = _HarnessSim(
            harness_params(
                self.instrument, latency_ns, maker_fee=maker_fee, taker_fee=taker_fee, seed=seed
            ),
            self.instrument,
            seed,
        )
        #: the touch the market data last showed (NaN: an empty side)
        self.bid = math.nan
        self.ask = math.nan
        self.ip_limit = ip_limit
        #: every order incarnation by oid, as last reported
        self.history: dict[int, VenueOrder] = {}
        self.connected = True
        self.reorder = False
        #: maintenance: only post-only (ALO) orders are accepted
        self.maintenance = False
        self.knobs = _Knobs()
        self.submitted: list[tuple[int, Action]] = []
        self.ip_peak = 0
        #: requests refused with HTTP 429 because the rolling weight was over the limit
        self.ip_rejections = 0
        #: total filled per cloid, over every incarnation (overfill checks)
        self.filled_by_cloid: dict[str, float] = {}
        #: highest worst-case exposure per side (signed position + resting) after any submit
        self.exposure_peak = {Side.BUY: 0.0, Side.SELL: 0.0}
        self._window: deque[tuple[int, int]] = deque()
        self._ip_used = 0
        #: the current submission's requests (``submit``): each action's request, each
        #: request's weight, the verdict on each decided one (None: admitted), the action
        self._request_of: list[int] = []
        self._request_weight: list[int] = []
        self._request_verdict: dict[int, str | None] = {}
        self._at = 0
        self._queue: list[tuple[int, int, Event]] = []
        self._seq = 0
        self._now = 0
        #: venue ns just after the newest snapshot: nothing later is applied before it
        self._after_snapshot = 0

    # ----------------------------------------------------------------------------------
    # knobs
    # ----------------------------------------------------------------------------------
    def reject_next(
        self, n: int = 1, reason: RejectReason = RejectReason.INSUFFICIENT_MARGIN
    ) -> None:
        self.knobs.reject.extend([reason] * faults.check_count(n, "reject_next"))

    def reject_side(self, side: Side, on: bool = True) -> None:
        if on:
            self.knobs.reject_sides.add(side)
        else:
            self.knobs.reject_sides.discard(side)

    def fail_next_modify(self, kind: str = "target_filled") -> None:
        self.knobs.modify_fail.append(faults.check_modify_failure(kind))

    def lose_next_acks(self, n: int = 1, applied: bool = True) -> None:
        self.knobs.lose.extend([applied] * faults.check_count(n, "lose_next_acks"))

    def drop_next_acks(self, n: int = 1) -> None:
        """The next n requests are applied but never answered (no result, no error)."""
        self.knobs.drop += faults.check_count(n, "drop_next_acks")

    def delay_next_acks(self, n: int, extra_ns: int) -> None:
        extra = faults.check_extra_ns(extra_ns)
        self.knobs.delay.extend([extra] * faults.check_count(n, "delay_next_acks"))

    def rate_limit_next(self, n: int = 1, retry_after_s: float | None = None) -> None:
        retry = faults.check_retry_after_s(retry_after_s)
        self.knobs.rate_limit.extend([retry] * faults.check_count(n, "rate_limit_next"))

    def maintenance_post_only(self, on: bool = True) -> None:
        """Maintenance (fault ``post_only``): every non-ALO PLACE/MODIFY is refused."""
        self.maintenance = on

    def disconnect(self) -> None:
        self.connected = False

    def reconnect(self) -> None:
        self.connected = True

    def drop_pending(self) -> None:
        self._queue.clear()

    # ----------------------------------------------------------------------------------
    # inspection
    # ----------------------------------------------------------------------------------
    @property
    def position(self) -> float:
        """The account's position on the venue (contracts, signed)."""
        return self.sim.position

    @property
    def entry_px(self) -> float:
        return self.sim.entry_px

    @property
    def volume_usd(self) -> float:
        return self.sim.volume

    def open_orders(self) -> list[OpenOrder]:
        """The orders resting on the venue now (whatever has been delivered to us)."""
        return list(self.sim.open_orders())

    def resting_size(self, side: Side) -> float:
        return sum(o.sz for o in self.sim.open_orders() if o.side is side)

    def exposure(self, side: Side) -> float:
        """Worst case of a side: signed position plus everything resting on that side."""
        return float(side) * self.position + self.resting_size(side)

    def take_exposure_peak(self, side: Side) -> float:
        """The peak since the last call (then restarts from the current exposure)."""
        peak = max(self.exposure_peak[side], self.exposure(side))
        self.exposure_peak[side] = self.exposure(side)
        return peak

    def ip_used(self, now_ns: int) -> int:
        while self._window and now_ns - self._window[0][0] >= WINDOW_NS:
            self._ip_used -= self._window.popleft()[1]
        return self._ip_used

    @property
    def pending(self) -> int:
        return len(self._queue)

    # ----------------------------------------------------------------------------------
    # the Venue protocol
    # ----------------------------------------------------------------------------------
    def on_market(self, event: Event, now_ns: int) -> None:
        """A market event, applied at ``now_ns`` (the harness's one clock)."""
        if isinstance(event, TradeBatch):
            for tr, t in event.trades():
                self.on_market(tr, t)
            return
        self._now = max(self._now, now_ns)
        if isinstance(event, BookSnapshot):
            self.bid = float(event.bid_px[0]) if event.bid_px.size else math.nan
            self.ask = float(event.ask_px[0]) if event.ask_px.size else math.nan
        elif isinstance(event, BBO):
            self.bid, self.ask = event.bid_px, event.ask_px
        elif not isinstance(event, Trade | BookDelta):
            return
        if event.ts != self._now:
            event = replace(event, ts=self._now)
        self.sim.on_market(event, self._now)
        self._route(None)

    def submit(self, actions: Sequence[Action], now_ns: int) -> None:
        self._now = max(self._now, now_ns)
        # the requests the venue client would make of these actions (its batches): each is
        # admitted or refused whole, charged once (see _ip_admit)
        self._request_of, self._request_weight = requests_of(actions)
        self._request_verdict = {}
        for i, a in enumerate(actions):
            self._at = i
            self.submitted.append((now_ns, a))
            # after a snapshot answered at ``now_ns`` the action is applied one ns later,
            # so what it fills is not dated into that snapshot
            self._one(a, max(now_ns, self._after_snapshot))
        for side in (Side.BUY, Side.SELL):
            self.exposure_peak[side] = max(self.exposure_peak[side], self.exposure(side))

    def drain(self, now_ns: int) -> list[Event]:
        self._now = max(self._now, now_ns)
        due = [e for e in self._queue if e[0] <= now_ns]
        if not due:
            return []
        self._queue = [e for e in self._queue if e[0] > now_ns]
        due.sort(key=lambda e: (e[0], e[1]))
        out = [e[2] for e in due]
        if self.reorder:
            self.rng.shuffle(out)
        return out

    # ----------------------------------------------------------------------------------
    # venue-side events
    # ----------------------------------------------------------------------------------
    def fill_order(
        self,
        oid: int | None = None,
        cloid: str | None = None,
        sz: float | None = None,
        now_ns: int | None = None,
    ) -> float:
        """Fill a resting order (partly when ``sz`` is smaller than its remaining)."""
        t = self._clock(now_ns)
        q = self.sim.venue_fill(t, oid, cloid, sz)
        self._route(None)
        return q

    def cancel_order_externally(self, oid: int, now_ns: int | None = None) -> bool:
        """The venue cancels a resting order by itself (``OTHER_CANCELED``)."""
        ok = self.sim.venue_cancel(self._clock(now_ns), oid, by_venue=True)
        self._route(None)
        return ok

    def external_fill(
        self,
        side: Side,
        sz: float,
        px: float,
        *,
        emit: bool = True,
        liquidation: bool = False,
        now_ns: int | None = None,
    ) -> None:
        """A fill of an order we never placed (a fresh oid); ``emit=False`` changes the
        position silently (a liquidation whose events were lost)."""
        self.sim.account_fill(side, sz, px, self._clock(now_ns))
        for ev in self.sim.take_events():
            if emit and isinstance(ev, OwnFill):
                self._emit(replace(ev, liquidation=liquidation), ev.ts)

    # ----------------------------------------------------------------------------------
    # internals
    # ----------------------------------------------------------------------------------
    def _clock(self, now_ns: int | None) -> int:
        if now_ns is not None:
            self._now = max(self._now, now_ns)
        return self._now

    def _emit(self, ev: Event, now_ns: int, extra_ns: int = 0, *, lossy: bool = True) -> None:
        """Queue ``ev`` (which happened at ``now_ns``) for delivery ``latency_ns`` +
        ``extra_ns`` later; a ``lossy`` event (fills, order updates) is lost while
        disconnected."""
        if lossy and not self.connected:
            return
        self._seq += 1
        self._queue.append((now_ns + self.latency_ns + extra_ns, self._seq, ev))

    def _note(self, ev: Event) -> None:
        """Keep the inspection records (order history, fills per cloid) up to date."""
        if isinstance(ev, OrderUpdate):
            self.history[ev.oid] = VenueOrder(
                ev.oid, ev.cloid, ev.side, ev.px, ev.sz, ev.orig_sz, ev.ts, ev.status
            )
        elif isinstance(ev, OwnFill):
            if ev.cloid is not None:
                self.filled_by_cloid[ev.cloid] = self.filled_by_cloid.get(ev.cloid, 0.0) + ev.sz
            o = self.history.get(ev.oid)
            if o is not None:
                o.sz = max(0.0, o.sz - ev.sz)

    def _route(self, answering: _Answering | None) -> None:
        """Deliver what the simulator produced: fills and order updates as the user stream
        (lossy), the answer to ``answering``'s action under its faults."""
        a = answering.action if answering is not None else None
        for ev in self.sim.take_events():
            if a is not None and isinstance(a, SyncState | QueryOrder):
                # the only event an echo produces is its answer
                if isinstance(ev, PositionSnapshot) and isinstance(a, SyncState):
                    ev = replace(ev, startup=a.reason == "startup")
                    # A snapshot at venue time T holds every fill with ts <= T (the
                    # contract PositionSync and PositionReconciler sequence by); the harness
                    # applies events at whole-ns times of its one clock, so a trade, fill
                    # or action later at the same ns would be dated T yet missing from the
                    # snapshot. Everything after the snapshot happens from T + 1 ns.
                    self._after_snapshot = max(self._after_snapshot, ev.ts + 1)
                    self._now = max(self._now, self._after_snapshot)
                assert answering is not None
                self._answer_event(ev, answering)
                continue
            if isinstance(ev, ActionResult) and a is not None and ev.request_id == a.request_id:
                assert answering is not None
                if ev.message:  # the venue's one string, classified by the one catalogue
                    ev = replace(ev, reason=reason_of(ev.message))
                self._answer_event(ev, answering)
                continue
            self._note(ev)
            self._emit(ev, ev.ts)

    def _answer_event(self, ev: Event, how: _Answering) -> None:
        if how.lost:
            self._result(how.action, ev.ts, Outcome.UNKNOWN, faults.TIMEOUT_TEXT, how.extra_ns)
        elif not how.mute:
            self._emit(ev, ev.ts, how.extra_ns, lossy=False)

    def _result(
        self,
        a: Action,
        now_ns: int,
        outcome: Outcome,
        message: str = "",
        extra_ns: int = 0,
        *,
        reason: RejectReason = RejectReason.NONE,
        mute: bool = False,
    ) -> None:
        """An answer the harness makes itself (a fault, or a refusal before the venue)."""
        if mute:
            return
        cloid = getattr(a, "cloid", None)
        self._emit(
            ActionResult(
                now_ns,
                a.request_id,
                cloid,
                None,
                outcome,
                reason,
                message,
                local_ts=now_ns + self.latency_ns,
            ),
            now_ns,
            extra_ns,
            lossy=False,
        )

    def _ip_admit(self, a: Action, now_ns: int) -> bool:
        """Whether ``a``'s request is admitted: the first action of a request decides for
        all of it (an injected 429, or the rolling weight over the limit, refuses the whole
        request; an admitted one is charged its weight once), the others follow it."""
        req = self._request_of[self._at]
        if req in self._request_verdict:
            refusal = self._request_verdict[req]
        else:
            refusal = None
            w = self._request_weight[req]
            if self.knobs.rate_limit:
                refusal = faults.rate_limited_message(self.knobs.rate_limit.popleft())
            elif self.ip_used(now_ns) + w > self.ip_limit:
                self.ip_rejections += 1
                refusal = faults.RATE_LIMITED_TEXT
            else:
                self._window.append((now_ns, w))
                self._ip_used += w
                self.ip_peak = max(self.ip_peak, self._ip_used)
            self._request_verdict[req] = refusal
        if refusal is None:
            return True
        self._result(a, now_ns, Outcome.REJECTED, refusal, reason=RejectReason.RATE_LIMITED_IP)
        return False

    def _one(self, a: Action, now_ns: int) -> None:
        if not self.connected:
            self._result(a, now_ns, Outcome.UNKNOWN, faults.CONNECTION_LOST_TEXT)
            return
        if not self._ip_admit(a, now_ns):
            return
        lost = self.knobs.lose.popleft() if self.knobs.lose else None
        if lost is False:  # not applied, answer unknown
            self._result(a, now_ns, Outcome.UNKNOWN, faults.TIMEOUT_TEXT)
            return
        extra = self.knobs.delay.popleft() if self.knobs.delay else 0
        mute = self.knobs.drop > 0 and not isinstance(a, SyncState | QueryOrder)
        if mute:
            self.knobs.drop -= 1
        how = _Answering(a, extra, lost is True, mute)
        if isinstance(a, Place):
            self._place(a, now_ns, how)
        elif isinstance(a, Modify):
            self._modify(a, now_ns, how)
        else:
            self._apply(a, now_ns, how)

    def _apply(self, a: Action, now_ns: int, how: _Answering) -> None:
        """Let the simulated exchange apply ``a`` now and deliver what it produced."""
        self.sim.submit([a], now_ns)
        self._route(how)

    def _message(self, key: str) -> str:
        """The catalogue's string ``key`` for this instrument."""
        return venue_message(
            key,
            asset=self.instrument.asset,
            amount=fmt_amount(self.instrument.min_notional),
        )

    def _knob_refusal(self, side: Side, tif: Tif) -> tuple[RejectReason, str]:
        """A refusal a knob forces: (reason, the venue's string); ``(NONE, "")`` for none.
        ``reject_next`` first (its own reason), then ``reject_side``, then maintenance (the
        reason is the catalogue's classification of the string)."""
        if self.knobs.reject:
            r = self.knobs.reject.popleft()
            key = _REASON_KEYS.get(r)
            return r, self._message(key) if key else f"Order rejected: {self.instrument.asset}"
        if side in self.knobs.reject_sides:
            msg = self._message("margin")
        elif self.maintenance and tif is not Tif.ALO:
            msg = faults.POST_ONLY_MESSAGE
        else:
            return RejectReason.NONE, ""
        return reason_of(msg), msg

    def _refuse(
        self, a: Action, now_ns: int, reason: RejectReason, msg: str, how: _Answering
    ) -> None:
        """Answer ``a`` REJECTED with ``msg`` (or UNKNOWN when its answer is lost)."""
        if how.lost:
            self._result(a, now_ns, Outcome.UNKNOWN, faults.TIMEOUT_TEXT, how.extra_ns)
        else:
            self._result(
                a, now_ns, Outcome.REJECTED, msg, how.extra_ns, reason=reason, mute=how.mute
            )

    def _place(self, a: Place, now_ns: int, how: _Answering) -> None:
        reason, msg = self._knob_refusal(a.side, a.tif)
        if msg:
            self._refuse(a, now_ns, reason, msg, how)
            return
        self._apply(a, now_ns, how)

    def _modify(self, a: Modify, now_ns: int, how: _Answering) -> None:
        target = self.sim.resting(a.oid, a.cloid if a.oid is None else None)
        kind = self.knobs.modify_fail.popleft() if self.knobs.modify_fail else ""
        if target is not None and kind == "target_filled":
            self.sim.venue_fill(now_ns, target.oid)
            self._route(None)
            target = None
        elif target is not None and kind == "target_canceled":
            self.sim.venue_cancel(now_ns, target.oid, by_venue=True)
            self._route(None)
            target = None
        if target is None:  # the simulator answers the venue's "cannot modify"
            self._apply(a, now_ns, how)
            return
        _, msg = self._knob_refusal(a.side, a.tif)
        if not msg and kind == "place_failed":
            msg = self._message("margin")
        if not msg:
            self._apply(a, now_ns, how)
            return
        # the cancel leg is done; the replacement is refused (the original is gone)
        self.sim.venue_cancel(now_ns, target.oid, by_venue=False, request_id=a.request_id)
        self._route(None)
        placed = venue_message("modify_place", inner=msg)
        self._refuse(a, now_ns, reason_of(placed), placed, how)


__all__ = [
    "FIRST_OID",
    "MAX_OPEN_ORDERS",
    "UNKNOWN_OID",
    "FakeVenue",
    "VenueOrder",
    "harness_params",
    "reason_from_message",
]
