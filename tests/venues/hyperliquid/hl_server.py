"""A tiny scripted Hyperliquid server on 127.0.0.1 (random port) for integration tests.

/info answers canned replies by request type; /exchange verifies the signature (with
mmkit's ``recover_signer``) and answers the next scripted reply; /ws acknowledges
subscriptions, answers pings (unless muted), pushes what the test queues, and can drop the
connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from tests.venues.hyperliquid.hl_canned import (
    CLEARINGHOUSE,
    L2BOOK,
    META,
    OPEN_ORDERS,
    ORDER_STATUS,
    RATE_LIMIT,
)

from mmkit.venues.hyperliquid.signing import recover_signer


@dataclass
class Scripted:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class FakeHyperliquid:
    def __init__(self) -> None:
        self.info_requests: list[dict[str, Any]] = []
        self.exchange_requests: list[dict[str, Any]] = []
        self.signers: list[str] = []
        self.script: list[Scripted] = []
        self.info_replies: dict[str, Callable[[dict[str, Any]], Any]] = {
            "meta": lambda b: META,
            "spotMeta": lambda b: {"universe": [], "tokens": []},
            "l2Book": lambda b: L2BOOK,
            "clearinghouseState": lambda b: CLEARINGHOUSE,
            "openOrders": lambda b: OPEN_ORDERS,
            "userFills": lambda b: self.fills[-2000:],
            "userFillsByTime": self._fills_by_time,
            "orderStatus": lambda b: ORDER_STATUS,
            "userRateLimit": lambda b: RATE_LIMIT,
        }
        self.fills: list[dict[str, Any]] = []
        self.fills_page = 2000
        self.ws_subscriptions: list[list[dict[str, Any]]] = []
        self.ws_outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.ws_connections = 0
        self.pings = 0
        self.mute = False  # connected but silent: no acks, no pongs, nothing pushed
        self.on_subscribed: Callable[[int], list[Any]] = lambda n: []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/info", self._info)
        app.router.add_post("/exchange", self._exchange)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        # the port the OS chose for port 0: the runner lists (host, port) of every bound socket
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _fills_by_time(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows = sorted(
            (f for f in self.fills if f["time"] >= body["startTime"]), key=lambda f: f["time"]
        )
        return rows[: self.fills_page]

    async def _info(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.info_requests.append(body)
        return web.json_response(self.info_replies[body["type"]](body))

    async def _exchange(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.exchange_requests.append(body)
        self.signers.append(
            recover_signer(
                body["action"],
                body["nonce"],
                body["vaultAddress"],
                body["expiresAfter"],
                body["signature"],
                False,
            )
        )
        s = (
            self.script.pop(0)
            if self.script
            else Scripted(body={"status": "ok", "response": {"type": "default"}})
        )
        if s.delay_s:
            await asyncio.sleep(s.delay_s)
        if isinstance(s.body, str):
            return web.Response(status=s.status, text=s.body, headers=s.headers)
        return web.json_response(s.body, status=s.status, headers=s.headers)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.ws_connections += 1
        conn = self.ws_connections
        subs: list[dict[str, Any]] = []
        self.ws_subscriptions.append(subs)
        await ws.send_str("Websocket connection established.")
        pusher = asyncio.create_task(self._push(ws, conn))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if self.mute:
                    continue
                if data.get("method") == "ping":
                    self.pings += 1
                    await ws.send_json({"channel": "pong"})
                elif data.get("method") == "subscribe":
                    subs.append(data["subscription"])
                    await ws.send_json({"channel": "subscriptionResponse", "data": data})
                    if len(subs) == 6:
                        for m in self.on_subscribed(conn):
                            await ws.send_json(m)
        finally:
            pusher.cancel()
        return ws

    async def _push(self, ws: web.WebSocketResponse, conn: int) -> None:
        while not ws.closed:
            item = await self.ws_outbox.get()
            if item == "drop":
                await ws.close()
                return
            await ws.send_json(item)
