"""The live runner: the same session as paper trading, driven by an asynchronous venue.

The venue pushes events (market data, fills, order updates, action results, positions) into
the runner's queue; the runner stamps each with the live clock *here* (the engine never reads
a clock) and dispatches it through the session. Timers fire every ``timer_ns``.

**The live clock** (:class:`LiveClock`) is the wall time read once at start plus the
monotonic time elapsed since, in ns: it never steps back (or jumps) when the system clock is
set, so a backward step cannot keep a silent feed's staleness gate open or hold requotes
until the wall clock catches up. It stamps dispatches, timers and (shared with the venue
client) the ``local_ts`` of venue events. Real wall time is used only where the venue or the
journal needs it (journal rows, nonces, ``expiresAfter``, ``scheduleCancel`` times).

**Two lanes** carry the engine's actions to the venue, each with its own sender task:

* the *emergency lane*: ``Cancel``/``CancelAll`` with ``emergency=True`` (every halt, the
  kill switch, shutdown). It never waits behind a normal request, bypasses the client's local
  HTTP 429 block (:mod:`mmkit.venues.priority`), and each request has a short deadline
  (``emergency_deadline_s``): without an answer by then its actions come back ``UNKNOWN`` and
  the executor resolves them by query.
* the *normal lane*: everything else, in the order the engine produced it. Before any
  ``Place``/``Modify`` leaves, the runner checks it against the halt gates
  (:class:`HaltGuard`): one computed while a halt gate was closed, or before a halt gate
  closed later, is dropped and answered with ``REJECTED``/``NOT_SENT``, so the executor's
  order state stays right and nothing new reaches the venue while gated. Non-emergency
  cancels, syncs and queries are still sent.

Shutdown (signal, duration or venue failure): the engine's kill switch (emergency cancel of
every resting order) goes on the emergency lane and is awaited (bounded), then a final
position sync (bounded), then the end-of-run snapshot (:meth:`Session.final_snapshot`, what
the summary and ``journal show`` report), then the journal is flushed.
:meth:`LiveRunner.hurry` (a second Ctrl-C) cuts the settling waits short; whatever could not
be finished is listed in :attr:`LiveRunner.shutdown_skipped`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

# the live venue contract lives with the other contracts; re-exported here for older imports
from mmkit.components import AsyncVenue as AsyncVenue
from mmkit.components import EventSink as EventSink
from mmkit.components import GateMode
from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place
from mmkit.core.events import ActionResult, Event, OrderUpdate, OwnFill, Timer
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_S
from mmkit.errors import VenueError
from mmkit.runtime.session import Session
from mmkit.venues.priority import emergency_lane

log = logging.getLogger("mmkit.live")


class LiveClock:
    """Wall time at start plus monotonic time elapsed since, in ns since the epoch.

    Calls are monotonic (never decrease) and advance at the rate of the monotonic clock,
    whatever happens to the system's wall clock after start. ``wall_ns``/``mono_ns`` are
    injectable for tests (a wall clock that steps back, a fake monotonic source).
    """

    __slots__ = ("_mono", "_mono0", "_wall0")

    def __init__(
        self,
        wall_ns: Callable[[], int] = time.time_ns,
        mono_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._wall0 = int(wall_ns())
        self._mono = mono_ns
        self._mono0 = int(mono_ns())

    def __call__(self) -> int:
        return self._wall0 + (int(self._mono()) - self._mono0)

    @property
    def start_ns(self) -> int:
        """The wall time read at start (ns since the epoch)."""
        return self._wall0


def is_emergency(a: Action) -> bool:
    """Whether ``a`` travels on the emergency lane (a cancel marked ``emergency``)."""
    return isinstance(a, Cancel | CancelAll) and a.emergency


def split_lanes(actions: Sequence[Action]) -> tuple[list[Action], list[Action]]:
    """``(emergency, normal)``: the actions of one dispatch by lane, each in engine order."""
    urgent: list[Action] = []
    normal: list[Action] = []
    for a in actions:
        (urgent if is_emergency(a) else normal).append(a)
    return urgent, normal


def engine_halted(engine: Any) -> tuple[bool, str]:
    """Whether any HALT gate of the engine is closed (or it is stopped), and which."""
    names = [f"{name} ({d.reason})" for name, d in engine.closed.items() if d.mode is GateMode.HALT]
    if getattr(engine, "stopped", False) and not names:
        names.append("engine (stopped)")
    return bool(names), ", ".join(names)


@dataclass(frozen=True, slots=True)
class Stamp:
    """When a batch was produced: the halt epoch then, and whether a halt gate was closed."""

    epoch: int
    halted: bool


class HaltGuard:
    """Decides whether a queued ``Place``/``Modify`` may still be sent.

    ``epoch`` counts the closings of the halt gates (a transition from no HALT gate closed to
    at least one). Each batch is stamped with the epoch and the halted flag right after the
    dispatch that produced it; at send time a ``Place``/``Modify`` is admitted only if it was
    produced while no halt gate was closed, no halt gate closed since, and none is closed now.
    Everything else (cancels, syncs, queries) is always admitted.
    """

    __slots__ = ("epoch", "halted", "why")

    def __init__(self) -> None:
        self.epoch = 0
        self.halted = False
        self.why = ""

    def observe(self, halted: bool, why: str = "") -> None:
        """The halt state after a dispatch (or the shutdown)."""
        if halted:
            if not self.halted:
                self.epoch += 1
            self.why = why or self.why
        self.halted = halted

    def stamp(self) -> Stamp:
        return Stamp(self.epoch, self.halted)

    def admits(self, a: Action, stamp: Stamp) -> bool:
        if not isinstance(a, Place | Modify):
            return True
        return not (stamp.halted or self.halted or stamp.epoch < self.epoch)

    def refusal(self, stamp: Stamp) -> str:
        """Why a Place/Modify with this stamp is dropped (for its NOT_SENT result)."""
        gate = self.why or "a halt gate"
        if stamp.halted:
            return f"not sent: computed while {gate} was closed"
        if self.halted and stamp.epoch == self.epoch:
            return f"not sent: {gate} closed before it could be sent"
        return f"not sent: computed before {gate} closed"


def _answer(
    a: Action, now_ns: int, outcome: Outcome, reason: RejectReason, message: str
) -> ActionResult:
    """The runner's own answer to an order action, stamped ``now_ns``."""
    return ActionResult(
        now_ns,
        a.request_id,
        getattr(a, "cloid", None),
        getattr(a, "oid", None),
        outcome,
        reason,
        message,
        local_ts=now_ns,
    )


def not_sent_result(a: Action, now_ns: int, message: str) -> ActionResult:
    """The definite answer to an action the runner dropped: REJECTED, reason NOT_SENT."""
    return _answer(a, now_ns, Outcome.REJECTED, RejectReason.NOT_SENT, message)


def unknown_results(actions: Sequence[Action], now_ns: int, message: str) -> list[ActionResult]:
    """UNKNOWN answers for the order actions of a request that got no answer in time."""
    return [
        _answer(a, now_ns, Outcome.UNKNOWN, RejectReason.NONE, message)
        for a in actions
        if isinstance(a, Place | Modify | Cancel | CancelAll)
    ]


@dataclass(slots=True)
class _Batch:
    actions: Sequence[Action]
    stamp: Stamp
    #: our fills dispatched when the batch was computed
    own: int = 0


class StartupAborted(VenueError):
    """The venue did not finish starting before ``--duration`` ran out."""


class LiveRunner:
    """Runs a session against an :class:`AsyncVenue` (see the module docstring).

    ``clock`` is the engine's clock (ns; default a :class:`LiveClock`; share it with the
    venue so ``market.last_update`` and ``now`` agree); ``emergency_deadline_s`` bounds each
    emergency request and, at shutdown after a second signal, the final sync;
    ``final_sync_s`` bounds the final sync otherwise; ``settle_s`` is how long shutdown
    waits for the venue's answers (half after the cancels, half after the sync).
    """

    def __init__(
        self,
        session: Session,
        venue: AsyncVenue,
        *,
        timer_ns: int,
        clock: Callable[[], int] | None = None,
        settle_s: float = 2.0,
        emergency_deadline_s: float = 2.0,
        final_sync_s: float = 5.0,
    ) -> None:
        if not emergency_deadline_s > 0:
            raise ValueError(f"emergency_deadline_s must be > 0, got {emergency_deadline_s!r}")
        self.session = session
        self.venue = venue
        self.timer_ns = timer_ns
        self.clock: Callable[[], int] = clock if clock is not None else LiveClock()
        self.settle_s = settle_s
        self.emergency_deadline_s = emergency_deadline_s
        self.final_sync_s = final_sync_s
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._normal: asyncio.Queue[_Batch] = asyncio.Queue()
        self._emergency: asyncio.Queue[list[Action]] = asyncio.Queue()
        self.guard = HaltGuard()
        self.send_errors: list[str] = []
        #: Place/Modify dropped because a halt gate closed (answered NOT_SENT)
        self.dropped = 0
        #: emergency requests without an answer within the deadline (answered UNKNOWN)
        self.emergency_timeouts = 0
        self.emergency_sent = 0
        #: what the shutdown could not finish (e.g. ``final_sync``), for the journal
        self.shutdown_skipped: list[str] = []
        self._hurry = asyncio.Event()
        self._fire_ms: set[int] = set()
        #: our fills dispatched so far, and those received but not yet dispatched
        self._own_seen = 0
        self._own_pending = 0
        #: Place/Modify dropped because one of our fills arrived between their computation
        #: and their sending (answered NOT_SENT; the engine requotes with the fill known)
        self.refreshed = 0

    # -- lanes ------------------------------------------------------------------------------
    def _observe_gates(self) -> None:
        halted, why = engine_halted(self.session.engine)
        self.guard.observe(halted, why)

    def _route(self, actions: Sequence[Action], *, force_emergency: bool = False) -> None:
        urgent: list[Action]
        normal: list[Action]
        if force_emergency:
            urgent = [a for a in actions if isinstance(a, Cancel | CancelAll)]
            normal = [a for a in actions if not isinstance(a, Cancel | CancelAll)]
        else:
            urgent, normal = split_lanes(actions)
        if urgent:
            self._emergency.put_nowait(urgent)
        if normal:
            self._normal.put_nowait(_Batch(normal, self.guard.stamp(), self._own_seen))

    def _put(self, ev: Event) -> None:
        """The venue's sink: queue the event, counting our fills in it."""
        if isinstance(ev, OwnFill):
            self._own_pending += 1
        self.queue.put_nowait(ev)

    def _dispatch(self, ev: Event) -> None:
        if isinstance(ev, OwnFill):
            self._own_pending = max(0, self._own_pending - 1)
            self._own_seen += 1
        if isinstance(ev, OrderUpdate) and ev.raw_status == "scheduledCancel":
            self._note_deadman_fire(ev)
        actions = self.session.dispatch(ev, self.clock())
        self._observe_gates()
        if actions:
            self._route(actions)

    def _note_deadman_fire(self, ev: OrderUpdate) -> None:
        ms = ev.ts // 1_000_000
        if ms in self._fire_ms:  # one fire cancels many orders at one venue time
            return
        self._fire_ms.add(ms)
        log.warning("the venue's dead-man's switch fired: it cancelled every resting order")
        deadman = getattr(self.venue, "deadman", None)
        note = getattr(deadman, "note_fire", None)
        if callable(note):
            note(ev.ts)

    def _admit(self, batch: _Batch, kinds: tuple[type, ...]) -> list[Action]:
        """The actions of ``kinds`` in ``batch`` that may go now; the others get NOT_SENT."""
        out: list[Action] = []
        for a in batch.actions:
            if not isinstance(a, kinds):
                continue
            if self.guard.admits(a, batch.stamp):
                out.append(a)
            else:
                self.dropped += 1
                msg = self.guard.refusal(batch.stamp)
                log.info("dropped %s %s: %s", type(a).__name__, getattr(a, "cloid", ""), msg)
                self.queue.put_nowait(not_sent_result(a, self.clock(), msg))
        return out

    async def _submit(self, actions: list[Action]) -> None:
        try:
            await self.venue.submit(actions)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the fate is unknown: the executor resolves it by query
            msg = f"{type(exc).__name__}: {exc}"
            self.send_errors.append(msg)
            log.error("venue submit failed: %s", msg)
            for r in unknown_results(actions, self.clock(), f"submit failed: {msg}"):
                self.queue.put_nowait(r)

    #: the normal lane's order of sending within one batch (the client's order): the halt
    #: check runs again before modifies and before places, which may wait behind a request
    _GROUPS: tuple[tuple[type, ...], ...] = ((Cancel, CancelAll), (Modify,), (Place,))

    async def _catch_up(self, batch: _Batch) -> None:
        """Before a place or modify leaves: let frames already received reach the queue and
        the engine (a few loop turns, at most ``_CATCH_UP_S``), then drop the batch's places
        and modifies if one of our fills was dispatched since the batch was computed. A fill
        that executed just before a modify is otherwise often still in our socket buffer
        when the modify is signed (the venue publishes the book, the trade and our fill as
        separate messages), and the modify would size the order without it."""
        if not any(isinstance(a, Place | Modify) for a in batch.actions):
            return
        for _ in range(3):
            await asyncio.sleep(0)
        end = time.monotonic() + self._CATCH_UP_S
        while self._own_pending and time.monotonic() < end:
            await asyncio.sleep(0.001)
        if self._own_seen == batch.own:
            return
        fresh: list[Action] = []
        for a in batch.actions:
            if isinstance(a, Place | Modify):
                self.refreshed += 1
                msg = "not sent: one of our fills arrived after it was computed"
                self.queue.put_nowait(not_sent_result(a, self.clock(), msg))
            else:
                fresh.append(a)
        batch.actions = fresh

    #: how long a place/modify may wait for our own events already received, s
    _CATCH_UP_S = 0.02

    async def _normal_sender(self) -> None:
        while True:
            batch = await self._normal.get()
            try:
                await self._catch_up(batch)
                for kinds in self._GROUPS:
                    send = self._admit(batch, kinds)
                    if send:
                        await self._submit(send)
                known = tuple(k for g in self._GROUPS for k in g)
                rest = [a for a in batch.actions if not isinstance(a, known)]
                if rest:  # syncs and queries
                    await self._submit(rest)
            finally:
                self._normal.task_done()

    async def _send_emergency(self, actions: list[Action], deadline_s: float) -> bool:
        """Send on the emergency lane's terms; False when the deadline passed first."""
        self.emergency_sent += 1
        with emergency_lane():
            try:
                await asyncio.wait_for(self._submit(actions), deadline_s)
                return True
            except TimeoutError:
                self.emergency_timeouts += 1
                msg = f"emergency request: no answer within {deadline_s:g} s"
                log.warning("%s (%d actions; their fate is resolved by query)", msg, len(actions))
                for r in unknown_results(actions, self.clock(), msg):
                    self.queue.put_nowait(r)
                return False

    async def _emergency_sender(self) -> None:
        while True:
            actions = await self._emergency.get()
            try:
                await self._send_emergency(actions, self.emergency_deadline_s)
            finally:
                self._emergency.task_done()

    async def _timers(self) -> None:
        period = self.timer_ns / NS_PER_S
        while True:
            await asyncio.sleep(period)
            now = self.clock()
            self.queue.put_nowait(Timer(now, local_ts=now))

    # -- run --------------------------------------------------------------------------------
    def hurry(self) -> None:
        """Cut the shutdown's settling waits short (a second Ctrl-C)."""
        self._hurry.set()

    async def _start_venue(self, stop: asyncio.Event, deadline: float | None) -> bool:
        """Start the venue; False when a stop was requested first; StartupAborted when the
        deadline (monotonic s) passes first."""
        start = asyncio.ensure_future(self.venue.start(self._put))
        stopper = asyncio.ensure_future(stop.wait())
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await asyncio.wait({start, stopper}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            stopper.cancel()
        if start.done():
            start.result()  # a definite start-up failure is raised as it is
            return True
        start.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await start
        if stop.is_set():
            return False
        raise StartupAborted(
            "the venue did not finish starting within --duration "
            f"({timeout:.1f} s left at start); see the warnings above for why"
        )

    async def run(self, stop: asyncio.Event, duration_s: float | None = None) -> str:
        """Trade until ``stop`` is set or ``duration_s`` (wall s, start-up included) ends;
        the reason it stopped (``"stop requested"``, ``"duration"``, ``"venue failure: ..."``
        when the venue reports a failure no reconnection can cure)."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            started = await self._start_venue(stop, deadline)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.venue.close()
            raise
        if not started:
            await self.venue.close()
            return "stop requested"
        tasks = [
            asyncio.create_task(self._emergency_sender()),
            asyncio.create_task(self._normal_sender()),
            asyncio.create_task(self._timers()),
        ]
        now = self.clock()
        self._dispatch(Timer(now, "startup", local_ts=now))
        reason = "stop requested"
        try:
            while not stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    reason = "duration"
                    break
                failure = getattr(self.venue, "failure", None)
                if failure is not None:  # fatal (a rejected subscription): nothing recovers it
                    reason = f"venue failure: {failure}"
                    log.error("stopping: %s", reason)
                    break
                try:
                    ev = await asyncio.wait_for(self.queue.get(), timeout=0.1)
                except TimeoutError:
                    continue
                self._dispatch(ev)
        finally:
            try:
                await self._shutdown()
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await t
                await self.venue.close()
        return reason

    async def _bounded(
        self, aw: Awaitable[Any], seconds: float, *, after_hurry_s: float | None = None
    ) -> bool:
        """Await ``aw`` for at most ``seconds``; False if cut short (then it is cancelled).

        A :meth:`hurry` cuts the wait at once, or, with ``after_hurry_s``, leaves it at most
        that much longer (work that should still finish, only sooner)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        task = asyncio.ensure_future(aw)
        hurry = asyncio.ensure_future(self._hurry.wait())
        hurried = False
        try:
            while not task.done():
                left = end - loop.time()
                if left <= 0:
                    break
                waits: set[asyncio.Future[Any]] = {task} if hurried else {task, hurry}
                await asyncio.wait(waits, timeout=left, return_when="FIRST_COMPLETED")
                if hurry.done() and not hurried and not task.done():
                    if after_hurry_s is None:
                        break
                    hurried = True
                    end = min(end, loop.time() + after_hurry_s)
        finally:
            hurry.cancel()
        if task.done():
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return False

    def _drain_now(self) -> None:
        """Dispatch the events already queued (no waiting)."""
        while not self.queue.empty():
            self._dispatch(self.queue.get_nowait())

    async def _drain_events(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self._hurry.is_set():
            try:
                ev = await asyncio.wait_for(
                    self.queue.get(), timeout=max(0.01, end - time.monotonic())
                )
            except TimeoutError:
                break
            self._dispatch(ev)
        self._drain_now()

    async def _shutdown(self) -> None:
        now = self.clock()
        cancel = self.session.engine.shutdown(now)
        self._observe_gates()  # the engine is stopped: queued places/modifies are dropped
        if cancel:
            self.session.record_actions(cancel, now)
            self._route(cancel, force_emergency=True)
        # every queued emergency batch gets its own deadline; a hung normal request does not
        # hold the cancels (other lane), only the wait for the lane to empty is bounded
        pending = max(1, self._emergency.qsize())
        dl = self.emergency_deadline_s
        timeouts = self.emergency_timeouts
        # a second signal does not cut the cancels short: each has its own short deadline
        bound = pending * dl + min(1.0, dl)
        joined = await self._bounded(self._emergency.join(), bound, after_hurry_s=bound)
        if not joined or self.emergency_timeouts > timeouts:
            self.shutdown_skipped.append("cancel_confirm")  # sent, but not confirmed
        if not await self._bounded(self._normal.join(), self.settle_s / 2):
            self.shutdown_skipped.append("normal_lane")
        await self._drain_events(self.settle_s / 2)
        sync = self.session.sync_request("final")
        self.session.record_actions([sync], self.clock())
        bound = dl if self._hurry.is_set() else self.final_sync_s
        if not await self._bounded(self.venue.submit([sync]), bound, after_hurry_s=dl):
            self.shutdown_skipped.append("final_sync")
            log.warning("final position sync: no answer within %.1f s; skipped", bound)
        await self._drain_events(self.settle_s / 2)
        if self._hurry.is_set() and "settle" not in self.shutdown_skipped:
            self.shutdown_skipped.append("settle")
        # the run's end: the summary and the journal both end on this snapshot
        self.session.final_snapshot(self.clock())
        if self.session.journal is not None:
            self.session.journal.flush()

    def status(self) -> dict[str, Any]:
        """The order path's figures (dashboard, summary, metrics)."""
        return {
            "normal_queue": self._normal.qsize(),
            "emergency_queue": self._emergency.qsize(),
            "emergency_sent": self.emergency_sent,
            "emergency_timeouts": self.emergency_timeouts,
            "dropped_not_sent": self.dropped,
            "refreshed_not_sent": self.refreshed,
            "halt_epoch": self.guard.epoch,
        }
