"""The order tracker: every order we sent, keyed by cloid, with oid binding and rebinding.

One :class:`TrackedOrder` lives from the PLACE until the venue says it is gone; a MODIFY
keeps the cloid and gives the order a new oid (Hyperliquid's modify is cancel-and-replace),
so the order *rebinds*: the old oid is *retired*. Events for a retired oid still count fills
(they did happen) but never end the live order: a late ``canceled`` for the old oid is the
cancel leg of the modify, not the order's end.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from mmkit.core.types import BUY, Side
from mmkit.execution.order_state import OrderState, Pending

SIZE_EPS = 1e-12


#: states that hold a desired level (no second order may be placed there)
OCCUPYING = frozenset(
    {
        OrderState.PLACING,
        OrderState.RESTING,
        OrderState.MODIFYING,
        OrderState.UNKNOWN,
        OrderState.AWAITING_FATE,
    }
)


#: members read per order on the hot paths, bound once (on Python 3.11 each read of an Enum
#: class's attribute costs ~65 ns: see :class:`mmkit.core.events.Kinds`)
_DONE = OrderState.DONE
_PENDING_MODIFY = Pending.MODIFY
_UNSETTLED = (OrderState.MODIFYING, OrderState.UNKNOWN)
#: states whose order the executor resolves by querying the venue
UNRESOLVED = (OrderState.UNKNOWN, OrderState.AWAITING_FATE)


@dataclass(slots=True, eq=False)
class TrackedOrder:
    cloid: str
    side: Side
    px: float
    sz: float  # remaining size of the live incarnation
    level: int  # index in the desired ladder side; -1 when detached (being cancelled)
    state: OrderState
    oid: int | None = None
    placed_ns: int = 0
    orig_sz: float = 0.0
    filled: float = 0.0  # over every incarnation
    req: int = -1  # request id of the in-flight action
    new_px: float = 0.0  # target of an in-flight modify
    new_sz: float = 0.0
    sent_filled: float = 0.0  # ``filled`` when the in-flight modify was sent
    pending: Pending = Pending.NONE  # the action in flight (``req``), if any
    retired: list[int] = field(default_factory=list)
    fate_seen: bool = False  # a terminal update for the current oid arrived mid-modify
    query_ns: int = -1  # when the last QueryOrder went out
    query_req: int = -1
    adopted: bool = False
    reduce_only: bool = False
    #: the ladder level the order was placed for (``level`` becomes -1 while cancelling)
    home: int = -1
    #: after the order ended: size that may still have filled without our having seen the
    #: fill (a *ghost*: it counts as exposure and against ``home``'s size until resolved)
    unseen: float = 0.0
    ghost_until_ns: int = -1  # a ghost not resolved by then is dropped (and counted)
    ghost_rid: int = -1  # a position snapshot answering a later sync request settles it
    ghost_exact: bool = False  # ``unseen`` already follows from the venue's terminal word
    ghost_synced: bool = False  # a position sync was asked for to settle it
    batch: int = -1  # first request id of the reconcile that last placed or modified it
    #: the largest size any incarnation of this cloid was confirmed at (the venue's largest
    #: ``origSz`` for it): the cloid's fills, over every incarnation, must never exceed it
    cap: float = 0.0
    #: size (coins) of this cloid that may have filled without our having seen the fill:
    #: the public tape printed at or through its price since its last known state, or the
    #: venue reported less remaining than we believe. Lowered by each fill, cleared when
    #: the order ends, by a position snapshot asked for after it, or at ``risk_until_ns``
    risk: float = 0.0
    risk_until_ns: int = -1
    risk_rid: int = -1  # last request id sent when the risk was raised
    risk_ts: int = -1  # venue time (ns) of the newest print (or venue report) behind it
    risk_oid: int | None = None  # the incarnation resting when the risk was raised
    #: venue time (ns) of the newest word we have on this cloid: a fill, or an ``open``
    #: update (which gives its remaining size then); a print older than that is not news
    known_ts: int = -1
    #: fills of the live incarnation a venue report already took off ``sz`` (not yet seen)
    ahead: float = 0.0

    def exposed(self) -> float:
        """Size (coins) of this cloid that has or may have filled: seen fills + ``risk``."""
        return self.filled + self.risk

    def tape_px(self) -> float:
        """The price a public print is checked against for this order: while a modify is in
        flight either incarnation may rest, so the more exposed of the two prices (the
        higher bid, the lower ask)."""
        px = self.px
        if self.pending is _PENDING_MODIFY and self.new_px > 0.0:
            return max(px, self.new_px) if self.side is BUY else min(px, self.new_px)
        return px

    def size_cap(self) -> float:
        """The cloid's largest size (coins): ``cap``, or for an order made without one, what
        it has filled plus what rests (its size as far as we know)."""
        return self.cap if self.cap > 0.0 else max(self.orig_sz, self.sz + self.filled)

    @property
    def live(self) -> bool:
        return self.state is not _DONE

    def worst_size(self) -> float:
        """The most this order may still fill for (for worst-case exposure)."""
        if self.state is _DONE:
            return 0.0
        if self.state in _UNSETTLED:
            return max(self.sz, self.new_sz)
        return self.sz


class OrderTracker:
    #: False only when no order in :attr:`by_cloid` is in an :data:`UNRESOLVED` state: set
    #: by :meth:`add` and :meth:`unresolve` (the only ways an order gets there), cleared
    #: by the executor's scan that finds none, so that the scan runs only while one may be
    #: (True for a tracker unpickled from before it existed: the scan runs once)
    may_have_unresolved: bool = True

    def __init__(self) -> None:
        self.by_cloid: dict[str, TrackedOrder] = {}
        #: current and retired oids -> order
        self.by_oid: dict[int, TrackedOrder] = {}
        self.rebinds = 0
        self.may_have_unresolved = False

    def __iter__(self) -> Iterator[TrackedOrder]:
        return iter(list(self.by_cloid.values()))

    def __len__(self) -> int:
        return len(self.by_cloid)

    def add(self, order: TrackedOrder) -> None:
        self.by_cloid[order.cloid] = order
        if order.oid is not None:
            self.by_oid[order.oid] = order
        if order.state in UNRESOLVED:
            self.may_have_unresolved = True

    def unresolve(self, order: TrackedOrder, state: OrderState) -> None:
        """Move ``order`` to ``state`` (one of :data:`UNRESOLVED`; an illegal move raises
        ``OrderState.to``'s error): its fate is now to be asked of the venue."""
        order.state = order.state.to(state)
        self.may_have_unresolved = True

    def find(self, oid: int | None, cloid: str | None) -> TrackedOrder | None:
        if oid is not None and oid in self.by_oid:
            return self.by_oid[oid]
        if cloid is not None:
            return self.by_cloid.get(cloid)
        return None

    def bind(self, order: TrackedOrder, oid: int | None) -> None:
        """Bind ``order`` to ``oid``, retiring its previous oid (a modify's new incarnation)."""
        if oid is None or oid == order.oid or oid in order.retired:
            return  # a retired oid never comes back (a late ack of an older modify)
        if order.oid is not None:
            order.retired.append(order.oid)
            self.rebinds += 1
        order.oid = oid
        self.by_oid[oid] = order

    def is_retired(self, order: TrackedOrder, oid: int | None) -> bool:
        return oid is not None and oid in order.retired

    def finish(self, order: TrackedOrder) -> None:
        """The venue says the order is gone: forget it (its oids stay mapped for late fills)."""
        order.state = order.state.to(OrderState.DONE)
        order.sz = 0.0
        order.pending = Pending.NONE
        self.by_cloid.pop(order.cloid, None)

    def live(self, side: Side | None = None) -> list[TrackedOrder]:
        return [
            o
            for o in self.by_cloid.values()
            if o.state is not OrderState.DONE and (side is None or o.side is side)
        ]

    def prune_oids(self, keep: int = 4096) -> None:
        """Drop the oldest finished-order oid mappings beyond ``keep`` (bounded memory).

        Runs once the map holds a quarter more than ``keep`` and looks only at the oldest
        excess entries, so its cost is amortised O(1) per order even when a long-lived live
        order sits among the oldest (a live order's mapping is never dropped)."""
        n = len(self.by_oid)
        if n <= keep + keep // 4:
            return
        by_oid = self.by_oid
        old = [
            oid
            for oid in itertools.islice(by_oid, n - keep)
            if by_oid[oid].state is OrderState.DONE
        ]
        for oid in old:
            del by_oid[oid]


__all__ = ["OCCUPYING", "SIZE_EPS", "OrderState", "OrderTracker", "Pending", "TrackedOrder"]
