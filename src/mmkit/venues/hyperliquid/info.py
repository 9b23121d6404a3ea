"""Parsers of ``POST /info`` replies (reference §2) into typed values and mmkit events.

Every parser either returns a typed value or raises :class:`~mmkit.errors.VenueError`
(a :class:`~mmkit.venues.hyperliquid._json.ReplyError`) naming the endpoint and the field.
Timestamps (venue ms) become integer nanoseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mmkit import rounding
from mmkit.core.events import (
    BookSnapshot,
    OpenOrder,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    levels,
)
from mmkit.core.types import Instrument
from mmkit.venues.hyperliquid._json import Reader


@dataclass(frozen=True, slots=True)
class AssetMeta:
    asset: int
    name: str
    sz_decimals: int
    max_leverage: int
    delisted: bool = False

    def instrument(self, ref_px: float | None = None, min_notional: float = 10.0) -> Instrument:
        """An :class:`Instrument` for this perp. Valid prices have no fixed tick (5
        significant figures); ``tick`` is the grid step at ``ref_px`` when given, else the
        finest decimal step the asset allows."""
        if ref_px is not None and ref_px > 0:
            tick = rounding.price_step(ref_px, self.sz_decimals)
        else:
            tick = 10.0 ** -max(0, rounding.PERP_MAX_DECIMALS - self.sz_decimals)
        return Instrument(
            coin=self.name,
            asset=self.asset,
            sz_decimals=self.sz_decimals,
            max_decimals=rounding.PERP_MAX_DECIMALS,
            tick=tick,
            min_notional=min_notional,
            max_leverage=max(1, self.max_leverage),
        )


@dataclass(frozen=True, slots=True)
class AccountState:
    """``clearinghouseState`` for one coin: its signed position and the account's margin."""

    ts: int
    position: float
    entry_px: float
    account_value: float
    withdrawable: float
    leverage: int = 0
    leverage_type: str = ""

    def snapshot(
        self,
        open_orders: tuple[OpenOrder, ...] | None = None,
        local_ts: int = -1,
        startup: bool = False,
    ) -> PositionSnapshot:
        return PositionSnapshot(
            ts=self.ts,
            position=self.position,
            entry_px=self.entry_px,
            open_orders=open_orders,
            local_ts=local_ts,
            startup=startup,
            account_value=self.account_value,
        )


@dataclass(frozen=True, slots=True)
class OpenOrderRow:
    """An ``openOrders`` row; ``order`` is the mmkit view of it."""

    coin: str
    order: OpenOrder
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class RateLimitState:
    cum_volume: float
    used: int
    cap: int
    surplus: int

    @property
    def remaining(self) -> int:
        return self.cap - self.used


# venue order states (orderStatus / orderUpdates) -> mmkit status
_STATUS_MAP: dict[str, OrderStatus] = {
    "open": OrderStatus.OPEN,
    "triggered": OrderStatus.OPEN,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}


def order_status_of(raw: str) -> OrderStatus:
    """Map a venue order state (``open``, ``filled``, ``marginCanceled``, ...) to mmkit's."""
    known = _STATUS_MAP.get(raw)
    if known is not None:
        return known
    if raw.endswith("Rejected"):
        return OrderStatus.REJECTED
    if raw.endswith("Canceled") or raw == "scheduledCancel":
        return OrderStatus.OTHER_CANCELED
    return OrderStatus.OTHER_CANCELED if "cancel" in raw.lower() else OrderStatus.REJECTED


def parse_meta(obj: object) -> list[AssetMeta]:
    rd = Reader("meta")
    top = rd.obj(obj, "")
    universe = rd.arr(rd.get(top, "universe", ""), "universe")
    out = []
    for i, raw in enumerate(universe):
        path = f"universe[{i}]"
        row = rd.obj(raw, path)
        szd = rd.integer(row, "szDecimals", path)
        if not 0 <= szd <= 6:
            raise rd.fail(f"{path}.szDecimals", f"{szd} outside [0, 6]")
        lev = rd.integer(row, "maxLeverage", path)
        out.append(
            AssetMeta(
                i, rd.string(row, "name", path), szd, lev, rd.boolean(row, "isDelisted", path)
            )
        )
    return out


def find_asset(meta: Sequence[AssetMeta], coin: str) -> AssetMeta:
    for a in meta:
        if a.name == coin:
            return a
    from mmkit.errors import VenueError

    names = ", ".join(a.name for a in meta[:20])
    raise VenueError(f"Hyperliquid meta: coin {coin!r} is not in the universe ({names}, ...)")


def _levels(rd: Reader, raw: object, path: str) -> tuple[list[float], list[float]]:
    px: list[float] = []
    sz: list[float] = []
    for j, lv in enumerate(rd.arr(raw, path)):
        lp = f"{path}[{j}]"
        row = rd.obj(lv, lp)
        p = rd.decimal(row, "px", lp)
        s = rd.decimal(row, "sz", lp)
        if p <= 0 or s < 0:
            raise rd.fail(lp, f"price {p} must be > 0 and size {s} >= 0")
        px.append(p)
        sz.append(s)
    return px, sz


def parse_l2_book(obj: object, endpoint: str = "l2Book", local_ts: int = -1) -> BookSnapshot:
    rd = Reader(endpoint)
    top = rd.obj(obj, "")
    ts = rd.time_ns(top, "time", "")
    sides = rd.arr(rd.get(top, "levels", ""), "levels")
    if len(sides) != 2:
        raise rd.fail("levels", f"expected [bids, asks], got {len(sides)} sides")
    bp, bs = _levels(rd, sides[0], "levels[0]")
    ap, as_ = _levels(rd, sides[1], "levels[1]")
    return BookSnapshot(
        ts=ts,
        bid_px=levels(bp),
        bid_sz=levels(bs),
        ask_px=levels(ap),
        ask_sz=levels(as_),
        local_ts=local_ts,
    )


def parse_clearinghouse_state(obj: object, coin: str) -> AccountState:
    """The position in ``coin`` (0 when absent: a flat coin has no entry)."""
    rd = Reader("clearinghouseState")
    top = rd.obj(obj, "")
    ts = rd.time_ns(top, "time", "")
    summary = rd.obj(rd.get(top, "marginSummary", ""), "marginSummary")
    account_value = rd.decimal(summary, "accountValue", "marginSummary")
    withdrawable = rd.decimal(top, "withdrawable", "")
    position = 0.0
    entry_px = 0.0
    leverage = 0
    lev_type = ""
    for i, raw in enumerate(rd.arr(rd.get(top, "assetPositions", ""), "assetPositions")):
        path = f"assetPositions[{i}]"
        pos = rd.obj(rd.get(rd.obj(raw, path), "position", path), path + ".position")
        path += ".position"
        if rd.string(pos, "coin", path) != coin:
            continue
        position = rd.decimal(pos, "szi", path)
        entry = pos.get("entryPx")
        entry_px = rd.decimal(pos, "entryPx", path) if entry is not None else 0.0
        lev = pos.get("leverage")
        if isinstance(lev, Mapping):
            leverage = rd.integer(lev, "value", path + ".leverage")
            lev_type = rd.string(lev, "type", path + ".leverage")
    return AccountState(ts, position, entry_px, account_value, withdrawable, leverage, lev_type)


def _order_row(rd: Reader, raw: object, path: str) -> tuple[str, OpenOrder, bool]:
    row = rd.obj(raw, path)
    coin = rd.string(row, "coin", path)
    order = OpenOrder(
        oid=rd.integer(row, "oid", path),
        cloid=rd.cloid(row, "cloid", path),
        side=rd.side(row, "side", path),
        px=rd.decimal(row, "limitPx", path),
        sz=rd.decimal(row, "sz", path),
        orig_sz=rd.decimal(row, "origSz", path),
        ts=rd.time_ns(row, "timestamp", path),
    )
    return coin, order, rd.boolean(row, "reduceOnly", path)


def parse_open_orders(obj: object, endpoint: str = "openOrders") -> list[OpenOrderRow]:
    rd = Reader(endpoint)
    out = []
    for i, raw in enumerate(rd.arr(obj, "")):
        coin, order, ro = _order_row(rd, raw, f"[{i}]")
        out.append(OpenOrderRow(coin, order, ro))
    return out


def orders_of(rows: Sequence[OpenOrderRow], coin: str) -> tuple[OpenOrder, ...]:
    return tuple(r.order for r in rows if r.coin == coin)


def parse_fill(rd: Reader, raw: object, path: str, local_ts: int = -1) -> tuple[str, OwnFill]:
    row = rd.obj(raw, path)
    coin = rd.string(row, "coin", path)
    fee = rd.decimal(row, "fee", path) if "fee" in row else 0.0
    fill = OwnFill(
        ts=rd.time_ns(row, "time", path),
        oid=rd.integer(row, "oid", path),
        cloid=rd.cloid(row, "cloid", path),
        side=rd.side(row, "side", path),
        px=rd.decimal(row, "px", path),
        sz=rd.decimal(row, "sz", path),
        fee=fee,
        tid=rd.integer(row, "tid", path),
        crossed=rd.boolean(row, "crossed", path),
        local_ts=local_ts,
        liquidation=row.get("liquidation") is not None,
    )
    if fill.px <= 0 or fill.sz <= 0:
        raise rd.fail(path, f"fill price {fill.px} and size {fill.sz} must be > 0")
    return coin, fill


def parse_user_fills(
    obj: object, coin: str | None = None, endpoint: str = "userFills"
) -> list[OwnFill]:
    """Fills (of ``coin`` if given), oldest first."""
    rd = Reader(endpoint)
    out = []
    for i, raw in enumerate(rd.arr(obj, "")):
        c, fill = parse_fill(rd, raw, f"[{i}]")
        if coin is None or c == coin:
            out.append(fill)
    out.sort(key=lambda f: (f.ts, f.tid))
    return out


def order_update_of(
    rd: Reader, raw: object, path: str, local_ts: int = -1
) -> tuple[str, OrderUpdate]:
    """``{order: {...}, status, statusTimestamp}`` (orderStatus and WS orderUpdates)."""
    row = rd.obj(raw, path)
    coin, order, _ = _order_row(rd, rd.get(row, "order", path), path + ".order")
    status = rd.string(row, "status", path)
    update = OrderUpdate(
        ts=rd.time_ns(row, "statusTimestamp", path),
        oid=order.oid,
        cloid=order.cloid,
        status=order_status_of(status),
        side=order.side,
        px=order.px,
        sz=order.sz,
        orig_sz=order.orig_sz,
        local_ts=local_ts,
        raw_status=status,
    )
    return coin, update


def parse_order_status(obj: object) -> OrderUpdate | None:
    """The order's latest state, or ``None`` for ``unknownOid`` (never placed, or forgotten
    after ~2000 newer orders: resolve by fills)."""
    rd = Reader("orderStatus")
    top = rd.obj(obj, "")
    status = rd.string(top, "status", "")
    if status == "unknownOid":
        return None
    if status != "order":
        raise rd.fail("status", f"expected 'order' or 'unknownOid', got {status!r}")
    return order_update_of(rd, rd.get(top, "order", ""), "order")[1]


def parse_user_rate_limit(obj: object) -> RateLimitState:
    rd = Reader("userRateLimit")
    top = rd.obj(obj, "")
    return RateLimitState(
        cum_volume=rd.decimal(top, "cumVlm", ""),
        used=rd.integer(top, "nRequestsUsed", ""),
        cap=rd.integer(top, "nRequestsCap", ""),
        surplus=rd.integer(top, "nRequestsSurplus", "") if "nRequestsSurplus" in top else 0,
    )


def info_body(kind: str, **fields: Any) -> dict[str, Any]:
    """An /info request body with ``type`` first (fields with value None are left out)."""
    body: dict[str, Any] = {"type": kind}
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


__all__ = [
    "AccountState",
    "AssetMeta",
    "OpenOrderRow",
    "RateLimitState",
    "find_asset",
    "info_body",
    "order_status_of",
    "order_update_of",
    "orders_of",
    "parse_clearinghouse_state",
    "parse_fill",
    "parse_l2_book",
    "parse_meta",
    "parse_open_orders",
    "parse_order_status",
    "parse_user_fills",
    "parse_user_rate_limit",
]
