"""An order's life in the smart executor: its state, the legal moves between states, and
the kind of action in flight for it.

:class:`OrderState` is where a tracked order stands as far as we know; every change goes
through :meth:`OrderState.to`, which checks it against :data:`TRANSITIONS`. An illegal
move (a ``DONE`` order coming back to life, anything becoming ``PLACING`` again) is a
programming error in the executor, never a venue's doing: it raises
:class:`IllegalTransition` (an ``AssertionError``: the engine's fault path reports it),
so a wrong state can never be reached silently.

:class:`Pending` is the action in flight (sent, not yet answered) that the order's ``req``
names. It is separate from the state because a state can be reached with or without one:
an order found resting by a position snapshot is ``RESTING`` with nothing pending.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class IllegalTransition(AssertionError):
    """An order moved between two states no event can connect (a bug in the executor)."""

    def __init__(self, old: OrderState, new: OrderState) -> None:
        self.old = old
        self.new = new
        allowed = ", ".join(s.name for s in sorted(TRANSITIONS[old]))
        super().__init__(f"illegal order transition {old.name} -> {new.name} (allowed: {allowed})")


class OrderState(IntEnum):
    """Where a tracked order stands. Every order starts ``PLACING`` (we sent the PLACE) or
    ``RESTING`` (adopted from a predecessor at start-up) and ends ``DONE``."""

    PLACING = 1  # PLACE sent, not acknowledged
    RESTING = 2
    MODIFYING = 3  # MODIFY sent, not acknowledged
    CANCELING = 4  # cancel sent (alone or inside a cancel-all)
    UNKNOWN = 5  # an action's outcome is unknown: resolving it by query
    AWAITING_FATE = 6  # modify target gone: waiting to learn whether it filled or cancelled
    DONE = 7

    def can_go(self, new: OrderState) -> bool:
        """Whether an order in this state may move to ``new``."""
        return new in TRANSITIONS[self]

    def to(self, new: OrderState) -> OrderState:
        """``new``, when an order in this state may move there; else
        :class:`IllegalTransition`. Use as ``order.state = order.state.to(new)``."""
        if new not in TRANSITIONS[self]:
            raise IllegalTransition(self, new)
        return new

    @property
    def final(self) -> bool:
        return self is OrderState.DONE


_S = OrderState

#: state -> the states an order may move to from it (self-moves listed where an event may
#: repeat what is already known: a snapshot finding a resting order resting, a cancel-all
#: covering an order already being cancelled). Why each move exists:
#:
#: * -> ``RESTING``: an acknowledgement, an ``open`` update, a fill of a modify's
#:   replacement, a snapshot listing the order, or a refusal that changed nothing;
#: * -> ``MODIFYING`` / ``CANCELING``: we sent a MODIFY (only of a resting order) or a
#:   cancel (any live order: a halt's cancel-all covers every one);
#: * -> ``UNKNOWN``: an answer of unknown outcome to the order's latest request;
#: * -> ``AWAITING_FATE``: a modify refused because its target is gone (the modify's
#:   request may have been sent before a snapshot put the order back to ``RESTING``);
#: * -> ``DONE``: the venue says it is gone (or never was). Only ``DONE`` follows ``DONE``
#:   (ending an ended order again, e.g. when fills that waited for its oid finished it
#:   just before its terminal update is applied, changes nothing), and nothing becomes
#:   ``PLACING`` (a new PLACE is a new order).
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    _S.PLACING: frozenset({_S.RESTING, _S.CANCELING, _S.UNKNOWN, _S.DONE}),
    _S.RESTING: frozenset(
        {_S.RESTING, _S.MODIFYING, _S.CANCELING, _S.UNKNOWN, _S.AWAITING_FATE, _S.DONE}
    ),
    _S.MODIFYING: frozenset({_S.RESTING, _S.CANCELING, _S.UNKNOWN, _S.AWAITING_FATE, _S.DONE}),
    _S.CANCELING: frozenset({_S.RESTING, _S.CANCELING, _S.UNKNOWN, _S.DONE}),
    _S.UNKNOWN: frozenset({_S.RESTING, _S.CANCELING, _S.DONE}),
    _S.AWAITING_FATE: frozenset({_S.RESTING, _S.CANCELING, _S.DONE}),
    _S.DONE: frozenset({_S.DONE}),
}

#: the states an order may be created in
INITIAL_STATES = frozenset({_S.PLACING, _S.RESTING})


class Pending(StrEnum):
    """The order's action in flight (``TrackedOrder.req`` is its request id). A ``StrEnum``:
    its values are the names the journal and logs have always used."""

    NONE = ""
    PLACE = "place"
    MODIFY = "modify"
    CANCEL = "cancel"
    CANCEL_ALL = "cancel_all"
