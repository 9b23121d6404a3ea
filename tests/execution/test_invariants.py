"""Each executor invariant PASSes on the built-in executor and FAILs on a broken one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mmkit.audit.invariant import AuditContext, Invariant
from mmkit.audit.invariants.execution import INVARIANTS

from .helpers import (
    BudgetWithoutReserve,
    CancelsOnExhaustion,
    DropsLevelAfterFailedModify,
    ForgetsModifiedOrders,
    IgnoresHalt,
    NoRejectionBackoff,
    factory_of,
    no_rate_factory,
    smart_factory,
    smart_target,
    target_for,
)

BY_ID = {inv.id: inv for inv in INVARIANTS}
CTX = AuditContext(examples=6, seed=0)

BROKEN: dict[str, list[Any]] = {
    "execution.modify_place_fallback": [factory_of(DropsLevelAfterFailedModify)],
    "execution.halt_cancels_all": [factory_of(IgnoresHalt)],
    "execution.exchange_authority": [factory_of(ForgetsModifiedOrders)],
    "execution.stateful_safety": [factory_of(IgnoresHalt), factory_of(BudgetWithoutReserve)],
    "execution.ip_weight_limit": [no_rate_factory],
    "execution.rejection_backoff": [factory_of(NoRejectionBackoff)],
    "execution.emergency_reserve": [
        factory_of(BudgetWithoutReserve),
        factory_of(CancelsOnExhaustion),
    ],
}


def _run(inv: Invariant, factory: Any) -> None:
    inv.check(target_for(factory, name="under_test"), CTX)


def test_every_invariant_has_a_broken_executor() -> None:
    assert set(BROKEN) == set(BY_ID)


@pytest.mark.parametrize("inv_id", sorted(BY_ID))
def test_invariant_passes_on_smart(inv_id: str) -> None:
    BY_ID[inv_id].check(smart_target(), CTX)
    _run(BY_ID[inv_id], smart_factory)


def _case(inv_id: str, idx: int) -> Any:
    slow = (
        [pytest.mark.slow]
        if inv_id in ("execution.ip_weight_limit", "execution.stateful_safety")
        else []
    )
    return pytest.param(inv_id, idx, marks=slow, id=f"{inv_id}-{idx}")


@pytest.mark.parametrize(
    ("inv_id", "idx"), [_case(k, i) for k, v in sorted(BROKEN.items()) for i in range(len(v))]
)
def test_invariant_fails_on_broken(inv_id: str, idx: int) -> None:
    with pytest.raises((AssertionError, BaseExceptionGroup)):
        _run(BY_ID[inv_id], BROKEN[inv_id][idx])


def test_invariants_unaudited_without_introspection() -> None:
    from mmkit.audit.invariant import Unaudited
    from mmkit.audit.reference import ReferenceExecutor

    def build(ctx: Any) -> Any:
        make: Callable[..., Any] = ReferenceExecutor  # takes the instrument in some versions
        return make(ctx.instrument) if _takes_instrument() else make()

    for inv_id in ("execution.exchange_authority", "execution.emergency_reserve"):
        with pytest.raises(Unaudited):
            BY_ID[inv_id].check(target_for(build), CTX)


def _takes_instrument() -> bool:
    import inspect

    from mmkit.audit.reference import ReferenceExecutor

    return len(inspect.signature(ReferenceExecutor).parameters) > 0
