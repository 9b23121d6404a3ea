"""WebSocket ``/ws``: subscriptions, heartbeat, publishing and the connection faults.

Each connection has two outgoing queues: market data, and user messages (``orderUpdates``,
``userFills``, ``user``) which the ``delay_updates`` and ``reorder_updates`` faults hold back
or shuffle. A connection hit by ``stall`` stays open but sends nothing (not even a pong) and
ignores what it receives. A client that sends nothing for ``ws_idle_timeout_s`` (60 s) is
disconnected, like on the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import WSMsgType, web

from mmkit import safejson
from mmkit.venues.emulator.accounts import UserMessage
from mmkit.venues.emulator.faults import FaultState
from mmkit.venues.emulator.rows import Json

GREETING = "Websocket connection established."
COIN_SUBS = frozenset({"l2Book", "trades", "bbo", "activeAssetCtx"})
USER_SUBS = frozenset({"orderUpdates", "userFills", "userEvents", "notification"})
#: post requests over the socket: (request type, payload, client ip) -> (status, payload)
PostHandler = Callable[[str, Any, str], Awaitable[tuple[int, Any]]]
SnapshotFn = Callable[[Json], list[Json]]


#: what ``bad_frame`` sends: a frame that is not JSON (a message cut short), then messages of
#: known channels whose fields are broken (a price that is not a number, an overflowing size,
#: a negative time, a level list that is not a list of levels, a tid that is not an integer)
BAD_FRAMES: tuple[str, ...] = (
    '{"channel":"l2Book","data":{"coin":',
    '{"channel":"l2Book","data":{"coin":"BTC","time":"soon",'
    '"levels":[[{"px":"abc","sz":"1e999","n":"x"}],"oops"]}}',
    '{"channel":"trades","data":[{"coin":"BTC","side":"X","px":"1e999","sz":null,'
    '"time":-1,"tid":"t","hash":7}]}',
)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def sub_key(sub: Mapping[str, Any]) -> str:
    return _dumps({k: sub[k] for k in sorted(sub)})


class Conn:
    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, loop_time: Callable[[], float]
    ) -> None:
        self.ws = ws
        self.request = request
        self.ip = request.remote or "?"
        self.subs: dict[str, Json] = {}
        self.muted_until = 0.0
        self._time = loop_time
        self.last_recv = loop_time()
        self.market_q: asyncio.Queue[str] = asyncio.Queue()
        self.user_q: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def muted(self) -> bool:
        return self._time() < self.muted_until

    def wants(self, typ: str, key: str, value: str) -> bool:
        for s in self.subs.values():
            if s.get("type") == typ and str(s.get(key, "")).lower() == value.lower():
                return True
        return False

    async def send_now(self, text: str) -> None:
        if self.muted or self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(text)


class Hub:
    def __init__(
        self,
        coin: str,
        faults: FaultState,
        monotonic: Callable[[], float],
        idle_timeout_s: float,
    ) -> None:
        self.coin = coin
        self.faults = faults
        self.monotonic = monotonic
        self.idle_timeout_s = idle_timeout_s
        self.conns: set[Conn] = set()
        self.post_handler: PostHandler | None = None
        self.on_subscribe: Callable[[Conn, Json], list[Json]] | None = None
        self.on_user: Callable[[str], None] | None = None
        self.connections_total = 0

    # ------------------------------------------------------------------ publishing
    def publish(self, channel: str, data: Any, *, coin: str | None = None) -> None:
        """Market data to every connection subscribed to ``channel`` (for ``coin``)."""
        text: str | None = None
        for c in self.conns:
            if channel == "allMids":
                hit = any(s.get("type") == "allMids" for s in c.subs.values())
            else:
                hit = c.wants(channel, "coin", coin or self.coin)
            if hit:
                text = text or _dumps({"channel": channel, "data": data})
                c.market_q.put_nowait(text)

    def publish_user(self, msgs: list[UserMessage]) -> None:
        if not msgs or not self.conns:
            return
        now = self.monotonic()
        delay = 0.0
        if self.faults.active("delay_updates", now):
            delay = float(self.faults.param("delay_updates", "delay_s"))
        for m in msgs:
            texts: list[tuple[str, str]] = []
            if m.channel == "orderUpdates":
                texts.append(("orderUpdates", _dumps({"channel": "orderUpdates", "data": m.rows})))
            else:
                texts.append(
                    (
                        "userFills",
                        _dumps({"channel": "userFills", "data": {"user": m.user, "fills": m.rows}}),
                    )
                )
                texts.append(("userEvents", _dumps({"channel": "user", "data": {"fills": m.rows}})))
            for c in self.conns:
                for typ, text in texts:
                    if c.wants(typ, "user", m.user):
                        c.user_q.put_nowait((now + delay, text))

    # ------------------------------------------------------------------ faults
    async def drop_all(self, *, abrupt: bool = False, code: int = 1001) -> int:
        conns = list(self.conns)
        for c in conns:
            if abrupt and c.request.transport is not None:
                c.request.transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(c.ws.close(code=code, message=b"dropped"), 1.0)
        return len(conns)

    def bad_frame_all(self) -> int:
        """Queue :data:`BAD_FRAMES` (once) on every connection's market-data queue; returns
        how many connections got them. A muted (stalled) connection drops them like any
        other frame."""
        for c in self.conns:
            for text in BAD_FRAMES:
                c.market_q.put_nowait(text)
        return len(self.conns)

    def stall_all(self, duration_s: float) -> int:
        until = self.monotonic() + duration_s
        for c in self.conns:
            c.muted_until = until
        return len(self.conns)

    async def reap_idle(self) -> None:
        now = self.monotonic()
        for c in list(self.conns):
            if now - c.last_recv > self.idle_timeout_s:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(c.ws.close(code=1000, message=b"idle"), 1.0)

    # ------------------------------------------------------------------ connection
    async def _market_writer(self, c: Conn) -> None:
        while True:
            text = await c.market_q.get()
            await c.send_now(text)

    async def _user_writer(self, c: Conn) -> None:
        while True:
            due, text = await c.user_q.get()
            now = self.monotonic()
            if self.faults.active("reorder_updates", now):
                window = float(self.faults.param("reorder_updates", "window_s"))
                batch = [text]
                end = now + window
                while (left := end - self.monotonic()) > 0:
                    try:
                        batch.append((await asyncio.wait_for(c.user_q.get(), left))[1])
                    except TimeoutError:
                        break
                for t in reversed(batch):
                    await c.send_now(t)
                continue
            if due > now:
                await asyncio.sleep(due - now)
            await c.send_now(text)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=2**22)
        await ws.prepare(request)
        c = Conn(ws, request, self.monotonic)
        self.conns.add(c)
        self.connections_total += 1
        c.tasks = [
            asyncio.create_task(self._market_writer(c)),
            asyncio.create_task(self._user_writer(c)),
        ]
        await c.send_now(GREETING)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                c.last_recv = self.monotonic()
                if c.muted:
                    continue
                await self._on_text(c, msg.data)
        finally:
            self.conns.discard(c)
            for t in c.tasks:
                t.cancel()
            for t in c.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        return ws

    async def _error(self, c: Conn, text: str) -> None:
        await c.send_now(_dumps({"channel": "error", "data": text}))

    def _valid(self, sub: object) -> bool:
        if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
            return False
        typ = sub["type"]
        if typ == "allMids":
            return True
        if typ in COIN_SUBS:
            return sub.get("coin") == self.coin
        if typ in USER_SUBS:
            u = sub.get("user")
            return isinstance(u, str) and len(u) == 42 and u.startswith("0x")
        return False

    async def _on_text(self, c: Conn, text: str) -> None:
        try:
            obj = safejson.loads(text)  # JsonRefused is a ValueError
        except ValueError:
            await self._error(c, f"Websocket message could not be parsed: {text[:200]}")
            return
        method = obj.get("method") if isinstance(obj, dict) else None
        if method == "ping":
            await c.send_now(_dumps({"channel": "pong"}))
        elif method in ("subscribe", "unsubscribe"):
            sub = obj.get("subscription")
            if not self._valid(sub):
                await self._error(c, f"Invalid subscription {_dumps(sub)}")
                return
            key = sub_key(sub)
            ack = _dumps(
                {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}
            )
            if method == "unsubscribe":
                c.subs.pop(key, None)
                await c.send_now(ack)
                return
            c.subs[key] = sub
            if "user" in sub and self.on_user is not None:
                self.on_user(sub["user"])
            await c.send_now(ack)
            if self.on_subscribe is not None:
                for first in self.on_subscribe(c, sub):
                    if sub["type"] in USER_SUBS:
                        c.user_q.put_nowait((self.monotonic(), _dumps(first)))
                    else:
                        c.market_q.put_nowait(_dumps(first))
        elif method == "post":
            await self._post(c, obj)
        else:
            await self._error(c, f"Unknown method in websocket message: {text[:200]}")

    async def _post(self, c: Conn, obj: Mapping[str, Any]) -> None:
        rid = obj.get("id")
        req = obj.get("request")
        if (
            self.post_handler is None
            or not isinstance(req, dict)
            or req.get("type") not in ("info", "action")
        ):
            body: Json = {
                "id": rid,
                "response": {"type": "error", "payload": "400 Bad Request: invalid post request"},
            }
            await c.send_now(_dumps({"channel": "post", "data": body}))
            return
        status, payload = await self.post_handler(req["type"], req.get("payload"), c.ip)
        if status != 200:
            resp: Json = {"type": "error", "payload": f"{status} {payload}"}
        elif req["type"] == "info":
            kind = (
                req.get("payload", {}).get("type") if isinstance(req.get("payload"), dict) else None
            )
            resp = {"type": "info", "payload": {"type": kind, "data": payload}}
        else:
            resp = {"type": "action", "payload": payload}
        await c.send_now(_dumps({"channel": "post", "data": {"id": rid, "response": resp}}))


__all__ = ["BAD_FRAMES", "GREETING", "Conn", "Hub", "sub_key"]
