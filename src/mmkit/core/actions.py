"""Order actions: what the engine asks a venue to do.

Every action carries a ``request_id`` (unique and increasing within one engine) that the
venue's :class:`~mmkit.core.events.ActionResult` echoes, and every order carries a client
order id (``cloid``: ``"0x"`` + 32 hex digits, Hyperliquid's format).

The actions are tuple records (:mod:`mmkit.core.records`): frozen value classes with the
dataclass API (``dataclasses.replace``, ``fields``, ``asdict``, equality by class and
fields, frozen), built in C on the executor's hot path (``new_record(Modify, values)``).
Unlike a dataclass, an action is a tuple: ``len``, iteration and indexing work, ``json``
encodes it as a list, and the classes cannot be subclassed.
"""

from __future__ import annotations

import math
import re
from typing import TypeAlias

from mmkit.core.records import tuple_record
from mmkit.core.types import Side, Tif


@tuple_record
class Place:
    request_id: int
    cloid: str
    side: Side
    px: float
    sz: float
    tif: Tif = Tif.ALO
    reduce_only: bool = False
    level: int = 0


@tuple_record
class Modify:
    """Cancel-and-replace of a resting order (Hyperliquid ``batchModify``).

    The replacement keeps ``cloid`` and gets a new oid from the venue.
    """

    request_id: int
    cloid: str
    oid: int | None
    side: Side
    px: float
    sz: float
    tif: Tif = Tif.ALO
    reduce_only: bool = False
    level: int = 0


@tuple_record
class Cancel:
    request_id: int
    cloid: str | None
    oid: int | None
    emergency: bool = False  # kill-switch cancels may draw on the budget's emergency reserve


@tuple_record
class CancelAll:
    """Cancel every resting order of the instrument, known to us or not."""

    request_id: int
    reason: str
    emergency: bool = False


@tuple_record
class SyncState:
    """Ask the venue for its authoritative position (and open orders when ``orders``).

    The venue answers with a :class:`~mmkit.core.events.PositionSnapshot`. Position
    reconciliation and startup sync use it: the exchange is authoritative.
    """

    request_id: int
    reason: str
    orders: bool = True


@tuple_record
class QueryOrder:
    """Resolve one order's fate (after an unknown outcome); answered by an OrderUpdate."""

    request_id: int
    cloid: str | None
    oid: int | None


Action: TypeAlias = Place | Modify | Cancel | CancelAll | SyncState | QueryOrder
ORDER_ACTIONS: tuple[type, ...] = (Place, Modify, Cancel, CancelAll)
_PRICED: tuple[type[Place], type[Modify]] = (Place, Modify)

CLOID_HEX_DIGITS = 32


def make_cloid(n: int) -> str:
    """Hyperliquid cloid from an integer: ``0x`` + 32 hex digits (16 bytes)."""
    if n < 0 or n >= 1 << 128:
        raise ValueError(f"cloid integer {n} out of range [0, 2**128)")
    return f"{n:#034x}"


#: exactly ``0x`` and 32 hex digits (``int(s, 16)`` would also take signs, ``_`` and spaces)
_CLOID = re.compile(rf"0x[0-9a-fA-F]{{{CLOID_HEX_DIGITS}}}")
_match_cloid = _CLOID.fullmatch


def is_valid_cloid(s: str) -> bool:
    return isinstance(s, str) and _match_cloid(s) is not None


def action_problem(a: Action) -> str | None:
    """Why an action must not be sent (NaN/inf/non-positive price or size), or None if fine.

    The engine runs this on every action a component produces: a NaN never reaches a venue.
    """
    if isinstance(a, _PRICED):
        px, sz = a.px, a.sz
        if not (0.0 < px < math.inf):  # False for NaN, and for a non-number it raises
            return f"price {px!r} is not finite and > 0"
        if not (0.0 < sz < math.inf):
            return f"size {sz!r} is not finite and > 0"
        if not is_valid_cloid(a.cloid):
            return f"cloid {a.cloid!r} is not 0x + 32 hex digits"
    elif isinstance(a, Cancel) and a.cloid is None and a.oid is None:
        return "cancel names neither a cloid nor an oid"
    return None


#: how many well-formed cloids an :class:`ActionGuard` remembers before it starts afresh
CLOID_MEMORY = 1 << 14


class ActionGuard:
    """:func:`action_problem` over a batch, remembering the cloids it found well-formed.

    The engine checks every action a component produces, and a resting order is modified
    with the same cloid again and again: a PLACE or MODIFY whose cloid was found
    well-formed before, with a finite positive price and size, is fine without matching
    the cloid against the pattern again (~0.3 µs an action); every other action is judged
    by :func:`action_problem` itself. The memory is bounded (:data:`CLOID_MEMORY`; it is
    cleared when full).
    """

    __slots__ = ("_cloids",)

    def __init__(self) -> None:
        self._cloids: set[str] = set()

    def all_fine(self, actions: list[Action]) -> bool:
        """Whether :func:`action_problem` finds nothing wrong with any of ``actions`` (it
        raises where that function raises: a price that is not a number)."""
        known = self._cloids
        modify, place, inf = Modify, Place, math.inf  # read once, not per action
        for a in actions:
            t = type(a)
            priced = t is modify or t is place
            if priced:
                o: Place | Modify = a  # type: ignore[assignment]  # (a cast is a call)
                c = o.cloid
                if type(c) is str and c in known and 0.0 < o.px < inf and 0.0 < o.sz < inf:
                    continue
            if action_problem(a) is not None:
                return False
            if priced:
                if len(known) >= CLOID_MEMORY:
                    known.clear()
                known.add(o.cloid)
        return True
