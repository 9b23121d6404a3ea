"""Stateful property test: the smart executor against the fake venue under every fault.

The machine itself lives in :func:`mmkit.audit.invariants.execution.machine_class` (the
``execution.stateful_safety`` audit invariant runs it on any executor); here it runs on the
built-in executor with more examples, and on broken executors to show it catches them.

Random ladders, market moves (fills through our orders), trades (partial fills), direct
partial fills, rejections, modify failures, lost / delayed / reordered acknowledgements,
disconnects, executor restarts with orders resting, external fills and cancels, gate
closures and an exhausted budget. After every step:

* worst-case exposure (position + resting, per side) never rises above max position;
* the rolling IP weight stays <= 1,200 per minute and the venue never answers 429;
* no PLACE or MODIFY goes out while the gate is closed;

and at every settle point (faults stopped, a position sync done):

* the executor's open orders and the engine's position equal the venue's;
* every desired level rests at its price (none left empty after a failed modify, none
  doubled), within what the position limit allows.

A kill-switch halt with the budget exhausted must cancel everything.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mmkit.audit.invariants.execution import FAILURES, machine_class
from mmkit.core.types import NS_PER_S
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.testing.fake_venue import book

from .helpers import (
    BudgetWithoutReserve,
    DropsLevelAfterFailedModify,
    ForgetsModifiedOrders,
    IgnoresHalt,
    ModifiesWithoutLimit,
    factory_of,
    smart_target,
    target_for,
)

SmartMachine = machine_class(smart_target())
ExecutionMachine = SmartMachine


TestExecutionMachine = pytest.mark.slow(SmartMachine.TestCase)
SmartMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


BROKEN = {
    "ignores_halt": IgnoresHalt,
    "no_reserve": BudgetWithoutReserve,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_machine_catches_broken_executor(name: str) -> None:
    broken = target_for(factory_of(BROKEN[name]), SmartExecutorParams())
    case = machine_class(broken).TestCase
    case.settings = settings(
        max_examples=200,
        stateful_step_count=30,
        deadline=None,
        derandomize=True,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    with pytest.raises(AssertionError):
        case().runTest()


def _machine_with(cls: type) -> Any:
    m = machine_class(target_for(factory_of(cls), SmartExecutorParams()))()
    m.start()
    return m


@pytest.mark.parametrize("kind", FAILURES)
def test_machine_catches_dropped_level(kind: str) -> None:
    m = _machine_with(DropsLevelAfterFailedModify)
    m.modify_failure(kind, 1)
    with pytest.raises(AssertionError, match="desired"):
        m.settle_and_check()
    ok = _machine_with(SmartExecutor)
    ok.modify_failure(kind, 1)
    ok.settle_and_check()


def test_machine_catches_forgotten_modify() -> None:
    m = _machine_with(ForgetsModifiedOrders)
    m.set_ladder(97, 103, 2, 0.2)
    with pytest.raises(AssertionError, match="open orders"):
        m.settle_and_check()


def test_machine_catches_oversized_orders() -> None:
    m = _machine_with(ModifiesWithoutLimit)
    m.set_ladder(99, 101, 3, 0.5)
    with pytest.raises(AssertionError, match="worst case"):
        m.exposure_within_limit()


def test_book_helper_is_consistent() -> None:
    b = book(99.5, 100.5, NS_PER_S)
    assert b.bid_px[0] < b.ask_px[0]
