"""Broken executors: the built-in smart executor with one classic defect each.

Each subclass changes exactly one behaviour, so that the audit's failure can only come from
that defect.
"""

from __future__ import annotations

from typing import Any

from mmkit.core.actions import Action
from mmkit.core.events import ActionResult
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.execution.budget import ExecutionBudget
from mmkit.execution.orders import OrderState, TrackedOrder
from mmkit.execution.smart_executor import SmartExecutor

_GONE = (
    RejectReason.MODIFY_TARGET_CANCELED,
    RejectReason.MODIFY_TARGET_FILLED,
    RejectReason.MODIFY_PLACE_FAILED,
)


class ModifyDropExecutor(SmartExecutor):
    """BUG: after a failed MODIFY it believes the order rests at the new price, so the level
    stays empty on the venue and is never re-placed (the seed report's smart_reconcile risk)."""

    def _modify_result(
        self, o: TrackedOrder, r: ActionResult, now_ns: int, out: list[Action]
    ) -> None:
        if r.outcome not in (Outcome.RESTING, Outcome.FILLED) and r.reason in _GONE:
            o.pending = ""
            o.px = o.new_px
            o.state = OrderState.RESTING  # the level is silently lost
            return
        super()._modify_result(o, r, now_ns, out)


class NoReserveBudget(ExecutionBudget):
    """BUG: no emergency reserve. Normal actions may spend every token, and kill-switch
    cancels are refused like any other action once the tokens are gone."""

    def available(self, now_ns: int) -> float:
        self._refill(now_ns)
        return max(0.0, self.tokens)

    def spend(self, n_actions: int, now_ns: int, *, emergency: bool = False) -> bool:
        return super().spend(n_actions, now_ns, emergency=False)

    def exhaust(self) -> None:
        self.tokens = 0.0


class NoReserveExecutor(SmartExecutor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        old = self.budget
        self.budget = NoReserveBudget(
            initial=old.tokens,
            capacity=old.capacity,
            per_usd=old.per_usd,
            refill_per_s=old.refill_per_s,
            cost_per_action=old.cost,
            reserve=0.0,
        )


def build_modify_drop(ctx: Any) -> ModifyDropExecutor:
    return ModifyDropExecutor(ctx.params, ctx.instrument, ctx.seed)


def build_budget(ctx: Any) -> NoReserveExecutor:
    return NoReserveExecutor(ctx.params, ctx.instrument, ctx.seed)
