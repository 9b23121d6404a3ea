"""The toy venue: a top-of-book matcher in plain Python (mmkit's simulated-venue contract).

What it models, and what it does not:

* the book is the last snapshot, delta or BBO the feed showed (per side: price -> size);
* an ALO (post-only) order that would cross the best opposite price is rejected with
  Hyperliquid's own message; a GTC/IOC order that crosses takes the best opposite level at
  its price, up to that level's size (taker fee), a GTC remainder rests, an IOC remainder is
  dropped (an IOC that crosses nothing is rejected);
* a resting order fills, at its own price (maker fee), when a market trade prints through it
  (strictly, or also at its price with ``fill_at_touch``), up to the trade's size, shared by
  our orders best price first, oldest first; there is no queue model and no market impact;
* every answer reaches the engine ``latency_ms`` after the action or trade (one fixed delay);
* reduce-only orders that would grow the position and orders below the instrument's minimum
  notional are rejected; there is no margin model.

Clock: ``now_ns`` (simulated time, integer ns) is passed in; the venue never reads a clock,
so two runs over the same events are identical.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mmkit.components import Venue
from mmkit.core.actions import (
    Action,
    Cancel,
    CancelAll,
    Modify,
    Place,
    QueryOrder,
    SyncState,
)
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
from mmkit.core.types import Instrument, Side, Tif
from mmkit.registry import BuildContext
from mmkit.venues.hyperliquid.errors import MESSAGES
from mmkit_toy_venue import ToyVenueParams

NS_PER_MS = 1_000_000


@dataclass
class _Order:
    oid: int
    cloid: str | None
    side: Side
    px: float
    sz: float  # remaining, coins
    orig_sz: float
    ts: int  # venue time it was accepted, ns


def _crosses(side: Side, px: float, best_opposite: float) -> bool:
    """Whether a ``side`` order at ``px`` would trade against ``best_opposite`` (NaN: none)."""
    if not math.isfinite(best_opposite):
        return False
    return px >= best_opposite if side is Side.BUY else px <= best_opposite


class ToyVenue:
    """A simulated venue (:class:`mmkit.components.Venue`): actions in, events out."""

    def __init__(self, params: ToyVenueParams, instrument: Instrument) -> None:
        self.params = params
        self.instrument = instrument
        self.latency_ns = round(params.latency_ms * NS_PER_MS)
        self.bids: dict[float, float] = {}  # price -> size (USD, coins)
        self.asks: dict[float, float] = {}
        self.orders: dict[int, _Order] = {}  # resting, by oid
        self.final: dict[int, tuple[OrderStatus, _Order]] = {}  # done orders, by oid
        self.position = 0.0  # coins, signed
        self.entry_px = 0.0  # average entry price of the position, USD (0 when flat)
        self.fees = 0.0  # USD paid
        self._oids = itertools.count(1)
        self._tids = itertools.count(1)
        self._seq = itertools.count()
        self._out: list[tuple[int, int, Event]] = []  # (local_ts, seq, event): a heap

    # -- the Venue contract ----------------------------------------------------------------
    def on_market(self, event: Event, now_ns: int) -> None:
        if isinstance(event, TradeBatch):
            for trade, t in event.trades():
                self.on_market(trade, t)
        elif isinstance(event, Trade):
            self._trade(event, now_ns)
        elif isinstance(event, BookSnapshot):
            self.bids = _levels(event.bid_px, event.bid_sz)
            self.asks = _levels(event.ask_px, event.ask_sz)
        elif isinstance(event, BookDelta):
            _apply(self.bids, event.bid_px, event.bid_sz)
            _apply(self.asks, event.ask_px, event.ask_sz)
        elif isinstance(event, BBO):
            self.bids = _levels([event.bid_px], [event.bid_sz])
            self.asks = _levels([event.ask_px], [event.ask_sz])

    def submit(self, actions: Sequence[Action], now_ns: int) -> None:
        for a in actions:
            if isinstance(a, Place):
                self._place(a, now_ns)
            elif isinstance(a, Modify):
                self._modify(a, now_ns)
            elif isinstance(a, Cancel):
                self._cancel(a, now_ns)
            elif isinstance(a, CancelAll):
                for o in list(self.orders.values()):
                    self._close(o, OrderStatus.CANCELED, now_ns)
                self._result(now_ns, a.request_id, None, None, Outcome.CANCELED)
            elif isinstance(a, SyncState):
                orders = tuple(
                    OpenOrder(o.oid, o.cloid, o.side, o.px, o.sz, o.orig_sz, o.ts)
                    for o in self.orders.values()
                )
                self._emit(
                    now_ns,
                    PositionSnapshot(
                        now_ns,
                        self.position,
                        self.entry_px,
                        orders if a.orders else None,
                        local_ts=now_ns + self.latency_ns,
                    ),
                )
            elif isinstance(a, QueryOrder):
                self._query(a, now_ns)

    def drain(self, now_ns: int) -> list[Event]:
        out: list[Event] = []
        while self._out and self._out[0][0] <= now_ns:
            out.append(heapq.heappop(self._out)[2])
        return out

    # -- the book --------------------------------------------------------------------------
    @property
    def best_bid(self) -> float:
        return max(self.bids) if self.bids else math.nan

    @property
    def best_ask(self) -> float:
        return min(self.asks) if self.asks else math.nan

    def _opposite_best(self, side: Side) -> float:
        return self.best_ask if side is Side.BUY else self.best_bid

    # -- orders ----------------------------------------------------------------------------
    def _problem(self, side: Side, px: float, sz: float, reduce_only: bool) -> RejectReason:
        if not (math.isfinite(px) and px > 0):
            return RejectReason.INVALID_PRICE
        if not (math.isfinite(sz) and sz > 0):
            return RejectReason.INVALID_SIZE
        if self.params.enforce_min_notional and px * sz < self.instrument.min_notional:
            return RejectReason.MIN_NOTIONAL
        if reduce_only and (self.position == 0 or (self.position > 0) == (side is Side.BUY)):
            return RejectReason.REDUCE_ONLY
        return RejectReason.NONE

    def _message(self, reason: RejectReason) -> str:
        key = {
            RejectReason.INVALID_PRICE: "invalid_price",
            RejectReason.INVALID_SIZE: "invalid_size",
            RejectReason.REDUCE_ONLY: "reduce_only",
            RejectReason.IOC_NO_MATCH: "ioc_no_match",
            RejectReason.ORDER_GONE: "cancel_gone",
            RejectReason.MODIFY_TARGET_CANCELED: "modify_gone",
            RejectReason.MODIFY_TARGET_FILLED: "modify_gone",
        }.get(reason)
        if reason is RejectReason.POST_ONLY_WOULD_CROSS:
            return MESSAGES["post_only"].format(bid=_fmt(self.best_bid), ask=_fmt(self.best_ask))
        if reason is RejectReason.MIN_NOTIONAL:
            return MESSAGES["min_notional"].format(amount=_fmt(self.instrument.min_notional))
        return MESSAGES[key] if key is not None else reason.value

    def _open(
        self,
        request_id: int,
        cloid: str | None,
        side: Side,
        px: float,
        sz: float,
        tif: Tif,
        reduce_only: bool,
        now_ns: int,
    ) -> RejectReason:
        """Place one order; answers it unless it is rejected (the reason is returned)."""
        problem = self._problem(side, px, sz, reduce_only)
        if problem is not RejectReason.NONE:
            return problem
        best = self._opposite_best(side)
        crossing = _crosses(side, px, best)
        if crossing and tif is Tif.ALO:
            return RejectReason.POST_ONLY_WOULD_CROSS
        if not crossing and tif is Tif.IOC:
            return RejectReason.IOC_NO_MATCH
        o = _Order(next(self._oids), cloid, side, px, sz, sz, now_ns)
        filled = 0.0
        if crossing:
            book = self.asks if side is Side.BUY else self.bids
            filled = min(sz, book[best])
            book[best] -= filled
            if book[best] <= 0:
                del book[best]
            self._fill(o, best, filled, now_ns, taker=True)
        if o.sz > 0 and tif is not Tif.IOC:
            self.orders[o.oid] = o
            self._result(now_ns, request_id, cloid, o.oid, Outcome.RESTING, filled=filled, px=best)
            self._update(o, OrderStatus.OPEN, now_ns)
        else:
            self._result(now_ns, request_id, cloid, o.oid, Outcome.FILLED, filled=filled, px=best)
            status = OrderStatus.FILLED if o.sz <= 0 else OrderStatus.CANCELED
            self.final[o.oid] = (status, o)
        return RejectReason.NONE

    def _place(self, a: Place, now_ns: int) -> None:
        problem = self._open(
            a.request_id, a.cloid, a.side, a.px, a.sz, a.tif, a.reduce_only, now_ns
        )
        if problem is not RejectReason.NONE:
            self._reject(now_ns, a.request_id, a.cloid, problem, self._message(problem))

    def _modify(self, a: Modify, now_ns: int) -> None:
        target = self._find(a.oid, a.cloid)
        if target is None:
            done = self._find_final(a.oid, a.cloid)
            filled = done is not None and done[0] is OrderStatus.FILLED
            reason = (
                RejectReason.MODIFY_TARGET_FILLED if filled else RejectReason.MODIFY_TARGET_CANCELED
            )
            self._reject(now_ns, a.request_id, a.cloid, reason, self._message(reason))
            return
        self._close(target, OrderStatus.CANCELED, now_ns)  # cancel, then place the new one
        problem = self._open(
            a.request_id, target.cloid, a.side, a.px, a.sz, a.tif, a.reduce_only, now_ns
        )
        if problem is not RejectReason.NONE:
            inner = self._message(problem)
            message = MESSAGES["modify_place"].format(inner=inner)
            self._reject(
                now_ns, a.request_id, target.cloid, RejectReason.MODIFY_PLACE_FAILED, message
            )

    def _cancel(self, a: Cancel, now_ns: int) -> None:
        o = self._find(a.oid, a.cloid)
        if o is None:
            reason = RejectReason.ORDER_GONE
            self._reject(now_ns, a.request_id, a.cloid, reason, self._message(reason))
            return
        self._close(o, OrderStatus.CANCELED, now_ns)
        self._result(now_ns, a.request_id, o.cloid, o.oid, Outcome.CANCELED)

    def _query(self, a: QueryOrder, now_ns: int) -> None:
        o = self._find(a.oid, a.cloid)
        if o is not None:
            self._update(o, OrderStatus.OPEN, now_ns)
            return
        done = self._find_final(a.oid, a.cloid)
        if done is not None:
            self._update(done[1], done[0], now_ns)
            return
        unknown = _Order(a.oid if a.oid is not None else -1, a.cloid, Side.BUY, 0.0, 0.0, 0.0, 0)
        self._update(unknown, OrderStatus.REJECTED, now_ns, raw="unknownOid")

    def _find(self, oid: int | None, cloid: str | None) -> _Order | None:
        if oid is not None:
            return self.orders.get(oid)
        return next((o for o in self.orders.values() if o.cloid == cloid), None)

    def _find_final(self, oid: int | None, cloid: str | None) -> tuple[OrderStatus, _Order] | None:
        if oid is not None:
            return self.final.get(oid)
        found = [v for v in self.final.values() if v[1].cloid == cloid]
        return found[-1] if found else None

    def _close(self, o: _Order, status: OrderStatus, now_ns: int) -> None:
        self.orders.pop(o.oid, None)
        self.final[o.oid] = (status, o)
        self._update(o, status, now_ns)

    # -- fills -----------------------------------------------------------------------------
    def _trade(self, trade: Trade, now_ns: int) -> None:
        """A market trade fills our resting orders it printed through, up to its size."""
        px, left = trade.px, trade.sz
        if not (math.isfinite(px) and math.isfinite(left) and left > 0):
            return  # an unusable print fills nothing
        touch = self.params.fill_at_touch

        def hit(o: _Order) -> bool:
            if o.side is Side.BUY:
                return px < o.px or (touch and px == o.px)
            return px > o.px or (touch and px == o.px)

        # best price first (highest bid, lowest ask), then oldest: price-time priority
        ranked = sorted(
            (o for o in self.orders.values() if hit(o)),
            key=lambda o: (-o.px if o.side is Side.BUY else o.px, o.ts, o.oid),
        )
        for o in ranked:
            if left <= 0:
                break
            sz = min(o.sz, left)
            left -= sz
            self._fill(o, o.px, sz, max(now_ns, trade.ts), taker=False)
            if o.sz <= 0:
                self._close(o, OrderStatus.FILLED, max(now_ns, trade.ts))

    def _fill(self, o: _Order, px: float, sz: float, now_ns: int, *, taker: bool) -> None:
        if sz <= 0:
            return
        o.sz = max(0.0, o.sz - sz)
        fee = px * sz * (self.params.taker_fee if taker else self.params.maker_fee)
        self.fees += fee
        self._book_position(o.side, px, sz)
        self._emit(
            now_ns,
            OwnFill(
                now_ns,
                o.oid,
                o.cloid,
                o.side,
                px,
                sz,
                fee,
                tid=next(self._tids),
                crossed=taker,
                local_ts=now_ns + self.latency_ns,
            ),
        )

    def _book_position(self, side: Side, px: float, sz: float) -> None:
        """Position and average entry price after a fill (entry resets when it flips)."""
        signed = sz * int(side)
        new = self.position + signed
        if self.position == 0 or (self.position > 0) == (signed > 0):
            total = abs(self.position) + sz
            self.entry_px = (self.entry_px * abs(self.position) + px * sz) / total
        elif abs(signed) > abs(self.position):
            self.entry_px = px  # flipped: the remainder opened at this price
        self.position = new if abs(new) > 1e-12 else 0.0
        if self.position == 0:
            self.entry_px = 0.0

    # -- answers ---------------------------------------------------------------------------
    def _emit(self, now_ns: int, ev: Event) -> None:
        heapq.heappush(self._out, (now_ns + self.latency_ns, next(self._seq), ev))

    def _result(
        self,
        now_ns: int,
        request_id: int,
        cloid: str | None,
        oid: int | None,
        outcome: Outcome,
        *,
        filled: float = 0.0,
        px: float = 0.0,
    ) -> None:
        self._emit(
            now_ns,
            ActionResult(
                now_ns,
                request_id,
                cloid,
                oid,
                outcome,
                filled_sz=filled,
                avg_px=px if filled > 0 else 0.0,
                local_ts=now_ns + self.latency_ns,
            ),
        )

    def _reject(
        self, now_ns: int, request_id: int, cloid: str | None, reason: RejectReason, message: str
    ) -> None:
        self._emit(
            now_ns,
            ActionResult(
                now_ns,
                request_id,
                cloid,
                None,
                Outcome.REJECTED,
                reason,
                message,
                local_ts=now_ns + self.latency_ns,
            ),
        )

    def _update(self, o: _Order, status: OrderStatus, now_ns: int, raw: str = "") -> None:
        self._emit(
            now_ns,
            OrderUpdate(
                now_ns,
                o.oid,
                o.cloid,
                status,
                o.side,
                o.px,
                o.sz,
                o.orig_sz,
                local_ts=now_ns + self.latency_ns,
                raw_status=raw or status.name.lower(),
            ),
        )


def _levels(px: Iterable[float], sz: Iterable[float]) -> dict[float, float]:
    """A book side from parallel price/size columns, keeping only usable levels."""
    return {
        float(p): float(s)
        for p, s in zip(px, sz, strict=False)
        if math.isfinite(p) and p > 0 and math.isfinite(s) and s > 0
    }


def _apply(side: dict[float, float], px: Iterable[float], sz: Iterable[float]) -> None:
    """Apply level changes: a size of 0 (or not finite) removes the level."""
    for p, s in zip(px, sz, strict=False):
        if not (math.isfinite(p) and p > 0):
            continue
        if math.isfinite(s) and s > 0:
            side[float(p)] = float(s)
        else:
            side.pop(float(p), None)


def _fmt(x: float) -> str:
    """A price as Hyperliquid prints it in messages (no trailing zeros)."""
    if not math.isfinite(x):
        return "0"
    return f"{x:.8f}".rstrip("0").rstrip(".")


def build(ctx: BuildContext[ToyVenueParams]) -> Venue:
    """Factory of venue ``toy`` (simulated side): parameters from ``[venues.toy]``."""
    return ToyVenue(ctx.params, ctx.instrument)


__all__ = ["ToyVenue", "build"]
