"""Three holes of the executor invariants, closed (issue 18), each shown on a minimal broken
executor of our own (a one-method subclass of the built-in smart executor):

* ``execution.halt_cancels_all`` now halts in the grid budget state (full, at its reserve
  after ``exhaust_budget()``) x halt mode (emergency or not): a data-quality halt that keeps
  the reserve and cancels nothing is FAILed; before, only the kill-switch case drew an
  exhausted budget.
* ``execution.modify_place_fallback`` now also answers a failed MODIFY with the user stream
  having lost the target's fate (the answer is the executor's only word) and compares the
  executor's booked orders with the venue's: a ghost booked after
  ``MODIFY_TARGET_CANCELED`` is FAILed.
* ``execution.stateful_safety`` now counts what rests on the venue, orders answered UNKNOWN
  included, against the desired ladder (+ one level), after every step and right after
  places answered UNKNOWN whose order updates were lost: an UNKNOWN place forgotten and
  placed again (double exposure) is FAILed.

The built-in smart executor PASSes each widened check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.audit.harness import book
from mmkit.audit.invariant import AuditContext, AuditTarget
from mmkit.audit.invariants import execution as ex
from mmkit.components import GateDecision, View
from mmkit.core.actions import Action, Place, make_cloid
from mmkit.core.events import ActionResult, OrderUpdate, OwnFill
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_MS, NS_PER_S, Side, Tif
from mmkit.execution.order_state import OrderState, Pending
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.pending import OrderRequest
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.registry import BuildContext, ComponentSpec, RiskLimits

CTX = AuditContext(examples=6, seed=0)


def target_of(cls: type[SmartExecutor], name: str = "under_test") -> AuditTarget:
    def build(ctx: BuildContext[Any]) -> SmartExecutor:
        return cls(SmartExecutorParams(), ctx.instrument, ctx.seed)

    spec = ComponentSpec("executor", name, build, SmartExecutorParams, "test", "tests")
    return AuditTarget(
        spec,
        SmartExecutorParams(),
        ex.INSTRUMENT,
        RiskLimits(max_position=ex.MAX_POSITION, order_size=ex.SIZE),
    )


# -- the broken executors ------------------------------------------------------------------


class ReserveOnlyForKillSwitch(SmartExecutor):
    """Only an emergency (kill-switch) halt may draw on the budget's reserve: a
    data-quality halt with the budget down to its reserve sends nothing."""

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        b = self.budget_state()
        if not decision.emergency and b.tokens <= b.reserve:
            return []
        return super().halt(decision, view, now_ns)


class GhostAfterTargetCanceled(SmartExecutor):
    """A MODIFY refused ``MODIFY_TARGET_CANCELED`` with no other word on its target is
    booked as resting at its new price (taken for a cancel-replace whose place is under
    way): a ghost the next requote never re-places."""

    def _modify_result(self, o: Any, r: ActionResult, now_ns: int, out: list[Action]) -> None:
        if r.reason is RejectReason.MODIFY_TARGET_CANCELED and not o.fate_seen:
            o.pending = Pending.NONE
            o.px, o.sz = o.new_px, o.new_sz
            o.state = o.state.to(OrderState.RESTING)
            return
        super()._modify_result(o, r, now_ns, out)


class ForgetsUnknownPlace(SmartExecutor):
    """An UNKNOWN answer to a PLACE is read as a refusal: the order is forgotten (though it
    may rest) and its level placed again."""

    def _on_result(self, r: ActionResult, now_ns: int, out: list[Action]) -> None:
        req = self._pending.of_kind(OrderRequest).get(r.request_id)
        if (
            r.outcome is Outcome.UNKNOWN
            and isinstance(req, OrderRequest)
            and req.kind is Pending.PLACE
        ):
            r = replace(r, outcome=Outcome.REJECTED, message="")
        super()._on_result(r, now_ns, out)


SMART = target_of(SmartExecutor, "smart")


def _fails(check: Callable[[AuditTarget, AuditContext], None], target: AuditTarget) -> str:
    with pytest.raises((AssertionError, BaseExceptionGroup)) as info:
        check(target, CTX)
    return str(info.value)


# -- 1. a halt with the budget at its reserve ----------------------------------------------


def test_old_draw_cannot_see_the_reserve_bug() -> None:
    """Full budget, either halt mode: the broken executor cancels (the old check's view)."""
    broken = target_of(ReserveOnlyForKillSwitch)
    for emergency in (False, True):
        ex.run_halt(broken, 2, emergency, "", "full")
    ex.run_halt(broken, 2, True, "", "reserve")  # the kill switch may use the reserve


def test_non_emergency_halt_at_reserve_is_failed() -> None:
    with pytest.raises(AssertionError, match=r"non-emergency halt, budget reserve.*resting"):
        ex.run_halt(target_of(ReserveOnlyForKillSwitch), 1, False, "", "reserve")
    assert "budget reserve" in _fails(ex.check_halt, target_of(ReserveOnlyForKillSwitch))


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(
    st.integers(1, 3),
    st.booleans(),
    st.sampled_from(("", *ex.FAILURES)),
    st.sampled_from(ex.BUDGETS),
)
def test_smart_halts_in_every_budget_state(n: int, emergency: bool, fail: str, budget: str) -> None:
    ex.run_halt(SMART, n, emergency, fail, budget)


def test_halt_check_passes_smart() -> None:
    ex.check_halt(SMART, CTX)


# -- 2. a ghost after MODIFY_TARGET_CANCELED -----------------------------------------------


@pytest.mark.parametrize("kind", ["target_canceled", "target_filled"])
def test_ghost_is_invisible_when_the_stream_tells_the_fate(kind: str) -> None:
    """With the order update delivered first the answer finds nothing to misbook: the old
    draw could not see the ghost."""
    ex.run_modify_fallback(target_of(GhostAfterTargetCanceled), kind, Side.BUY, 1, 1)


@pytest.mark.parametrize("kind", ["target_canceled", "target_filled"])
def test_ghost_is_failed_when_the_answer_is_the_only_word(kind: str) -> None:
    with pytest.raises(AssertionError, match="booked but not on the venue"):
        ex.run_modify_fallback(target_of(GhostAfterTargetCanceled), kind, Side.SELL, 2, 1, "lost")
    assert "booked but not on the venue" in _fails(
        ex.check_modify_fallback, target_of(GhostAfterTargetCanceled)
    )


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(
    st.sampled_from(ex.FAILURES),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 3),
    st.integers(1, 3),
)
def test_smart_restores_the_level_after_a_lost_fate(
    kind: str, side: Side, n: int, shift: int
) -> None:
    ex.run_modify_fallback(SMART, kind, side, n, shift, "lost")


def test_modify_check_passes_smart() -> None:
    ex.check_modify_fallback(SMART, CTX)


def test_quiet_stream_venue_drops_only_the_user_stream() -> None:
    """While muted, the answer to a place arrives and its order update does not."""
    v = ex.QuietStreamVenue(ex.INSTRUMENT)
    t = NS_PER_S
    v.on_market(book(99.5, 100.5, t), t)
    v.muted = True
    v.submit([Place(1, make_cloid(1), Side.BUY, 99.0, 0.2, Tif.ALO)], t)
    v.muted = False
    v.submit([Place(2, make_cloid(2), Side.BUY, 98.0, 0.2, Tif.ALO)], t)
    got = v.drain(t + 10 * NS_PER_MS)
    answers = sorted(e.request_id for e in got if isinstance(e, ActionResult))
    updates = [e.cloid for e in got if isinstance(e, OrderUpdate | OwnFill)]
    assert answers == [1, 2]
    assert updates == [make_cloid(2)]
    assert len(v.open_orders()) == 2  # both rest: muting loses news, not orders


# -- 3. an UNKNOWN place forgotten and placed again ----------------------------------------


def test_forgotten_unknown_place_is_failed() -> None:
    msg = _fails(ex.check_stateful, target_of(ForgetsUnknownPlace))
    assert "UNKNOWN" in msg and "rests on the" in msg


def test_stateful_check_passes_smart() -> None:
    ex.check_stateful(SMART, CTX)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    st.integers(1, 3),
    st.sampled_from([0.2, 0.3, 0.5]),  # >= the $10 minimum at these prices
    st.integers(0, 8),
    st.sampled_from([Side.BUY, Side.SELL]),
)
def test_resting_bound_is_the_ladder_plus_one_level(n: int, sz: float, k: int, side: Side) -> None:
    """``assert_resting_within`` fails exactly when more than the desired side plus one of
    its levels rests on the venue (whatever the executor believes)."""
    v = ex.QuietStreamVenue(ex.INSTRUMENT)
    t = NS_PER_S
    v.on_market(book(99.5, 100.5, t), t)
    sgn = 1 if side is Side.BUY else -1
    px0 = 99.0 if side is Side.BUY else 101.0
    places = [
        Place(i + 1, make_cloid(i + 1), side, px0 - sgn * (i % 4), sz, Tif.ALO) for i in range(k)
    ]
    v.submit(places, t)
    assert abs(v.resting_size(side) - k * sz) < 1e-9
    lad = ex.ladder(99, 101, n, sz)
    if k * sz <= (n + 1) * sz + ex.EPS:
        ex.assert_resting_within(v, [lad], "test")
    else:
        with pytest.raises(AssertionError, match="rests on the"):
            ex.assert_resting_within(v, [lad], "test")
