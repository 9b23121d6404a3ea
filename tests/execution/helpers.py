"""Targets, rigs and deliberately broken executors for the execution tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mmkit.audit.invariant import AuditTarget
from mmkit.audit.invariants.execution import INSTRUMENT
from mmkit.components import GateDecision, Ladder, View
from mmkit.core.actions import Action, CancelAll, Modify, Place
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.params import NoParams
from mmkit.registry import BuildContext, ComponentSpec, RiskLimits


def target_for(
    factory: Callable[[BuildContext[Any]], Any],
    params: Any = None,
    name: str = "under_test",
    kind: str = "executor",
) -> AuditTarget:
    p = params if params is not None else SmartExecutorParams()
    spec = ComponentSpec(
        kind, name, factory, type(p) if params is not None else NoParams, "test", "tests"
    )
    return AuditTarget(spec, p, INSTRUMENT, RiskLimits(max_position=3.0, order_size=0.2))


def smart_factory(ctx: BuildContext[Any]) -> SmartExecutor:
    params = ctx.params if isinstance(ctx.params, SmartExecutorParams) else SmartExecutorParams()
    return SmartExecutor(params, ctx.instrument, ctx.seed)


def smart_target(**overrides: Any) -> AuditTarget:
    return target_for(smart_factory, replace(SmartExecutorParams(), **overrides), name="smart")


# -- broken executors (each violates one invariant) ---------------------------------------


class DropsLevelAfterFailedModify(SmartExecutor):
    """Forgets a level whose modify failed: never re-quotes it (the seed's §4 risk)."""

    def __init__(self, *a: Any, **k: Any) -> None:
        super().__init__(*a, **k)
        self.dropped: set[tuple[Any, int]] = set()

    def _modify_result(self, o: Any, r: Any, now_ns: int, out: list[Action]) -> None:
        if r.outcome.value == "rejected":
            self.dropped.add((o.side, o.level))
        super()._modify_result(o, r, now_ns, out)

    def _reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        acts = super()._reconcile(ladder, view, now_ns)
        return [a for a in acts if not (isinstance(a, Place) and (a.side, a.level) in self.dropped)]


class NoRateLimit(SmartExecutor):
    """Requotes as fast as asked: no proactive rate tracking, no requote interval."""

    def _permit(self, actions: list[Action], now_ns: int, *, emergency: bool = False) -> bool:
        return True


def no_rate_factory(ctx: BuildContext[Any]) -> SmartExecutor:
    p = replace(SmartExecutorParams(), min_requote_interval_ms=0.0)
    return NoRateLimit(p, ctx.instrument, ctx.seed)


class NoRejectionBackoff(SmartExecutor):
    def __init__(self, *a: Any, **k: Any) -> None:
        super().__init__(*a, **k)
        self.rejections.threshold = 10**9


class BudgetWithoutReserve(SmartExecutor):
    """Treats emergency cancels like normal ones: blocked when the budget is exhausted."""

    def _permit(self, actions: list[Action], now_ns: int, *, emergency: bool = False) -> bool:
        return super()._permit(actions, now_ns, emergency=False)


class CancelsOnExhaustion(SmartExecutor):
    """Cancels everything when the budget runs out."""

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        if self.budget.available(now_ns) < self.budget.cost:
            self.budget.tokens += 1
            return [CancelAll(self._next_rid(), "budget exhausted")]
        return super().reconcile(ladder, view, now_ns)


class ForgetsModifiedOrders(SmartExecutor):
    """Ignores a modify's new oid: local open orders drift from the venue's."""

    def _bind(self, o: Any, oid: int | None) -> None:
        if o.oid is None:
            super()._bind(o, oid)


class IgnoresHalt(SmartExecutor):
    """Keeps quoting when a gate is closed."""

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        return []


class ModifiesWithoutLimit(SmartExecutor):
    """Sends a modify with the full original size after partial fills (overfills)."""

    def _reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        acts = super()._reconcile(ladder, view, now_ns)
        return [replace(a, sz=a.sz * 3) if isinstance(a, Modify | Place) else a for a in acts]


def factory_of(cls: type[SmartExecutor]) -> Callable[[BuildContext[Any]], SmartExecutor]:
    def build(ctx: BuildContext[Any]) -> SmartExecutor:
        params = (
            ctx.params if isinstance(ctx.params, SmartExecutorParams) else SmartExecutorParams()
        )
        return cls(params, ctx.instrument, ctx.seed)

    return build
