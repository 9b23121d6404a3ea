"""Executors of the gauntlet.

:class:`SlotExecutor` is the author's base, written from ``docs/plugins.md`` section 6. It
keeps one order per slot (side, index in the desired ladder): PLACEs what is missing,
MODIFYs what moved and CANCELs what is no longer wanted. It starts with a start-up
``SyncState`` and places nothing before the snapshot; the venue's snapshots are
authoritative (unknown venue orders are orphans and get cancelled); UNKNOWN outcomes are
resolved by ``QueryOrder`` and never resent; a MODIFY whose order is gone empties the slot,
which the next requote places again; requests are paid from an address budget (one token
per request, one earned per USD filled, an emergency reserve) and limited to a rolling IP
weight per minute; three consecutive rejections on a side back it off 5 s, doubling to
120 s; ``halt`` cancels every order it may have on the venue, as emergency cancels.

It is registered on its own as ``g_slot_exec`` (meant to be correct), and each subclass
below changes one thing and has one conditional bug (``BUG:`` comment; ``BUGS.md`` has the
table).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from mmkit.components import BudgetState, GateDecision, Ladder, View
from mmkit.core.actions import (
    Action,
    Cancel,
    CancelAll,
    Modify,
    Place,
    QueryOrder,
    SyncState,
    make_cloid,
)
from mmkit.core.events import (
    ActionResult,
    Event,
    FeedStatus,
    OpenOrder,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Side, Tif
from mmkit.faults import Rejections
from mmkit.params import param

NS = 1_000_000_000
SYNC_RETRY_NS = 10 * NS  # ask for the start-up snapshot again after this long
SYNC_EVERY_NS = 10 * NS  # position reconciliation timer (seed section 4)
SYNC_MIN_GAP_NS = 2 * NS  # event-driven syncs (an unmatched fill) at most this often
CANCEL_RESEND_NS = 5 * NS
#: IP weights (Hyperliquid): an exchange action 1; clearinghouseState 2 + openOrders 20 for a
#: sync with orders; orderStatus 2 for a query
SYNC_WEIGHT = 22
QUERY_WEIGHT = 2  # while halted, cancel again an order still there after this long
ORPHAN = -1  # slot of an order we did not place (found on the venue): always cancelled


@dataclass
class _Order:
    cloid: str
    side: Side
    slot: int
    px: float
    sz: float
    oid: int | None = None
    state: str = "placing"  # placing | resting | modifying | cancelling | unknown
    want_px: float = math.nan
    want_sz: float = math.nan
    cancel_at: int = -1  # when its last cancel (or cancel-all) was sent, ns
    ts: int = -1  # venue time (ns) of the latest word on it we applied
    filled: float = 0.0  # fills seen on this cloid, over all its MODIFY incarnations
    touched: bool = False  # the public tape printed at or through its price: may have filled


@dataclass(frozen=True)
class ExecParams:
    initial_tokens: float = param(10_000.0, ge=0, help="address budget at start (requests)")
    tokens_per_usd: float = param(1.0, ge=0, help="tokens earned per USD filled")
    reserve: float = param(20.0, ge=0, help="tokens kept for emergency cancels")
    ip_weight_per_min: int = param(1200, ge=1, help="IP weight allowed per rolling minute")
    cancel_headroom: int = param(60, ge=0, help="IP weight kept free for cancels")
    backoff_after: int = param(3, ge=1, help="consecutive rejections before a side backs off")
    backoff_s: float = param(5.0, gt=0, help="first backoff (s), doubled per further rejection")
    max_backoff_s: float = param(120.0, gt=0, help="longest backoff (s)")


class SlotExecutor:
    """One resting order per ladder slot; see the module docstring."""

    def __init__(self, p: ExecParams, seed: int) -> None:
        self.p = p
        self.rejections = Rejections()
        self._req = 0
        self._cloid_n = (seed & 0xFFFF_FFFF) << 96
        self.orders: dict[str, _Order] = {}
        self._pending: dict[int, tuple[str, str]] = {}  # request id -> (kind, cloid)
        self._sync_req = -1
        self._sync_at = -1
        self._sync_wanted = False
        self._synced = False
        self._halted = False
        self._now = -1
        self._lot = 1e-5
        self.tokens = p.initial_tokens
        self._ip: deque[int] = deque()  # send times (ns) of the last minute's requests
        self._rejects: dict[Side, int] = {Side.BUY: 0, Side.SELL: 0}
        self._backoff_until: dict[Side, int] = {Side.BUY: -1, Side.SELL: -1}

    # -- ids ------------------------------------------------------------------------------
    def next_request_id(self) -> int:
        self._req += 1
        return self._req

    def _new_cloid(self, now_ns: int) -> str:
        self._cloid_n += 1
        return make_cloid(self._cloid_n | ((now_ns // 1000) % (1 << 48)) << 40)

    # -- audit contract (AuditableExecutor) -------------------------------------------------
    def open_orders(self) -> list[OpenOrder]:
        return [
            OpenOrder(o.oid, o.cloid, o.side, o.px, o.sz, o.sz)
            for o in self.orders.values()
            if o.oid is not None
        ]

    def budget_state(self) -> BudgetState:
        return BudgetState(self.tokens, self.p.reserve, math.inf)

    def exhaust_budget(self) -> None:
        self.tokens = min(self.tokens, self.p.reserve)

    # -- limits ---------------------------------------------------------------------------
    def _ip_used(self, now_ns: int) -> int:
        while self._ip and self._ip[0] <= now_ns - 60 * NS:
            self._ip.popleft()
        return len(self._ip)

    def _ip_allows(self, n: int, now_ns: int, cancels: bool) -> bool:
        limit = self.p.ip_weight_per_min - (0 if cancels else self.p.cancel_headroom)
        return self._ip_used(now_ns) + n <= limit

    def _ip_spend(self, n: int, now_ns: int) -> None:
        self._ip.extend([now_ns] * n)

    def _budget_allows(self, n: int, emergency: bool) -> bool:
        floor = 0.0 if emergency else self.p.reserve
        return self.tokens - n >= floor

    def _send_normal(self, acts: list[Action], now_ns: int) -> list[Action]:
        """Requote actions: all or nothing, within the budget (keeping the reserve) and
        the IP weight; what cannot go is forgotten (the next requote tries again)."""
        if not acts:
            return acts
        if not (
            self._budget_allows(len(acts), False) and self._ip_allows(len(acts), now_ns, False)
        ):
            self._forget(acts)
            return []
        self.tokens -= len(acts)
        self._ip_spend(len(acts), now_ns)
        return acts

    def _send_cancels(
        self, acts: list[Action], now_ns: int, decision: GateDecision | None
    ) -> list[Action]:
        """Cancels on a halt: emergency lane, may use the reserve (and go below it)."""
        if not acts:
            return acts
        self.tokens = max(0.0, self.tokens - len(acts))
        self._ip_spend(len(acts), now_ns)
        return acts

    def _forget(self, acts: list[Action]) -> None:
        for a in acts:
            entry = self._pending.pop(a.request_id, None)
            o = self.orders.get(entry[1]) if entry else None
            if o is None or entry is None:
                continue
            if entry[0] == "place":
                self.orders.pop(o.cloid, None)
            elif entry[0] in ("modify", "cancel"):
                o.state = "resting"

    # -- helpers --------------------------------------------------------------------------
    def _place(self, side: Side, slot: int, px: float, sz: float, now_ns: int) -> Place:
        o = _Order(self._new_cloid(now_ns), side, slot, px, sz)
        self.orders[o.cloid] = o
        req = self.next_request_id()
        self._pending[req] = ("place", o.cloid)
        return Place(req, o.cloid, side, px, sz, Tif.ALO, level=max(slot, 0))

    def _cancel(self, o: _Order, emergency: bool) -> Cancel:
        o.state, o.cancel_at = "cancelling", self._now
        req = self.next_request_id()
        self._pending[req] = ("cancel", o.cloid)
        return Cancel(
            req, None if o.cloid.startswith("oid:") else o.cloid, o.oid, emergency=emergency
        )

    def _query(self, o: _Order) -> QueryOrder:
        o.state = "unknown"
        self._ip_spend(QUERY_WEIGHT, self._now)
        req = self.next_request_id()
        self._pending[req] = ("query", o.cloid)
        return QueryOrder(req, None if o.cloid.startswith("oid:") else o.cloid, o.oid)

    def _find(self, cloid: str | None, oid: int | None) -> _Order | None:
        if cloid is not None and cloid in self.orders:
            return self.orders[cloid]
        if oid is not None:
            for o in self.orders.values():
                if o.oid == oid:
                    return o
        return None

    def _drop(self, o: _Order) -> None:
        self.orders.pop(o.cloid, None)

    def _exposure(self, side: Side) -> float:
        """Worst case on ``side``: every order we may have there fills in full (orders
        being cancelled included, at the larger of their old and new sizes)."""
        return sum(
            max(o.sz, o.want_sz if o.state == "modifying" else 0.0)
            for o in self.orders.values()
            if o.side is side
        )

    def _startup(self, now_ns: int) -> list[Action]:
        """The start-up sync (the first action, asked again every ``SYNC_RETRY_NS`` until a
        snapshot with open orders has arrived), then position reconciliation: every
        ``SYNC_EVERY_NS``, and after an unmatched fill (at most every ``SYNC_MIN_GAP_NS``).
        """
        since = now_ns - self._sync_at
        if not self._synced:
            if self._sync_req >= 0 and since < SYNC_RETRY_NS:
                return []
            reason = "startup"
        elif since >= SYNC_EVERY_NS or (self._sync_wanted and since >= SYNC_MIN_GAP_NS):
            reason = "reconcile"
        else:
            return []
        if not self._ip_allows(SYNC_WEIGHT, now_ns, cancels=False):
            return []  # the IP allowance is spent: ask when it has room again
        self._sync_wanted = False
        self._sync_req, self._sync_at = self.next_request_id(), now_ns
        self._ip_spend(SYNC_WEIGHT, now_ns)
        return [SyncState(self._sync_req, reason, orders=True)]

    # -- Executor protocol ----------------------------------------------------------------
    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        start = self._startup(now_ns)
        self._now = now_ns
        if start or not self._synced:
            return start
        self._halted = False
        self._lot = view.instrument.lot
        wanted: dict[tuple[Side, int], tuple[float, float]] = {}
        for i, q in enumerate(ladder.bids):
            wanted[(Side.BUY, i)] = (q.px, q.sz)
        for i, q in enumerate(ladder.asks):
            wanted[(Side.SELL, i)] = (q.px, q.sz)
        cancels: list[Action] = []
        have: dict[tuple[Side, int], _Order] = {}
        for o in list(self.orders.values()):
            key = (o.side, o.slot)
            if key in wanted and key not in have:
                have[key] = o  # placing, unknown or cancelling orders hold their slot too
            elif o.state == "cancelling":
                continue
            elif o.state in ("resting", "modifying"):
                cancels.append(self._cancel(o, False))  # unwanted, orphan or duplicate
        normal: list[Action] = []
        room = {
            Side.BUY: max(0.0, view.max_position - view.position),
            Side.SELL: max(0.0, view.max_position + view.position),
        }
        used = {s: self._exposure(s) for s in (Side.BUY, Side.SELL)}
        for key, (px, sz) in sorted(wanted.items()):
            side, slot = key
            if now_ns < self._backoff_until[side]:
                continue  # rejection backoff: this side waits
            cur = have.get(key)
            if cur is None:
                if used[side] + sz <= room[side] + 1e-12:
                    used[side] += sz
                    normal.append(self._place(side, slot, px, sz, now_ns))
                continue
            moved = cur.px != px or cur.sz != sz
            if cur.state != "resting" or not moved:
                continue
            if cur.filled > 0 or cur.touched or sz > cur.sz:
                # Hyperliquid's modify is cancel-replace under the same cloid: an order that
                # has (or may have) filled, or a top-up, could fill beyond its size. Cancel
                # it; the slot is placed afresh, under a new cloid, once it is gone.
                cancels.append(self._cancel(cur, False))
                continue
            if used[side] - cur.sz + sz <= room[side] + 1e-12:
                used[side] += max(0.0, sz - cur.sz)
                cur.state, cur.want_px, cur.want_sz = "modifying", px, sz
                req = self.next_request_id()
                self._pending[req] = ("modify", cur.cloid)
                normal.append(Modify(req, cur.cloid, cur.oid, side, px, sz, Tif.ALO, level=slot))
        return self._send_normal(cancels + normal, now_ns)

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        """Cancel everything that may rest, as emergency cancels: one ``CancelAll`` when
        every order is to go, single cancels otherwise; orders that show up later, and
        orders still there ``CANCEL_RESEND_NS`` after their cancel, are cancelled again."""
        start = self._startup(now_ns)
        self._now = now_ns
        self._halted = True
        due = [
            o
            for o in self.orders.values()
            if o.state != "cancelling" or now_ns - o.cancel_at > CANCEL_RESEND_NS
        ]
        if not due:
            return start
        acts: list[Action]
        if all(self._cancel_on_halt(o, view) for o in self.orders.values()):
            req = self.next_request_id()
            self._pending[req] = ("cancel_all", "")
            for o in self.orders.values():
                o.state, o.cancel_at = "cancelling", now_ns
            acts = [CancelAll(req, decision.describe(), emergency=True)]
        else:
            acts = [self._cancel(o, True) for o in due if self._cancel_on_halt(o, view)]
        return start + self._send_cancels(acts, now_ns, decision)

    def _cancel_on_halt(self, o: _Order, view: View) -> bool:
        return True

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        self._now = now_ns
        out: list[Action] = list(self._startup(now_ns))
        if isinstance(event, ActionResult):
            out += self._on_result(event, now_ns)
        elif isinstance(event, OrderUpdate):
            out += self._send_cancels(self._on_update(event), now_ns, None)
        elif isinstance(event, OwnFill):
            self._on_fill(event)
        elif isinstance(event, PositionSnapshot):
            out += self._on_snapshot(event, now_ns)
        elif isinstance(event, FeedStatus):
            self._on_feed(event)
        elif isinstance(event, Trade):
            self._on_trade(event)
        return out

    def _on_feed(self, event: FeedStatus) -> None:
        return None

    def _on_trade(self, t: Trade) -> None:
        """A market print at or through one of our prices: that order may have filled."""
        if not math.isfinite(t.px):
            return
        for o in self.orders.values():
            if (o.side is Side.BUY and t.px <= o.px) or (o.side is Side.SELL and t.px >= o.px):
                o.touched = True

    def _on_result(self, r: ActionResult, now_ns: int) -> list[Action]:
        entry = self._pending.pop(r.request_id, None)
        if entry is None:
            return []  # stale: an answer to something we no longer track
        kind, cloid = entry
        if kind == "cancel_all":
            return self._on_cancel_all_result(r, now_ns)
        o = self.orders.get(cloid)
        if o is None:
            return []
        if r.outcome is Outcome.UNKNOWN:
            return self._on_unknown(kind, o)
        if kind in ("place", "modify") and r.outcome is Outcome.REJECTED:
            self._count_rejection(o.side, r.reason, now_ns)
        elif kind in ("place", "modify"):
            self._rejects[o.side] = 0
        if kind == "place":
            return self._on_place_result(r, o, now_ns)
        if kind == "modify":
            self._on_modify_result(r, o)
        elif kind == "cancel":
            if r.outcome is Outcome.CANCELED or r.reason.order_is_gone:
                if not self._in_flight(o):
                    self._drop(o)  # (a place still in flight may land after the cancel)
            elif r.outcome is Outcome.REJECTED:
                o.state = "resting"  # still there: the next halt or requote cancels again
        return []

    def _in_flight(self, o: _Order) -> bool:
        return any(c == o.cloid and k in ("place", "modify") for k, c in self._pending.values())

    def _on_cancel_all_result(self, r: ActionResult, now_ns: int) -> list[Action]:
        for o in list(self.orders.values()):
            if o.state != "cancelling":
                continue
            if r.outcome is Outcome.CANCELED and not self._in_flight(o):
                self._drop(o)
            elif r.outcome is not Outcome.CANCELED:
                o.state = "resting"  # refused or unknown: the next halt cancels again
        return []

    def _count_rejection(self, side: Side, reason: RejectReason, now_ns: int) -> None:
        if not reason.counts_as_rejection:
            return
        self._rejects[side] += 1
        n = self._rejects[side]
        if n >= self.p.backoff_after:
            wait = min(self.p.max_backoff_s, self.p.backoff_s * 2.0 ** (n - self.p.backoff_after))
            self._backoff_until[side] = now_ns + int(wait * NS)

    def _on_unknown(self, kind: str, o: _Order) -> list[Action]:
        return [self._query(o)]

    def _on_place_result(self, r: ActionResult, o: _Order, now_ns: int) -> list[Action]:
        cancelling = o.state == "cancelling"
        o.ts = max(o.ts, r.ts)
        if r.outcome is Outcome.RESTING:
            o.oid, o.state = r.oid, "resting"
        elif r.outcome is Outcome.FILLED:
            o.oid = r.oid
            left = o.sz - max(0.0, r.filled_sz)
            if not math.isfinite(left) or left <= 0.5 * self._lot:
                self._drop(o)
                return []
            o.sz, o.state = left, "resting"
        else:
            self._drop(o)
            return []
        if cancelling:  # cancelled while the place was in flight: cancel what landed
            return self._send_cancels([self._cancel(o, self._halted)], now_ns, None)
        return []

    def _on_modify_result(self, r: ActionResult, o: _Order) -> None:
        keep = "cancelling" if o.state == "cancelling" else "resting"
        o.ts = max(o.ts, r.ts)
        if r.outcome is Outcome.RESTING:
            o.oid = r.oid if r.oid is not None else o.oid
            o.px, o.sz, o.state = o.want_px, o.want_sz, keep
        elif r.outcome is Outcome.FILLED:
            self._drop(o)
        elif r.reason.order_is_gone:
            self._modify_gone(r, o)
        else:
            o.state = keep  # refused: the old order still rests

    def _modify_gone(self, r: ActionResult, o: _Order) -> None:
        """The order under a failed MODIFY is gone: empty its slot, so that the next
        requote PLACEs the level again (never place from ``on_event``)."""
        self._drop(o)

    def _on_update(self, u: OrderUpdate) -> list[Action]:
        """Follow the venue's word on one order; returns the cancel of an order found
        resting while halted."""
        o = self._find(u.cloid, u.oid)
        if o is not None and (
            u.ts < o.ts
            or (o.oid is not None and u.oid != o.oid and u.status is not OrderStatus.OPEN)
        ):
            return []  # older news, or the previous incarnation of a modified order
        if o is not None:
            o.ts = u.ts
        if u.status is not OrderStatus.OPEN:
            if o is not None:
                self._drop(o)
            return []
        found = o is None or o.state == "unknown"  # an orphan, or an UNKNOWN resolved
        if o is None:
            key = u.cloid or f"oid:{u.oid}"
            o = _Order(key, u.side, ORPHAN, u.px, u.sz, u.oid, "resting", ts=u.ts)
            self.orders[key] = o
        else:
            o.oid = u.oid
            if o.state == "unknown":
                o.state, o.px = "resting", u.px
            if math.isfinite(u.sz) and u.sz > 0:
                o.sz = u.sz
        if self._halted and found:
            return [self._cancel(o, True)]
        return []

    def _on_fill(self, f: OwnFill) -> None:
        if math.isfinite(f.px * f.sz):
            self.tokens += abs(f.px * f.sz) * self.p.tokens_per_usd
        o = self._find(f.cloid, f.oid)
        if o is None:
            self._sync_wanted = True  # a fill for an order we do not track: reconcile
            return
        if not math.isfinite(f.sz):
            return
        o.filled += f.sz
        o.sz -= f.sz
        if o.sz <= 0.5 * self._lot:
            self._drop(o)

    def _on_snapshot(self, s: PositionSnapshot, now_ns: int) -> list[Action]:
        if s.open_orders is None:
            return []
        self._synced = True
        in_flight = {c for k, c in self._pending.values() if k in ("place", "modify", "query")}
        by_cloid = {oo.cloid: oo for oo in s.open_orders if oo.cloid is not None}
        by_oid = {oo.oid: oo for oo in s.open_orders}
        for o in list(self.orders.values()):
            oo = by_cloid.get(o.cloid) or (by_oid.get(o.oid) if o.oid is not None else None)
            if oo is not None:
                if o.cloid not in in_flight and o.ts <= s.ts:  # the venue's word wins
                    o.oid, o.px, o.sz, o.ts = oo.oid, oo.px, oo.sz, s.ts
                    if o.state == "unknown":
                        o.state = "resting"
                continue
            if o.cloid not in in_flight and o.ts <= s.ts:
                self._drop(o)  # the venue is authoritative: it does not rest
        out: list[Action] = []
        for oo in s.open_orders:
            if self._find(oo.cloid, oo.oid) is None:
                key = oo.cloid or f"oid:{oo.oid}"
                orphan = _Order(key, oo.side, ORPHAN, oo.px, oo.sz, oo.oid, "resting", ts=s.ts)
                self.orders[key] = orphan
                out.append(self._cancel(orphan, self._halted))
        return self._send_cancels(out, now_ns, None)


# ---------------------------------------------------------------------------------------
# g_budget_exec: a data-quality halt keeps the reserve
# ---------------------------------------------------------------------------------------


class ReserveExecutor(SlotExecutor):
    """The base executor, stricter with the reserve: only kill-switch halts
    (``decision.emergency``) may draw on it; other halts pay as normal requests do."""

    def _send_cancels(
        self, acts: list[Action], now_ns: int, decision: GateDecision | None
    ) -> list[Action]:
        emergency = decision is not None and decision.emergency
        if not emergency and not self._budget_allows(len(acts), False):
            # BUG: a data-quality halt (not emergency) with the budget down to the reserve
            # sends no cancel at all: resting orders stay on a stale or crossed book
            self._forget(acts)
            return []
        return super()._send_cancels(acts, now_ns, decision)


# ---------------------------------------------------------------------------------------
# g_modify_ghost: one reject reason of a MODIFY keeps a ghost order
# ---------------------------------------------------------------------------------------


class ModifyGhostExecutor(SlotExecutor):
    """The base executor, reading a MODIFY refused as ``MODIFY_TARGET_CANCELED`` as "the
    cancel leg went through and the replacement is on its way" (Hyperliquid's batchModify
    is a cancel and a place): the order is booked at its new price and size."""

    def _modify_gone(self, r: ActionResult, o: _Order) -> None:
        if r.reason is RejectReason.MODIFY_TARGET_CANCELED:
            # BUG: nothing was placed: the order is a ghost booked as resting at the
            # desired price, so its slot is never placed again while that price holds
            o.px, o.sz, o.state = o.want_px, o.want_sz, "resting"
            return
        super()._modify_gone(r, o)


# ---------------------------------------------------------------------------------------
# g_reqid_session: request ids restart on the second reconnect
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionParams(ExecParams):
    new_session_after: int = param(2, ge=1, help="reconnects after which a new session starts")


class SessionExecutor(SlotExecutor):
    """The base executor with sessions: after ``new_session_after`` reconnects of any feed
    the connection is considered new, in-flight requests are given up (their orders are
    marked unknown) and a fresh start-up sync is made."""

    def __init__(self, p: SessionParams, seed: int) -> None:
        super().__init__(p, seed)
        self.sp = p
        self._down: set[str] = set()
        self._reconnects = 0

    def _on_feed(self, event: FeedStatus) -> None:
        if not event.connected:
            self._down.add(event.stream)
            return
        if event.stream not in self._down:
            return
        self._down.discard(event.stream)
        self._reconnects += 1
        if self._reconnects >= self.sp.new_session_after:
            self._reconnects = 0
            for _, cloid in self._pending.values():
                o = self.orders.get(cloid)
                if o is not None and o.state != "cancelling":
                    o.state = "unknown"
            self._pending.clear()
            self._synced = False
            self._sync_req = -1
            # BUG: "new session, new numbering": request ids start again at 1 and repeat
            # ids already sent (and still answered by the venue)
            self._req = 0


# ---------------------------------------------------------------------------------------
# g_unknown_forget: an UNKNOWN place is taken for a rejection
# ---------------------------------------------------------------------------------------


class UnknownForgetExecutor(SlotExecutor):
    """The base executor saving a round trip: an UNKNOWN answer to a CANCEL or MODIFY is
    resolved by query; an UNKNOWN answer to a PLACE is treated as not placed, so the slot
    is placed again by the next requote."""

    def _on_unknown(self, kind: str, o: _Order) -> list[Action]:
        if kind == "place":
            # BUG: the order may rest on the venue; forgotten here, it is neither counted
            # for exposure nor cancelled by a halt until a snapshot lists it
            self._drop(o)
            return []
        return super()._on_unknown(kind, o)


# ---------------------------------------------------------------------------------------
# g_halt_keeps_reducing: halt spares the orders that reduce the position
# ---------------------------------------------------------------------------------------


class KeepReducingExecutor(SlotExecutor):
    """The base executor that, on a halt, keeps orders that would reduce an open position
    ("a reducing order can only lower our risk") and cancels the rest."""

    def _cancel_on_halt(self, o: _Order, view: View) -> bool:
        q = view.position
        # BUG: a closed gate must cancel EVERY resting order; with inventory, the
        # reducing side is left resting against stale or crossed data
        return not (q > 0 and o.side is Side.SELL) and not (q < 0 and o.side is Side.BUY)


# ---------------------------------------------------------------------------------------
# g_minute_bucket_ip: IP weight limited per calendar minute
# ---------------------------------------------------------------------------------------


class MinuteBucketExecutor(SlotExecutor):
    """The base executor with a cheaper IP limiter: a counter per calendar minute instead
    of a deque of send times."""

    def __init__(self, p: ExecParams, seed: int) -> None:
        super().__init__(p, seed)
        self._minute = -1
        self._used = 0

    def _roll(self, now_ns: int) -> None:
        # BUG: a fixed calendar-minute bucket, not a rolling 60 s window: a burst at :59
        # and another at :00 send up to twice the limit within two seconds
        minute = now_ns // (60 * NS)
        if minute != self._minute:
            self._minute, self._used = minute, 0

    def _ip_used(self, now_ns: int) -> int:
        self._roll(now_ns)
        return self._used

    def _ip_spend(self, n: int, now_ns: int) -> None:
        self._roll(now_ns)
        self._used += n
