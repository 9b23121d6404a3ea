"""Parsers of WebSocket messages (reference §4) into mmkit events.

``parse_ws_text`` turns one frame into a :class:`WsMessage`: the channel and the events it
carries for our coin (other coins are filtered out). Control messages (``pong``,
``subscriptionResponse``, the plain-text greeting) carry no events; a ``channel: "error"``
message is surfaced as :attr:`WsMessage.error` (a rejected subscription is fatal).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from mmkit import safejson
from mmkit.core.events import BBO, BookSnapshot, Event, OrderUpdate, OwnFill, Trade
from mmkit.venues.hyperliquid._json import Reader
from mmkit.venues.hyperliquid.info import order_update_of, parse_fill, parse_l2_book

GREETING = "Websocket connection established."


@dataclass(frozen=True, slots=True)
class WsMessage:
    channel: str
    events: tuple[Event, ...] = ()
    error: str | None = None
    snapshot: bool = False  # userFills snapshot (isSnapshot: true)
    non_user_cancels: tuple[int, ...] = ()  # oids from userEvents nonUserCancel


def _trades(rd: Reader, data: object, coin: str, local_ts: int) -> tuple[Trade, ...]:
    out = []
    for i, raw in enumerate(rd.arr(data, "data")):
        path = f"data[{i}]"
        row = rd.obj(raw, path)
        if rd.string(row, "coin", path) != coin:
            continue
        px = rd.decimal(row, "px", path)
        sz = rd.decimal(row, "sz", path)
        if px <= 0 or sz <= 0:
            raise rd.fail(path, f"trade price {px} and size {sz} must be > 0")
        # tid is optional for us (-1 when absent) but, when present, must be a 64-bit integer
        tid = rd.integer(row, "tid", path) if row.get("tid") is not None else -1
        out.append(
            Trade(
                ts=rd.time_ns(row, "time", path),
                px=px,
                sz=sz,
                side=rd.side(row, "side", path),
                local_ts=local_ts,
                tid=tid,
            )
        )
    return tuple(out)


def _bbo(rd: Reader, data: object, coin: str, local_ts: int) -> tuple[BBO, ...]:
    top = rd.obj(data, "data")
    if rd.string(top, "coin", "data") != coin:
        return ()
    pair = rd.arr(rd.get(top, "bbo", "data"), "data.bbo")
    if len(pair) != 2:
        raise rd.fail("data.bbo", f"expected [bid, ask], got {len(pair)} entries")
    vals: list[float] = []
    for j, lv in enumerate(pair):
        if lv is None:
            return ()  # a one-sided book has no BBO event (the l2Book snapshot shows it)
        row = rd.obj(lv, f"data.bbo[{j}]")
        vals += [rd.decimal(row, "px", f"data.bbo[{j}]"), rd.decimal(row, "sz", f"data.bbo[{j}]")]
    return (
        BBO(
            ts=rd.time_ns(top, "time", "data"),
            bid_px=vals[0],
            bid_sz=vals[1],
            ask_px=vals[2],
            ask_sz=vals[3],
            local_ts=local_ts,
        ),
    )


def _fills(rd: Reader, raw: object, path: str, coin: str, local_ts: int) -> tuple[OwnFill, ...]:
    out = []
    for i, f in enumerate(rd.arr(raw, path)):
        c, fill = parse_fill(rd, f, f"{path}[{i}]", local_ts)
        if c == coin:
            out.append(fill)
    return tuple(out)


def _order_updates(rd: Reader, data: object, coin: str, local_ts: int) -> tuple[OrderUpdate, ...]:
    out = []
    for i, raw in enumerate(rd.arr(data, "data")):
        c, upd = order_update_of(rd, raw, f"data[{i}]", local_ts)
        if c == coin:
            out.append(upd)
    return tuple(out)


def _user_events(rd: Reader, data: object, coin: str, local_ts: int) -> WsMessage:
    top = rd.obj(data, "data")
    if "fills" in top:
        return WsMessage("user", _fills(rd, top["fills"], "data.fills", coin, local_ts))
    if "nonUserCancel" in top:
        oids = []
        for i, raw in enumerate(rd.arr(top["nonUserCancel"], "data.nonUserCancel")):
            row = rd.obj(raw, f"data.nonUserCancel[{i}]")
            if rd.string(row, "coin", f"data.nonUserCancel[{i}]") == coin:
                oids.append(rd.integer(row, "oid", f"data.nonUserCancel[{i}]"))
        return WsMessage("user", non_user_cancels=tuple(oids))
    return WsMessage("user")  # funding, liquidation: no event of ours


def _error_text(data: object) -> str:
    """The venue's error text, bounded (``data`` may be any JSON value)."""
    if isinstance(data, str):
        return data[:500]
    try:
        return json.dumps(data, allow_nan=False)[:500]
    except (ValueError, TypeError, RecursionError):
        return f"<unprintable {type(data).__name__}>"


def parse_ws_obj(obj: object, coin: str, local_ts: int = -1) -> WsMessage:
    """The events of one decoded frame for ``coin``; :class:`ReplyError` (a VenueError)
    naming the channel and field for anything else.

    ``obj`` may come from any decoder: nesting deeper than
    :data:`~mmkit.safejson.MAX_DEPTH` is refused here too.
    """
    try:
        safejson.check_depth(obj)
    except safejson.JsonRefused as exc:
        raise Reader("websocket").fail("", str(exc)) from None
    msg = _parse_ws_obj(obj, coin, local_ts)
    for ev in msg.events:
        _check_finite(ev, msg.channel)
    return msg


def _check_finite(ev: Event, channel: str) -> None:
    """Second line of defence: no NaN/inf price or size leaves the parser."""
    for name in ("px", "sz", "bid_px", "bid_sz", "ask_px", "ask_sz", "fee"):
        v = getattr(ev, name, None)
        if v is None:
            continue
        if isinstance(v, float):
            ok = math.isfinite(v)
        else:
            try:
                ok = all(math.isfinite(float(x)) for x in v)
            except TypeError:
                ok = True
        if not ok:
            raise Reader(f"websocket {channel}").fail(name, "not finite")


def _parse_ws_obj(obj: object, coin: str, local_ts: int) -> WsMessage:
    rd = Reader("websocket")
    top = rd.obj(obj, "")
    channel = rd.string(top, "channel", "")
    data: Any = top.get("data")
    if channel in ("pong", "subscriptionResponse", "post"):
        return WsMessage(channel)
    if channel == "error":
        return WsMessage(channel, error=_error_text(data))
    rd = Reader(f"websocket {channel}")
    if channel == "l2Book":
        book = rd.obj(data, "data")
        if rd.string(book, "coin", "data") != coin:
            return WsMessage(channel)
        snap: BookSnapshot = parse_l2_book(book, f"websocket {channel}", local_ts)
        return WsMessage(channel, (snap,))
    if channel == "trades":
        return WsMessage(channel, _trades(rd, data, coin, local_ts))
    if channel == "bbo":
        return WsMessage(channel, _bbo(rd, data, coin, local_ts))
    if channel == "orderUpdates":
        return WsMessage(channel, _order_updates(rd, data, coin, local_ts))
    if channel == "userFills":
        top2 = rd.obj(data, "data")
        fills = _fills(rd, rd.get(top2, "fills", "data"), "data.fills", coin, local_ts)
        return WsMessage(channel, fills, snapshot=rd.boolean(top2, "isSnapshot", "data"))
    if channel == "user":
        return _user_events(rd, data, coin, local_ts)
    return WsMessage(channel)  # a channel we did not ask for: ignore


def parse_ws_text(text: str, coin: str, local_ts: int = -1) -> WsMessage:
    if text.strip() == GREETING:
        return WsMessage("greeting")
    obj = Reader("websocket").loads(text, "frame")
    return parse_ws_obj(obj, coin, local_ts)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One WS subscription; ``body`` is sent verbatim to subscribe and unsubscribe."""

    body: dict[str, Any] = field(default_factory=dict)

    def message(self, method: str = "subscribe") -> str:
        return json.dumps({"method": method, "subscription": self.body})


def market_subscriptions(coin: str, *, bbo: bool = True) -> list[Subscription]:
    subs = [
        Subscription({"type": "l2Book", "coin": coin}),
        Subscription({"type": "trades", "coin": coin}),
    ]
    if bbo:
        subs.append(Subscription({"type": "bbo", "coin": coin}))
    return subs


def user_subscriptions(user: str) -> list[Subscription]:
    """orderUpdates, userFills and userEvents (channel ``user``) for the master address."""
    return [
        Subscription({"type": "orderUpdates", "user": user}),
        Subscription({"type": "userFills", "user": user}),
        Subscription({"type": "userEvents", "user": user}),
    ]


__all__ = [
    "GREETING",
    "Subscription",
    "WsMessage",
    "market_subscriptions",
    "parse_ws_obj",
    "parse_ws_text",
    "user_subscriptions",
]
