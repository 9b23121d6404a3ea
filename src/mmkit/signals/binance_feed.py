"""The Binance leader feed: websockets client for the combined-stream format, and capture
replay, both delivering the leader's events to a :class:`~mmkit.signals.leader.LeaderChannel`.

Parsing is the capture loader's (:class:`mmkit.data.loaders.binance.BinanceLoader`): each
websocket message ``{"stream": "<sym>@bookTicker|@trade|@depth..", "data": {...}}`` goes
through the loader's dispatcher exactly like a capture line, and the resulting store rows
become events with :func:`mmkit.data.adapter.events_of_chunk` under the stream prefix
(``"leader:binance:"`` by default: ``leader:binance:bbo``, ``leader:binance:trades``, ...).

A dropped connection is retried with exponential backoff; the outage is pushed to the channel
as a disconnect, which gates the lead-lag signal off at once (it would also go stale after
``stale_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mmkit import safejson
from mmkit.core.events import Event, FeedStatus
from mmkit.data.adapter import events_from_chunks, events_of_chunk
from mmkit.data.diagnostics import Diagnostics
from mmkit.data.loaders.binance import BinanceLoader
from mmkit.errors import ConfigError, DataError
from mmkit.registry import BuildContext
from mmkit.signals.leader import LeaderChannel, channel
from mmkit.signals.params import BinanceFeedParams

log = logging.getLogger(__name__)


class BinanceMessageParser(BinanceLoader):
    """The Binance capture loader's message handling, fed one websocket message at a time."""

    def __init__(self, source: str, prefix: str) -> None:
        super().__init__([source], diag=Diagnostics())
        self.source = source
        self.prefix = prefix
        self.messages = 0

    def _run(self) -> Iterator[None]:  # pragma: no cover - never iterated
        return iter(())

    def parse(self, raw: str | bytes, local_ns: int) -> list[Event]:
        """Events of one raw message (malformed input is counted in ``diag``, never raised)."""
        self.messages += 1
        where = f"{self.source}:msg{self.messages}"
        try:
            obj = safejson.loads(raw)  # JsonRefused is a ValueError
        except ValueError:
            self.diag.issue("malformed", where, "not JSON")
            return []
        try:
            self._dispatch(Path(self.source), self.messages, local_ns, obj)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            self.diag.issue("malformed", where, f"unexpected message shape: {exc}")
            return []
        if not len(self.out):
            return []
        return list(events_of_chunk(self.out.take(), self.prefix))


def stream_url(base: str, symbol: str, streams: list[str]) -> str:
    if not base.startswith(("ws://", "wss://")):
        raise ConfigError([f"binance feed: url must be ws:// or wss://, got {base!r}"])
    names = "/".join(f"{symbol.lower()}@{s}" for s in streams)
    return f"{base}?streams={names}"


class BinanceLeaderFeed:
    """Leader events from Binance: live (:meth:`run`) or replayed captures (:meth:`events`)."""

    def __init__(
        self,
        params: BinanceFeedParams,
        ch: LeaderChannel | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.params = params
        self.channel = ch if ch is not None else channel(params.channel)
        self.clock = clock
        self.url = stream_url(params.url, params.symbol, list(params.streams))
        self.parser = BinanceMessageParser(self.url, params.prefix)
        self.reconnects = 0
        self.received = 0
        self.last_error = ""
        self._stop = asyncio.Event()

    # -- replay ---------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Prefixed events of the capture files in ``paths`` (empty when none are given)."""
        paths = [Path(p) for p in self.params.paths]
        if not paths:
            return iter(())
        for p in paths:
            if not p.exists():
                raise DataError(f"binance leader capture {p} does not exist")
        loader = BinanceLoader(paths, diag=Diagnostics())
        return events_from_chunks(loader.chunks(), self.params.prefix)

    def fill_channel(self) -> int:
        """Push every replayed event into the channel (arrival = its local time)."""
        n = 0
        for ev in self.events():
            arrival = ev.local_ts if ev.local_ts >= 0 else ev.ts
            self.channel.push_event(ev, arrival)
            n += 1
        return n

    # -- live -----------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def _disconnected(self, why: str) -> None:
        now = self.clock()
        self.channel.push_event(
            FeedStatus(now, self.params.prefix + "bbo", connected=False, detail=why), now
        )

    async def run(self, max_messages: int | None = None) -> None:
        """Receive until :meth:`stop` (or ``max_messages``), reconnecting with backoff."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        backoff = self.params.backoff_s
        while not self._stop.is_set():
            try:
                async with connect(self.url, open_timeout=10, max_size=2**22) as ws:
                    backoff = self.params.backoff_s
                    log.info("binance leader feed connected: %s", self.url)
                    while not self._stop.is_set():
                        if max_messages is not None and self.received >= max_messages:
                            return
                        try:
                            raw = await asyncio.wait_for(ws.recv(), timeout=1.0)
                        except TimeoutError:
                            continue
                        now = self.clock()
                        self.received += 1
                        for ev in self.parser.parse(raw, now):
                            self.channel.push_event(ev, now)
                    return
            except (OSError, WebSocketException, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("binance leader feed down (%s); retry in %.1f s", exc, backoff)
                self._disconnected(self.last_error)
                self.reconnects += 1
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2.0, self.params.max_backoff_s)


def build(ctx: BuildContext[BinanceFeedParams]) -> BinanceLeaderFeed:
    return BinanceLeaderFeed(ctx.params)
