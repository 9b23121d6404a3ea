"""The ``smart`` executor: smart reconciliation with every execution safety of seed §4-7.

Flow of one call (``on_event``, ``reconcile`` or ``halt``):

1. **startup**: the very first action is ``SyncState("startup")``; nothing is quoted until
   its snapshot arrives; unknown open orders are then cancelled or adopted;
2. **events**: acknowledgements, order updates, fills and snapshots update the order
   tracker (cloid-keyed, oid rebinding on MODIFY, retired oids never end the live order);
3. **service** (on every order event, timer and halt; on market data and requotes at most
   every 10 ms): unresolved orders are queried (an UNKNOWN outcome is never retried blind),
   orphans past their grace window are cancelled, a position sync goes out when due;
4. **reconcile** (or **halt**): the ladder diff, clipped to the worst-case exposure, is sent
   only if the per-side rejection backoff, the 429 backoff, the proactive rate tracker and
   the execution budget all allow the whole of it; otherwise nothing is sent and the
   existing orders stay resting. ``halt`` cancels every resting order (one ``CancelAll``,
   then single cancels for anything that appears later) and places nothing.

A MODIFY that fails because its target is gone (``MODIFY_TARGET_CANCELED/FILLED``) waits
for the target's fate (an order update or a query answer); a failed replacement
(``MODIFY_PLACE_FAILED``) means the original is gone. Either way the level is then
re-quoted with a PLACE at the very next ``reconcile`` (the minimum requote interval does not
hold it back). ``on_event`` itself never places or modifies: only ``reconcile`` does, which
the engine calls only while every gate is open, so nothing is ever placed while a gate is
closed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import TYPE_CHECKING, Any

from mmkit.components import EMPTY_LADDER, BudgetState, GateDecision, Ladder, View
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
    Kinds,
    OpenOrder,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
    TradeBatch,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.records import new_record
from mmkit.core.types import BUY, NS_PER_MS, NS_PER_S, SELL, Instrument, Side, Tif
from mmkit.execution import position_sync as ps
from mmkit.execution.backoff import RejectionBackoff, RetryBackoff, parse_retry_after
from mmkit.execution.budget import ExecutionBudget
from mmkit.execution.order_state import OrderState, Pending
from mmkit.execution.orders import OCCUPYING, SIZE_EPS, UNRESOLVED, OrderTracker, TrackedOrder
from mmkit.execution.orphans import OrphanTracker
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.pending import (
    CancelAllRequest,
    OrderRequest,
    OrphanCancel,
    PendingRequests,
    QueryRequest,
    SyncRequest,
    new_order_request,
)
from mmkit.execution.position_sync import PositionSync
from mmkit.execution.rate_limit import RateTracker, RequoteInterval
from mmkit.execution.reconciler import Op, OpKind, Tolerances, diff_levels
from mmkit.execution.startup import StartupState
from mmkit.registry import BuildContext

if TYPE_CHECKING:
    from mmkit.execution.smart_executor_twin import SmartExecutorTwin

log = logging.getLogger("mmkit.execution")

_RATE_LIMITED = (RejectReason.RATE_LIMITED_IP, RejectReason.RATE_LIMITED_ADDRESS)
#: an answer that means "nothing happened": the request never reached the venue's matching
#: (rate limited, or dropped unsent by the runner because a gate closed after it was made)
_NOTHING_HAPPENED = frozenset({*_RATE_LIMITED, RejectReason.NOT_SENT})
#: a side that wants quotes but has had no order of ours for this long is reported
#: (log line, ``not_quoting_s`` / ``idle_reason`` in :meth:`SmartExecutor.status`)
IDLE_REPORT_NS = 5 * NS_PER_S
_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.OTHER_CANCELED}
)
_SIDES = (BUY, SELL)
#: market data and requotes run the periodic duties (queries, orphan cancels, due syncs) at
#: most this often; every order event, timer and halt runs them at once
_MARKET_SERVICE_GAP_NS = 10 * NS_PER_MS
#: the events that change what the executor knows of its orders
_ORDER_EVENTS = frozenset(
    {
        Kinds.ACTION_RESULT,
        Kinds.ORDER_UPDATE,
        Kinds.OWN_FILL,
        Kinds.POSITION_SNAPSHOT,
    }
)


def _op_kind(so: tuple[Side, Op]) -> OpKind:
    """Sort key of a reconcile's ops: cancels, then modifies, then places."""
    return so[1].kind


def accepted_sides(by_cloid: dict[str, TrackedOrder]) -> tuple[bool, bool]:
    """Whether any order of ``by_cloid`` the venue has accepted (an oid, not still placing)
    is a bid, and whether any is an ask. The book holds long runs of one side (a side's
    levels are placed together, a modified order keeps its place, a re-placed one goes to
    the end), so the scan looks from the front for one accepted order, then from the back
    for one of the other side: a few orders read in the usual book instead of a side's
    whole ladder, and the same answer."""
    placing = OrderState.PLACING
    orders = by_cloid.values()
    for o in orders:
        if o.oid is not None and o.state is not placing:
            buy = o.side is BUY  # any other side counts as an ask, as everywhere here
            break
    else:
        return False, False
    for o in reversed(orders):
        if o.oid is not None and (o.side is BUY) is not buy and o.state is not placing:
            return True, True
    return buy, not buy


class SmartExecutor:
    """See the module docstring. Introspection for audits: :meth:`open_orders`,
    :meth:`status`, :meth:`exhaust_budget`."""

    provides = frozenset({"open_orders", "budget", "status"})
    #: what makes a new tracked order (``TrackedOrder``'s arguments): the compiled twin
    #: may set its own, whose orders keep their numeric fields in its order table
    _order_type: Callable[..., TrackedOrder] = TrackedOrder
    #: the ladder diff of one side, its desired quotes as :data:`~mmkit.components.Levels`
    #: (a class attribute so that a test can swap in a broken variant)
    diff = staticmethod(diff_levels)

    def __init__(
        self,
        params: SmartExecutorParams | None = None,
        instrument: Instrument | None = None,
        seed: int = 0,
    ) -> None:
        p = self.params = params or SmartExecutorParams()
        self.instrument = instrument or Instrument()
        self.seed = seed
        self.orders = OrderTracker()
        self.rate = RateTracker(
            ip_limit=p.ip_limit_per_min,
            throttle_frac=p.ip_throttle_frac,
            warn_frac=p.ip_warn_frac,
            address_initial=p.address_initial_budget,
            exhausted_interval_s=p.address_exhausted_interval_s,
        )
        self.requote = RequoteInterval(p.min_requote_interval_ms)
        self.rejections = RejectionBackoff(
            p.rejection_threshold,
            p.rejection_backoff_initial_s,
            p.rejection_backoff_max_s,
            p.rejection_backoff_mult,
        )
        self.retry = RetryBackoff(
            p.retry_backoff_initial_s, p.retry_backoff_max_s, p.retry_backoff_jitter, seed
        )
        self.budget = ExecutionBudget(
            initial=p.budget_initial,
            capacity=p.budget_max,
            per_usd=p.budget_per_usd_filled,
            refill_per_s=p.budget_refill_per_s,
            cost_per_action=p.cost_per_action,
            reserve=p.emergency_reserve,
        )
        self.sync = PositionSync(
            interval_s=p.sync_interval_s,
            min_interval_s=p.sync_min_interval_s,
            change_frac=p.sync_position_change_frac,
            timeout_s=p.sync_timeout_s,
        )
        self.orphans = OrphanTracker(p.orphan_grace_ms)
        self.startup = StartupState(policy=p.startup_policy)
        self.tol = Tolerances(
            p.price_tolerance_bps,
            p.size_tolerance_frac,
            self.instrument.lot,
            self.instrument.min_notional,
            p.smart_reconcile,
        )
        self._tif = Tif(p.tif)
        self._query_retry_ns = int(p.query_retry_s * NS_PER_S)
        self._fill_grace_ns = int(p.fill_match_grace_ms * NS_PER_MS)
        self._ghost_ttl_ns = int(p.ghost_ttl_s * NS_PER_S)
        self._tape_risk_ns = int(p.tape_risk_s * NS_PER_S)
        #: a ghost still open this long before its time limit asks for a position sync
        self._ghost_sync_ns = max(0, self._ghost_ttl_ns - self._fill_grace_ns)
        #: the reconcile batch whose rejection last fed each side's backoff
        self._rejected_batch: dict[Side, int] = {}
        #: per side: since when it wants quotes but has no order of ours, and why
        self._idle_since: dict[Side, int] = {}
        self._idle_why: dict[Side, str] = {}
        self._idle_reported: set[Side] = set()
        #: cloid -> ended order whose fills may not all have been seen (see ``_ghost``)
        self._ghosts: dict[str, TrackedOrder] = {}
        self._rid = 0
        #: the last request id sent before the current 429 backoff began: a 429 answering
        #: one of those (the rest of a batch the client refused together) is the same
        #: event, not a repeat, and does not lengthen the backoff again
        self._retry_mark = -1
        #: venue time (ns) of the newest own fill seen, of any order: the fill stream is
        #: delivered in venue-time order, so a print older than this whose fill has not
        #: come was not ours (see ``_tape_marks``)
        self._fill_hwm = -1
        self._cloid_base = 0
        self._cloid_n = 0
        self._now = 0
        self._desired: Ladder = EMPTY_LADDER
        self._halted: GateDecision | None = None
        self._halt_sent_all = False
        self._halt_retry_ns = -1  # a failed halt cancel is retried from then on
        self._halt_all_ns = -1  # when the halt's last CancelAll went out
        #: a halt's CancelAll is repeated at most this often while an order may still rest
        self._halt_resend_ns = max(int(p.sync_timeout_s * NS_PER_S), self._query_retry_ns)
        self._requote_needed = False
        # the time of the last on_event's service pass: reconcile() in the same engine step
        # does not repeat it
        self._serviced_ns = -1
        # (ladder, position, max position) of the last reconcile that found every order in
        # place; the same inputs with no order event since give the same (empty) answer
        self._quiet: tuple[Ladder, float, float] | None = None
        #: every request sent and not yet answered: request id -> what it was for
        self._pending = PendingRequests()
        self._unmatched: dict[int, list[tuple[int, OwnFill]]] = {}
        self.counters: dict[str, int] = {
            "places": 0,
            "modifies": 0,
            "cancels": 0,
            "cancel_alls": 0,
            "queries": 0,
            "modify_failures": 0,
            "fallback_places": 0,
            "unknown_outcomes": 0,
            "stale_acks": 0,
            "unmatched_fills": 0,
            "rate_limited": 0,
            "skipped_budget": 0,
            "skipped_rate": 0,
            "skipped_backoff": 0,
            "halt_blocked": 0,  # kept for dashboards: halts are never blocked any more
            "halt_resends": 0,
            "emergency_actions": 0,
            "emergency_over_limit": 0,
            "ghosts": 0,
            "ghosts_expired": 0,
            "tape_risks": 0,
            "tape_risks_expired": 0,
            "quote_holds": 0,
            "idle_reports": 0,
        }

    def twin(self) -> SmartExecutorTwin:
        """The compiled twin of this executor: same parameters, fresh state (see
        :mod:`mmkit.execution.smart_executor_twin`)."""
        from mmkit.execution.smart_executor_twin import SmartExecutorTwin

        return SmartExecutorTwin(self.params, self.instrument, self.seed)

    # ----------------------------------------------------------------------------------
    # the Executor protocol
    # ----------------------------------------------------------------------------------
    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        out: list[Action] = []
        kind = event.kind
        if kind.is_market_data:
            if kind is Kinds.TRADE:
                assert isinstance(event, Trade)
                self._tape_marks(((event.ts, event.px, event.sz, int(event.side), now_ns),))
            self._on_market_data(view, now_ns, out)
            return out
        self._begin(now_ns, out)
        if kind in _ORDER_EVENTS:
            self._quiet = None  # the orders may have changed: the next reconcile diffs again
            if kind is Kinds.ACTION_RESULT:
                assert isinstance(event, ActionResult)
                self._on_result(event, now_ns, out)
            elif kind is Kinds.ORDER_UPDATE:
                assert isinstance(event, OrderUpdate)
                self._on_update(event, now_ns)
            elif kind is Kinds.OWN_FILL:
                assert isinstance(event, OwnFill)
                self._on_fill(event, now_ns)
            else:
                assert isinstance(event, PositionSnapshot)
                self._on_snapshot(event, now_ns)
        self._service(view, now_ns, out)
        self._serviced_ns = now_ns
        return out

    def on_trades(self, batch: TradeBatch, view: View, now_ns: int) -> list[Action]:
        """A batch is one market-data event at its last row's time (servicing on its earlier
        rows would only stamp the same actions, sent together after the batch, with earlier
        times); each row marks the orders it may have traded against (:meth:`_tape_marks`,
        at the row's receive time: the same state as the rows one by one)."""
        out: list[Action] = []
        if self.orders.by_cloid:
            self._tape_marks(zip(*batch.columns(), strict=True))
        self._on_market_data(view, now_ns, out)
        return out

    def _tape_marks(self, rows: Iterable[tuple[int, float, float, int, int]]) -> None:
        """The public tape against our orders: a market trade ``(ts, px, sz, aggressor side
        (+1 buy / -1 sell), recv_ns)`` at or through an order's price (for a bid, a sell at
        ``px <= bid``; for an ask, a buy at ``px >= ask``: an aggressor only ever trades
        against the other side), not older than the newest word we have on it (a fill or an
        ``open`` update, by venue time), may have filled it without our having seen the fill
        yet. Up to ``sz`` of it is taken as filled (``TrackedOrder.risk``, at most its
        remaining size) until its fills arrive, its fate is known, a snapshot asked for after
        it says how much rests, a later fill of another order of ours arrives without one of
        it (the fill stream comes in venue-time order), or ``tape_risk_s`` passes. Meanwhile
        it is never modified to a size that could take its cloid or its level past their
        size (it is cancelled and its level placed afresh instead)."""
        # each live order with the price prints are checked against (marks change only its
        # risk fields, never that price)
        done = OrderState.DONE
        live = [(o, o.tape_px()) for o in self.orders.by_cloid.values() if o.state is not done]
        if not live:
            return
        for ts, px, sz, aggressor, recv in rows:
            if not (sz > 0.0 and px > 0.0 and math.isfinite(px) and math.isfinite(sz)):
                continue
            for o, opx in live:
                if int(o.side) == aggressor:
                    continue  # a buyer lifts asks, a seller hits bids
                hit = px <= opx if o.side is BUY else px >= opx
                if not hit or ts < o.known_ts:
                    continue
                most = max(o.sz, o.new_sz) if o.pending is Pending.MODIFY else o.sz
                if o.risk < most:
                    if o.risk <= 0.0:
                        self.counters["tape_risks"] += 1
                    o.risk = min(most, o.risk + sz)
                o.risk_until_ns = max(o.risk_until_ns, recv + self._tape_risk_ns)
                o.risk_ts = max(o.risk_ts, ts)
                o.risk_rid = self._rid
                o.risk_oid = o.oid

    def _on_market_data(self, view: View, now_ns: int, out: list[Action]) -> None:
        self._begin(now_ns, out)
        if now_ns - self._serviced_ns >= _MARKET_SERVICE_GAP_NS:
            # market data alone changes no order: service at most every 10 ms
            self._service(view, now_ns, out)
            self._serviced_ns = now_ns

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        out: list[Action] = []
        self._begin(now_ns, out)
        if now_ns - self._serviced_ns >= _MARKET_SERVICE_GAP_NS:
            # as on market data: every order event, timer and halt services at once, and a
            # requote between them changes no order by itself (~1 µs a tick saved)
            self._service(view, now_ns, out)
            self._serviced_ns = now_ns
        self._halted = None
        self._halt_sent_all = False
        self._desired = ladder
        if not self.startup.done:
            return out
        forced = self._requote_needed  # a level emptied by the venue: re-quote it now
        if not forced and not self.requote.can_requote(now_ns):
            return out
        quiet = self._quiet
        if (
            quiet is not None
            and quiet[0] is ladder
            and quiet[1] == view.position
            and quiet[2] == view.max_position
            and not forced
            and not out
        ):
            return out  # nothing moved since every order was found in place
        self._requote_needed = False
        acts = self._reconcile(ladder, view, now_ns)
        if forced:
            self.counters["fallback_places"] += sum(isinstance(a, Place) for a in acts)
        out.extend(acts)
        self._watch_idle(ladder, view, now_ns)
        return out

    def _watch_idle(self, ladder: Ladder, view: View, now_ns: int) -> None:
        """Never a silent stop: a side that the quoter wants quoted (gates open) but that has
        had no order of ours accepted by the venue for ``IDLE_REPORT_NS`` is logged once with
        the reason the executor holds it back, counted (``idle_reports``) and shown by
        :meth:`status` until an order of that side rests again (which is logged too)."""
        # the sides with an order of ours the venue has accepted (attempts do not count)
        has_buy, has_sell = accepted_sides(self.orders.by_cloid)
        if has_buy and has_sell and not (self._idle_since or self._idle_why or self._idle_reported):
            return  # both sides rest and nothing was idle: nothing to report or clear
        levels = ladder.levels()
        for side in _SIDES:
            wants = bool(levels[0] if side is BUY else levels[1])
            has = has_buy if side is BUY else has_sell
            if has or not wants:
                since = self._idle_since.pop(side, None)
                if side in self._idle_reported:
                    self._idle_reported.discard(side)
                    log.warning(
                        "%s quoting resumed after %.1f s without orders",
                        side.name,
                        (now_ns - (since if since is not None else now_ns)) / NS_PER_S,
                    )
                if has:
                    self._idle_why.pop(side, None)
                continue
            since = self._idle_since.setdefault(side, now_ns)
            if side not in self._idle_reported and now_ns - since >= IDLE_REPORT_NS:
                self._idle_reported.add(side)
                self.counters["idle_reports"] += 1
                log.warning(
                    "%s side not quoting for %.1f s while quotes are wanted: %s",
                    side.name,
                    (now_ns - since) / NS_PER_S,
                    self._idle_reason(side, view, now_ns),
                )

    def _idle_reason(self, side: Side, view: View, now_ns: int) -> str:
        """Why the executor is holding ``side`` back now (for the idle report)."""
        if self.retry.active(now_ns):
            return "HTTP 429 backoff"
        if self.rejections.should_skip(side, now_ns):
            return self._idle_why.get(side, "rejection backoff")
        if not self.budget.can_afford(1, now_ns):
            return "execution budget exhausted"
        if not self.rate.allows([Cancel(0, None, None)], now_ns):
            return "IP / address rate limit"
        if any(g.side is side for g in self._ghosts.values()):
            return "waiting for the fills of ended orders (ghost exposure)"
        room = view.max_position - float(side) * view.position
        if room <= 0:
            return f"position limit ({view.position:g} of {view.max_position:g})"
        return "every desired size is below the minimum notional or the room left"

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        """Cancel every order of ours (and every orphan) and place nothing.

        Every halt's cancels are **emergency** cancels, whichever gate closed: they bypass
        the execution budget (drawing on its reserve), the 429 / retry backoff and the
        proactive IP tracker, which all still record them. The cadence is bounded instead:
        a ``CancelAll`` goes out at once; orders that show up later get single cancels; a
        refused or unanswered cancel is tried again after :meth:`_halt_retry_delay`, and a
        ``CancelAll`` is repeated at most every ``halt_resend_s`` while we still believe an
        order may rest (a halt never waits forever on a lost answer).
        """
        out: list[Action] = []
        self._begin(now_ns, out)
        self._quiet = None
        self._halted = decision
        self._desired = EMPTY_LADDER
        self._requote_needed = False
        self._service(view, now_ns, out)
        if not self.startup.done and not decision.emergency:
            # nothing of ours rests yet; the startup policy deals with a predecessor's orders
            # (a data gate is closed at every start: cancelling then would defeat "adopt")
            return out
        if now_ns < self._halt_retry_ns:
            return out  # the last halt cancel failed: do not hammer the venue
        live = self.orders.live()
        if self._halt_sent_all and live and now_ns - self._halt_all_ns >= self._halt_resend_ns:
            # the CancelAll was sent long ago and some order is still not known to be gone
            # (an answer lost, an order whose fate is unresolved): ask again, as a whole
            self._halt_sent_all = False
            self.counters["halt_resends"] += 1
        if not self._halt_sent_all:
            a = CancelAll(self._next_rid(), reason=decision.describe(), emergency=True)
            if not self._permit([a], now_ns, emergency=True):  # never refused (see _permit)
                self.counters["halt_blocked"] += 1
                return out
            out.append(a)
            self.counters["cancel_alls"] += 1
            self._halt_sent_all = True
            self._halt_all_ns = now_ns
            for o in live:  # an earlier action's answer is now stale for these
                o.state = o.state.to(OrderState.CANCELING)
                o.level = -1
                o.pending = Pending.CANCEL_ALL
                o.req = a.request_id
            self._pending.add(a.request_id, CancelAllRequest(tuple(live)))
            return out
        for o in live:
            if o.state in (OrderState.CANCELING, OrderState.UNKNOWN, OrderState.AWAITING_FATE):
                continue  # being cancelled, or being resolved by query (and the CancelAll)
            c = Cancel(self._next_rid(), o.cloid, o.oid, emergency=True)
            if not self._permit([c], now_ns, emergency=True):  # never refused (see _permit)
                self.counters["halt_blocked"] += 1
                break
            out.append(c)
            self.counters["cancels"] += 1
            o.state = o.state.to(OrderState.CANCELING)
            o.level = -1
            self._track(c.request_id, o, Pending.CANCEL)
        return out

    # ----------------------------------------------------------------------------------
    # introspection (dashboards, audits)
    # ----------------------------------------------------------------------------------
    def open_orders(self) -> list[OpenOrder]:
        """Orders we believe rest on the venue (bound to an oid)."""
        return [
            OpenOrder(o.oid, o.cloid, o.side, o.px, o.sz, o.orig_sz, o.placed_ns)
            for o in self.orders.live()
            if o.oid is not None and o.state is not OrderState.PLACING
        ]

    def budget_state(self) -> BudgetState:
        """The execution budget's tokens, reserve and capacity (audit contract
        :class:`mmkit.components.AuditableExecutor`)."""
        b = self.budget
        return BudgetState(tokens=b.tokens, reserve=b.reserve, capacity=b.capacity)

    def exhaust_budget(self) -> None:
        """Spend the whole normal budget, keeping only the emergency reserve."""
        self.budget.exhaust()

    @property
    def startup_done(self) -> bool:
        return self.startup.done

    def status(self) -> dict[str, Any]:
        now = self._now
        out: dict[str, Any] = {}
        out.update(self.rate.status(now))
        out.update(self.budget.status())
        out.update(self.rejections.status(now))
        out.update(self.sync.status())
        out.update({f"n_{k}": float(v) for k, v in self.counters.items()})
        out["rate_backoff_s"] = max(0.0, (self.retry.until_ns - now) / NS_PER_S)
        out["open_orders"] = float(len(self.orders.live()))
        out["orphans"] = float(len(self.orphans.orphans))
        out["rebinds"] = float(self.orders.rebinds)
        out["halted"] = self._halted.describe() if self._halted is not None else ""
        for side in _SIDES:
            since = self._idle_since.get(side)
            idle = 0.0 if since is None else (now - since) / NS_PER_S
            out[f"not_quoting_{side.name.lower()}_s"] = idle
        out["idle_reason"] = "; ".join(
            f"{side.name}: {self._idle_why.get(side, 'see log')}" for side in self._idle_reported
        )
        out["ghost_exposure"] = float(sum(g.unseen for g in self._ghosts.values()))
        out["tape_risk"] = float(sum(o.risk for o in self.orders.by_cloid.values()))
        out["startup"] = self.startup.message
        return out

    # ----------------------------------------------------------------------------------
    # sending
    # ----------------------------------------------------------------------------------
    def _next_rid(self) -> int:
        self._rid += 1
        return self._rid

    def _track(self, rid: int, o: TrackedOrder, kind: Pending) -> None:
        """``o``'s action ``kind`` went out as request ``rid``: its answer is read for ``o``."""
        o.req = rid
        o.pending = kind
        self._pending.add(rid, OrderRequest(o, kind))

    def _new_cloid(self) -> str:
        self._cloid_n += 1
        return make_cloid(self._cloid_base | (self._cloid_n & 0xFFFF_FFFF))

    def _permit(self, actions: list[Action], now_ns: int, *, emergency: bool = False) -> bool:
        """Rate tracker, 429 backoff and budget: all of ``actions`` or none of them.

        ``emergency`` (every halt's cancels): always permitted. The 429 backoff and the
        proactive IP tracker are not consulted (a cancel the venue refuses is retried at the
        halt's bounded cadence); the budget charges them to its reserve, down to zero. They
        are still recorded in the rolling IP window and the address count, and counted.
        """
        weighed = self.rate.weigh(actions)
        if emergency:
            if not self.rate.allows(actions, now_ns, emergency=True, weighed=weighed):
                self.counters["emergency_over_limit"] += 1  # sent all the same
            # the budget never refuses an emergency spend (it draws the reserve down to 0);
            # a budget that does is broken, and the audit must see the halt blocked
            if not self.budget.spend(weighed[1], now_ns, emergency=True):
                self.counters["skipped_budget"] += 1
                return False
            self.rate.record(actions, now_ns, weighed)
            self.counters["emergency_actions"] += len(actions)
            return True
        if self.retry.active(now_ns):
            self.counters["skipped_rate"] += 1
            return False
        if not self.rate.allows(actions, now_ns, weighed=weighed):
            self.counters["skipped_rate"] += 1
            return False
        n_orders = weighed[1]
        if n_orders and not self.budget.spend(n_orders, now_ns):
            self.counters["skipped_budget"] += 1
            return False
        self.rate.record(actions, now_ns, weighed)
        return True

    def _begin(self, now_ns: int, out: list[Action]) -> None:
        self._now = now_ns
        if self.startup.requested:
            return
        self.startup.requested = True
        self._cloid_base = ((self.seed & 0xFFFF) << 112) | (((now_ns // 1000) & (2**64 - 1)) << 32)
        self._send_sync(ps.STARTUP, now_ns, out, force=True)

    def _send_sync(self, reason: str, now_ns: int, out: list[Action], force: bool = False) -> None:
        a = SyncState(self._next_rid(), reason, orders=True)
        if not force and not self._permit([a], now_ns):
            return
        if force:
            self.rate.record([a], now_ns)
        out.append(a)
        self._pending.add(a.request_id, SyncRequest())
        self.sync.sent(a.request_id, reason, now_ns)

    def _query(self, o: TrackedOrder, now_ns: int, out: list[Action]) -> None:
        # by cloid when a newer incarnation may exist (a modify in flight or whose target was
        # gone): the venue answers with the cloid's newest incarnation
        by_cloid = (
            o.pending is Pending.MODIFY or o.oid is None or o.state is OrderState.AWAITING_FATE
        )
        q = QueryOrder(self._next_rid(), o.cloid, None if by_cloid else o.oid)
        o.query_ns = now_ns
        if not self._permit([q], now_ns):
            return
        out.append(q)
        self.counters["queries"] += 1
        o.query_req = q.request_id
        self._pending.add(q.request_id, QueryRequest(o))

    # ----------------------------------------------------------------------------------
    # periodic duties
    # ----------------------------------------------------------------------------------
    def _service(self, view: View, now_ns: int, out: list[Action]) -> None:
        if not self.startup.done:  # re-ask (no more than once per min interval) until answered
            sync = self.sync
            if now_ns - sync.last_sent_ns >= sync.min_interval_ns and (
                not sync.in_flight
                or all(now_ns - t >= sync.timeout_ns for _, _, t in sync.in_flight)
            ):
                sync.in_flight = []
                self._send_sync(ps.STARTUP, now_ns, out)
            return
        orders = self.orders
        if orders.may_have_unresolved:  # (a scan per event otherwise: ~6 % of a paper run)
            left = False
            for o in orders.by_cloid.values():
                if o.state in UNRESOLVED:
                    left = True
                    if o.query_ns < 0 or now_ns - o.query_ns >= self._query_retry_ns:
                        self._query(o, now_ns, out)
            orders.may_have_unresolved = left
        if self._ghosts:
            for g in list(self._ghosts.values()):
                if now_ns >= g.ghost_until_ns:
                    self._ghost_settled(g)
                    self.counters["ghosts_expired"] += 1
                elif not g.ghost_synced and now_ns >= g.ghost_until_ns - self._ghost_sync_ns:
                    # its fills are late: let the venue's position settle it
                    g.ghost_synced = True
                    self.sync.request(ps.UNMATCHED_FILL)
        if self._unmatched:
            for oid in list(self._unmatched):
                fills = self._unmatched[oid]
                if now_ns - fills[0][0] >= self._fill_grace_ns:
                    del self._unmatched[oid]
                    self.counters["unmatched_fills"] += len(fills)
                    self.sync.request(ps.UNMATCHED_FILL)
        if self.orphans.orphans:
            self._cancel_orphans(now_ns, out)
        reason = self.sync.due(now_ns, view.position, view.max_position)
        if reason is not None:
            self._send_sync(reason, now_ns, out)
        orders.prune_oids()

    def _cancel_orphans(self, now_ns: int, out: list[Action]) -> None:
        """Cancel the orders the venue shows that are not ours, once their grace is over."""
        # while halted, an orphan's cancel is one of the halt's cancels: emergency
        emergency = self._halted is not None
        for orphan in self.orphans.due(now_ns):
            c = Cancel(self._next_rid(), orphan.cloid, orphan.oid, emergency=emergency)
            if not self._permit([c], now_ns, emergency=emergency):
                break
            out.append(c)
            self.counters["cancels"] += 1
            orphan.cancel_sent = True
            self._pending.add(c.request_id, OrphanCancel(orphan.oid))

    # ----------------------------------------------------------------------------------
    # reconciliation
    # ----------------------------------------------------------------------------------
    def _reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        self._quiet = None
        if now_ns < self.retry.until_ns:
            self.counters["skipped_rate"] += 1
            return []
        pos = view.position
        quiet: tuple[Ladder, float, float] | None = (ladder, pos, view.max_position)
        if pos != pos:  # NaN: the engine refuses such a position; never size from it
            pos = 0.0
        buy: list[TrackedOrder] = []
        sell: list[TrackedOrder] = []
        occ_buy: set[int] = set()
        occ_sell: set[int] = set()
        busy_buy = busy_sell = 0.0
        resting_state, done_state = OrderState.RESTING, OrderState.DONE
        debt_buy: dict[int, float] = {}
        debt_sell: dict[int, float] = {}
        for o in self.orders.by_cloid.values():
            st = o.state
            is_buy = o.side is BUY
            if o.risk and (now_ns >= o.risk_until_ns or self._fill_hwm > o.risk_ts):
                # no fill of it came for the print, although the fill stream has since
                # delivered a later fill (or a long time passed): the print was not ours
                o.risk = 0.0
                self.counters["tape_risks_expired"] += 1
            if st is resting_state:
                (buy if is_buy else sell).append(o)
                if o.level >= 0:
                    continue
            elif st is not done_state:
                if is_buy:
                    busy_buy += o.worst_size() + o.risk
                else:
                    busy_sell += o.worst_size() + o.risk
                if o.level >= 0:
                    if st in OCCUPYING:
                        (occ_buy if is_buy else occ_sell).add(o.level)
                    continue
            else:
                continue
            if o.home >= 0:
                # detached (being cancelled): until its fate is known it may still fill,
                # so its level is re-placed only with what is left of the level's size
                debt = debt_buy if is_buy else debt_sell
                debt[o.home] = debt.get(o.home, 0.0) + o.worst_size() + o.risk
        # ended orders whose fills may still be on their way (ghosts): exposure, and a debt
        # of their level (a late fill never takes a level past its size)
        for g in self._ghosts.values():
            if g.side is BUY:
                busy_buy += g.unseen
                debt = debt_buy
            else:
                busy_sell += g.unseen
                debt = debt_sell
            if g.home >= 0:
                debt[g.home] = debt.get(g.home, 0.0) + g.unseen
        maxp = view.max_position
        ops: list[tuple[Side, Op]] = []
        bid_levels, ask_levels = ladder.levels()  # the numbers: no quote objects made
        for side, resting, occupied, cap, desired, debt in (
            (BUY, buy, occ_buy, maxp - pos - busy_buy, bid_levels, debt_buy),
            (SELL, sell, occ_sell, maxp + pos - busy_sell, ask_levels, debt_sell),
        ):
            if not desired and not resting:
                continue
            side_ops = self.diff(desired, resting, occupied, cap, self.tol, debt)
            if side_ops and self.rejections.should_skip(side, now_ns):
                kept = [op for op in side_ops if op.kind is OpKind.CANCEL]
                if len(kept) != len(side_ops):
                    self.counters["skipped_backoff"] += 1
                    quiet = None  # held back, not in place
                side_ops = kept
            ops += zip(repeat(side), side_ops)
        return self._send_ops(ops, quiet, now_ns)

    def _send_ops(
        self,
        ops: list[tuple[Side, Op]],
        quiet: tuple[Ladder, float, float] | None,
        now_ns: int,
    ) -> list[Action]:
        """Send one reconcile's ops (each with its side), all or nothing, and track them;
        none: every order is in place (``quiet`` is remembered for the shortcut). Split
        from :meth:`_reconcile` so that the compiled twin sends its ops the same way."""
        if not ops:
            self._quiet = quiet
            return []
        # cancels first (they free exposure), then modifies, then places: OpKind's order
        # (a list of one kind, the common case, is already in it)
        first = ops[0][1].kind
        for _, op in ops:
            if op.kind is not first:
                ops.sort(key=_op_kind)
                break
        actions: list[Action] = []
        append = actions.append
        tif = self._tif
        rid = self._rid
        cancel_k, modify_k = OpKind.CANCEL, OpKind.MODIFY
        for side, op in ops:
            rid += 1  # request ids are taken even when the batch is then refused
            kind = op.kind
            # each action built by new_record from all its fields (module doc of
            # mmkit.core.records: what the constructor builds, without its frame)
            if kind is cancel_k:
                o = op.order
                assert o is not None
                append(new_record(Cancel, (rid, o.cloid, o.oid, False)))
            elif kind is modify_k:
                o = op.order
                assert o is not None
                append(
                    new_record(
                        Modify,
                        (rid, o.cloid, o.oid, side, op.px, op.sz, tif, o.reduce_only, op.level),
                    )
                )
            else:
                cloid = self._new_cloid()
                append(new_record(Place, (rid, cloid, side, op.px, op.sz, tif, False, op.level)))
        self._rid = rid
        if not self._permit(actions, now_ns):
            return []
        self._track_sent(ops, actions, now_ns)
        return actions

    def _track_sent(self, ops: list[tuple[Side, Op]], actions: list[Action], now_ns: int) -> None:
        """Track one reconcile's ops, sent as ``actions`` (one each, in order): the orders'
        states and in-flight requests, the new orders, the counters, the requote time."""
        self._count_sent(self._track_ops(ops, actions, actions[0].request_id, now_ns), now_ns)

    def _count_sent(self, counts: list[int], now_ns: int) -> None:
        """A reconcile's sent cancels, modifies and places (``counts``) counted, and the
        requote time marked."""
        c = self.counters
        n_cancel, n_modify, n_place = counts
        if n_cancel:
            c["cancels"] += n_cancel
        if n_modify:
            c["modifies"] += n_modify
        if n_place:
            c["places"] += n_place
        self.requote.mark(now_ns)

    def _track_ops(
        self, ops: list[tuple[Side, Op]], actions: list[Action], batch: int, now_ns: int
    ) -> list[int]:
        """Each op's order moves to its in-flight state with its request (``batch``: the
        reconcile's first request id); a PLACE makes its order. Returns how many cancels,
        modifies and places there were."""
        add = self._pending.adder()
        cancel_k, modify_k = OpKind.CANCEL, OpKind.MODIFY
        canceling, modifying = OrderState.CANCELING, OrderState.MODIFYING
        # Enum members read once (on Python 3.11 each read of an Enum class's attribute
        # costs ~65 ns: see mmkit.core.events.Kinds), not twice per order
        p_cancel, p_modify, p_place = Pending.CANCEL, Pending.MODIFY, Pending.PLACE
        new_req = new_order_request
        counts = [0, 0, 0]  # cancels, modifies, places
        for (side, op), a in zip(ops, actions, strict=True):
            kind = op.kind
            rid = a.request_id
            if kind is cancel_k:
                o = op.order
                assert o is not None
                o.state = o.state.to(canceling)
                o.level = -1
                o.req, o.pending = rid, p_cancel
                add(rid, new_req(OrderRequest, (o, p_cancel)))
                counts[0] += 1
            elif kind is modify_k:
                o = op.order
                assert o is not None
                o.state = o.state.to(modifying)
                o.new_px, o.new_sz = op.px, op.sz
                o.sent_filled = o.filled
                o.fate_seen = False
                o.batch = batch
                o.req, o.pending = rid, p_modify
                add(rid, new_req(OrderRequest, (o, p_modify)))
                counts[1] += 1
            else:
                assert isinstance(a, Place)
                o = self._order_type(
                    a.cloid,
                    side,
                    op.px,
                    op.sz,
                    op.level,
                    OrderState.PLACING,
                    placed_ns=now_ns,
                    orig_sz=op.sz,
                    home=op.level,
                    batch=batch,
                    cap=op.sz,
                )
                self.orders.add(o)
                o.req, o.pending = rid, p_place
                add(rid, new_req(OrderRequest, (o, p_place)))
                counts[2] += 1
        return counts

    # ----------------------------------------------------------------------------------
    # venue answers
    # ----------------------------------------------------------------------------------
    def _bind(self, o: TrackedOrder, oid: int | None) -> None:
        if oid is None or oid == o.oid:
            return
        self.orders.bind(o, oid)
        self.orphans.claim(oid)
        for _, f in self._unmatched.pop(oid, []):
            self._apply_fill(o, f)

    def _finish(
        self,
        o: TrackedOrder,
        *,
        requote: bool = False,
        ghost: float = 0.0,
        exact: bool = False,
        ambiguous: bool = False,
    ) -> None:
        """The order is gone. ``ghost``: size (coins) it may still have filled without our
        having seen the fill; it keeps counting as exposure and against its level until
        resolved (see :meth:`_ghost`). ``exact``: that size follows from the venue's terminal
        word (a later duplicate must not lower it again). ``ambiguous``: the venue only said
        "gone" (filled or cancelled?): a position sync is asked for to settle it."""
        was_cancel = o.state is OrderState.CANCELING
        self.orders.finish(o)
        o.risk = 0.0  # its fate is known: what it may still have filled is its ghost
        self._ghost(o, ghost, exact)
        if ambiguous and o.unseen > 0.0:
            self.sync.request(ps.UNMATCHED_FILL)
        if requote and not was_cancel:
            self._requote_needed = True

    def _ghost(self, o: TrackedOrder, size: float, exact: bool) -> None:
        """Keep an ended order as a *ghost* of ``size`` coins until its fate is known: its
        fills arrive (each lowers it), its terminal update says how much was left when it was
        cancelled, a position snapshot answering a later sync settles it, or ``ghost_ttl_s``
        passes (counted: ``ghosts_expired``)."""
        if not (size > SIZE_EPS * max(1.0, o.orig_sz)):
            o.unseen = 0.0
            self._ghosts.pop(o.cloid, None)
            return
        o.unseen = size
        o.ghost_exact = exact
        o.ghost_synced = False
        o.ghost_until_ns = self._now + self._ghost_ttl_ns
        o.ghost_rid = self._rid
        self._ghosts[o.cloid] = o
        self.counters["ghosts"] += 1

    def _ghost_settled(self, o: TrackedOrder) -> None:
        """The ghost's fate is known: its level may be quoted in full again, at once."""
        o.unseen = 0.0
        if self._ghosts.pop(o.cloid, None) is not None:
            self._requote_needed = True
            self._quiet = None

    def _fate_of(self, o: TrackedOrder) -> float:
        """Size an order ending now may have filled unseen: what was stashed from a terminal
        update seen mid-modify, else its whole believed remaining size; nothing for an order
        never bound to an oid (the venue says it does not know it: it never rested)."""
        if o.oid is None:
            return 0.0
        return o.unseen if o.fate_seen else o.sz

    def _on_result(self, r: ActionResult, now_ns: int, out: list[Action]) -> None:
        rid = r.request_id
        limited = r.reason in _RATE_LIMITED
        if limited:
            self._rate_limited(r, now_ns)
        elif r.outcome in (Outcome.RESTING, Outcome.FILLED, Outcome.CANCELED):
            self.retry.on_success()
        req = self._pending.pop(rid)
        if isinstance(req, SyncRequest):
            if r.outcome in (Outcome.REJECTED, Outcome.UNKNOWN):
                self.sync.failed(rid)
            return
        if isinstance(req, QueryRequest):
            o = req.order
            if o.query_req == rid:
                o.query_req = -1
            if (
                o.live
                and r.outcome is Outcome.REJECTED
                and r.reason is RejectReason.ORDER_GONE
                and o.state in (OrderState.UNKNOWN, OrderState.AWAITING_FATE)
            ):
                self._finish(o, requote=True, ghost=self._fate_of(o), ambiguous=True)
            return
        if isinstance(req, CancelAllRequest):
            covered = req.orders
            if r.outcome is Outcome.CANCELED:
                for o in covered:
                    if o.state is OrderState.CANCELING and o.pending is Pending.CANCEL_ALL:
                        self._finish(o, ghost=o.sz)  # its "canceled" update says the rest
            else:  # refused or unknown: retried shortly (halt); a sync tells the truth
                for o in covered:
                    if o.state is OrderState.CANCELING and o.pending is Pending.CANCEL_ALL:
                        o.state = o.state.to(OrderState.RESTING)
                        o.pending = Pending.NONE
                self._halt_sent_all = False
                self._halt_retry_ns = now_ns + self._halt_retry_delay()
                self.sync.request(ps.REJECTION)
            return
        if isinstance(req, OrphanCancel):
            oid = req.oid
            if r.outcome is Outcome.CANCELED or r.reason is RejectReason.ORDER_GONE:
                self.orphans.gone(oid)
            else:
                self.orphans.cancel_refused(oid)
            return
        if req is None:
            self.counters["stale_acks"] += 1
            return
        o, kind = req.order, req.kind
        if o.req != rid or not o.live:
            self._stale_result(o, kind, r)
            return
        if r.reason in _NOTHING_HAPPENED:
            self._revert(o, kind)
            return
        if r.outcome is Outcome.UNKNOWN:
            self.counters["unknown_outcomes"] += 1
            self.orders.unresolve(o, OrderState.UNKNOWN)
            o.query_ns = -1
            self._query(o, now_ns, out)
            return
        if kind is Pending.PLACE:
            self._place_result(o, r, now_ns)
        elif kind is Pending.MODIFY:
            self._modify_result(o, r, now_ns, out)
        else:
            self._cancel_result(o, r, now_ns)

    def _stale_result(self, o: TrackedOrder, kind: Pending, r: ActionResult) -> None:
        """An answer to an earlier action of an order that has moved on (e.g. cancelled)."""
        self.counters["stale_acks"] += 1
        acked = r.outcome in (Outcome.RESTING, Outcome.FILLED)
        if kind in (Pending.PLACE, Pending.MODIFY) and acked:
            if o.live:
                self._bind(o, r.oid)
                if r.outcome is Outcome.FILLED and o.pending is not Pending.MODIFY:
                    self._finish(o, ghost=o.sz, exact=True)  # its fills are on the way
        elif kind is Pending.PLACE and r.outcome is Outcome.REJECTED and o.live and o.oid is None:
            self._finish(o)

    def _halt_retry_delay(self) -> int:
        """Wait before re-sending a failed halt cancel: short for a kill switch."""
        emergency = self._halted is not None and self._halted.emergency
        return self._query_retry_ns // 4 if emergency else self._query_retry_ns

    def _rate_limited(self, r: ActionResult, now_ns: int) -> None:
        self.counters["rate_limited"] += 1
        if r.reason is RejectReason.RATE_LIMITED_IP:
            if r.request_id > self._retry_mark:
                self.retry.on_rate_limited(now_ns, r.message)
                self._retry_mark = self._rid
            else:  # the same 429 event: only a venue-given Retry-After may extend it
                after = parse_retry_after(r.message)
                if after is not None:
                    until = now_ns + int(min(after, self.retry.max_s) * NS_PER_S)
                    self.retry.until_ns = max(self.retry.until_ns, until)
        else:
            self.rate.mark_address_exhausted()

    def _revert(self, o: TrackedOrder, kind: Pending) -> None:
        """The venue refused the request outright: nothing happened."""
        o.pending = Pending.NONE
        if kind is Pending.PLACE:
            self._finish(o)
        else:
            o.state = o.state.to(OrderState.RESTING)

    def _reject(self, o: TrackedOrder, r: ActionResult, now_ns: int) -> None:
        """Feed the side's rejection backoff: once per reconcile batch and side (five levels
        refused together for one stale price are one failed attempt, not five), and say so
        when a side starts to be held back (never a silent stop)."""
        if not r.reason.counts_as_rejection:
            return
        self.sync.request(ps.REJECTION)
        if self._rejected_batch.get(o.side) == o.batch >= 0:
            return
        self._rejected_batch[o.side] = o.batch
        hold = self.rejections.on_rejection(o.side, now_ns)
        if hold > 0:
            self.counters["quote_holds"] += 1
            self._idle_why[o.side] = f"rejection backoff {hold:g} s ({r.reason.value})"
            log.warning(
                "%s quotes held back %.3g s after %d consecutive rejections (last: %s: %s)",
                o.side.name,
                hold,
                self.rejections.consecutive[o.side],
                r.reason.value,
                r.message[:120],
            )

    def _place_result(self, o: TrackedOrder, r: ActionResult, now_ns: int) -> None:
        o.pending = Pending.NONE
        if r.outcome is Outcome.RESTING:
            self._bind(o, r.oid)
            if o.state is OrderState.PLACING:
                o.state = o.state.to(OrderState.RESTING)
            self.rejections.on_success(o.side)
        elif r.outcome is Outcome.FILLED:
            self._bind(o, r.oid)
            self.rejections.on_success(o.side)
            self._finish(o, ghost=o.sz, exact=True)  # its fills are on the way
        else:
            self._reject(o, r, now_ns)
            self._finish(o)

    def _modify_result(
        self, o: TrackedOrder, r: ActionResult, now_ns: int, out: list[Action]
    ) -> None:
        o.pending = Pending.NONE
        if r.outcome in (Outcome.RESTING, Outcome.FILLED):
            if r.oid is not None and r.oid != o.oid:
                self._bind(o, r.oid)
                o.sz = o.new_sz
                o.ahead = 0.0
            o.cap = max(o.cap, o.new_sz)  # the venue's origSz of the replacement
            o.px = o.new_px
            o.fate_seen = False
            o.unseen = 0.0  # a stash from the old incarnation's cancel leg: not an end
            o.state = o.state.to(OrderState.RESTING)
            self.rejections.on_success(o.side)
            if r.outcome is Outcome.FILLED:
                self._finish(o, ghost=o.sz, exact=True)  # its fills are on the way
            elif o.filled > o.sent_filled + SIZE_EPS:
                # the old incarnation filled while the modify was in flight: the replacement
                # carries a stale size; recompute the remaining size at the next cycle
                self._requote_needed = True
            return
        if r.reason in (RejectReason.MODIFY_TARGET_CANCELED, RejectReason.MODIFY_TARGET_FILLED):
            self.counters["modify_failures"] += 1
            if o.fate_seen or o.sz <= SIZE_EPS:
                self._finish(o, requote=True, ghost=self._fate_of(o), exact=o.fate_seen)
            else:
                self.orders.unresolve(o, OrderState.AWAITING_FATE)
                o.query_ns = -1
                self._query(o, now_ns, out)
            return
        if r.reason is RejectReason.MODIFY_PLACE_FAILED:
            self.counters["modify_failures"] += 1
            self._reject(o, r, now_ns)
            self._finish(o, requote=True, ghost=self._fate_of(o), exact=o.fate_seen)
            return
        # refused before its cancel leg: the original still rests unchanged
        self._reject(o, r, now_ns)
        if o.fate_seen:
            self._finish(o, requote=True, ghost=o.unseen, exact=True)
        else:
            o.state = o.state.to(OrderState.RESTING)

    def _cancel_result(self, o: TrackedOrder, r: ActionResult, now_ns: int) -> None:
        o.pending = Pending.NONE
        if r.outcome is Outcome.CANCELED:
            self._finish(o, ghost=o.sz)  # its "canceled" update says what was left
        elif r.reason is RejectReason.ORDER_GONE:  # filled or cancelled before: unknown
            self._finish(o, ghost=o.sz, ambiguous=True)
        else:
            # detached (level -1): cancelled again next cycle
            o.state = o.state.to(OrderState.RESTING)
            if self._halted is not None:
                self._halt_retry_ns = now_ns + self._halt_retry_delay()

    # ----------------------------------------------------------------------------------
    def _on_update(self, u: OrderUpdate, now_ns: int) -> None:
        if u.raw_status == "unknownOid":  # a query's answer: the venue has no such order
            o = self.orders.find(u.oid if u.oid >= 0 else None, u.cloid)
            if o is not None and o.state in (OrderState.UNKNOWN, OrderState.AWAITING_FATE):
                self._finish(o, requote=True, ghost=self._fate_of(o), ambiguous=True)
            return
        o = self.orders.find(u.oid, u.cloid)
        if o is None or not o.live:
            if o is not None and o.unseen > 0.0:
                self._ghost_word(o, u)
            if u.status is OrderStatus.OPEN and u.oid not in self.orders.by_oid:
                self.orphans.saw(u.oid, u.cloid, u.ts, now_ns)
            elif u.status in _TERMINAL:
                self.orphans.gone(u.oid)
            return
        if self.orders.is_retired(o, u.oid):
            return  # a late word on an old incarnation never ends the live order
        modifying = o.pending is Pending.MODIFY and o.state in (
            OrderState.MODIFYING,
            OrderState.UNKNOWN,
        )
        if u.status is OrderStatus.OPEN:
            if o.state is OrderState.AWAITING_FATE and u.oid == o.oid:
                return  # stale: the venue already said this incarnation is gone
            new_incarnation = o.oid is not None and u.oid != o.oid
            self._bind(o, u.oid)
            o.px = u.px
            o.known_ts = max(o.known_ts, u.ts)  # its state as of then (prints before: no news)
            if math.isfinite(u.orig_sz) and u.orig_sz > 0.0:
                o.cap = max(o.cap, u.orig_sz)
            if new_incarnation or o.state in (OrderState.PLACING, OrderState.UNKNOWN):
                o.sz = u.sz
                o.ahead = 0.0
            else:
                self._venue_remaining(o, u.sz, None)
                o.sz = min(o.sz, u.sz)
            if o.state in (OrderState.PLACING, OrderState.UNKNOWN) or (
                new_incarnation and (modifying or o.state is OrderState.AWAITING_FATE)
            ):
                o.state = o.state.to(OrderState.RESTING)
                o.pending = Pending.NONE
                o.fate_seen = False
            return
        if u.status not in _TERMINAL:
            return
        if o.oid is None:
            self._bind(o, u.oid)
        if u.oid != o.oid:
            if not (modifying or o.state is OrderState.AWAITING_FATE):
                return  # terminal word on an incarnation we never bound: nothing to end
            # the cloid's newest incarnation is the modify's replacement (its answer lost or
            # late), and it has already ended: the order ends with it (its fills, if any,
            # are on their way: a ghost of its unseen size)
            o.sz, o.px = o.new_sz, o.new_px
            self._bind(o, u.oid)  # retires the old oid; applies fills that waited for it
            if o.live:
                self._finish(o, requote=True, ghost=self._unseen_at_end(o, u), exact=True)
            return
        if modifying:
            if o.state is OrderState.UNKNOWN and o.fate_seen:
                # the query's answer: no newer incarnation
                self._finish(o, requote=True, ghost=o.unseen, exact=True)
                return
            o.fate_seen = True  # the modify's cancel leg (or the target's own end)
            o.unseen = self._unseen_at_end(o, u)  # stashed until we know which it was
            o.sz = 0.0
            return
        unseen = self._unseen_at_end(o, u)
        self._finish(
            o,
            requote=o.state is not OrderState.CANCELING,
            ghost=unseen,
            exact=True,
            ambiguous=u.status is OrderStatus.OTHER_CANCELED and unseen > 0.0,
        )

    @staticmethod
    def _unseen_at_end(o: TrackedOrder, u: OrderUpdate) -> float:
        """Coins an order ending with update ``u`` filled that we have not seen yet.

        ``filled``: all that was left (its fills are on the way). ``canceled``/``rejected``:
        what we think is left minus what the venue says was left. A ``nonUserCancel``
        synthesized without the remaining size (0) is taken at its worst: all of it."""
        if u.status is OrderStatus.FILLED:
            return o.sz
        if u.status is OrderStatus.OTHER_CANCELED and not u.sz > 0.0:
            return o.sz
        left = u.sz if math.isfinite(u.sz) and u.sz >= 0.0 else 0.0
        return max(0.0, o.sz - left)

    def _ghost_word(self, o: TrackedOrder, u: OrderUpdate) -> None:
        """A venue word on an ended order with a ghost: a terminal update of its last
        incarnation says how much of the ghost was really left when it was cancelled."""
        if o.ghost_exact or u.oid != o.oid or u.status not in _TERMINAL:
            return
        o.ghost_exact = True
        if u.status is OrderStatus.FILLED:
            return  # its fills are on the way: the ghost stays until they arrive
        if u.status is OrderStatus.OTHER_CANCELED and not u.sz > 0.0:
            return  # no remaining size given: a snapshot or the time limit settles it
        left = u.sz if math.isfinite(u.sz) and u.sz >= 0.0 else 0.0
        o.unseen = max(0.0, o.unseen - left)
        if o.unseen <= SIZE_EPS * max(1.0, o.orig_sz):
            self._ghost_settled(o)

    # ----------------------------------------------------------------------------------
    def _on_fill(self, f: OwnFill, now_ns: int) -> None:
        if not (math.isfinite(f.sz) and math.isfinite(f.px) and f.sz > 0 and f.px > 0):
            return
        if f.ts > self._fill_hwm:
            self._fill_hwm = f.ts
        self.sync.on_fill(float(f.side) * f.sz, f.ts)
        usd = f.px * f.sz
        self.budget.earn_fill(usd)
        self.rate.on_fill_volume(usd)
        o = self.orders.find(f.oid, f.cloid)
        if o is None:
            if f.oid != 0:  # oid-0 fills are de-duplication artefacts
                self._unmatched.setdefault(f.oid, []).append((now_ns, f))
            return
        self._apply_fill(o, f)

    @staticmethod
    def _take(o: TrackedOrder, sz: float) -> None:
        """A fill of ``sz`` coins of ``o``'s live incarnation: its remaining size drops,
        except by what a venue report already took off (``ahead``: never twice)."""
        took = min(sz, o.ahead)
        o.ahead -= took
        o.sz -= sz - took

    def _venue_remaining(self, o: TrackedOrder, left: float, rid_s: int | None) -> None:
        """The venue says ``left`` coins of ``o``'s live incarnation rest (an ``open`` update
        or an open-orders snapshot). Less than we believe means fills we have not seen yet:
        they count as ``risk`` (and ``ahead``) until they arrive. A snapshot answering a
        request sent after the tape raised the risk on this incarnation settles it."""
        if not (math.isfinite(left) and left >= 0.0):
            return
        unseen = o.sz - left
        tol = SIZE_EPS * max(1.0, o.cap)
        if rid_s is not None and o.risk > 0.0 and o.risk_rid < rid_s and o.risk_oid == o.oid:
            o.risk = o.ahead  # what the venue has taken off already and we have not seen
        if unseen <= tol:
            return
        o.ahead += unseen
        o.risk = max(o.risk, o.ahead)
        o.risk_until_ns = max(o.risk_until_ns, self._now + self._ghost_ttl_ns)
        o.risk_ts = max(o.risk_ts, o.known_ts)
        o.risk_rid = self._rid
        o.risk_oid = o.oid

    def _apply_fill(self, o: TrackedOrder, f: OwnFill) -> None:
        o.filled += f.sz
        o.known_ts = max(o.known_ts, f.ts)
        if o.risk > 0.0:  # the fill the tape warned of (or part of it) is in
            o.risk = max(0.0, o.risk - f.sz)
            if o.risk <= SIZE_EPS * max(1.0, o.cap):
                o.risk = 0.0
        if not o.live:
            if o.unseen > 0.0:  # a late fill of an ended order: that much of its ghost is real
                o.unseen -= f.sz
                if o.unseen <= SIZE_EPS * max(1.0, o.orig_sz):
                    self._ghost_settled(o)
            return
        if self.orders.is_retired(o, f.oid):
            # an old incarnation's fill (it raced the modify): the live order's remaining is
            # unaffected, but the cloid has filled more than its replacement was sized for:
            # shrink it at the very next reconcile
            self._requote_needed = True
            return
        if o.oid is None or f.oid == o.oid:
            self._bind(o, f.oid)
            self._take(o, f.sz)
        elif o.pending is Pending.MODIFY:  # the replacement filled before the modify's ack
            self._bind(o, f.oid)
            o.px = o.new_px
            o.cap = max(o.cap, o.new_sz)
            o.sz = o.new_sz - f.sz
            o.ahead = 0.0
            o.state = o.state.to(OrderState.RESTING)
            o.pending = Pending.NONE
            o.fate_seen = False
        else:
            self._bind(o, f.oid)
            self._take(o, f.sz)
        if o.sz > SIZE_EPS * max(1.0, o.orig_sz):
            return
        o.sz = 0.0
        if o.state in (OrderState.RESTING, OrderState.PLACING, OrderState.AWAITING_FATE):
            self._finish(o, requote=True)
        elif o.pending is Pending.MODIFY:
            o.fate_seen = True

    # ----------------------------------------------------------------------------------
    def _on_snapshot(self, s: PositionSnapshot, now_ns: int) -> None:
        answered = self.sync.answered(s.position, now_ns, s.ts)
        if answered is not None:
            self._pending.discard_sync(answered[0])
            # the venue's position answering a request sent after a ghost was made holds
            # whatever that order filled: the ghost is settled
            for g in [g for g in self._ghosts.values() if g.ghost_rid < answered[0]]:
                self._ghost_settled(g)
        startup = not self.startup.done and s.open_orders is not None
        if s.open_orders is None:
            return
        rid_s = answered[0] if answered is not None else None
        adopted, cancelled = self._authoritative_orders(s.open_orders, rid_s, now_ns, startup)
        if startup:
            self.startup.complete(len(s.open_orders), s.position, adopted, cancelled)

    def _authoritative_orders(
        self, venue: tuple[OpenOrder, ...], rid_s: int | None, now_ns: int, startup: bool
    ) -> tuple[int, int]:
        """Make our tracker agree with the venue's open orders (the exchange is authoritative)."""
        seen: set[str] = set()
        adopted: list[TrackedOrder] = []
        cancelled = 0
        for vo in venue:
            o = self.orders.find(vo.oid, vo.cloid)
            if o is not None and o.live:
                seen.add(o.cloid)
                if self.orders.is_retired(o, vo.oid):
                    continue
                if o.state is OrderState.AWAITING_FATE:
                    continue
                unchanged = vo.oid == o.oid
                if o.state in (OrderState.MODIFYING, OrderState.CANCELING) and unchanged:
                    if rid_s is None or o.req > rid_s:
                        continue  # the snapshot predates the modify / cancel
                    # sent before the snapshot, yet the order rests unchanged: that answer
                    # was lost or refused. Rest it again; a cancel is re-sent next cycle.
                    o.state = o.state.to(OrderState.RESTING)
                    o.pending = Pending.NONE
                if unchanged:
                    self._venue_remaining(o, vo.sz, rid_s)
                else:
                    o.ahead = 0.0
                self._bind(o, vo.oid)
                o.px, o.sz = vo.px, vo.sz
                if math.isfinite(vo.orig_sz) and vo.orig_sz > 0.0:
                    o.cap = max(o.cap, vo.orig_sz)
                if o.state in (OrderState.PLACING, OrderState.UNKNOWN, OrderState.MODIFYING):
                    o.state = o.state.to(OrderState.RESTING)
                    o.pending = Pending.NONE
                continue
            if startup and self.startup.policy == "adopt":
                cloid = vo.cloid if vo.cloid is not None else self._new_cloid()
                o = self._order_type(
                    cloid,
                    vo.side,
                    vo.px,
                    vo.sz,
                    -1,
                    OrderState.RESTING,
                    oid=vo.oid,
                    placed_ns=vo.ts,
                    orig_sz=vo.orig_sz,
                    adopted=True,
                    cap=max(vo.orig_sz, vo.sz) if math.isfinite(vo.orig_sz) else vo.sz,
                    # what a predecessor already filled of it counts against its size
                    filled=max(0.0, vo.orig_sz - vo.sz) if math.isfinite(vo.orig_sz) else 0.0,
                )
                self.orders.add(o)
                adopted.append(o)
                seen.add(cloid)
            elif startup:
                self.orphans.saw(vo.oid, vo.cloid, now_ns - self.orphans.grace_ns, now_ns)
                cancelled += 1
            else:
                self.orphans.saw(vo.oid, vo.cloid, vo.ts, now_ns)
        for side in _SIDES:  # adopted orders take the best free levels of their side
            mine = sorted(
                (o for o in adopted if o.side is side),
                key=lambda o: -o.px if side is BUY else o.px,
            )
            for i, o in enumerate(mine):
                o.level = o.home = i
        for o in self.orders.live():
            if o.cloid in seen:
                continue
            judged = (o.req < rid_s) if rid_s is not None else (o.pending is Pending.NONE)
            if judged:
                self._finish(o, requote=True)
        return len(adopted), cancelled


def build(ctx: BuildContext[SmartExecutorParams]) -> SmartExecutor:
    return SmartExecutor(ctx.params, ctx.instrument, ctx.seed)
