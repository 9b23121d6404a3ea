"""Client order ids: exactly ``0x`` and 32 hex digits, as Hyperliquid takes them."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mmkit.core.actions as actions_mod
from mmkit.core.actions import (
    Action,
    ActionGuard,
    Cancel,
    CancelAll,
    Modify,
    Place,
    QueryOrder,
    action_problem,
    is_valid_cloid,
    make_cloid,
)
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


# a few valid cloids (so that the same cloid recurs, as a resting order's does) and some
# that look like cloids but are not, of types other than str included
_VALID_CLOIDS = st.integers(0, 7).map(make_cloid)
_CLOIDS = st.one_of(
    _VALID_CLOIDS,
    _VALID_CLOIDS,
    _VALID_CLOIDS,
    st.sampled_from(["0x" + "g" * 32, "0x" + "a" * 31, "0X" + "a" * 32, "", "0x", None, 7]),
    st.builds(lambda c: type("S", (str,), {})(c), st.integers(0, 3).map(make_cloid)),
    st.text(max_size=36),
)
_NUMBERS = st.one_of(
    st.sampled_from([1.0, 100.5, 5e-324]),
    st.sampled_from([1.0, 100.5, 0.0, -1.0, math.inf, -math.inf, math.nan]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_ACTIONS: st.SearchStrategy[Action] = st.one_of(
    st.builds(Place, st.integers(0, 9), _CLOIDS, st.sampled_from(Side), _NUMBERS, _NUMBERS),
    st.builds(
        Modify,
        st.integers(0, 9),
        _CLOIDS,
        st.one_of(st.none(), st.integers(0, 9)),
        st.sampled_from(Side),
        _NUMBERS,
        _NUMBERS,
    ),
    st.builds(Cancel, st.integers(0, 9), _CLOIDS, st.one_of(st.none(), st.integers(0, 9))),
    st.builds(CancelAll, st.integers(0, 9), st.just("halt")),
    st.builds(QueryOrder, st.integers(0, 9), _CLOIDS, st.one_of(st.none(), st.integers(0, 9))),
)


@given(st.lists(st.lists(_ACTIONS, max_size=12), max_size=8), st.sampled_from([1, 2, 1 << 14]))
def test_the_action_guard_is_action_problem_over_a_batch(
    batches: list[list[Action]], memory: int
) -> None:
    """The engine's guard remembers the cloids it found well-formed: batch after batch (the
    same cloids recurring, invalid ones among them, the memory full and cleared), it finds
    a batch fine exactly when action_problem finds nothing wrong with any of its actions."""
    guard = ActionGuard()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(actions_mod, "CLOID_MEMORY", memory)
        for batch in batches:
            want = all(action_problem(a) is None for a in batch)
            assert guard.all_fine(batch) is want
            assert len(guard._cloids) <= memory
