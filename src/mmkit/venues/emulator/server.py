"""The emulator's aiohttp application: routes, fault middleware, control endpoint, lifecycle.

Use it in-process (tests, benchmarks)::

    async with Emulator(EmulatorConfig(accounts=("0x…",))) as emu:
        url = emu.url          # http://127.0.0.1:<port>; the WebSocket is url + "/ws"

or from a synchronous program (the official SDK) with
:class:`~mmkit.venues.emulator.thread.EmulatorThread`, or from the command line with
``mmkit venue emulate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from aiohttp import web

from mmkit import safejson
from mmkit.core.events import BookSnapshot, Event, Trade
from mmkit.errors import ConfigError, PortError
from mmkit.venues.emulator.accounts import AccountBook, UserMessage
from mmkit.venues.emulator.clock import Clock
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.exchange import ExchangeHandler, Reply
from mmkit.venues.emulator.faults import FaultState, Step, check_fault, load_scenario
from mmkit.venues.emulator.hub import Conn, Hub
from mmkit.venues.emulator.info import InfoHandler
from mmkit.venues.emulator.limits import IpLimiter
from mmkit.venues.emulator.market import MarketDriver
from mmkit.venues.emulator.rows import Json, bbo, l2_book, num
from mmkit.venues.emulator.schema import SchemaError
from mmkit.venues.hyperliquid.errors import MESSAGES

log = logging.getLogger("mmkit.emulator")
HOUSEKEEPING_S = 0.25
_DUMMY_USERS = ["0x" + "1" * 40, "0x" + "2" * 40]
#: the order-arrival log keeps this many newest /exchange requests (bounded memory)
ARRIVAL_LOG_MAX = 200_000
#: where a request carries its arrival-log entry from the middleware to the handler
_ARRIVAL: web.RequestKey[dict[str, Any]] = web.RequestKey("arrival", dict)


def _count(action: Any, key: str) -> int:
    v = action.get(key) if isinstance(action, dict) else None
    return len(v) if isinstance(v, list) else 0


#: how many targets of one batch the log keeps (the venue's batch weight limit is far below)
ARRIVAL_TARGETS_MAX = 1000


def _targets(action: Any) -> list[int | str]:
    """The orders a modify/batchModify/cancel/cancelByCloid action names: oids (int) or cloids
    (str), in batch order; malformed entries are skipped (the log takes any body)."""
    if not isinstance(action, dict):
        return []
    kind = action.get("type")
    if kind == "modify":
        raw: list[Any] = [action.get("oid")]
    elif kind == "batchModify":
        mods = action.get("modifies")
        raw = [m.get("oid") for m in mods if isinstance(m, dict)] if isinstance(mods, list) else []
    elif kind in ("cancel", "cancelByCloid"):
        key = "o" if kind == "cancel" else "cloid"
        cs = action.get("cancels")
        raw = [c.get(key) for c in cs if isinstance(c, dict)] if isinstance(cs, list) else []
    else:
        return []
    out: list[int | str] = []
    for t in raw[:ARRIVAL_TARGETS_MAX]:
        if isinstance(t, int) and not isinstance(t, bool):
            out.append(t)
        elif isinstance(t, str) and len(t) <= 66:
            out.append(t.lower())
    return out


def arrival_of(body: Any, via: str, t_s: float, wall_ms: int) -> Json:
    """One entry of the order-arrival log from an /exchange body as received (any shape).

    ``t_s``: emulator monotonic seconds since start; ``wall_ms``: emulator wall clock (ms).
    ``nonce`` is the client's signing time in wall-clock ms (the venue's nonce rule), so it
    tells *when the client decided* to send the action, whatever the transport delayed;
    ``None`` when the body has no integer nonce. ``orders``/``modifies``/``cancels`` count
    the entries of the batch; ``targets`` the oids/cloids a modify, batchModify, cancel or
    cancelByCloid names. ``venue_ms``/``venue_done_ms`` are filled in when the exchange applies
    the request: the emulator clock (ms) just before and just after it did (None: never
    applied). That clock is the venue time base: market events are re-stamped to it, so fills'
    ``time`` and orders' ``timestamp`` are on it, and an order created by this request has a
    ``timestamp`` in [venue_ms, venue_done_ms] (the exchange runs synchronously)."""
    action = body.get("action") if isinstance(body, dict) else None
    nonce = body.get("nonce") if isinstance(body, dict) else None
    kind = action.get("type") if isinstance(action, dict) else None
    modifies = _count(action, "modifies") + (1 if kind == "modify" else 0)
    return {
        "t_s": round(t_s, 6),
        "wall_ms": wall_ms,
        "via": via,
        "type": kind if isinstance(kind, str) else None,
        "orders": _count(action, "orders"),
        "modifies": modifies,
        "cancels": _count(action, "cancels"),
        "targets": _targets(action),
        "nonce": nonce if isinstance(nonce, int) and not isinstance(nonce, bool) else None,
        "signer": None,
        "handled": False,
        "status": None,
        "venue_ms": None,
        "venue_done_ms": None,
    }


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("emulator task %s stopped: %r", task.get_coro(), task.exception())


def _json_response(reply: Reply) -> web.Response:
    if reply.is_json:
        return web.Response(
            status=reply.status,
            text=json.dumps(reply.payload, separators=(",", ":")),
            content_type="application/json",
            headers=reply.headers,
        )
    return web.Response(status=reply.status, text=str(reply.payload), headers=reply.headers)


class Emulator:
    """The loopback Hyperliquid venue."""

    def __init__(
        self, cfg: EmulatorConfig | None = None, *, scenario: list[Step] | None = None
    ) -> None:
        self.cfg = cfg = cfg or EmulatorConfig()
        self.clock = Clock()
        self.monotonic: Callable[[], float] = time.monotonic
        self.faults = FaultState()
        self.market = MarketDriver(cfg, self.clock)
        self.instrument = self.market.instrument
        self.book = AccountBook(cfg, self.instrument)
        self.book.book_source = lambda: self.market.book
        self.ip_limits = IpLimiter(cfg.ip_weight_per_min)
        self.hub = Hub(cfg.coin, self.faults, self.monotonic, cfg.ws_idle_timeout_s)
        self.exchange = ExchangeHandler(
            cfg,
            self.book,
            self.clock,
            self.faults,
            self.ip_limits,
            self.publish_user,
            lambda: self.market.mid,
            self.monotonic,
        )
        self.info = InfoHandler(
            cfg,
            self.book,
            self.clock,
            self.ip_limits,
            self.published_book,
            lambda: self.market.mid,
            lambda: self.market.volume_usd,
            self.monotonic,
        )
        self.hub.post_handler = self._ws_post
        self.hub.on_subscribe = self._first_messages
        self.hub.on_user = self.book.note_seen
        self.market.listeners.append(self._on_market)
        self.steps = (
            scenario
            if scenario is not None
            else (load_scenario(cfg.scenario) if cfg.scenario else [])
        )
        self.down_until = 0.0
        self._frozen: BookSnapshot | None = None
        self._last_pub_book: str = ""
        self._last_pub_bbo: str = ""
        self._tid = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.started_at = 0.0
        self.requests = 0
        #: every /exchange request as it arrived (REST and WebSocket ``post``), newest last
        self.arrivals: deque[Json] = deque(maxlen=ARRIVAL_LOG_MAX)
        self.arrivals_total = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host = self.cfg.host if ":" not in self.cfg.host else f"[{self.cfg.host}]"
        return f"http://{host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/info", self._info)
        app.router.add_post("/exchange", self._exchange)
        app.router.add_get("/ws", self._ws)
        app.router.add_post("/_control", self._control)
        return app

    async def start(self) -> None:
        self.market.prime()
        self.book.warm_up()  # compile matching kernels now, not inside the event loop later
        self._runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.host, self.cfg.port)
        try:
            await site.start()
        except OSError as exc:  # the port is taken (or not ours to bind)
            await self._runner.cleanup()
            self._runner = None
            raise PortError("--port", self.cfg.port, self.cfg.host, exc) from None
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.cfg.port
        self.started_at = self.monotonic()
        self._tasks = [
            asyncio.create_task(self.market.run()),
            asyncio.create_task(self._publisher()),
            asyncio.create_task(self._housekeeping()),
        ]
        if self.steps:
            self._tasks.append(asyncio.create_task(self._scenario(self.steps)))
        for t in self._tasks:
            t.add_done_callback(_report_failure)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        await self.hub.drop_all(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        await self.start()
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await self.stop()

    # ------------------------------------------------------------------ market -> clients
    def _on_market(self, ev: Event) -> None:
        self.publish_user(self.book.on_market(ev))
        if isinstance(ev, Trade):
            self._tid += 1
            row = {
                "coin": self.cfg.coin,
                "side": ev.side.wire,
                "px": num(ev.px),
                "sz": num(ev.sz),
                "hash": f"0x{self._tid:064x}",
                "time": ev.ts // 1_000_000,
                "tid": self._tid,
                "users": _DUMMY_USERS,
            }
            self.hub.publish("trades", [row])

    def publish_user(self, msgs: list[UserMessage]) -> None:
        self.hub.publish_user(msgs)

    def published_book(self) -> BookSnapshot | None:
        """The book clients see: frozen while ``stale_book``, crossed while ``crossed_book``."""
        now = self.monotonic()
        if self.faults.active("stale_book", now):
            if self._frozen is None:
                self._frozen = self.market.book
            return self._frozen
        self._frozen = None
        book = self.market.book
        crossed = book is not None and self.faults.active("crossed_book", now)
        if crossed and book is not None and len(book.bid_px) and len(book.ask_px):
            shift = float(book.ask_px[0] - book.bid_px[0]) + 2 * self.instrument.tick
            bids = np.asarray(book.bid_px) + shift
            return BookSnapshot(book.ts, bids, book.bid_sz, book.ask_px, book.ask_sz)
        return book

    async def _publisher(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.book_interval_s)
            book = self.published_book()
            now_ms = self.clock.now_ms()
            body = l2_book(self.cfg.coin, book, now_ms)
            key = json.dumps(body["levels"])
            if key != self._last_pub_book:
                self._last_pub_book = key
                self.hub.publish("l2Book", body)
                top = bbo(self.cfg.coin, book, now_ms)
                bkey = json.dumps(top["bbo"])
                if bkey != self._last_pub_bbo:
                    self._last_pub_bbo = bkey
                    self.hub.publish("bbo", top)
                mid = self.market.mid
                if math.isfinite(mid):
                    self.hub.publish("allMids", {"mids": {self.cfg.coin: num(mid)}})

    def _first_messages(self, conn: Conn, sub: Json) -> list[Json]:
        typ = sub["type"]
        now_ms = self.clock.now_ms()
        if typ == "l2Book":
            return [
                {"channel": "l2Book", "data": l2_book(self.cfg.coin, self.published_book(), now_ms)}
            ]
        if typ == "userFills":
            acct = self.book.get(sub["user"])
            fills = list(acct.fills)[-2000:] if acct is not None else []
            data = {"isSnapshot": True, "user": sub["user"].lower(), "fills": fills}
            return [{"channel": "userFills", "data": data}]
        return []

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            self.exchange.fire_scheduled_cancels()
            await self.hub.reap_idle()

    # ------------------------------------------------------------------ faults
    async def apply(self, name: str, params: dict[str, Any] | None = None) -> Json:
        """Switch a fault on now (parameters checked); returns what it did."""
        p = check_fault(name, params or {}, "control")
        now = self.monotonic()
        self.faults.arm(name, p, now)
        done: Json = {"fault": name, "params": p}
        if name == "ws_drop":
            done["dropped"] = await self.hub.drop_all(abrupt=bool(p["abrupt"]))
        elif name == "stall":
            done["stalled"] = self.hub.stall_all(float(p["duration"]))
        elif name == "restart":
            self.down_until = now + float(p["down_s"])
            done["dropped"] = await self.hub.drop_all(code=1012)
        elif name == "bad_frame":
            done["sent_to"] = self.hub.bad_frame_all()
        return done

    def _arrive(self, body: Any, via: str) -> Json:
        entry = arrival_of(body, via, self.monotonic() - self.started_at, self.clock.now_ms())
        self.arrivals_total += 1
        entry["seq"] = self.arrivals_total
        self.arrivals.append(entry)
        return entry

    def arrival_log(self, since: int = 0) -> list[Json]:
        """Entries of the order-arrival log with ``seq`` > ``since`` (oldest first)."""
        return [dict(e) for e in self.arrivals if int(e["seq"]) > since]

    async def _scenario(self, steps: list[Step]) -> None:
        for step in steps:
            delay = self.started_at + step.at_s - self.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.apply(step.fault, dict(step.params))

    def state(self) -> Json:
        return {
            "url": self.url,
            "faults": self.faults.on(self.monotonic()),
            "connections": len(self.hub.conns),
            "mid": self.market.mid,
            "arrivals": self.arrivals_total,
            "accounts": self.book.summary(),
        }

    # ------------------------------------------------------------------ HTTP
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/_control":
            if not _is_loopback(request.remote):
                return web.Response(status=403, text="control endpoint is loopback only")
            return await handler(request)
        self.requests += 1
        entry: Json | None = None
        if request.path == "/exchange":
            body, _ = await self._body(request)  # the body is cached for the handler
            entry = self._arrive(body, "rest")
            request[_ARRIVAL] = entry
        response = await self._faulty(request, handler)
        if entry is not None:
            entry["status"] = response.status
        return response

    async def _faulty(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """The REST faults in the venue's order (restart, 429, 5xx, timeout), then ``handler``."""
        now = self.monotonic()
        if now < self.down_until:
            return web.Response(status=503, text="503 Service Unavailable (restarting)")
        if self.faults.active("http_429", now):
            return web.Response(
                status=429,
                text="429 Too Many Requests",
                headers={"Retry-After": f"{self.cfg.retry_after_s:g}"},
            )
        if self.faults.active("http_5xx", now) and (
            request.path != "/exchange" or self.faults.param("http_5xx", "when") == "before"
        ):
            status = int(self.faults.param("http_5xx", "status"))
            return web.Response(status=status, text=f"{status} Server Error")
        hang = 0.0
        if self.faults.active("http_timeout", now):
            hang = float(self.faults.param("http_timeout", "hang_s"))
            if self.faults.param("http_timeout", "when") == "before":
                # the request is held, never applied; a client still waiting gets a 504
                await asyncio.sleep(hang)
                return web.Response(status=504, text="504 Gateway Timeout")
        response = await handler(request)
        if hang > 0:  # when = "after": applied now, the reply held past the client's timeout
            await asyncio.sleep(hang)
        return response

    async def _body(self, request: web.Request) -> tuple[Any, web.Response | None]:
        try:
            text = await request.text()
            return safejson.loads(text), None
        except (ValueError, UnicodeDecodeError) as exc:  # JsonRefused is a ValueError
            # the venue's 422 text; the reason (not JSON, too deep, a number out of range)
            # is appended so that a client author can see which rule was hit
            return None, web.Response(
                status=422,
                text=f"{MESSAGES['schema_422']}: {str(exc)[:200]}",
            )

    async def _info(self, request: web.Request) -> web.Response:
        body, bad = await self._body(request)
        if bad is not None:
            return bad
        return _json_response(self.info.handle(body, request.remote or "?"))

    async def _exchange(self, request: web.Request) -> web.Response:
        body, bad = await self._body(request)
        if bad is not None:
            return bad
        entry = request.get(_ARRIVAL)
        started_ms = self.clock.now_ms()
        reply = self.exchange.handle(body, request.remote or "?")
        if entry is not None:
            entry.update(venue_ms=started_ms, venue_done_ms=self.clock.now_ms())
            entry["handled"] = True
            entry["signer"] = self.exchange.last_signer
        if self.faults.active("http_5xx", self.monotonic()):  # when = "after": applied, reply lost
            status = int(self.faults.param("http_5xx", "status"))
            return web.Response(status=status, text=f"{status} Server Error")
        return _json_response(reply)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.monotonic() < self.down_until:
            return web.Response(status=503, text="503 Service Unavailable (restarting)")
        return await self.hub.handle(request)

    async def _ws_post(self, kind: str, payload: Any, ip: str) -> tuple[int, Any]:
        if kind == "info":
            reply = self.info.handle(payload, ip)
        else:
            entry = self._arrive(payload, "ws")
            started_ms = self.clock.now_ms()
            reply = self.exchange.handle(payload, ip)
            entry.update(
                handled=True,
                signer=self.exchange.last_signer,
                status=reply.status,
                venue_ms=started_ms,
                venue_done_ms=self.clock.now_ms(),
            )
        return reply.status, reply.payload

    async def _control(self, request: web.Request) -> web.Response:
        body, bad = await self._body(request)
        if bad is not None:
            return bad
        try:
            result = await self.control(body)
        except ConfigError as exc:
            return web.json_response({"status": "err", "response": str(exc)}, status=400)
        return web.json_response({"status": "ok", "response": result})

    async def control(self, cmd: Any) -> Json:
        """A control command: ``{"fault": name, ...params}``, ``{"clear": name | null}``,
        ``{"fund": address}``, ``{"agent": address, "master": address}``,
        ``{"place": [order wire, …], "user": address}`` (orders the client did not send),
        ``{"state": true}`` or ``{"log": true | {"since": seq}}`` (the order-arrival log: every
        /exchange request with its arrival time, action type, batch counts, targeted
        oids/cloids, signer, nonce, whether it reached the exchange, when (venue time) and the
        HTTP status; see :func:`arrival_of`)."""
        if not isinstance(cmd, dict):
            raise ConfigError(["control: expected a JSON object"])
        if "fault" in cmd:
            name = cmd["fault"]
            if not isinstance(name, str):
                raise ConfigError([f"control: fault {name!r} must be a name"])
            return await self.apply(name, {k: v for k, v in cmd.items() if k != "fault"})
        if "clear" in cmd:
            name = cmd["clear"]
            self.faults.clear(name if isinstance(name, str) else None)
            if name in (None, "restart"):
                self.down_until = 0.0
            if name in (None, "stall"):
                for c in self.hub.conns:
                    c.muted_until = 0.0
            return {"cleared": name}
        if "fund" in cmd:
            addr = _control_address(cmd["fund"], "fund")
            self.book.seen.add(addr)
            self.book.open(addr)
            return {"funded": addr}
        if "agent" in cmd:
            agent = _control_address(cmd["agent"], "agent")
            master = _control_address(cmd.get("master"), "master")
            self.book.open(master)
            self.book.agents[agent] = master
            return {"agent": agent, "master": master}
        if "place" in cmd:
            wires = cmd["place"]
            user = cmd.get("user")
            if not isinstance(wires, list) or not isinstance(user, str):
                raise ConfigError(["control: place needs a list of order wires and a user"])
            try:
                return {"statuses": self.exchange.place_unsigned(user.lower(), wires)}
            except SchemaError as exc:
                raise ConfigError([f"control: {exc}"]) from None
        if cmd.get("state"):
            return self.state()
        if "log" in cmd:
            arg = cmd["log"]
            since = arg.get("since", 0) if isinstance(arg, dict) else 0
            if arg is not True and not (
                isinstance(arg, dict)
                and isinstance(since, int)
                and not isinstance(since, bool)
                and since >= 0
            ):
                raise ConfigError(['control: log takes true or {"since": seq >= 0}'])
            return {"arrivals": self.arrival_log(since), "total": self.arrivals_total}
        raise ConfigError([f"control: unknown command {sorted(cmd)!r}"])


__all__ = ["ARRIVAL_LOG_MAX", "ARRIVAL_TARGETS_MAX", "Emulator", "arrival_of"]


def _control_address(value: object, key: str) -> str:
    """A control command's address (lowercase), or ConfigError naming the command's key:
    an account the emulator opens must be one a client can sign for (it took any string)."""
    from mmkit.venues.hyperliquid.settings import check_address

    if not isinstance(value, str):
        raise ConfigError([f"control: {key}: {value!r} is not an address (0x + 40 hex digits)"])
    return check_address(value, f"control: {key}")
