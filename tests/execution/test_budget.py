"""Execution budget edges: reserve, exhaustion, earning, emergency spends, capacity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.types import NS_PER_S
from mmkit.execution.budget import ExecutionBudget


def test_normal_spend_stops_at_the_reserve() -> None:
    b = ExecutionBudget(initial=23.0, reserve=20.0, cost_per_action=1.0)
    assert b.spend(3, 0)
    assert not b.can_afford(1, 0)
    assert not b.spend(1, 0)
    assert b.tokens == 20.0 and b.skips == 1


def test_exact_edge_is_affordable() -> None:
    b = ExecutionBudget(initial=21.0, reserve=20.0)
    assert b.can_afford(1, 0) and not b.can_afford(2, 0)


def test_emergency_uses_the_reserve_and_is_never_refused() -> None:
    b = ExecutionBudget(initial=25.0, reserve=20.0)
    b.exhaust()
    assert b.tokens == 20.0
    for _ in range(30):
        assert b.spend(1, 0, emergency=True)
    assert b.tokens == 0.0 and b.emergency_spent == 20.0


def test_earn_per_usd_filled_and_capacity() -> None:
    b = ExecutionBudget(initial=0.0, capacity=100.0, per_usd=0.5, reserve=20.0)
    b.earn_fill(50.0)
    assert b.tokens == 25.0 and b.can_afford(5, 0) and not b.can_afford(6, 0)
    b.earn_fill(1e9)
    assert b.tokens == 100.0
    b.earn_fill(-5.0)
    assert b.tokens == 100.0


def test_time_refill() -> None:
    b = ExecutionBudget(initial=20.0, reserve=20.0, refill_per_s=2.0)
    assert not b.can_afford(1, 0)
    assert b.can_afford(2, NS_PER_S)


def test_status_reports_exhaustion() -> None:
    b = ExecutionBudget(initial=20.5, reserve=20.0)
    assert b.status()["budget_exhausted"] == 1.0


@given(st.floats(0, 1000), st.integers(0, 50), st.booleans())
def test_tokens_never_negative(initial: float, n: int, emergency: bool) -> None:
    b = ExecutionBudget(initial=initial, reserve=20.0)
    for _ in range(n):
        b.spend(1, 0, emergency=emergency)
    assert b.tokens >= 0.0
    if not emergency:
        assert b.tokens >= min(initial, 20.0)
