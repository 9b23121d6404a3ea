"""The smart executor's requests awaiting an answer: one map, request id -> what it was for.

Every action the executor sends carries a fresh request id (increasing, never reused);
the venue's :class:`~mmkit.core.events.ActionResult` names it. The record kept for it says
how to read the answer:

* :class:`OrderRequest`: a PLACE, MODIFY or cancel of one tracked order;
* :class:`CancelAllRequest`: a halt's ``CancelAll`` and the orders it covered;
* :class:`QueryRequest`: a ``QueryOrder`` resolving an order's unknown fate;
* :class:`SyncRequest`: a ``SyncState`` (position and open orders);
* :class:`OrphanCancel`: a cancel of an order that is not ours (or no longer tracked).

A record leaves the map when its answer arrives (or, for a sync, when a snapshot answers
it first); an answer whose id is not in the map is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from mmkit.core.frozen import quick_init
from mmkit.execution.order_state import Pending
from mmkit.execution.orders import TrackedOrder


class OrderRequest(NamedTuple):
    """A PLACE, MODIFY or cancel (``kind``) of ``order``.

    A named tuple, not a frozen dataclass like the other records: one is made for every
    order action sent (ten on a busy market's quoting cycle), and the executor builds it
    with :data:`new_order_request` (``tuple.__new__``, no Python frame): ~0.1 µs against
    ~0.35 µs through a slotted dataclass's ``__init__``. Immutable all the same.
    """

    order: TrackedOrder
    kind: Pending


#: ``new_order_request(OrderRequest, (order, kind))``: :class:`OrderRequest` built through
#: ``tuple.__new__`` directly (what its generated ``__new__`` calls, without that frame)
new_order_request = tuple.__new__


@quick_init
@dataclass(frozen=True, slots=True)
class CancelAllRequest:
    """A ``CancelAll``; ``orders``: the live orders it was sent for."""

    orders: tuple[TrackedOrder, ...]


@quick_init
@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A ``QueryOrder`` about ``order``."""

    order: TrackedOrder


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A ``SyncState`` (:class:`~mmkit.execution.position_sync.PositionSync` keeps its
    reason and time)."""


@quick_init
@dataclass(frozen=True, slots=True)
class OrphanCancel:
    """A cancel of the orphan order ``oid``."""

    oid: int


Request = OrderRequest | CancelAllRequest | QueryRequest | SyncRequest | OrphanCancel


class PendingRequests:
    """Request id -> :data:`Request`, for every request sent and not yet answered."""

    __slots__ = ("_by_rid",)

    def __init__(self) -> None:
        self._by_rid: dict[int, Request] = {}

    def add(self, rid: int, request: Request) -> None:
        self._by_rid[rid] = request

    def adder(self) -> Callable[[int, Request], None]:
        """:meth:`add` as the table's own C method (no Python frame per call), for a loop
        that adds many: the executor's sending of a reconcile's actions."""
        return self._by_rid.__setitem__

    def pop(self, rid: int) -> Request | None:
        """The record of ``rid``, removed; None for an unknown (stale) id."""
        return self._by_rid.pop(rid, None)

    def discard_sync(self, rid: int) -> None:
        """Forget the sync request ``rid`` (a snapshot answered it before its result)."""
        if isinstance(self._by_rid.get(rid), SyncRequest):
            del self._by_rid[rid]

    def __contains__(self, rid: object) -> bool:
        return rid in self._by_rid

    def __len__(self) -> int:
        return len(self._by_rid)

    def of_kind(self, kind: type[Request]) -> dict[int, Request]:
        """The requests of one record type, by id (introspection and tests)."""
        return {r: q for r, q in self._by_rid.items() if isinstance(q, kind)}
