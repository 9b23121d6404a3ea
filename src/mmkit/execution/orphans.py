"""The orphan tracker: every order on the venue is ours and tracked, or it is cancelled.

An order the venue shows (in a snapshot or an order update) that we do not track is given a
grace window from its placement time (a PLACE whose acknowledgement is late binds within
it); still unclaimed when the window ends, it is cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmkit.core.types import NS_PER_MS


@dataclass(slots=True)
class Orphan:
    oid: int
    cloid: str | None
    deadline_ns: int
    cancel_sent: bool = False


class OrphanTracker:
    def __init__(self, grace_ms: float = 2_000.0) -> None:
        self.grace_ns = int(grace_ms * NS_PER_MS)
        self.orphans: dict[int, Orphan] = {}
        self.cancelled = 0
        self.seen = 0

    def saw(self, oid: int, cloid: str | None, placed_ns: int, now_ns: int) -> None:
        if oid in self.orphans:
            return
        self.seen += 1
        start = placed_ns if 0 < placed_ns <= now_ns else now_ns
        self.orphans[oid] = Orphan(oid, cloid, start + self.grace_ns)

    def claim(self, oid: int | None) -> None:
        if oid is not None:
            self.orphans.pop(oid, None)

    def gone(self, oid: int) -> None:
        self.orphans.pop(oid, None)

    def due(self, now_ns: int) -> list[Orphan]:
        if not self.orphans:
            return []
        return [o for o in self.orphans.values() if not o.cancel_sent and now_ns >= o.deadline_ns]

    def cancel_refused(self, oid: int) -> None:
        o = self.orphans.get(oid)
        if o is not None:
            o.cancel_sent = False
