"""Drive a component against the harness venue: :class:`VenueLoop`, a scripted quoter, a
switchable gate, and one-level books.

:class:`VenueLoop` wires an :class:`~mmkit.engine.Engine` (or any object with
``on_event(event, now_ns) -> list[Action]``) to a venue and steps simulated time;
:class:`ScriptedQuoter` returns a settable ladder and :class:`SwitchGate` is a gate a test
opens and closes.
"""

from __future__ import annotations

import math
from typing import Protocol

from mmkit.audit.harness.venue import FakeVenue
from mmkit.components import EMPTY_LADDER, Estimates, GateDecision, GateMode, Ladder, View
from mmkit.core.actions import Action
from mmkit.core.events import BookSnapshot, Event, Timer, levels
from mmkit.core.types import NS_PER_MS, NS_PER_S


def book(bid: float, ask: float, ts: int, sz: float = 1.0, stream: str = "book") -> BookSnapshot:
    """A one-level book snapshot (either price NaN for an empty side)."""
    bp = levels([bid]) if math.isfinite(bid) else levels([])
    bs = levels([sz]) if math.isfinite(bid) else levels([])
    ap = levels([ask]) if math.isfinite(ask) else levels([])
    az = levels([sz]) if math.isfinite(ask) else levels([])
    return BookSnapshot(ts, bp, bs, ap, az, local_ts=ts, stream=stream)


class ScriptedQuoter:
    """A quoter whose ladder the test sets (``ladder`` attribute)."""

    def __init__(self, ladder: Ladder = EMPTY_LADDER) -> None:
        self.ladder = ladder

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        return self.ladder


class SwitchGate:
    """A gate the test closes (``closed = GateDecision(...)``) and opens (``None``)."""

    def __init__(self) -> None:
        self.closed: GateDecision | None = None

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return self.closed

    def close(self, reason: str = "Test", *, emergency: bool = False) -> None:
        self.closed = GateDecision("switch", reason, {}, GateMode.HALT, emergency)

    def open(self) -> None:
        self.closed = None


class Driven(Protocol):
    """What :class:`VenueLoop` drives: an Engine or anything with the same ``on_event``."""

    def on_event(self, ev: Event, now_ns: int) -> list[Action]: ...


class VenueLoop:
    """Steps simulated time: venue events -> engine -> actions -> venue.

    ``sent`` records every ``(now_ns, action)`` the engine produced; ``timer_ns`` > 0 sends a
    :class:`~mmkit.core.events.Timer` every step.
    """

    def __init__(
        self,
        engine: Driven,
        venue: FakeVenue,
        now_ns: int = NS_PER_S,
        step_ns: int = 10 * NS_PER_MS,
    ) -> None:
        self.engine = engine
        self.venue = venue
        self.now = now_ns
        self.step_ns = step_ns
        self.sent: list[tuple[int, Action]] = []

    def _feed(self, ev: Event) -> list[Action]:
        actions = self.engine.on_event(ev, self.now)
        if actions:
            self.sent.extend((self.now, a) for a in actions)
            self.venue.submit(actions, self.now)
        return actions

    def market(self, ev: Event) -> list[Action]:
        self.venue.on_market(ev, self.now)
        return self._feed(ev)

    def step(self, dt_ns: int | None = None, *, timer: bool = True) -> list[Action]:
        self.now += self.step_ns if dt_ns is None else dt_ns
        out: list[Action] = []
        for ev in self.venue.drain(self.now):
            out.extend(self._feed(ev))
        if timer:
            out.extend(self._feed(Timer(self.now, local_ts=self.now)))
        return out

    def settle(self, max_steps: int = 300, dt_ns: int | None = None, min_steps: int = 30) -> int:
        """Step at least ``min_steps`` (so throttles can expire), then until the venue has
        nothing pending and a step produced no action; returns the steps taken."""
        for i in range(max_steps):
            acts = self.step(dt_ns)
            if i + 1 >= min_steps and not acts and self.venue.pending == 0:
                return i + 1
        return max_steps
