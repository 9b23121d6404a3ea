"""The smart executor twin's orders in arrays: an order table, and tracked orders that are
views over its rows (issue 20, step 1 of the compiled loop in ``docs/twins.md``).

A kernel cannot read a Python object's attributes, and copying the executor's orders into
arrays for every reconcile costs more than the reference's own Python diff (~12 µs for 20
orders, measured). So the twin can keep the fields the reconcile and the sending read and
write - prices, sizes, fills, caps, tape risk, state, side, level, request bookkeeping - in
one :class:`OrderTable`, and its :class:`TableOrder` objects are ordinary
:class:`~mmkit.execution.orders.TrackedOrder` s whose fields of the table are properties over
their row: the reference's Python (every answer path, every audit read) works on them
unchanged, and a kernel reads the rows in place (:func:`gather`).

Layout: per row, :data:`FLOATS` in ``OrderTable.f`` and :data:`INTS` in ``OrderTable.i``;
the first seven floats and the first six ints are, in order, the reconcile kernel's order
record (``_kernels_reconciler_twin``: ``OF`` / ``OI``), so gathering an order is copying the
head of its row. The columns are :mod:`array` arrays (their items read back as Python
floats and ints, so a view gives the reference's types; numpy's items would not) that
numba takes as buffers.

What a view costs, measured (2026-12-05, Python 3.11): a property read ~57 ns more than a
slot, a write ~72 ns more. That is the price of the Python paths until kernels take them
over; see ``docs/twins.md`` for why the table is still the first step.

Stored as codes: the state (its int value), the side (+1 / -1), the pending action
(:data:`PENDING_CODES`) and ``fate_seen`` (0 / 1); a view returns the very enum members
and bools, so identity checks (``o.state is OrderState.RESTING``) hold.

**A value a row cannot hold spills the order out of the table.** A row keeps a float
field as a C double and an int field as an int64, so it reads back exactly what a
:class:`TrackedOrder` would only for a Python ``float`` in a float field, a Python ``int``
within int64 in an int field, and the very enum member (or bool) in a coded field. Any
other write - an int beyond int64 (a time near the int64 limit, which the audit's
extreme streams reach), an int or a numpy scalar in a float field, a float in an int
field, a plain int for a state - turns that order, in place, into a
:class:`SpilledOrder`: a plain tracked order with every field in its own slots (the row's
values copied, then the write made as the reference makes it), whose row goes back to
the table. Every reference to it (the order book, the pending requests, the ghosts) sees
the same object, so nothing is re-pointed; the executor twin finds an order that is not
a row of its table and serves that reconcile by packing the orders (or by the
reference's Python when a value does not pack either), as it does for any order made
outside the table. ``OrderTable.spills`` counts them (none in the runs measured).

Rows are taken when an order is made and given back when the last reference to it goes
(``__del__``), so the table stays as large as the orders alive. ``copy.deepcopy`` of an
executor copies its table once and every order's row with it (the audit copies rigs).
"""

from __future__ import annotations

import copy
from array import array
from typing import Any

from mmkit.core.types import BUY, SELL, Side
from mmkit.execution.order_state import TRANSITIONS, OrderState, Pending
from mmkit.execution.orders import TrackedOrder

__all__ = [
    "CODE_CANCEL",
    "CODE_MODIFY",
    "FLOATS",
    "INTS",
    "LEGAL",
    "NF",
    "NI",
    "N_STATES",
    "PENDING_CODES",
    "OrderTable",
    "SpilledOrder",
    "TableOrder",
]

#: float fields per row (the first seven: the reconcile kernel's order record, in order)
FLOATS = ("sz", "new_sz", "risk", "px", "filled", "cap", "orig_sz", "new_px", "sent_filled")
#: int fields per row (the first six: the reconcile kernel's order record, in order)
INTS = (
    "state",
    "side",
    "level",
    "home",
    "risk_until_ns",
    "risk_ts",
    "req",
    "batch",
    "pending",
    "fate_seen",
    "known_ts",
)
NF = len(FLOATS)
NI = len(INTS)
#: each field's index in its row (the kernels' constants)
F_SZ = FLOATS.index("sz")
F_RISK = FLOATS.index("risk")
F_PX = FLOATS.index("px")
F_FILLED = FLOATS.index("filled")
F_NEW_PX = FLOATS.index("new_px")
F_NEW_SZ = FLOATS.index("new_sz")
F_SENT_FILLED = FLOATS.index("sent_filled")
I_STATE = INTS.index("state")
I_SIDE = INTS.index("side")
I_RISK_UNTIL = INTS.index("risk_until_ns")
I_RISK_TS = INTS.index("risk_ts")
I_KNOWN_TS = INTS.index("known_ts")
I_LEVEL = INTS.index("level")
I_REQ = INTS.index("req")
I_BATCH = INTS.index("batch")
I_PENDING = INTS.index("pending")
I_FATE_SEEN = INTS.index("fate_seen")

#: the pending action's code in the table (its index here)
PENDING_CODES: tuple[Pending, ...] = tuple(Pending)
_PENDING_CODE = {p: k for k, p in enumerate(PENDING_CODES)}
CODE_CANCEL = _PENDING_CODE[Pending.CANCEL]
CODE_MODIFY = _PENDING_CODE[Pending.MODIFY]
#: a state by its int value (index 0 unused)
_STATES: tuple[OrderState | None, ...] = (None, *sorted(OrderState, key=int))
#: a side by its code: index 1 is BUY, index -1 (the last) is SELL
_SIDES: tuple[Side | None, ...] = (None, BUY, SELL)

#: ``LEGAL[old * N_STATES + new]``: 1 when :data:`~mmkit.execution.order_state.TRANSITIONS`
#: lets an order move from ``old`` to ``new`` (the kernels' copy of that table)
N_STATES = max(int(s) for s in OrderState) + 1


def _legal() -> array[int]:
    table = array("q", bytes(8 * N_STATES * N_STATES))
    for old, moves in TRANSITIONS.items():
        for new in moves:
            table[int(old) * N_STATES + int(new)] = 1
    return table


LEGAL = _legal()

_ZERO_F = array("d", bytes(8 * NF))
_ZERO_I = array("q", bytes(8 * NI))


class OrderTable:
    """Rows of order fields (module docstring): ``f`` (floats), ``i`` (ints), ``NF`` /
    ``NI`` items a row; rows handed out by :meth:`take` and back by :meth:`give`."""

    __slots__ = ("f", "free", "i", "rows", "spills")

    def __init__(self) -> None:
        self.f = array("d")
        self.i = array("q")
        self.rows = 0
        #: rows given back, taken again before the table grows
        self.free: list[int] = []
        #: orders spilled out of the table by a value a row cannot hold (:class:`SpilledOrder`)
        self.spills = 0

    def take(self) -> int:
        """A row for a new order (its fields are set by the order's constructor)."""
        if self.free:
            return self.free.pop()
        self.f.extend(_ZERO_F)
        self.i.extend(_ZERO_I)
        self.rows += 1
        return self.rows - 1

    def give(self, row: int) -> None:
        """``row``'s order is gone: the row may be taken again."""
        self.free.append(row)

    @property
    def live(self) -> int:
        """Rows in use."""
        return self.rows - len(self.free)

    def __deepcopy__(self, memo: dict[int, Any]) -> OrderTable:
        new = OrderTable.__new__(OrderTable)
        new.f = array("d", self.f)
        new.i = array("q", self.i)
        new.rows = self.rows
        new.free = list(self.free)
        new.spills = self.spills
        memo[id(self)] = new
        return new


def _float_field(k: int, name: str) -> property:
    """Float field ``k`` of the row: a Python float is stored as is; anything else spills
    the order (module docstring)."""

    def get(self: TableOrder) -> Any:
        return self._f[self._fb + k]

    def put(self: TableOrder, value: Any) -> None:
        if type(value) is float:
            self._f[self._fb + k] = value
        else:
            self._spill(name, value)

    return property(get, put, doc=f"``{name}``, in the order table")


def _int_field(k: int, name: str) -> property:
    """Int field ``k`` of the row: a Python int within int64 is stored as is; anything
    else spills the order (module docstring)."""

    def get(self: TableOrder) -> Any:
        return self._i[self._ib + k]

    def put(self: TableOrder, value: Any) -> None:
        if type(value) is int:
            try:
                self._i[self._ib + k] = value
                return
            except OverflowError:  # beyond int64
                pass
        self._spill(name, value)

    return property(get, put, doc=f"``{name}``, in the order table")


def _coded_field(
    k: int, name: str, kind: type[Any], decoded: tuple[Any, ...], encode: Any
) -> property:
    """Field ``k`` stored as a code: a value of type ``kind`` (the enum's members, or
    bool) is encoded (``encode``: a dict from value to code, or None when the value is its
    own code, an ``IntEnum``'s member); anything else spills the order (module
    docstring). A code reads back as ``decoded[code]``. The getter and setter index a
    tuple and a dict directly: one call fewer than a decoding function (~30 ns a read,
    and the views of the state, the side and the pending action are the answers' most
    read fields)."""

    def get(self: TableOrder) -> Any:
        return decoded[self._i[self._ib + k]]

    if encode is None:

        def put(self: TableOrder, value: Any) -> None:
            if type(value) is kind:
                self._i[self._ib + k] = value  # an IntEnum member is its own code
            else:
                self._spill(name, value)

    else:

        def put(self: TableOrder, value: Any) -> None:
            if type(value) is kind:
                self._i[self._ib + k] = encode[value]
            else:
                self._spill(name, value)

    return property(get, put, doc=f"``{name}``, coded in the order table")


_FIELDS: dict[str, property] = {}
for _k, _name in enumerate(FLOATS):
    _FIELDS[_name] = _float_field(_k, _name)
for _k, _name in enumerate(INTS):
    if _name == "state":
        _FIELDS[_name] = _coded_field(_k, _name, OrderState, _STATES, None)
    elif _name == "side":
        _FIELDS[_name] = _coded_field(_k, _name, Side, _SIDES, None)
    elif _name == "pending":
        _FIELDS[_name] = _coded_field(_k, _name, Pending, PENDING_CODES, _PENDING_CODE)
    elif _name == "fate_seen":
        _FIELDS[_name] = _coded_field(_k, _name, bool, (False, True), {False: 0, True: 1})
    else:
        _FIELDS[_name] = _int_field(_k, _name)

#: the TrackedOrder fields that stay in the object (everything not in the table)
_OBJECT_FIELDS = tuple(name for name in TrackedOrder.__dataclass_fields__ if name not in _FIELDS)


class TableOrder(TrackedOrder):
    """A :class:`TrackedOrder` whose :data:`FLOATS` and :data:`INTS` live in a row of an
    :class:`OrderTable` (module docstring). Made by :meth:`make`."""

    __slots__ = ("_f", "_fb", "_i", "_ib", "_table")

    _f: array[float]
    _i: array[int]
    _fb: int
    _ib: int
    _table: OrderTable

    @classmethod
    def make(cls, table: OrderTable, *args: Any, **kwargs: Any) -> TableOrder:
        """A new order in a new row of ``table`` (``TrackedOrder``'s arguments)."""
        o = cls.__new__(cls)
        row = table.take()
        o._table = table
        o._f = table.f
        o._i = table.i
        o._fb = row * NF
        o._ib = row * NI
        TrackedOrder.__init__(o, *args, **kwargs)
        return o

    @property
    def row(self) -> int:
        """This order's row in its table."""
        return self._fb // NF

    def __del__(self) -> None:
        table = getattr(self, "_table", None)
        if table is not None:
            table.give(self._fb // NF)

    def _spill(self, name: str, value: Any) -> None:
        """Write ``value`` to ``name`` as a :class:`TrackedOrder` would, after turning this
        order into a :class:`SpilledOrder` (module docstring): every table field copied
        from the row into the order's own slots, the row given back."""
        values = [(n, prop.fget(self)) for n, prop in _FIELDS.items()]  # type: ignore[misc]
        table = self._table
        row = self._fb // NF
        self.__class__ = SpilledOrder  # type: ignore[assignment]  # the same slots
        for n, v in values:
            _SLOTS[n].__set__(self, v)
        self._table = None  # type: ignore[assignment]
        del self._f, self._i
        table.give(row)
        table.spills += 1
        setattr(self, name, value)

    def __deepcopy__(self, memo: dict[int, Any]) -> TableOrder:
        table = copy.deepcopy(self._table, memo)
        new = TableOrder.__new__(TableOrder)
        memo[id(self)] = new
        new._table = table
        new._f = table.f
        new._i = table.i
        new._fb = self._fb
        new._ib = self._ib
        for name in _OBJECT_FIELDS:
            setattr(new, name, copy.deepcopy(getattr(self, name), memo))
        return new

    def __reduce__(self) -> Any:
        # outside its executor a table order is a plain tracked order with the same fields
        return _as_plain(self)


class SpilledOrder(TrackedOrder):
    """A :class:`TableOrder` that a value its row could not hold turned into a plain
    tracked order (module docstring): every field in its own slots, no row. It has the
    table order's slots (so that the object can change class in place) and uses none of
    them but ``_table`` (None)."""

    __slots__ = ("_f", "_fb", "_i", "_ib", "_table")

    _table: OrderTable | None

    def __reduce__(self) -> Any:
        return _as_plain(self)


def _as_plain(o: TrackedOrder) -> Any:
    """How a table or spilled order pickles and copies: a plain tracked order with the same
    fields."""
    return (_plain, (tuple(getattr(o, n) for n in TrackedOrder.__dataclass_fields__),))


def _plain(values: tuple[Any, ...]) -> TrackedOrder:
    return TrackedOrder(*values)


#: the slot of each table field in TrackedOrder (where a spilled order keeps it)
_SLOTS: dict[str, Any] = {n: vars(TrackedOrder)[n] for n in _FIELDS}


for _name, _prop in _FIELDS.items():
    setattr(TableOrder, _name, _prop)
del _name, _prop, _k
