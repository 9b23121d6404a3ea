"""Recovery of the live venue over real loopback sockets (the scripted server): the REST
account path comes back after 429s, 5xx and timeouts; bad WebSocket frames are counted
and skipped or resynced, never the end of the stream; an exception inside the pump
restarts the stream."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from tests.venues.hyperliquid.hl_canned import L2BOOK, USER
from tests.venues.hyperliquid.hl_server import FakeHyperliquid

from mmkit.core.actions import QueryOrder, SyncState
from mmkit.core.events import BookSnapshot, Event, FeedStatus, PositionSnapshot
from mmkit.core.types import Instrument
from mmkit.venues.hyperliquid.client import HyperliquidClient
from mmkit.venues.hyperliquid.health import Backoff, Fault, Link
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.nonce import NonceSource
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint
from mmkit.venues.hyperliquid.venue import HyperliquidVenue
from mmkit.venues.hyperliquid.ws import StreamSettings

pytestmark = pytest.mark.network

AGENT_KEY = SigningKey.from_hex("0x" + "11" * 32)
BTC = Instrument(coin="BTC", asset=0, sz_decimals=5)
FAST = StreamSettings(
    idle_ping_s=0.2,
    ping_interval_s=0.2,
    pong_timeout_s=0.3,
    open_timeout_s=2.0,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
)


class FaultyInfo(FakeHyperliquid):
    """The scripted server whose /info can fail: ``faults[type]`` is a list of
    ``(status, headers, hang_s)`` consumed one per request of that type."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: dict[str, list[tuple[int, dict[str, str], float]]] = {}

    async def _info(self, request: web.Request) -> web.Response:
        body = await request.json()
        queue = self.faults.get(body["type"])
        if queue:
            status, headers, hang_s = queue.pop(0)
            self.info_requests.append(body)
            if hang_s:
                await asyncio.sleep(hang_s)
            return web.Response(status=status, text=f"{status} fault", headers=headers)
        return await super()._info(request)


def run(test: Callable[[FaultyInfo], Awaitable[None]]) -> None:
    async def main() -> None:
        server = FaultyInfo()
        await server.start()
        try:
            await asyncio.wait_for(test(server), timeout=30)
        finally:
            await server.stop()

    asyncio.run(main())


def make_venue(server: FakeHyperliquid, request_timeout_s: float = 5.0) -> HyperliquidVenue:
    settings = ClientSettings(
        endpoint=resolve_endpoint("testnet", server.url),
        account=USER,
        max_order_notional=1e7,
        request_timeout_s=request_timeout_s,
    )
    client = HyperliquidClient(settings, AGENT_KEY, nonces=NonceSource(lambda: 1_700_000_000_000))
    return HyperliquidVenue(client, BTC, stream_settings=FAST, rng=random.Random(5))


async def wait_for(got: list[Event], pred: Callable[[list[Event]], bool]) -> None:
    while not pred(got):
        await asyncio.sleep(0.01)


def account_statuses(got: list[Event]) -> list[FeedStatus]:
    return [e for e in got if isinstance(e, FeedStatus) and e.stream == "account"]


def recorded_delays(link: Link) -> list[float]:
    """Wrap ``link.next_delay`` to record the waits the recovery task chose."""
    seen: list[float] = []
    inner = link.next_delay

    def spy(backoff: Backoff, rng: random.Random) -> float:
        d = inner(backoff, rng)
        seen.append(d)
        return d

    link.next_delay = spy  # type: ignore[method-assign]
    return seen


async def account_outage_then_recovery(
    server: FaultyInfo,
    faults: list[tuple[int, dict[str, str], float]],
    *,
    action: Any = None,
    request_timeout_s: float = 5.0,
) -> tuple[HyperliquidVenue, list[Event], list[float]]:
    server.faults["clearinghouseState"] = list(faults)
    if isinstance(action, QueryOrder):
        server.faults["orderStatus"] = [faults[0]]
    venue = make_venue(server, request_timeout_s)
    delays = recorded_delays(venue.health.account)
    got: list[Event] = []
    await venue.start(got.append)
    await venue.submit([action or SyncState(1, "periodic", orders=True)])
    await wait_for(got, lambda g: any(s.connected for s in account_statuses(g)))
    await venue.close()
    return venue, got, delays


def check_recovered(venue: HyperliquidVenue, got: list[Event]) -> None:
    sts = account_statuses(got)
    # one disconnect (not one per failed request), then one reconnection
    assert [s.connected for s in sts] == [False, True]
    up = got.index(sts[-1])
    snap = got[up - 1]
    assert isinstance(snap, PositionSnapshot) and snap.open_orders is not None
    assert venue.health.account.connected and venue.health.account.restores == 1


def test_account_path_recovers_after_a_429_storm_honouring_retry_after() -> None:
    async def t(server: FaultyInfo) -> None:
        faults = [(429, {"Retry-After": "0.3"}, 0.0)] * 3
        venue, got, delays = await account_outage_then_recovery(server, faults)
        check_recovered(venue, got)
        link = venue.health.account
        assert link.faults[Fault.RATE_LIMITED] == 3
        # every wait after a 429 was at least the venue's Retry-After
        assert len(delays) >= 3 and all(d >= 0.3 for d in delays[:3])

    run(t)


def test_account_path_recovers_after_a_5xx_burst_with_backoff() -> None:
    async def t(server: FaultyInfo) -> None:
        venue, got, delays = await account_outage_then_recovery(server, [(503, {}, 0.0)] * 4)
        check_recovered(venue, got)
        assert venue.health.account.faults[Fault.SERVER] == 4
        # no Retry-After: jittered backoff within the configured cap (0.05 s * 1.5)
        assert delays and all(0 < d <= 0.05 * 1.5 for d in delays)
        assert venue.status()["links"]["account"]["entered"]["disconnected"] >= 1

    run(t)


def test_account_path_recovers_after_a_timeout() -> None:
    async def t(server: FaultyInfo) -> None:
        venue, got, _ = await account_outage_then_recovery(
            server, [(200, {}, 1.0)], request_timeout_s=0.3
        )
        check_recovered(venue, got)
        assert venue.health.account.faults[Fault.TIMEOUT] == 1

    run(t)


def test_a_failed_order_query_also_starts_recovery() -> None:
    async def t(server: FaultyInfo) -> None:
        venue, got, _ = await account_outage_then_recovery(
            server, [(502, {}, 0.0)], action=QueryOrder(1, "0x" + "1" * 32, None)
        )
        check_recovered(venue, got)

    run(t)


def test_without_recovery_the_account_stays_disconnected() -> None:
    """The check above can fail: with the recovery task disabled (as before this work),
    the account link never comes back."""

    async def t(server: FaultyInfo) -> None:
        server.faults["clearinghouseState"] = [(503, {}, 0.0)]
        venue = make_venue(server)
        venue._ensure_recovery = lambda: None  # type: ignore[method-assign]
        got: list[Event] = []
        await venue.start(got.append)
        await venue.submit([SyncState(1, "periodic", orders=True)])
        for _ in range(30):
            await asyncio.sleep(0.01)
        await venue.close()
        assert [s.connected for s in account_statuses(got)] == [False]
        assert not venue.health.account.connected

    run(t)


# ------------------------------------------------------------------ bad frames


def broken_frames() -> list[Any]:
    book = json.loads(json.dumps(L2BOOK))
    book["levels"][0][0]["px"] = "not-a-price"
    huge = json.loads(json.dumps(L2BOOK))
    huge["time"] = 10**400
    return [
        {"channel": "l2Book", "data": book},  # a field the parser refuses
        {"channel": "l2Book", "data": huge},  # an integer far outside 64 bits
        {"channel": "trades", "data": [{"coin": "BTC"}]},
        {"channel": "l2Book", "data": L2BOOK},  # a good book heals the market link
    ]


def test_bad_market_frames_are_skipped_and_the_book_reconnects_the_market() -> None:
    async def t(server: FaultyInfo) -> None:
        server.on_subscribed = lambda conn: [{"channel": "l2Book", "data": L2BOOK}]
        venue = make_venue(server)
        got: list[Event] = []
        await venue.start(got.append)
        await wait_for(got, lambda g: venue.health.market.connected)
        for frame in broken_frames():
            server.ws_outbox.put_nowait(frame)
        await wait_for(got, lambda g: sum(isinstance(e, BookSnapshot) for e in g) >= 2)
        await venue.close()
        assert server.ws_connections == 1  # skipped, no reconnection
        assert venue.stream is not None and venue.stream.bad_frames == 3
        assert venue.health.bad_frames_skipped == 3
        market = [
            (e.connected, e.detail)
            for e in got
            if isinstance(e, FeedStatus) and e.stream == "market"
        ]
        assert [up for up, _ in market] == [True, False, True]
        assert "unreadable l2Book frame" in market[1][1]
        assert venue.health.market.connected

    run(t)


@pytest.mark.parametrize(
    "frame",
    ["{not json", "[" * 100_000, '{"channel": "userFills", "data": {"fills": 7}}'],
    ids=["not_json", "deep_nesting", "bad_user_frame"],
)
def test_an_unreadable_frame_of_unknown_channel_resyncs_never_ends(frame: str) -> None:
    async def t(server: FaultyInfo) -> None:
        sent = {"done": False}

        async def push_raw(ws: web.WebSocketResponse, conn: int) -> None:
            while not ws.closed:
                await asyncio.sleep(0.02)
                if conn == 1 and not sent["done"]:
                    sent["done"] = True
                    await ws.send_str(frame)

        server._push = push_raw  # type: ignore[method-assign]
        server.on_subscribed = lambda conn: [{"channel": "l2Book", "data": L2BOOK}]
        venue = make_venue(server)
        got: list[Event] = []
        await venue.start(got.append)
        # back after a resync: reconnected, backfilled, a fresh book
        await wait_for(got, lambda g: server.ws_connections >= 2 and venue.health.all_connected)
        await venue.close()
        assert venue.failure is None
        assert venue.health.bad_frames_resynced == 1
        assert venue.health.user.faults[Fault.BAD_FRAME] == 1
        kinds = {r["type"] for r in server.info_requests}
        assert {"clearinghouseState", "openOrders"} <= kinds  # the resync's backfill

    run(t)


def test_an_exception_inside_the_pump_restarts_the_stream() -> None:
    async def t(server: FaultyInfo) -> None:
        server.on_subscribed = lambda conn: [{"channel": "l2Book", "data": L2BOOK}]
        venue = make_venue(server)
        inner = venue._route
        state = {"raised": False}

        def flaky(stream: Any, ev: Event) -> list[Event]:
            if isinstance(ev, BookSnapshot) and not state["raised"]:
                state["raised"] = True
                raise RuntimeError("a bug in routing")
            return inner(stream, ev)

        venue._route = flaky  # type: ignore[method-assign]
        got: list[Event] = []
        await venue.start(got.append)
        await wait_for(got, lambda g: venue.health.all_connected and server.ws_connections >= 2)
        await venue.close()
        assert venue.health.pump_restarts == 1 and venue.failure is None

    run(t)


def test_a_rejected_subscription_is_fatal_and_reported() -> None:
    async def t(server: FaultyInfo) -> None:
        server.on_subscribed = lambda conn: [
            {"channel": "error", "data": 'Invalid subscription {"type":"x"}'}
        ]
        venue = make_venue(server)
        got: list[Event] = []
        await venue.start(got.append)
        await wait_for(got, lambda g: venue.failure is not None)
        await venue.close()
        down = [e for e in got if isinstance(e, FeedStatus) and not e.connected]
        assert any("stream failed" in e.detail for e in down)
        assert "Invalid subscription" in str(venue.status()["failure"])

    run(t)
