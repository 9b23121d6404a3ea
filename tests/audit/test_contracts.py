"""Audit contracts per kind and applicability (issue 18, structural cause 1).

An invariant is NOT_APPLICABLE only when what a component was *observed* to do, together
with what it *declares*, puts it out of scope; a component in scope that lacks the
capability a check needs is UNAUDITED with the missing members named; nothing is read
with a lenient default. Each case below has a twin that differs only in the contract, so
that the test would fail if applicability fell back to a silent skip.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.audit import applicability as ap
from mmkit.audit.invariant import AuditContext, AuditTarget, NotApplicable, Unaudited
from mmkit.audit.invariants.estimators import INVARIANTS as ESTIMATOR_INVARIANTS
from mmkit.audit.invariants.execution import INSTRUMENT
from mmkit.audit.invariants.execution import INVARIANTS as EXECUTION_INVARIANTS
from mmkit.audit.invariants.gates import INVARIANTS as GATE_INVARIANTS
from mmkit.components import (
    AuditableExecutor,
    BudgetState,
    Estimates,
    GateDecision,
    GateRole,
    KappaSources,
    OwnFillPosterior,
    SigmaCapped,
    View,
    missing_members,
)
from mmkit.core.actions import Action
from mmkit.core.events import BookSnapshot, Event, OwnFill, Trade
from mmkit.estimators.sigma_estimator import SigmaEstimator
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.registry import BuildContext, ComponentSpec, RiskLimits
from mmkit.testing.verdicts import VerdictContext, builtin_target, target_of, verdict

BY_ID = {inv.id: inv for inv in (*ESTIMATOR_INVARIANTS, *GATE_INVARIANTS, *EXECUTION_INVARIANTS)}
CTX = VerdictContext(examples=15, seed=0)


def _estimator(cls: type) -> AuditTarget:
    return target_of("estimator", lambda _ctx: cls())


# -- estimators ------------------------------------------------------------------------------


class _MidSigma:
    """Sigma from the absolute log return of the mid between books (uncapped: a 5% jump
    publishes 0.05, far above any sane cap)."""

    def __init__(self) -> None:
        self.mid = math.nan
        self.sigma = 1e-4

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, BookSnapshot) and len(event.bid_px) and len(event.ask_px):
            mid = 0.5 * (float(event.bid_px[0]) + float(event.ask_px[0]))
            if self.mid > 0 and mid > 0 and math.isfinite(mid):
                self.sigma = max(1e-6, abs(math.log(mid / self.mid)))
            if math.isfinite(mid) and mid > 0:
                self.mid = mid

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.sigma = min(self.sigma, 1e-3)  # capped at 1e-3, whatever it says


class SigmaNoCap(_MidSigma):
    """Publishes sigma (declared) but does not say which cap it enforces."""

    publishes = frozenset({"sigma"})


class SigmaWithCap(_MidSigma):
    """The same estimator stating its cap: the audit can check it."""

    publishes = frozenset({"sigma"})

    def sigma_cap(self) -> float:
        return 1e-3


class SigmaDeclaresKappa(SigmaWithCap):
    """Writes sigma but declares that it publishes kappa."""

    publishes = frozenset({"kappa"})


class SigmaUndeclared(_MidSigma):
    """Declares nothing, writes sigma, and its cap is wrong (it publishes up to 1e-3)."""

    def sigma_cap(self) -> float:
        return 5e-4


class SigmaLateExtras(SigmaWithCap):
    """Declares sigma, but after 4000 s without data writes an undeclared extras key."""

    def __init__(self) -> None:
        super().__init__()
        self.last = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        super().on_event(event, now_ns)
        self.gap = self.last >= 0 and now_ns - self.last > 3000 * 10**9
        self.last = now_ns

    def estimate(self, out: Estimates, now_ns: int) -> None:
        super().estimate(out, now_ns)
        if getattr(self, "gap", False):
            out.extras["late.gap"] = 1.0


def test_sigma_estimator_without_sigma_cap_is_unaudited_not_skipped() -> None:
    inv = BY_ID["estimators.sigma_bounded"]
    with pytest.raises(Unaudited) as info:
        inv.check(_estimator(SigmaNoCap), CTX)
    assert info.value.missing == ("sigma_cap()",)
    assert "SigmaCapped" in str(info.value)
    # its twin stating the cap is checked, and passes (it enforces 1e-3)
    assert verdict(inv, _estimator(SigmaWithCap), CTX) == "pass"


def test_sigma_cap_must_be_finite() -> None:
    class InfiniteCap(SigmaWithCap):
        def sigma_cap(self) -> float:
            return math.inf

    assert verdict(BY_ID["estimators.sigma_bounded"], _estimator(InfiniteCap), CTX) == "fail"


def test_publishes_declared_fails_on_undeclared_sigma() -> None:
    inv = BY_ID["estimators.publishes_declared"]
    with pytest.raises(AssertionError, match="sigma"):
        inv.check(_estimator(SigmaDeclaresKappa), CTX)
    assert verdict(inv, _estimator(SigmaWithCap), CTX) == "pass"


def test_publishes_declared_sees_writes_only_adversarial_streams_reach() -> None:
    """The observation stream is deterministic; the hypothesis part of the check also
    records what an estimator writes on adversarial streams (here after a long silence)."""
    inv = BY_ID["estimators.publishes_declared"]
    target = _estimator(SigmaLateExtras)
    assert verdict(inv, target, VerdictContext(examples=60, seed=0)) == "fail"


def test_publishes_declared_is_unaudited_without_a_declaration() -> None:
    with pytest.raises(Unaudited) as info:
        BY_ID["estimators.publishes_declared"].check(_estimator(SigmaUndeclared), CTX)
    assert info.value.missing == ("publishes",)


def test_an_undeclared_sigma_writer_is_still_held_to_the_sigma_invariants() -> None:
    target = _estimator(SigmaUndeclared)
    assert "sigma" in ap.observed_publishes(target)
    assert ap.declared_publishes(target.build()) is None
    # in scope by observation: checked, and its cap (5e-4) is below what it publishes
    assert verdict(BY_ID["estimators.sigma_bounded"], target, CTX) == "fail"


def test_a_field_outside_observed_and_declared_scope_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="kappa"):
        BY_ID["estimators.kappa_positive"].check(_estimator(SigmaWithCap), CTX)


class _FillKappa:
    """Kappa from the mean depth of its own fills (1 / mean relative depth)."""

    publishes = frozenset({"kappa"})

    def __init__(self) -> None:
        self.mid = math.nan
        self.depths: list[float] = []

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, BookSnapshot) and len(event.bid_px) and len(event.ask_px):
            mid = 0.5 * (float(event.bid_px[0]) + float(event.ask_px[0]))
            if math.isfinite(mid) and mid > 0:
                self.mid = mid
        elif isinstance(event, OwnFill) and self.mid > 0:
            d = abs(float(event.px) - self.mid) / self.mid
            if 0 < d < 0.01:
                self.depths.append(d)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        if self.depths:
            out.kappa = 1.0 / (sum(self.depths) / len(self.depths))


class _MarketKappa(_FillKappa):
    """The same shape, from market trades only: never looks at own fills."""

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, OwnFill):
            return
        if isinstance(event, Trade) and self.mid > 0:
            d = abs(float(event.px) - self.mid) / self.mid
            if 0 < d < 0.01:
                self.depths.append(d)
            return
        super().on_event(event, now_ns)


def test_own_fill_kappa_without_posterior_is_unaudited() -> None:
    target = _estimator(_FillKappa)
    assert ap.consumes(target, "fill")
    with pytest.raises(Unaudited) as info:
        BY_ID["estimators.conjugacy_counts"].check(target, CTX)
    assert "posterior()" in info.value.missing and "prior" in info.value.missing


def test_market_only_kappa_is_out_of_own_fill_scope() -> None:
    target = _estimator(_MarketKappa)
    assert not ap.consumes(target, "fill")
    for inv_id in ("estimators.conjugacy_counts", "estimators.convex_blend"):
        assert verdict(BY_ID[inv_id], target, CTX) == "not_applicable", inv_id


def test_builtins_declare_their_contracts() -> None:
    sigma = builtin_target("estimator", "sigma")
    est = sigma.build()
    assert isinstance(est, SigmaEstimator) and isinstance(est, SigmaCapped)
    assert est.sigma_cap() == est.max_sigma
    assert math.isfinite(est.sigma_cap())
    kappa = builtin_target("estimator", "kappa").build()
    assert isinstance(kappa, OwnFillPosterior) and isinstance(kappa, KappaSources)
    for name in ("kappa", "sigma", "warmup", "adverse_selection", "lead_lag", "rl_skew"):
        target = builtin_target("estimator", name)
        declared = ap.declared_publishes(target.build())
        assert declared, name
        extra = [n for n in ap.observed_publishes(target) if not ap.covers(declared, n)]
        assert not extra, (name, extra)
    assert missing_members(builtin_target("estimator", "rl_skew").build(), SigmaCapped)


def test_sigma_cap_is_the_same_in_cascade_mode() -> None:
    from mmkit.audit.invariants.estimators import _book

    est = builtin_target("estimator", "sigma").build()
    cap = est.sigma_cap()
    out = Estimates()
    t = 1_700_000_000 * 10**9
    for i in range(200):
        t += 10**9 // 2
        est.on_event(_book(t, 100.0 * (1 + 1e-5 * (i % 3))), t)
        est.estimate(out, t)
    est.on_event(_book(t + 10**9, 120.0), t + 10**9)
    est.estimate(out, t + 10**9)
    assert out.cascade, "a 20% jump should enter cascade mode"
    assert est.sigma_cap() == cap and out.sigma <= cap


# -- gates -------------------------------------------------------------------------------------


class _SpreadGate:
    """Closes when the spread is wider than 1% of mid; no roles declared."""

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        bid, ask = view.market.best_bid, view.market.best_ask
        if not (0 < bid < ask < math.inf):
            return GateDecision("spread", "NoBook")
        return GateDecision("spread", "Wide") if (ask - bid) / view.mid > 0.01 else None


class _RaisingSpreadGate(_SpreadGate):
    """The same gate reading the top levels directly: raises IndexError on an empty side."""

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        bid, ask = float(view.market.bid_px[0]), float(view.market.ask_px[0])
        if not (0 < bid < ask < math.inf):
            return GateDecision("spread", "NoBook")
        return GateDecision("spread", "Wide") if (ask - bid) / view.mid > 0.01 else None


def _gate(factory: Any) -> AuditTarget:
    spec = ComponentSpec("gate", "under_test", factory, type(None), "test", "tests")
    return AuditTarget(spec, None, INSTRUMENT, RiskLimits(max_position=3.0))


def test_gate_without_roles_is_audited_for_fail_safety() -> None:
    inv = BY_ID["gates.fail_safe"]
    inv.check(_gate(lambda _ctx: _SpreadGate()), CTX)  # a correct gate passes
    with pytest.raises(AssertionError) as info:
        inv.check(_gate(lambda _ctx: _RaisingSpreadGate()), CTX)
    text = str(info.value)
    assert "IndexError" in text and "test_contracts.py" in text and "in check" in text


def test_gate_without_roles_is_unaudited_for_role_invariants() -> None:
    for inv_id in ("gates.data_quality_closes", "gates.kill_switch_latches"):
        with pytest.raises(Unaudited) as info:
            BY_ID[inv_id].check(_gate(lambda _ctx: _SpreadGate()), CTX)
        assert info.value.missing == ("roles",)


def test_gate_roles_read_from_roles_and_the_older_provides() -> None:
    class Declared(_SpreadGate):
        roles = frozenset({GateRole.OTHER})

    class Old(_SpreadGate):
        provides = frozenset({"kill_switch"})

    class Bad(_SpreadGate):
        roles = frozenset({"watchdog"})

    assert ap.gate_roles(_gate(lambda _ctx: Declared())) == frozenset({GateRole.OTHER})
    assert ap.gate_roles(_gate(lambda _ctx: Old())) == frozenset({GateRole.KILL_SWITCH})
    assert ap.gate_roles(_gate(lambda _ctx: _SpreadGate())) is None
    with pytest.raises(TypeError, match="watchdog"):
        ap.gate_roles(_gate(lambda _ctx: Bad()))
    with pytest.raises(NotApplicable):
        BY_ID["gates.data_quality_closes"].check(_gate(lambda _ctx: Declared()), CTX)


def test_builtin_gates_declare_roles() -> None:
    for name, role in (
        ("data_quality", GateRole.DATA_QUALITY),
        ("kill_switch", GateRole.KILL_SWITCH),
        ("warmup", GateRole.WARMUP),
    ):
        assert ap.gate_roles(builtin_target("gate", name)) == frozenset({role})


# -- executors ---------------------------------------------------------------------------------


class _Opaque:
    """A working executor (the smart one inside) that exposes nothing to the audit."""

    def __init__(self, ctx: BuildContext[Any]) -> None:
        self._inner = SmartExecutor(instrument=ctx.instrument, seed=ctx.seed)

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        return self._inner.on_event(event, view, now_ns)

    def reconcile(self, ladder: Any, view: View, now_ns: int) -> list[Action]:
        return self._inner.reconcile(ladder, view, now_ns)

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        return self._inner.halt(decision, view, now_ns)


def _executor(factory: Any) -> AuditTarget:
    spec = ComponentSpec("executor", "under_test", factory, type(None), "test", "tests")
    return AuditTarget(spec, None, INSTRUMENT, RiskLimits(max_position=3.0, order_size=0.2))


@pytest.mark.parametrize(
    "inv_id",
    ["execution.exchange_authority", "execution.emergency_reserve", "execution.stateful_safety"],
)
def test_executor_without_open_orders_is_unaudited(inv_id: str) -> None:
    with pytest.raises(Unaudited) as info:
        BY_ID[inv_id].check(_executor(_Opaque), AuditContext(examples=1))
    assert "open_orders()" in info.value.missing
    assert set(info.value.missing) == {"open_orders()", "budget_state()", "exhaust_budget()"}


def test_smart_executor_is_auditable() -> None:
    ex = SmartExecutor(instrument=INSTRUMENT)
    assert isinstance(ex, AuditableExecutor) and not missing_members(ex, AuditableExecutor)
    before = ex.budget_state()
    assert isinstance(before, BudgetState) and before.tokens > before.reserve
    ex.exhaust_budget()
    after = ex.budget_state()
    assert after.tokens <= after.reserve and after.reserve == before.reserve


# -- the helpers' own properties -----------------------------------------------------------------

_names = st.text(st.sampled_from("abcxyz._"), min_size=1, max_size=8)


@given(_names, _names)
def test_prefix_patterns_cover_their_keys_and_nothing_else(prefix: str, rest: str) -> None:
    declared = frozenset({prefix + "*"})
    assert ap.covers(declared, prefix + rest)
    other = "Q" + prefix + rest  # never starts with the prefix
    assert not ap.covers(declared, other)
    assert ap.covers(frozenset({other}), other) and not ap.covers(frozenset({other}), prefix)


@given(st.sets(st.sampled_from(["sigma_cap", "posterior", "prior", "window_s"])))
def test_missing_members_names_exactly_what_is_absent(present: set[str]) -> None:
    attrs: dict[str, Any] = {}
    for name in present:
        attrs[name] = (lambda self: 1.0) if name in ("sigma_cap", "posterior") else 1.0
    obj = type("Partial", (), attrs)()
    missing = set(missing_members(obj, OwnFillPosterior)) | set(missing_members(obj, SigmaCapped))
    expect = {"has_exited_warmup", "observation_count", "warmup_fills"}
    expect |= {"sigma_cap()", "posterior()", "prior", "window_s"} - {
        n + "()" if n in ("sigma_cap", "posterior") else n for n in present
    }
    assert missing == expect


def test_a_declaration_that_is_not_a_set_of_names_is_an_error() -> None:
    class Bad:
        publishes = "sigma"

    with pytest.raises(TypeError, match="publishes"):
        ap.declared_publishes(Bad())


def test_the_runner_reports_a_missing_contract_as_unaudited_with_its_members() -> None:
    from mmkit.audit.results import Status
    from mmkit.audit.runner import RunContext, run_check

    inv = BY_ID["estimators.sigma_bounded"]
    res = run_check(inv, _estimator(SigmaNoCap), RunContext(examples=5))
    assert res.status is Status.UNAUDITED and res.missing == ("sigma_cap()",)
    ok = run_check(inv, _estimator(SigmaWithCap), RunContext(examples=5))
    assert ok.status is Status.PASS


class _OwnPrefixShift:
    """Writes fair_value_shift only once it has seen a quote on its own leader stream."""

    leader_prefix = "binance:"

    def __init__(self) -> None:
        self.seen = False

    def on_event(self, event: Event, now_ns: int) -> None:
        self.seen = self.seen or getattr(event, "stream", "") == "binance:bbo"

    def estimate(self, out: Estimates, now_ns: int) -> None:
        if self.seen:
            out.fair_value_shift = 1e-5


def test_observation_plays_the_components_own_leader_stream() -> None:
    assert "fair_value_shift" in ap.observed_publishes(_estimator(_OwnPrefixShift))
