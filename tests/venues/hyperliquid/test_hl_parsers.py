"""Parsers of /info, /exchange and WebSocket replies: canned shapes and random JSON."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.venues.hyperliquid.hl_canned import (
    CLEARINGHOUSE,
    CLOID1,
    CLOID2,
    DEFAULT_OK,
    L2BOOK,
    META,
    OPEN_ORDERS,
    ORDER_STATUS,
    RATE_LIMIT,
    cancel_ok,
    err,
    fill,
    order_ok,
)

from mmkit.core.events import BBO, BookSnapshot, OrderStatus, OwnFill, Trade
from mmkit.core.outcomes import Outcome
from mmkit.core.outcomes import RejectReason as R
from mmkit.core.types import Side
from mmkit.errors import VenueError
from mmkit.venues.hyperliquid import info, replies, stream
from mmkit.venues.hyperliquid.replies import Pending

# ------------------------------------------------------------------ /info


def test_meta() -> None:
    m = info.parse_meta(META)
    assert [(a.asset, a.name, a.sz_decimals) for a in m] == [
        (0, "BTC", 5),
        (1, "ETH", 4),
        (2, "LOOM", 1),
    ]
    assert m[2].delisted and not m[0].delisted
    inst = info.find_asset(m, "ETH").instrument(ref_px=2000.0)
    assert inst.asset == 1 and inst.sz_decimals == 4 and inst.tick == pytest.approx(0.1)
    with pytest.raises(VenueError, match="'DOGE'"):
        info.find_asset(m, "DOGE")


def test_l2book() -> None:
    b = info.parse_l2_book(L2BOOK)
    assert isinstance(b, BookSnapshot) and b.ts == 1754450974231 * 1_000_000
    assert list(b.bid_px) == [113377.0, 113376.0] and list(b.ask_sz) == [0.11543]


def test_clearinghouse() -> None:
    s = info.parse_clearinghouse_state(CLEARINGHOUSE, "ETH")
    assert (s.position, s.entry_px, s.leverage, s.leverage_type) == (0.0335, 2986.3, 20, "isolated")
    flat = info.parse_clearinghouse_state(CLEARINGHOUSE, "BTC")
    assert flat.position == 0.0 and flat.account_value == 13109.48
    snap = s.snapshot(open_orders=())
    assert snap.position == 0.0335 and snap.open_orders == ()


def test_open_orders() -> None:
    rows = info.parse_open_orders(OPEN_ORDERS)
    btc = info.orders_of(rows, "BTC")
    assert [o.oid for o in btc] == [91490942, 91490943]
    assert btc[0].cloid == CLOID1 and btc[1].cloid is None and btc[0].side is Side.SELL
    assert rows[1].reduce_only and btc[0].sz == 0.5 and btc[0].orig_sz == 5.0


def test_user_fills() -> None:
    fills = info.parse_user_fills(
        [fill(2, time=20), fill(1, time=10, cloid=CLOID2), fill(3, coin="ETH")], coin="BTC"
    )
    assert [f.tid for f in fills] == [1, 2]
    assert fills[0].cloid == CLOID2 and fills[0].fee == -0.01 and fills[0].side is Side.BUY


def test_order_status() -> None:
    u = info.parse_order_status(ORDER_STATUS)
    assert u is not None and u.status is OrderStatus.FILLED and u.oid == 7
    assert u.cloid == CLOID1 and u.raw_status == "filled"
    assert info.parse_order_status({"status": "unknownOid"}) is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("open", OrderStatus.OPEN),
        ("filled", OrderStatus.FILLED),
        ("canceled", OrderStatus.CANCELED),
        ("marginCanceled", OrderStatus.OTHER_CANCELED),
        ("scheduledCancel", OrderStatus.OTHER_CANCELED),
        ("badAloPxRejected", OrderStatus.REJECTED),
        ("reduceOnlyCanceled", OrderStatus.OTHER_CANCELED),
        ("rejected", OrderStatus.REJECTED),
        ("selfTradeCanceled", OrderStatus.OTHER_CANCELED),
        ("minTradeNtlRejected", OrderStatus.REJECTED),
        ("triggered", OrderStatus.OPEN),
    ],
)
def test_order_status_map(raw: str, status: OrderStatus) -> None:
    assert info.order_status_of(raw) is status


def test_rate_limit() -> None:
    r = info.parse_user_rate_limit(RATE_LIMIT)
    assert r.remaining == 2864574 - 2890


@pytest.mark.parametrize(
    ("fn", "bad", "field"),
    [
        (
            info.parse_meta,
            {"universe": [{"name": "BTC", "szDecimals": "5", "maxLeverage": 1}]},
            "universe[0].szDecimals",
        ),
        (
            info.parse_l2_book,
            {"coin": "BTC", "time": 1, "levels": [[{"px": "x", "sz": "1"}], []]},
            "levels[0][0].px",
        ),
        (info.parse_open_orders, [{**OPEN_ORDERS[0], "side": "Q"}], "[0].side"),
        (info.parse_order_status, {"status": "order"}, "order"),
    ],
)
def test_errors_name_endpoint_and_field(fn: Any, bad: object, field: str) -> None:
    with pytest.raises(VenueError) as e:
        fn(bad)
    assert field in str(e.value)


# ------------------------------------------------------------------ /exchange

P3 = [Pending(1, CLOID1), Pending(2, CLOID2), Pending(3, None, 99)]


def test_order_statuses() -> None:
    rep = replies.parse_exchange_json(
        order_ok(
            {"resting": {"oid": 77738308, "cloid": CLOID1}},
            {"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 77747314}},
            {"error": "Post only order would have immediately matched, bbo was 1@2. asset=0"},
        )
    )
    res = replies.results_of(rep, P3, ts=5)
    assert [r.outcome for r in res] == [Outcome.RESTING, Outcome.FILLED, Outcome.REJECTED]
    assert res[0].oid == 77738308 and res[1].filled_sz == 0.02 and res[1].avg_px == 1891.4
    assert res[1].cloid == CLOID2 and res[2].reason is R.POST_ONLY_WOULD_CROSS
    assert [r.request_id for r in res] == [1, 2, 3]


def test_waiting_and_cancel_statuses() -> None:
    rep = replies.parse_exchange_json(
        cancel_ok(
            "success", {"error": "Order was never placed, already canceled, or filled. asset=4"}
        )
    )
    res = replies.results_of(rep, P3[:2], ts=0)
    assert res[0].outcome is Outcome.CANCELED
    assert res[1].outcome is Outcome.REJECTED and res[1].reason is R.ORDER_GONE
    rep = replies.parse_exchange_json(order_ok("waitingForFill", "waitingForTrigger"))
    assert [s.kind for s in rep.statuses] == ["waitingForFill", "waitingForTrigger"]


def test_batch_modify_statuses() -> None:
    rep = replies.parse_exchange_json(
        order_ok(
            {"resting": {"oid": 1001}},
            {"error": "Cannot modify canceled or filled order"},
            {"error": "Error placing new order during modify: Order has invalid price."},
        )
    )
    res = replies.results_of(rep, P3, ts=0)
    assert res[0].outcome is Outcome.RESTING and res[0].oid == 1001 and res[0].cloid == CLOID1
    assert res[1].reason is R.MODIFY_TARGET_CANCELED and res[2].reason is R.MODIFY_PLACE_FAILED


def test_top_level_err_applies_to_all() -> None:
    rep = replies.parse_exchange_json(err("Invalid nonce: duplicate nonce 1700000000000"))
    res = replies.results_of(rep, P3, ts=0)
    assert all(r.outcome is Outcome.REJECTED and r.reason is R.NONCE for r in res)


def test_single_prevalidation_error_applies_to_batch() -> None:
    rep = replies.parse_exchange_json(order_ok({"error": "Order has invalid size."}))
    res = replies.results_of(rep, P3, ts=0)
    assert [r.reason for r in res] == [R.INVALID_SIZE] * 3


def test_short_status_list_leaves_rest_unknown() -> None:
    rep = replies.parse_exchange_json(order_ok({"resting": {"oid": 1}}, {"resting": {"oid": 2}}))
    res = replies.results_of(rep, P3, ts=0)
    assert [r.outcome for r in res] == [Outcome.RESTING, Outcome.RESTING, Outcome.UNKNOWN]


def test_default_reply() -> None:
    rep = replies.parse_exchange_json(DEFAULT_OK)
    assert rep.ok and rep.kind == "default"


@pytest.mark.parametrize(
    ("status", "text", "retry", "reason", "outcome", "after"),
    [
        (429, "", "7", R.RATE_LIMITED_IP, Outcome.REJECTED, 7.0),
        (429, "too many", None, R.RATE_LIMITED_IP, Outcome.REJECTED, None),
        (
            422,
            "Failed to deserialize the JSON body into the target type: unknown variant",
            None,
            R.SCHEMA,
            Outcome.REJECTED,
            None,
        ),
        (500, "internal", None, R.SERVER, Outcome.UNKNOWN, None),
        (502, "", None, R.SERVER, Outcome.UNKNOWN, None),
    ],
)
def test_http_errors(
    status: int, text: str, retry: str | None, reason: R, outcome: Outcome, after: float | None
) -> None:
    rep = replies.parse_exchange_http(status, text, retry)
    assert rep.retry_after_s == after
    res = replies.results_of(rep, P3[:1], ts=0)
    assert res[0].reason is reason and res[0].outcome is outcome


def test_http_200_not_json() -> None:
    with pytest.raises(VenueError, match="exchange"):
        replies.parse_exchange_http(200, "<html>")


# ------------------------------------------------------------------ websocket


def test_ws_l2book_trades_bbo() -> None:
    m = stream.parse_ws_text(json.dumps({"channel": "l2Book", "data": L2BOOK}), "BTC", 9)
    assert isinstance(m.events[0], BookSnapshot) and m.events[0].local_ts == 9
    assert (
        stream.parse_ws_obj({"channel": "l2Book", "data": {**L2BOOK, "coin": "ETH"}}, "BTC").events
        == ()
    )
    t = stream.parse_ws_obj(
        {
            "channel": "trades",
            "data": [
                {
                    "coin": "BTC",
                    "side": "A",
                    "px": "100",
                    "sz": "2",
                    "hash": "0x",
                    "time": 5,
                    "tid": 3,
                    "users": ["0xa", "0xb"],
                },
                {"coin": "ETH", "side": "A", "px": "1", "sz": "1", "time": 5, "tid": 4},
            ],
        },
        "BTC",
    )
    assert len(t.events) == 1 and isinstance(t.events[0], Trade)
    assert t.events[0].side is Side.SELL and t.events[0].tid == 3
    b = stream.parse_ws_obj(
        {
            "channel": "bbo",
            "data": {
                "coin": "BTC",
                "time": 5,
                "bbo": [{"px": "99", "sz": "1", "n": 1}, {"px": "101", "sz": "2", "n": 1}],
            },
        },
        "BTC",
    )
    assert isinstance(b.events[0], BBO) and b.events[0].ask_px == 101
    half = {"channel": "bbo", "data": {"coin": "BTC", "time": 5, "bbo": [None, {"px": "1"}]}}
    one_sided = stream.parse_ws_obj(half, "BTC")
    assert one_sided.events == ()


def test_ws_user_channels() -> None:
    u = stream.parse_ws_obj({"channel": "orderUpdates", "data": [ORDER_STATUS["order"]]}, "BTC")
    assert u.events[0].status is OrderStatus.FILLED  # type: ignore[union-attr]
    f = stream.parse_ws_obj(
        {
            "channel": "userFills",
            "data": {"isSnapshot": True, "user": "0x", "fills": [fill(1), fill(2, coin="ETH")]},
        },
        "BTC",
    )
    assert f.snapshot and len(f.events) == 1 and isinstance(f.events[0], OwnFill)
    e = stream.parse_ws_obj({"channel": "user", "data": {"fills": [fill(3)]}}, "BTC")
    assert len(e.events) == 1
    n = stream.parse_ws_obj(
        {
            "channel": "user",
            "data": {"nonUserCancel": [{"coin": "BTC", "oid": 12}, {"coin": "ETH", "oid": 13}]},
        },
        "BTC",
    )
    assert n.non_user_cancels == (12,)


def test_ws_control() -> None:
    assert stream.parse_ws_text("Websocket connection established.", "BTC").channel == "greeting"
    assert stream.parse_ws_obj({"channel": "pong"}, "BTC").events == ()
    e = stream.parse_ws_obj({"channel": "error", "data": "Invalid subscription {}"}, "BTC")
    assert e.error and "Invalid subscription" in e.error
    with pytest.raises(VenueError):
        stream.parse_ws_text("not json", "BTC")


# ------------------------------------------------------------------ random JSON

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["B", "A", "BTC", "1.5", "nan", "inf", "-0", "order", "ok", "err", "filled", "resting"]
    ),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "coin",
                    "px",
                    "sz",
                    "side",
                    "time",
                    "tid",
                    "oid",
                    "levels",
                    "data",
                    "status",
                    "response",
                    "type",
                    "statuses",
                    "universe",
                    "name",
                    "szDecimals",
                    "maxLeverage",
                    "order",
                    "statusTimestamp",
                    "limitPx",
                    "origSz",
                    "timestamp",
                    "fills",
                    "isSnapshot",
                    "channel",
                    "bbo",
                    "assetPositions",
                    "position",
                    "szi",
                    "marginSummary",
                    "accountValue",
                    "withdrawable",
                    "cumVlm",
                    "nRequestsUsed",
                    "nRequestsCap",
                    "resting",
                    "filled",
                    "error",
                    "totalSz",
                    "avgPx",
                    "cloid",
                    "crossed",
                    "fee",
                    "nonUserCancel",
                ]
            ),
            kids,
            max_size=6,
        )
    ),
    max_leaves=25,
)

PARSERS: list[Any] = [
    info.parse_meta,
    info.parse_l2_book,
    lambda o: info.parse_clearinghouse_state(o, "BTC"),
    info.parse_open_orders,
    info.parse_user_fills,
    info.parse_order_status,
    info.parse_user_rate_limit,
    replies.parse_exchange_json,
    lambda o: stream.parse_ws_obj(o, "BTC"),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(PARSERS))), json_values)
def test_random_json_never_crashes(which: int, obj: object) -> None:
    with contextlib.suppress(VenueError):
        PARSERS[which](obj)


@settings(max_examples=100, deadline=None)
@given(st.integers(100, 599), st.text(max_size=40), st.one_of(st.none(), st.text(max_size=6)))
def test_random_http_never_crashes(status: int, text: str, retry: str | None) -> None:
    try:
        rep = replies.parse_exchange_http(status, text, retry)
    except VenueError:
        assert status == 200
        return
    assert rep.ok == (rep.error is None)
    res = replies.results_of(rep, P3, ts=0)
    assert len(res) == 3


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["l2Book", "trades", "bbo", "orderUpdates", "userFills", "user"]), json_values
)
def test_random_ws_payloads_never_crash(channel: str, data: object) -> None:
    with contextlib.suppress(VenueError):
        stream.parse_ws_obj({"channel": channel, "data": data}, "BTC")


# ------------------------------------------------------------------ mutated valid replies

CANNED: list[tuple[Any, Any]] = [
    (info.parse_meta, META),
    (info.parse_l2_book, L2BOOK),
    (lambda o: info.parse_clearinghouse_state(o, "ETH"), CLEARINGHOUSE),
    (info.parse_open_orders, OPEN_ORDERS),
    (info.parse_user_fills, [fill(1), fill(2, cloid=CLOID1)]),
    (info.parse_order_status, ORDER_STATUS),
    (info.parse_user_rate_limit, RATE_LIMIT),
    (
        replies.parse_exchange_json,
        order_ok(
            {"resting": {"oid": 1}},
            {"filled": {"totalSz": "1", "avgPx": "2", "oid": 3}},
            {"error": "Order has invalid size."},
        ),
    ),
    (
        lambda o: stream.parse_ws_obj(o, "BTC"),
        {"channel": "orderUpdates", "data": [ORDER_STATUS["order"]]},
    ),
    (
        lambda o: stream.parse_ws_obj(o, "BTC"),
        {"channel": "userFills", "data": {"isSnapshot": True, "fills": [fill(1)]}},
    ),
    (
        lambda o: stream.parse_ws_obj(o, "BTC"),
        {
            "channel": "bbo",
            "data": {
                "coin": "BTC",
                "time": 5,
                "bbo": [{"px": "1", "sz": "1"}, {"px": "2", "sz": "1"}],
            },
        },
    ),
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        copy = dict(doc)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _mutate(doc[head], rest, new, delete)
        return copy
    copy_l = list(doc)
    if delete and not rest:
        del copy_l[head]
    else:
        copy_l[head] = _mutate(doc[head], rest, new, delete)
    return copy_l


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_valid_replies_never_crash(data: st.DataObject) -> None:
    parser, doc = data.draw(st.sampled_from(CANNED))
    path = data.draw(st.sampled_from(_paths(doc)))
    new = data.draw(json_values)
    delete = data.draw(st.booleans())
    with contextlib.suppress(VenueError):
        parser(_mutate(doc, path, new, delete))


@pytest.mark.parametrize(("parser", "doc"), CANNED)
def test_canned_replies_parse(parser: Any, doc: Any) -> None:
    parser(doc)
