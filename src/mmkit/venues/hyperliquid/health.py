"""Connection health of the live Hyperliquid venue: one small state machine per link.

A *link* is one path the client depends on to know the market or the account:

* ``market``  — the WebSocket market subscriptions (``l2Book``, ``trades``, ``bbo``);
* ``user``    — the WebSocket user subscriptions (``orderUpdates``, ``userFills``,
  ``userEvents``);
* ``account`` — the REST account path (``clearinghouseState`` + ``openOrders``, order
  queries, the open-orders read of a cancel-all).

Each link moves through::

    connected --fault--> degraded --fault--> disconnected --attempt--> recovering
        ^                    |                    ^                        |
        |                    +------lost----------+<------attempt failed---+
        +--------------------------- fresh snapshot ---------------------------+

* ``degraded``: a fault was seen but the link may still work (one failed REST read, one
  unreadable market frame). It is *not* connected: the data-quality gate stays closed.
* ``disconnected``: the link is known to be down (socket lost, a recovery attempt failed).
* ``recovering``: a reconnection or a retry is under way; still not connected.
* ``connected``: entered **only** by :meth:`Link.restore`, which the venue calls right after
  it has emitted a fresh snapshot (a book for ``market``; the position with the open orders
  for ``user`` and ``account``), so the gate never reopens on data older than the fault.

The logic is pure: no sockets, no sleeping. Time comes from the injected ``clock_ns`` (a
monotonic clock in nanoseconds; only differences are used). Every transition is counted and
logged once: leaving ``connected`` is a warning, and so is the return (one line with the
outage's length, so a console shows both ends); entering ``recovering`` or
``disconnected`` is logged at info the first time in an outage, and repeated recovery
attempts only reach the debug log.
Listeners (``VenueHealth.listeners``) get every :class:`Transition`, e.g. for a journal.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmkit.core.types import NS_PER_S

log = logging.getLogger("mmkit.venues.hyperliquid.health")


class LinkState(enum.Enum):
    CONNECTED = "connected"
    DEGRADED = "degraded"
    DISCONNECTED = "disconnected"
    RECOVERING = "recovering"


class Fault(enum.Enum):
    """Why a link left ``connected`` (or why a recovery attempt failed)."""

    RATE_LIMITED = "rate_limited"  # HTTP 429 (honours Retry-After)
    SERVER = "server"  # HTTP 5xx, the venue restarting
    TIMEOUT = "timeout"  # a request or a connection attempt timed out
    TRANSPORT = "transport"  # connection refused/reset, socket closed
    STALL = "stall"  # a socket went mute (no pong)
    BAD_FRAME = "bad_frame"  # an unreadable WebSocket frame
    BAD_REPLY = "bad_reply"  # a REST reply that could not be read, a 4xx
    UNEXPECTED = "unexpected"  # an exception nobody anticipated (a bug): still recovered


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a link's state; ``at_ns`` is on the health clock (monotonic)."""

    link: str
    before: LinkState
    after: LinkState
    at_ns: int
    detail: str
    fault: Fault | None = None

    @property
    def connected_changed(self) -> bool:
        """True when the link went from connected to not, or back (what the gate sees)."""
        return (self.before is LinkState.CONNECTED) != (self.after is LinkState.CONNECTED)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with multiplicative jitter, in seconds.

    Attempt ``k`` (0-based) waits ``min(max_s, initial_s * 2**k)`` times a uniform factor in
    ``[1 - jitter, 1 + jitter]``; when the venue asked for ``Retry-After`` seconds (HTTP
    429) the wait is never shorter than that. Jitter spreads the retries of many clients
    hit by the same outage so they do not return in one burst.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        base = min(self.max_s, self.initial_s * (2.0 ** min(max(0, attempt), 62)))
        d = base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        if retry_after_s is not None and retry_after_s > d:
            d = retry_after_s
        return float(d)


class Link:
    """The state machine of one link (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        connected: bool = False,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.name = name
        self._clock_ns = clock_ns
        self._on_transition = on_transition
        self.state = LinkState.CONNECTED if connected else LinkState.DISCONNECTED
        self.since_ns = clock_ns()
        #: faults seen, by kind (every one, also those inside an outage)
        self.faults: Counter[Fault] = Counter()
        #: transitions into each state
        self.entered: Counter[LinkState] = Counter()
        #: recovery attempts since the link was last connected (drives the backoff)
        self.attempts = 0
        #: outages (times the link left ``connected``) and restorations
        self.outages = 0
        self.restores = 0
        #: the longest and the latest outage, seconds (None until one ended)
        self.longest_outage_s = 0.0
        self.last_outage_s: float | None = None
        #: the Retry-After (s) of the newest 429, consumed by the next :meth:`next_delay`
        self.retry_after_s: float | None = None
        self.last_detail = ""
        self._outage_start_ns: int | None = None if connected else self.since_ns
        self._logged: set[LinkState] = set()

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    # ------------------------------------------------------------------ transitions

    def _move(self, after: LinkState, detail: str, fault: Fault | None) -> Transition | None:
        before = self.state
        self.last_detail = detail
        if after is before:
            return None
        now = self._clock_ns()
        self.state = after
        self.since_ns = now
        self.entered[after] += 1
        tr = Transition(self.name, before, after, now, detail, fault)
        if before is LinkState.CONNECTED:
            self.outages += 1
            self._outage_start_ns = now
            self._logged = {after}
            log.warning("hyperliquid %s link %s: %s", self.name, after.value, detail)
        elif after is LinkState.CONNECTED:
            start = self._outage_start_ns if self._outage_start_ns is not None else now
            out_s = max(0, now - start) / NS_PER_S
            self.last_outage_s = out_s
            self.longest_outage_s = max(self.longest_outage_s, out_s)
            self.restores += 1
            log.warning(  # as loud as the loss, so a console shows both ends of an outage
                "hyperliquid %s link connected again after %.2f s (%d attempts): %s",
                self.name,
                out_s,
                self.attempts,
                detail,
            )
            self.attempts = 0
            self.retry_after_s = None
            self._outage_start_ns = None
            self._logged = set()
        elif after not in self._logged:  # first time in this state during this outage
            self._logged.add(after)
            log.info("hyperliquid %s link %s: %s", self.name, after.value, detail)
        else:
            log.debug("hyperliquid %s link %s: %s", self.name, after.value, detail)
        if self._on_transition is not None:
            self._on_transition(tr)
        return tr

    def _note(self, fault: Fault, retry_after_s: float | None) -> None:
        self.faults[fault] += 1
        if retry_after_s is not None:
            self.retry_after_s = max(retry_after_s, self.retry_after_s or 0.0)

    def degrade(
        self, fault: Fault, detail: str, retry_after_s: float | None = None
    ) -> Transition | None:
        """A fault that may not mean the link is gone. ``connected`` -> ``degraded``; a
        failed recovery attempt (``recovering``) -> ``disconnected``; otherwise counted."""
        self._note(fault, retry_after_s)
        if self.state is LinkState.CONNECTED:
            return self._move(LinkState.DEGRADED, detail, fault)
        if self.state is LinkState.RECOVERING:
            return self._move(LinkState.DISCONNECTED, detail, fault)
        self.last_detail = detail
        return None

    def lose(
        self, fault: Fault, detail: str, retry_after_s: float | None = None
    ) -> Transition | None:
        """The link is known to be down (socket lost, venue unreachable): ``disconnected``."""
        self._note(fault, retry_after_s)
        return self._move(LinkState.DISCONNECTED, detail, fault)

    def recovering(self, detail: str) -> Transition | None:
        """A reconnection or retry started (counted as an attempt). Ignored while connected:
        only a fault takes a link out of ``connected``."""
        if self.state is LinkState.CONNECTED:
            return None
        self.attempts += 1
        return self._move(LinkState.RECOVERING, detail, None)

    def restore(self, detail: str) -> Transition | None:
        """A fresh snapshot has just been emitted: ``connected``. The caller guarantees the
        snapshot was taken after the fault (that is what makes reopening the gate safe)."""
        return self._move(LinkState.CONNECTED, detail, None)

    def next_delay(self, backoff: Backoff, rng: random.Random) -> float:
        """Seconds to wait before the next recovery attempt: the backoff of the attempts so
        far, never shorter than a pending ``Retry-After`` (which it consumes)."""
        d = backoff.delay(self.attempts, rng, self.retry_after_s)
        self.retry_after_s = None
        return d

    def status(self) -> dict[str, Any]:
        """Plain data for dashboards, metrics and journals (no clock reads beyond ``now``)."""
        now = self._clock_ns()
        return {
            "state": self.state.value,
            "connected": self.connected,
            "for_s": round(max(0, now - self.since_ns) / NS_PER_S, 3),
            "outages": self.outages,
            "restores": self.restores,
            "attempts": self.attempts,
            "faults": {
                f.value: n for f, n in sorted(self.faults.items(), key=lambda x: x[0].value)
            },
            "entered": {s.value: n for s, n in self.entered.items()},
            "last_outage_s": self.last_outage_s,
            "longest_outage_s": round(self.longest_outage_s, 3),
            "detail": self.last_detail,
        }


class VenueHealth:
    """The three links of the venue plus frame counters; :meth:`status` for observers."""

    LINKS = ("market", "user", "account")

    def __init__(self, clock_ns: Callable[[], int] = time.monotonic_ns) -> None:
        #: called with every transition of every link (journal, metrics); exceptions raised
        #: by a listener are logged and ignored: observing must never break recovery
        self.listeners: list[Callable[[Transition], None]] = []
        self.market = Link("market", clock_ns=clock_ns, on_transition=self._notify)
        self.user = Link("user", clock_ns=clock_ns, on_transition=self._notify)
        # the account path starts usable: the session's start-up sync is its first snapshot
        self.account = Link(
            "account", connected=True, clock_ns=clock_ns, on_transition=self._notify
        )
        #: unreadable WebSocket frames skipped (market channels) or resynced (others)
        self.bad_frames_skipped = 0
        self.bad_frames_resynced = 0
        #: times the stream pump restarted after an unexpected exception
        self.pump_restarts = 0

    def _notify(self, tr: Transition) -> None:
        for fn in list(self.listeners):
            try:
                fn(tr)
            except Exception:  # an observer's bug must not stop recovery
                log.exception("health listener failed on %s", tr)

    def link(self, name: str) -> Link:
        if name not in self.LINKS:
            raise KeyError(f"no link {name!r}; links are {', '.join(self.LINKS)}")
        link: Link = getattr(self, name)
        return link

    @property
    def all_connected(self) -> bool:
        return all(self.link(n).connected for n in self.LINKS)

    def status(self) -> dict[str, Any]:
        return {
            "connected": self.all_connected,
            "links": {n: self.link(n).status() for n in self.LINKS},
            "bad_frames_skipped": self.bad_frames_skipped,
            "bad_frames_resynced": self.bad_frames_resynced,
            "pump_restarts": self.pump_restarts,
        }


__all__ = ["Backoff", "Fault", "Link", "LinkState", "Transition", "VenueHealth"]
