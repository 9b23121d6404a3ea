"""Property tests of mmkit.rounding against the protocol reference (§5) and Decimal."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mmkit import rounding as r

SZD = st.integers(min_value=0, max_value=6)
POS_PX = st.floats(min_value=1e-7, max_value=1e9, allow_nan=False, allow_infinity=False)
DIRS = st.sampled_from(["down", "up", "nearest"])


def ref_valid_price(s: str, szd: int, max_decimals: int = 6) -> bool:
    """Reference rule, on Decimal: integers always; else <= 5 sig figs and decimals cap."""
    d = Decimal(s)
    if d <= 0:
        return False
    if d == d.to_integral_value():
        return True
    t = d.normalize().as_tuple()
    decimals = -int(t.exponent)
    digits = "".join(map(str, t.digits)).lstrip("0")
    return decimals <= max_decimals - szd and len(digits) <= 5


def decimal_str(n: int, d: int) -> str:
    return f"{Decimal(n).scaleb(-d).normalize():f}"


# ---- float_to_wire and friends -----------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "wire"),
    [
        (100.0, "100"),
        (1e-5, "0.00001"),
        (1670.1, "1670.1"),
        (1e-8, "0.00000001"),
        (123456.0, "123456"),
        (0.0012345, "0.0012345"),
        (0.0147, "0.0147"),
        (-0.0, "0"),
        (0.0, "0"),
        (-1.5, "-1.5"),
    ],
)
def test_float_to_wire_examples(x: float, wire: str) -> None:
    assert r.float_to_wire(x) == wire


@pytest.mark.parametrize("x", [1e-9, 0.123456789, math.nan, math.inf, -math.inf])
def test_float_to_wire_rejects(x: float) -> None:
    with pytest.raises(ValueError):
        r.float_to_wire(x)


def test_negative_zero_is_plain_zero() -> None:
    assert r.float_to_wire(-0.0) == "0"
    assert r.float_to_wire(-1e-13) == "0"


@settings(deadline=None)
@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(min_value=0, max_value=8))
def test_float_to_wire_matches_decimal(n: int, d: int) -> None:
    x = n / 10**d
    assume(abs(x) < 1e7 or d == 0)  # 8 decimals of very large floats is beyond double precision
    expected = decimal_str(n, d)
    assert r.float_to_wire(x) == ("0" if expected == "-0" else expected)
    assert Decimal(r.float_to_wire(x)) == Decimal(n).scaleb(-d)


def test_float_to_int_examples() -> None:
    assert r.float_to_int_for_hashing(123123123123) == 12312312312300000000
    assert r.float_to_int_for_hashing(0.00001231) == 1231
    assert r.float_to_int_for_hashing(1.033) == 103300000
    assert r.float_to_int_for_hashing(1000) == 100000000000
    with pytest.raises(ValueError):
        r.float_to_int_for_hashing(0.000012312312)
    assert r.float_to_usd_int(1.5) == 1_500_000
    with pytest.raises(ValueError):
        r.float_to_usd_int(1e-7)
    with pytest.raises(ValueError):
        r.float_to_usd_int(math.nan)


# ---- price rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("px", "szd", "ok"),
    [
        (1234.5, 0, True),
        (1234.56, 0, False),
        (0.001234, 0, True),
        (0.0012345, 0, False),
        (0.01234, 1, True),
        (0.012345, 1, False),
        (123456.0, 0, True),
        (123456.0, 6, True),
        (12345.6, 0, False),
        (1e-8, 0, False),
        (0.000001, 0, True),
        (0.000001, 1, False),
        (0.0, 0, False),
        (-1.0, 0, False),
        (math.nan, 0, False),
        (math.inf, 0, False),
    ],
)
def test_price_examples(px: float, szd: int, ok: bool) -> None:
    assert r.is_valid_price(px, szd) is ok


def test_size_examples() -> None:
    assert r.is_valid_size(1.001, 3)
    assert not r.is_valid_size(1.0001, 3)
    assert r.is_valid_size(5.0, 0)
    assert not r.is_valid_size(0.0, 3)
    assert not r.is_valid_size(-0.0, 3)
    assert not r.is_valid_size(math.nan, 3)
    assert r.size_to_wire(1.0, 3) == "1"
    with pytest.raises(ValueError, match="size"):
        r.size_to_wire(1.0001, 3)
    with pytest.raises(ValueError, match="price"):
        r.price_to_wire(12345.6, 0)
    assert r.price_to_wire(100.0, 2) == "100"


@settings(deadline=None)
@given(
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=0, max_value=10),
    SZD,
    st.sampled_from([6, 8]),
)
def test_validity_matches_decimal_reference(n: int, d: int, szd: int, maxd: int) -> None:
    s = decimal_str(n, d)
    x = float(s)
    assert r.is_valid_price_str(s, szd, maxd) is ref_valid_price(s, szd, maxd)
    try:
        wire = r.float_to_wire(x)
    except ValueError:
        assert not r.is_valid_price(x, szd, maxd)
        return
    assert r.is_valid_price(x, szd, maxd) is ref_valid_price(wire, szd, maxd)


@pytest.mark.parametrize("s", ["100.0", "01.5", "1e3", " 1", "-1", "+1", "1.", ".5", "abc", ""])
def test_malformed_price_strings(s: str) -> None:
    assert not r.is_valid_price_str(s, 0)


@settings(deadline=None)
@given(POS_PX, SZD, DIRS)
def test_round_price_is_valid_and_directional(px: float, szd: int, direction: str) -> None:
    out = r.round_price(px, szd, direction=direction)  # type: ignore[arg-type]
    if out == 0.0:
        assert direction != "up"
        assert px < 10.0 ** -(6 - szd)
        return
    assert r.is_valid_price(out, szd)
    step = r.price_step(px, szd)
    tol = 1e-9 * max(1.0, px)
    if direction == "down":
        assert out <= px + tol
        assert px - out < step + tol
    elif direction == "up":
        assert out >= px - tol
        assert out - px < step + tol
    else:
        assert abs(out - px) <= step / 2 + tol


@settings(deadline=None)
@given(POS_PX, SZD)
def test_round_down_is_the_largest_valid_price_below(px: float, szd: int) -> None:
    lo = r.round_price(px, szd, direction="down")
    assume(lo > 0.0)
    above = r.next_price_above(lo, szd)
    assert r.is_valid_price(above, szd)
    assert above > px * (1 - 1e-12)
    hi = r.round_price(px, szd, direction="up")
    below = r.next_price_below(hi, szd)
    assert below < px * (1 + 1e-12)


@settings(deadline=None)
@given(POS_PX, SZD)
def test_neighbours_have_nothing_in_between(px: float, szd: int) -> None:
    p = r.round_price(px, szd)
    assume(p > 0.0)
    for q in (r.next_price_below(p, szd), r.next_price_above(p, szd)):
        if q == 0.0:
            continue
        assert r.is_valid_price(q, szd)
        lo, hi = min(p, q), max(p, q)
        mid = 0.5 * (lo + hi)
        assert r.round_price(mid, szd, direction="up") == hi
        assert r.round_price(mid, szd, direction="down") == lo


def test_neighbours_across_decades() -> None:
    assert r.next_price_below(10000.0, 1) == 9999.9
    assert r.next_price_above(9999.9, 1) == 10000.0
    assert r.next_price_below(1.0, 2) == 0.9999
    assert r.next_price_above(99999.0, 0) == 100000.0
    assert r.next_price_above(123456.0, 0) == 123457.0
    assert r.next_price_below(0.000001, 0) == 0.0


def test_round_price_edge_cases() -> None:
    assert r.round_price(0.0012345, 0, direction="down") == 0.001234
    assert r.round_price(0.0012345, 0, direction="up") == 0.001235
    assert r.round_price(123456.7, 0, direction="down") == 123456.0
    assert r.round_price(12345.6, 0, direction="up") == 12346.0
    assert r.round_price(0.1 + 0.2, 2, direction="up") == 0.3  # float noise is snapped
    assert r.round_price(1e-8, 0, direction="down") == 0.0
    assert r.round_price(1e-8, 0, direction="up") == 0.000001
    for bad in (math.nan, math.inf, -1.0, 0.0, -0.0):
        assert math.isnan(r.round_price(bad, 0))


# ---- sizes, notional, post-only ------------------------------------------------------------


@settings(deadline=None)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), SZD)
def test_round_size(sz: float, szd: int) -> None:
    step = 10.0**-szd
    tol = step * (1e-9 + 1e-13 * sz / step) * 1.01  # the documented noise snap
    out = r.round_size(sz, szd)
    assert out <= sz + tol
    assert sz - out < step + tol
    if out > 0:
        assert r.is_valid_size(out, szd)
    up = r.round_size(sz, szd, "up")
    assert up >= sz - tol
    assert up - sz < step + tol


def test_round_size_edges() -> None:
    assert r.round_size(1.0001, 3) == 1.0
    assert r.round_size(0.30000000000000004, 1) == 0.3
    assert r.round_size(-0.0, 3) == 0.0
    assert math.isnan(r.round_size(math.nan, 3))


def test_min_notional() -> None:
    assert r.meets_min_notional(100.0, 0.1)
    assert not r.meets_min_notional(100.0, 0.09)
    assert not r.meets_min_notional(math.nan, 1.0)
    assert r.meets_min_notional(0.1, 100.0)


@settings(deadline=None)
@given(st.floats(min_value=0.01, max_value=1e6), SZD)
def test_min_size_for_notional(px: float, szd: int) -> None:
    p = r.round_price(px, szd)
    assume(p > 0)
    sz = r.min_size_for_notional(p, szd)
    assert r.meets_min_notional(p, sz)
    assert r.is_valid_size(sz, szd)
    smaller = sz - 10.0**-szd
    assert smaller <= 0 or not r.meets_min_notional(p, r.round_size(smaller, szd, "nearest"))


@settings(deadline=None, max_examples=300)
@given(POS_PX, POS_PX, st.floats(min_value=1e-4, max_value=0.05), SZD, st.booleans())
def test_post_only_never_crosses(px: float, mid: float, half: float, szd: int, bid: bool) -> None:
    best_bid = r.round_price(mid * (1 - half), szd, direction="down")
    best_ask = r.round_price(mid * (1 + half), szd, direction="up")
    assume(0 < best_bid < best_ask)
    out = r.post_only_price(px, bid, best_bid, best_ask, szd)
    if math.isnan(out):
        assert bid  # only a bid below the smallest price can be impossible
        return
    assert r.is_valid_price(out, szd)
    if bid:
        assert out < best_ask
        assert out <= px * (1 + 1e-12)
    else:
        assert out > best_bid
        assert out >= px * (1 - 1e-12)


def test_post_only_examples() -> None:
    assert r.post_only_price(101.0, True, 99.0, 100.0, 2) == 99.999
    assert r.post_only_price(99.0, False, 99.0, 100.0, 2) == 99.001
    assert r.post_only_price(95.0, True, 99.0, 100.0, 2) == 95.0
    assert r.post_only_price(95.0, True, math.nan, math.nan, 2) == 95.0
    assert math.isnan(r.post_only_price(math.nan, True, 99.0, 100.0, 2))


# ---- cross-check against the official SDK (test-only dependency) --------------------------


def _sdk_signing() -> object:
    return pytest.importorskip(
        "hyperliquid.utils.signing", reason="hyperliquid-python-sdk not installed"
    )


@settings(deadline=None, max_examples=300)
@given(
    st.one_of(
        st.integers(-(10**12), 10**12).map(lambda n: n / 10**8),
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([1e-8, 123456.0, 0.0012345, 1670.1, 1e-5, 100.0, 0.0]),
    )
)
def test_float_to_wire_matches_sdk(x: float) -> None:
    sdk = _sdk_signing()
    try:
        expected: str | None = sdk.float_to_wire(x)  # type: ignore[attr-defined]
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            r.float_to_wire(x)
    else:
        assert r.float_to_wire(x) == ("0" if expected == "-0" else expected)


def test_negative_zero_differs_from_sdk_on_purpose() -> None:
    sdk = _sdk_signing()
    assert sdk.float_to_wire(-0.0) == "-0"  # type: ignore[attr-defined]
    assert r.float_to_wire(-0.0) == "0"


@settings(deadline=None, max_examples=300)
@given(st.one_of(st.floats(-1e9, 1e9, allow_nan=False), st.integers(-(10**12), 10**12)))
def test_float_to_int_matches_sdk(x: float) -> None:
    sdk = _sdk_signing()
    for ours, theirs in (
        (r.float_to_int_for_hashing, sdk.float_to_int_for_hashing),  # type: ignore[attr-defined]
        (r.float_to_usd_int, sdk.float_to_usd_int),  # type: ignore[attr-defined]
    ):
        try:
            expected: int | None = theirs(x)
        except ValueError:
            expected = None
        if expected is None:
            with pytest.raises(ValueError):
                ours(x)
        else:
            assert ours(x) == expected


@settings(deadline=None)
@given(st.floats(1e-4, 9.9e4), SZD)
def test_sdk_rounding_recipe_lands_on_our_grid(px: float, szd: int) -> None:
    """The SDK example's ``round(float(f"{px:.5g}"), 6 - szDecimals)`` gives valid prices."""
    sdk_px = round(float(f"{px:.5g}"), 6 - szd)
    assume(sdk_px > 0)
    assert r.is_valid_price(sdk_px, szd)
    ours = r.round_price(px, szd)
    assert abs(ours - sdk_px) <= r.price_step(px, szd) * (1 + 1e-9)
