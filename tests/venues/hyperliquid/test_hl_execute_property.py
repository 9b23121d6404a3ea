"""Property: whatever the venue answers, every order action gets exactly one ActionResult."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.venues.hyperliquid.hl_canned import USER

from mmkit.core.actions import Cancel, CancelAll, Modify, Place, make_cloid
from mmkit.core.events import ActionResult
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Instrument, Side, Tif
from mmkit.errors import VenueError
from mmkit.venues.hyperliquid import info as inf
from mmkit.venues.hyperliquid.client import HyperliquidClient
from mmkit.venues.hyperliquid.errors import ClassifiedError
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.replies import ExchangeReply, parse_exchange_http
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint

BTC = Instrument(coin="BTC", asset=0, sz_decimals=5)
KEY = SigningKey.from_hex("0x" + "22" * 32)

statuses = st.one_of(
    st.builds(lambda o: {"resting": {"oid": o}}, st.integers(1, 10**9)),
    st.builds(
        lambda o: {"filled": {"totalSz": "0.001", "avgPx": "100000", "oid": o}},
        st.integers(1, 10**9),
    ),
    st.sampled_from(
        [
            {"error": "Order has invalid price."},
            "success",
            "waitingForFill",
            {"error": "Cannot modify canceled or filled order"},
            {"error": "Order was never placed, already canceled, or filled. asset=0"},
        ]
    ),
)
bodies = st.one_of(
    st.lists(statuses, max_size=6).map(
        lambda s: (200, {"status": "ok", "response": {"type": "order", "data": {"statuses": s}}})
    ),
    st.sampled_from(
        [
            (200, {"status": "err", "response": "Invalid nonce: duplicate nonce 1"}),
            (200, {"status": "ok", "response": {"type": "default"}}),
            (429, "slow down"),
            (500, "boom"),
            (422, "Failed to deserialize"),
            (200, "not json"),
            (200, {"status": "weird"}),
        ]
    ),
)


@st.composite
def order_actions(draw: st.DrawFn) -> list[Any]:
    n = draw(st.integers(1, 8))
    out: list[Any] = []
    for rid in range(n):
        kind = draw(st.sampled_from(["place", "modify", "cancel", "cancel_all"]))
        cloid = make_cloid(draw(st.integers(0, 2**128 - 1)))
        side = draw(st.sampled_from(list(Side)))
        px = draw(st.sampled_from([100_000.0, 99_999.0, float("nan"), 1e9]))
        sz = draw(st.sampled_from([0.001, 0.00001, 0.5]))
        tif = draw(st.sampled_from(list(Tif)))
        if kind == "place":
            out.append(Place(rid, cloid, side, px, sz, tif))
        elif kind == "modify":
            out.append(
                Modify(
                    rid, cloid, draw(st.one_of(st.none(), st.integers(1, 99))), side, px, sz, tif
                )
            )
        elif kind == "cancel":
            out.append(
                Cancel(
                    rid,
                    draw(st.one_of(st.none(), st.just(cloid))),
                    draw(st.one_of(st.none(), st.integers(1, 99))),
                )
            )
        else:
            out.append(CancelAll(rid, "halt"))
    return out


@settings(max_examples=80, deadline=None)
@given(order_actions(), st.lists(bodies, min_size=8, max_size=8), st.booleans())
def test_one_result_per_order_action(
    actions: list[Any], replies: list[Any], orders_fail: bool
) -> None:
    client = HyperliquidClient(
        ClientSettings(resolve_endpoint("testnet"), account=USER, max_order_notional=20_000.0), KEY
    )
    script = list(replies)

    async def post_action(action: dict[str, Any]) -> ExchangeReply:
        status, body = script.pop(0)
        text = body if isinstance(body, str) else json.dumps(body)
        try:
            return parse_exchange_http(status, text)
        except VenueError as exc:  # what the real client does with an unreadable reply
            return ExchangeReply(
                status, "http", unknown=True, error=ClassifiedError(RejectReason.NONE, str(exc))
            )

    async def open_orders() -> list[inf.OpenOrderRow]:
        if orders_fail:
            raise VenueError("Hyperliquid info openOrders: HTTP 502")
        return inf.parse_open_orders(
            [
                {
                    "coin": "BTC",
                    "side": "B",
                    "limitPx": "1",
                    "sz": "1",
                    "oid": 5,
                    "timestamp": 1,
                    "origSz": "1",
                }
            ]
        )

    client.post_action = post_action  # type: ignore[method-assign]
    client.open_orders = open_orders  # type: ignore[method-assign]
    events = asyncio.run(client.execute(actions, BTC))
    results = [e for e in events if isinstance(e, ActionResult)]
    assert sorted(r.request_id for r in results) == sorted(a.request_id for a in actions)
    for r in results:
        assert isinstance(r.outcome, Outcome)
        if r.outcome is Outcome.FILLED:
            assert r.filled_sz > 0 and r.avg_px > 0
