"""The smart executor's order life: the state transition table, the op kinds' send order,
and the one pending-request map."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.types import Side
from mmkit.execution import orders as orders_module
from mmkit.execution import smart_executor
from mmkit.execution.order_state import (
    INITIAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    OrderState,
    Pending,
)
from mmkit.execution.orders import OrderTracker, TrackedOrder
from mmkit.execution.pending import (
    CancelAllRequest,
    OrderRequest,
    PendingRequests,
    QueryRequest,
    SyncRequest,
    new_order_request,
)
from mmkit.execution.reconciler import CANCEL, MODIFY, PLACE, OpKind

S = OrderState
LIVE = [s for s in S if s is not S.DONE]


def table_problems(table: Mapping[OrderState, frozenset[OrderState]]) -> list[str]:
    """What is wrong with a transition table, by the rules of an order's life (written
    here independently of the table): every state has an entry; nothing leaves DONE but
    DONE; nothing (re)enters PLACING; every live state can end (reach DONE) and can be
    cancelled (a halt's CancelAll covers every live order); only a RESTING order is
    modified."""
    out = []
    for s in S:
        if s not in table:
            out.append(f"{s.name}: no entry")
            continue
        nxt = table[s]
        if s is S.DONE and nxt - {S.DONE}:
            out.append(f"DONE -> {sorted(n.name for n in nxt - {S.DONE})}")
        if S.PLACING in nxt:
            out.append(f"{s.name} -> PLACING")
        if s is not S.DONE and S.DONE not in nxt:
            out.append(f"{s.name} cannot end")
        if s is not S.DONE and S.CANCELING not in nxt:
            out.append(f"{s.name} cannot be cancelled")
        if S.MODIFYING in nxt and s is not S.RESTING:
            out.append(f"{s.name} -> MODIFYING")
    return out


def test_the_transition_table_follows_the_rules() -> None:
    assert table_problems(TRANSITIONS) == []
    assert {S.PLACING, S.RESTING} == INITIAL_STATES


@pytest.mark.parametrize(
    "broken",
    [
        {**TRANSITIONS, S.DONE: frozenset({S.DONE, S.RESTING})},  # resurrection
        {**TRANSITIONS, S.RESTING: TRANSITIONS[S.RESTING] | {S.PLACING}},
        {**TRANSITIONS, S.UNKNOWN: frozenset({S.RESTING})},  # stuck: cannot end
        {**TRANSITIONS, S.CANCELING: TRANSITIONS[S.CANCELING] | {S.MODIFYING}},
    ],
)
def test_a_broken_table_is_caught(broken: dict[OrderState, frozenset[OrderState]]) -> None:
    assert table_problems(broken) != []


@settings(max_examples=300, deadline=None)
@given(
    start=st.sampled_from(sorted(INITIAL_STATES)),
    moves=st.lists(st.sampled_from(list(S)), max_size=40),
)
def test_random_transition_sequences_never_reach_an_illegal_state_silently(
    start: OrderState, moves: list[OrderState]
) -> None:
    state = start
    seen_done = False
    for new in moves:
        try:
            got = state.to(new)
        except IllegalTransition as exc:
            # refused: loudly, naming both states, and only when the table forbids it
            assert new not in TRANSITIONS[state]
            assert exc.old is state and exc.new is new
            assert state.name in str(exc) and new.name in str(exc)
            continue
        assert got is new and state.can_go(new)
        # the rules, checked on the path actually taken
        assert not (seen_done and new is not S.DONE), "an ended order came back"
        assert new is not S.PLACING, "an order was placed again"
        state = got
        seen_done = seen_done or state is S.DONE


def test_finishing_an_order_goes_through_the_table() -> None:
    tracker = OrderTracker()
    o = TrackedOrder("c1", Side.BUY, 100.0, 1.0, 0, S.PLACING)
    tracker.add(o)
    tracker.finish(o)
    assert o.state is S.DONE and o.pending is Pending.NONE and not o.live
    with pytest.raises(IllegalTransition, match="DONE -> RESTING"):
        o.state = o.state.to(S.RESTING)


def test_an_order_of_unknown_fate_raises_the_trackers_flag() -> None:
    """``unresolve`` (through the table) and ``add`` of an order of unknown fate raise the
    flag that makes the executor scan; nothing else does."""
    tracker = OrderTracker()
    assert not tracker.may_have_unresolved
    o = TrackedOrder("c1", Side.BUY, 100.0, 1.0, 0, S.PLACING)
    tracker.add(o)
    assert not tracker.may_have_unresolved
    tracker.unresolve(o, S.UNKNOWN)
    assert o.state is S.UNKNOWN and tracker.may_have_unresolved
    tracker.may_have_unresolved = False
    with pytest.raises(IllegalTransition, match="UNKNOWN -> AWAITING_FATE"):
        tracker.unresolve(o, S.AWAITING_FATE)
    other = OrderTracker()
    other.add(TrackedOrder("c2", Side.SELL, 101.0, 1.0, 0, S.AWAITING_FATE))
    assert other.may_have_unresolved


def test_the_executor_changes_state_only_through_the_table() -> None:
    """Every state assignment in the smart executor goes through ``OrderState.to``."""
    src = Path(smart_executor.__file__).read_text()
    direct = re.findall(r"\.state = (?!\w+\.state\.to\()[^\n]*", src)
    assert direct == []
    moves = re.findall(r"\.state = \w+\.state\.to\(", src)
    assert len(moves) + len(re.findall(r"self\.orders\.unresolve\(", src)) >= 15
    # an order gets a fate to ask the venue only through the tracker, which raises the flag
    # its service's scan runs on (no move there that would leave the scan skipped)
    assert re.findall(r"\.to\((?:OrderState|S)\.(?:UNKNOWN|AWAITING_FATE)\)", src) == []
    # the tracker's own moves go through the table too
    tracker_src = Path(orders_module.__file__).read_text()
    assert re.findall(r"\.state = (?!\w+\.state\.to\()[^\n]*", tracker_src) == []
    assert '"modify"' not in src and '"cancel_all"' not in src and 'pending == ""' not in src


def test_op_kinds_sort_in_send_order() -> None:
    assert sorted([PLACE, MODIFY, CANCEL, PLACE, CANCEL]) == [CANCEL, CANCEL, MODIFY, PLACE, PLACE]
    assert [k.name for k in sorted(OpKind)] == ["CANCEL", "MODIFY", "PLACE"]


def test_pending_requests_one_map() -> None:
    o = TrackedOrder("c1", Side.SELL, 100.0, 1.0, 0, S.RESTING)
    reqs = PendingRequests()
    reqs.add(1, SyncRequest())
    reqs.add(2, OrderRequest(o, Pending.MODIFY))
    reqs.add(3, QueryRequest(o))
    reqs.add(4, CancelAllRequest((o,)))
    reqs.discard_sync(2)  # not a sync: kept
    assert 2 in reqs and len(reqs) == 4
    reqs.discard_sync(1)
    assert 1 not in reqs and reqs.pop(1) is None  # answered by a snapshot: its result is stale
    assert reqs.pop(2) == OrderRequest(o, Pending.MODIFY) and reqs.pop(2) is None
    assert set(reqs.of_kind(QueryRequest)) == {3}
    add = reqs.adder()  # the executor's bulk form of add: the same table
    add(5, OrderRequest(o, Pending.CANCEL))
    assert 5 in reqs and len(reqs) == 3 and reqs.pop(5) == OrderRequest(o, Pending.CANCEL)


@pytest.mark.parametrize("kind", list(Pending))
def test_the_executors_quick_order_request_is_an_order_request(kind: Pending) -> None:
    """The sending loop builds its records through ``tuple.__new__``: the same record, of
    the same type, as the class's own constructor (so ``isinstance`` dispatch on answers and
    ``of_kind`` see it)."""
    o = TrackedOrder("c1", Side.BUY, 100.0, 1.0, 0, S.RESTING)
    quick = new_order_request(OrderRequest, (o, kind))
    assert type(quick) is OrderRequest
    assert quick == OrderRequest(o, kind) and quick.order is o and quick.kind is kind
    reqs = PendingRequests()
    reqs.adder()(7, quick)
    assert reqs.of_kind(OrderRequest) == {7: quick}
