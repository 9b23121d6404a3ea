"""``delivery.ignored_kinds``: the default set's declarations hold (for the Python
components and their compiled twins), and a component starved by its own declaration
FAILs with a shrunk counterexample: the fixtures' deaf throttle and deaf pause, and
built-ins given a declaration that drops what they use."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from mmkit import hookimpl
from mmkit.audit.invariants.delivery import INVARIANTS
from mmkit.audit.results import Result, Status
from mmkit.audit.runner import RunContext, component_targets, run_check
from mmkit.components import DECLARABLE_KINDS, NOT_MARKET_DATA, Estimates, ignored_kinds
from mmkit.config.loader import load_settings
from mmkit.core.events import Event, EventKind
from mmkit.estimators.kappa_orchestrator import UNUSED_KINDS, KappaOrchestrator
from mmkit.gates.kill_switch import KillSwitch
from mmkit.plugin_manager import PluginHost
from mmkit.signals.adverse_selection import AdverseSelectionEstimator
from mmkit.signals.rl_skew import RlSkewAgent

REPO = Path(__file__).resolve().parents[2]
BROKEN_SRC = REPO / "plugins" / "mmkit-broken-fixtures" / "src"
(INVARIANT,) = INVARIANTS


class LiquidationBlindKillSwitch(KillSwitch):
    """The kill switch declaring it ignores own fills: it never trips on a liquidation."""

    ignores = DECLARABLE_KINDS - {EventKind.ACTION_RESULT}


class ResultBlindKillSwitch(KillSwitch):
    """The kill switch declaring it ignores action results: it never counts rejections."""

    ignores = DECLARABLE_KINDS - {EventKind.OWN_FILL}


class FillCounter:
    """Publishes how many own fills it saw; ignores timers (true)."""

    publishes = frozenset({"fills.n"})
    ignores = frozenset({EventKind.TIMER})

    def __init__(self) -> None:
        self.n = 0

    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is EventKind.OWN_FILL:
            self.n += 1

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.extras["fills.n"] = float(self.n)

    def twin(self) -> FillCounterTwin:
        return FillCounterTwin()


class FillCounterTwin(FillCounter):
    """Its 'twin' (same code) declaring more than its reference: own fills too (false)."""

    ignores = NOT_MARKET_DATA

    def twin(self) -> FillCounterTwin:
        return self


class FillBlindKappa(KappaOrchestrator):
    """The built-in kappa declaring it ignores its own fills: its own-fill posterior never
    moves."""

    ignores = UNUSED_KINDS | {EventKind.OWN_FILL}


def _blind_to(base: type, kind: EventKind) -> type:
    """``base`` declaring that it ignores ``kind`` too (which it uses)."""
    ignores = ignored_kinds(base) | {kind}
    return type(f"{kind.name.title()}Blind{base.__name__}", (base,), {"ignores": ignores})


#: the adverse-selection classifier and the RL skew agent blind to an input they use; those
#: blind to the top of book passed before the fixed stream of a moving top of book
#: (``delivery.top_of_book_session``): drawn streams never trained their models on it
_MODEL_MUTANTS = {
    "top_blind_adverse": _blind_to(AdverseSelectionEstimator, EventKind.BBO),
    "trade_blind_adverse": _blind_to(AdverseSelectionEstimator, EventKind.TRADE),
    "top_blind_rl": _blind_to(RlSkewAgent, EventKind.BBO),
    "trade_blind_rl": _blind_to(RlSkewAgent, EventKind.TRADE),
    "position_blind_rl": _blind_to(RlSkewAgent, EventKind.POSITION_SNAPSHOT),
}


class _Mutants:
    @hookimpl
    def register_estimators(self, register: Any) -> None:
        from mmkit.estimators.params import KappaParams
        from mmkit.signals.params import AdverseSelectionParams, RlSkewParams

        register("fill_counter", lambda ctx: FillCounter())
        register("fill_blind_kappa", lambda ctx: FillBlindKappa(ctx.params), params=KappaParams)
        for name, cls in _MODEL_MUTANTS.items():
            if issubclass(cls, RlSkewAgent):
                register(
                    name,
                    lambda ctx, c=cls: c(ctx.params, ctx.risk.max_position, ctx.seed),
                    params=RlSkewParams,
                )
            else:
                register(name, lambda ctx, c=cls: c(ctx.params), params=AdverseSelectionParams)

    @hookimpl
    def register_gates(self, register: Any) -> None:
        from mmkit.gates.params import KillSwitchParams

        register(
            "liquidation_blind_kill",
            lambda ctx: LiquidationBlindKillSwitch(ctx.params, ctx.name),
            params=KillSwitchParams,
        )
        register(
            "result_blind_kill",
            lambda ctx: ResultBlindKillSwitch(ctx.params, ctx.name),
            params=KillSwitchParams,
        )


def _run(item: str, examples: int = 40, extra: Any = None) -> Result:
    if importlib.util.find_spec("mmkit_broken_fixtures") is None:
        sys.path.insert(0, str(BROKEN_SRC))
    host = PluginHost(load_entrypoints=False, extra_modules=["mmkit_broken_fixtures"])
    host.register_plugin(_Mutants(), "tests.delivery_mutants")
    s = load_settings(None, host.registry, env={})
    (target,) = component_targets(host, s, [item])
    return run_check(INVARIANT, target, RunContext(examples=examples, seed=0))


@pytest.mark.parametrize(
    "item",
    [
        "estimator:kappa",
        "estimator:warmup",
        "gate:warmup",
        "gate:data_quality",
        "gate:kill_switch",
        "estimator:adverse_selection",
        "estimator:rl_skew",
    ],
)
def test_the_default_sets_declarations_hold(item: str) -> None:
    r = _run(item)
    assert r.status is Status.PASS, r.message


@pytest.mark.parametrize("item", ["estimator:sigma", "estimator:lead_lag"])
def test_a_component_without_a_declaration_is_not_applicable(item: str) -> None:
    r = _run(item, examples=5)
    assert r.status is Status.NOT_APPLICABLE, r.message
    assert "declares no ignored kinds" in r.message


@pytest.mark.parametrize(
    ("item", "what"),
    [
        ("estimator:broken_deaf_throttle", "size_scale: fed every event: 0.5"),
        ("gate:broken_deaf_pause", "reason='FillPause'"),
    ],
)
def test_a_component_deaf_to_what_it_uses_fails_with_its_counterexample(
    item: str, what: str
) -> None:
    r = _run(item)
    assert r.status is Status.FAIL, r.message
    assert "declares it ignores ACTION_RESULT" in r.message and what in r.message
    assert "(fill)" in r.message  # the shrunk stream: one own fill
    ce = r.counterexample
    assert "events withheld from the second copy" in ce and "(OWN_FILL)" in ce, ce


@pytest.mark.parametrize(
    ("item", "withheld"),
    [
        ("gate:liquidation_blind_kill", "OWN_FILL"),
        ("gate:result_blind_kill", "ACTION_RESULT"),
        ("estimator:fill_blind_kappa", "OWN_FILL"),
        ("estimator:top_blind_adverse", "BBO"),
        ("estimator:trade_blind_adverse", "TRADE"),
        ("estimator:top_blind_rl", "BBO"),
        ("estimator:trade_blind_rl", "TRADE"),
        ("estimator:position_blind_rl", "POSITION_SNAPSHOT"),
    ],
)
def test_a_built_in_given_a_false_declaration_fails(item: str, withheld: str) -> None:
    """Mutants of the built-ins: a kill switch that ignores its own fills never trips on a
    liquidation, one that ignores action results never trips on a burst of rejections, a
    kappa that ignores its own fills never moves its own-fill posterior; the
    adverse-selection classifier and the RL skew agent blind to the top of book, the trades
    or the venue's position learn from other inputs than they would be given."""
    r = _run(item, examples=200)
    assert r.status is Status.FAIL, r.message
    assert "declares it ignores" in r.message and withheld in r.message, r.message
    assert f"({withheld})" in r.counterexample, r.counterexample


def test_the_top_of_book_session_reaches_the_models_that_learn_from_it() -> None:
    """The fixed stream does what it is there for: the classifier resolves markouts of its
    own fills (and its model moves off zero), the agent makes decisions whose rewards come
    from a position marked to a top of book that moves."""
    from mmkit.audit.invariants.delivery import top_of_book_session
    from mmkit.audit.invariants.estimators import busy_market, feed, stream_events
    from mmkit.audit.invariants.twins import jumpy_market
    from mmkit.signals.params import AdverseSelectionParams, RlSkewParams

    adverse = AdverseSelectionEstimator(AdverseSelectionParams())
    agent = RlSkewAgent(RlSkewParams(), 0.05)
    out = Estimates(), Estimates()
    tops = 0
    for _, now, ev, _ in stream_events(top_of_book_session(), busy_market() + jumpy_market()):
        tops += ev.kind is EventKind.BBO
        feed(adverse, ev, now)
        feed(agent, ev, now)
        adverse.estimate(out[0], now)
        agent.estimate(out[1], now)
    assert tops >= 400
    assert adverse.outcomes >= 20 and abs(adverse.model.w).max() > 0.0
    assert agent.decisions >= 20 and abs(agent.q).max() > 0.0
    assert agent.position == 0.015


def test_a_twin_declaring_more_than_its_reference_is_checked_on_its_own() -> None:
    """The engine runs the twin under ``[engine] twins``: its own declaration must hold."""
    r = _run("estimator:fill_counter")
    assert r.status is Status.FAIL, r.message
    assert "its compiled twin, which declares it ignores ACTION_RESULT" in r.message
    assert "extras['fills.n']" in r.message


def test_market_only_is_what_the_invariant_names_for_a_market_data_gate() -> None:
    assert (
        DECLARABLE_KINDS
        - {
            EventKind.BOOK_SNAPSHOT,
            EventKind.BOOK_DELTA,
            EventKind.TRADE,
            EventKind.BBO,
        }
        == NOT_MARKET_DATA
    )
