"""WebSocket client: subscriptions, heartbeat, reconnection, backfill, de-duplication.

* ``{"method":"ping"}`` every ``ping_interval_s`` (50 s: the server drops a client silent
  for 60 s), and also after ``idle_ping_s`` (2 s) without any frame: the book channel
  ticks about every 0.5 s, so two seconds of silence is already suspicious. A ping left
  unanswered for ``pong_timeout_s`` (2 s; no frame at all arrived) marks a *silent stall*:
  the socket is closed and reopened. A mute socket is thus replaced within about 4 s.
* Reconnection uses exponential backoff with jitter; after each reconnect every
  subscription is sent again and, because the venue sends no snapshot of orders on
  resubscription, ``backfill`` (REST: position + open orders, recent fills) is awaited and
  its events are emitted. Each (re)connection and loss is reported as a
  :class:`~mmkit.core.events.FeedStatus` (``gap=True`` after a loss).
* Own fills are de-duplicated by trade id (userFills snapshot, ``user`` channel and REST
  backfill overlap) and fills older than ``fills_since_ns`` are ignored, so no fill is ever
  counted twice nor dropped.
* An unreadable frame is counted (:attr:`HyperliquidStream.bad_frames`) and never ends the
  stream. On a market channel (``l2Book``, ``trades``, ``bbo``) it is skipped: the next book
  snapshot replaces whatever it carried (``on_bad_frame`` is told, so the venue can hold
  quoting until then). Anything else (it may have carried a fill or an order update) drops
  the connection and resyncs (reconnect, resubscribe, backfill) instead of losing data. A
  failed backfill or an unexpected exception while reading also reconnects.
* Only a rejected subscription (``channel: "error"``) is fatal: :class:`SubscriptionRejected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from mmkit.core.events import (
    Event,
    FeedStatus,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
)
from mmkit.core.types import Side
from mmkit.errors import VenueError
from mmkit.venues.hyperliquid.stream import Subscription, WsMessage, parse_ws_text

Backfill = Callable[[], Awaitable[list[Event]]]

log = logging.getLogger("mmkit.venues.hyperliquid.ws")

PING = json.dumps({"method": "ping"})
#: channels whose loss is healed by the next book snapshot: an unreadable frame on them is
#: skipped, not resynced
MARKET_CHANNELS = frozenset({"l2Book", "trades", "bbo", "allMids"})
#: the channel name near the start of a frame, read without parsing the (bad) frame
_CHANNEL = re.compile(r'"channel"\s*:\s*"([A-Za-z0-9_]{1,40})"')
#: called with (channel or "?", what was wrong, whether the frame was skipped)
BadFrameHook = Callable[[str, str, bool], None]
#: how long closing a (possibly stalled) connection may wait for the close handshake
CLOSE_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class StreamSettings:
    ping_interval_s: float = 50.0
    pong_timeout_s: float = 2.0
    idle_ping_s: float = 2.0  # also ping after this long without any frame (faster stall check)
    open_timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: float = 0.5  # each delay is multiplied by a uniform factor in [1 - j, 1 + j]


class _FillFilter:
    """Remembers the trade ids seen (bounded) and the start time."""

    def __init__(
        self, since_ns: int, capacity: int = 100_000, known_tids: Iterable[int] = ()
    ) -> None:
        self.since_ns = since_ns
        self.last_ns = since_ns  # time of the newest fill admitted (or the start)
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._capacity = capacity
        for tid in known_tids:  # fills a previous run already journaled
            self._seen.add(tid)
            self._order.append(tid)

    def admit(self, fill: OwnFill) -> bool:
        if fill.ts < self.since_ns or fill.tid in self._seen:
            return False
        self.last_ns = max(self.last_ns, fill.ts)
        self._seen.add(fill.tid)
        self._order.append(fill.tid)
        if len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        return True


class HyperliquidStream:
    """Async iterator of mmkit events from one WebSocket connection (reopened as needed)."""

    def __init__(
        self,
        ws_url: str,
        coin: str,
        subscriptions: Sequence[Subscription],
        *,
        backfill: Backfill | None = None,
        settings: StreamSettings | None = None,
        rng: random.Random | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        fills_since_ns: int | None = None,
        known_fill_tids: Iterable[int] = (),
        stream_name: str = "hyperliquid",
        on_bad_frame: BadFrameHook | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.coin = coin
        self.subscriptions = list(subscriptions)
        self.backfill = backfill
        self.settings = settings or StreamSettings()
        self._rng = rng or random.Random()
        self._clock_ns = clock_ns
        self._fills = _FillFilter(
            clock_ns() if fills_since_ns is None else fills_since_ns, known_tids=known_fill_tids
        )
        self._orders: dict[int, OrderUpdate] = {}
        self.name = stream_name
        self.connects = 0
        self.disconnects = 0
        #: unreadable frames: all of them, and those on market channels that were skipped
        self.bad_frames = 0
        #: the kind of the latest loss (a health ``Fault`` value: transport, timeout,
        #: server, stall, bad_frame, ...), set before the disconnect status is yielded
        self.last_fault = "transport"
        self.skipped_frames = 0
        self.on_bad_frame = on_bad_frame
        self._closed = False
        self._ws: ClientConnection | None = None

    # ---------------------------------------------------------------- helpers

    def backoff_delay(self, attempt: int) -> float:
        s = self.settings
        base = min(s.backoff_max_s, s.backoff_initial_s * (2.0 ** max(0, attempt)))
        return float(base * self._rng.uniform(1.0 - s.jitter, 1.0 + s.jitter))

    def _status(self, connected: bool, gap: bool, detail: str) -> FeedStatus:
        now = self._clock_ns()
        return FeedStatus(now, self.name, connected=connected, gap=gap, detail=detail, local_ts=now)

    def _track_order(self, upd: OrderUpdate) -> None:
        if upd.status is OrderStatus.OPEN:
            self._orders[upd.oid] = upd
        else:
            self._orders.pop(upd.oid, None)

    def _filter(self, events: Sequence[Event]) -> list[Event]:
        out: list[Event] = []
        for ev in events:
            if isinstance(ev, OwnFill):
                if not self._fills.admit(ev):
                    continue
            elif isinstance(ev, OrderUpdate):
                self._track_order(ev)
            elif isinstance(ev, PositionSnapshot) and ev.open_orders is not None:
                self._orders = {
                    o.oid: OrderUpdate(
                        ev.ts,
                        o.oid,
                        o.cloid,
                        OrderStatus.OPEN,
                        o.side,
                        o.px,
                        o.sz,
                        o.orig_sz,
                        local_ts=ev.local_ts,
                        raw_status="open",
                    )
                    for o in ev.open_orders
                }
            out.append(ev)
        return out

    def _non_user_cancels(self, oids: Sequence[int]) -> list[Event]:
        now = self._clock_ns()
        out: list[Event] = []
        for oid in oids:
            known = self._orders.pop(oid, None)
            side = known.side if known else Side.BUY
            out.append(
                OrderUpdate(
                    now,
                    oid,
                    known.cloid if known else None,
                    OrderStatus.OTHER_CANCELED,
                    side,
                    known.px if known else 0.0,
                    0.0,
                    known.orig_sz if known else 0.0,
                    local_ts=now,
                    raw_status="nonUserCancel",
                )
            )
        return out

    @property
    def fills_cursor_ns(self) -> int:
        """Where a fills backfill should start: the newest fill seen (or the start time)."""
        return self._fills.last_ns

    # ---------------------------------------------------------------- main loop

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def events(self) -> AsyncGenerator[Event, None]:
        attempt = 0
        while not self._closed:
            try:
                ws = await connect(
                    self.ws_url,
                    ping_interval=None,
                    max_size=2**24,
                    open_timeout=self.settings.open_timeout_s,
                    close_timeout=CLOSE_TIMEOUT_S,
                )
            except Exception as exc:  # refused, timed out, HTTP 5xx on the upgrade, ...
                delay = self.backoff_delay(attempt)
                attempt += 1
                self.last_fault = _connect_fault(exc)
                yield self._status(
                    False,
                    self.connects > 0,
                    f"connect failed ({type(exc).__name__}); retry in {delay:.2f} s",
                )
                await asyncio.sleep(delay)
                continue
            self._ws = ws
            reconnect = self.connects > 0
            self.connects += 1
            got_frame = False
            try:
                for sub in self.subscriptions:
                    await ws.send(sub.message())
                yield self._status(
                    True, reconnect, "reconnected, resubscribed" if reconnect else "connected"
                )
                if reconnect and self.backfill is not None:
                    try:
                        backfilled = await self.backfill()
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # retried by reconnecting (after backoff)
                        kind = getattr(exc, "kind", "bad_reply")
                        raise _Reconnect(f"backfill failed: {_describe(exc)}", kind) from None
                    for ev in self._filter(backfilled):
                        yield ev
                async for ev in self._read(ws):
                    got_frame = True
                    yield ev
                reason = "closed by server"
                self.last_fault = "transport"
            except ConnectionClosed as exc:
                reason = f"connection lost ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
                self.last_fault = "transport"
            except _Reconnect as exc:
                reason = str(exc)
                self.last_fault = exc.kind
            except (SubscriptionRejected, asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # a bug or an unforeseen failure: reconnect, never die
                log.exception("hyperliquid websocket: unexpected error; reconnecting")
                reason = f"unexpected error ({_describe(exc)})"
                self.last_fault = "unexpected"
            finally:
                self._ws = None
                with contextlib.suppress(Exception):
                    await ws.close()
            if self._closed:
                break
            self.disconnects += 1
            if got_frame:
                attempt = 0
            delay = self.backoff_delay(attempt)
            attempt += 1
            yield self._status(False, True, f"{reason}; reconnect in {delay:.2f} s")
            await asyncio.sleep(delay)

    async def _read(self, ws: ClientConnection) -> AsyncIterator[Event]:
        s = self.settings
        loop = asyncio.get_running_loop()
        last_ping = last_frame = loop.time()
        waiting_since: float | None = None
        while True:
            now = loop.time()
            if waiting_since is not None and now - waiting_since >= s.pong_timeout_s:
                raise _Reconnect(
                    f"silent stall: no frame for {s.pong_timeout_s:.1f} s after a ping", "stall"
                )
            idle = waiting_since is None and now - last_frame >= s.idle_ping_s
            if now - last_ping >= s.ping_interval_s or idle:
                await ws.send(PING)
                last_ping = now
                if waiting_since is None:
                    waiting_since = now
            deadline = last_ping + s.ping_interval_s
            if waiting_since is not None:
                deadline = min(deadline, waiting_since + s.pong_timeout_s)
            else:
                deadline = min(deadline, last_frame + s.idle_ping_s)
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=max(0.0, deadline - now))
            except TimeoutError:
                continue
            waiting_since = None
            last_frame = loop.time()
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            try:
                msg: WsMessage = parse_ws_text(text, self.coin, self._clock_ns())
            except Exception as exc:  # ReplyError, and whatever a hostile frame provokes
                self._bad_frame(text, exc)  # raises _Reconnect unless it can be skipped
                continue
            if msg.error is not None:
                raise SubscriptionRejected(
                    f"Hyperliquid websocket: the venue refused a request: {msg.error}"
                )
            if msg.non_user_cancels:
                for ev in self._non_user_cancels(msg.non_user_cancels):
                    yield ev
            for ev in self._filter(msg.events):
                yield ev

    def _bad_frame(self, text: str, exc: Exception) -> None:
        """Count an unreadable frame; skip it on a market channel, else resync."""
        self.bad_frames += 1
        found = _CHANNEL.search(text[:200])
        channel = found.group(1) if found else "?"
        what = _describe(exc)
        skip = channel in MARKET_CHANNELS
        if skip:
            self.skipped_frames += 1
        if self.on_bad_frame is not None:
            self.on_bad_frame(channel, what, skip)
        if not skip:
            # it may have carried a fill or an order update: resync (reconnect,
            # resubscribe, backfill) rather than lose it
            raise _Reconnect(
                f"unreadable frame on channel {channel} ({what}); resyncing", "bad_frame"
            )


def _describe(exc: BaseException) -> str:
    """``Type: message``, bounded (a hostile frame may produce a huge message)."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


class SubscriptionRejected(VenueError):
    """The venue refused a subscription (``channel: "error"``): the only fatal stream error."""


class _Reconnect(Exception):
    """Drop this connection and reconnect (stall, unreadable frame, failed backfill);
    ``kind`` names the fault (a :class:`~mmkit.venues.hyperliquid.health.Fault` value)."""

    def __init__(self, message: str, kind: str = "transport") -> None:
        self.kind = kind
        super().__init__(message)


def _connect_fault(exc: BaseException) -> str:
    """The fault kind of a failed connection attempt (a health ``Fault`` value)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, InvalidStatus):  # the HTTP upgrade was answered 5xx (restarting)
        return "server"
    if isinstance(exc, OSError | WebSocketException):
        return "transport"
    return "unexpected"


__all__ = [
    "MARKET_CHANNELS",
    "Backfill",
    "BadFrameHook",
    "HyperliquidStream",
    "StreamSettings",
    "SubscriptionRejected",
]
