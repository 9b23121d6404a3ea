"""How a leader venue's market data reaches estimators of the follower venue.

The engine runs one venue: every estimator sees every event, and the market state, kappa and
sigma do not look at stream names. So the leader's data must not arrive as ordinary book or
trade events. Two paths are supported:

* **Side channel (engine runs).** A :class:`LeaderChannel` is a named, time-stamped queue of
  leader quotes. A leader feed (:mod:`mmkit.signals.binance_feed`: live websockets client or
  capture replay) pushes into it. The lead-lag estimator takes every quote whose arrival time
  is ``<= now_ns`` at each ``on_event`` and ``estimate`` call. Backtests therefore stay
  deterministic: a replayed leader is pushed in full before the run, and the estimator
  consumes it in step with the follower's clock.
* **In-band events (tests, audit, merged captures).** An event whose ``stream`` starts with
  the estimator's ``leader_prefix`` (``"leader:"`` by default) is a leader event. A
  :class:`~mmkit.core.events.FeedStatus` with such a stream and ``connected=False`` marks the
  leader as disconnected. Only use this path where no other estimator reads the events.

:func:`leader_mid` reads a mid from a BBO or a book snapshot (``None`` when unusable).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from mmkit.core.events import BBO, BookSnapshot, Event, EventKind, FeedStatus


@dataclass(frozen=True, slots=True)
class LeaderQuote:
    """A leader mid (``mid`` NaN with ``connected`` False marks a disconnect)."""

    arrival_ns: int
    ts: int
    mid: float
    connected: bool = True


def leader_mid(ev: Event) -> float | None:
    """Mid of a BBO or book snapshot, None when missing, crossed or not finite."""
    if ev.kind is EventKind.BBO:
        assert isinstance(ev, BBO)
        b, a = ev.bid_px, ev.ask_px
    elif ev.kind is EventKind.BOOK_SNAPSHOT:
        assert isinstance(ev, BookSnapshot)
        if not (ev.bid_px.size and ev.ask_px.size):
            return None
        b, a = float(ev.bid_px[0]), float(ev.ask_px[0])
    else:
        return None
    if not (0.0 < b < a < float("inf")):
        return None
    return 0.5 * (b + a)


class LeaderChannel:
    """A thread-safe queue of leader quotes, consumed in arrival-time order."""

    def __init__(self, name: str, maxlen: int = 1_000_000) -> None:
        self.name = name
        self._q: deque[LeaderQuote] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.pushed = 0

    def __getstate__(self) -> dict[str, object]:
        """A copy (``copy.deepcopy``, pickling: the audit's copies of a configured system)
        holds the same quotes in a queue of its own, with a lock of its own; it is not the
        process-wide channel of that name, so what a feed pushes later does not reach it."""
        with self._lock:
            return {
                "name": self.name,
                "quotes": list(self._q),
                "maxlen": self._q.maxlen,
                "pushed": self.pushed,
            }

    def __setstate__(self, state: dict[str, object]) -> None:
        quotes = state["quotes"]
        maxlen = state["maxlen"]
        pushed = state["pushed"]
        assert isinstance(quotes, list) and isinstance(pushed, int)
        assert maxlen is None or isinstance(maxlen, int)
        self.name = str(state["name"])
        self._q = deque(quotes, maxlen=maxlen)
        self._lock = threading.Lock()
        self.pushed = pushed

    def push(self, quote: LeaderQuote) -> None:
        with self._lock:
            self._q.append(quote)
            self.pushed += 1

    def push_event(self, ev: Event, arrival_ns: int) -> None:
        """Push a leader BBO / book snapshot / feed status (others are ignored)."""
        if ev.kind is EventKind.FEED_STATUS:
            assert isinstance(ev, FeedStatus)
            if not ev.connected:
                self.push(LeaderQuote(arrival_ns, ev.ts, float("nan"), False))
            return
        mid = leader_mid(ev)
        if mid is not None:
            self.push(LeaderQuote(arrival_ns, ev.ts, mid))

    def take_until(self, now_ns: int) -> list[LeaderQuote]:
        """Remove and return the quotes that arrived at or before ``now_ns``."""
        out: list[LeaderQuote] = []
        with self._lock:
            q = self._q
            while q and q[0].arrival_ns <= now_ns:
                out.append(q.popleft())
        return out

    def __len__(self) -> int:
        return len(self._q)


_CHANNELS: dict[str, LeaderChannel] = {}
_CHANNELS_LOCK = threading.Lock()


def channel(name: str) -> LeaderChannel:
    """The process-wide channel of that name (created on first use)."""
    with _CHANNELS_LOCK:
        ch = _CHANNELS.get(name)
        if ch is None:
            ch = _CHANNELS[name] = LeaderChannel(name)
        return ch


def drop_channel(name: str) -> None:
    """Forget a channel (tests; a new run starts with an empty queue)."""
    with _CHANNELS_LOCK:
        _CHANNELS.pop(name, None)
