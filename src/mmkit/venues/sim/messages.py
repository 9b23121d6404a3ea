"""Kernel codes -> mmkit outcomes, reasons and Hyperliquid's own error strings."""

from __future__ import annotations

from mmkit.core.events import OrderStatus
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Tif
from mmkit.venues.sim import _layout as lay

OUTCOMES: dict[int, Outcome] = {
    lay.OUT_RESTING: Outcome.RESTING,
    lay.OUT_FILLED: Outcome.FILLED,
    lay.OUT_CANCELED: Outcome.CANCELED,
    lay.OUT_REJECTED: Outcome.REJECTED,
}

STATUSES: dict[int, tuple[OrderStatus, str]] = {
    lay.ST_OPEN: (OrderStatus.OPEN, "open"),
    lay.ST_FILLED: (OrderStatus.FILLED, "filled"),
    lay.ST_CANCELED: (OrderStatus.CANCELED, "canceled"),
}

REASONS: dict[int, RejectReason] = {
    lay.R_NONE: RejectReason.NONE,
    lay.R_POST_ONLY: RejectReason.POST_ONLY_WOULD_CROSS,
    lay.R_IOC_NO_MATCH: RejectReason.IOC_NO_MATCH,
    lay.R_REDUCE_ONLY: RejectReason.REDUCE_ONLY,
    lay.R_MIN_NOTIONAL: RejectReason.MIN_NOTIONAL,
    lay.R_INVALID_PRICE: RejectReason.INVALID_PRICE,
    lay.R_INVALID_SIZE: RejectReason.INVALID_SIZE,
    lay.R_ORDER_GONE: RejectReason.ORDER_GONE,
    lay.R_MODIFY_GONE: RejectReason.MODIFY_TARGET_CANCELED,
    lay.R_MODIFY_PLACE_FAILED: RejectReason.MODIFY_PLACE_FAILED,
    lay.R_OPEN_ORDER_CAP: RejectReason.OPEN_ORDER_CAP,
    lay.R_PRICE_TOO_FAR: RejectReason.PRICE_TOO_FAR,
}

TIFS: dict[Tif, int] = {Tif.ALO: lay.TIF_ALO, Tif.GTC: lay.TIF_GTC, Tif.IOC: lay.TIF_IOC}


def fmt_px(x: float) -> str:
    """A price as Hyperliquid prints it: no trailing zeros, no exponent."""
    if x != x:  # NaN: an empty side
        return "0"
    s = f"{x:.8f}".rstrip("0").rstrip(".")
    return s or "0"


def reject_message(
    reason: int, *, asset: int, bid: float, ask: float, min_notional: float, max_orders: int
) -> str:
    """Hyperliquid's error string for a kernel reject reason (protocol reference §3)."""
    a = f" asset={asset}"
    if reason == lay.R_POST_ONLY:
        return (
            f"Post only order would have immediately matched, bbo was "
            f"{fmt_px(bid)}@{fmt_px(ask)}.{a}"
        )
    if reason == lay.R_IOC_NO_MATCH:
        return f"Order could not immediately match against any resting orders.{a}"
    if reason == lay.R_REDUCE_ONLY:
        return f"Reduce only order would increase position.{a}"
    if reason == lay.R_MIN_NOTIONAL:
        return f"Order must have minimum value of ${min_notional:g}.{a}"
    if reason == lay.R_INVALID_PRICE:
        return "Order has invalid price."
    if reason == lay.R_INVALID_SIZE:
        return "Order has invalid size."
    if reason == lay.R_ORDER_GONE:
        return f"Order was never placed, already canceled, or filled.{a}"
    if reason == lay.R_MODIFY_GONE:
        return "Cannot modify canceled or filled order"
    if reason == lay.R_OPEN_ORDER_CAP:
        return f"Too many open orders (limit {max_orders}).{a}"
    if reason == lay.R_PRICE_TOO_FAR:
        return "Order price cannot be more than 80% away from the reference price"
    return ""
