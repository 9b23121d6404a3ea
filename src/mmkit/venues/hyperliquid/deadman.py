"""Hyperliquid's dead-man's switch (``scheduleCancel``), armed and renewed while trading.

If the process dies (``kill -9``, a crash, a lost machine) its resting orders would keep
trading with nobody watching. ``scheduleCancel {time}`` asks the venue to cancel every open
order of the account at ``time`` (ms, venue/wall time, at least 5 s ahead); setting it again
moves it, omitting ``time`` clears it. So the switch is armed ``horizon_s`` ahead at start-up
and renewed every ``renew_every_s``, well before it would fire; on a clean stop (after the
shutdown's cancels) it is cleared.

Venue rules handled here:

* the time must be >= 5 s ahead (checked in :class:`DeadmanSettings`, with margin);
* at most 10 fires per UTC day: fires are counted from ``orderUpdates`` status
  ``scheduledCancel`` (:meth:`DeadmanState.note_fire`); with ``reserve_fires`` or fewer left
  the switch is no longer armed (and says so), so the budget is never exhausted by us;
* it is volume-gated ("Cannot set scheduled cancel time until enough volume traded.
  Required: $1000000. Traded: $X."): the refusal is logged once, shown as ``refused: ...``
  in the status, retried rarely (volume grows while trading) and never stops trading.

:class:`DeadmanState` is the pure decision logic (clock values passed in, unit-testable);
:class:`DeadmanSwitch` runs it against a client in a task of its own, on the emergency lane
(:mod:`mmkit.venues.priority`) so normal traffic or a local 429 block cannot starve renewals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mmkit.errors import ConfigError
from mmkit.venues.priority import emergency_lane

log = logging.getLogger("mmkit.venues.hyperliquid")

#: the venue refuses a time less than this far ahead (ms)
VENUE_MIN_LEAD_MS = 5_000
#: fires the venue allows per UTC day
VENUE_DAILY_FIRES = 10
MS_PER_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class DeadmanSettings:
    """``horizon_s``: how far ahead each arming sets the cancel time (s, >= 6: the venue's 5 s
    plus a second for the request's own travel); ``renew_every_s``: how often it is moved
    forward (s, at most ``horizon_s - 5`` so a renewal lands while >= 5 s remain);
    ``retry_s``: retry after a failed request (s); ``refused_retry_s``: retry after a
    volume refusal (s); ``reserve_fires``: stop arming when this few daily fires are left;
    ``deadline_s``: per request (s)."""

    enabled: bool = True
    horizon_s: float = 15.0
    renew_every_s: float = 5.0
    retry_s: float = 1.0
    refused_retry_s: float = 60.0
    reserve_fires: int = 2
    deadline_s: float = 2.0

    def __post_init__(self) -> None:
        problems = []
        for name in ("horizon_s", "renew_every_s", "retry_s", "refused_retry_s", "deadline_s"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                problems.append(f"deadman {name} = {v!r} must be a finite number > 0")
        if not problems:
            if self.horizon_s < 6.0:
                problems.append(
                    f"venues.hyperliquid.deadman_horizon_s = {self.horizon_s:g} s: the venue "
                    "needs the cancel "
                    "time >= 5 s ahead (use >= 6 s, leaving time for the request)"
                )
            elif self.renew_every_s > self.horizon_s - 5.0:
                problems.append(
                    f"venues.hyperliquid.deadman_renew_every_s = {self.renew_every_s:g} s must be "
                    f"<= deadman_horizon_s - 5 = {self.horizon_s - 5.0:g} s (renewed well "
                    "before it fires)"
                )
        if not 0 <= self.reserve_fires < VENUE_DAILY_FIRES:
            problems.append(
                f"venues.hyperliquid.deadman_reserve_fires = {self.reserve_fires} is not in "
                f"[0, {VENUE_DAILY_FIRES})"
            )
        if problems:
            raise ConfigError(problems)


def utc_day(wall_ms: int) -> int:
    """The UTC day number of a wall time (ms since the epoch): the venue's counter resets at
    00:00 UTC."""
    return wall_ms // MS_PER_DAY


class DeadmanState:
    """The switch's decisions, with the clocks passed in: ``wall_ms`` (venue time, for the
    cancel time and the UTC day) and ``mono`` (s, for when to renew).

    ``state`` is ``off`` (not armed yet), ``armed``, ``refused`` (the venue said no: see
    ``reason``), ``budget`` (too few daily fires left: not armed), ``failing`` (requests fail;
    it may still be armed until ``armed_until_ms``), ``cleared`` or ``disabled``.
    """

    def __init__(self, settings: DeadmanSettings, fires_today: int = 0, day: int = -1) -> None:
        self.settings = settings
        self.state = "off" if settings.enabled else "disabled"
        self.reason = ""
        self.armed_until_ms: int | None = None
        self.next_at: float | None = None if not settings.enabled else 0.0
        self.fires_today = fires_today
        self.day = day
        self.arms = 0
        self.failures = 0

    # -- the day's fire budget ---------------------------------------------------------
    def _roll(self, wall_ms: int) -> None:
        d = utc_day(wall_ms)
        if d != self.day:
            self.day = d
            self.fires_today = 0

    def fires_left(self, wall_ms: int) -> int:
        self._roll(wall_ms)
        return max(0, VENUE_DAILY_FIRES - self.fires_today)

    def note_fire(self, wall_ms: int) -> None:
        """The venue fired (``scheduledCancel`` order updates at venue time ``wall_ms``)."""
        self._roll(wall_ms)
        self.fires_today += 1
        self.armed_until_ms = None
        if self.state == "armed":
            self.state = "off"
        self.next_at = 0.0 if self.settings.enabled else None  # re-arm at once if allowed

    # -- arming ------------------------------------------------------------------------
    def due(self, mono: float) -> bool:
        return self.next_at is not None and mono >= self.next_at

    def target_ms(self, wall_ms: int) -> int | None:
        """The cancel time to send now, or None when the switch must not be armed (budget).

        Sets ``state = "budget"`` (with the reason) the first time the budget stops it."""
        if not self.settings.enabled:
            return None
        left = self.fires_left(wall_ms)
        if left <= self.settings.reserve_fires:
            if self.state != "budget":
                self.state = "budget"
                self.reason = (
                    f"not armed: {left} of the venue's {VENUE_DAILY_FIRES} daily fires left "
                    f"(reserve {self.settings.reserve_fires}); resets at 00:00 UTC"
                )
            return None
        return wall_ms + round(self.settings.horizon_s * 1000)

    def on_armed(self, target_ms: int, mono: float) -> None:
        self.state = "armed"
        self.reason = ""
        self.armed_until_ms = target_ms
        self.arms += 1
        self.next_at = mono + self.settings.renew_every_s

    def on_refused(self, message: str, mono: float) -> bool:
        """The venue refused (a definite error); True when this is news (log it)."""
        news = self.state != "refused" or self.reason != message
        self.state = "refused"
        self.reason = message
        self.armed_until_ms = None
        self.next_at = mono + self.settings.refused_retry_s
        return news

    def on_failed(self, message: str, mono: float) -> bool:
        """The request failed (transport, 5xx, 429, timeout); True when this is news."""
        self.failures += 1
        news = self.state != "failing"
        self.state = "failing"
        self.reason = message
        self.next_at = mono + self.settings.retry_s
        return news

    def on_budget(self, mono: float) -> None:
        # look again later (the day may roll over); the reason was set by target_ms
        self.next_at = mono + self.settings.refused_retry_s

    def on_cleared(self) -> None:
        self.state = "cleared"
        self.armed_until_ms = None
        self.next_at = None

    def status(self, wall_ms: int, mono: float) -> dict[str, Any]:
        """For the dashboard, the summary and the journal meta."""
        out: dict[str, Any] = {"state": self.state}
        if self.reason:
            out["reason"] = self.reason
        if self.armed_until_ms is not None:
            out["fires_in_s"] = round(max(0.0, (self.armed_until_ms - wall_ms) / 1000), 1)
        if self.next_at is not None and self.state in ("armed", "failing", "refused"):
            out["next_renewal_s"] = round(max(0.0, self.next_at - mono), 1)
        out["fires_today"] = self.fires_today
        return out

    def describe(self, wall_ms: int, mono: float) -> str:
        """One line: ``armed (fires in 12.0 s; next renewal in 2.0 s)``, ``refused: ...``."""
        st = self.status(wall_ms, mono)
        if self.state == "armed":
            return (
                f"armed (fires in {st.get('fires_in_s', 0):g} s unless renewed; next renewal "
                f"in {st.get('next_renewal_s', 0):g} s)"
            )
        if self.state in ("refused", "budget", "failing"):
            extra = ""
            if self.armed_until_ms is not None:
                extra = f" (still armed for {st.get('fires_in_s', 0):g} s)"
            return f"{self.state}: {self.reason}{extra}"
        if self.state == "cleared":
            return f"cleared at a clean stop (armed and renewed {self.arms} times)"
        return self.state


class ScheduleCancelClient(Protocol):
    """What the switch needs of :class:`~mmkit.venues.hyperliquid.client.HyperliquidClient`."""

    def schedule_cancel(self, time_ms: int | None) -> Awaitable[Any]: ...


def _is_definite_refusal(reply: Any) -> bool:
    """A top-level venue ``err`` (not HTTP 429/5xx/transport): the venue said no."""
    return (
        not reply.ok
        and not getattr(reply, "unknown", False)
        and getattr(reply, "kind", "err") == "err"
    )


class DeadmanSwitch:
    """Keeps ``scheduleCancel`` armed while trading (see the module docstring)."""

    def __init__(
        self,
        client: ScheduleCancelClient,
        settings: DeadmanSettings | None = None,
        *,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        mono: Callable[[], float] = time.monotonic,
        poll_s: float = 0.25,
    ) -> None:
        """``wall_ms`` (venue time, ms) and ``mono`` (s) are the clocks; the renewal task
        looks at ``mono`` at least every ``poll_s`` (so an injected clock works too)."""
        self.poll_s = poll_s
        self.client = client
        self.settings = settings or DeadmanSettings()
        self.state = DeadmanState(self.settings)
        self._wall_ms = wall_ms
        self._mono = mono
        self._task: asyncio.Task[None] | None = None

    # -- public --------------------------------------------------------------------------
    async def start(self) -> None:
        """Arm once now (its outcome is in :meth:`status`), then keep it renewed."""
        if not self.settings.enabled:
            log.info("dead-man's switch: disabled by configuration")
            return
        await self.tick()
        self._task = asyncio.create_task(self._loop())

    def note_fire(self, venue_ts_ns: int) -> None:
        """The venue fired the switch (order updates ``scheduledCancel``)."""
        self.state.note_fire(venue_ts_ns // 1_000_000)
        log.warning(
            "dead-man's switch fired (%d of %d today): every resting order was cancelled",
            self.state.fires_today,
            VENUE_DAILY_FIRES,
        )

    async def clear(self) -> None:
        """Clean stop: stop renewing and clear the venue's cancel time (bounded)."""
        await self._stop_loop()
        if self.state.state not in ("armed", "failing"):
            return
        try:
            with emergency_lane():
                reply = await asyncio.wait_for(
                    self.client.schedule_cancel(None), self.settings.deadline_s
                )
        except (TimeoutError, OSError) as exc:
            log.warning("dead-man's switch: clearing it failed (%s); it will fire", exc)
            return
        if reply.ok:
            self.state.on_cleared()
            log.info("dead-man's switch cleared")
        else:
            log.warning("dead-man's switch: clearing it failed: %s", _message(reply))

    def status(self) -> dict[str, Any]:
        return self.state.status(self._wall_ms(), self._mono())

    def describe(self) -> str:
        return self.state.describe(self._wall_ms(), self._mono())

    # -- the renewal task ---------------------------------------------------------------
    async def _stop_loop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            nxt = self.state.next_at
            if nxt is None:
                return
            await asyncio.sleep(min(self.poll_s, max(0.0, nxt - self._mono())))
            if self.state.due(self._mono()):
                await self.tick()

    async def tick(self) -> None:
        """One arming attempt (or the budget check that skips it)."""
        st = self.state
        was = st.state
        target = st.target_ms(self._wall_ms())
        if target is None:
            if st.state == "budget" and was != "budget":
                log.warning("dead-man's switch %s", st.reason)
            st.on_budget(self._mono())
            return
        try:
            with emergency_lane():
                reply = await asyncio.wait_for(
                    self.client.schedule_cancel(target), self.settings.deadline_s
                )
        except (TimeoutError, OSError) as exc:
            if st.on_failed(f"no answer: {type(exc).__name__}", self._mono()):
                log.warning("dead-man's switch: renewal failed (%s); retrying", st.reason)
            return
        if reply.ok:
            was = st.state
            st.on_armed(target, self._mono())
            if was != "armed":
                log.info(
                    "dead-man's switch armed: the venue cancels every order %.0f s after the "
                    "last renewal (renewed every %.0f s)",
                    self.settings.horizon_s,
                    self.settings.renew_every_s,
                )
            return
        msg = _message(reply)
        if _is_definite_refusal(reply):
            if st.on_refused(msg, self._mono()):
                log.warning(
                    "dead-man's switch NOT armed: the venue refused scheduleCancel: %s "
                    "(trading goes on; orders are not cancelled if this process dies)",
                    msg,
                )
        elif st.on_failed(msg, self._mono()):
            log.warning("dead-man's switch: renewal failed (%s); retrying", msg)


def _message(reply: Any) -> str:
    err = getattr(reply, "error", None)
    return str(getattr(err, "message", err) or "unknown failure")


__all__ = [
    "VENUE_DAILY_FIRES",
    "VENUE_MIN_LEAD_MS",
    "DeadmanSettings",
    "DeadmanState",
    "DeadmanSwitch",
    "utc_day",
]
