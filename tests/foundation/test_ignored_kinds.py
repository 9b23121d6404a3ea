"""Declared event interests (``ignores``, :class:`mmkit.components.DeclaresIgnores`): the
engine withholds exactly the declared kinds from an estimator or gate (a trade batch where
its trades go), and refuses, naming the component and its plugin, a declaration that is
not a set of event kinds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.foundation.test_engine import toy_engine

from mmkit import hookimpl
from mmkit.audit.invariants.estimators import adversarial_ops, busy_market, stream_events
from mmkit.components import (
    DECLARABLE_KINDS,
    NOT_MARKET_DATA,
    Estimates,
    GateDecision,
    View,
    ignored_kinds,
    ignores_problem,
)
from mmkit.core.events import Event, EventKind, OrderStatus, TradeBatch
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Instrument
from mmkit.engine import Engine
from mmkit.errors import PluginError
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, RiskLimits

KINDS = sorted(DECLARABLE_KINDS)
#: one op of each kind of event, before the drawn ones
EVERY_KIND: list[tuple[int, tuple[Any, ...]]] = [
    (1, ("timer",)),
    (1, ("order", OrderStatus.OPEN, 100.0, 0.1)),
    (1, ("result", Outcome.REJECTED, RejectReason.POST_ONLY_WOULD_CROSS)),
    (1, ("position", 0.5)),
    (1, ("feed", True, False, "book")),
    (1, ("fill", 0.0, 0.1, True)),
    (1, ("delta", [99.0], [101.0], [1.0])),
    (1, ("bbo", 99.5, 100.5)),
    (1, ("trade", 0.0, 0.1, True)),
    (1, ("trades", [(0.0, 0.1, True, 0), (1e-4, 0.2, False, 0)], 1000)),
    (1, ("book", 1.0)),
]


class Recorder:
    """Logs the kind of every event it is given (a batch as TRADE_BATCH)."""

    def __init__(self, ignores: Any = None, batches: bool = False) -> None:
        if ignores is not None:
            self.ignores = ignores
        self.seen: list[EventKind] = []
        if batches:
            self.on_trades = self._on_trades

    def on_event(self, event: Event, now_ns: int) -> None:
        self.seen.append(event.kind)

    def _on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        self.seen.append(EventKind.TRADE_BATCH)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return None


def _engine(estimators: list[Any], gates: list[Any]) -> Engine:
    base = toy_engine()
    return Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[(f"e{i}", c) for i, c in enumerate(estimators)],
        gates=[(f"g{i}", c) for i, c in enumerate(gates)],
        quoter=(base._quoter_name, base._quoter),
        executor=(base._executor_name, base.executor),
    )


def _visible(seen: list[EventKind], ignored: frozenset[EventKind]) -> list[EventKind]:
    """What a component that ignores ``ignored`` should have been given, from the log of
    one that ignores nothing (of the same batch shape)."""
    return [
        k for k in seen if (EventKind.TRADE if k is EventKind.TRADE_BATCH else k) not in ignored
    ]


@settings(max_examples=60, deadline=None)
@given(
    ops=adversarial_ops(60.0),
    est_ignores=st.frozensets(st.sampled_from(KINDS)),
    gate_ignores=st.sets(st.sampled_from(KINDS)),
    batches=st.booleans(),
)
def test_the_engine_withholds_exactly_the_declared_kinds(
    ops: list[tuple[int, tuple[Any, ...]]],
    est_ignores: frozenset[EventKind],
    gate_ignores: set[EventKind],
    batches: bool,
) -> None:
    """Every sink's log equals the log of a sink of the same shape that ignores nothing,
    less the declared kinds: nothing declared is delivered, nothing else is lost, and the
    order is kept. The events are the audit's adversarial streams (every kind)."""
    all_e, some_e = Recorder(batches=batches), Recorder(est_ignores, batches=batches)
    all_g, some_g = Recorder(batches=not batches), Recorder(gate_ignores, batches=not batches)
    eng = _engine([all_e, some_e], [all_g, some_g])
    for _, now, ev, _ in stream_events(ops, busy_market()[:6] + EVERY_KIND):
        eng.on_event(ev, now)
    assert some_e.seen == _visible(all_e.seen, est_ignores)
    assert some_g.seen == _visible(all_g.seen, frozenset(gate_ignores))
    assert not set(some_e.seen) & est_ignores
    if EventKind.TRADE in est_ignores:
        assert EventKind.TRADE_BATCH not in some_e.seen
    # every kind was tried (a batch as a batch or as its rows)
    assert set(all_e.seen) | {EventKind.TRADE_BATCH, EventKind.TRADE} == set(EventKind)


def test_a_component_without_a_declaration_gets_every_event() -> None:
    assert ignored_kinds(Recorder()) == frozenset()
    assert ignores_problem(Recorder()) is None


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(KINDS)), st.booleans())
def test_a_set_of_event_kinds_is_a_valid_declaration(kinds: set[EventKind], frozen: bool) -> None:
    declared = frozenset(kinds) if frozen else kinds
    assert ignores_problem(Recorder(declared)) is None
    assert ignored_kinds(Recorder(declared)) == frozenset(kinds)


#: declarations the engine must refuse: not a set, names, numbers (an IntEnum's value would
#: match by equality), TRADE_BATCH, other enums' members
_BAD = st.one_of(
    st.lists(st.sampled_from(KINDS), min_size=1),
    st.tuples(st.sampled_from(KINDS)),
    st.text(max_size=8),
    st.integers(),
    st.just({"TIMER"}),
    st.frozensets(st.sampled_from([k.name for k in KINDS]), min_size=1),
    st.frozensets(st.integers(1, 11), min_size=1),
    st.sets(st.sampled_from(KINDS)).map(lambda s: frozenset(s | {EventKind.TRADE_BATCH})),
    st.just(frozenset({Instrument})),
)


@settings(max_examples=80, deadline=None)
@given(_BAD)
def test_a_malformed_declaration_is_refused_by_the_engine_naming_the_component(
    declared: Any,
) -> None:
    problem = ignores_problem(Recorder(declared))
    assert problem is not None and "'ignores'" in problem
    with pytest.raises(TypeError, match=r"gate 'g0': 'ignores'"):
        _engine([], [Recorder(declared)])


class _DeclaringPlugin:
    @hookimpl
    def register_estimators(self, register: Any) -> None:
        register("names_kinds", lambda ctx: Recorder(frozenset({"TIMER"})))
        register("market_only", lambda ctx: Recorder(NOT_MARKET_DATA))


def test_the_registry_refuses_a_malformed_declaration_naming_the_plugin() -> None:
    host = PluginHost(load_entrypoints=False)
    host.register_plugin(_DeclaringPlugin(), "tests.declaring")
    ctx = BuildContext("estimator", "names_kinds", None, Instrument(), RiskLimits())
    with pytest.raises(PluginError) as e:
        host.registry.get("estimator", "names_kinds").build(ctx)
    msg = str(e.value)
    assert "plugin 'tests.declaring'" in msg and "estimator 'names_kinds'" in msg
    assert "'TIMER'" in msg and "EventKind" in msg
    ctx = BuildContext("estimator", "market_only", None, Instrument(), RiskLimits())
    comp = host.registry.get("estimator", "market_only").build(ctx)
    assert ignored_kinds(comp) == NOT_MARKET_DATA


def test_the_built_in_declarations() -> None:
    """What the default set declares (each proven by ``delivery.ignored_kinds``): market
    data only for the warmup estimator and the data-quality gate, nothing for the warmup
    gate, fills and results for the kill switch, books, top of book, trades and own fills
    for kappa; sigma gets every event (its clock and samples follow timers and answers)."""
    from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
    from mmkit.estimators.sigma_estimator import SigmaEstimator
    from mmkit.estimators.warmup import WarmupEstimator, WarmupGate
    from mmkit.gates.data_quality import DataQualityGate
    from mmkit.gates.kill_switch import KillSwitch

    assert ignored_kinds(WarmupEstimator) == NOT_MARKET_DATA
    assert ignored_kinds(DataQualityGate) == NOT_MARKET_DATA
    assert ignored_kinds(WarmupGate) == DECLARABLE_KINDS
    assert DECLARABLE_KINDS - ignored_kinds(KillSwitch) == {
        EventKind.OWN_FILL,
        EventKind.ACTION_RESULT,
    }
    assert DECLARABLE_KINDS - ignored_kinds(KappaOrchestrator) == {
        EventKind.BOOK_SNAPSHOT,
        EventKind.BBO,
        EventKind.TRADE,
        EventKind.OWN_FILL,
    }
    assert ignored_kinds(SigmaEstimator) == frozenset()


def test_the_default_engine_acts_as_one_that_delivers_every_event() -> None:
    """The whole default set on the synthetic market through the simulated exchange: the
    engine that withholds the declared kinds sends the very actions, publishes the very
    estimates and closes the very gates as one that delivers every event to every sink,
    after every event (answers and timers included)."""
    from tests.twins.test_order_table_engine import Run

    from mmkit.twins.compare import actions_diff, estimates_diff

    routed, full = Run(table=False, duration_s=400.0), Run(table=False, duration_s=400.0)
    every = tuple(full.engine._sinks)
    full.engine._sinks_for = tuple(every for _ in full.engine._sinks_for)
    skipped = sum(len(every) - len(s) for s in routed.engine._sinks_for)
    assert skipped >= 20  # the built-ins declare: the routed engine really skips calls
    sent = 0
    for (what, t, ra), (_, _, fa) in zip(routed.stream(), full.stream(), strict=True):
        diff = actions_diff(fa, ra)
        assert not diff, f"after {what} at {t}: {diff}"
        ediff = estimates_diff(full.engine.estimates, routed.engine.estimates)
        assert not ediff, f"after {what} at {t}: " + "; ".join(ediff)
        assert full.engine.closed == routed.engine.closed, f"after {what} at {t}"
        sent += len(ra)
    assert sent > 300, sent
    assert routed.engine.portfolio.fill_count == full.engine.portfolio.fill_count > 10
