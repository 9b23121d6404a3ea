"""The emulator's WebSocket: greeting, acks, errors, heartbeat, snapshots, user channels,
post requests, the idle timeout and the connection faults, read with mmkit's own parser."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.server import Emulator
from mmkit.venues.hyperliquid import wire
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.signing import signed_envelope
from mmkit.venues.hyperliquid.stream import GREETING, parse_ws_text

pytestmark = pytest.mark.network

KEY = SigningKey.from_hex("0x" + "42" * 32)
ME = KEY.address.lower()


async def until(ws: ClientConnection, channel: str, timeout: float = 5.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        text = await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
        assert isinstance(text, str)
        if text == GREETING:
            continue
        msg: dict[str, Any] = json.loads(text)
        parse_ws_text(text, "BTC")  # mmkit's parser reads every frame
        if msg["channel"] == channel:
            return msg


def sub(typ: str, **kw: Any) -> str:
    return json.dumps({"method": "subscribe", "subscription": {"type": typ, **kw}})


def run(body: Any, **kw: Any) -> None:
    async def main() -> None:
        cfg = EmulatorConfig(accounts=(ME,), book_interval_s=0.05, speed=5.0, **kw)
        async with Emulator(cfg) as emu:
            await body(emu, emu.url.replace("http", "ws", 1) + "/ws")

    asyncio.run(main())


def test_subscriptions_heartbeat_and_post() -> None:
    async def body(emu: Emulator, url: str) -> None:
        async with connect(url) as ws:
            assert await ws.recv() == GREETING
            await ws.send(sub("l2Book", coin="BTC"))
            ack = await until(ws, "subscriptionResponse")
            assert ack["data"] == {
                "method": "subscribe",
                "subscription": {"type": "l2Book", "coin": "BTC"},
            }
            book = await until(ws, "l2Book")
            assert len(book["data"]["levels"][0]) == 20
            await ws.send(sub("trades", coin="BTC"))
            await ws.send(sub("bbo", coin="BTC"))
            trades = await until(ws, "trades")
            assert trades["data"][0]["coin"] == "BTC"
            await until(ws, "bbo")
            await ws.send(json.dumps({"method": "ping"}))
            assert (await until(ws, "pong")) == {"channel": "pong"}
            await ws.send(sub("userFills", user=ME))
            snap = await until(ws, "userFills")
            assert snap["data"]["isSnapshot"] is True and snap["data"]["fills"] == []
            await ws.send(
                json.dumps(
                    {
                        "method": "post",
                        "id": 7,
                        "request": {"type": "info", "payload": {"type": "meta"}},
                    }
                )
            )
            post = await until(ws, "post")
            assert post["data"]["id"] == 7
            assert post["data"]["response"]["payload"]["data"]["universe"][0]["name"] == "BTC"
            await ws.send(
                json.dumps(
                    {"method": "unsubscribe", "subscription": {"type": "l2Book", "coin": "BTC"}}
                )
            )
            ack = await until(ws, "subscriptionResponse")
            assert ack["data"]["method"] == "unsubscribe"
            await ws.send(sub("l2Book", coin="DOGE"))
            err = await until(ws, "error")
            assert err["data"].startswith("Invalid subscription")
            assert parse_ws_text(json.dumps(err), "BTC").error is not None

    run(body)


def test_user_channels_carry_order_updates_and_fills() -> None:
    async def body(emu: Emulator, url: str) -> None:
        async with connect(url) as ws:
            for typ in ("orderUpdates", "userFills", "userEvents"):
                await ws.send(sub(typ, user=ME))
            await until(ws, "userFills")  # the snapshot
            ask = float(emu.market.book.ask_px[0])  # type: ignore[union-attr]
            w = wire.order_wire(0, True, str(int(ask + 20)), "0.001", False, wire.limit_type("Ioc"))
            body = signed_envelope(
                KEY, wire.order_action([w]), int(time.time() * 1000), None, None, False
            )
            await ws.send(
                json.dumps(
                    {"method": "post", "id": 1, "request": {"type": "action", "payload": body}}
                )
            )
            post = await until(ws, "post")
            assert (
                "filled" in post["data"]["response"]["payload"]["response"]["data"]["statuses"][0]
            )
            fills = await until(ws, "userFills")
            assert "isSnapshot" not in fills["data"]
            parsed = parse_ws_text(json.dumps(fills), "BTC")
            assert parsed.events and parsed.events[0].crossed  # type: ignore[union-attr]
            user = await until(ws, "user")
            assert user["data"]["fills"][0]["tid"] == fills["data"]["fills"][0]["tid"]

    run(body)


def test_idle_clients_are_dropped_and_faults_cut_connections() -> None:
    async def body(emu: Emulator, url: str) -> None:
        async with connect(url) as ws:
            await ws.send(sub("l2Book", coin="BTC"))
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 3.0)
        async with connect(url) as ws:
            await ws.send(json.dumps({"method": "ping"}))
            await until(ws, "pong")
            await emu.apply("stall", {"duration": 5.0})
            await ws.send(json.dumps({"method": "ping"}))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)  # connected but mute: not even a pong
            await emu.apply("ws_drop", {})
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 2.0)

    run(body, ws_idle_timeout_s=0.5)


def test_stale_and_crossed_books() -> None:
    async def body(emu: Emulator, url: str) -> None:
        await emu.apply("crossed_book", {"duration": 2.0})
        book = emu.published_book()
        assert book is not None and book.bid_px[0] > book.ask_px[0]
        emu.faults.clear()
        await emu.apply("stale_book", {"duration": 5.0})
        frozen = emu.published_book()
        await asyncio.sleep(1.0)
        assert emu.published_book() is frozen
        assert emu.market.events_applied > 0

    run(body)


def test_delayed_and_reordered_order_updates() -> None:
    async def body(emu: Emulator, url: str) -> None:
        async with connect(url) as ws:
            await ws.send(sub("orderUpdates", user=ME))
            await until(ws, "subscriptionResponse")
            bid = float(emu.market.book.bid_px[0])  # type: ignore[union-attr]
            nonce = int(time.time() * 1000)

            def place(i: int) -> dict[str, Any]:
                w = wire.order_wire(
                    0, True, str(int(bid - 400 - i)), "0.001", False, wire.limit_type("Alo")
                )
                return signed_envelope(KEY, wire.order_action([w]), nonce + i, None, None, False)

            await emu.apply("reorder_updates", {"duration": 5.0, "window_s": 0.3})
            oids = []
            for i in range(2):
                rep = emu.exchange.handle(place(i), "127.0.0.1")
                oids.append(rep.payload["response"]["data"]["statuses"][0]["resting"]["oid"])
            seen = [(await until(ws, "orderUpdates"))["data"][0]["order"]["oid"] for _ in range(2)]
            assert seen == oids[::-1]
            emu.faults.clear()
            await emu.apply("delay_updates", {"duration": 5.0, "delay_s": 1.0})
            emu.exchange.handle(place(2), "127.0.0.1")
            with pytest.raises(TimeoutError):  # held back (it comes later, not earlier)
                await until(ws, "orderUpdates", timeout=0.2)
            late = await until(ws, "orderUpdates", timeout=5.0)
            assert late["data"][0]["status"] == "open"

    run(body)
