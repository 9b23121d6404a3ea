"""Hyperliquid's error strings (protocol reference §3, error catalogue) as typed reasons.

The venue answers failures with free text, often followed by ``" asset=<n>"``, so the
classification matches *prefixes* (after stripping the suffix), never whole strings. The
executor only ever sees the :class:`~mmkit.core.outcomes.RejectReason`.

``Cannot modify canceled or filled order`` is the same string whether the target was
cancelled or filled. It maps to ``MODIFY_TARGET_CANCELED``: the order is gone
(``order_is_gone``) and its fate (cancelled or filled) must be resolved by an
``orderStatus`` query or by the fills stream, never assumed.

``MESSAGES`` holds the catalogue's canonical spellings (``{...}`` placeholders); the loopback
emulator, the simulated venue (:mod:`mmkit.venues.sim.messages`) and the audit harness format
their replies from it with :func:`venue_message`, so that every side shares one catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mmkit.core.outcomes import RejectReason

#: canonical message templates (verbatim from the reference; ``asset=`` suffix separate)
MESSAGES: dict[str, str] = {
    "post_only": "Post only order would have immediately matched, bbo was {bid}@{ask}.",
    "margin": "Insufficient margin to place order.",
    "min_notional": "Order must have minimum value of ${amount}.",
    "tick": "Price must be divisible by tick size.",
    "invalid_price": "Order has invalid price.",
    "invalid_size": "Order has invalid size.",
    "ioc_no_match": "Order could not immediately match against any resting orders.",
    "reduce_only": "Reduce only order would increase position.",
    "price_too_far": "Order price cannot be more than 80% away from the reference price",
    "oracle_too_far": "Order price too far from oracle",
    "tpsl": "Invalid TP/SL price.",
    "no_liquidity": "No liquidity available for market order.",
    "margin_tier": "Order would cause position to exceed margin tier limit at current leverage",
    "cancel_gone": "Order was never placed, already canceled, or filled.",
    "modify_gone": "Cannot modify canceled or filled order",
    "modify_place": "Error placing new order during modify: {inner}",
    "address_limit": (
        "Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded "
        "${volume}. Place taker orders to free up 1 request per USDC traded."
    ),
    "nonce_duplicate": "Invalid nonce: duplicate nonce {nonce}",
    "nonce_low": "Invalid nonce: nonce too low {nonce} < {least}",
    "expired": "Action already expired",
    "unknown_signer": "User or API Wallet {address} does not exist.",
    "must_deposit": "Must deposit before performing actions. User: {address}",
    "unrecoverable": "Unable to recover signer.",
    "batch_too_large": "Signed action over weight limit of 200.",
    # exact venue text unverified (reference §3); the cap is the account's open-order limit
    "open_order_cap": "Too many open orders (limit {limit}).",
    "schedule_cancel_volume": (
        "Cannot set scheduled cancel time until enough volume traded. "
        "Required: ${required}. Traded: ${traded}."
    ),
    "leverage_switch": "Cannot switch leverage type with open position.",
    "schema_422": "Failed to deserialize the JSON body into the target type",
}

# (prefix, reason), most specific first; matched case-sensitively after stripping.
# The "Cannot modify canceled or filled" rule comes before any rule that mentions "filled".
_PREFIXES: tuple[tuple[str, RejectReason], ...] = (
    ("Error placing new order during modify", RejectReason.MODIFY_PLACE_FAILED),
    ("Cannot modify canceled or filled order", RejectReason.MODIFY_TARGET_CANCELED),
    ("Cannot modify canceled", RejectReason.MODIFY_TARGET_CANCELED),
    ("Cannot modify filled", RejectReason.MODIFY_TARGET_FILLED),
    ("Order was never placed, already canceled, or filled", RejectReason.ORDER_GONE),
    ("Post only order would have immediately matched", RejectReason.POST_ONLY_WOULD_CROSS),
    ("Insufficient margin to place order", RejectReason.INSUFFICIENT_MARGIN),
    ("Order would cause position to exceed margin tier limit", RejectReason.INSUFFICIENT_MARGIN),
    ("Order must have minimum value of", RejectReason.MIN_NOTIONAL),
    ("Price must be divisible by tick size", RejectReason.TICK),
    ("Order has invalid price", RejectReason.INVALID_PRICE),
    ("Invalid TP/SL price", RejectReason.INVALID_PRICE),
    ("Order has invalid size", RejectReason.INVALID_SIZE),
    ("Order could not immediately match", RejectReason.IOC_NO_MATCH),
    ("No liquidity available for market order", RejectReason.IOC_NO_MATCH),
    ("Reduce only order would increase position", RejectReason.REDUCE_ONLY),
    ("Order price cannot be more than", RejectReason.PRICE_TOO_FAR),
    ("Order price too far from oracle", RejectReason.PRICE_TOO_FAR),
    ("Too many cumulative requests sent", RejectReason.RATE_LIMITED_ADDRESS),
    ("Invalid nonce", RejectReason.NONCE),
    ("Action already expired", RejectReason.EXPIRED),
    ("User or API Wallet", RejectReason.SIGNATURE),
    ("Must deposit before performing actions", RejectReason.SIGNATURE),
    ("Unable to recover signer", RejectReason.SIGNATURE),
    ("Signed action over weight limit", RejectReason.BATCH_TOO_LARGE),
    ("Too many open orders", RejectReason.OPEN_ORDER_CAP),
    ("Failed to deserialize the JSON body", RejectReason.SCHEMA),
)


def fmt_px(x: float) -> str:
    """A price as Hyperliquid prints it in messages: no trailing zeros, no exponent
    (``"0"`` for NaN, an empty side)."""
    if x != x:
        return "0"
    s = f"{x:.8f}".rstrip("0").rstrip(".")
    return s or "0"


def fmt_amount(x: float) -> str:
    """A dollar amount in a message (``10.0`` -> ``"10"``)."""
    return f"{x:g}"


def with_asset(text: str, asset: int | None) -> str:
    """``text`` with the venue's ``" asset=<n>"`` suffix (unchanged when ``asset`` is None)."""
    return text if asset is None else f"{text} asset={asset}"


#: the order errors the venue follows with ``" asset=<n>"`` (the others never carry it)
ASSET_SUFFIXED: frozenset[str] = frozenset(
    {
        "post_only",
        "margin",
        "min_notional",
        "ioc_no_match",
        "reduce_only",
        "cancel_gone",
        "open_order_cap",
    }
)


def venue_message(key: str, *, asset: int | None = None, **fields: object) -> str:
    """The catalogue's string ``key`` with its placeholders filled (extra fields are ignored)
    and, for the keys in :data:`ASSET_SUFFIXED`, the ``asset=`` suffix when ``asset`` is
    given; ``KeyError`` names an unknown key or a missing field."""
    try:
        template = MESSAGES[key]
    except KeyError:
        raise KeyError(f"no venue message {key!r} in the catalogue") from None
    try:
        text = template.format(**fields)
    except KeyError as exc:
        raise KeyError(f"venue message {key!r} needs field {exc.args[0]!r}") from None
    return with_asset(text, asset if key in ASSET_SUFFIXED else None)


_ASSET_SUFFIX = re.compile(r"\s*asset=(\d+)\s*$")
_OPEN_ORDER_CAP = re.compile(r"open orders?\b.*\b(limit|cap|maximum|exceed)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClassifiedError:
    """A venue error string with its typed reason.

    ``inner`` is the reason of the embedded order error of ``MODIFY_PLACE_FAILED``
    (e.g. ``POST_ONLY_WOULD_CROSS``), else ``NONE``. ``asset`` is the ``asset=n`` suffix.
    """

    reason: RejectReason
    message: str
    asset: int | None = None
    inner: RejectReason = RejectReason.NONE


def _match(text: str) -> RejectReason:
    for prefix, reason in _PREFIXES:
        if text.startswith(prefix):
            return reason
    if _OPEN_ORDER_CAP.search(text):
        return RejectReason.OPEN_ORDER_CAP
    return RejectReason.OTHER


def classify_error(message: str) -> ClassifiedError:
    """Map one venue error string onto a :class:`RejectReason` (``OTHER`` if unknown)."""
    text = message.strip()
    asset: int | None = None
    m = _ASSET_SUFFIX.search(text)
    if m:
        asset = int(m.group(1))
        text = text[: m.start()].rstrip()
    reason = _match(text)
    inner = RejectReason.NONE
    if reason is RejectReason.MODIFY_PLACE_FAILED:
        _, _, rest = text.partition(":")
        inner = _match(rest.strip()) if rest.strip() else RejectReason.OTHER
    return ClassifiedError(reason, message, asset, inner)


def reason_of(message: str) -> RejectReason:
    """The typed reason of one venue error string (``OTHER`` if unknown)."""
    return classify_error(message).reason


__all__ = [
    "ASSET_SUFFIXED",
    "MESSAGES",
    "ClassifiedError",
    "classify_error",
    "fmt_amount",
    "fmt_px",
    "reason_of",
    "venue_message",
    "with_asset",
]
