"""Every string of the reference's error catalogue maps to its typed reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.outcomes import RejectReason as R
from mmkit.venues.hyperliquid.errors import MESSAGES, classify_error, reason_of

CATALOGUE: list[tuple[str, R]] = [
    (
        "Post only order would have immediately matched, bbo was 2440.1@2440.2.",
        R.POST_ONLY_WOULD_CROSS,
    ),
    (
        "Post only order would have immediately matched, bbo was 2440.1@2440.2. asset=4",
        R.POST_ONLY_WOULD_CROSS,
    ),
    ("Insufficient margin to place order. asset=0", R.INSUFFICIENT_MARGIN),
    ("Insufficient margin to place order. asset=3 notional $1234.5 USDC", R.INSUFFICIENT_MARGIN),
    ("Order must have minimum value of $10. asset=0", R.MIN_NOTIONAL),
    ("Price must be divisible by tick size.", R.TICK),
    ("Order has invalid price.", R.INVALID_PRICE),
    ("Order has invalid size.", R.INVALID_SIZE),
    ("Order could not immediately match against any resting orders. asset=1", R.IOC_NO_MATCH),
    ("Reduce only order would increase position. asset=2", R.REDUCE_ONLY),
    ("Order price cannot be more than 80% away from the reference price", R.PRICE_TOO_FAR),
    ("Order price cannot be more than 95% away from the reference price", R.PRICE_TOO_FAR),
    ("Invalid TP/SL price. asset=0", R.INVALID_PRICE),
    ("No liquidity available for market order. asset=0", R.IOC_NO_MATCH),
    ("Order price too far from oracle", R.PRICE_TOO_FAR),
    (
        "Order would cause position to exceed margin tier limit at current leverage",
        R.INSUFFICIENT_MARGIN,
    ),
    ("Order was never placed, already canceled, or filled. asset=4", R.ORDER_GONE),
    ("Cannot modify canceled or filled order", R.MODIFY_TARGET_CANCELED),
    ("Cannot modify canceled or filled order.", R.MODIFY_TARGET_CANCELED),
    (
        "Error placing new order during modify: Post only order would have immediately matched, "
        "bbo was 2440.1@2440.2",
        R.MODIFY_PLACE_FAILED,
    ),
    (
        "Too many cumulative requests sent (97460 > 97456) for cumulative volume traded $87457.46. "
        "Place taker orders to free up 1 request per USDC traded.",
        R.RATE_LIMITED_ADDRESS,
    ),
    ("Invalid nonce: duplicate nonce 1700000000000", R.NONCE),
    ("Invalid nonce: nonce too low 1700000000000 < 1700000000001", R.NONCE),
    ("Action already expired", R.EXPIRED),
    ("User or API Wallet 0x5e9ee1089755c3435139848e47e6635505d5a13a does not exist.", R.SIGNATURE),
    (
        "Must deposit before performing actions. User: 0x5e9ee1089755c3435139848e47e6635505d5a13a",
        R.SIGNATURE,
    ),
    ("Unable to recover signer.", R.SIGNATURE),
    ("Signed action over weight limit of 200.", R.BATCH_TOO_LARGE),
    ("Too many open orders. asset=0", R.OPEN_ORDER_CAP),
    (
        "Failed to deserialize the JSON body into the target type: orders[0].t: unknown variant",
        R.SCHEMA,
    ),
    (
        "Cannot set scheduled cancel time until enough volume traded. Required: $1000000. "
        "Traded: $12066.75.",
        R.OTHER,
    ),
    ("Cannot switch leverage type with open position.", R.OTHER),
]


@pytest.mark.parametrize(("message", "reason"), CATALOGUE)
def test_catalogue(message: str, reason: R) -> None:
    assert reason_of(message) is reason


def test_asset_suffix_is_read() -> None:
    c = classify_error("Order must have minimum value of $10. asset=17")
    assert c.asset == 17
    assert classify_error("Order has invalid price.").asset is None


def test_modify_place_failure_carries_inner_reason() -> None:
    c = classify_error(
        "Error placing new order during modify: Post only order would have "
        "immediately matched, bbo was 1@2. asset=0"
    )
    assert c.reason is R.MODIFY_PLACE_FAILED and c.inner is R.POST_ONLY_WOULD_CROSS
    assert c.reason.order_is_gone


def test_modify_target_gone_means_order_gone() -> None:
    # the same string for cancelled and filled targets: "gone, fate to be queried"
    r = reason_of("Cannot modify canceled or filled order")
    assert r.order_is_gone and not r.counts_as_rejection


def test_every_template_is_classified() -> None:
    for name, template in MESSAGES.items():
        text = template.format(
            bid=1,
            ask=2,
            inner=MESSAGES["invalid_price"],
            used=2,
            cap=1,
            volume=3,
            nonce=5,
            least=6,
            address="0xab",
            required=1,
            traded=0,
            amount=10,
            limit=64,
        )
        if name in ("schedule_cancel_volume", "leverage_switch"):
            assert reason_of(text) is R.OTHER
        else:
            assert reason_of(text) is not R.OTHER, name


@given(st.text())
def test_any_string_classifies(message: str) -> None:
    c = classify_error(message)
    assert isinstance(c.reason, R) and c.message == message
