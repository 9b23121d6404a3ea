"""The ``smart`` executor: smart reconciliation with every execution safety of seed §4-7.

Flow of one call (``on_event``, ``reconcile`` or ``halt``):

1. **startup**: the very first action is ``SyncState("startup")``; nothing is quoted until
   its snapshot arrives; unknown open orders are then cancelled or adopted;
2. **events**: acknowledgements, order updates, fills and snapshots update the order
   tracker (cloid-keyed, oid rebinding on MODIFY, retired oids never end the live order);
3. **service**: unresolved orders are queried (an UNKNOWN outcome is never retried blind),
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

import math
from typing import Any

from mmkit.components import EMPTY_LADDER, GateDecision, Ladder, View
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
    EventKind,
    OpenOrder,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    TradeBatch,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side, Tif
from mmkit.execution import position_sync as ps
from mmkit.execution.backoff import RejectionBackoff, RetryBackoff
from mmkit.execution.budget import ExecutionBudget
from mmkit.execution.orders import OCCUPYING, SIZE_EPS, OrderState, OrderTracker, TrackedOrder
from mmkit.execution.orphans import OrphanTracker
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.position_sync import PositionSync
from mmkit.execution.rate_limit import RateTracker, RequoteInterval
from mmkit.execution.reconciler import CANCEL, MODIFY, PLACE, Op, Tolerances, diff_side
from mmkit.execution.startup import StartupState
from mmkit.registry import BuildContext

_RATE_LIMITED = (RejectReason.RATE_LIMITED_IP, RejectReason.RATE_LIMITED_ADDRESS)
_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.OTHER_CANCELED}
)
_SIDES = (Side.BUY, Side.SELL)
#: market data runs the periodic duties (queries, orphan cancels, due syncs) at most this
#: often; every order event, reconcile and halt runs them at once
_MARKET_SERVICE_GAP_NS = 10 * NS_PER_MS
#: the events that change what the executor knows of its orders
_ORDER_EVENTS = frozenset(
    {
        EventKind.ACTION_RESULT,
        EventKind.ORDER_UPDATE,
        EventKind.OWN_FILL,
        EventKind.POSITION_SNAPSHOT,
    }
)


class SmartExecutor:
    """See the module docstring. Introspection for audits: :meth:`open_orders`,
    :meth:`status`, :meth:`exhaust_budget`."""

    provides = frozenset({"open_orders", "budget", "status"})

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
        self._rid = 0
        self._cloid_base = 0
        self._cloid_n = 0
        self._now = 0
        self._desired: Ladder = EMPTY_LADDER
        self._halted: GateDecision | None = None
        self._halt_sent_all = False
        self._halt_retry_ns = -1  # a failed halt cancel is retried from then on
        self._requote_needed = False
        # the time of the last on_event's service pass: reconcile() in the same engine step
        # does not repeat it
        self._serviced_ns = -1
        # (ladder, position, max position) of the last reconcile that found every order in
        # place; the same inputs with no order event since give the same (empty) answer
        self._quiet: tuple[Ladder, float, float] | None = None
        self._cancel_all: dict[int, list[TrackedOrder]] = {}
        self._queries: dict[int, TrackedOrder] = {}
        self._sync_reqs: set[int] = set()
        self._orphan_cancels: dict[int, int] = {}
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
            "halt_blocked": 0,
        }

    # ----------------------------------------------------------------------------------
    # the Executor protocol
    # ----------------------------------------------------------------------------------
    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        out: list[Action] = []
        kind = event.kind
        if kind.is_market_data:
            self._on_market_data(view, now_ns, out)
            return out
        self._begin(now_ns, out)
        if kind in _ORDER_EVENTS:
            self._quiet = None  # the orders may have changed: the next reconcile diffs again
            if kind is EventKind.ACTION_RESULT:
                assert isinstance(event, ActionResult)
                self._on_result(event, now_ns, out)
            elif kind is EventKind.ORDER_UPDATE:
                assert isinstance(event, OrderUpdate)
                self._on_update(event, now_ns)
            elif kind is EventKind.OWN_FILL:
                assert isinstance(event, OwnFill)
                self._on_fill(event, now_ns)
            else:
                assert isinstance(event, PositionSnapshot)
                self._on_snapshot(event, now_ns)
        self._service(view, now_ns, out)
        self._serviced_ns = now_ns
        return out

    def on_trades(self, batch: TradeBatch, view: View, now_ns: int) -> list[Action]:
        """Market trades carry nothing for the orders: a batch is one market-data event at
        its last row's time (servicing on its earlier rows would only stamp the same
        actions, sent together after the batch, with earlier times)."""
        out: list[Action] = []
        self._on_market_data(view, now_ns, out)
        return out

    def _on_market_data(self, view: View, now_ns: int, out: list[Action]) -> None:
        self._begin(now_ns, out)
        if now_ns - self._serviced_ns >= _MARKET_SERVICE_GAP_NS:
            # market data alone changes no order: service at most every 10 ms
            self._service(view, now_ns, out)
            self._serviced_ns = now_ns

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        out: list[Action] = []
        self._begin(now_ns, out)
        if self._serviced_ns != now_ns:
            self._service(view, now_ns, out)
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
        return out

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        out: list[Action] = []
        self._begin(now_ns, out)
        self._quiet = None
        self._halted = decision
        self._desired = EMPTY_LADDER
        self._requote_needed = False
        self._service(view, now_ns, out)
        emergency = decision.emergency
        if not self.startup.done and not emergency:
            return out  # nothing of ours rests yet; the startup policy handles the rest
        live = self.orders.live()
        if now_ns < self._halt_retry_ns:
            return out  # the last halt cancel failed: do not hammer the venue
        if not self._halt_sent_all:
            a = CancelAll(self._next_rid(), reason=decision.describe(), emergency=emergency)
            if self._permit([a], now_ns, emergency=emergency):
                out.append(a)
                self.counters["cancel_alls"] += 1
                self._halt_sent_all = True
                for o in live:  # an earlier action's answer is now stale for these
                    o.state = OrderState.CANCELING
                    o.level = -1
                    o.pending = "cancel_all"
                    o.req = a.request_id
                self._cancel_all[a.request_id] = live
            else:
                self.counters["halt_blocked"] += 1
            return out
        for o in live:
            if o.state in (OrderState.CANCELING, OrderState.UNKNOWN, OrderState.AWAITING_FATE):
                continue  # being cancelled, or being resolved by query first
            c = Cancel(self._next_rid(), o.cloid, o.oid, emergency=emergency)
            if not self._permit([c], now_ns, emergency=emergency):
                self.counters["halt_blocked"] += 1
                break
            out.append(c)
            self.counters["cancels"] += 1
            o.state = OrderState.CANCELING
            o.level = -1
            self.orders.track_request(c.request_id, o, "cancel")
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
        out["startup"] = self.startup.message
        return out

    # ----------------------------------------------------------------------------------
    # sending
    # ----------------------------------------------------------------------------------
    def _next_rid(self) -> int:
        self._rid += 1
        return self._rid

    def _new_cloid(self) -> str:
        self._cloid_n += 1
        return make_cloid(self._cloid_base | (self._cloid_n & 0xFFFF_FFFF))

    def _permit(self, actions: list[Action], now_ns: int, *, emergency: bool = False) -> bool:
        """Rate tracker, 429 backoff and budget: all of ``actions`` or none of them."""
        if not emergency and self.retry.active(now_ns):
            self.counters["skipped_rate"] += 1
            return False
        weighed = self.rate.weigh(actions)
        if not self.rate.allows(actions, now_ns, emergency=emergency, weighed=weighed):
            self.counters["skipped_rate"] += 1
            return False
        n_orders = weighed[1]
        if n_orders and not self.budget.spend(n_orders, now_ns, emergency=emergency):
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
        self._sync_reqs.add(a.request_id)
        self.sync.sent(a.request_id, reason, now_ns)

    def _query(self, o: TrackedOrder, now_ns: int, out: list[Action]) -> None:
        by_cloid = o.pending == "modify" or o.oid is None
        q = QueryOrder(self._next_rid(), o.cloid, None if by_cloid else o.oid)
        o.query_ns = now_ns
        if not self._permit([q], now_ns):
            return
        out.append(q)
        self.counters["queries"] += 1
        o.query_req = q.request_id
        self._queries[q.request_id] = o

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
        unresolved = (OrderState.UNKNOWN, OrderState.AWAITING_FATE)
        for o in self.orders.by_cloid.values():
            if o.state in unresolved and (
                o.query_ns < 0 or now_ns - o.query_ns >= self._query_retry_ns
            ):
                self._query(o, now_ns, out)
        if self._unmatched:
            for oid in list(self._unmatched):
                fills = self._unmatched[oid]
                if now_ns - fills[0][0] >= self._fill_grace_ns:
                    del self._unmatched[oid]
                    self.counters["unmatched_fills"] += len(fills)
                    self.sync.request(ps.UNMATCHED_FILL)
        emergency = self._halted is not None and self._halted.emergency
        for orphan in self.orphans.due(now_ns):
            c = Cancel(self._next_rid(), orphan.cloid, orphan.oid, emergency=emergency)
            if not self._permit([c], now_ns, emergency=emergency):
                break
            out.append(c)
            self.counters["cancels"] += 1
            orphan.cancel_sent = True
            self._orphan_cancels[c.request_id] = orphan.oid
        reason = self.sync.due(now_ns, view.position, view.max_position)
        if reason is not None:
            self._send_sync(reason, now_ns, out)
        self.orders.prune_oids()

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
        for o in self.orders.by_cloid.values():
            st = o.state
            is_buy = o.side is Side.BUY
            if st is resting_state:
                (buy if is_buy else sell).append(o)
            elif st is not done_state:
                if is_buy:
                    busy_buy += o.worst_size()
                else:
                    busy_sell += o.worst_size()
                if st in OCCUPYING and o.level >= 0:
                    (occ_buy if is_buy else occ_sell).add(o.level)
        maxp = view.max_position
        ops: list[tuple[Side, Op]] = []
        for side, resting, occupied, cap, desired in (
            (Side.BUY, buy, occ_buy, maxp - pos - busy_buy, ladder.bids),
            (Side.SELL, sell, occ_sell, maxp + pos - busy_sell, ladder.asks),
        ):
            if not desired and not resting:
                continue
            side_ops = diff_side(desired, resting, occupied, cap, self.tol)
            if side_ops and self.rejections.should_skip(side, now_ns):
                kept = [op for op in side_ops if op.kind == CANCEL]
                if len(kept) != len(side_ops):
                    self.counters["skipped_backoff"] += 1
                    quiet = None  # held back, not in place
                side_ops = kept
            for op in side_ops:
                ops.append((side, op))
        if not ops:
            self._quiet = quiet
            return []
        # cancels first (they free exposure), then modifies, then places
        ops.sort(key=lambda so: 0 if so[1].kind == CANCEL else so[1].kind)
        actions: list[Action] = []
        new_cloids: list[str] = []
        for side, op in ops:
            rid = self._next_rid()
            if op.kind == CANCEL:
                assert op.order is not None
                actions.append(Cancel(rid, op.order.cloid, op.order.oid))
            elif op.kind == MODIFY:
                assert op.order is not None
                o = op.order
                actions.append(
                    Modify(
                        rid, o.cloid, o.oid, side, op.px, op.sz, self._tif, o.reduce_only, op.level
                    )
                )
            else:
                cloid = self._new_cloid()
                new_cloids.append(cloid)
                actions.append(Place(rid, cloid, side, op.px, op.sz, self._tif, False, op.level))
        if not self._permit(actions, now_ns):
            return []
        for (side, op), a in zip(ops, actions, strict=True):
            if op.kind == CANCEL:
                assert op.order is not None
                o = op.order
                o.state = OrderState.CANCELING
                o.level = -1
                self.orders.track_request(a.request_id, o, "cancel")
                self.counters["cancels"] += 1
            elif op.kind == MODIFY:
                assert op.order is not None
                o = op.order
                o.state = OrderState.MODIFYING
                o.new_px, o.new_sz = op.px, op.sz
                o.sent_filled = o.filled
                o.fate_seen = False
                self.orders.track_request(a.request_id, o, "modify")
                self.counters["modifies"] += 1
            elif op.kind == PLACE:
                assert isinstance(a, Place)
                o = TrackedOrder(
                    a.cloid,
                    side,
                    op.px,
                    op.sz,
                    op.level,
                    OrderState.PLACING,
                    placed_ns=now_ns,
                    orig_sz=op.sz,
                )
                self.orders.add(o)
                self.orders.track_request(a.request_id, o, "place")
                self.counters["places"] += 1
        self.requote.mark(now_ns)
        return actions

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

    def _finish(self, o: TrackedOrder, *, requote: bool = False) -> None:
        was_cancel = o.state is OrderState.CANCELING
        self.orders.finish(o)
        if requote and not was_cancel:
            self._requote_needed = True

    def _on_result(self, r: ActionResult, now_ns: int, out: list[Action]) -> None:
        rid = r.request_id
        limited = r.reason in _RATE_LIMITED
        if limited:
            self._rate_limited(r, now_ns)
        elif r.outcome in (Outcome.RESTING, Outcome.FILLED, Outcome.CANCELED):
            self.retry.on_success()
        if rid in self._sync_reqs:
            self._sync_reqs.discard(rid)
            if r.outcome in (Outcome.REJECTED, Outcome.UNKNOWN):
                self.sync.failed(rid)
            return
        if rid in self._queries:
            o = self._queries.pop(rid)
            if o.query_req == rid:
                o.query_req = -1
            if (
                o.live
                and r.outcome is Outcome.REJECTED
                and r.reason is RejectReason.ORDER_GONE
                and o.state in (OrderState.UNKNOWN, OrderState.AWAITING_FATE)
            ):
                self._finish(o, requote=True)
            return
        if rid in self._cancel_all:
            covered = self._cancel_all.pop(rid)
            if r.outcome is Outcome.CANCELED:
                for o in covered:
                    if o.state is OrderState.CANCELING and o.pending == "cancel_all":
                        self._finish(o)
            else:  # refused or unknown: retried shortly (halt); a sync tells the truth
                for o in covered:
                    if o.state is OrderState.CANCELING and o.pending == "cancel_all":
                        o.state = OrderState.RESTING
                        o.pending = ""
                self._halt_sent_all = False
                self._halt_retry_ns = now_ns + self._halt_retry_delay()
                self.sync.request(ps.REJECTION)
            return
        if rid in self._orphan_cancels:
            oid = self._orphan_cancels.pop(rid)
            if r.outcome is Outcome.CANCELED or r.reason is RejectReason.ORDER_GONE:
                self.orphans.gone(oid)
            else:
                self.orphans.cancel_refused(oid)
            return
        entry = self.orders.by_req.pop(rid, None)
        if entry is None:
            self.counters["stale_acks"] += 1
            return
        o, kind = entry
        if o.req != rid or not o.live:
            self._stale_result(o, kind, r)
            return
        if limited:
            self._revert(o, kind)
            return
        if r.outcome is Outcome.UNKNOWN:
            self.counters["unknown_outcomes"] += 1
            o.state = OrderState.UNKNOWN
            o.query_ns = -1
            self._query(o, now_ns, out)
            return
        if kind == "place":
            self._place_result(o, r, now_ns)
        elif kind == "modify":
            self._modify_result(o, r, now_ns, out)
        else:
            self._cancel_result(o, r, now_ns)

    def _stale_result(self, o: TrackedOrder, kind: str, r: ActionResult) -> None:
        """An answer to an earlier action of an order that has moved on (e.g. cancelled)."""
        self.counters["stale_acks"] += 1
        if kind in ("place", "modify") and r.outcome in (Outcome.RESTING, Outcome.FILLED):
            if o.live:
                self._bind(o, r.oid)
                if r.outcome is Outcome.FILLED and o.pending != "modify":
                    self._finish(o)
        elif kind == "place" and r.outcome is Outcome.REJECTED and o.live and o.oid is None:
            self._finish(o)

    def _halt_retry_delay(self) -> int:
        """Wait before re-sending a failed halt cancel: short for a kill switch."""
        emergency = self._halted is not None and self._halted.emergency
        return self._query_retry_ns // 4 if emergency else self._query_retry_ns

    def _rate_limited(self, r: ActionResult, now_ns: int) -> None:
        self.counters["rate_limited"] += 1
        if r.reason is RejectReason.RATE_LIMITED_IP:
            self.retry.on_rate_limited(now_ns, r.message)
        else:
            self.rate.mark_address_exhausted()

    def _revert(self, o: TrackedOrder, kind: str) -> None:
        """The venue refused the request outright: nothing happened."""
        o.pending = ""
        if kind == "place":
            self._finish(o)
        else:
            o.state = OrderState.RESTING

    def _reject(self, o: TrackedOrder, r: ActionResult, now_ns: int) -> None:
        if r.reason.counts_as_rejection:
            self.rejections.on_rejection(o.side, now_ns)
            self.sync.request(ps.REJECTION)

    def _place_result(self, o: TrackedOrder, r: ActionResult, now_ns: int) -> None:
        o.pending = ""
        if r.outcome is Outcome.RESTING:
            self._bind(o, r.oid)
            if o.state is OrderState.PLACING:
                o.state = OrderState.RESTING
            self.rejections.on_success(o.side)
        elif r.outcome is Outcome.FILLED:
            self._bind(o, r.oid)
            self.rejections.on_success(o.side)
            self._finish(o)
        else:
            self._reject(o, r, now_ns)
            self._finish(o)

    def _modify_result(
        self, o: TrackedOrder, r: ActionResult, now_ns: int, out: list[Action]
    ) -> None:
        o.pending = ""
        if r.outcome in (Outcome.RESTING, Outcome.FILLED):
            if r.oid is not None and r.oid != o.oid:
                self._bind(o, r.oid)
                o.sz = o.new_sz
            o.px = o.new_px
            o.fate_seen = False
            o.state = OrderState.RESTING
            self.rejections.on_success(o.side)
            if r.outcome is Outcome.FILLED:
                self._finish(o)
            elif o.filled > o.sent_filled + SIZE_EPS:
                # the old incarnation filled while the modify was in flight: the replacement
                # carries a stale size; recompute the remaining size at the next cycle
                self._requote_needed = True
            return
        if r.reason in (RejectReason.MODIFY_TARGET_CANCELED, RejectReason.MODIFY_TARGET_FILLED):
            self.counters["modify_failures"] += 1
            if o.fate_seen or o.sz <= SIZE_EPS:
                self._finish(o, requote=True)
            else:
                o.state = OrderState.AWAITING_FATE
                o.query_ns = -1
                self._query(o, now_ns, out)
            return
        if r.reason is RejectReason.MODIFY_PLACE_FAILED:
            self.counters["modify_failures"] += 1
            self._reject(o, r, now_ns)
            self._finish(o, requote=True)
            return
        # refused before its cancel leg: the original still rests unchanged
        self._reject(o, r, now_ns)
        if o.fate_seen:
            self._finish(o, requote=True)
        else:
            o.state = OrderState.RESTING

    def _cancel_result(self, o: TrackedOrder, r: ActionResult, now_ns: int) -> None:
        o.pending = ""
        if r.outcome is Outcome.CANCELED or r.reason is RejectReason.ORDER_GONE:
            self._finish(o)
        else:
            o.state = OrderState.RESTING  # detached (level -1): cancelled again next cycle
            if self._halted is not None:
                self._halt_retry_ns = now_ns + self._halt_retry_delay()

    # ----------------------------------------------------------------------------------
    def _on_update(self, u: OrderUpdate, now_ns: int) -> None:
        if u.raw_status == "unknownOid":  # a query's answer: the venue has no such order
            o = self.orders.find(u.oid if u.oid >= 0 else None, u.cloid)
            if o is not None and o.state in (OrderState.UNKNOWN, OrderState.AWAITING_FATE):
                self._finish(o, requote=True)
            return
        o = self.orders.find(u.oid, u.cloid)
        if o is None or not o.live:
            if u.status is OrderStatus.OPEN and u.oid not in self.orders.by_oid:
                self.orphans.saw(u.oid, u.cloid, u.ts, now_ns)
            elif u.status in _TERMINAL:
                self.orphans.gone(u.oid)
            return
        if self.orders.is_retired(o, u.oid):
            return  # a late word on an old incarnation never ends the live order
        modifying = o.pending == "modify" and o.state in (OrderState.MODIFYING, OrderState.UNKNOWN)
        if u.status is OrderStatus.OPEN:
            if o.state is OrderState.AWAITING_FATE and u.oid == o.oid:
                return  # stale: the venue already said this incarnation is gone
            new_incarnation = o.oid is not None and u.oid != o.oid
            self._bind(o, u.oid)
            o.px = u.px
            if new_incarnation or o.state in (OrderState.PLACING, OrderState.UNKNOWN):
                o.sz = u.sz
            else:
                o.sz = min(o.sz, u.sz)
            if o.state in (OrderState.PLACING, OrderState.UNKNOWN) or (
                modifying and new_incarnation
            ):
                o.state = OrderState.RESTING
                o.pending = ""
                o.fate_seen = False
            return
        if u.status not in _TERMINAL:
            return
        if o.oid is None:
            self._bind(o, u.oid)
        if u.oid != o.oid:
            return  # terminal word on an incarnation we never bound: nothing to end
        if modifying:
            if o.state is OrderState.UNKNOWN and o.fate_seen:
                self._finish(o, requote=True)  # the query's answer: no newer incarnation
                return
            o.fate_seen = True  # the modify's cancel leg (or the target's own end)
            o.sz = 0.0
            return
        self._finish(o, requote=o.state is not OrderState.CANCELING)

    # ----------------------------------------------------------------------------------
    def _on_fill(self, f: OwnFill, now_ns: int) -> None:
        if not (math.isfinite(f.sz) and math.isfinite(f.px) and f.sz > 0 and f.px > 0):
            return
        self.sync.on_fill(float(f.side) * f.sz)
        usd = f.px * f.sz
        self.budget.earn_fill(usd)
        self.rate.on_fill_volume(usd)
        o = self.orders.find(f.oid, f.cloid)
        if o is None:
            if f.oid != 0:  # oid-0 fills are de-duplication artefacts
                self._unmatched.setdefault(f.oid, []).append((now_ns, f))
            return
        self._apply_fill(o, f)

    def _apply_fill(self, o: TrackedOrder, f: OwnFill) -> None:
        o.filled += f.sz
        if not o.live or self.orders.is_retired(o, f.oid):
            return  # an old incarnation's fill: the live order's remaining is unaffected
        if o.oid is None or f.oid == o.oid:
            self._bind(o, f.oid)
            o.sz -= f.sz
        elif o.pending == "modify":  # the replacement filled before the modify's ack
            self._bind(o, f.oid)
            o.px = o.new_px
            o.sz = o.new_sz - f.sz
            o.state = OrderState.RESTING
            o.pending = ""
            o.fate_seen = False
        else:
            self._bind(o, f.oid)
            o.sz -= f.sz
        if o.sz > SIZE_EPS * max(1.0, o.orig_sz):
            return
        o.sz = 0.0
        if o.state in (OrderState.RESTING, OrderState.PLACING, OrderState.AWAITING_FATE):
            self._finish(o, requote=True)
        elif o.pending == "modify":
            o.fate_seen = True

    # ----------------------------------------------------------------------------------
    def _on_snapshot(self, s: PositionSnapshot, now_ns: int) -> None:
        answered = self.sync.answered(s.position, now_ns)
        if answered is not None:
            self._sync_reqs.discard(answered[0])
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
                    o.state = OrderState.RESTING
                    o.pending = ""
                self._bind(o, vo.oid)
                o.px, o.sz = vo.px, vo.sz
                if o.state in (OrderState.PLACING, OrderState.UNKNOWN, OrderState.MODIFYING):
                    o.state = OrderState.RESTING
                    o.pending = ""
                continue
            if startup and self.startup.policy == "adopt":
                cloid = vo.cloid if vo.cloid is not None else self._new_cloid()
                o = TrackedOrder(
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
                key=lambda o: -o.px if side is Side.BUY else o.px,
            )
            for i, o in enumerate(mine):
                o.level = i
        for o in self.orders.live():
            if o.cloid in seen:
                continue
            judged = (o.req < rid_s) if rid_s is not None else (o.pending == "")
            if judged:
                self._finish(o, requote=True)
        return len(adopted), cancelled


def build(ctx: BuildContext[SmartExecutorParams]) -> SmartExecutor:
    return SmartExecutor(ctx.params, ctx.instrument, ctx.seed)
