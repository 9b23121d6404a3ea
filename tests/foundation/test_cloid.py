"""Client order ids: exactly ``0x`` and 32 hex digits, as Hyperliquid takes them."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.actions import Place, action_problem, is_valid_cloid, make_cloid
from mmkit.core.types import Side

HEX = set(string.hexdigits)


@given(st.integers(0, 2**128 - 1))
def test_every_made_cloid_is_valid(n: int) -> None:
    c = make_cloid(n)
    assert is_valid_cloid(c) and int(c, 16) == n


@given(st.text(max_size=40))
def test_valid_means_0x_and_32_hex_digits(s: str) -> None:
    want = len(s) == 34 and s.startswith("0x") and all(ch in HEX for ch in s[2:])
    assert is_valid_cloid(s) is want


@given(
    st.text(alphabet="0123456789abcdefABCDEF", min_size=31, max_size=31),
    st.integers(0, 31),
    st.sampled_from(["-", "+", "_", " ", "\n", "g", "٣"]),
)
def test_int_parsable_oddities_are_refused(digits: str, at: int, odd: str) -> None:
    """``int(s, 16)`` takes a sign, underscores, surrounding spaces and other scripts'
    digits; a cloid with any of them is refused (and so is an order carrying it)."""
    body = digits[:at] + odd + digits[at:]
    s = "0x" + body
    assert not is_valid_cloid(s)
    assert action_problem(Place(1, s, Side.BUY, 100.0, 1.0)) is not None
