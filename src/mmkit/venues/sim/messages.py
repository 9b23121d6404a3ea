"""Kernel codes -> mmkit outcomes, reasons and Hyperliquid's own error strings.

The strings are never spelled here: they are formatted from the one error catalogue,
:data:`mmkit.venues.hyperliquid.errors.MESSAGES`.
"""

from __future__ import annotations

from mmkit.core.events import OrderStatus
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Tif
from mmkit.venues.hyperliquid.errors import fmt_amount, fmt_px, venue_message
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
    # only from the venue-side event API (a cancel the venue made, not us)
    lay.ST_OTHER_CANCELED: (OrderStatus.OTHER_CANCELED, "marginCanceled"),
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


#: kernel reject code -> key of the venue's message in the one catalogue
#: (:data:`mmkit.venues.hyperliquid.errors.MESSAGES`)
_MESSAGE_KEYS: dict[int, str] = {
    lay.R_POST_ONLY: "post_only",
    lay.R_IOC_NO_MATCH: "ioc_no_match",
    lay.R_REDUCE_ONLY: "reduce_only",
    lay.R_MIN_NOTIONAL: "min_notional",
    lay.R_INVALID_PRICE: "invalid_price",
    lay.R_INVALID_SIZE: "invalid_size",
    lay.R_ORDER_GONE: "cancel_gone",
    lay.R_MODIFY_GONE: "modify_gone",
    lay.R_OPEN_ORDER_CAP: "open_order_cap",
    lay.R_PRICE_TOO_FAR: "price_too_far",
}


def reject_message(
    reason: int, *, asset: int, bid: float, ask: float, min_notional: float, max_orders: int
) -> str:
    """Hyperliquid's error string for a kernel reject reason (protocol reference §3), formatted
    from the one catalogue; ``""`` for a code without a message (``R_NONE``).

    ``bid``/``ask`` are the book's touch when the order was refused (post-only), ``min_notional``
    the instrument's minimum order value in USD, ``max_orders`` the open-order cap.
    """
    key = _MESSAGE_KEYS.get(reason)
    if key is None:
        return ""
    return venue_message(
        key,
        asset=asset,
        bid=fmt_px(bid),
        ask=fmt_px(ask),
        amount=fmt_amount(min_notional),
        limit=max_orders,
    )


def modify_place_message(inner: str) -> str:
    """The modify's refused new leg: ``Error placing new order during modify: <inner>``."""
    return venue_message("modify_place", inner=inner)
