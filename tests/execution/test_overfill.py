"""Issue 16 (H2b, round 2): no order (cloid) and no level is ever filled past its size.

Hyperliquid's modify is cancel-replace under the same cloid: the replacement may fill in full
on top of whatever the cloid has filled. So

* a MODIFY of an order that has filled is sized at most its cloid's largest size minus its
  fills (a *top-up* beyond that cancels it and places the level afresh under a new cloid);
* an order the public tape printed at or through (``px <= bid`` / ``px >= ask``) may have
  filled without our having seen the fill: it is never modified back up while that is open.

The venue-side measure is the soak's: per cloid, the size the venue filled over every
incarnation against the largest ``origSz`` any incarnation had; per level, what rests plus
what filled unseen against the level's size. Each check is shown to catch a deliberately
broken executor (the old "modify back to the level's full size", and one that ignores the
tape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from mmkit.audit.invariants.execution import INSTRUMENT, ladder
from mmkit.components import Levels, Quote, quote_levels
from mmkit.core.actions import Cancel, Modify, Place
from mmkit.core.events import Trade
from mmkit.core.types import NS_PER_MS, Side
from mmkit.execution.orders import OrderState, TrackedOrder
from mmkit.execution.reconciler import CANCEL, MODIFY, Op, Tolerances, diff_levels, diff_side
from mmkit.execution.smart_executor import SmartExecutor

from .test_halt_exposure import (
    SETTINGS,
    HaltExposureMachine,
    LateVenue,
    _messages,
    print_trade,
    rig_for,
)

TOL = Tolerances(price_bps=0.5, size_frac=0.1, lot=0.001, min_notional=10.0, smart=True)
EPS = 1e-9


# --------------------------------------------------------------------------------------
# broken variants
# --------------------------------------------------------------------------------------
def _full_size_diff(
    desired: Levels,
    resting: Sequence[TrackedOrder],
    occupied: set[int],
    cap: float,
    tol: Tolerances,
    debt: Mapping[int, float] | None = None,
) -> list[Op]:
    """The old behaviour: a partly filled order is modified back to its level's full size
    (its fills and the tape forgotten while the diff is made)."""
    saved = [(o, o.filled, o.risk) for o in resting]
    for o in resting:
        o.filled = 0.0
        o.risk = 0.0
    try:
        return diff_levels(desired, resting, occupied, cap, tol, debt)
    finally:
        for o, filled, risk in saved:
            o.filled, o.risk = filled, risk


def _tape_blind_diff(
    desired: Levels,
    resting: Sequence[TrackedOrder],
    occupied: set[int],
    cap: float,
    tol: Tolerances,
    debt: Mapping[int, float] | None = None,
) -> list[Op]:
    """Sizes from seen fills only: a partial fill the tape printed but whose fill is late is
    ignored (the unseen-partial window)."""
    saved = [(o, o.risk) for o in resting]
    for o in resting:
        o.risk = 0.0
    try:
        return diff_levels(desired, resting, occupied, cap, tol, debt)
    finally:
        for o, risk in saved:
            o.risk = risk


class ModifiesBackToFullSize(SmartExecutor):
    diff = staticmethod(_full_size_diff)


class TapeBlind(SmartExecutor):
    diff = staticmethod(_tape_blind_diff)


# --------------------------------------------------------------------------------------
# the diff alone
# --------------------------------------------------------------------------------------
def order(px: float, sz: float, *, cap: float, filled: float = 0.0, risk: float = 0.0) -> Any:
    o = TrackedOrder("c0", Side.BUY, px, sz, 0, OrderState.RESTING, oid=1, cap=cap)
    o.filled, o.risk = filled, risk
    return o


def q(px: float, sz: float) -> Quote:
    return Quote(Side.BUY, px, sz, 0)


def test_price_move_of_a_partly_filled_order_is_a_modify_with_its_remaining_size() -> None:
    o = order(101.0, 0.15, cap=0.2, filled=0.05)
    ops = diff_side([q(100.0, 0.2)], [o], set(), 10.0, TOL)
    assert [op.kind for op in ops] == [MODIFY] and ops[0].sz == pytest.approx(0.15)


def test_top_up_of_a_partly_filled_order_cancels_it() -> None:
    o = order(100.0, 0.15, cap=0.2, filled=0.05)
    ops = diff_side([q(100.0, 0.4)], [o], set(), 10.0, TOL)  # the level grew: 0.35 wanted
    assert [op.kind for op in ops] == [CANCEL]
    ops = diff_side([q(101.0, 0.4)], [o], set(), 10.0, TOL)  # with a price move, too
    assert [op.kind for op in ops] == [CANCEL]
    # an unfilled order with no tape print may grow by modify (the cheaper action)
    fresh = order(100.0, 0.2, cap=0.2)
    ops = diff_side([q(101.0, 0.4)], [fresh], set(), 10.0, TOL)
    assert [op.kind for op in ops] == [MODIFY] and ops[0].sz == pytest.approx(0.4)


def test_tape_risk_shrinks_or_cancels_never_refills() -> None:
    # the tape printed 0.05 at its price: a price move keeps cloid fills within 0.2
    o = order(100.0, 0.2, cap=0.2, risk=0.05)
    ops = diff_side([q(99.0, 0.2)], [o], set(), 10.0, TOL)
    assert [op.kind for op in ops] == [CANCEL]  # 0.15 < 0.2 * 0.9: placed afresh instead
    o = order(100.0, 0.2, cap=0.2, risk=0.01)
    ops = diff_side([q(99.0, 0.2)], [o], set(), 10.0, TOL)
    assert [op.kind for op in ops] == [MODIFY] and ops[0].sz == pytest.approx(0.19)
    # unchanged, it is simply kept: an unmodified order adds nothing to its cloid
    kept = order(100.0, 0.2, cap=0.2, risk=0.2)
    assert diff_side([q(100.0, 0.2)], [kept], set(), 10.0, TOL) == []


@settings(max_examples=400, deadline=None)
@given(
    cap=st.floats(0.05, 1.0),
    filled_frac=st.floats(0.0, 1.0),
    risk_frac=st.floats(0.0, 1.0),
    want=st.floats(0.01, 2.0),
    dpx=st.sampled_from([0.0, -1.0, 1.0, 0.3]),
    room=st.floats(-0.5, 5.0),
)
def test_a_modify_never_lets_a_cloid_or_level_fill_past_its_size(
    cap: float, filled_frac: float, risk_frac: float, want: float, dpx: float, room: float
) -> None:
    """Whatever the order's fills, tape risk and the level's new price and size: if the
    modify's replacement fills in full on top of every fill the cloid has or may have made,
    the cloid stays within its largest size (old or new) and the level within its size."""
    filled = round(cap * filled_frac, 3)
    sz = round(cap - filled, 3)
    if sz <= 0.001:
        return
    risk = round(sz * risk_frac, 3)
    o = order(100.0, sz, cap=cap, filled=filled, risk=risk)
    ops = diff_side([q(100.0 + dpx, want)], [o], set(), room + sz + risk, TOL)
    for op in ops:
        if op.kind != MODIFY:
            continue
        worst = filled + risk + op.sz
        if filled + risk > 1e-12:  # the cloid's largest size stays ``cap``
            assert worst <= cap + EPS, (worst, cap)
        assert worst <= want + EPS, (worst, want)  # and the level's
        assert op.sz * (100.0 + dpx) >= TOL.min_notional - EPS


def test_the_property_catches_the_old_full_size_modify() -> None:
    o = order(101.0, 0.15, cap=0.2, filled=0.05)
    ops = _full_size_diff(quote_levels([q(100.0, 0.2)]), [o], set(), 10.0, TOL)
    assert ops[0].kind == MODIFY and o.filled + ops[0].sz > o.cap + EPS  # 0.25 of 0.2


# --------------------------------------------------------------------------------------
# the executor against the fake venue with late user events
# --------------------------------------------------------------------------------------
def worst_cloid_ratio(venue: LateVenue) -> float:
    """The soak's measure: per cloid, filled over the largest origSz of its incarnations."""
    size: dict[str, float] = {}
    for o in venue.history.values():
        if o.cloid is not None:
            size[o.cloid] = max(size.get(o.cloid, 0.0), o.orig_sz)
    return max(
        (f / size[c] for c, f in venue.filled_by_cloid.items() if size.get(c, 0.0) > 0),
        default=0.0,
    )


def partial_then_requote(cls: type[SmartExecutor] | None, *, grow: bool) -> tuple[LateVenue, Any]:
    """A level-0 bid partly fills; its fill is 1 s late; the level is requoted at a new
    price (and, with ``grow``, a larger size); then the market runs through everything."""
    venue = LateVenue(INSTRUMENT, seed=0)
    rig = rig_for(cls, venue)
    rig.quote(ladder(99, 101, 1))
    rig.settle(1.0)
    venue.late_ns = 1000 * NS_PER_MS
    print_trade(rig, Side.BUY, 99.0, 0.08)  # 0.08 of the 0.2 bid fills; its fill is late
    rig.loop.step(50 * NS_PER_MS)
    sz = 0.3 if grow else 0.2
    for i in range(8):
        rig.quote(ladder(98.5 - 0.1 * i, 101, 1, sz=sz), 98.0, 101.5)
        rig.loop.step(50 * NS_PER_MS)
    for o in venue.open_orders():  # everything resting fills
        venue.fill_order(oid=o.oid, now_ns=rig.loop.now)
    venue.late_ns = 0
    rig.settle(3.0)
    return venue, rig


@pytest.mark.parametrize("grow", [False, True])
def test_an_unseen_partial_fill_never_overfills_its_cloid(grow: bool) -> None:
    venue, rig = partial_then_requote(None, grow=grow)
    assert worst_cloid_ratio(venue) <= 1.0 + EPS
    sent = [a for _, a in rig.loop.sent if isinstance(a, Modify | Cancel | Place)]
    assert sent and rig.executor.counters["tape_risks"] >= 1


@pytest.mark.parametrize("grow", [False, True])
def test_the_broken_variants_overfill_a_cloid(grow: bool) -> None:
    for cls in (ModifiesBackToFullSize, TapeBlind):
        venue, _ = partial_then_requote(cls, grow=grow)
        assert worst_cloid_ratio(venue) > 1.0 + 1e-6, cls.__name__


def test_a_seen_partial_fill_then_a_top_up_uses_a_new_cloid() -> None:
    venue = LateVenue(INSTRUMENT, seed=0)
    rig = rig_for(None, venue)
    rig.quote(ladder(99, 101, 1))
    rig.settle(1.0)
    print_trade(rig, Side.BUY, 99.0, 0.08)
    rig.settle(1.0)  # the fill is seen
    first = {o.cloid for o in venue.open_orders() if o.side is Side.BUY}
    rig.quote(ladder(99, 101, 1, sz=0.4), 98.0, 101.5)  # the level grows to 0.4
    rig.settle(1.0)
    bids = [o for o in venue.open_orders() if o.side is Side.BUY]
    assert len(bids) == 1 and bids[0].cloid not in first and bids[0].sz == pytest.approx(0.4)
    for o in venue.open_orders():
        venue.fill_order(oid=o.oid, now_ns=rig.loop.now)
    rig.settle(1.0)
    assert worst_cloid_ratio(venue) <= 1.0 + EPS
    # ... where the old executor modified the same cloid up: 0.08 + 0.4 against 0.4
    venue2 = LateVenue(INSTRUMENT, seed=0)
    rig2 = rig_for(ModifiesBackToFullSize, venue2)
    rig2.quote(ladder(99, 101, 1))
    rig2.settle(1.0)
    print_trade(rig2, Side.BUY, 99.0, 0.08)
    rig2.settle(1.0)
    rig2.quote(ladder(99, 101, 1, sz=0.4), 98.0, 101.5)
    rig2.settle(1.0)
    for o in venue2.open_orders():
        venue2.fill_order(oid=o.oid, now_ns=rig2.loop.now)
    rig2.settle(1.0)
    assert worst_cloid_ratio(venue2) > 1.0 + 1e-6


def test_tape_risk_is_bounded() -> None:
    """A print at the bid that was not ours (no fill ever comes) holds the order back for
    ``tape_risk_s`` at most; the risk then expires (counted) and requotes modify again."""
    venue = LateVenue(INSTRUMENT, seed=0)
    rig = rig_for(None, venue)
    rig.quote(ladder(99, 101, 1))
    rig.settle(1.0)
    ex = rig.executor
    now = rig.loop.now
    ex.on_event(Trade(now, 98.0, 5.0, Side.BUY, local_ts=now), rig.engine.view, now)
    assert ex.status()["tape_risk"] == 0.0  # a buyer never trades against our bids
    ex.on_event(Trade(now, 99.0, 5.0, Side.SELL, local_ts=now), rig.engine.view, now)
    assert ex.status()["tape_risk"] == pytest.approx(0.2)
    rig.settle(ex.params.tape_risk_s + 0.5)
    rig.quote(ladder(98, 101, 1), 97.5, 101.5)
    rig.settle(0.5)
    assert ex.counters["tape_risks_expired"] >= 1 and ex.status()["tape_risk"] == 0.0
    assert ex.counters["modifies"] >= 1


def test_a_later_fill_of_another_order_clears_the_risk() -> None:
    """The fill stream comes in venue-time order: once a fill newer than the print arrives
    and none of the flagged order's came with it, the print was not the order's."""
    venue = LateVenue(INSTRUMENT, seed=0)
    rig = rig_for(None, venue)
    rig.quote(ladder(99, 101, 1))
    rig.settle(1.0)
    ex = rig.executor
    now = rig.loop.now
    ex.on_event(Trade(now, 99.0, 5.0, Side.SELL, local_ts=now), rig.engine.view, now)
    assert ex.status()["tape_risk"] == pytest.approx(0.2)
    rig.loop.step(20 * NS_PER_MS)
    print_trade(rig, Side.SELL, 101.0, 0.05)  # the ask fills (a later fill, other order)
    rig.settle(0.3)
    rig.quote(ladder(98, 101, 1), 97.5, 101.5)
    rig.settle(0.3)
    assert ex.status()["tape_risk"] == 0.0 and ex.counters["tape_risks_expired"] >= 1
    bids = [o for o in venue.open_orders() if o.side is Side.BUY]
    assert bids and bids[0].px == 98.0 and ex.counters["modifies"] >= 1  # moved by modify


# --------------------------------------------------------------------------------------
# the stateful machine: sizes that move, fills that print on the tape
# --------------------------------------------------------------------------------------
class OverfillMachine(HaltExposureMachine):
    """The halt / exposure machine, with ladders whose sizes move and fills that come from
    market trades (each printed on the tape, as every real fill is), checking after every
    step that no cloid filled past its largest size and no level past its largest size."""

    def __init__(self) -> None:
        super().__init__()
        self.level_max: dict[tuple[Side, int], float] = {}
        quote = self.rig.quote

        def noting(lad: Any, *a: Any, **k: Any) -> None:
            self._note(lad)  # every ladder any rule quotes: the levels' largest sizes
            quote(lad, *a, **k)

        self.rig.quote = noting  # type: ignore[method-assign]

    def _note(self, lad: Any) -> None:
        for qt in (*lad.bids, *lad.asks):
            key = (qt.side, qt.level)
            self.level_max[key] = max(self.level_max.get(key, 0.0), qt.sz)

    @rule(
        bid=st.integers(96, 99),
        ask=st.integers(101, 104),
        n=st.integers(1, 3),
        sz=st.sampled_from([0.1, 0.2, 0.3, 0.45]),
        tick=st.sampled_from([0.0, 0.25]),
    )
    def set_sized_ladder(self, bid: int, ask: int, n: int, sz: float, tick: float) -> None:
        self.lad = ladder(bid + tick, ask - tick, n, sz=sz)
        self.rig.quote(self.lad, self._bid(), self._ask())
        self.rig.settle(0.2)

    @rule(
        k=st.integers(0, 20),
        frac=st.sampled_from([0.3, 0.6]),
        ms=st.sampled_from([0, 50]),
        sz=st.sampled_from([0.2, 0.3, 0.45]),
    )
    def partial_then_requote(self, k: int, frac: float, ms: int, sz: float = 0.3) -> None:
        """A partial fill printed while user events are late, then a requote at once."""
        self.venue.late_ns = max(self.venue.late_ns, 800 * NS_PER_MS)
        orders = self.venue.open_orders()
        if orders:
            o = orders[k % len(orders)]
            print_trade(self.rig, o.side, o.px, o.sz * frac)
        self.rig.loop.step(ms * NS_PER_MS + NS_PER_MS)
        self.lad = ladder(98, 102, len(self.lad.bids) or 2, sz=sz)
        self.rig.quote(self.lad, self._bid(), self._ask())
        self.rig.settle(0.3)

    @invariant()
    def no_cloid_past_its_size(self) -> None:
        ratio = worst_cloid_ratio(self.venue)
        assert ratio <= 1.0 + EPS, f"a cloid filled {ratio:.4f}x its largest size"

    @invariant()
    def no_level_past_its_size(self) -> None:
        worst = self.venue.level_exposure()
        over = {k: v for k, v in worst.items() if v > self.level_max.get(k, 0.2) + EPS}
        assert not over, f"levels exposed past their size: {over}"


#: the machine is cheap (simulated time): more and longer sequences than the halt machine's
MACHINE_SETTINGS = settings(SETTINGS, max_examples=150, stateful_step_count=30)


def _machine(cls: type[SmartExecutor] | None) -> type[OverfillMachine]:
    class M(OverfillMachine):
        executor_cls = cls

    return M


@pytest.mark.slow
def test_stateful_no_cloid_or_level_past_its_size() -> None:
    run_state_machine_as_test(_machine(None), settings=MACHINE_SETTINGS)


def test_the_machine_catches_a_modify_back_to_full_size() -> None:
    """The machine's check is not vacuous: the step hypothesis needs (a printed partial fill
    while user events are late, then a requote) overfills with the old behaviour."""
    bad = _machine(ModifiesBackToFullSize)()
    bad.start()
    with pytest.raises(AssertionError, match=r"filled|exposed past"):
        for k in range(4):
            bad.partial_then_requote(k, 0.6, 0)
            bad.fill_one(k, 1.0)
            bad.wait(3.0)
            bad.no_cloid_past_its_size()
            bad.no_level_past_its_size()
    good = _machine(None)()
    good.start()
    for k in range(4):
        good.partial_then_requote(k, 0.6, 0)
        good.fill_one(k, 1.0)
        good.wait(3.0)
        good.no_cloid_past_its_size()
        good.no_level_past_its_size()


@pytest.mark.slow
def test_stateful_catches_a_tape_blind_executor() -> None:
    with pytest.raises((AssertionError, BaseExceptionGroup)) as caught:
        run_state_machine_as_test(_machine(TapeBlind), settings=MACHINE_SETTINGS)
    assert "filled" in _messages(caught.value) or "exposed past" in _messages(caught.value)
