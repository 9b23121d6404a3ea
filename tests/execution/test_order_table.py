"""The order table's views behave as the tracked orders they stand for (issue 20, step 1):
every field reads back what was written, of the same type (the very enum members), rows
are reused only once their order is gone, and copies and pickles carry the fields."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.types import Side
from mmkit.execution.order_state import OrderState, Pending
from mmkit.execution.order_table import (
    FLOATS,
    INTS,
    NF,
    NI,
    OrderTable,
    SpilledOrder,
    TableOrder,
)
from mmkit.execution.orders import TrackedOrder

FIELDS = [f.name for f in dataclasses.fields(TrackedOrder)]
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

#: what each table field may hold, as the executor writes it
VALUES: dict[str, st.SearchStrategy[Any]] = dict.fromkeys(FLOATS, floats)
VALUES.update(
    {
        "state": st.sampled_from(list(OrderState)),
        "side": st.sampled_from(list(Side)),
        "pending": st.sampled_from(list(Pending)),
        "fate_seen": st.booleans(),
        "level": int64,
        "home": int64,
        "risk_until_ns": int64,
        "risk_ts": int64,
        "req": int64,
        "batch": int64,
    }
)
VALUES.update(
    {
        "oid": st.none() | int64,
        "placed_ns": int64,
        "unseen": floats,
        "adopted": st.booleans(),
        "cloid": st.text(max_size=8),
    }
)


def args(side: Side = Side.BUY) -> tuple[str, Side, float, float, int, OrderState]:
    """A tracked order's positional arguments: cloid, side, px, sz, level, state."""
    return ("0x" + "0" * 31 + "1", side, 100.5, 0.25, 3, OrderState.PLACING)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b


def test_the_table_layout_starts_with_the_reconcile_kernels_record() -> None:
    from mmkit.execution import _kernels_reconciler_twin as K  # noqa: N812

    assert FLOATS[: K.OF] == ("sz", "new_sz", "risk", "px", "filled", "cap", "orig_sz")
    assert INTS[: K.OI] == ("state", "side", "level", "home", "risk_until_ns", "risk_ts")
    assert set(FLOATS) | set(INTS) <= set(FIELDS)


#: values a row cannot hold as they are (module docstring of mmkit.execution.order_table):
#: each must spill its order, which then reads back what a TrackedOrder does
UNFIT: dict[str, st.SearchStrategy[Any]] = {}
_huge = st.integers(min_value=2**63, max_value=2**80) | st.integers(-(2**80), -(2**63) - 1)
_numpy = st.builds(np.float64, floats) | st.builds(np.int64, int64)
for _name in FLOATS:
    UNFIT[_name] = int64 | _huge | _numpy | st.none()
for _name in INTS:
    if _name in ("state", "side", "pending", "fate_seen"):
        UNFIT[_name] = st.integers(-2, 9) | st.none() | st.sampled_from(["open", 1.0])
    else:
        UNFIT[_name] = _huge | floats | _numpy | st.booleans() | st.none()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_view_reads_back_what_a_tracked_order_does(data: st.DataObject) -> None:
    """Any sequence of writes, of values a row holds and of values it cannot (which spill
    the order into a SpilledOrder), reads back on the view as on a TrackedOrder, field by
    field and type by type; a spilled order's row goes back to the table exactly once and
    the neighbours' rows are never touched."""
    side = data.draw(st.sampled_from(list(Side)))
    ref = TrackedOrder(*args(side), oid=7, cap=0.5)
    table = OrderTable()
    others = [TableOrder.make(table, *args()) for _ in range(data.draw(st.integers(0, 3)))]
    view = TableOrder.make(table, *args(side), oid=7, cap=0.5)
    fit = st.sampled_from(sorted(VALUES)).flatmap(lambda n: st.tuples(st.just(n), VALUES[n]))
    unfit = st.sampled_from(sorted(UNFIT)).flatmap(lambda n: st.tuples(st.just(n), UNFIT[n]))
    writes = data.draw(st.lists(fit | unfit))
    for name, value in writes:
        setattr(ref, name, value)
        setattr(view, name, value)
        for f in FIELDS:
            assert same(getattr(ref, f), getattr(view, f)), f"{f} after {name}={value!r}"
    cls: type = type(view)  # the view may have changed class under mypy's eyes
    spilled = cls is SpilledOrder
    assert spilled or cls is TableOrder
    assert table.spills == (1 if spilled else 0)
    assert table.live == len(others) + (0 if spilled else 1)
    if spilled:
        assert view._table is None
        fresh = TableOrder.make(table, *args())  # the spilled order's row, taken again
        fresh.px = -1.0
        fresh.level = -5
        assert same(view.px, ref.px) and same(view.level, ref.level)  # a NaN written too
    # the neighbours' rows were not touched
    for o in others:
        for f in FIELDS:
            assert same(getattr(o, f), getattr(TrackedOrder(*args()), f)), f


def test_a_value_the_table_cannot_hold_spills_the_order() -> None:
    table = OrderTable()
    o = TableOrder.make(table, *args(), oid=3)
    keep = TableOrder.make(table, *args(Side.SELL))
    row = o.row
    o.filled = 0.125
    o.risk_ts = 2**63  # one past int64
    cls: type = type(o)
    assert cls is SpilledOrder and isinstance(o, TrackedOrder)
    assert o.risk_ts == 2**63 and o.filled == 0.125 and o.state is OrderState.PLACING
    assert (table.spills, table.live, table.free) == (1, 1, [row])
    o.level = 1.5  # type: ignore[assignment]  # a slot now: stored as is, as the reference
    assert o.level == 1.5 and keep.level == 3
    # made with a value that does not fit: spilled while being made, the rest in its slots
    p: TrackedOrder = TableOrder.make(table, "0x9", Side.BUY, 100, 0.5, 2, OrderState.PLACING)
    assert type(p) is SpilledOrder and type(p.px) is int and p.sz == 0.5 and p.level == 2
    assert table.spills == 2 and table.live == 1
    # copies and pickles of a spilled order are plain tracked orders with its fields
    for back in (copy.deepcopy(o), pickle.loads(pickle.dumps(o))):
        assert type(back) is TrackedOrder
        for f in FIELDS:
            assert same(getattr(back, f), getattr(o, f)), f


def test_enum_fields_are_the_members_themselves() -> None:
    o = TableOrder.make(OrderTable(), *args(Side.SELL), pending=Pending.MODIFY)
    assert o.side is Side.SELL and o.state is OrderState.PLACING and o.pending is Pending.MODIFY
    o.state = o.state.to(OrderState.RESTING)
    assert o.state is OrderState.RESTING and o.fate_seen is False
    o.fate_seen = True
    assert o.fate_seen is True


def test_rows_come_back_when_orders_go() -> None:
    table = OrderTable()
    a = TableOrder.make(table, *args())
    b = TableOrder.make(table, *args())
    assert (a.row, b.row, table.live) == (0, 1, 2)
    row_a = a.row
    del a
    gc.collect()
    assert table.live == 1
    c = TableOrder.make(table, *args())
    assert c.row == row_a and table.rows == 2  # reused, not grown
    assert len(table.f) == 2 * NF and len(table.i) == 2 * NI
    assert b.px == 100.5 and c.px == 100.5


def test_deepcopy_copies_the_table_once_and_the_rows_with_it() -> None:
    table = OrderTable()
    orders = [TableOrder.make(table, *args()) for _ in range(3)]
    orders[1].px = 99.0
    orders[2].retired.append(5)
    box: dict[str, Any] = {"orders": orders, "table": table}
    dup = copy.deepcopy(box)
    new = dup["orders"]
    assert dup["table"] is not table and all(o._table is dup["table"] for o in new)
    assert [o.px for o in new] == [100.5, 99.0, 100.5] and new[2].retired == [5]
    new[0].px = 1.0
    new[2].retired.append(6)
    assert orders[0].px == 100.5 and orders[2].retired == [5]


def test_a_pickled_view_is_a_plain_tracked_order_with_its_fields() -> None:
    o = TableOrder.make(OrderTable(), *args(Side.SELL), oid=3, filled=0.1)
    back = pickle.loads(pickle.dumps(o))
    assert type(back) is TrackedOrder
    for f in FIELDS:
        assert same(getattr(back, f), getattr(o, f)), f


# -- the sending from the kernel's rows (SmartExecutorTwin._send_rows) ------------------
OPS = st.lists(
    st.tuples(st.sampled_from([0, 1, 2]), floats.filter(lambda x: x == x and x > 0)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(OrderState)), st.sampled_from(list(Side))),
        min_size=1,
        max_size=6,
    ),
    st.data(),
)
def test_sending_from_rows_is_the_references_sending(
    book: list[tuple[OrderState, Side]], data: st.DataObject
) -> None:
    """Random orders in every state; ops of every kind (cancels and modifies of distinct
    orders, places) in any emission order, written as the reconcile kernel writes them: the
    twin's sending from the rows - the fused kernel's (``send_table``: sort, weight,
    permit and tracking; its outcome made into actions by ``_fused_sent``) when drawn and
    it takes them, else ``_send_rows`` (actions built from the rows, the reference's
    permit, the cancels and modifies tracked by ``track_rows``) - leaves the actions, every
    order field, the pending requests, the request ids and the counters as the reference's
    ``_send_ops`` does with the same ops; and where a move is illegal both raise the same
    error after the same earlier ops."""
    from mmkit.execution import _kernels_reconciler_twin as K  # noqa: N812
    from mmkit.execution.order_state import IllegalTransition
    from mmkit.execution.pending import OrderRequest
    from mmkit.execution.reconciler import Op, OpKind
    from mmkit.execution.smart_executor import SmartExecutor
    from mmkit.execution.smart_executor_twin import SmartExecutorTwin, outputs_differ

    targets = data.draw(st.lists(st.integers(0, len(book) - 1), unique=True))
    plan: list[tuple[int, int, float]] = []  # (kind, order index or -1, price)
    for j in targets:
        plan.append((data.draw(st.integers(0, 1)), j, data.draw(floats.filter(lambda x: x > 0))))
    for _ in range(data.draw(st.integers(0, 2))):
        plan.append((2, -1, data.draw(st.floats(1.0, 1e6))))
    plan = data.draw(st.permutations(plan)) if plan else plan
    if not plan:
        return
    ref, twin = SmartExecutor(), SmartExecutorTwin()
    twin.use_table()
    assert twin.table is not None
    books = []
    for ex in (ref, twin):
        orders: list[TrackedOrder] = []
        for k, (state, side) in enumerate(book):
            o = ex._order_type(f"0x{k + 1:032x}", side, 100.0 + k, 0.5, k, state, oid=k, filled=0.1)
            ex.orders.add(o)
            orders.append(o)
        books.append(orders)
    ops: list[tuple[Side, Op]] = []
    n = len(plan)
    twin._rows[: len(book)] = [o._fb for o in books[1]]  # type: ignore[attr-defined]
    for t, (kind, j, px) in enumerate(plan):
        side = books[0][j].side if j >= 0 else Side.BUY
        level = books[0][j].level if j >= 0 else 7
        ops.append((side, Op(OpKind(kind), level, books[0][j] if j >= 0 else None, px, 0.25)))
        twin._oi[K.O_HEAD + K.OP_I * t : K.O_HEAD + K.OP_I * (t + 1)] = [
            kind,
            1 if side is Side.BUY else 0,
            level,
            j,
        ]
        twin._of[K.OP_F * t : K.OP_F * (t + 1)] = [px, 0.25]
    table = twin.table

    fused = data.draw(st.booleans())

    def by_twin() -> Any:
        pa = twin._pa
        if fused and pa is not None:
            from mmkit.execution import _kernels_order_table as KT  # noqa: N812
            from mmkit.execution.order_table import CODE_CANCEL, CODE_MODIFY, LEGAL

            rid0 = twin._rid + 1
            twin._ki = np.empty(max(n, 16), dtype=np.int64)
            args: tuple[Any, ...] = (table.f, table.i, twin._rows, twin._of, twin._oi, n)
            args += (twin._ki, *pa.arrays(), 5, rid0, LEGAL, CODE_CANCEL, CODE_MODIFY, twin._res)
            code = KT.send_table(*args)
            acts = twin._fused_sent(int(code), n, books[1], 5, rid0)
            if acts is not None:
                return acts
        return twin._send_rows(table, n, books[1], 5)

    def sent(by_ref: bool) -> Any:
        try:
            return ref._send_ops(ops, None, 5) if by_ref else by_twin()
        except IllegalTransition as exc:
            return ("raised", str(exc))

    ra, ta = sent(True), sent(False)
    if isinstance(ra, tuple) or isinstance(ta, tuple):
        assert ra == ta
        ra = ta = []
    diff = outputs_differ(ref, twin, ra, ta)
    assert not diff, diff
    pending = [
        {
            r: (q.order.cloid, q.kind)
            for r, q in ex._pending._by_rid.items()
            if isinstance(q, OrderRequest)
        }
        for ex in (ref, twin)
    ]
    assert pending[0] == pending[1]
