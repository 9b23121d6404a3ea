"""The executor's oid map stays bounded, never forgets a live order and costs O(1) amortised
per order even when a long-lived live order is among the oldest mappings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.types import Side
from mmkit.execution.order_state import OrderState
from mmkit.execution.orders import OrderTracker, TrackedOrder


def _order(oid: int, live: bool) -> TrackedOrder:
    state = OrderState.RESTING if live else OrderState.DONE
    return TrackedOrder(f"c{oid}", Side.BUY, 100.0, 1.0, 0, state, oid=oid)


@given(
    keep=st.integers(1, 40),
    live_flags=st.lists(st.booleans(), max_size=300),
)
def test_the_oid_map_is_bounded_and_keeps_every_live_order(
    keep: int, live_flags: list[bool]
) -> None:
    tr = OrderTracker()
    for oid, live in enumerate(live_flags):
        tr.add(_order(oid, live))
        before = dict(tr.by_oid)
        tr.prune_oids(keep)
        live_now = sum(o.state is not OrderState.DONE for o in tr.by_oid.values())
        # only finished orders' mappings are dropped, never one of the newest ``keep``
        assert all(o.state is OrderState.DONE for k, o in before.items() if k not in tr.by_oid)
        assert all(k in tr.by_oid for k in range(max(0, oid + 1 - keep), oid + 1))  # newest
        assert len(tr.by_oid) <= keep + keep // 4 + live_now


def test_a_live_order_among_the_oldest_does_not_make_each_call_rescan() -> None:
    tr = OrderTracker()
    tr.add(_order(0, live=True))  # the oldest mapping is a resting order
    seen: list[int] = []

    class Spy(dict[int, TrackedOrder]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            for k in super().__iter__():
                seen.append(k)
                yield k

    tr.by_oid = Spy(tr.by_oid)
    for oid in range(1, 2000):
        tr.add(_order(oid, live=False))
        tr.prune_oids(100)
    # without the amortisation every call past 100 entries walked the whole map (~2e5 keys)
    assert len(seen) < 5 * 2000
    assert 0 in tr.by_oid and len(tr.by_oid) <= 100 + 25 + 1
