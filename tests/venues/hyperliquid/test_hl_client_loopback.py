"""The REST client and the WebSocket stream against a scripted server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from tests.venues.hyperliquid.hl_canned import (
    CLOID1,
    CLOID2,
    OPEN_ORDERS,
    USER,
    cancel_ok,
    err,
    fill,
    order_ok,
)
from tests.venues.hyperliquid.hl_server import FakeHyperliquid, Scripted

from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
from mmkit.core.events import (
    ActionResult,
    BookSnapshot,
    Event,
    FeedStatus,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
)
from mmkit.core.outcomes import Outcome
from mmkit.core.outcomes import RejectReason as R
from mmkit.core.types import Instrument, Side, Tif
from mmkit.errors import VenueError
from mmkit.venues.hyperliquid.client import HyperliquidClient
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.nonce import NonceSource
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint
from mmkit.venues.hyperliquid.stream import market_subscriptions, user_subscriptions
from mmkit.venues.hyperliquid.venue import HyperliquidVenue
from mmkit.venues.hyperliquid.ws import HyperliquidStream, StreamSettings

pytestmark = pytest.mark.network

AGENT_KEY = SigningKey.from_hex("0x" + "11" * 32)  # an agent (API wallet) key
BTC = Instrument(coin="BTC", asset=0, sz_decimals=5)
FAST = StreamSettings(
    idle_ping_s=0.2,
    ping_interval_s=0.2,
    pong_timeout_s=0.3,
    open_timeout_s=2.0,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
)


def run(test: Callable[[FakeHyperliquid], Awaitable[None]]) -> None:
    async def main() -> None:
        server = FakeHyperliquid()
        await server.start()
        try:
            await asyncio.wait_for(test(server), timeout=30)
        finally:
            await server.stop()

    asyncio.run(main())


def make_client(server: FakeHyperliquid, **kw: Any) -> HyperliquidClient:
    settings = ClientSettings(
        endpoint=resolve_endpoint("testnet", server.url),
        account=USER,
        max_order_notional=kw.pop("max_order_notional", 1e7),
        request_timeout_s=kw.pop("request_timeout_s", 5.0),
    )
    return HyperliquidClient(
        settings, AGENT_KEY, nonces=NonceSource(lambda: 1_700_000_000_000), **kw
    )


def place(
    rid: int,
    cloid: str,
    side: Side = Side.BUY,
    px: float = 100_000.0,
    sz: float = 0.001,
    tif: Tif = Tif.ALO,
) -> Place:
    return Place(request_id=rid, cloid=cloid, side=side, px=px, sz=sz, tif=tif)


# ------------------------------------------------------------------ REST


def test_info_queries_are_made_for_the_master_address() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.info_replies["userFills"] = lambda b: [fill(5, coin="BTC"), fill(6, coin="ETH")]
        async with make_client(server) as c:
            assert c.user == USER != AGENT_KEY.address.lower()
            assert [a.name for a in await c.meta()] == ["BTC", "ETH", "LOOM"]
            assert isinstance(await c.l2_book("BTC"), BookSnapshot)
            assert (await c.clearinghouse_state("ETH")).position == 0.0335
            assert len(await c.open_orders()) == 3
            assert [f.tid for f in await c.user_fills("BTC")] == [5]
            upd = await c.order_status(CLOID1)
            assert upd is not None and upd.status is OrderStatus.FILLED
            assert (await c.user_rate_limit()).cap == 2864574
            inst = await c.instrument("BTC")
            assert inst.asset == 0 and inst.sz_decimals == 5
        users = [r["user"] for r in server.info_requests if "user" in r]
        assert users and set(users) == {USER}
        assert {"type": "meta", "dex": ""} in server.info_requests

    run(t)


def test_execute_orders_modifies_cancels() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.script = [
            Scripted(body=cancel_ok("success")),  # cancel by oid
            Scripted(
                body=cancel_ok(
                    {"error": "Order was never placed, already canceled, or filled. asset=0"}
                )
            ),  # by cloid
            Scripted(
                body=order_ok(
                    {"resting": {"oid": 501}}, {"error": "Cannot modify canceled or filled order"}
                )
            ),
            Scripted(body=order_ok({"resting": {"oid": 601, "cloid": CLOID1}})),  # ALO batch
            Scripted(
                body=order_ok({"filled": {"totalSz": "0.001", "avgPx": "99999", "oid": 602}})
            ),  # IOC batch
        ]
        actions: list[Action] = [
            place(10, CLOID1),
            place(11, CLOID2, Side.SELL, 99_000.0, tif=Tif.IOC),
            Modify(
                request_id=12, cloid="0x" + "3" * 32, oid=77, side=Side.BUY, px=99_500.0, sz=0.002
            ),
            Modify(
                request_id=13,
                cloid="0x" + "4" * 32,
                oid=None,
                side=Side.SELL,
                px=100_500.0,
                sz=0.002,
            ),
            Cancel(request_id=14, cloid=None, oid=123),
            Cancel(request_id=15, cloid="0x" + "5" * 32, oid=None),
        ]
        async with make_client(server) as c:
            events = await c.execute(actions, BTC)
        res = {e.request_id: e for e in events if isinstance(e, ActionResult)}
        assert res[14].outcome is Outcome.CANCELED
        assert res[15].reason is R.ORDER_GONE
        assert res[12].outcome is Outcome.RESTING and res[12].oid == 501
        assert res[13].reason is R.MODIFY_TARGET_CANCELED
        assert res[10].outcome is Outcome.RESTING and res[10].oid == 601
        assert res[11].outcome is Outcome.FILLED and res[11].filled_sz == 0.001
        kinds = [r["action"]["type"] for r in server.exchange_requests]
        assert kinds == ["cancel", "cancelByCloid", "batchModify", "order", "order"]
        # agent key signs for the master; distinct strictly increasing nonces
        assert set(server.signers) == {AGENT_KEY.address.lower()}
        nonces = [r["nonce"] for r in server.exchange_requests]
        assert nonces == sorted(set(nonces))
        mods = server.exchange_requests[2]["action"]["modifies"]
        assert mods[0]["oid"] == 77 and mods[1]["oid"] == "0x" + "4" * 32
        assert mods[0]["order"]["p"] == "99500" and mods[0]["order"]["s"] == "0.002"
        alo = server.exchange_requests[3]["action"]["orders"]
        assert alo == [
            {
                "a": 0,
                "b": True,
                "p": "100000",
                "s": "0.001",
                "r": False,
                "t": {"limit": {"tif": "Alo"}},
                "c": CLOID1,
            }
        ]

    run(t)


def test_invalid_and_oversized_orders_refused_before_signing() -> None:
    async def t(server: FakeHyperliquid) -> None:
        async with make_client(server, max_order_notional=150.0) as c:
            events = await c.execute(
                [
                    place(1, CLOID1, sz=0.002),  # $200 > $150
                    place(2, CLOID2, sz=0.000001),
                ],
                BTC,
            )  # rounds to 0
        reasons = {e.request_id: e.reason for e in events if isinstance(e, ActionResult)}
        assert reasons == {1: R.MAX_NOTIONAL, 2: R.INVALID_SIZE}
        assert server.exchange_requests == []

    run(t)


def test_top_level_error_and_422() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.script = [
            Scripted(body=err("Invalid nonce: duplicate nonce 1700000000000")),
            Scripted(status=422, body="Failed to deserialize the JSON body into the target type"),
        ]
        async with make_client(server) as c:
            a = await c.execute([place(1, CLOID1), place(2, CLOID2)], BTC)
            b = await c.execute([place(3, CLOID1)], BTC)
        assert [(e.outcome, e.reason) for e in a] == [(Outcome.REJECTED, R.NONCE)] * 2  # type: ignore[union-attr]
        assert b[0].reason is R.SCHEMA  # type: ignore[union-attr]

    run(t)


def test_429_honours_retry_after_without_sending() -> None:
    async def t(server: FakeHyperliquid) -> None:
        clock = [1000.0]
        server.script = [Scripted(status=429, body="rate limited", headers={"Retry-After": "30"})]
        async with make_client(server, monotonic=lambda: clock[0]) as c:
            first = await c.execute([place(1, CLOID1)], BTC)
            assert first[0].reason is R.RATE_LIMITED_IP  # type: ignore[union-attr]
            assert c.blocked_for_s == 30.0
            clock[0] += 10
            second = await c.execute([place(2, CLOID2)], BTC)
            assert second[0].reason is R.RATE_LIMITED_IP  # type: ignore[union-attr]
            assert len(server.exchange_requests) == 1  # refused locally
            clock[0] += 21
            third = await c.execute([place(3, CLOID2)], BTC)
            assert third[0].outcome is Outcome.RESTING  # type: ignore[union-attr]
            assert len(server.exchange_requests) == 2

    run(t)


def test_transport_failure_and_5xx_are_unknown_and_never_retried() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.script = [
            Scripted(body=order_ok({"resting": {"oid": 1}}), delay_s=1.0),
            Scripted(status=502, body="bad gateway"),
        ]
        async with make_client(server, request_timeout_s=0.2) as c:
            a = await c.execute([place(1, CLOID1)], BTC)
            b = await c.execute([Cancel(request_id=2, cloid=None, oid=5)], BTC)
        assert a[0].outcome is Outcome.UNKNOWN  # type: ignore[union-attr]
        assert b[0].outcome is Outcome.UNKNOWN and b[0].reason is R.SERVER  # type: ignore[union-attr]
        assert len(server.exchange_requests) == 2

    run(t)


def test_cancel_all_sync_and_query() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.script = [
            Scripted(
                body=cancel_ok(
                    "success", {"error": "Order was never placed, already canceled, or filled."}
                )
            )
        ]
        server.info_replies["orderStatus"] = lambda b: {"status": "unknownOid"}
        async with make_client(server) as c:
            events = await c.execute(
                [
                    CancelAll(request_id=1, reason="halt"),
                    SyncState(request_id=2, reason="startup"),
                    QueryOrder(request_id=3, cloid=CLOID2, oid=None),
                ],
                BTC,
            )
        ca, snap, upd = events
        assert isinstance(ca, ActionResult) and ca.outcome is Outcome.CANCELED
        cancelled = server.exchange_requests[0]["action"]["cancels"]
        assert cancelled == [
            {"a": 0, "o": OPEN_ORDERS[0]["oid"]},
            {"a": 0, "o": OPEN_ORDERS[1]["oid"]},
        ]
        assert isinstance(snap, PositionSnapshot) and snap.open_orders is not None
        assert len(snap.open_orders) == 2 and snap.position == 0.0
        assert isinstance(upd, OrderUpdate) and upd.raw_status == "unknownOid"

    run(t)


# ------------------------------------------------------------------ WebSocket


async def collect(stream: HyperliquidStream, until: Callable[[list[Event]], bool]) -> list[Event]:
    out: list[Event] = []
    async for ev in stream.events():
        out.append(ev)
        if until(out):
            break
    await stream.close()
    return out


def test_ws_drop_reconnect_resubscribe_backfill() -> None:
    async def t(server: FakeHyperliquid) -> None:
        from tests.venues.hyperliquid.hl_canned import L2BOOK

        def on_subscribed(conn: int) -> list[Any]:
            if conn == 1:
                return [
                    {"channel": "l2Book", "data": L2BOOK},
                    {
                        "channel": "userFills",
                        "data": {"isSnapshot": True, "user": USER, "fills": [fill(1, time=10)]},
                    },
                    {"channel": "userFills", "data": {"user": USER, "fills": [fill(2, time=2000)]}},
                ]
            # after reconnect the venue repeats its fill snapshot
            return [
                {
                    "channel": "userFills",
                    "data": {
                        "isSnapshot": True,
                        "user": USER,
                        "fills": [fill(2, time=2000), fill(3, time=3000)],
                    },
                }
            ]

        server.on_subscribed = on_subscribed
        # REST backfill knows fills 2 and 3 (3 happened while disconnected)
        server.info_replies["userFills"] = lambda b: [fill(2, time=2000), fill(3, time=3000)]
        async with make_client(server) as c:

            async def backfill() -> list[Event]:
                return [await c.position_snapshot("BTC"), *await c.user_fills("BTC")]

            subs = market_subscriptions("BTC") + user_subscriptions(c.user)
            stream = HyperliquidStream(
                c.endpoint.ws_url,
                "BTC",
                subs,
                backfill=backfill,
                settings=FAST,
                rng=random.Random(1),
                fills_since_ns=1_000 * 1_000_000,
            )
            dropped = False

            def until(evs: list[Event]) -> bool:
                nonlocal dropped
                fills = [e for e in evs if isinstance(e, OwnFill)]
                if len(fills) == 1 and not dropped:
                    dropped = True
                    server.ws_outbox.put_nowait("drop")
                return len(fills) >= 2 and any(isinstance(e, PositionSnapshot) for e in evs)

            events = await collect(stream, until)
        fills = [e.tid for e in events if isinstance(e, OwnFill)]
        assert fills == [2, 3]  # fill 1 predates the session; 2 and 3 exactly once
        statuses = [e for e in events if isinstance(e, FeedStatus)]
        assert [s.connected for s in statuses][:3] == [True, False, True]
        assert statuses[2].gap and "resubscribed" in statuses[2].detail
        assert server.ws_connections == 2
        assert server.ws_subscriptions[0] == server.ws_subscriptions[1]
        assert {"type": "userEvents", "user": USER} in server.ws_subscriptions[1]
        backfill_kinds = [r["type"] for r in server.info_requests]
        assert {"clearinghouseState", "openOrders", "userFills"} <= set(backfill_kinds)
        assert any(isinstance(e, BookSnapshot) for e in events)

    run(t)


def test_ws_pings_and_silent_stall_reconnects() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.mute = True  # connected but mute: no acks, no pongs
        stream = HyperliquidStream(
            server.url.replace("http", "ws") + "/ws",
            "BTC",
            market_subscriptions("BTC"),
            settings=FAST,
            rng=random.Random(2),
        )
        events = await collect(
            stream, lambda evs: sum(isinstance(e, FeedStatus) and e.connected for e in evs) >= 2
        )
        lost = [e for e in events if isinstance(e, FeedStatus) and not e.connected]
        assert lost and "silent stall" in lost[0].detail
        assert server.ws_connections >= 2

    run(t)


def test_ws_answers_pongs_and_stays_connected() -> None:
    async def t(server: FakeHyperliquid) -> None:
        stream = HyperliquidStream(
            server.url.replace("http", "ws") + "/ws",
            "BTC",
            market_subscriptions("BTC"),
            settings=FAST,
        )

        async def watch() -> list[Event]:
            return await collect(stream, lambda evs: False)

        task = asyncio.create_task(watch())
        while server.pings < 3:
            await asyncio.sleep(0.05)
        await stream.close()
        await asyncio.wait_for(task, 5)
        assert server.ws_connections == 1

    run(t)


def test_ws_rejected_subscription_is_fatal() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.on_subscribed = lambda conn: [
            {"channel": "error", "data": 'Invalid subscription {"type":"x"}'}
        ]
        stream = HyperliquidStream(
            server.url.replace("http", "ws") + "/ws",
            "BTC",
            market_subscriptions("BTC") + user_subscriptions(USER),
            settings=FAST,
        )
        with pytest.raises(VenueError, match="Invalid subscription"):
            await collect(stream, lambda evs: False)

    run(t)


def test_ws_connect_failure_backs_off_with_jitter() -> None:
    stream = HyperliquidStream(
        "ws://127.0.0.1:9/ws",
        "BTC",
        [],
        rng=random.Random(3),
        settings=StreamSettings(backoff_initial_s=1.0, backoff_max_s=8.0),
    )
    delays = [stream.backoff_delay(k) for k in range(8)]
    assert all(0.5 <= d <= 12.0 for d in delays)
    assert delays[5] > delays[0] and len(set(delays)) == len(delays)


def test_venue_start_submit_close() -> None:
    async def t(server: FakeHyperliquid) -> None:
        server.script = [Scripted(body=order_ok({"resting": {"oid": 9}}))]
        got: list[Event] = []
        venue = HyperliquidVenue(make_client(server), BTC, stream_settings=FAST)
        await venue.start(got.append)
        await venue.submit([place(1, CLOID1)])
        while not any(isinstance(e, FeedStatus) for e in got):
            await asyncio.sleep(0.02)
        await venue.close()
        res = [e for e in got if isinstance(e, ActionResult)]
        assert res and res[0].oid == 9

    run(t)


def test_venue_refuses_mismatched_instrument() -> None:
    async def t(server: FakeHyperliquid) -> None:
        venue = HyperliquidVenue(make_client(server), Instrument(coin="BTC", asset=3))
        with pytest.raises(VenueError, match="asset is 0"):
            await venue.start(lambda e: None)
        await venue.close()

    run(t)


def test_user_fills_since_pages_and_dedupes(monkeypatch: pytest.MonkeyPatch) -> None:
    import mmkit.venues.hyperliquid.client as client_mod

    monkeypatch.setattr(client_mod, "FILLS_PAGE", 2)

    async def t(server: FakeHyperliquid) -> None:
        server.fills_page = 2
        server.fills = [
            fill(1, time=100),
            fill(2, time=200),
            fill(3, time=200),
            fill(4, time=300, coin="ETH"),
            fill(5, time=400),
            fill(6, time=50),
        ]
        async with make_client(server) as c:
            got = await c.user_fills_since(100, "BTC")
        assert [f.tid for f in got] == [1, 2, 3, 5]
        starts = [r["startTime"] for r in server.info_requests]
        assert starts[0] == 100 and starts == sorted(starts) and len(starts) >= 3

    run(t)


def test_connection_refused_is_a_definite_failure() -> None:
    async def t(server: FakeHyperliquid) -> None:
        port = server.port
        await server.stop()  # nothing listens on the port any more
        settings = ClientSettings(
            endpoint=resolve_endpoint("testnet", f"http://127.0.0.1:{port}"),
            account=USER,
            max_order_notional=1e7,
        )
        async with HyperliquidClient(settings, AGENT_KEY) as c:
            res = await c.execute([place(1, CLOID1)], BTC)
            with pytest.raises(VenueError, match="request failed"):
                await c.l2_book("BTC")
        assert res[0].outcome is Outcome.REJECTED and res[0].reason is R.SERVER  # type: ignore[union-attr]

    run(t)


def test_venue_backfills_after_a_drop() -> None:
    async def t(server: FakeHyperliquid) -> None:
        got: list[Event] = []
        venue = HyperliquidVenue(make_client(server), BTC, stream_settings=FAST)
        await venue.start(got.append)
        while server.ws_connections < 1 or len(server.ws_subscriptions[0]) < 6:
            await asyncio.sleep(0.02)
        # a fill happens while we are cut off: only REST will tell
        server.fills = [fill(42, time=4_000_000_000_000, cloid=CLOID1)]
        server.ws_outbox.put_nowait("drop")
        while not any(isinstance(e, OwnFill) for e in got):
            await asyncio.sleep(0.02)
        await venue.close()
        kinds = [r["type"] for r in server.info_requests]
        assert {"meta", "clearinghouseState", "openOrders", "userFillsByTime"} <= set(kinds)
        fills = [e for e in got if isinstance(e, OwnFill)]
        assert [f.tid for f in fills] == [42] and fills[0].cloid == CLOID1
        snaps = [e for e in got if isinstance(e, PositionSnapshot)]
        assert snaps and snaps[0].open_orders is not None and len(snaps[0].open_orders) == 2
        assert server.ws_subscriptions[0] == server.ws_subscriptions[1]

    run(t)


def test_ws_unreadable_frame_and_failed_backfill_resync() -> None:
    async def t(server: FakeHyperliquid) -> None:
        calls = {"n": 0}

        async def backfill() -> list[Event]:
            calls["n"] += 1
            if calls["n"] == 1:
                raise VenueError("Hyperliquid info openOrders: HTTP 502")
            return [PositionSnapshot(1, 0.0, open_orders=())]

        def on_subscribed(conn: int) -> list[Any]:
            if conn == 1:  # a fill message the parser cannot read
                return [{"channel": "userFills", "data": {"fills": [{"coin": "BTC"}]}}]
            return []

        server.on_subscribed = on_subscribed
        stream = HyperliquidStream(
            server.url.replace("http", "ws") + "/ws",
            "BTC",
            market_subscriptions("BTC") + user_subscriptions(USER),
            backfill=backfill,
            settings=FAST,
        )
        events = await collect(
            stream, lambda evs: any(isinstance(e, PositionSnapshot) for e in evs)
        )
        lost = [e.detail for e in events if isinstance(e, FeedStatus) and not e.connected]
        assert "unreadable frame" in lost[0] and "backfill failed" in lost[1]
        assert server.ws_connections == 3 and calls["n"] == 2

    run(t)


def test_ws_survives_a_server_restart() -> None:
    async def t(server: FakeHyperliquid) -> None:
        stream = HyperliquidStream(
            server.url.replace("http", "ws") + "/ws",
            "BTC",
            market_subscriptions("BTC"),
            settings=FAST,
            rng=random.Random(4),
        )
        port = server.port
        restarted = False

        def until(evs: list[Event]) -> bool:
            nonlocal restarted
            ups = sum(isinstance(e, FeedStatus) and e.connected for e in evs)
            fails = sum(isinstance(e, FeedStatus) and "connect failed" in e.detail for e in evs)
            if ups == 1 and not restarted:
                restarted = True
                asyncio.get_running_loop().create_task(restart())
            return ups >= 2 and fails >= 1

        async def restart() -> None:
            await server.stop()  # venue down: connections refused for a while
            await asyncio.sleep(0.3)
            server.port = 0
            app = web.Application()
            app.router.add_get("/ws", server._ws)
            server._runner = web.AppRunner(app, shutdown_timeout=0.1)
            await server._runner.setup()
            await web.TCPSite(server._runner, "127.0.0.1", port).start()
            server.port = port

        events = await collect(stream, until)
        ups = [e for e in events if isinstance(e, FeedStatus) and e.connected]
        assert ups[-1].gap and server.ws_connections == 2

    run(t)


@pytest.mark.parametrize(
    "settings",
    [
        StreamSettings(ping_interval_s=0.1, idle_ping_s=100.0, pong_timeout_s=5.0),
        StreamSettings(ping_interval_s=100.0, idle_ping_s=0.1, pong_timeout_s=5.0),
    ],
    ids=["periodic", "idle"],
)
def test_ws_pings_periodically_and_when_idle(settings: StreamSettings) -> None:
    async def t(server: FakeHyperliquid) -> None:
        stream = HyperliquidStream(
            server.url.replace("http", "ws") + "/ws",
            "BTC",
            market_subscriptions("BTC"),
            settings=settings,
        )
        task = asyncio.create_task(collect(stream, lambda evs: False))
        while server.pings < 2:
            await asyncio.sleep(0.02)
        await stream.close()
        await asyncio.wait_for(task, 5)
        assert server.ws_connections == 1

    run(t)


def test_malformed_actions_are_refused_not_raised() -> None:
    async def t(server: FakeHyperliquid) -> None:
        async with make_client(server) as c:
            events = await c.execute(
                [
                    place(1, "0x12"),
                    Cancel(request_id=2, cloid="nope", oid=None),
                    Cancel(request_id=3, cloid=None, oid=None),
                ],
                BTC,
            )
        assert sorted(e.request_id for e in events) == [1, 2, 3]  # type: ignore[union-attr]
        assert all(e.outcome is Outcome.REJECTED for e in events)  # type: ignore[union-attr]
        assert server.exchange_requests == []

    run(t)


def test_venue_backfill_falls_back_to_user_fills() -> None:
    async def t(server: FakeHyperliquid) -> None:
        def unsupported(body: dict[str, Any]) -> Any:
            raise web.HTTPUnprocessableEntity(text="Failed to deserialize the JSON body")

        server.info_replies["userFillsByTime"] = unsupported
        server.fills = [fill(43, time=4_000_000_000_000)]
        venue = HyperliquidVenue(make_client(server), BTC, stream_settings=FAST)
        events = await venue._backfill()
        await venue.close()
        assert [e.tid for e in events if isinstance(e, OwnFill)] == [43]
        # the authoritative snapshot comes last: it already includes the backfilled fills
        assert isinstance(events[-1], PositionSnapshot)
        assert not any(isinstance(e, PositionSnapshot) for e in events[:-1])

    run(t)


def test_startup_retries_a_venue_that_is_not_up_yet() -> None:
    async def t(server: FakeHyperliquid) -> None:
        real = server.info_replies["meta"]
        calls = {"n": 0}

        def flaky(body: dict[str, Any]) -> Any:
            calls["n"] += 1
            if calls["n"] <= 2:
                raise web.HTTPServiceUnavailable(text="restarting")
            return real(body)

        server.info_replies["meta"] = flaky
        venue = HyperliquidVenue(make_client(server), BTC, stream_settings=FAST)
        meta = await venue._startup_meta(deadline_s=10.0)
        await venue.close()
        assert calls["n"] == 3 and any(a.name == "BTC" for a in meta)

    run(t)


def test_startup_gives_up_on_a_definite_error_at_once() -> None:
    async def t(server: FakeHyperliquid) -> None:
        calls = {"n": 0}

        def schema_error(body: dict[str, Any]) -> Any:
            calls["n"] += 1
            raise web.HTTPUnprocessableEntity(text="Failed to deserialize the JSON body")

        server.info_replies["meta"] = schema_error
        venue = HyperliquidVenue(make_client(server), BTC, stream_settings=FAST)
        with pytest.raises(VenueError):
            await venue._startup_meta(deadline_s=10.0)
        await venue.close()
        assert calls["n"] == 1

    run(t)
