"""The executor's idle watch asks which sides hold an order the venue has accepted
(``accepted_sides``: it reads two orders in the usual book instead of a side's whole
ladder); its answer must be the plain scan's for any book, as tracked orders or as the
order table's views."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.types import BUY, SELL, Side
from mmkit.execution.order_state import OrderState
from mmkit.execution.order_table import OrderTable, TableOrder
from mmkit.execution.orders import TrackedOrder
from mmkit.execution.smart_executor import accepted_sides

#: (side, state, oid) of one order
_ORDER = st.tuples(
    st.sampled_from([BUY, SELL]),
    st.sampled_from(list(OrderState)),
    st.none() | st.integers(min_value=0, max_value=10**6),
)


def _plain_scan(orders: list[TrackedOrder]) -> tuple[bool, bool]:
    """The reading of every order: an accepted order (an oid, no longer placing) of each side."""
    ok = [o for o in orders if o.oid is not None and o.state is not OrderState.PLACING]
    return any(o.side is BUY for o in ok), any(o.side is not BUY for o in ok)


def _book(
    specs: list[tuple[Side, OrderState, int | None]], table: OrderTable | None
) -> dict[str, TrackedOrder]:
    book: dict[str, TrackedOrder] = {}
    for k, (side, state, oid) in enumerate(specs):
        args = (f"c{k}", side, 100.0, 1.0, k, state)
        o = (
            TableOrder.make(table, *args, oid=oid)
            if table is not None
            else TrackedOrder(*args, oid=oid)
        )
        book[o.cloid] = o
    return book


@given(st.lists(_ORDER, max_size=24), st.booleans())
def test_accepted_sides_is_the_plain_scan(
    specs: list[tuple[Side, OrderState, int | None]], in_table: bool
) -> None:
    book = _book(specs, OrderTable() if in_table else None)
    assert accepted_sides(book) == _plain_scan(list(book.values()))


def test_a_book_of_bids_then_asks_reads_two_orders() -> None:
    """The usual book (a bid ladder then an ask ladder, all accepted) is answered from its
    first and last orders."""
    reads: list[str] = []

    class Counted(TrackedOrder):
        def __getattribute__(self, name: str) -> object:
            if name == "side":
                reads.append(object.__getattribute__(self, "cloid"))
            return object.__getattribute__(self, name)

    book: dict[str, TrackedOrder] = {}
    for k in range(20):
        o = Counted(f"c{k}", BUY if k < 10 else SELL, 100.0, 1.0, k % 10, OrderState.RESTING, oid=k)
        book[o.cloid] = o
    assert accepted_sides(book) == (True, True)
    assert reads == ["c0", "c19"]


def test_the_property_catches_a_scan_that_trusts_the_back_order() -> None:
    """A mutant that reads only the first and the last order (wrong for an ask ladder
    ending in a bid still being placed) fails the property."""

    def mutant(by_cloid: dict[str, TrackedOrder]) -> tuple[bool, bool]:
        orders = list(by_cloid.values())
        ends = orders[:1] + orders[-1:]
        return _plain_scan(ends)

    @given(st.lists(_ORDER, max_size=24))
    def prop(specs: list[tuple[Side, OrderState, int | None]]) -> None:
        book = _book(specs, None)
        assert mutant(book) == _plain_scan(list(book.values()))

    with pytest.raises(AssertionError):
        prop()
