"""The hot paths' stand-ins for Enum class attributes are the members themselves.

On Python 3.11 reading ``EventKind.BBO`` or ``Side.BUY`` goes through the slot hook that
``EnumType.__getattr__`` installs (~65 ns a read); the engine, the market state, the
session and the executor read the members through :class:`mmkit.core.events.Kinds` and
the module constants ``BUY`` / ``SELL`` instead. A stand-in that were a copy, or a member
missing from ``Kinds`` after a new kind is added, would make ``kind is Kinds.X`` silently
false: these tests pin the identity and the completeness.
"""

from __future__ import annotations

from mmkit.core.events import EventKind, Kinds
from mmkit.core.types import BUY, SELL, Side


def test_kinds_holds_every_event_kind_and_nothing_else() -> None:
    names = {n for n in vars(Kinds) if not n.startswith("_")}
    assert names == set(EventKind.__members__)
    for name, member in EventKind.__members__.items():
        assert getattr(Kinds, name) is member, name


def test_the_side_constants_are_the_members() -> None:
    assert BUY is Side.BUY and SELL is Side.SELL
    assert BUY.opposite is SELL and SELL.opposite is BUY
    assert (BUY.wire, SELL.wire) == ("B", "A")
