"""One trading session: the engine plus its journal and observer, fed one event at a time.

Paper, backtest and live runners differ only in where events come from and where actions
go; they all call :meth:`Session.dispatch`. Dispatch order for a venue event: journal first
(a fill is durable before the engine sees it), then the engine, then the journal of the
actions the engine returned.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from dataclasses import dataclass, field

from mmkit.core.actions import Action, SyncState
from mmkit.core.events import (
    ActionResult,
    Event,
    Kinds,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    TradeBatch,
)
from mmkit.core.outcomes import RejectReason
from mmkit.core.types import NS_PER_S
from mmkit.engine import Engine
from mmkit.runtime.journal import Journal
from mmkit.runtime.observer import HaltReport, RunObserver
from mmkit.runtime.order_quotes import quote_of

log = logging.getLogger("mmkit.run")


@dataclass
class SessionStats:
    events: int = 0
    market_events: int = 0
    actions: int = 0
    duplicate_fills: int = 0
    rejections: int = 0
    #: order actions the live runner dropped unsent because a gate closed after they were
    #: computed (answered REJECTED / NOT_SENT; not venue rejections)
    not_sent: int = 0
    peak_equity: float = 0.0
    max_drawdown: float = 0.0
    #: the first equity with the position known (USD; NaN before): start-up adopts the
    #: venue's position at its entry price, so this is the venue's unrealized PnL then
    equity_start: float = math.nan
    first_ts: int = -1
    last_ts: int = -1
    action_counts: dict[str, int] = field(default_factory=dict)
    #: venue rejections (not NOT_SENT) by reason code
    reject_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Mark:
    """The run's money at one snapshot, exactly as the journal's ``local`` position row holds
    it: ``unrealized`` is the position marked at ``mid`` (the engine's mid then) against its
    average entry, and ``equity`` is realized + unrealized - fees (USD), as the journal sums
    it: reconciliation adjustments are not in it (the summary shows them on a row of their
    own, from the portfolio)."""

    ts_ns: int
    mid: float
    position: float
    realized: float
    unrealized: float
    fees: float

    @property
    def equity(self) -> float:
        # the order of the journal's sum (mmkit.runtime.journal_read): the same float
        return self.realized + self.unrealized - self.fees


class Session:
    def __init__(
        self,
        engine: Engine,
        observer: RunObserver,
        journal: Journal | None = None,
        *,
        snapshot_every_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.observer = observer
        self.journal = journal
        self.stats = SessionStats()
        self._seen_fills: set[tuple[int, int]] = set()
        self._snap_every = int(snapshot_every_s * NS_PER_S)
        self._next_snap = -1
        self._runner_rid = 0
        #: the snapshot the runner took at the very end of the run (:meth:`final_snapshot`):
        #: the summary's and the journal's end of run
        self.final: Mark | None = None
        if journal is not None:
            for _kind, _name, comp in engine.prediction_loggers:
                comp.attach_prediction_log(journal)

    def close(self) -> None:
        """End of run: components persist their state (``save``) and release resources; the
        journal gets the run's span (``first_event_ns`` / ``last_event_ns`` meta, engine ns),
        the time base of ``journal show``'s gate timeline."""
        st = self.stats
        if self.journal is not None and st.first_ts >= 0:
            try:
                self.journal.set_meta("first_event_ns", str(st.first_ts))
                self.journal.set_meta("last_event_ns", str(st.last_ts))
            except sqlite3.Error as exc:  # a closed or broken journal must not hide the rest
                log.error("journal: run span not recorded: %s: %s", type(exc).__name__, exc)
        for kind, name, method, fn in self.engine.finishers:  # Persistent, Closeable
            try:
                fn()
            except Exception as exc:  # component isolation: reported, the others still run
                self.engine.report_fault(
                    f"{kind} {name}", f"{method} raised {type(exc).__name__}: {exc}", st.last_ts
                )
        self._fault_summary()

    def _fault_summary(self) -> None:
        """The run's faults and rejected input, each distinct message once with its count
        (logged, and journaled as notes): a fault is never just a counter."""
        entries = list(self.engine.fault_log.entries.values())
        if not entries:
            return
        by_comp = self.engine.fault_log.by_component
        log.warning(
            "this run: %d fault(s), %d rejected input event(s); per component: %s",
            self.engine.faults,
            self.engine.rejected_events,
            ", ".join(f"{c} {n}" for c, n in sorted(by_comp.items())),
        )
        for e in entries:
            log.warning("  %s %s", e.category.value, e.describe())
        if self.journal is None:
            return
        try:
            for e in entries:
                self.journal.note(
                    self.stats.last_ts, "warning", f"{e.category.value} summary: {e.describe()}"
                )
            self.journal.flush()
        except sqlite3.Error as exc:  # a closed or broken journal: the log still has it
            log.error("journal: fault summary not recorded: %s: %s", type(exc).__name__, exc)

    def halt_report(self) -> HaltReport:
        """Time halted and per gate closed over the run so far, and the kill-switch trips."""
        st = self.stats
        return self.observer.halt_report(st.first_ts, st.last_ts)

    def runner_request_id(self) -> int:
        """Request ids for actions the runner itself issues (negative: never the executor's)."""
        self._runner_rid -= 1
        return self._runner_rid

    def sync_request(self, reason: str) -> SyncState:
        return SyncState(self.runner_request_id(), reason, orders=True)

    def dispatch(self, ev: Event, now_ns: int) -> list[Action]:
        st = self.stats
        st.events += 1
        if st.first_ts < 0:
            st.first_ts = now_ns
        st.last_ts = now_ns
        kind = ev.kind
        j = self.journal
        if kind.is_market_data:
            st.market_events += len(ev) if isinstance(ev, TradeBatch) else 1
        elif kind is Kinds.OWN_FILL:
            assert isinstance(ev, OwnFill)
            if ev.tid >= 0:
                key = (ev.tid, ev.oid)
                if key in self._seen_fills:
                    st.duplicate_fills += 1  # re-delivered after a reconnect: applied once
                    return []
                self._seen_fills.add(key)
            if j is not None:
                # durable before the engine acts on it; on the engine clock (recv_ns) with
                # the mid it was received at, like the run summary's fills
                j.fill(ev, recv_ns=now_ns, mid=float(self.engine.market.mid))
        elif kind is Kinds.ACTION_RESULT:
            assert isinstance(ev, ActionResult)
            if ev.outcome.value == "rejected":
                if ev.reason is RejectReason.NOT_SENT:
                    st.not_sent += 1  # dropped here before sending (a gate closed): no reject
                else:
                    st.rejections += 1
                    why = ev.reason.value
                    st.reject_reasons[why] = st.reject_reasons.get(why, 0) + 1
            if j is not None:
                j.action_result(ev)
        elif kind is Kinds.ORDER_UPDATE:
            assert isinstance(ev, OrderUpdate)
            if j is not None:
                j.order_update(ev)
            if self.observer is not None:
                sz = ev.sz if math.isfinite(ev.sz) else None  # the journal's NULL
                self.observer.order_quotes.append(
                    quote_of(
                        ev.ts,
                        ev.oid,
                        int(ev.side),
                        ev.raw_status or ev.status.name.lower(),
                        sz,
                        ev.px,
                    )
                )
        elif kind is Kinds.POSITION_SNAPSHOT and j is not None:
            assert isinstance(ev, PositionSnapshot)
            j.position(now_ns, ev.position, "venue-startup" if ev.startup else "venue")
        actions = self.engine.on_event(ev, now_ns)
        if actions:
            self.record_actions(actions, now_ns)
        if now_ns >= self._next_snap:
            self._snapshot(now_ns)
        return actions

    def record_actions(self, actions: list[Action], now_ns: int) -> None:
        st = self.stats
        st.actions += len(actions)
        for a in actions:
            name = type(a).__name__
            st.action_counts[name] = st.action_counts.get(name, 0) + 1
            if self.journal is not None:
                self.journal.action(now_ns, a)

    def final_snapshot(self, now_ns: int) -> Mark:
        """The end of the run's snapshot, taken by the runner once its shutdown is over (the
        cancels answered, the venue's final position sync applied): journaled like the
        periodic ones, so the run summary and ``mmkit journal show`` end on the same row."""
        self.final = self._snapshot(now_ns)
        return self.final

    def _snapshot(self, now_ns: int) -> Mark:
        self._next_snap = now_ns + self._snap_every
        eng = self.engine
        mid = eng.market.mid
        pf = eng.portfolio
        eq = pf.equity(mid)
        unreal = pf.unrealized(mid)
        mark = Mark(
            now_ns,
            float(mid),
            float(pf.position),
            float(pf.realized),
            float(unreal),
            float(pf.fees),
        )
        st = self.stats
        self.observer.on_snapshot(eng, now_ns)  # the run report's samples
        if math.isfinite(eq) and pf.position_known:
            if math.isnan(st.equity_start):  # drawdown counts from the first known equity
                st.equity_start = st.peak_equity = eq
            st.peak_equity = max(st.peak_equity, eq)
            st.max_drawdown = max(st.max_drawdown, st.peak_equity - eq)
        if self.journal is not None:
            self.journal.estimates(now_ns, eng.estimates)
            self.journal.position(
                now_ns,
                pf.position,
                "local",
                realized=pf.realized,
                unrealized=unreal,
                fees=pf.fees,
                mid=mid,
            )
        return mark
