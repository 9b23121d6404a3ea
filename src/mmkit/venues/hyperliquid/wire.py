"""Building Hyperliquid action dicts in the official SDK's exact key order (reference §7.1).

The signature covers the msgpack bytes of these dicts, so the key order, the wire strings
(no trailing zeros) and the presence/absence of optional keys must match the SDK exactly:

* action ``order``: ``type, orders, grouping``; order wire ``a, b, p, s, r, t[, c]``
* ``cancel``: ``type, cancels: [{a, o}]``; ``cancelByCloid``: ``type, cancels: [{asset, cloid}]``
* ``batchModify``: ``type, modifies: [{oid, order}]``
* ``scheduleCancel``: ``type[, time]``; ``updateLeverage``: ``type, asset, isCross, leverage``

Prices and sizes of mmkit actions go through :mod:`mmkit.rounding` (a price is rounded
*passively*: bids down, asks up; a size down), then checked; an order that is invalid or
above the configured maximum notional is refused here, before anything is signed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mmkit import rounding
from mmkit.core.actions import Modify, Place, is_valid_cloid
from mmkit.core.outcomes import RejectReason
from mmkit.core.types import Instrument, Side, Tif

Json = dict[str, Any]


class LocalRefusal(Exception):
    """An order refused before signing; ``reason`` is what the executor is told."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# --------------------------------------------------------------------------------------
# raw builders (wire strings already made)
# --------------------------------------------------------------------------------------


def limit_type(tif: Tif | str) -> Json:
    value = tif.value if isinstance(tif, Tif) else tif
    if value not in ("Alo", "Gtc", "Ioc"):
        raise ValueError(f"time in force {tif!r} is not one of Alo, Gtc, Ioc")
    return {"limit": {"tif": value}}


def trigger_type(is_market: bool, trigger_px: str, tpsl: str) -> Json:
    if tpsl not in ("tp", "sl"):
        raise ValueError(f"tpsl {tpsl!r} is not 'tp' or 'sl'")
    return {"trigger": {"isMarket": is_market, "triggerPx": trigger_px, "tpsl": tpsl}}


def order_wire(
    asset: int,
    is_buy: bool,
    px: str,
    sz: str,
    reduce_only: bool,
    order_type: Json,
    cloid: str | None = None,
) -> Json:
    wire: Json = {"a": asset, "b": is_buy, "p": px, "s": sz, "r": reduce_only, "t": order_type}
    if cloid is not None:
        if not is_valid_cloid(cloid):
            raise ValueError(f"cloid {cloid!r} is not 0x + 32 hex digits")
        wire["c"] = cloid
    return wire


def order_action(
    orders: Sequence[Json], grouping: str | Json = "na", builder: Json | None = None
) -> Json:
    action: Json = {"type": "order", "orders": list(orders), "grouping": grouping}
    if builder is not None:
        action["builder"] = builder
    return action


def cancel_action(cancels: Sequence[tuple[int, int]]) -> Json:
    """``cancels`` as ``(asset, oid)`` pairs."""
    return {"type": "cancel", "cancels": [{"a": a, "o": o} for a, o in cancels]}


def cancel_by_cloid_action(cancels: Sequence[tuple[int, str]]) -> Json:
    """``cancels`` as ``(asset, cloid)`` pairs (note the long key names on the wire)."""
    for _, c in cancels:
        if not is_valid_cloid(c):
            raise ValueError(f"cloid {c!r} is not 0x + 32 hex digits")
    return {"type": "cancelByCloid", "cancels": [{"asset": a, "cloid": c} for a, c in cancels]}


def batch_modify_action(modifies: Sequence[tuple[int | str, Json]]) -> Json:
    """``modifies`` as ``(oid or cloid, order wire)`` pairs."""
    return {"type": "batchModify", "modifies": [{"oid": o, "order": w} for o, w in modifies]}


def schedule_cancel_action(time_ms: int | None) -> Json:
    """Arm the dead man's switch at ``time_ms`` (>= 5 s ahead), or clear it with ``None``."""
    action: Json = {"type": "scheduleCancel"}
    if time_ms is not None:
        action["time"] = int(time_ms)
    return action


def update_leverage_action(asset: int, is_cross: bool, leverage: int) -> Json:
    if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
        raise ValueError(f"leverage {leverage!r} must be a positive integer")
    return {"type": "updateLeverage", "asset": asset, "isCross": is_cross, "leverage": leverage}


def noop_action() -> Json:
    return {"type": "noop"}


# --------------------------------------------------------------------------------------
# from mmkit actions
# --------------------------------------------------------------------------------------


def order_strings(
    side: Side, px: float, sz: float, inst: Instrument, max_order_notional: float
) -> tuple[str, str]:
    """Venue-valid ``(price, size)`` wire strings; :class:`LocalRefusal` if not possible."""
    if not (math.isfinite(px) and px > 0):
        raise LocalRefusal(RejectReason.INVALID_PRICE, f"price {px!r} is not finite and > 0")
    if not (math.isfinite(sz) and sz > 0):
        raise LocalRefusal(RejectReason.INVALID_SIZE, f"size {sz!r} is not finite and > 0")
    direction: rounding.Direction = "down" if side is Side.BUY else "up"
    rpx = rounding.round_price(
        px, inst.sz_decimals, max_decimals=inst.max_decimals, direction=direction
    )
    rsz = rounding.round_size(sz, inst.sz_decimals, "down")
    if not rounding.is_valid_price(rpx, inst.sz_decimals, inst.max_decimals):
        raise LocalRefusal(
            RejectReason.INVALID_PRICE, f"price {px!r} has no valid venue price (rounded: {rpx!r})"
        )
    if not rounding.is_valid_size(rsz, inst.sz_decimals):
        raise LocalRefusal(
            RejectReason.INVALID_SIZE,
            f"size {sz!r} rounds to {rsz!r} at {inst.sz_decimals} decimals",
        )
    notional = rpx * rsz
    if notional > max_order_notional:
        raise LocalRefusal(
            RejectReason.MAX_NOTIONAL,
            f"order notional ${notional:,.2f} ({rsz} @ {rpx}) exceeds max_order_notional "
            f"${max_order_notional:,.2f}; refused before signing",
        )
    return (
        rounding.price_to_wire(rpx, inst.sz_decimals, inst.max_decimals),
        rounding.size_to_wire(rsz, inst.sz_decimals),
    )


def order_wire_of(a: Place | Modify, inst: Instrument, max_order_notional: float) -> Json:
    """The order wire of a place/modify; below the venue's minimum value (reduce-only orders
    are exempt, as on the venue) it is refused here instead of costing a request."""
    if not is_valid_cloid(a.cloid):
        raise LocalRefusal(RejectReason.OTHER, f"cloid {a.cloid!r} is not 0x + 32 hex digits")
    px, sz = order_strings(a.side, a.px, a.sz, inst, max_order_notional)
    if not a.reduce_only and not rounding.meets_min_notional(
        float(px), float(sz), inst.min_notional
    ):
        raise LocalRefusal(
            RejectReason.MIN_NOTIONAL,
            f"order value ${float(px) * float(sz):,.2f} ({sz} @ {px}) is below the minimum "
            f"${inst.min_notional:,.2f}",
        )
    return order_wire(
        inst.asset, a.side is Side.BUY, px, sz, a.reduce_only, limit_type(a.tif), a.cloid
    )


def modify_target(m: Modify) -> int | str:
    """What ``batchModify`` names: the oid when known, else the cloid."""
    return m.oid if m.oid is not None else m.cloid


__all__ = [
    "Json",
    "LocalRefusal",
    "batch_modify_action",
    "cancel_action",
    "cancel_by_cloid_action",
    "limit_type",
    "modify_target",
    "noop_action",
    "order_action",
    "order_strings",
    "order_wire",
    "order_wire_of",
    "schedule_cancel_action",
    "trigger_type",
    "update_leverage_action",
]
