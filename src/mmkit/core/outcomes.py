"""Typed outcomes of venue requests.

Every venue (simulated, Hyperliquid, the loopback emulator) reports the fate of a request as
an :class:`Outcome` so that the executor never parses venue strings itself. The Hyperliquid
client maps each error string of the venue's catalogue onto one of these reasons.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    RESTING = "resting"  # accepted, now on the book
    FILLED = "filled"  # accepted and (fully or partly) filled at once
    CANCELED = "canceled"  # a cancel succeeded
    REJECTED = "rejected"  # definite failure: nothing happened (or see reason)
    UNKNOWN = "unknown"  # transport failure / timeout: resolve by query, never blind retry


class RejectionClass(StrEnum):
    """What a rejection says about the system, for the kill switch's per-class limits.

    ``post_only`` is the routine outcome of ALO quoting (the book moved before the order
    arrived); ``margin``, ``price``, ``rate_limit``, ``auth`` and ``other`` signal trouble
    (no collateral, a broken price/size/notional rule, a request rate the executor should
    have avoided, a broken signer or clock, anything else); ``venue`` is a transport or
    server failure (the venue-health and data-quality paths handle outages); ``none`` is not
    a rejection at all (no error, a cancel target already gone, an action dropped locally).
    """

    POST_ONLY = "post_only"
    MARGIN = "margin"
    PRICE = "price"
    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    OTHER = "other"
    VENUE = "venue"
    NONE = "none"


class RejectReason(StrEnum):
    NONE = "none"
    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    MIN_NOTIONAL = "min_notional"
    INVALID_PRICE = "invalid_price"
    INVALID_SIZE = "invalid_size"
    TICK = "tick"
    IOC_NO_MATCH = "ioc_no_match"
    REDUCE_ONLY = "reduce_only"
    PRICE_TOO_FAR = "price_too_far"
    ORDER_GONE = "order_gone"  # cancel target: never placed, already canceled, or filled
    MODIFY_TARGET_CANCELED = "modify_target_canceled"
    MODIFY_TARGET_FILLED = "modify_target_filled"
    MODIFY_PLACE_FAILED = "modify_place_failed"  # cancel leg done, new order rejected
    RATE_LIMITED_IP = "rate_limited_ip"  # HTTP 429
    RATE_LIMITED_ADDRESS = "rate_limited_address"
    NONCE = "nonce"
    EXPIRED = "expired"
    SIGNATURE = "signature"
    BATCH_TOO_LARGE = "batch_too_large"
    OPEN_ORDER_CAP = "open_order_cap"
    SCHEMA = "schema"  # HTTP 422
    SERVER = "server"  # 5xx
    MAX_NOTIONAL = "max_notional"  # refused locally, before signing (risk.max_order_notional)
    #: dropped by the live runner, never sent: computed before a halt gate closed (or while
    #: one was closed), so sending it late would quote against the gate's decision
    NOT_SENT = "not_sent"
    OTHER = "other"

    @property
    def order_is_gone(self) -> bool:
        """True when the venue says the targeted order no longer rests."""
        return self in (
            RejectReason.ORDER_GONE,
            RejectReason.MODIFY_TARGET_CANCELED,
            RejectReason.MODIFY_TARGET_FILLED,
            RejectReason.MODIFY_PLACE_FAILED,
        )

    @property
    def counts_as_rejection(self) -> bool:
        """Whether it feeds the per-side rejection backoff (rate limits and gone orders don't)."""
        return self not in (
            RejectReason.NONE,
            RejectReason.ORDER_GONE,
            RejectReason.MODIFY_TARGET_CANCELED,
            RejectReason.MODIFY_TARGET_FILLED,
            RejectReason.RATE_LIMITED_IP,
            RejectReason.RATE_LIMITED_ADDRESS,
            RejectReason.SERVER,
            RejectReason.NOT_SENT,
        )

    @property
    def rejection_class(self) -> RejectionClass:
        """The class whose kill-switch limit this reason counts against (exactly one)."""
        return REJECTION_CLASS_OF[self]


#: every reject reason's class (a test checks every member is here exactly once)
REJECTION_CLASS_OF: dict[RejectReason, RejectionClass] = {
    RejectReason.NONE: RejectionClass.NONE,
    RejectReason.ORDER_GONE: RejectionClass.NONE,
    RejectReason.MODIFY_TARGET_CANCELED: RejectionClass.NONE,
    RejectReason.MODIFY_TARGET_FILLED: RejectionClass.NONE,
    RejectReason.NOT_SENT: RejectionClass.NONE,
    RejectReason.POST_ONLY_WOULD_CROSS: RejectionClass.POST_ONLY,
    RejectReason.INSUFFICIENT_MARGIN: RejectionClass.MARGIN,
    RejectReason.MIN_NOTIONAL: RejectionClass.PRICE,
    RejectReason.MAX_NOTIONAL: RejectionClass.PRICE,
    RejectReason.INVALID_PRICE: RejectionClass.PRICE,
    RejectReason.INVALID_SIZE: RejectionClass.PRICE,
    RejectReason.TICK: RejectionClass.PRICE,
    RejectReason.PRICE_TOO_FAR: RejectionClass.PRICE,
    RejectReason.RATE_LIMITED_IP: RejectionClass.RATE_LIMIT,
    RejectReason.RATE_LIMITED_ADDRESS: RejectionClass.RATE_LIMIT,
    RejectReason.BATCH_TOO_LARGE: RejectionClass.RATE_LIMIT,
    RejectReason.OPEN_ORDER_CAP: RejectionClass.RATE_LIMIT,
    RejectReason.NONCE: RejectionClass.AUTH,
    RejectReason.EXPIRED: RejectionClass.AUTH,
    RejectReason.SIGNATURE: RejectionClass.AUTH,
    RejectReason.IOC_NO_MATCH: RejectionClass.OTHER,
    RejectReason.REDUCE_ONLY: RejectionClass.OTHER,
    RejectReason.MODIFY_PLACE_FAILED: RejectionClass.OTHER,
    RejectReason.SCHEMA: RejectionClass.OTHER,
    RejectReason.OTHER: RejectionClass.OTHER,
    RejectReason.SERVER: RejectionClass.VENUE,
}
