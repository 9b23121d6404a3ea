"""The ladder diff: keep / modify / cancel / place, tolerances and the exposure clip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.components import Quote
from mmkit.core.types import Side
from mmkit.execution.orders import OrderState, TrackedOrder
from mmkit.execution.reconciler import CANCEL, MODIFY, PLACE, Tolerances, diff_side, floor_lot

TOL = Tolerances(price_bps=0.5, size_frac=0.1, lot=0.001, min_notional=10.0, smart=True)


def order(level: int, px: float, sz: float = 0.2) -> TrackedOrder:
    return TrackedOrder(f"c{level}", Side.BUY, px, sz, level, OrderState.RESTING, oid=level + 1)


def q(px: float, sz: float = 0.2, level: int = 0) -> Quote:
    return Quote(Side.BUY, px, sz, level)


def kinds(ops: list) -> list[int]:  # type: ignore[type-arg]
    return [o.kind for o in ops]


def test_keep_within_tolerance() -> None:
    ops = diff_side([q(100.0)], [order(0, 100.004, 0.19)], set(), 10.0, TOL)
    assert kinds(ops) == []  # kept: nothing to do
    ops = diff_side([q(100.0)], [order(0, 100.0, 0.21)], set(), 10.0, TOL)
    assert kinds(ops) == [MODIFY] and ops[0].sz == 0.2  # never rests above its size


def test_partly_filled_order_keeps_its_remaining_size() -> None:
    o = order(0, 101.0, 0.15)
    o.filled = 0.05
    ops = diff_side([q(100.0, 0.2)], [o], set(), 10.0, TOL)
    assert kinds(ops) == [MODIFY] and ops[0].sz == pytest.approx(0.15)  # not refilled to 0.2
    o.filled = 0.15
    o.sz = 0.05  # $5 left: below the minimum notional, so cancel and place afresh later
    assert kinds(diff_side([q(100.0, 0.2)], [o], set(), 10.0, TOL)) == [CANCEL]


def test_modify_on_price_change_and_place_new_level() -> None:
    ops = diff_side([q(100.0), q(99.0)], [order(0, 101.0)], set(), 10.0, TOL)
    assert kinds(ops) == [MODIFY, PLACE]
    assert ops[0].px == 100.0 and ops[1].level == 1


def test_cancel_surplus_levels() -> None:
    ops = diff_side([q(100.0)], [order(0, 100.0), order(1, 99.0)], set(), 10.0, TOL)
    assert kinds(ops) == [CANCEL] and ops[0].order.level == 1  # type: ignore[union-attr]


def test_cancel_and_place_without_smart_reconcile() -> None:
    dumb = Tolerances(0.5, 0.1, 0.001, 10.0, smart=False)
    ops = diff_side([q(100.0)], [order(0, 101.0)], set(), 10.0, dumb)
    assert kinds(ops) == [CANCEL, PLACE]


def test_occupied_levels_are_left_alone() -> None:
    ops = diff_side([q(100.0), q(99.0)], [], {0}, 10.0, TOL)
    assert kinds(ops) == [PLACE] and ops[0].level == 1


def test_cancel_then_place_waits_for_room() -> None:
    dumb = Tolerances(0.5, 0.1, 0.001, 10.0, smart=False)
    ops = diff_side([q(100.0)], [order(0, 101.0)], set(), 0.2, dumb)
    assert kinds(ops) == [CANCEL]  # the replacement waits for the cancel's ack


def test_exposure_clip_and_min_notional() -> None:
    ops = diff_side([q(100.0, 0.2), q(99.0, 0.2), q(98.0, 0.2)], [], set(), 0.35, TOL)
    assert kinds(ops) == [PLACE, PLACE]  # 0.2 + 0.15; the third would be 0
    assert ops[1].sz == 0.15
    ops = diff_side([q(100.0, 0.2), q(99.0, 0.2)], [], set(), 0.25, TOL)
    assert kinds(ops) == [PLACE]  # the 0.05 remainder is below $10


def test_over_the_limit_only_shrinks_or_cancels() -> None:
    ops = diff_side([q(100.0), q(99.0)], [order(0, 100.0), order(1, 99.0)], set(), -1.0, TOL)
    assert kinds(ops) == [CANCEL, CANCEL]
    ops = diff_side([q(100.0, 0.5)], [order(0, 100.0, 0.5)], set(), 0.3, TOL)
    assert kinds(ops) == [MODIFY] and ops[0].sz == 0.3


@given(
    st.lists(st.tuples(st.floats(90, 110), st.floats(0.1, 1.0)), max_size=5),
    st.lists(st.tuples(st.floats(90, 110), st.floats(0.1, 1.0)), max_size=5),
    st.floats(-1.0, 3.0),
)
def test_worst_case_never_exceeds_cap(desired: list, resting: list, cap: float) -> None:  # type: ignore[type-arg]
    qs = [q(px, sz, i) for i, (px, sz) in enumerate(desired)]
    os_ = [order(i, px, sz) for i, (px, sz) in enumerate(resting)]
    ops = diff_side(qs, os_, set(), cap, TOL)
    before = sum(o.sz for o in os_)
    added = 0.0
    for op in ops:
        if op.kind == MODIFY:
            added += max(0.0, op.sz - op.order.sz)  # type: ignore[union-attr]
        elif op.kind == PLACE:
            added += op.sz
    if added > 0:
        assert before + added <= cap + 1e-9
    touched = [op.order.cloid for op in ops if op.order is not None]
    assert len(set(touched)) == len(touched)


def test_floor_lot() -> None:
    assert floor_lot(0.12345, 0.001) == 0.123
    assert floor_lot(float("nan"), 0.001) == 0.0
    assert floor_lot(-1.0, 0.001) == 0.0
