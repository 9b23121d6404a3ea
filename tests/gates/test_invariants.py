"""Gate invariants PASS on the built-in gates and FAIL on deliberately broken ones."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mmkit.audit.invariant import AuditContext, AuditTarget, NotApplicable
from mmkit.audit.invariants.execution import INSTRUMENT
from mmkit.audit.invariants.gates import INVARIANTS
from mmkit.components import Estimates, GateDecision, View
from mmkit.gates.data_quality import DataQualityGate
from mmkit.gates.kill_switch import KillSwitch
from mmkit.gates.params import DataQualityParams, KillSwitchParams
from mmkit.registry import BuildContext, ComponentSpec, RiskLimits

BY_ID = {inv.id: inv for inv in INVARIANTS}
CTX = AuditContext(examples=25, seed=0)


def target(factory: Any, params: Any, name: str = "under_test") -> AuditTarget:
    spec = ComponentSpec("gate", name, factory, type(params), "test", "tests")
    return AuditTarget(spec, params, INSTRUMENT, RiskLimits(max_position=3.0))


def dq(ctx: BuildContext[Any]) -> DataQualityGate:
    return DataQualityGate(ctx.params)


def ks(ctx: BuildContext[Any]) -> KillSwitch:
    return KillSwitch(ctx.params)


class CrossedBlind(DataQualityGate):
    """Only looks at staleness: a crossed or empty book passes."""

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        d = super().check(view, est, now_ns)
        return None if d is not None and d.reason in ("Crossed", "EmptyBook") else d


class NonLatching(KillSwitch):
    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        d = super().check(view, est, now_ns)
        self.tripped = None
        return d


class SilentOnBrokenPnl(KillSwitch):
    def _check_pnl(self, view: View, now_ns: int) -> GateDecision | None:
        try:
            return super()._check_pnl(view, now_ns)
        finally:
            if self.tripped is not None and self.tripped.reason == "PnlUnavailable":
                self.tripped = None


def silent(ctx: BuildContext[Any]) -> KillSwitch:
    g = SilentOnBrokenPnl(ctx.params)
    real = g.check

    def check(view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        d = real(view, est, now_ns)
        return None if d is not None and d.reason == "PnlUnavailable" else d

    g.check = check  # type: ignore[method-assign]
    return g


DQ = DataQualityParams()
KS = KillSwitchParams()


def test_data_quality_passes() -> None:
    BY_ID["gates.data_quality_closes"].check(target(dq, DQ), CTX)


def test_kill_switch_passes() -> None:
    BY_ID["gates.kill_switch_latches"].check(target(ks, KS), CTX)


@pytest.mark.parametrize(
    "broken",
    [
        (
            lambda ctx: DataQualityGate(
                replace(ctx.params, max_data_age_ms=3_600_001.0, max_book_age_ms=0.0)
            ),
            "stale",
        ),
        (lambda ctx: CrossedBlind(ctx.params), "crossed"),
    ],
    ids=["ignores_staleness", "ignores_crossed_book"],
)
def test_data_quality_fails_on_broken(broken: Any) -> None:
    with pytest.raises((AssertionError, BaseExceptionGroup)):
        BY_ID["gates.data_quality_closes"].check(target(broken[0], DQ), CTX)


@pytest.mark.parametrize(
    "factory",
    [lambda ctx: NonLatching(ctx.params), silent],
    ids=["non_latching", "silent_on_broken_pnl"],
)
def test_kill_switch_fails_on_broken(factory: Any) -> None:
    with pytest.raises((AssertionError, BaseExceptionGroup)):
        BY_ID["gates.kill_switch_latches"].check(target(factory, KS), CTX)


def test_gates_of_another_declared_role_are_not_applicable() -> None:
    with pytest.raises(NotApplicable):
        BY_ID["gates.data_quality_closes"].check(target(ks, KS), CTX)
    with pytest.raises(NotApplicable):
        BY_ID["gates.kill_switch_latches"].check(target(dq, DQ), CTX)
