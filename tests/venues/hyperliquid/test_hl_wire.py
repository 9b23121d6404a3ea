"""Wire builders: SDK key order, optional keys, rounding and local refusals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit import rounding
from mmkit.core.actions import Modify, Place, make_cloid
from mmkit.core.outcomes import RejectReason as R
from mmkit.core.types import Instrument, Side, Tif
from mmkit.venues.hyperliquid import wire

BTC = Instrument(coin="BTC", asset=0, sz_decimals=5)
CLOID = make_cloid(1)


def place(px: float, sz: float, side: Side = Side.BUY, /, *, reduce_only: bool = False) -> Place:
    return Place(request_id=1, cloid=CLOID, side=side, px=px, sz=sz, reduce_only=reduce_only)


def test_order_wire_key_order_and_cloid() -> None:
    w = wire.order_wire_of(place(100_000.0, 0.001), BTC, 1e9)
    assert list(w) == ["a", "b", "p", "s", "r", "t", "c"]
    assert w == {
        "a": 0,
        "b": True,
        "p": "100000",
        "s": "0.001",
        "r": False,
        "t": {"limit": {"tif": "Alo"}},
        "c": CLOID,
    }
    assert "c" not in wire.order_wire(0, True, "1", "1", False, wire.limit_type(Tif.GTC))
    with pytest.raises(ValueError, match="cloid"):
        wire.order_wire(0, True, "1", "1", False, wire.limit_type("Gtc"), "0x12")


def test_action_key_orders() -> None:
    assert list(wire.order_action([])) == ["type", "orders", "grouping"]
    assert list(wire.order_action([], builder={"b": "0x", "f": 1})) == [
        "type",
        "orders",
        "grouping",
        "builder",
    ]
    assert wire.cancel_action([(3, 9)]) == {"type": "cancel", "cancels": [{"a": 3, "o": 9}]}
    assert wire.cancel_by_cloid_action([(3, CLOID)])["cancels"] == [{"asset": 3, "cloid": CLOID}]
    assert list(wire.batch_modify_action([(5, {})])["modifies"][0]) == ["oid", "order"]
    assert wire.schedule_cancel_action(None) == {"type": "scheduleCancel"}
    assert list(wire.update_leverage_action(1, True, 5)) == ["type", "asset", "isCross", "leverage"]
    assert list(wire.trigger_type(True, "103", "sl")["trigger"]) == [
        "isMarket",
        "triggerPx",
        "tpsl",
    ]
    with pytest.raises(ValueError):
        wire.update_leverage_action(1, True, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        wire.limit_type("Fok")


def test_prices_rounded_passively() -> None:
    bid = wire.order_wire_of(place(100_000.7, 0.0012345), BTC, 1e9)
    ask = wire.order_wire_of(place(99_999.5, 0.001, Side.SELL), BTC, 1e9)
    assert (bid["p"], bid["s"]) == ("100000", "0.00123")
    assert ask["p"] == "100000"  # rounded up for an ask: never more aggressive


@pytest.mark.parametrize(
    ("px", "sz", "kw", "reason"),
    [
        (math.nan, 0.001, {}, R.INVALID_PRICE),
        (100_000.0, math.inf, {}, R.INVALID_SIZE),
        (100_000.0, 0.000001, {}, R.INVALID_SIZE),
        (100_000.0, 0.00005, {}, R.MIN_NOTIONAL),
        (100_000.0, 1.0, {}, R.MAX_NOTIONAL),
    ],
)
def test_local_refusals(px: float, sz: float, kw: dict[str, bool], reason: R) -> None:
    with pytest.raises(wire.LocalRefusal) as e:
        wire.order_wire_of(place(px, sz, **kw), BTC, 50_000.0)
    assert e.value.reason is reason


def test_reduce_only_exempt_from_minimum() -> None:
    w = wire.order_wire_of(place(100_000.0, 0.00005, reduce_only=True), BTC, 1e9)
    assert w["r"] is True and w["s"] == "0.00005"


def test_modify_target() -> None:
    m = Modify(request_id=1, cloid=CLOID, oid=None, side=Side.BUY, px=1.0, sz=1.0)
    assert wire.modify_target(m) == CLOID
    assert wire.modify_target(Modify(1, CLOID, 7, Side.BUY, 1.0, 1.0)) == 7


@given(st.floats(1e-6, 1e7), st.floats(1e-6, 1e4), st.sampled_from(list(Side)), st.integers(0, 6))
def test_any_order_is_valid_or_refused(px: float, sz: float, side: Side, szd: int) -> None:
    inst = Instrument(coin="X", asset=1, sz_decimals=szd)
    try:
        w = wire.order_wire_of(place(px, sz, side), inst, 1e6)
    except wire.LocalRefusal as e:
        assert isinstance(e.reason, R)
        return
    assert rounding.is_valid_price_str(w["p"], szd) and rounding.is_valid_size_str(w["s"], szd)
    p, s = float(w["p"]), float(w["s"])
    assert s <= sz * (1 + 1e-12) and p * s <= 1e6 and p * s >= 10.0 * (1 - 1e-12)
    assert (p <= px * (1 + 1e-12)) if side is Side.BUY else (p >= px * (1 - 1e-12))
