"""The smart executor's compiled twin equals the reference exactly (issue 20).

* the kernels' arithmetic against Python's own (``round``, ``floor_lot``);
* the ladder diff against ``reconciler.diff_side`` on adversarial inputs (NaN, inf,
  negative and zero sizes and prices, duplicate / out-of-range / occupied levels, debts,
  both reconcile modes): the same ops, the same resting objects, bit-identical floats;
* the whole reconcile core (``_reconcile``: tape-risk expiry at its edges, in-flight
  exposure, occupied levels, level debts of detached orders and ghosts, NaN position,
  rejection backoff, 429 backoff) against the reference's on random order books;
* the tape marks of a trade batch against the reference's row loop, batches whole and row
  by row, adversarial rows and out-of-order timestamps;
* a reference and a twin executor, each in an engine against its own fake venue (same
  seed), driven in lockstep by the same hypothesis streams (ladders, books, trade batches,
  single trades, fills, lost / delayed / refused answers, modify failures, disconnects,
  external fills, gate closures): after every event the actions and every public attribute
  agree (:func:`mmkit.execution.smart_executor_twin.outputs_differ`);
* a twin broken by one ulp in one branch, or in its tape counter, is caught.
"""

from __future__ import annotations

import copy
import gc
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from mmkit.audit.harness import FakeVenue, ScriptedQuoter, SwitchGate, VenueLoop, book
from mmkit.audit.invariants.execution import FAILURES, INSTRUMENT, MAX_POSITION, ladder
from mmkit.components import Ladder, Quote, quote_levels
from mmkit.core.actions import Action
from mmkit.core.events import Event, Timer, Trade, TradeBatch
from mmkit.core.types import NS_PER_MS, NS_PER_S, Side
from mmkit.engine import Engine
from mmkit.execution import _kernels_order_table as KT  # noqa: N812
from mmkit.execution import _kernels_reconciler_twin as kern
from mmkit.execution.order_state import OrderState, Pending
from mmkit.execution.order_table import SpilledOrder, TableOrder
from mmkit.execution.orders import UNRESOLVED, OrderTracker, TrackedOrder
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.reconciler import Op, OpKind, Tolerances, diff_side, floor_lot
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.execution.smart_executor_twin import SmartExecutorTwin, outputs_differ

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: for a deliberately broken component the lockstep must catch: the same 200 streams in
#: every run, so that the finding cannot flake
FINDING = settings(
    max_examples=200, deadline=None, database=None, derandomize=True, phases=[Phase.generate]
)

# --------------------------------------------------------------------------------------
# arithmetic: the kernels' round / floor_lot against Python's
# --------------------------------------------------------------------------------------
nonneg = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)


@FAST
@given(
    st.one_of(
        nonneg,
        st.floats(0.0, 10_000.0),
        st.builds(lambda n, d: n * 10.0**-d, st.integers(0, 10**12), st.integers(0, 9)),
        st.builds(lambda n: n / 1e12 + 5e-13, st.integers(0, 10**15)),  # ties and near-ties
        st.sampled_from([0.0, 4503.599627370496, 8191.999999999999, 8192.0, 1e300, math.inf]),
    )
)
def test_round12_is_pythons_round(v: float) -> None:
    assert kern.round12(v) == round(v, 12) or (math.isinf(v) and kern.round12(v) == v)


sizes = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1.0, 1e4),
    st.builds(lambda n, d: n * 10.0**-d, st.integers(0, 10**9), st.integers(0, 6)),
)
lots = st.sampled_from([1e-5, 1e-3, 0.01, 0.1, 1.0, 0.25, 1e-8, 3.0])


@FAST
@given(sizes, lots)
def test_floor_lot_is_the_references(sz: float, lot: float) -> None:
    try:
        want = floor_lot(sz, lot)
    except OverflowError:
        assert kern.floor_lot_k(sz, lot) == -1.0  # the caller runs the reference (raises)
        return
    assert kern.floor_lot_k(sz, lot) == want


# --------------------------------------------------------------------------------------
# the ladder diff
# --------------------------------------------------------------------------------------
prices = st.one_of(
    st.floats(95.0, 105.0),
    st.integers(90, 110).map(float),
    st.sampled_from([0.0, -1.0, math.nan, math.inf, 1e-300, 1e300]),
)
qty = st.one_of(
    st.floats(0.0, 2.0),
    st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.09999, 0.0, -0.1, math.nan, math.inf, 1e6]),
)
small = st.one_of(st.just(0.0), st.floats(0.0, 0.5), st.sampled_from([math.nan, -0.05, 1e-13]))


@st.composite
def diff_inputs(draw: st.DrawFn) -> tuple[Any, ...]:
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    n = draw(st.integers(0, 5))
    desired = [Quote(side, draw(prices), draw(qty), i) for i in range(n)]
    resting = []
    for k in range(draw(st.integers(0, 6))):
        o = TrackedOrder(
            f"c{k}",
            side,
            draw(prices),
            draw(qty),
            draw(st.integers(-2, 7)),
            OrderState.RESTING,
            oid=k,
            orig_sz=draw(qty),
            filled=draw(small),
            cap=draw(st.one_of(st.just(0.0), qty)),
            risk=draw(small),
        )
        resting.append(o)
    occupied = set(draw(st.lists(st.integers(-1, 7), max_size=3)))
    cap = draw(st.one_of(st.floats(-1.0, 5.0), st.sampled_from([math.nan, math.inf, 0.0, 1e9])))
    tol = Tolerances(
        draw(st.sampled_from([0.0, 0.5, 5.0, 1e4])),
        draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        draw(st.sampled_from([1e-5, 1e-3, 0.1, 0.25, 1e-300, 0.0])),
        draw(st.sampled_from([10.0, 0.0, 1.0, math.nan])),
        draw(st.booleans()),
    )
    debt = draw(
        st.one_of(st.none(), st.dictionaries(st.integers(-1, 6), st.one_of(small, qty), max_size=3))
    )
    return desired, resting, occupied, cap, tol, debt


def same_float(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def ops_differ(want: list[Op], got: list[Op]) -> list[str]:
    if len(want) != len(got):
        return [f"{len(want)} ops != {len(got)}: {want} vs {got}"]
    out = []
    for k, (a, b) in enumerate(zip(want, got, strict=True)):
        if a.kind is not b.kind or a.level != b.level or a.order is not b.order:
            out.append(f"op {k}: {a} != {b}")
        elif not (same_float(a.px, b.px) and same_float(a.sz, b.sz)):
            out.append(f"op {k}: px/sz {a.px!r}, {a.sz!r} != {b.px!r}, {b.sz!r}")
    return out


def run_diff(
    fn: Callable[..., list[Op]], args: tuple[Any, ...]
) -> tuple[list[Op] | None, type[BaseException] | None]:
    try:
        return fn(*args), None
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        return None, type(exc)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(diff_inputs())
def test_diff_kernel_equals_diff_side(args: tuple[Any, ...]) -> None:
    twin = SmartExecutorTwin()
    twin.use_kernels_always()
    want, err = run_diff(diff_side, args)
    got, err2 = run_diff(twin.diff, (quote_levels(args[0]), *args[1:]))
    assert err == err2
    if want is not None:
        assert got is not None
        assert not ops_differ(want, got)


def test_diff_kernel_runs_compiled_for_a_sane_ladder() -> None:
    """The kernel path (no fallback) on an ordinary ladder, checked against ops worked out
    by hand: level 0 kept, level 1 re-priced (modify), level 2 placed, a stray cancelled."""
    twin = SmartExecutorTwin()
    twin.use_kernels_always()
    side = Side.BUY
    desired = [Quote(side, 99.0, 0.2, 0), Quote(side, 98.0, 0.2, 1), Quote(side, 97.0, 0.2, 2)]
    rest = [
        TrackedOrder("a", side, 99.0, 0.2, 0, OrderState.RESTING, oid=1, cap=0.2),
        TrackedOrder("b", side, 97.5, 0.2, 1, OrderState.RESTING, oid=2, cap=0.2),
        TrackedOrder("c", side, 96.0, 0.2, 1, OrderState.RESTING, oid=3, cap=0.2),
    ]
    tol = Tolerances(0.5, 0.1, 1e-3, 10.0, True)
    got = twin.diff(quote_levels(desired), rest, set(), 3.0, tol, None)
    assert twin.twin_fallbacks == 0
    assert [(o.kind, o.level, o.order, o.px, o.sz) for o in got] == [
        (OpKind.CANCEL, 1, rest[2], 0.0, 0.0),
        (OpKind.MODIFY, 1, rest[1], 98.0, 0.2),
        (OpKind.PLACE, 2, None, 97.0, 0.2),
    ]
    # an unusable lot goes to the reference, which raises its own error
    with pytest.raises(ZeroDivisionError):
        twin.diff(
            quote_levels(desired), [], set(), 0.1, Tolerances(0.5, 0.1, 0.0, 10.0, True), None
        )
    assert twin.twin_fallbacks == 1


# --------------------------------------------------------------------------------------
# the whole reconcile core (exposure, occupied levels, debts, ghosts, backoff, both sides)
# --------------------------------------------------------------------------------------
ALL_STATES = [
    OrderState.PLACING,
    OrderState.RESTING,
    OrderState.RESTING,
    OrderState.MODIFYING,
    OrderState.CANCELING,
    OrderState.UNKNOWN,
    OrderState.AWAITING_FATE,
]


@st.composite
def order_books(draw: st.DrawFn) -> dict[str, Any]:
    now = NS_PER_S + draw(st.integers(0, 2 * NS_PER_S))
    hwm = draw(st.integers(-1, 100))
    # risk deadlines and print times at, just before and just after the expiry edges
    edges = st.sampled_from([-NS_PER_S, -1, 0, 1, NS_PER_S, 10 * NS_PER_S])

    def order(k: int, state: OrderState) -> TrackedOrder:
        return TrackedOrder(
            f"c{k}",
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            draw(prices),
            draw(qty),
            draw(st.integers(-1, 5)),
            state,
            oid=k,
            new_sz=draw(qty),
            orig_sz=draw(qty),
            filled=draw(small),
            cap=draw(st.one_of(st.just(0.0), qty)),
            risk=draw(small),
            risk_until_ns=now + draw(edges),
            risk_ts=hwm + draw(st.sampled_from([-1, 0, 1, 50])),
            home=draw(st.integers(-1, 5)),
            unseen=draw(st.one_of(small, qty)),
        )

    orders = [order(k, draw(st.sampled_from(ALL_STATES))) for k in range(draw(st.integers(0, 8)))]
    ghosts = [order(100 + k, OrderState.DONE) for k in range(draw(st.integers(0, 3)))]

    def side_quotes(side: Side) -> tuple[Quote, ...]:
        return tuple(
            Quote(side, draw(prices), draw(qty), i) for i in range(draw(st.integers(0, 4)))
        )

    return {
        "orders": orders,
        "ghosts": ghosts,
        "ladder": Ladder(side_quotes(Side.BUY), side_quotes(Side.SELL)),
        "position": draw(st.one_of(st.floats(-4.0, 4.0), st.sampled_from([math.nan, 0.0]))),
        "max_position": draw(st.sampled_from([3.0, 1.0, 0.5, 0.3, 0.0, 1e9, math.inf])),
        "fill_hwm": hwm,
        "now": now,
        "skip": (draw(st.booleans()), draw(st.booleans())),
        "smart": draw(st.booleans()),
        "retry": draw(st.sampled_from([-1, -1, -1, 10 * NS_PER_S])),
    }


class Pos:
    """The two numbers ``_reconcile`` reads of the engine's view."""

    def __init__(self, position: float, max_position: float) -> None:
        self.position = position
        self.max_position = max_position


def loaded(cls: type, book: dict[str, Any]) -> SmartExecutor:
    ex: SmartExecutor = cls(SmartExecutorParams(smart_reconcile=book["smart"]), INSTRUMENT, 3)
    for o in copy.deepcopy(book["orders"]):
        ex.orders.add(o)
    for g in copy.deepcopy(book["ghosts"]):
        ex._ghosts[g.cloid] = g
    ex._fill_hwm = book["fill_hwm"]
    ex.retry.until_ns = book["retry"]
    for side, on in zip((Side.BUY, Side.SELL), book["skip"], strict=True):
        ex.rejections.until_ns[side] = book["now"] + NS_PER_S if on else -1
    return ex


def reconcile_once(ex: SmartExecutor, book: dict[str, Any]) -> tuple[Any, Any]:
    view: Any = Pos(book["position"], book["max_position"])
    try:
        return ex._reconcile(book["ladder"], view, book["now"]), None
    except (AssertionError, ValueError, ZeroDivisionError, OverflowError) as exc:
        return None, type(exc)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_books())
def test_reconcile_core_equals_reference(book: dict[str, Any]) -> None:
    ref, twin = loaded(SmartExecutor, book), loaded(SmartExecutorTwin, book)
    assert isinstance(twin, SmartExecutorTwin)
    twin.use_kernels_always()
    ra, rerr = reconcile_once(ref, book)
    ta, terr = reconcile_once(twin, book)
    assert rerr == terr
    diff = outputs_differ(ref, twin, ra or [], ta or [])
    assert not diff, diff


# --------------------------------------------------------------------------------------
# the tape marks of a trade batch
# --------------------------------------------------------------------------------------
STATES = [
    OrderState.RESTING,
    OrderState.PLACING,
    OrderState.MODIFYING,
    OrderState.CANCELING,
    OrderState.UNKNOWN,
]


@st.composite
def books_and_batch(draw: st.DrawFn) -> tuple[list[TrackedOrder], TradeBatch, int]:
    orders = []
    for k in range(draw(st.integers(0, 6))):
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        state = draw(st.sampled_from(STATES))
        pending = draw(st.sampled_from([Pending.NONE, Pending.MODIFY, Pending.CANCEL]))
        o = TrackedOrder(
            f"c{k}",
            side,
            draw(prices),
            draw(qty),
            k,
            state,
            oid=k,
            new_px=draw(st.one_of(prices, st.just(0.0))),
            new_sz=draw(qty),
            pending=pending,
            risk=draw(small),
            known_ts=draw(st.integers(-1, 40)),
            risk_until_ns=draw(st.integers(-1, 10**9)),
            risk_ts=draw(st.integers(-1, 40)),
        )
        orders.append(o)
    rows = draw(
        st.lists(
            st.tuples(st.integers(0, 50), prices, qty, st.sampled_from([1, -1]), st.integers(0, 5)),
            min_size=1,
            max_size=12,
        )
    )
    recv, t = [], 0
    for r in rows:  # receive times never decrease; exchange times may
        t += r[4] * NS_PER_MS
        recv.append(t)
    batch = TradeBatch(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.int8),
        np.array(recv, dtype=np.int64),
    )
    rid = draw(st.integers(0, 100))
    return orders, batch, rid


def executor_pair(orders: list[TrackedOrder], rid: int) -> tuple[SmartExecutor, SmartExecutorTwin]:
    ref, twin = SmartExecutor(), SmartExecutorTwin()
    for ex in (ref, twin):
        for o in copy.deepcopy(orders):
            ex.orders.add(o)
        ex._rid = rid
    return ref, twin


def state_differ(ref: SmartExecutor, twin: SmartExecutor) -> list[str]:
    from mmkit.execution.smart_executor_twin import _orders_differ

    out = _orders_differ("order", ref.orders.by_cloid, twin.orders.by_cloid)
    if ref.counters != twin.counters:
        out.append(f"counters {ref.counters} != {twin.counters}")
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books_and_batch(), st.booleans())
def test_tape_marks_kernel_equals_reference(case: Any, row_by_row: bool) -> None:
    orders, batch, rid = case
    ref, twin = executor_pair(orders, rid)
    twin.tape_kernel_min_work = 0  # always the kernel (the default skips tiny batches)
    ref._tape_marks(zip(*batch.columns(), strict=True))
    if row_by_row:  # the twin fed one-row batches, the reference the whole batch
        for tr, _ in batch.trades():
            twin._tape_marks_batch(TradeBatch.of([tr]))
    else:
        twin._tape_marks_batch(batch)
    assert twin.twin_fallbacks == 0
    diff = state_differ(ref, twin)
    assert not diff, diff


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books_and_batch(), st.sampled_from([0, 24, 10**9]))
def test_tape_marks_batch_equals_reference_on_every_path(case: Any, min_work: int) -> None:
    """The twin's batch entry point with its shortcut (no print at or through any live
    order: nothing to do), then the reference's row loop (small work) or the kernel."""
    orders, batch, rid = case
    ref, twin = executor_pair(orders, rid)
    twin.tape_kernel_min_work = min_work
    ref._tape_marks(zip(*batch.columns(), strict=True))
    twin._tape_marks_batch(batch)
    diff = state_differ(ref, twin)
    assert not diff, diff


def table_twin(orders: list[TrackedOrder], rid: int) -> SmartExecutorTwin:
    """A twin over its order table holding ``orders`` (each a row of it, same fields)."""
    import dataclasses

    twin = SmartExecutorTwin()
    twin.use_table()
    twin.table_marks_min_orders = 0  # the kernel for any number of orders
    assert twin.table is not None
    for o in orders:
        fields = {f.name: copy.deepcopy(getattr(o, f.name)) for f in dataclasses.fields(o)}
        twin.orders.add(TableOrder.make(twin.table, **fields))
    twin._rid = rid
    return twin


def no_reference_marks(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the reference's own tape marks raise: what follows is the kernel's."""

    def refused(self: SmartExecutor, rows: Any) -> None:
        raise AssertionError("the reference's tape marks ran")

    monkeypatch.setattr(SmartExecutor, "_tape_marks", refused)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books_and_batch(), st.sampled_from(["batch", "one by one"]), st.booleans())
def test_tape_marks_in_the_table_rows_equal_the_reference(
    case: Any, how: str, default_split: bool
) -> None:
    """Over the order table the marks are made in the orders' rows, for a batch's columns
    (``tape_marks_rows``) or its prints one at a time (a single trade's path: columns of
    one row), never by the reference's loop: the same risks, deadlines, times,
    request ids and counters; with the default ``table_marks_min_orders``, a book of a few
    orders is marked on its views instead, with the same outcome."""
    orders, batch, rid = case
    ref, _ = executor_pair(orders, rid)
    twin = table_twin(orders, rid)
    if default_split:
        twin.table_marks_min_orders = SmartExecutorTwin.table_marks_min_orders
    ref._tape_marks(zip(*batch.columns(), strict=True))
    with pytest.MonkeyPatch.context() as mp:
        if not default_split:
            no_reference_marks(mp)
        if how == "batch":
            twin._tape_marks_batch(batch)
        else:
            for row in zip(*batch.columns(), strict=True):
                twin._tape_marks((row,))
    assert twin.table is not None and twin.table.spills == 0
    assert all(isinstance(o, TableOrder) for o in twin.orders.by_cloid.values())
    diff = state_differ(ref, twin)
    assert not diff, diff


@pytest.mark.parametrize("what", ["recv near the int64 limit", "a numpy price", "a huge side"])
def test_tape_marks_the_table_cannot_take_run_the_reference(what: str) -> None:
    """Prints the kernel cannot mark as the reference does (a deadline beyond int64, a
    price of another type, a side no int8 holds) are the reference's to mark, with the
    same outcome."""
    o = TrackedOrder("c0", Side.BUY, 100.0, 1.0, 0, OrderState.RESTING, oid=1)
    row: tuple[Any, ...] = (5, 99.0, 0.5, -1, 10)
    if what == "recv near the int64 limit":
        row = (5, 99.0, 0.5, -1, 2**63 - 10)
    elif what == "a numpy price":
        row = (5, np.float64(99.0), 0.5, -1, 10)
    else:
        row = (5, 99.0, 0.5, 1000, 10)
    ref, _ = executor_pair([o], 3)
    twin = table_twin([o], 3)
    ref._tape_marks((row,))
    twin._tape_marks((row,))
    diff = state_differ(ref, twin)
    assert not diff, diff
    marked = next(iter(twin.orders.by_cloid.values()))
    assert marked.risk > 0.0 and marked.risk_rid == 3


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books_and_batch())
def test_the_shortcut_is_taken_only_when_nothing_is_marked(case: Any) -> None:
    """``_may_touch`` False means the reference marks nothing: the shortcut is exact."""
    from hypothesis import event

    from mmkit.execution.smart_executor_twin import _may_touch

    orders, batch, rid = case
    ref, _ = executor_pair(orders, rid)
    live = [o for o in ref.orders.by_cloid.values() if o.state is not OrderState.DONE]
    before = copy.deepcopy(ref.orders.by_cloid)
    touch = _may_touch(batch.px, live)
    event(f"may touch: {touch}")
    ref._tape_marks(zip(*batch.columns(), strict=True))
    if not touch:
        assert not _orders_differ_of(before, ref.orders.by_cloid)
        assert not ref.counters["tape_risks"]


def _orders_differ_of(a: dict[str, TrackedOrder], b: dict[str, TrackedOrder]) -> list[str]:
    from mmkit.execution.smart_executor_twin import _orders_differ

    return _orders_differ("order", a, b)


@pytest.mark.parametrize(
    ("print_px", "order_px", "touch"),
    [
        (100.0, 99.0, False),  # above our bid, below our ask (101)
        (99.0, 99.0, True),  # at our bid
        (float("nan"), 99.0, True),  # a NaN print proves nothing
        (100.0, float("nan"), True),  # nor a NaN order price
    ],
)
def test_the_shortcut_by_hand(print_px: float, order_px: float, touch: bool) -> None:
    from mmkit.execution.smart_executor_twin import _may_touch

    bid = TrackedOrder("b", Side.BUY, order_px, 0.2, 0, OrderState.RESTING)
    ask = TrackedOrder("a", Side.SELL, 101.0, 0.2, 0, OrderState.RESTING)
    assert _may_touch(np.array([print_px]), [bid, ask]) is touch
    modifying = TrackedOrder("m", Side.SELL, 103.0, 0.2, 0, OrderState.MODIFYING)
    modifying.pending, modifying.new_px = Pending.MODIFY, 100.0  # either price may rest
    assert _may_touch(np.array([100.0]), [modifying]) is True
    assert _may_touch(np.array([], dtype=np.float64), [bid]) is False
    # a long batch (compared with numpy): the same answers
    long = np.full(40, 100.0)
    long[17] = print_px
    assert _may_touch(long, [bid, ask]) is touch


def test_tape_marks_kernel_marks_a_hit_order() -> None:
    """Worked by hand: a sell print at/through our bid raises its risk by the print's size
    (capped at its size), counts one tape risk, and stamps the print's times."""
    o = TrackedOrder("a", Side.BUY, 99.0, 0.2, 0, OrderState.RESTING, oid=7, known_ts=5)
    ref, twin = executor_pair([o], 3)
    twin.tape_kernel_min_work = 0
    batch = TradeBatch(
        np.array([4, 10, 11], dtype=np.int64),  # the first is older than our news: skipped
        np.array([98.0, 99.0, 100.0], dtype=np.float64),
        np.array([0.5, 0.15, 1.0], dtype=np.float64),
        np.array([-1, -1, -1], dtype=np.int8),  # sells; the last is above our bid
        np.array([100, 200, 300], dtype=np.int64),
    )
    twin._tape_marks_batch(batch)
    t = twin.orders.by_cloid["a"]
    assert (t.risk, t.risk_ts, t.risk_rid, t.risk_oid) == (0.15, 10, 3, 7)
    assert t.risk_until_ns == 200 + twin._tape_risk_ns
    assert twin.counters["tape_risks"] == 1
    ref._tape_marks(zip(*batch.columns(), strict=True))
    assert not state_differ(ref, twin)


# --------------------------------------------------------------------------------------
# reference and twin in lockstep, each in an engine against its own fake venue
# --------------------------------------------------------------------------------------
class World:
    """One executor in an engine wired to its own fake venue (as the audit's rigs)."""

    def __init__(self, executor: SmartExecutor, seed: int, start_ns: int = NS_PER_S) -> None:
        self.executor = executor
        self.quoter = ScriptedQuoter()
        self.gate = SwitchGate()
        self.engine = Engine(
            instrument=INSTRUMENT,
            max_position=MAX_POSITION,
            gates=[("switch", self.gate)],
            quoter=("scripted", self.quoter),
            executor=("smart", executor),
        )
        self.venue = FakeVenue(INSTRUMENT, seed=seed)
        self.loop = VenueLoop(self.engine, self.venue, now_ns=start_ns, step_ns=50 * NS_PER_MS)


class Lockstep:
    """A reference world and a twin world fed the same stream; after every event the
    executors' outputs are compared (``outputs_differ``)."""

    def __init__(
        self,
        params: SmartExecutorParams,
        seed: int,
        twin_cls: type = SmartExecutorTwin,
        kernels: bool = True,
        table: bool | None = False,
        start_ns: int = NS_PER_S,
    ) -> None:
        self.ref = World(SmartExecutor(params, INSTRUMENT, seed), seed, start_ns)
        tw = twin_cls(params, INSTRUMENT, seed)
        if kernels:
            tw.use_kernels_always()
        if table is not None:  # None: the twin's own choice at its first ladder
            tw.use_table(table)
        self.twin = World(tw, seed, start_ns)
        self.events = 0

    @property
    def now(self) -> int:
        return self.ref.loop.now

    def _check(self, what: str, ra: list[Action], ta: list[Action]) -> None:
        self.events += 1
        diff = outputs_differ(self.ref.executor, self.twin.executor, ra, ta)
        assert not diff, f"after {what} at {self.now}: " + "; ".join(diff[:6])

    def feed(self, ev_r: Event, ev_t: Event, what: str) -> None:
        ra = self.ref.loop._feed(ev_r)
        ta = self.twin.loop._feed(ev_t)
        self._check(what, ra, ta)

    def market(self, ev: Event) -> None:
        self.ref.venue.on_market(ev, self.now)
        self.twin.venue.on_market(ev, self.now)
        self.feed(ev, ev, type(ev).__name__)

    def step(self, dt_ns: int) -> None:
        for w in (self.ref, self.twin):
            w.loop.now += dt_ns
        er, et = self.ref.venue.drain(self.now), self.twin.venue.drain(self.now)
        assert len(er) == len(et), f"the venues diverged: {er} vs {et}"
        for a, b in zip(er, et, strict=True):
            self.feed(a, b, type(a).__name__)
        tick = Timer(self.now, local_ts=self.now)
        self.feed(tick, tick, "timer")

    def both(self, fn: Callable[[World], Any]) -> None:
        fn(self.ref)
        fn(self.twin)

    def quote(self, lad: Ladder, bid: float = 99.5, ask: float = 100.5) -> None:
        self.both(lambda w: setattr(w.quoter, "ladder", lad))
        self.market(book(bid, ask, self.now))

    def settle(self, seconds: float, dt_ms: int = 50) -> None:
        for _ in range(max(1, int(seconds * 1000 / dt_ms))):
            self.step(dt_ms * NS_PER_MS)
            if self.now % NS_PER_S < dt_ms * NS_PER_MS:
                self.market(book(self.ref.venue.bid, self.ref.venue.ask, self.now))


def odd_ladder(bid: float, ask: float, n: int, sz: float, grid: bool = True) -> Ladder:
    """Levels of uneven sizes, on the lot grid or off it (the venue refuses those: a path
    through the rejection backoff)."""

    def size(x: float) -> float:
        return round(x, 3) if grid else x

    return Ladder(
        tuple(Quote(Side.BUY, bid - i, size(sz * (1 + 0.37 * i)), i) for i in range(n)),
        tuple(Quote(Side.SELL, ask + i, size(sz * (1 + 0.29 * i)), i) for i in range(n)),
    )


#: sides as the built-in ladder builder gives them: tuples of numbers, the same objects
#: again and again (the table path writes a side to its kernel's buffer only when it is
#: another tuple than the last call's), two of each of the same length
BID_SIDES = (
    (99.0, 0.2, 98.0, 0.2),
    (98.5, 0.25, 97.5, 0.3),
    (99.0, 0.3, 98.0, 0.2, 97.0, 0.4),
)
ASK_SIDES = (
    (101.0, 0.2, 102.0, 0.2),
    (101.5, 0.3, 102.5, 0.25),
    (100.5, 0.2),
)

OPS = (
    "ladder",
    "tuples",
    "odd_ladder",
    "offgrid",
    "move",
    "batch",
    "trade",
    "fill",
    "partial",
    "cancel_ext",
    "lose_ack",
    "delay",
    "drop",
    "reject",
    "modify_fail",
    "disconnect",
    "external",
    "close",
    "open",
    "wait",
)


def apply(ls: Lockstep, op: str, k: int, x: float) -> None:
    v_r, v_t = ls.ref.venue, ls.twin.venue
    now = ls.now
    if op == "ladder":
        ls.quote(ladder(99 - k % 4, 101 + k % 3, 1 + k % 3, (0.2, 0.3, 0.5)[k % 3]))
    elif op == "tuples":
        ls.quote(Ladder.from_levels(BID_SIDES[k % 3], ASK_SIDES[k // 3 % 3]))
    elif op == "odd_ladder":
        ls.quote(odd_ladder(99 - k % 3, 101 + k % 2, 1 + k % 4, 0.1 + x))
    elif op == "offgrid":
        ls.quote(odd_ladder(99 - k % 3, 101 + k % 2, 1 + k % 4, 0.1 + x, grid=False))
    elif op == "move":
        mid = 94 + k % 13
        ls.quote(ls.ref.quoter.ladder, mid - 0.5, mid + 0.5)
    elif op in ("batch", "trade"):
        rows = [
            Trade(
                now - (j * 7 % 3) * NS_PER_MS,
                96.0 + (k + 3 * j) % 9 + x,
                0.05 + x * (j % 3),
                Side.BUY if (k + j) % 2 else Side.SELL,
                local_ts=now,
            )
            for j in range(1 + k % 7 if op == "batch" else 1)
        ]
        ls.market(TradeBatch.of(rows) if op == "batch" else rows[0])
    elif op in ("fill", "partial"):
        orders = v_r.open_orders()
        if orders:
            o = orders[k % len(orders)]
            for v in (v_r, v_t):
                v.fill_order(oid=o.oid, sz=None if op == "fill" else o.sz * x, now_ns=now)
    elif op == "cancel_ext":
        orders = v_r.open_orders()
        if orders:
            oid = orders[k % len(orders)].oid
            ls.both(lambda w: w.venue.cancel_order_externally(oid, now))
    elif op == "lose_ack":
        ls.both(lambda w: w.venue.lose_next_acks(1 + k % 2, applied=k % 2 == 0))
        ls.quote(ladder(98, 102, 2))
    elif op == "delay":
        ls.both(lambda w: w.venue.delay_next_acks(2, (1 + k % 5) * 100 * NS_PER_MS))
        ls.quote(ladder(97, 101, 3))
    elif op == "drop":
        ls.both(lambda w: w.venue.drop_next_acks(1 + k % 3))
        ls.quote(ladder(99, 102, 2, 0.3))
    elif op == "reject":
        ls.both(lambda w: w.venue.reject_next(1 + k % 4))
        ls.quote(ladder(98, 102, 2))
    elif op == "modify_fail":
        ls.both(lambda w: w.venue.fail_next_modify(FAILURES[k % len(FAILURES)]))
        ls.quote(ladder(97 + k % 2, 102, 2))
    elif op == "disconnect":
        ls.both(lambda w: w.venue.disconnect())
        ls.quote(ladder(96, 104, 2, 0.3))
        ls.settle(0.3 + x)
        ls.both(lambda w: w.venue.reconnect())
    elif op == "external":
        side = Side.BUY if k % 2 else Side.SELL
        ls.both(lambda w: w.venue.external_fill(side, 0.1, 100.0, emit=k % 3 != 0, now_ns=now))
    elif op == "close":
        ls.both(lambda w: w.gate.close("Test", emergency=k % 2 == 0))
    elif op == "open":
        ls.both(lambda w: w.gate.open())
    ls.settle(0.3 if op != "wait" else 1.0 + 4 * x)


#: the permit's limits: the defaults, an IP limit a few batches a minute reach, a budget
#: a few actions spend down to its reserve (so that batches are refused, by the permit's
#: kernel or by the sending kernel of the table path)
LIMITS: dict[str, dict[str, Any]] = {
    "default": {},
    "tight_ip": {"ip_limit_per_min": 6.0},
    "tight_budget": {"budget_initial": 30.0, "emergency_reserve": 20.0},
}
params_st = st.builds(
    lambda smart, tape, limits: SmartExecutorParams(
        smart_reconcile=smart, tape_risk_s=tape, **LIMITS[limits]
    ),
    st.booleans(),
    st.sampled_from([2.0, 0.05, 30.0]),
    st.sampled_from(list(LIMITS)),
)
streams = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 40), st.sampled_from([0.25, 0.5, 0.137])),
    min_size=1,
    max_size=8,
)


def run_stream(
    params: SmartExecutorParams,
    ops: list[tuple[str, int, float]],
    twin_cls: type = SmartExecutorTwin,
    kernels: bool = True,
    table: bool | None = False,
    start_ns: int = NS_PER_S,
) -> Lockstep:
    ls = Lockstep(
        params, seed=7, twin_cls=twin_cls, kernels=kernels, table=table, start_ns=start_ns
    )
    ls.quote(ladder(99, 101, 2))
    ls.settle(1.0)
    for op, k, x in ops:
        apply(ls, op, k, x)
    return ls


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_st, streams, st.sampled_from([False, True, None]))
def test_twin_equals_reference_in_lockstep(
    params: SmartExecutorParams, ops: Any, table: bool | None
) -> None:
    """The twin, with its orders as the reference's objects, in its order table, or as it
    chooses by its first ladder (the default; the streams' is two levels a side: the
    table), equals the reference after every event."""
    note(f"ops={ops} table={table}")
    ls = run_stream(params, ops, table=table)
    assert ls.events > 0


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params_st,
    st.lists(streams.map(tuple), min_size=1, max_size=3).map(
        lambda ls: [op for s in ls for op in s]
    ),
)
def test_twin_equals_reference_long_streams(params: SmartExecutorParams, ops: Any) -> None:
    note(f"ops={ops}")
    run_stream(params, ops)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_st, streams, st.booleans())
def test_twin_with_the_order_table_equals_reference(
    params: SmartExecutorParams, ops: Any, kernels: bool
) -> None:
    """With its orders' fields in the order table (the reconcile kernel gathering them from
    their rows; the diff and tape marks in their kernels or not, ``kernels``; every other
    path the reference's Python on the views), the twin stays equal to the reference after
    every event of the same streams; every order it tracks is a row of its table, and the
    table holds exactly one row per order object alive."""
    note(f"ops={ops}")
    ls = run_stream(params, ops, kernels=kernels, table=True)
    tw = ls.twin.executor
    assert isinstance(tw, SmartExecutorTwin) and tw.table is not None
    tracked = list(tw.orders.by_cloid.values()) + list(tw._ghosts.values())
    assert all(type(o) is TableOrder and o._table is tw.table for o in tracked)
    # a row for every order object alive, and none for one that is gone
    alive = [o for o in gc.get_objects() if type(o) is TableOrder and o._table is tw.table]
    assert tw.table.live == len(alive)
    assert len({o.row for o in alive}) == len(alive)


class _OddView:
    """An engine's view whose position and limit are the values given (of any type): what
    a third-party view or portfolio could hand the executor."""

    def __init__(self, view: Any, position: Any, max_position: Any) -> None:
        self._view = view
        self.position = position
        self.max_position = max_position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


odd_numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.sampled_from([0, 1, 10**400, -(10**400), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-5.0, 5.0).map(np.float64),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_numbers, odd_numbers, st.sampled_from([2, 5]))
def test_the_table_reconcile_takes_a_view_of_any_numbers_as_the_reference(
    position: Any, max_position: Any, levels: int
) -> None:
    """The one-call reconcile over the table takes only a Python float or int position
    and limit that a double holds, and hands anything else to the packed path: a view
    whose numbers are ints, numpy floats, NaN or ints beyond a double gives the twin the
    reference's actions and state, or the reference's error."""
    ls = run_stream(SmartExecutorParams(), [("ladder", 1, 0.5), ("fill", 0, 0.5)], table=True)
    lad = ladder(98, 102, levels, 0.3)
    outs: list[Any] = []
    for w in (ls.ref, ls.twin):
        view = _OddView(w.engine.view, position, max_position)
        try:
            outs.append(w.executor.reconcile(lad, view, ls.now + NS_PER_S))  # type: ignore[arg-type]
        except Exception as exc:  # the reference's error, whatever it is, must be the twin's
            outs.append(type(exc))
    ref_out, twin_out = outs
    if isinstance(ref_out, list) and isinstance(twin_out, list):
        assert not outputs_differ(ls.ref.executor, ls.twin.executor, ref_out, twin_out)
    else:
        assert ref_out == twin_out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.integers(0, 20), st.floats(0.0, 20.0)),
    st.one_of(st.integers(0, 1), st.floats(0.0, 0.5)),
    st.one_of(st.just(1e-3), st.just(1)),
    st.one_of(st.integers(0, 200), st.floats(0.0, 200.0)),
    st.booleans(),
    streams,
)
def test_the_table_reconcile_takes_tolerances_of_ints_as_the_reference(
    bps: Any, frac: Any, lot: Any, notional: Any, smart: bool, ops: Any
) -> None:
    """Tolerances whose numbers are Python ints (the one-call reconcile converts them as
    the packed path stores them): the twin over its table equals the reference after every
    event."""
    tol = Tolerances(price_bps=bps, size_frac=frac, lot=lot, min_notional=notional, smart=smart)
    ls = Lockstep(SmartExecutorParams(), seed=7, table=True)
    ls.ref.executor.tol = ls.twin.executor.tol = tol
    ls.quote(ladder(99, 101, 2))
    ls.settle(1.0)
    for op, k, x in ops:
        apply(ls, op, k, x)


def test_tolerances_a_double_cannot_hold_go_to_the_packed_path() -> None:
    """An int beyond a double, or a value of another type, in the tolerances: the one-call
    reconcile declines them (the packed path then stores or refuses them as before)."""
    tw = SmartExecutorTwin()
    tw.tol = Tolerances(price_bps=10**400)
    assert tw._tol_args() is None
    tw.tol = Tolerances(lot=np.float64(1e-3))
    assert tw._tol_args() is None
    tw.tol = Tolerances(price_bps=2, min_notional=10)
    assert tw._tol_args() == (2.0, 0.1, 1e-5, 10.0, 1)


#: a start 40 s short of the int64 limit: the venue's clock (int64) stays within it over
#: any stream here (< 30 s), while the executor's own deadlines (a tape risk's 60 s) pass it
NEAR_LIMIT_NS = 2**63 - 40 * NS_PER_S
params_near_limit = st.builds(
    lambda smart: SmartExecutorParams(smart_reconcile=smart, tape_risk_s=60.0), st.booleans()
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_near_limit, streams, st.booleans(), st.booleans())
def test_twin_equals_reference_past_the_int64_limit(
    params: SmartExecutorParams, ops: Any, kernels: bool, table: bool
) -> None:
    """Streams near the int64 limit, whose tape-risk deadlines (60 s on) lie beyond it
    (times are Python ints: nothing in the reference bounds them): the twin, with or
    without the order table, stays equal to the reference after every event. A kernel
    argument beyond int64 runs the reference's Python for that call; an order whose
    deadline no longer fits its row spills out of the table, and its reconciles pack the
    orders or run the reference's Python."""
    note(f"ops={ops}")
    ls = run_stream(params, ops, kernels=kernels, table=table, start_ns=NEAR_LIMIT_NS)
    assert ls.events > 0


def test_an_order_past_the_int64_limit_spills_out_of_the_table() -> None:
    """A fixed stream near the int64 limit with the table: prints through our quotes give
    orders a tape-risk deadline beyond int64, so they spill; the twin stays equal
    throughout."""
    params = SmartExecutorParams(tape_risk_s=60.0)
    ls = run_stream(
        params, [("ladder", 5, 0.25), ("batch", 5, 0.5)], table=True, start_ns=NEAR_LIMIT_NS
    )
    tw = ls.twin.executor
    assert isinstance(tw, SmartExecutorTwin) and tw.table is not None
    assert tw.table.spills > 0
    spilled = [o for o in tw.orders.by_cloid.values() if type(o) is SpilledOrder]
    assert spilled and all(o._table is None for o in spilled)
    assert all(o.risk_until_ns >= 2**63 for o in spilled)
    for op in (("move", 3, 0.25), ("fill", 1, 0.5), ("ladder", 2, 0.5), ("wait", 0, 0.5)):
        apply(ls, *op)  # each event compared


def test_the_table_path_gathers_from_the_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the table and the kernels on, the reconcile kernel is called through the
    table's gathering entry (no packing of the orders), with no fallback, and stays equal."""
    import mmkit.execution.smart_executor_twin as twin_module

    calls: list[int] = []
    real = KT.reconcile_send

    def spy(*args: Any) -> int:
        calls.append(int(args[16]))  # the order count
        return int(real(*args))

    # the twin calls the kernel's compiled entry point, made once: this spy in its place
    monkeypatch.setattr(twin_module, "_RECONCILE", [spy])
    ops = [("fill", 1, 0.5), ("partial", 2, 0.5), ("ladder", 5, 0.25), ("batch", 3, 0.5)]
    ls = run_stream(SmartExecutorParams(), ops, table=True)
    tw = ls.twin.executor
    assert isinstance(tw, SmartExecutorTwin) and tw.twin_fallbacks == 0
    assert calls and max(calls) > 0  # reconciles over orders read from the table


@pytest.mark.parametrize(("levels", "table"), [(1, False), (2, True), (5, True)])
def test_the_twin_chooses_its_order_table_by_its_first_ladder(levels: int, table: bool) -> None:
    """``order_table = "auto"``: a ladder without a quote decides nothing; the first with
    one decides, by its size (the table from ``table_min_levels`` levels a side), for
    good; in a lockstep stream the choice made is the one kept and the twin stays equal."""
    from mmkit.components import EMPTY_LADDER

    tw = SmartExecutorTwin()
    assert tw.table is None and tw._table_undecided
    tw._choose_table(EMPTY_LADDER)
    assert tw.table is None and tw._table_undecided
    tw._choose_table(ladder(99, 101, levels))
    assert (tw.table is not None) is table and not tw._table_undecided
    ls = Lockstep(SmartExecutorParams(), seed=7, table=None)
    ls.quote(ladder(99, 101, levels))
    ls.settle(1.0)
    for op in (("move", 1, 0.25), ("fill", 1, 0.5), ("ladder", levels + 1, 0.5)):
        apply(ls, *op)  # each event compared
    twin = ls.twin.executor
    assert isinstance(twin, SmartExecutorTwin) and twin.orders.by_cloid
    assert (twin.table is not None) is table
    assert all(isinstance(o, TableOrder) is table for o in twin.orders.by_cloid.values())


def test_an_order_before_the_first_ladder_keeps_the_orders_as_objects() -> None:
    """An order the twin has before its first reconcile (one adopted from the venue at
    start-up) decides for objects: the table cannot hold it."""
    tw = SmartExecutorTwin()
    tw.orders.add(TrackedOrder("c0", Side.BUY, 99.0, 1.0, 0, OrderState.RESTING, oid=1))
    tw._choose_table(ladder(99, 101, 5))
    assert tw.table is None and not tw._table_undecided


@pytest.mark.parametrize("setting", ["on", "off"])
def test_the_order_table_can_be_forced(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setattr(SmartExecutorTwin, "order_table", setting)
    tw = SmartExecutorTwin()
    assert (tw.table is not None) is (setting == "on") and not tw._table_undecided
    # a first ladder whose size would choose otherwise changes nothing
    ls = Lockstep(SmartExecutorParams(), seed=7, table=None)
    ls.quote(ladder(99, 101, 1 if setting == "on" else 5))
    ls.settle(1.0)
    twin = ls.twin.executor
    assert isinstance(twin, SmartExecutorTwin) and twin.orders.by_cloid
    assert (twin.table is not None) is (setting == "on")


def test_use_table_refuses_once_orders_exist() -> None:
    ls = run_stream(SmartExecutorParams(), [])
    tw = ls.twin.executor
    assert isinstance(tw, SmartExecutorTwin) and tw.orders.by_cloid
    with pytest.raises(RuntimeError, match="before the first order"):
        tw.use_table()


def test_the_default_twin_diffs_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default a side's diff is the reference's Python (cheaper than packing the orders
    for the kernel); use_kernels_always() puts it in the kernel."""
    twin = SmartExecutorTwin()
    side = Side.BUY
    desired = [Quote(side, 99.0, 0.2, 0)]
    calls: list[str] = []
    real = kern.diff_side_kernel

    def spy(*args: Any) -> int:
        calls.append("kernel")
        return int(real(*args))

    monkeypatch.setattr(kern, "diff_side_kernel", spy)
    tol = Tolerances(0.5, 0.1, 1e-3, 10.0, True)
    assert twin.diff(quote_levels(desired), [], set(), 3.0, tol, None) == diff_side(
        desired, [], set(), 3.0, tol, None
    )
    assert calls == []
    twin.use_kernels_always()
    twin.diff(quote_levels(desired), [], set(), 3.0, tol, None)
    assert calls == ["kernel"]


def test_lockstep_stream_exercises_the_kernels() -> None:
    """A fixed stream that goes through both kernels (diffs with every op kind, tape
    marks from batches through our prices) with no fallback, and stays equal."""
    ops = [
        ("batch", 3, 0.5),
        ("odd_ladder", 2, 0.137),
        ("batch", 5, 0.25),
        ("fill", 1, 0.5),
        ("partial", 2, 0.5),
        ("modify_fail", 1, 0.25),
        ("ladder", 5, 0.25),
        ("batch", 6, 0.25),
        ("ladder", 3, 0.25),
    ]
    ls = run_stream(SmartExecutorParams(), ops)
    tw = ls.twin.executor
    assert isinstance(tw, SmartExecutorTwin) and tw.twin_fallbacks == 0
    c = tw.counters
    assert c["places"] > 0 and c["modifies"] > 0 and c["cancels"] > 0
    assert c["tape_risks"] > 0


# --------------------------------------------------------------------------------------
# a broken twin is caught
# --------------------------------------------------------------------------------------
class OneUlpTwin(SmartExecutorTwin):
    """Wrong by one ulp in one branch: the size of a MODIFY its reconcile core computed."""

    def _send_ops(self, ops: list[tuple[Side, Op]], quiet: Any, now_ns: int) -> list[Action]:
        bent = [
            (side, op._replace(sz=float(np.nextafter(op.sz, math.inf))))
            if op.kind is OpKind.MODIFY
            else (side, op)
            for side, op in ops
        ]
        return super()._send_ops(bent, quiet, now_ns)


class LostCountTwin(SmartExecutorTwin):
    """Wrong in one branch of the tape marks: a new tape risk is not counted."""

    def _tape_marks_batch(self, batch: TradeBatch) -> None:
        before = self.counters["tape_risks"]
        super()._tape_marks_batch(batch)
        if self.counters["tape_risks"] > before:
            self.counters["tape_risks"] -= 1


@pytest.mark.parametrize(
    ("broken", "symptom"),
    [(OneUlpTwin, r"action \d+: reference Modify"), (LostCountTwin, r"'tape_risks': \d+")],
)
def test_a_broken_twin_is_caught(broken: type, symptom: str) -> None:
    ops = [
        ("batch", 3, 0.5),
        ("odd_ladder", 2, 0.137),
        ("batch", 5, 0.25),
        ("ladder", 5, 0.25),
        ("batch", 6, 0.25),
        ("odd_ladder", 1, 0.5),
    ]
    run_stream(SmartExecutorParams(), ops)  # the real twin passes this stream
    with pytest.raises(AssertionError, match=symptom):
        run_stream(SmartExecutorParams(), ops, twin_cls=broken)


def test_twin_method_builds_a_fresh_twin_with_the_same_parameters() -> None:
    p = SmartExecutorParams(smart_reconcile=False, price_tolerance_bps=2.0)
    ref = SmartExecutor(p, INSTRUMENT, 5)
    ref._rid = 9
    tw = ref.twin()
    assert type(tw) is SmartExecutorTwin
    assert (tw.params, tw.instrument, tw.seed, tw._rid) == (p, INSTRUMENT, 5, 0)
    assert tw.tol == ref.tol
    assert type(tw.twin()) is SmartExecutorTwin


class _ForgetsRefusedCloids(SmartExecutorTwin):
    """Broken: a batch the sending kernel refuses leaves the places' cloids untaken (the
    reference takes them when it builds the actions, before its permit)."""

    def _fused_sent(self, *a: Any) -> list[Action] | None:
        n = self._cloid_n
        out = super()._fused_sent(*a)
        if out == []:
            self._cloid_n = n
        return out


class _TracksRefusedBatches(SmartExecutorTwin):
    """Broken: a batch the sending kernel refuses is sent all the same (its actions built
    by the slow path, the permit skipped)."""

    def _fused_sent(self, *a: Any) -> list[Action] | None:
        out = super()._fused_sent(*a)
        return None if out == [] else out

    def _permit(self, actions: list[Action], now_ns: int, *, emergency: bool = False) -> bool:
        return True


@pytest.mark.parametrize("broken", [_ForgetsRefusedCloids, _TracksRefusedBatches])
def test_a_broken_sending_kernel_path_fails_the_lockstep(broken: type) -> None:
    """The table path's fused sending (sort, weight, permit and tracking in one kernel
    call), broken where it refuses a batch, fails the lockstep property."""

    @FINDING
    @given(params_st.filter(lambda p: p.budget_initial < 100 or p.ip_limit_per_min < 10), streams)
    def prop(params: SmartExecutorParams, ops: Any) -> None:
        run_stream(params, ops, twin_cls=broken, table=True)

    with pytest.raises(AssertionError):
        prop()


# --------------------------------------------------------------------------------------
# the reconcile over the table in one call: what it keeps between calls, what it clears
# --------------------------------------------------------------------------------------
class _TinyRing(SmartExecutorTwin):
    """The twin with a permit ring of one entry: the one-call reconcile's sending meets a
    full ring at its second batch within a minute, grows it and calls again."""

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        pa = self._pa
        assert pa is not None
        pa.wt = np.zeros(1, dtype=np.int64)
        pa.ww = np.zeros(1, dtype=np.int64)


def test_a_full_permit_ring_grows_inside_the_table_reconcile() -> None:
    """A reconcile over the table whose sending finds the permit's ring full grows it and
    sends the same ops (the second call makes them again; the stale tape risks the first
    one cleared are counted once): equal to the reference after every event."""
    ops = [("ladder", 1, 0.5), ("move", 2, 0.5), ("trade", 3, 0.5), ("move", 5, 0.25)]
    ops += [("tuples", 4, 0.5), ("move", 7, 0.5), ("fill", 1, 0.5), ("move", 9, 0.137)]
    ls = run_stream(SmartExecutorParams(tape_risk_s=0.05), ops, twin_cls=_TinyRing, table=True)
    tw = ls.twin.executor
    assert isinstance(tw, SmartExecutorTwin) and tw._pa is not None
    assert tw._pa.wt.shape[0] >= 4  # grown at least twice
    assert tw.counters["modifies"] + tw.counters["places"] > 4


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_st, streams)
def test_the_table_reconcile_with_a_tiny_permit_ring_equals_reference(
    params: SmartExecutorParams, ops: Any
) -> None:
    note(f"ops={ops}")
    run_stream(params, ops, twin_cls=_TinyRing, table=True)


class _StaleRows(SmartExecutorTwin):
    """Broken: the orders' rows written again only when the number of orders changes (not
    whenever they are other orders)."""

    def _table_orders(self, table: Any) -> list[TrackedOrder] | None:
        orders = list(self.orders.by_cloid.values())
        kept = self._rows_of
        if kept is not None and len(kept) == len(orders) and table is self._rows_table:
            return orders
        return super()._table_orders(table)


class _StaleLevels(SmartExecutorTwin):
    """Broken: a ladder's sides written to the kernel's buffer again only when their
    lengths change (not whenever they are other tuples)."""

    def _put_levels(self, f: Any, bids: Any, asks: Any, nb: int) -> None:
        key = self._lv_key
        if key is not None and (len(key[0]), len(key[1])) == (len(bids), len(asks)):
            return
        super()._put_levels(f, bids, asks, nb)


@pytest.mark.parametrize("broken", [_StaleRows, _StaleLevels])
def test_a_stale_reconcile_input_fails_the_lockstep(broken: type) -> None:
    """What the one-call reconcile over the table keeps from one call to the next (the
    orders' rows, the ladder's levels in its buffer), kept too long, fails the lockstep."""

    @FINDING
    @given(params_st, streams)
    def prop(params: SmartExecutorParams, ops: Any) -> None:
        run_stream(params, ops, twin_cls=broken, table=True)

    with pytest.raises(AssertionError):
        prop()


def test_a_reconcile_that_keeps_expired_tape_risks_fails_the_lockstep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one-call reconcile clears the tape risks it finds stale in their rows; a kernel
    that only counts them (the risks left as they were) fails the lockstep."""
    import mmkit.execution.smart_executor_twin as twin_module
    from mmkit.execution.order_table import F_RISK

    def keeps_risks(*args: Any) -> int:
        tf, rows, no = args[0], args[2], int(args[16])
        risks = [tf[int(rows[j]) + F_RISK] for j in range(no)]
        r = int(KT.reconcile_send(*args))  # the sending in it writes no risk
        for j in range(no):
            tf[int(rows[j]) + F_RISK] = risks[j]
        return r

    monkeypatch.setattr(twin_module, "_RECONCILE", [keeps_risks])

    @FINDING
    @given(params_st.filter(lambda p: p.tape_risk_s < 1.0), streams)
    def prop(params: SmartExecutorParams, ops: Any) -> None:
        run_stream(params, ops, table=True)

    with pytest.raises(AssertionError):
        prop()


# --------------------------------------------------------------------------------------
# the periodic scan for orders of unknown fate, skipped while none can be
# --------------------------------------------------------------------------------------
class _ScanningTracker(OrderTracker):
    """The tracker as before the skip: every service scans the orders."""

    @property
    def may_have_unresolved(self) -> bool:
        return True

    @may_have_unresolved.setter
    def may_have_unresolved(self, value: bool) -> None:
        pass


class _ForgetfulTracker(OrderTracker):
    """Broken: an order moved to an unresolved state does not say so."""

    def unresolve(self, order: TrackedOrder, state: OrderState) -> None:
        order.state = order.state.to(state)


class _AlwaysScans(SmartExecutorTwin):
    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.orders = _ScanningTracker()


class _ForgetsUnresolved(SmartExecutorTwin):
    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.orders = _ForgetfulTracker()


#: streams that lose acks and fail modifies (orders of unknown fate, queried) and cut the
#: connection (queries lost: re-asked by the service's scan)
FATE_OPS = ("lose_ack", "modify_fail", "drop", "delay", "disconnect", "ladder", "fill", "wait")
fate_streams = st.lists(
    st.tuples(
        st.sampled_from(FATE_OPS),
        st.integers(0, 40),
        st.sampled_from([0.25, 0.5, 0.137]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_st, st.one_of(streams, fate_streams), st.booleans())
def test_skipping_the_unresolved_scan_changes_nothing(
    params: SmartExecutorParams, ops: Any, table: bool
) -> None:
    """An executor that skips the service's scan for orders of unknown fate while its
    tracker says none can be (the reference, on the left) equals one that scans on every
    service (on the right) after every event; and whenever the tracker says none can be,
    none is."""
    note(f"ops={ops} table={table}")
    ls = run_stream(params, ops, twin_cls=_AlwaysScans, table=table)
    tracker = ls.ref.executor.orders
    if not tracker.may_have_unresolved:
        assert not [o for o in tracker.by_cloid.values() if o.state in UNRESOLVED]


def test_a_lost_connection_is_resolved_by_the_scans_queries() -> None:
    """Orders of unknown fate after a disconnection are queried again by the service's
    scan (their first queries are lost with the connection): the skip is exercised, and
    a tracker that forgets them fails here too."""
    ops = [("disconnect", 0, 0.25), ("wait", 0, 0.25)]
    ls = run_stream(SmartExecutorParams(), ops, twin_cls=_AlwaysScans)
    assert ls.ref.executor.counters["queries"] > 0
    with pytest.raises(AssertionError):
        run_stream(SmartExecutorParams(), ops, twin_cls=_ForgetsUnresolved)


def test_a_tracker_that_forgets_an_unresolved_order_fails_the_lockstep() -> None:
    """A tracker whose ``unresolve`` does not raise its flag leaves an order of unknown fate
    unqueried: the lockstep against the reference finds it."""

    @FINDING
    @given(params_st, fate_streams)
    def prop(params: SmartExecutorParams, ops: Any) -> None:
        run_stream(params, ops, twin_cls=_ForgetsUnresolved)

    with pytest.raises(AssertionError):
        prop()
