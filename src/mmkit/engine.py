"""The deterministic core shared by backtest, paper and live trading.

:meth:`Engine.on_event` takes one event and the current time (passed in; the engine never
reads a clock) and returns the order actions to send, by running the configured components
in a fixed order::

    market state + portfolio  ->  estimators  ->  gates  ->  quoter  ->  executor

Components are resolved once (see :mod:`mmkit.assembly`) and called directly; the hot path
never goes through pluggy. An estimator or gate is given only the event kinds it does not
declare in ``ignores`` (:class:`~mmkit.components.DeclaresIgnores`; the audit's
``delivery.ignored_kinds`` checks the declaration).

The engine is also the last line of defence: an action with a non-finite or non-positive
price or size, a quote that crosses our own quotes, or a component that raises, is
refused, reported to the observer as a fault, and quoting halts for that cycle (resting
orders are cancelled), so a faulty plugin cannot put a NaN on the venue.

Faults are reported, not counted away (see :mod:`mmkit.faults`): components do not catch
their own exceptions; the engine is the boundary that catches any exception from a
component, reports it with the component's name, type and message, and keeps running. Input
a component rejects (bad data) is recorded by the component in its ``rejections``
(:class:`~mmkit.faults.Rejections`); the engine counts those per component and reports the
first of each distinct reason through the same fault path. :attr:`Engine.fault_log` holds
the run's account of both.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Protocol

from mmkit.components import (
    EMPTY_LADDER,
    BatchExecutor,
    Closeable,
    Estimates,
    Estimator,
    Executor,
    Gate,
    GateDecision,
    GateMode,
    Ladder,
    Levels,
    Persistent,
    PredictionLogging,
    Quote,
    Quoter,
    TradeBatchConsumer,
    View,
    ignored_kinds,
    optional_contract_problem,
    withheld_kinds,
)
from mmkit.core.actions import Action, ActionGuard, action_problem
from mmkit.core.events import Event, EventKind, Kinds, OwnFill, PositionSnapshot, TradeBatch
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import BUY, SELL, Instrument, Side
from mmkit.execution.position_sync import (
    ADOPTED,
    CONFIRM_AGE_S,
    DUPLICATE,
    PositionReconciler,
)
from mmkit.faults import FaultCategory, FaultLog, Rejection, Rejections
from mmkit.twins import TwinChoice


class EngineObserver(Protocol):
    """Receives the engine's notable moments (journal, metrics, dashboard, plugin hooks)."""

    def on_fill(self, fill: OwnFill, now_ns: int) -> None: ...

    def on_gate_closed(self, decision: GateDecision, now_ns: int) -> None: ...

    def on_gate_opened(self, gate: str, now_ns: int) -> None: ...

    def on_quotes(self, ladder: Ladder, actions: Sequence[Action], now_ns: int) -> None: ...

    def on_fault(self, component: str, message: str, now_ns: int) -> None: ...

    # optional: ``on_rejected(component, message, now_ns)``, a component that could not use
    # its input (bad data, not a bug); without it, rejections go to ``on_fault``

    def on_divergence(self, local: float, venue: float, now_ns: int) -> None: ...


#: an estimator's or gate's event entry points: (label, on_trades or None, on_event)
_Sink = tuple[str, Callable[[TradeBatch, int], None] | None, Callable[[Event, int], None]]

_REQUOTE_KINDS = frozenset(
    {
        EventKind.BOOK_SNAPSHOT,
        EventKind.BOOK_DELTA,
        EventKind.TRADE,
        EventKind.TRADE_BATCH,
        EventKind.BBO,
        EventKind.TIMER,
        EventKind.OWN_FILL,
        EventKind.POSITION_SNAPSHOT,
        EventKind.FEED_STATUS,
    }
)
_TIMER_ONLY = frozenset(
    {EventKind.TIMER, EventKind.OWN_FILL, EventKind.POSITION_SNAPSHOT, EventKind.FEED_STATUS}
)


class Engine:
    """Estimators -> gates -> quoter -> executor, driven one event at a time."""

    def __init__(
        self,
        *,
        instrument: Instrument,
        max_position: float,
        estimators: Sequence[tuple[str, Estimator]] = (),
        gates: Sequence[tuple[str, Gate]] = (),
        quoter: tuple[str, Quoter],
        executor: tuple[str, Executor],
        estimates: Estimates | None = None,
        observer: EngineObserver | None = None,
        requote_on_market_events: bool = True,
        divergence_min_age_s: float = CONFIRM_AGE_S,
    ) -> None:
        self.instrument = instrument
        self.market = MarketState()
        self.portfolio = Portfolio(position=0.0, position_known=False)
        #: sequences the venue's position snapshots against our fills (half a lot of slack;
        #: a divergence is adopted only once it persisted ``divergence_min_age_s`` of venue
        #: time, longer than any plausible delay of our fill events)
        self.reconciler = PositionReconciler(
            self.portfolio, tolerance=0.5 * instrument.lot, min_age_s=divergence_min_age_s
        )
        self.view = View(instrument, self.market, self.portfolio, max_position)
        self.estimates = estimates if estimates is not None else Estimates()
        self._estimators = list(estimators)
        self._gates = list(gates)
        #: names of the gates that declare the kill-switch role (``roles``, or the older
        #: ``provides``): a fault of theirs halts as an emergency (see :meth:`_gate_fault`)
        self._kill_switch_gates = frozenset(n for n, g in self._gates if _is_kill_switch(g))
        self._quoter_name, self._quoter = quoter
        self._executor_name, self._executor = executor
        # optional contracts (mmkit.components), detected once here: a component whose
        # attribute of a contract's name is not a fitting method is refused now, not
        # when a trade batch first arrives (plugins are refused earlier still, with their
        # plugin's name, when the registry builds them)
        for kind, n, c in self.components():
            problem = optional_contract_problem(kind, c)
            if problem is not None:
                raise TypeError(f"{kind} {n!r}: {problem}")
        #: (label, on_trades or None, on_event) of the estimators then gates
        self._sinks: list[_Sink] = []
        withheld: list[frozenset[EventKind]] = []
        for kind, group in (("estimator", self._estimators), ("gate", self._gates)):
            for n, c in group:
                try:
                    withheld.append(withheld_kinds(ignored_kinds(c)))
                except TypeError as exc:
                    raise TypeError(f"{kind} {n!r}: {exc}") from None
                on_trades = c.on_trades if isinstance(c, TradeBatchConsumer) else None
                self._sinks.append((f"{kind} {n}", on_trades, c.on_event))
        #: per event kind (indexed by its value), the sinks that take it: those that do not
        #: declare it in ``ignores`` (a trade batch goes where its trades go)
        by_kind: list[tuple[_Sink, ...]] = [()] * (max(EventKind) + 1)
        for k in EventKind:
            by_kind[k] = tuple(s for s, w in zip(self._sinks, withheld, strict=True) if k not in w)
        self._sinks_for: tuple[tuple[_Sink, ...], ...] = tuple(by_kind)
        ex = self._executor
        #: the executor's whole-batch entry point, when it has one
        self._executor_on_trades = ex.on_trades if isinstance(ex, BatchExecutor) else None
        #: components that take the run's prediction log: ``(kind, name, component)``
        self.prediction_loggers: list[tuple[str, str, PredictionLogging]] = [
            (kind, n, c) for kind, n, c in self.components() if isinstance(c, PredictionLogging)
        ]
        #: end-of-run calls in pipeline order, each component's ``save`` before its
        #: ``close``: ``(kind, name, method name, bound method)``
        self.finishers: list[tuple[str, str, str, Callable[[], None]]] = []
        for kind, n, c in self.components():
            if isinstance(c, Persistent):
                self.finishers.append((kind, n, "save", c.save))
            if isinstance(c, Closeable):
                self.finishers.append((kind, n, "close", c.close))
        self.observer = observer
        self._requote_kinds = _REQUOTE_KINDS if requote_on_market_events else _TIMER_ONLY
        #: gate name -> decision, for every gate currently closed
        self.closed: dict[str, GateDecision] = {}
        self.last_ladder: Ladder = EMPTY_LADDER
        self._valid_ladder: Ladder = EMPTY_LADDER
        self._guard = ActionGuard()
        #: faults proper: component exceptions and refused outputs (each one counted)
        self.faults = 0
        #: events the components rejected as unusable input (see :mod:`mmkit.faults`)
        self.rejected_events = 0
        #: per-component counts and distinct messages of both, for the run summary
        self.fault_log = FaultLog()
        #: label of a sink (estimator or gate) whose event handling raised since the last
        #: quoting cycle: its state is suspect, so that cycle halts
        self._sink_fault: str | None = None
        self.events = 0
        self.stopped = False
        #: what runs for each component, its compiled twin or its Python code (set by
        #: :func:`mmkit.assembly.build_engine`; empty for an engine built by hand)
        self.twin_choices: list[TwinChoice] = []
        for kind_, name_, comp in self.components():
            rejections = getattr(comp, "rejections", None)
            if isinstance(rejections, Rejections):
                rejections.attach(functools.partial(self._rejected, f"{kind_} {name_}"))

    # -- the hot path ---------------------------------------------------------------------
    def on_event(self, ev: Event, now_ns: int) -> list[Action]:
        """One event at ``now_ns`` (for a :class:`TradeBatch`, the last row's ``recv``)."""
        self.events += 1
        kind = ev.kind
        if kind is Kinds.TRADE_BATCH:
            assert isinstance(ev, TradeBatch)
            actions = self._on_trades(ev, now_ns)
        else:
            if kind is Kinds.OWN_FILL:
                if not self._on_fill(ev, now_ns):  # type: ignore[arg-type]
                    return []  # the same trade again: already seen by every component
            elif kind is Kinds.POSITION_SNAPSHOT:
                self._on_position(ev, now_ns)  # type: ignore[arg-type]
            else:
                self.market.apply(ev, now_ns)
            for label, _, on_event in self._sinks_for[kind]:
                try:
                    on_event(ev, now_ns)
                except Exception as exc:  # component isolation: reported with its name
                    self._sink_raised(label, "on_event", exc, now_ns)
            actions = self._executor.on_event(ev, self.view, now_ns)
        if kind in self._requote_kinds:
            cycle = self._cycle(now_ns)
            if cycle:
                actions = actions + cycle if actions else cycle
        if actions:
            return self._checked(actions, now_ns)
        return actions

    def _on_trades(self, batch: TradeBatch, now_ns: int) -> list[Action]:
        """A trade batch: whole to components with ``on_trades``, row by row to the rest."""
        self.market.apply(batch, now_ns)
        rows = None
        for label, on_trades, on_event in self._sinks_for[Kinds.TRADE]:
            if on_trades is not None:
                try:
                    on_trades(batch, now_ns)
                except Exception as exc:  # component isolation: reported with its name
                    self._sink_raised(label, "on_trades", exc, now_ns)
                continue
            if rows is None:
                rows = batch.trades()
            for tr, t in rows:
                try:
                    on_event(tr, t)
                except Exception as exc:  # component isolation: reported with its name
                    self._sink_raised(label, "on_event", exc, t)
        ex = self._executor
        on_trades_ex = self._executor_on_trades
        if on_trades_ex is not None:
            return on_trades_ex(batch, self.view, now_ns)
        out: list[Action] = []
        for tr, t in rows if rows is not None else batch.trades():
            out += ex.on_event(tr, self.view, t)
        return out

    def _cycle(self, now_ns: int) -> list[Action]:
        if self.stopped:
            return self._executor.halt(self.closed["engine"], self.view, now_ns)
        est = self.estimates
        sink_fault = self._sink_fault
        faulted = sink_fault is not None
        self._sink_fault = None
        for name, e in self._estimators:
            try:
                e.estimate(est, now_ns)
            except Exception as exc:  # component isolation: reported, quoting halts
                faulted = True
                sink_fault = f"estimator {name}"
                self._fault(
                    f"estimator {name}", f"estimate raised {type(exc).__name__}: {exc}", now_ns
                )
        view = self.view
        halt: GateDecision | None = None
        reduce_only: GateDecision | None = None
        closed = self.closed
        for name, gate in self._gates:
            try:
                d = gate.check(view, est, now_ns)
            except Exception as exc:  # component isolation: a raising gate counts as closed
                d = self._gate_fault(name, f"check raised {type(exc).__name__}: {exc}", now_ns)
            else:
                if d is None:
                    if name in closed:  # it reopens
                        self._track_gate(name, None, now_ns)
                    continue  # open and was open: the common case, nothing to track
                if not isinstance(d, GateDecision):
                    d = self._gate_fault(
                        name, f"check returned {type(d).__name__}, not a GateDecision", now_ns
                    )
            self._track_gate(name, d, now_ns)
            if d is not None:
                if d.mode is GateMode.HALT:
                    if halt is None or (d.emergency and not halt.emergency):
                        halt = d
                elif reduce_only is None:
                    reduce_only = d
        if halt is None and faulted:
            halt = GateDecision("engine", "ComponentFault", {"detail": f"{sink_fault} raised"})
        if halt is not None:
            self.last_ladder = EMPTY_LADDER
            return self._executor.halt(halt, view, now_ns)
        try:
            ladder = self._quoter.quote(view, est, now_ns)
        except Exception as exc:  # component isolation: reported, quoting halts
            self._fault(
                f"quoter {self._quoter_name}", f"quote raised {type(exc).__name__}: {exc}", now_ns
            )
            return self._executor.halt(
                GateDecision("engine", "ComponentFault", {"detail": "quoter raised"}), view, now_ns
            )
        # a quoter that returns the very ladder it returned before (unchanged quotes) was
        # already checked: the ladder and its quotes are immutable; one whose maker checked
        # it exactly as ladder_problem does says so (Ladder._checked: the GLFT twin's kernel)
        if ladder is self._valid_ladder or ladder._checked:
            problem = None
        else:
            problem = ladder_problem(ladder)
        if problem is None:
            self._valid_ladder = ladder
        else:
            self._fault(f"quoter {self._quoter_name}", problem, now_ns)
            return self._executor.halt(
                GateDecision("engine", "ComponentFault", {"detail": problem}), view, now_ns
            )
        if reduce_only is not None:
            ladder = reduce_only_ladder(ladder, self.portfolio.position)
        self.last_ladder = ladder
        actions = self._executor.reconcile(ladder, view, now_ns)
        if actions and self.observer is not None:
            self.observer.on_quotes(ladder, actions, now_ns)
        return actions

    def shutdown(self, now_ns: int, reason: str = "Shutdown") -> list[Action]:
        """Kill switch on exit: cancel every resting order (emergency), place nothing."""
        decision = GateDecision("engine", reason, mode=GateMode.HALT, emergency=True)
        self.closed["engine"] = decision
        self.stopped = True
        if self.observer is not None:
            self.observer.on_gate_closed(decision, now_ns)
        self.last_ladder = EMPTY_LADDER
        return self._checked(self._executor.halt(decision, self.view, now_ns), now_ns)

    @property
    def executor(self) -> Executor:
        return self._executor

    @property
    def kill_switch_gates(self) -> frozenset[str]:
        """The names of the configured gates that declare the kill-switch role (empty: the
        run has no kill switch, which its summary says)."""
        return self._kill_switch_gates

    def components(self) -> list[tuple[str, str, object]]:
        """Every component as ``(kind, name, instance)``, in pipeline order."""
        out: list[tuple[str, str, object]] = [("estimator", n, e) for n, e in self._estimators]
        out += [("gate", n, g) for n, g in self._gates]
        out.append(("quoter", self._quoter_name, self._quoter))
        out.append(("executor", self._executor_name, self._executor))
        return out

    # -- helpers --------------------------------------------------------------------------
    def _checked(self, actions: list[Action], now_ns: int) -> list[Action]:
        if self._guard.all_fine(actions):
            return actions
        good = []
        for a in actions:
            why = action_problem(a)
            if why is None:
                good.append(a)
            else:
                self._fault(
                    f"executor {self._executor_name}", f"refused {type(a).__name__}: {why}", now_ns
                )
        return good

    def _on_fill(self, f: OwnFill, now_ns: int) -> bool:
        """Book a fill through the reconciler; False for a repeated trade id (ignored)."""
        try:
            verdict = self.reconciler.on_fill(f)
        except ValueError as exc:
            self._fault("venue", f"malformed fill refused: {exc}", now_ns)
            return True
        if verdict == DUPLICATE:
            return False
        if self.observer is not None:
            self.observer.on_fill(f, now_ns)
        return True

    def _on_position(self, snap: PositionSnapshot, now_ns: int) -> None:
        """A venue snapshot: adopted only when sequenced against our fills (see
        :class:`~mmkit.execution.position_sync.PositionReconciler`); an adopted divergence is
        reported to the observer."""
        if not math.isfinite(snap.position):
            self._fault("venue", f"non-finite position {snap.position!r} refused", now_ns)
            return
        out = self.reconciler.on_snapshot(snap, self.market.mid)
        if out.kind == ADOPTED and self.observer is not None:
            self.observer.on_divergence(out.expected, out.venue, now_ns)

    def _track_gate(self, name: str, d: GateDecision | None, now_ns: int) -> None:
        was = self.closed.get(name)
        if d is None:
            if was is not None:
                del self.closed[name]
                if self.observer is not None:
                    self.observer.on_gate_opened(name, now_ns)
        elif was is None or was.reason != d.reason:
            self.closed[name] = d
            if self.observer is not None:
                self.observer.on_gate_closed(d, now_ns)
        else:
            self.closed[name] = d

    def _gate_fault(self, name: str, message: str, now_ns: int) -> GateDecision:
        """A gate whose ``check`` raised or returned something that is not a decision: the
        fault is reported with the gate's name and the gate counts as closed (fail safe: a
        gate that cannot decide must not let quotes through). The halt is an emergency
        (cancels may use the budget's reserve) exactly when the gate declares the
        kill-switch role: a kill switch that cannot evaluate may be one that should be
        tripping, so its cancels must go out even with the budget spent; any other gate's
        failure says nothing about losses, and its cancels go through the normal lane, which
        keeps the reserve for a real kill switch."""
        self._fault(f"gate {name}", message, now_ns)
        return GateDecision(
            name,
            "GateFault",
            {"error": message},
            mode=GateMode.HALT,
            emergency=name in self._kill_switch_gates,
        )

    def _sink_raised(self, label: str, method: str, exc: Exception, now_ns: int) -> None:
        """An estimator's or gate's event handling raised (a bug, not bad input: bad input
        is rejected): reported, and the next quoting cycle halts."""
        self._sink_fault = label
        self._fault(label, f"{method} raised {type(exc).__name__}: {exc}", now_ns)

    def report_fault(self, component: str, message: str, now_ns: int) -> None:
        """Report a fault of ``component`` found outside :meth:`on_event` (e.g. a runner
        calling its ``save`` at the end of the run): counted and reported like the rest."""
        self._fault(component, message, now_ns)

    def _fault(self, component: str, message: str, now_ns: int) -> None:
        """A fault proper: counted, and every occurrence reported to the observer."""
        self.faults += 1
        self.fault_log.add(component, message, now_ns)
        if self.observer is not None:
            self.observer.on_fault(component, message, now_ns)

    def _rejected(
        self, component: str, rejection: Rejection, count: int, example: str, now_ns: int
    ) -> None:
        """A component rejected ``count`` events: counted per component; the first of each
        distinct reason is reported to the observer (with the first offending value)."""
        self.rejected_events += count
        new = self.fault_log.add(
            component, rejection.message, now_ns, FaultCategory.REJECTED, count
        )
        if new and self.observer is not None:
            first = f" (first: {example})" if example else ""
            # an observer without on_rejected (older, or a test's) hears it as a fault
            tell = getattr(self.observer, "on_rejected", self.observer.on_fault)
            tell(component, rejection.message + first, now_ns)


def _is_kill_switch(gate: object) -> bool:
    """Whether ``gate`` declares the kill-switch role, in ``roles`` (GateRole values are
    strings) or the older ``provides``; a declaration that is not a collection counts as
    none."""
    for attr in ("roles", "provides"):
        declared = getattr(gate, attr, None)
        if isinstance(declared, str) or not isinstance(declared, (set, frozenset, tuple, list)):
            continue
        if any(
            str(r) == "kill_switch" or getattr(r, "value", None) == "kill_switch" for r in declared
        ):
            return True
    return False


def ladder_problem(ladder: Ladder) -> str | None:
    """Why a ladder must not be quoted (non-finite, non-positive, wrong side, crossed).

    A ladder made from its levels (:meth:`~mmkit.components.Ladder.from_levels`) is
    checked on its numbers, without making its quotes, when they are all fine; otherwise
    (or for a ladder made from quotes) quote by quote, which names the first bad one."""
    levels = ladder._levels
    if levels is not None and _levels_fine(*levels):
        return None
    top_bid = -math.inf
    low_ask = math.inf
    for side, quotes in ((BUY, ladder.bids), (SELL, ladder.asks)):
        for q in quotes:
            px = q.px
            if q.side is not side:
                return f"{side.name} ladder holds a {q.side.name} quote"
            if not (0.0 < px < math.inf):  # False for NaN
                return f"{side.name} quote level {q.level} has price {px!r}"
            if not (0.0 < q.sz < math.inf):
                return f"{side.name} quote level {q.level} has size {q.sz!r}"
            if side is BUY:
                if px > top_bid:
                    top_bid = px
            elif px < low_ask:
                low_ask = px
    if ladder.bids and ladder.asks and top_bid >= low_ask:
        return f"quotes cross: bid {top_bid} >= ask {low_ask}"
    return None


def _levels_fine(bids: Levels, asks: Levels) -> bool:
    """Whether every price and size of the sides' levels is finite and positive and the
    best bid is below the best ask: True only when the quote-by-quote check (the rest of
    :func:`ladder_problem`) finds nothing (False may be a false alarm: that check then
    decides). The quotes of such a ladder are on their sides by construction."""
    for lv in (bids, asks):
        if lv:
            total = sum(lv)  # finite only when every number is (or a huge sum: the check)
            if total - total != 0.0 or min(lv) <= 0.0:
                return False
    return not (bids and asks and max(bids[0::2]) >= min(asks[0::2]))


def reduce_only_ladder(ladder: Ladder, position: float) -> Ladder:
    """Keep only quotes that shrink the position, sizes clipped so none can flip it."""
    if position > 0:
        side_quotes, side = ladder.asks, Side.SELL
    elif position < 0:
        side_quotes, side = ladder.bids, Side.BUY
    else:
        return EMPTY_LADDER
    left = abs(position)
    kept: list[Quote] = []
    for q in side_quotes:
        if left <= 0:
            break
        sz = min(q.sz, left)
        kept.append(Quote(side, q.px, sz, q.level))
        left -= sz
    return Ladder((), tuple(kept)) if side is Side.SELL else Ladder(tuple(kept), ())
