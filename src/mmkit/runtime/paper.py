"""The paper / replay runner: a deterministic discrete-event loop over a synchronous venue.

Market events come from a feed in time order; the venue (the simulated exchange) answers
actions with events that carry their own arrival times; timers fire every ``timer_ns``.
Given the same feed, venue seed and config, two runs produce identical journals. With
``speed`` set, the loop paces itself against the wall clock (``speed`` simulated seconds per
wall second); otherwise it runs as fast as it can (backtests).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mmkit.components import Venue
from mmkit.core.actions import Action
from mmkit.core.events import Event, Timer
from mmkit.core.types import NS_PER_S
from mmkit.runtime.session import Session


def event_time(ev: Event) -> int:
    return ev.local_ts if ev.local_ts >= 0 else ev.ts


@dataclass
class StopFlag:
    """Set by a signal handler (or a test) to end the run at the next event."""

    requested: bool = False
    reason: str = ""

    def request(self, reason: str) -> None:
        self.requested = True
        self.reason = reason


@dataclass
class PaperResult:
    start_ns: int
    end_ns: int
    stopped_by: str


class PaperRunner:
    def __init__(
        self,
        session: Session,
        venue: Venue,
        *,
        timer_ns: int,
        speed: float | None,
        settle_ns: int = 2 * NS_PER_S,
    ) -> None:
        self.session = session
        self.venue = venue
        self.timer_ns = timer_ns
        self.speed = speed
        self.settle_ns = settle_ns
        self.now = 0
        self._wall0 = 0.0
        self._sim0 = 0

    # -- plumbing -------------------------------------------------------------------------
    def _submit(self, actions: list[Action], now: int) -> None:
        if actions:
            self.venue.submit(actions, now)

    def _dispatch(self, ev: Event, now: int) -> None:
        self.now = max(self.now, now)
        self._submit(self.session.dispatch(ev, self.now), self.now)

    def _drain(self, until: int) -> None:
        # venue answers may produce actions that produce answers due before ``until``
        for _ in range(10_000):
            evs = self.venue.drain(until)
            if not evs:
                return
            for r in evs:
                self._dispatch(r, min(until, max(self.now, event_time(r))))
        raise RuntimeError("venue produced events without end while draining")

    def _pace(self, t: int) -> None:
        if not self.speed:
            return
        target = self._wall0 + (t - self._sim0) / NS_PER_S / self.speed
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 0.5))

    # -- the loop -------------------------------------------------------------------------
    def run(
        self,
        events: Iterable[Event],
        *,
        duration_ns: int,
        stop: StopFlag | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> PaperResult:
        stop = stop or StopFlag()
        it = iter(events)
        first = next(it, None)
        if first is None:
            return PaperResult(0, 0, "feed empty")
        t0 = event_time(first)
        self.now = t0
        self._wall0, self._sim0 = time.monotonic(), t0
        end = t0 + duration_ns
        self._dispatch(Timer(t0, "startup", local_ts=t0), t0)
        self._drain(t0)
        next_timer = t0 + self.timer_ns
        pending: Event | None = first
        stopped_by = "duration"
        while pending is not None:
            t = event_time(pending)
            if t > end:
                break
            if stop.requested:
                stopped_by = stop.reason or "stop requested"
                break
            while next_timer <= t:
                self._drain(next_timer)
                self._dispatch(Timer(next_timer, local_ts=next_timer), next_timer)
                next_timer += self.timer_ns
            self._drain(t)
            self._pace(t)
            self.venue.on_market(pending, max(self.now, t))
            self._dispatch(pending, t)
            self._drain(self.now)
            if on_progress is not None:
                on_progress(self.now)
            pending = next(it, None)
        else:
            stopped_by = "feed ended"
        self.shutdown()
        return PaperResult(t0, self.now, stopped_by)

    def shutdown(self) -> None:
        """Kill switch (cancel all), let the venue answer, then a final position sync."""
        now = self.now
        cancel = self.session.engine.shutdown(now)
        if cancel:
            self.session.record_actions(cancel, now)  # journaled like every other action
        self._submit(cancel, now)
        self._drain(now + self.settle_ns)
        self.now = now + self.settle_ns
        sync = self.session.sync_request("final")
        self.session.record_actions([sync], self.now)
        self.venue.submit([sync], self.now)
        self._drain(self.now + self.settle_ns)
        # the run's end: the summary and the journal both end on this snapshot
        self.session.final_snapshot(self.now)
        if self.session.journal is not None:
            self.session.journal.flush()
