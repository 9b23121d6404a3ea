"""A deterministic in-process fake Hyperliquid venue, with fault knobs, for tests and audits.

:class:`FakeVenue` implements the :class:`~mmkit.components.Venue` protocol (``on_market``,
``submit``, ``drain``) with Hyperliquid's semantics (protocol reference §3, §6):

* every action is applied when it is **submitted** (in submission order); its answers
  (``ActionResult``, ``OrderUpdate``, ``OwnFill``, ``PositionSnapshot``) become due
  ``latency_ns`` later and :meth:`FakeVenue.drain` returns the due ones in time order;
* PLACE: ALO that would cross is rejected with the venue's string
  (``Post only order would have immediately matched, bbo was {bid}@{ask}. asset=0``); a
  crossing GTC/IOC fills at once as taker; below ``min_notional`` is rejected;
* MODIFY is cancel-and-replace: the old oid ends ``canceled``, the replacement gets a **new
  oid** and keeps the cloid; a gone target gives ``Cannot modify canceled or filled order``;
  a refused replacement gives ``Error placing new order during modify: ...`` (the original
  is gone);
* CANCEL of a gone order gives ``Order was never placed, already canceled, or filled.``;
  CANCEL_ALL cancels every open order; SYNC_STATE answers a ``PositionSnapshot`` with the open
  orders; QUERY_ORDER answers an ``OrderUpdate`` for the oid (or the cloid's latest
  incarnation), or, for an unknown one, ``OrderUpdate(status=REJECTED,
  raw_status="unknownOid", oid=<queried oid or -1>, cloid=<queried cloid>)`` (the same
  convention as the ``sim`` venue and the Hyperliquid client);
* resting orders fill (maker, at their price) when the book moves through them, and fill
  partially against market trades up to the trade's size (:meth:`FakeVenue.on_market`);
* IP weight (§6 weights) over a rolling minute: a request above ``ip_limit`` gets HTTP 429
  (``REJECTED``/``RATE_LIMITED_IP``, ``"HTTP 429 Too Many Requests"``) and is not applied;
  :attr:`FakeVenue.ip_peak` is the highest rolling weight of accepted requests.

Error strings are mapped to :class:`~mmkit.core.outcomes.RejectReason` by
:func:`reason_from_message` (``"canceled"`` is matched before ``"filled"``: the modify
string holds both).

Fault knobs (all deterministic; ``seed`` drives the reordering):

``reject_next(n, reason)``
    the next n PLACE/MODIFY are refused with ``reason`` (a MODIFY's replacement fails:
    original gone); ``reject_side(side, on)`` refuses every PLACE/MODIFY on a side.
``fail_next_modify(kind)``
    ``"target_filled"`` (the target fills just before the modify), ``"target_canceled"``
    (the venue cancels it first) or ``"place_failed"`` (cancel leg done, replacement refused).
``lose_next_acks(n, applied=True)``
    the next n requests are answered ``UNKNOWN`` (applied or not).
``drop_next_acks(n)``
    the next n order actions are applied but never answered at all.
``delay_next_acks(n, extra_ns)`` / ``reorder``
    delay answers; when ``reorder`` is true every drained batch is shuffled.
``rate_limit_next(n, retry_after_s=None)``
    the next n requests get HTTP 429 (with ``Retry-After`` in the message when given).
``disconnect()`` / ``reconnect()``
    while disconnected requests are not applied and answered ``UNKNOWN``; fills and order
    updates still happen on the venue but their events are lost.
``drop_pending()``
    lose every undelivered event (a restart of our side).
``fill_order(oid=..., cloid=..., sz=None)``, ``cancel_order_externally(oid)``,
``external_fill(side, sz, px, emit=True, liquidation=False)``
    venue-side fills, cancels and position changes (liquidation: ``emit=False``).

Inspection: ``open_orders()``, ``resting_size(side)``, ``exposure(side)``,
``take_exposure_peak(side)``, ``filled_by_cloid``, ``ip_peak``, ``ip_rejections``,
``submitted`` (every ``(now_ns, action)``), ``position``, ``pending``.

:class:`VenueLoop` wires an :class:`~mmkit.engine.Engine` (or any object with
``on_event(event, now_ns) -> list[Action]``) to a venue and steps simulated time;
:class:`ScriptedQuoter` returns a settable ladder and :class:`SwitchGate` is a gate a test
opens and closes.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mmkit.components import EMPTY_LADDER, Estimates, GateDecision, GateMode, Ladder, View
from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
from mmkit.core.events import (
    BBO,
    ActionResult,
    BookSnapshot,
    Event,
    OpenOrder,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Timer,
    Trade,
    TradeBatch,
    levels,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side, Tif
from mmkit.execution.rate_limit import WINDOW_NS, ip_weight

MSG_ALO_CROSS = "Post only order would have immediately matched, bbo was {bid}@{ask}. asset={a}"
MSG_MODIFY_GONE = "Cannot modify canceled or filled order"
MSG_MODIFY_PLACE = "Error placing new order during modify: {inner}"
MSG_CANCEL_GONE = "Order was never placed, already canceled, or filled. asset={a}"
MSG_MIN_NOTIONAL = "Order must have minimum value of $10. asset={a}"
MSG_MARGIN = "Insufficient margin to place order. asset={a}"
MSG_429 = "HTTP 429 Too Many Requests"
UNKNOWN_OID = "unknownOid"

_CATALOGUE: tuple[tuple[str, RejectReason], ...] = (
    ("error placing new order during modify", RejectReason.MODIFY_PLACE_FAILED),
    ("cannot modify canceled", RejectReason.MODIFY_TARGET_CANCELED),
    ("cannot modify filled", RejectReason.MODIFY_TARGET_FILLED),
    ("post only order would have immediately matched", RejectReason.POST_ONLY_WOULD_CROSS),
    ("insufficient margin", RejectReason.INSUFFICIENT_MARGIN),
    ("minimum value of", RejectReason.MIN_NOTIONAL),
    ("never placed, already canceled, or filled", RejectReason.ORDER_GONE),
    ("too many cumulative requests", RejectReason.RATE_LIMITED_ADDRESS),
    ("429", RejectReason.RATE_LIMITED_IP),
    ("reduce only order would increase", RejectReason.REDUCE_ONLY),
    ("divisible by tick", RejectReason.TICK),
    ("invalid price", RejectReason.INVALID_PRICE),
    ("invalid size", RejectReason.INVALID_SIZE),
    ("could not immediately match", RejectReason.IOC_NO_MATCH),
    ("away from the reference price", RejectReason.PRICE_TOO_FAR),
    ("invalid nonce", RejectReason.NONCE),
    ("already expired", RejectReason.EXPIRED),
    ("over weight limit", RejectReason.BATCH_TOO_LARGE),
    ("does not exist", RejectReason.SIGNATURE),
    ("unable to recover signer", RejectReason.SIGNATURE),
    ("must deposit", RejectReason.SIGNATURE),
)


def reason_from_message(message: str) -> RejectReason:
    """Classify a Hyperliquid error string (prefix-insensitive, ``" asset=n"`` tolerated).

    ``Cannot modify canceled or filled order`` holds both words: "canceled" is matched first.
    """
    low = message.lower()
    for needle, reason in _CATALOGUE:
        if needle in low:
            return reason
    return RejectReason.OTHER


_MESSAGES: dict[RejectReason, str] = {
    RejectReason.INSUFFICIENT_MARGIN: MSG_MARGIN,
    RejectReason.MIN_NOTIONAL: MSG_MIN_NOTIONAL,
    RejectReason.INVALID_PRICE: "Order has invalid price.",
    RejectReason.INVALID_SIZE: "Order has invalid size.",
    RejectReason.REDUCE_ONLY: "Reduce only order would increase position. asset={a}",
}


@dataclass(slots=True)
class VenueOrder:
    oid: int
    cloid: str | None
    side: Side
    px: float
    sz: float  # remaining
    orig_sz: float
    ts: int
    status: OrderStatus = OrderStatus.OPEN
    reduce_only: bool = False


@dataclass
class _Knobs:
    reject: deque[RejectReason] = field(default_factory=deque)
    reject_sides: set[Side] = field(default_factory=set)
    modify_fail: deque[str] = field(default_factory=deque)
    lose: deque[bool] = field(default_factory=deque)
    delay: deque[int] = field(default_factory=deque)
    rate_limit: deque[float | None] = field(default_factory=deque)
    drop: int = 0


class FakeVenue:
    """See the module docstring."""

    def __init__(
        self,
        instrument: Instrument | None = None,
        *,
        latency_ns: int = NS_PER_MS,
        seed: int = 0,
        position: float = 0.0,
        ip_limit: float = 1200.0,
        maker_fee: float = -0.00002,
    ) -> None:
        self.instrument = instrument or Instrument()
        self.latency_ns = latency_ns
        self.rng = random.Random(seed)
        self.position = position
        self.entry_px = 0.0
        self.volume_usd = 0.0
        self.bid = math.nan
        self.ask = math.nan
        self.ip_limit = ip_limit
        self.maker_fee = maker_fee
        self.orders: dict[int, VenueOrder] = {}
        self.history: dict[int, VenueOrder] = {}
        self.latest_by_cloid: dict[str, int] = {}
        self.connected = True
        self.reorder = False
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
        self._queue: list[tuple[int, int, Event]] = []
        self._seq = 0
        self._next_oid = 1000
        self._tid = 0
        self._now = 0
        self._mute = False

    # ----------------------------------------------------------------------------------
    # knobs
    # ----------------------------------------------------------------------------------
    def reject_next(
        self, n: int = 1, reason: RejectReason = RejectReason.INSUFFICIENT_MARGIN
    ) -> None:
        self.knobs.reject.extend([reason] * n)

    def reject_side(self, side: Side, on: bool = True) -> None:
        if on:
            self.knobs.reject_sides.add(side)
        else:
            self.knobs.reject_sides.discard(side)

    def fail_next_modify(self, kind: str = "target_filled") -> None:
        if kind not in ("target_filled", "target_canceled", "place_failed"):
            raise ValueError(f"unknown modify failure {kind!r}")
        self.knobs.modify_fail.append(kind)

    def lose_next_acks(self, n: int = 1, applied: bool = True) -> None:
        self.knobs.lose.extend([applied] * n)

    def drop_next_acks(self, n: int = 1) -> None:
        """The next n requests are applied but never answered (no result, no error)."""
        self.knobs.drop += n

    def delay_next_acks(self, n: int, extra_ns: int) -> None:
        self.knobs.delay.extend([extra_ns] * n)

    def rate_limit_next(self, n: int = 1, retry_after_s: float | None = None) -> None:
        self.knobs.rate_limit.extend([retry_after_s] * n)

    def disconnect(self) -> None:
        self.connected = False

    def reconnect(self) -> None:
        self.connected = True

    def drop_pending(self) -> None:
        self._queue.clear()

    # ----------------------------------------------------------------------------------
    # inspection
    # ----------------------------------------------------------------------------------
    def open_orders(self) -> list[OpenOrder]:
        return [
            OpenOrder(o.oid, o.cloid, o.side, o.px, o.sz, o.orig_sz, o.ts)
            for o in self.orders.values()
        ]

    def resting_size(self, side: Side) -> float:
        return sum(o.sz for o in self.orders.values() if o.side is side)

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
        if isinstance(event, TradeBatch):
            for tr, t in event.trades():
                self.on_market(tr, t)
            return
        self._now = max(self._now, now_ns)
        if isinstance(event, BookSnapshot):
            self.bid = float(event.bid_px[0]) if event.bid_px.size else math.nan
            self.ask = float(event.ask_px[0]) if event.ask_px.size else math.nan
            self._fill_through(now_ns)
        elif isinstance(event, BBO):
            self.bid, self.ask = event.bid_px, event.ask_px
            self._fill_through(now_ns)
        elif isinstance(event, Trade):
            self._fill_trade(event, now_ns)

    def submit(self, actions: Sequence[Action], now_ns: int) -> None:
        self._now = max(self._now, now_ns)
        for a in actions:
            self.submitted.append((now_ns, a))
            self._one(a, now_ns)
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
        o = self._find(oid, cloid)
        if o is None or o.status is not OrderStatus.OPEN:
            return 0.0
        t = self._now if now_ns is None else now_ns
        return self._fill(o, o.sz if sz is None else min(sz, o.sz), o.px, t)

    def cancel_order_externally(self, oid: int, now_ns: int | None = None) -> bool:
        o = self.orders.get(oid)
        if o is None:
            return False
        t = self._now if now_ns is None else now_ns
        self._end(o, OrderStatus.OTHER_CANCELED, t)
        return True

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
        t = self._now if now_ns is None else now_ns
        self._book_fill(side, sz, px)
        if emit:
            self._tid += 1
            self._next_oid += 1
            self._emit(
                OwnFill(
                    t,
                    self._next_oid,
                    None,
                    side,
                    px,
                    sz,
                    tid=self._tid,
                    liquidation=liquidation,
                    local_ts=t,
                ),
                t,
            )

    # ----------------------------------------------------------------------------------
    # internals
    # ----------------------------------------------------------------------------------
    def _emit(self, ev: Event, now_ns: int, extra_ns: int = 0, *, lossy: bool = True) -> None:
        if lossy and not self.connected:
            return
        self._seq += 1
        self._queue.append((now_ns + self.latency_ns + extra_ns, self._seq, ev))

    def _result(
        self,
        a: Action,
        now_ns: int,
        outcome: Outcome,
        *,
        oid: int | None = None,
        reason: RejectReason = RejectReason.NONE,
        message: str = "",
        extra_ns: int = 0,
    ) -> None:
        if self._mute:
            return
        cloid = getattr(a, "cloid", None)
        self._emit(
            ActionResult(
                now_ns, a.request_id, cloid, oid, outcome, reason, message, local_ts=now_ns
            ),
            now_ns,
            extra_ns,
            lossy=False,
        )

    def _find(self, oid: int | None, cloid: str | None) -> VenueOrder | None:
        if oid is not None:
            return self.history.get(oid)
        if cloid is not None and cloid in self.latest_by_cloid:
            return self.history.get(self.latest_by_cloid[cloid])
        return None

    def _update(self, o: VenueOrder, now_ns: int) -> None:
        self._emit(
            OrderUpdate(
                now_ns, o.oid, o.cloid, o.status, o.side, o.px, o.sz, o.orig_sz, local_ts=now_ns
            ),
            now_ns,
        )

    def _end(self, o: VenueOrder, status: OrderStatus, now_ns: int) -> None:
        o.status = status
        self.orders.pop(o.oid, None)
        self._update(o, now_ns)

    def _book_fill(self, side: Side, sz: float, px: float) -> None:
        old = self.position
        new = old + float(side) * sz
        if old == 0 or (old > 0) == (side is Side.BUY):
            tot = abs(old) + sz
            self.entry_px = (self.entry_px * abs(old) + px * sz) / tot if tot else 0.0
        elif abs(new) > 0 and (new > 0) != (old > 0):
            self.entry_px = px
        self.position = new
        if abs(self.position) < 1e-12:
            self.position = 0.0
            self.entry_px = 0.0
        self.volume_usd += sz * px

    def _fill(
        self, o: VenueOrder, sz: float, px: float, now_ns: int, crossed: bool = False
    ) -> float:
        if sz <= 0:
            return 0.0
        o.sz -= sz
        if o.sz <= 1e-12:
            o.sz = 0.0
        self._book_fill(o.side, sz, px)
        if o.cloid is not None:
            self.filled_by_cloid[o.cloid] = self.filled_by_cloid.get(o.cloid, 0.0) + sz
        self._tid += 1
        self._emit(
            OwnFill(
                now_ns,
                o.oid,
                o.cloid,
                o.side,
                px,
                sz,
                fee=abs(px * sz) * self.maker_fee,
                tid=self._tid,
                crossed=crossed,
                local_ts=now_ns,
            ),
            now_ns,
        )
        if o.sz == 0.0:
            self._end(o, OrderStatus.FILLED, now_ns)
        else:
            self._update(o, now_ns)
        return sz

    def _fill_through(self, now_ns: int) -> None:
        for o in sorted(self.orders.values(), key=lambda o: o.oid):
            through = (o.side is Side.BUY and self.ask <= o.px) or (
                o.side is Side.SELL and self.bid >= o.px
            )
            if through:  # NaN compares False: an empty side fills nothing
                self._fill(o, o.sz, o.px, now_ns)

    def _fill_trade(self, t: Trade, now_ns: int) -> None:
        left = t.sz
        for o in sorted(self.orders.values(), key=lambda o: o.oid):
            if left <= 0:
                break
            hit = (t.side is Side.SELL and o.side is Side.BUY and t.px <= o.px) or (
                t.side is Side.BUY and o.side is Side.SELL and t.px >= o.px
            )
            if hit:
                left -= self._fill(o, min(left, o.sz), o.px, now_ns)

    def _ip_admit(self, a: Action, now_ns: int) -> bool:
        w = ip_weight(a)
        if self.knobs.rate_limit:
            retry = self.knobs.rate_limit.popleft()
            msg = MSG_429 + (f" Retry-After: {retry:g}" if retry is not None else "")
            self._result(
                a, now_ns, Outcome.REJECTED, reason=RejectReason.RATE_LIMITED_IP, message=msg
            )
            return False
        if self.ip_used(now_ns) + w > self.ip_limit:
            self.ip_rejections += 1
            self._result(
                a, now_ns, Outcome.REJECTED, reason=RejectReason.RATE_LIMITED_IP, message=MSG_429
            )
            return False
        self._window.append((now_ns, w))
        self._ip_used += w
        self.ip_peak = max(self.ip_peak, self._ip_used)
        return True

    def _one(self, a: Action, now_ns: int) -> None:
        if not self.connected:
            self._result(a, now_ns, Outcome.UNKNOWN, message="connection lost")
            return
        if not self._ip_admit(a, now_ns):
            return
        lost = self.knobs.lose.popleft() if self.knobs.lose else None
        if lost is False:  # not applied, answer unknown
            self._result(a, now_ns, Outcome.UNKNOWN, message="timeout")
            return
        extra = self.knobs.delay.popleft() if self.knobs.delay else 0
        self._mute = self.knobs.drop > 0 and not isinstance(a, SyncState | QueryOrder)
        if self._mute:
            self.knobs.drop -= 1
        try:
            self._apply(a, now_ns, extra, lost)
        finally:
            self._mute = False

    def _apply(self, a: Action, now_ns: int, extra: int, lost: bool | None) -> None:
        if isinstance(a, Place):
            self._place(a, now_ns, extra, lost is True)
        elif isinstance(a, Modify):
            self._modify(a, now_ns, extra, lost is True)
        elif isinstance(a, Cancel):
            self._cancel(a, now_ns, extra, lost is True)
        elif isinstance(a, CancelAll):
            for o in sorted(self.orders.values(), key=lambda o: o.oid):
                self._end(o, OrderStatus.CANCELED, now_ns)
            self._answer(a, now_ns, Outcome.CANCELED, extra=extra, lost=lost is True)
        elif isinstance(a, SyncState):
            snap = PositionSnapshot(
                now_ns,
                self.position,
                self.entry_px,
                tuple(self.open_orders()) if a.orders else None,
                local_ts=now_ns,
                startup=a.reason == "startup",
            )
            if lost is True:
                self._result(a, now_ns, Outcome.UNKNOWN, message="timeout", extra_ns=extra)
            else:
                self._emit(snap, now_ns, extra, lossy=False)
        elif isinstance(a, QueryOrder):
            found = self._find(a.oid, a.cloid)
            if lost is True:
                self._result(a, now_ns, Outcome.UNKNOWN, message="timeout", extra_ns=extra)
            elif found is None:  # the convention of every mmkit venue: a REJECTED update
                self._emit(
                    OrderUpdate(
                        now_ns,
                        a.oid if a.oid is not None else -1,
                        a.cloid,
                        OrderStatus.REJECTED,
                        Side.BUY,
                        0.0,
                        0.0,
                        0.0,
                        local_ts=now_ns,
                        raw_status=UNKNOWN_OID,
                    ),
                    now_ns,
                    extra,
                    lossy=False,
                )
            else:
                self._emit(
                    OrderUpdate(
                        now_ns,
                        found.oid,
                        found.cloid,
                        found.status,
                        found.side,
                        found.px,
                        found.sz,
                        found.orig_sz,
                        local_ts=now_ns,
                    ),
                    now_ns,
                    extra,
                    lossy=False,
                )

    def _answer(
        self,
        a: Action,
        now_ns: int,
        outcome: Outcome,
        *,
        oid: int | None = None,
        reason: RejectReason = RejectReason.NONE,
        message: str = "",
        extra: int = 0,
        lost: bool = False,
    ) -> None:
        if lost:
            self._result(a, now_ns, Outcome.UNKNOWN, message="timeout", extra_ns=extra)
        else:
            self._result(
                a, now_ns, outcome, oid=oid, reason=reason, message=message, extra_ns=extra
            )

    def _refusal(self, side: Side, px: float, sz: float, tif: Tif) -> tuple[RejectReason, str]:
        a = self.instrument.asset
        if self.knobs.reject:
            r = self.knobs.reject.popleft()
            return r, _MESSAGES.get(r, "Order rejected: {a}").format(a=a)
        if side in self.knobs.reject_sides:
            return RejectReason.INSUFFICIENT_MARGIN, MSG_MARGIN.format(a=a)
        if px * sz < self.instrument.min_notional:
            return RejectReason.MIN_NOTIONAL, MSG_MIN_NOTIONAL.format(a=a)
        crosses = (side is Side.BUY and math.isfinite(self.ask) and px >= self.ask) or (
            side is Side.SELL and math.isfinite(self.bid) and px <= self.bid
        )
        if crosses and tif is Tif.ALO:
            msg = MSG_ALO_CROSS.format(bid=f"{self.bid:g}", ask=f"{self.ask:g}", a=a)
            return RejectReason.POST_ONLY_WOULD_CROSS, msg
        return RejectReason.NONE, ""

    def _new_order(
        self,
        cloid: str | None,
        side: Side,
        px: float,
        sz: float,
        tif: Tif,
        reduce_only: bool,
        now_ns: int,
    ) -> tuple[VenueOrder, bool]:
        """Create, cross if marketable; returns (order, rests)."""
        self._next_oid += 1
        o = VenueOrder(self._next_oid, cloid, side, px, sz, sz, now_ns, reduce_only=reduce_only)
        self.history[o.oid] = o
        if cloid is not None:
            self.latest_by_cloid[cloid] = o.oid
        crosses = (side is Side.BUY and math.isfinite(self.ask) and px >= self.ask) or (
            side is Side.SELL and math.isfinite(self.bid) and px <= self.bid
        )
        if crosses:  # GTC/IOC: fill as taker at the touch
            self.orders[o.oid] = o
            self._fill(o, o.sz, self.ask if side is Side.BUY else self.bid, now_ns, crossed=True)
            return o, False
        if tif is Tif.IOC:
            o.status = OrderStatus.CANCELED
            return o, False
        self.orders[o.oid] = o
        self._update(o, now_ns)
        return o, True

    def _place(self, a: Place, now_ns: int, extra: int, lost: bool) -> None:
        reason, msg = self._refusal(a.side, a.px, a.sz, a.tif)
        if reason is not RejectReason.NONE:
            self._answer(
                a, now_ns, Outcome.REJECTED, reason=reason, message=msg, extra=extra, lost=lost
            )
            return
        self._rest_or_fill(a, now_ns, extra, lost)

    def _rest_or_fill(self, a: Place | Modify, now_ns: int, extra: int, lost: bool) -> None:
        """The accepted order (a place, or a modify's new leg): it rests or fills."""
        o, rests = self._new_order(a.cloid, a.side, a.px, a.sz, a.tif, a.reduce_only, now_ns)
        self._answer(
            a,
            now_ns,
            Outcome.RESTING if rests else Outcome.FILLED,
            oid=o.oid,
            extra=extra,
            lost=lost,
        )

    def _modify(self, a: Modify, now_ns: int, extra: int, lost: bool) -> None:
        target = self._find(a.oid, a.cloid)
        kind = self.knobs.modify_fail.popleft() if self.knobs.modify_fail else ""
        if target is not None and target.status is OrderStatus.OPEN:
            if kind == "target_filled":
                self._fill(target, target.sz, target.px, now_ns)
            elif kind == "target_canceled":
                self._end(target, OrderStatus.OTHER_CANCELED, now_ns)
        if target is None or target.status is not OrderStatus.OPEN:
            self._answer(
                a,
                now_ns,
                Outcome.REJECTED,
                reason=RejectReason.MODIFY_TARGET_CANCELED,
                message=MSG_MODIFY_GONE,
                extra=extra,
                lost=lost,
            )
            return
        self._end(target, OrderStatus.CANCELED, now_ns)  # the cancel leg
        reason, msg = self._refusal(a.side, a.px, a.sz, a.tif)
        if kind == "place_failed" and reason is RejectReason.NONE:
            reason, msg = (
                RejectReason.INSUFFICIENT_MARGIN,
                MSG_MARGIN.format(a=self.instrument.asset),
            )
        if reason is not RejectReason.NONE:
            self._answer(
                a,
                now_ns,
                Outcome.REJECTED,
                reason=RejectReason.MODIFY_PLACE_FAILED,
                message=MSG_MODIFY_PLACE.format(inner=msg),
                extra=extra,
                lost=lost,
            )
            return
        self._rest_or_fill(a, now_ns, extra, lost)

    def _cancel(self, a: Cancel, now_ns: int, extra: int, lost: bool) -> None:
        o = self._find(a.oid, a.cloid)
        if o is None or o.status is not OrderStatus.OPEN:
            self._answer(
                a,
                now_ns,
                Outcome.REJECTED,
                reason=RejectReason.ORDER_GONE,
                message=MSG_CANCEL_GONE.format(a=self.instrument.asset),
                extra=extra,
                lost=lost,
            )
            return
        self._end(o, OrderStatus.CANCELED, now_ns)
        self._answer(a, now_ns, Outcome.CANCELED, oid=o.oid, extra=extra, lost=lost)


# --------------------------------------------------------------------------------------
# helpers for stateful tests and audits
# --------------------------------------------------------------------------------------


def book(bid: float, ask: float, ts: int, sz: float = 1.0, stream: str = "book") -> BookSnapshot:
    """A one-level book snapshot (either price NaN for an empty side)."""
    bp = levels([bid]) if math.isfinite(bid) else levels([])
    bs = levels([sz]) if math.isfinite(bid) else levels([])
    ap = levels([ask]) if math.isfinite(ask) else levels([])
    az = levels([sz]) if math.isfinite(ask) else levels([])
    return BookSnapshot(ts, bp, bs, ap, az, local_ts=ts, stream=stream)


class ScriptedQuoter:
    """A quoter whose ladder the test sets (``ladder`` attribute)."""

    def __init__(self, ladder: Ladder = EMPTY_LADDER) -> None:
        self.ladder = ladder

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        return self.ladder


class SwitchGate:
    """A gate the test closes (``closed = GateDecision(...)``) and opens (``None``)."""

    def __init__(self) -> None:
        self.closed: GateDecision | None = None

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return self.closed

    def close(self, reason: str = "Test", *, emergency: bool = False) -> None:
        self.closed = GateDecision("switch", reason, {}, GateMode.HALT, emergency)

    def open(self) -> None:
        self.closed = None


class Driven(Protocol):
    """What :class:`VenueLoop` drives: an Engine or anything with the same ``on_event``."""

    def on_event(self, ev: Event, now_ns: int) -> list[Action]: ...


class VenueLoop:
    """Steps simulated time: venue events -> engine -> actions -> venue.

    ``sent`` records every ``(now_ns, action)`` the engine produced; ``timer_ns`` > 0 sends a
    :class:`~mmkit.core.events.Timer` every step.
    """

    def __init__(
        self,
        engine: Driven,
        venue: FakeVenue,
        now_ns: int = NS_PER_S,
        step_ns: int = 10 * NS_PER_MS,
    ) -> None:
        self.engine = engine
        self.venue = venue
        self.now = now_ns
        self.step_ns = step_ns
        self.sent: list[tuple[int, Action]] = []

    def _feed(self, ev: Event) -> list[Action]:
        actions = self.engine.on_event(ev, self.now)
        if actions:
            self.sent.extend((self.now, a) for a in actions)
            self.venue.submit(actions, self.now)
        return actions

    def market(self, ev: Event) -> list[Action]:
        self.venue.on_market(ev, self.now)
        return self._feed(ev)

    def step(self, dt_ns: int | None = None, *, timer: bool = True) -> list[Action]:
        self.now += self.step_ns if dt_ns is None else dt_ns
        out: list[Action] = []
        for ev in self.venue.drain(self.now):
            out.extend(self._feed(ev))
        if timer:
            out.extend(self._feed(Timer(self.now, local_ts=self.now)))
        return out

    def settle(self, max_steps: int = 300, dt_ns: int | None = None, min_steps: int = 30) -> int:
        """Step at least ``min_steps`` (so throttles can expire), then until the venue has
        nothing pending and a step produced no action; returns the steps taken."""
        for i in range(max_steps):
            acts = self.step(dt_ns)
            if i + 1 >= min_steps and not acts and self.venue.pending == 0:
                return i + 1
        return max_steps
