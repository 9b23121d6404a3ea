"""The live runner: the same session as paper trading, driven by an asynchronous venue.

The venue pushes events (market data, fills, order updates, action results, positions) into
the runner's queue; the runner stamps each with the wall clock *here* (the engine never reads
a clock), dispatches it through the session, and hands the resulting actions to a single
sender task, so actions leave in the order the engine produced them while the loop keeps
reading events. Timers fire every ``timer_ns``.

Shutdown (signal, duration or venue failure): the engine's kill switch (emergency cancel of
every resting order) is sent and awaited, then a final position sync, then the journal is
flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from mmkit.components import Venue
from mmkit.core.actions import Action
from mmkit.core.events import Event, Timer
from mmkit.core.types import NS_PER_S
from mmkit.runtime.session import Session

log = logging.getLogger("mmkit.live")

EventSink = Callable[[Event], None]


class AsyncVenue(Protocol):
    """A venue that talks over the network (Hyperliquid client, the loopback emulator)."""

    async def start(self, sink: EventSink) -> None:
        """Connect, subscribe, and push every event to ``sink`` from now on."""
        ...

    async def submit(self, actions: Sequence[Action]) -> None:
        """Send actions; their results come back through the sink as events."""
        ...

    async def close(self) -> None: ...


class SyncVenueAdapter:
    """Runs a synchronous :class:`~mmkit.components.Venue` (simulated exchange) as an
    :class:`AsyncVenue`, with a market feed replayed at wall-clock pace. Used for tests and
    for dry runs of the live path without a network."""

    def __init__(
        self,
        venue: Venue,
        market: Sequence[Event] = (),
        *,
        clock: Callable[[], int] = time.time_ns,
        pace_s: float = 0.0,
    ) -> None:
        self.venue = venue
        self.market = list(market)
        self.clock = clock
        self.pace_s = pace_s
        self._sink: EventSink | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._task = asyncio.create_task(self._replay())

    async def _replay(self) -> None:
        for ev in self.market:
            now = self.clock()
            self.venue.on_market(ev, now)
            self._emit(ev)
            self._flush(now)
            await asyncio.sleep(self.pace_s)

    def _emit(self, ev: Event) -> None:
        if self._sink is not None:
            self._sink(ev)

    def _flush(self, now: int) -> None:
        for r in self.venue.drain(now + 10 * NS_PER_S):
            self._emit(r)

    async def submit(self, actions: Sequence[Action]) -> None:
        now = self.clock()
        self.venue.submit(list(actions), now)
        self._flush(now)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class LiveRunner:
    def __init__(
        self,
        session: Session,
        venue: AsyncVenue,
        *,
        timer_ns: int,
        clock: Callable[[], int] = time.time_ns,
        settle_s: float = 2.0,
    ) -> None:
        self.session = session
        self.venue = venue
        self.timer_ns = timer_ns
        self.clock = clock
        self.settle_s = settle_s
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._outbox: asyncio.Queue[list[Action]] = asyncio.Queue()
        self.send_errors: list[str] = []

    def _dispatch(self, ev: Event) -> None:
        actions = self.session.dispatch(ev, self.clock())
        if actions:
            self._outbox.put_nowait(actions)

    async def _sender(self) -> None:
        while True:
            actions = await self._outbox.get()
            try:
                await self.venue.submit(actions)
            except Exception as exc:  # transport failures become UNKNOWN results in the venue
                msg = f"{type(exc).__name__}: {exc}"
                self.send_errors.append(msg)
                log.error("venue submit failed: %s", msg)
            finally:
                self._outbox.task_done()

    async def _timers(self) -> None:
        period = self.timer_ns / NS_PER_S
        while True:
            await asyncio.sleep(period)
            now = self.clock()
            self.queue.put_nowait(Timer(now, local_ts=now))

    async def run(self, stop: asyncio.Event, duration_s: float | None = None) -> str:
        await self.venue.start(self.queue.put_nowait)
        tasks = [asyncio.create_task(self._sender()), asyncio.create_task(self._timers())]
        now = self.clock()
        self._dispatch(Timer(now, "startup", local_ts=now))
        deadline = None if duration_s is None else time.monotonic() + duration_s
        reason = "stop requested"
        try:
            while not stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    reason = "duration"
                    break
                try:
                    ev = await asyncio.wait_for(self.queue.get(), timeout=0.1)
                except TimeoutError:
                    continue
                self._dispatch(ev)
        finally:
            await self._shutdown()
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await self.venue.close()
        return reason

    async def _drain_events(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                ev = await asyncio.wait_for(
                    self.queue.get(), timeout=max(0.01, end - time.monotonic())
                )
            except TimeoutError:
                break
            self._dispatch(ev)
            await self._outbox.join()

    async def _shutdown(self) -> None:
        await self._outbox.join()
        now = self.clock()
        cancel = self.session.engine.shutdown(now)
        if cancel:
            self.session.record_actions(cancel, now)
            await self.venue.submit(cancel)
        await self._drain_events(self.settle_s / 2)
        sync = self.session.sync_request("final")
        self.session.record_actions([sync], self.clock())
        await self.venue.submit([sync])
        await self._drain_events(self.settle_s / 2)
        if self.session.journal is not None:
            self.session.journal.flush()
