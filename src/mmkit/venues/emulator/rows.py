"""JSON shapes of the venue's replies (reference §2 and §4), built from emulator records.

Prices and sizes are decimal strings without trailing zeros; ids and times are integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mmkit.core.events import BookSnapshot
from mmkit.core.types import Side, Tif

Json = dict[str, Any]
MAX_BOOK_LEVELS = 20


def num(x: float, decimals: int = 8) -> str:
    """A decimal string: at most ``decimals`` decimals, no trailing zeros, no exponent."""
    if not math.isfinite(x):
        return "0"
    s = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    if s in ("", "-0"):
        return "0"
    return s


@dataclass
class OrderRecord:
    """One order as the venue remembers it."""

    oid: int
    coin: str
    side: Side
    limit_px: float
    sz: float  # remaining
    orig_sz: float
    timestamp_ms: int
    cloid: str | None
    reduce_only: bool
    tif: Tif
    status: str = "open"
    status_ts_ms: int = 0

    def open_row(self) -> Json:
        row: Json = {
            "coin": self.coin,
            "side": self.side.wire,
            "limitPx": num(self.limit_px),
            "sz": num(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp_ms,
            "origSz": num(self.orig_sz),
        }
        if self.cloid is not None:
            row["cloid"] = self.cloid
        if self.reduce_only:
            row["reduceOnly"] = True
        return row

    def frontend_row(self) -> Json:
        return {
            "coin": self.coin,
            "side": self.side.wire,
            "limitPx": num(self.limit_px),
            "sz": num(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp_ms,
            "origSz": num(self.orig_sz),
            "triggerCondition": "N/A",
            "isTrigger": False,
            "triggerPx": "0.0",
            "children": [],
            "isPositionTpsl": False,
            "reduceOnly": self.reduce_only,
            "orderType": "Limit",
            "tif": self.tif.value,
            "cloid": self.cloid,
        }

    def update_row(self) -> Json:
        """An ``orderUpdates`` element (also the body of ``orderStatus``)."""
        return {
            "order": self.open_row(),
            "status": self.status,
            "statusTimestamp": self.status_ts_ms,
        }

    def status_reply(self) -> Json:
        return {
            "status": "order",
            "order": {
                "order": self.frontend_row(),
                "status": self.status,
                "statusTimestamp": self.status_ts_ms,
            },
        }


def fill_direction(start: float, signed: float) -> str:
    """Hyperliquid's ``dir`` of a perp fill from the position before it and its signed size."""
    end = start + signed
    if start == 0 or (start > 0 and signed > 0) or (start < 0 and signed < 0):
        return "Open Long" if signed > 0 else "Open Short"
    if (start > 0 and end < 0) or (start < 0 and end > 0):
        return "Long > Short" if start > 0 else "Short > Long"
    return "Close Long" if start > 0 else "Close Short"


def level_rows(px: Any, sz: Any, limit: int = MAX_BOOK_LEVELS) -> list[Json]:
    n = min(limit, len(px))
    return [{"px": num(float(px[i])), "sz": num(float(sz[i])), "n": 1} for i in range(n)]


def l2_book(coin: str, book: BookSnapshot | None, time_ms: int) -> Json:
    if book is None:
        return {"coin": coin, "time": time_ms, "levels": [[], []]}
    return {
        "coin": coin,
        "time": time_ms,
        "levels": [level_rows(book.bid_px, book.bid_sz), level_rows(book.ask_px, book.ask_sz)],
    }


def bbo(coin: str, book: BookSnapshot | None, time_ms: int) -> Json:
    pair: list[Json | None] = [None, None]
    if book is not None:
        if len(book.bid_px):
            pair[0] = level_rows(book.bid_px, book.bid_sz, 1)[0]
        if len(book.ask_px):
            pair[1] = level_rows(book.ask_px, book.ask_sz, 1)[0]
    return {"coin": coin, "time": time_ms, "bbo": pair}


def meta(coin: str, sz_decimals: int, max_leverage: int) -> Json:
    return {
        "universe": [{"name": coin, "szDecimals": sz_decimals, "maxLeverage": max_leverage}],
        "marginTables": [
            [
                max_leverage,
                {
                    "description": "",
                    "marginTiers": [{"lowerBound": "0.0", "maxLeverage": max_leverage}],
                },
            ]
        ],
        "collateralToken": 0,
    }


def asset_ctx(mid: float, volume_usd: float) -> Json:
    m = num(mid) if math.isfinite(mid) else None
    return {
        "dayNtlVlm": num(volume_usd, 2),
        "funding": "0.0000125",
        "impactPxs": [m, m] if m is not None else None,
        "markPx": m or "0",
        "midPx": m,
        "openInterest": "0",
        "oraclePx": m or "0",
        "premium": "0",
        "prevDayPx": m or "0",
        "dayBaseVlm": "0",
    }


__all__ = [
    "Json",
    "OrderRecord",
    "asset_ctx",
    "bbo",
    "fill_direction",
    "l2_book",
    "level_rows",
    "meta",
    "num",
]
