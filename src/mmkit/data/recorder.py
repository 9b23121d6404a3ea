"""``mmkit record``: subscribe to a Hyperliquid-protocol feed and write the event store.

Subscribes to ``l2Book`` and ``trades`` for one coin, pings every ``ping_s`` seconds, and
writes rotating store files ``<out>/<COIN>_<UTC start>.parquet`` (each file appears only
when it is complete: see :class:`~mmkit.data.store.StoreWriter`). A dropped connection is
retried with exponential backoff; the outage is written as a gap record at the disconnect
(``connected=False``) and another when the subscription is back (``connected=True``), so a
replay never bridges it. Works against Hyperliquid or the loopback emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkit import safejson
from mmkit.data.diagnostics import Diagnostics
from mmkit.data.loaders.hyperliquid import HyperliquidLoader
from mmkit.data.schema import GapReason
from mmkit.data.store import StoreWriter
from mmkit.errors import DataError


@dataclass
class RecorderStats:
    messages: int = 0
    books: int = 0
    trades: int = 0
    reconnects: int = 0
    connections: int = 0  # successful connections (0: the source was never reached)
    gaps: int = 0
    files: list[Path] = field(default_factory=list)
    current: str = ""
    last_error: str = ""


class _LiveParser(HyperliquidLoader):
    """The Hyperliquid loader's message handling, fed by the socket instead of a file."""

    def _run(self) -> Any:  # pragma: no cover - never iterated
        return iter(())


class RotatingStore:
    """Writes builder rows to a store file, starting a new file every ``rotate_s``."""

    def __init__(
        self,
        out_dir: Path,
        coin: str,
        rotate_s: float,
        parser: _LiveParser,
        stats: RecorderStats,
        url: str,
    ) -> None:
        self.url = url
        self.out_dir = out_dir
        self.coin = coin
        self.rotate_ns = int(rotate_s * 1e9)
        self.parser = parser
        self.stats = stats
        self._writer: StoreWriter | None = None
        self._opened_ns = 0

    def flush(self, now_ns: int) -> None:
        if len(self.parser.out):
            if self._writer is None:
                self._open(now_ns)
            assert self._writer is not None
            self._writer.write(self.parser.out.take())
        if self._writer is not None and now_ns - self._opened_ns >= self.rotate_ns:
            self.close(now_ns)

    def _open(self, now_ns: int) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ns / 1e9))
        path = self.out_dir / f"{self.coin}_{stamp}_{now_ns % 1_000_000_000:09d}.parquet"
        self._writer = StoreWriter(path).__enter__()
        self._opened_ns = now_ns
        self.stats.current = path.name

    def close(self, now_ns: int) -> None:
        if self._writer is None and len(self.parser.out):
            self._open(now_ns)
        if self._writer is None:
            return
        w, self._writer = self._writer, None
        if len(self.parser.out):
            w.write(self.parser.out.take())
        w.meta = self.parser.meta()
        w.meta.source = f"record:{self.url}"
        w.commit()
        self.stats.files.append(w.path)
        self.stats.current = ""

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None


class Recorder:
    def __init__(
        self,
        url: str,
        coin: str,
        out_dir: str | Path,
        *,
        rotate_s: float = 3600.0,
        ping_s: float = 50.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        duration_s: float | None = None,
        max_messages: int | None = None,
        tick: float | None = None,
        lot: float | None = None,
        flush_s: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
        on_progress: Callable[[RecorderStats], None] | None = None,
    ) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise DataError(f"record: --url must be a ws:// or wss:// URL, got {url!r}")
        self.url = url
        self.coin = coin
        self.out_dir = Path(out_dir)
        self.ping_s = ping_s
        self.flush_ns = int(flush_s * 1e9)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.duration_s = duration_s
        self.max_messages = max_messages
        self.clock = clock
        self.on_progress = on_progress
        self.stats = RecorderStats()
        self.parser = _LiveParser([url], diag=Diagnostics(), coin=coin, tick=tick, lot=lot)
        self.store = RotatingStore(self.out_dir, coin, rotate_s, self.parser, self.stats, url)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def _done(self, started: float) -> bool:
        if self._stop.is_set():
            return True
        if self.max_messages is not None and self.stats.messages >= self.max_messages:
            return True
        return self.duration_s is not None and time.monotonic() - started >= self.duration_s

    def _gap(self, reason: GapReason, connected: bool) -> None:
        now = self.clock()
        self.parser.out.add_gap(max(self.parser.last_ts, 0), now, reason, connected=connected)
        self.stats.gaps += 1

    async def run(self) -> RecorderStats:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        self.out_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        backoff = self.backoff_s
        first = True
        try:
            while not self._done(started):
                try:
                    async with connect(
                        self.url, open_timeout=10, ping_interval=None, max_size=2**24
                    ) as ws:
                        for sub in (
                            {"type": "l2Book", "coin": self.coin},
                            {"type": "trades", "coin": self.coin},
                        ):
                            await ws.send(json.dumps({"method": "subscribe", "subscription": sub}))
                        self.stats.connections += 1
                        if not first:
                            self._gap(GapReason.RESUBSCRIBED, connected=True)
                        first = False
                        backoff = self.backoff_s
                        await self._session(ws, started)
                        if self._done(started):
                            break
                        raise ConnectionError("server closed the connection")
                except (OSError, WebSocketException, ConnectionError, TimeoutError) as exc:
                    if self._done(started):
                        break
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    if not first:
                        self._gap(GapReason.DISCONNECT, connected=False)
                    self.stats.reconnects += 1
                    self._progress()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                    backoff = min(backoff * 2.0, self.max_backoff_s)
            self.store.close(self.clock())
        except BaseException:
            if len(self.parser.out):
                self.store.close(self.clock())
            else:
                self.store.abort()
            raise
        return self.stats

    async def _session(self, ws: Any, started: float) -> None:
        last_ping = time.monotonic()
        last_flush = self.clock()
        while not self._done(started):
            if time.monotonic() - last_ping >= self.ping_s:
                await ws.send(json.dumps({"method": "ping"}))
                last_ping = time.monotonic()
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=min(1.0, self.ping_s))
            except TimeoutError:
                raw = None
            now = self.clock()
            if raw is not None:
                self._on_raw(raw, now)
            if raw is None or now - last_flush >= self.flush_ns:
                self.store.flush(now)
                last_flush = now
                self._progress()

    def _on_raw(self, raw: str | bytes, now: int) -> None:
        self.stats.messages += 1
        where_line = self.stats.messages
        try:
            obj = safejson.loads(raw)  # 64-bit ints, finite numbers, bounded depth
        except ValueError as exc:  # not JSON, or refused (deep, huge ints, NaN)
            if raw != "Websocket connection established.":
                self.parser.diag.issue("malformed", f"{self.url}:msg{where_line}", str(exc)[:200])
            return
        channel = obj.get("channel") if isinstance(obj, dict) else None
        if channel == "l2Book":
            self.stats.books += 1
        elif channel == "trades" and isinstance(obj.get("data"), list):
            self.stats.trades += len(obj["data"])
        elif channel == "error":
            raise DataError(f"{self.url}: subscription rejected: {obj.get('data')!r}")
        self.parser.check_local(self.url, where_line, now)
        self.parser.on_message(self.url, where_line, now, obj)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)
