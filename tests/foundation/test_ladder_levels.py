"""A ladder made from its levels (``Ladder.from_levels``) is the ladder of its quotes.

The built-in quoters make their ladders from numbers and the engine's check and the built-in
executor read those numbers (``Ladder.levels``) without making ``Quote`` objects. Checked
here against the ladder made from the very quotes (``Ladder(bids, asks)``, the contract
third-party quoters use): equality, hash, repr, pickling, copies, ``dataclasses.replace``,
the levels read back, and the engine's ``ladder_problem`` - the same verdict and message
for any numbers, bad ones included (NaN, inf, zero, negative, crossed sides, an odd last
number).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mmkit.components import Ladder, Quote, quote_levels, side_quotes
from mmkit.core.types import Side
from mmkit.engine import ladder_problem

numbers = st.one_of(
    st.floats(0.01, 1e6),
    st.sampled_from([0.0, -1.0, math.nan, math.inf, -math.inf, 1e308, 5e-324]),
    st.integers(1, 10),
)


@st.composite
def sides(draw: st.DrawFn) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Bid and ask levels: mostly sane ladders around a mid (so that the fast check is
    the one taken), sometimes anything."""
    if draw(st.booleans()):
        mid = draw(st.floats(1.0, 1e5))
        gap = draw(st.floats(-0.01, 0.05))  # negative: crossed
        n_b, n_a = draw(st.integers(0, 6)), draw(st.integers(0, 6))
        sz = draw(st.floats(1e-4, 10.0))
        bids = tuple(x for i in range(n_b) for x in (mid * (1 - gap) - i, sz))
        asks = tuple(x for i in range(n_a) for x in (mid * (1 + gap) + i, sz))
        return bids, asks
    return (
        tuple(draw(st.lists(numbers, max_size=9))),
        tuple(draw(st.lists(numbers, max_size=9))),
    )


def quote_ladder(bids: tuple[float, ...], asks: tuple[float, ...]) -> Ladder:
    return Ladder(side_quotes(Side.BUY, bids), side_quotes(Side.SELL, asks))


@settings(max_examples=400, deadline=None)
@given(sides())
@example(((100.0, 1.0), (100.0, 1.0)))  # touching: crossed
@example(((100.0, 1.0, 99.0), (101.0, 1.0)))  # an odd last number is no level
@example(((1e308, 1e308), (math.inf, 1.0)))
def test_a_ladder_of_levels_is_the_ladder_of_its_quotes(
    levels: tuple[tuple[float, ...], tuple[float, ...]],
) -> None:
    bids, asks = levels
    made = Ladder.from_levels(bids, asks)
    ref = quote_ladder(bids, asks)
    # checked before anything reads its quotes: the numbers' own path
    assert ladder_problem(made) == ladder_problem(ref)
    even = (bids[: len(bids) & ~1], asks[: len(asks) & ~1])  # an odd last number: no level
    assert made.levels() == even == ref.levels()
    assert made.empty == ref.empty
    assert made == ref and ref == made
    assert hash(made) == hash(ref)
    assert repr(made) == repr(ref)
    assert made.bids == ref.bids and made.asks == ref.asks
    assert made.side(Side.BUY) == ref.bids and made.side(Side.SELL) == ref.asks
    # the checks again, now that its quotes exist
    assert ladder_problem(made) == ladder_problem(ref)
    assert Ladder.from_levels(*ref.levels()) == ref


def test_the_levels_of_a_ladder_of_quotes_are_its_numbers() -> None:
    q = (Quote(Side.BUY, 100.0, 0.5, 0), Quote(Side.BUY, 99.5, 0.25, 1))
    lad = Ladder(q, ())
    assert lad.levels() == ((100.0, 0.5, 99.5, 0.25), ())
    assert quote_levels(q) == (100.0, 0.5, 99.5, 0.25)
    assert Ladder().levels() == ((), ()) and Ladder().empty


def test_a_quote_on_the_wrong_side_is_still_named() -> None:
    """The numbers carry no side: a ladder of quotes, whatever its cached numbers, is
    checked quote by quote."""
    lad = Ladder((Quote(Side.SELL, 100.0, 1.0, 0),), ())
    assert lad.levels() == ((100.0, 1.0), ())
    assert ladder_problem(lad) == "BUY ladder holds a SELL quote"


def test_copies_pickles_and_replacements_are_ladders_of_quotes() -> None:
    made = Ladder.from_levels((100.0, 1.0), (101.0, 2.0))
    for other in (
        pickle.loads(pickle.dumps(made)),
        copy.copy(made),
        copy.deepcopy(made),
        Ladder.from_levels((100.0, 1.0), (101.0, 2.0)),
    ):
        assert other == made and other.levels() == made.levels()
    shrunk = dataclasses.replace(made, asks=())
    assert shrunk.levels() == ((100.0, 1.0), ()) and shrunk.bids == made.bids
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.bids = ()  # type: ignore[misc]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        made.nope  # type: ignore[attr-defined]  # noqa: B018


def test_the_fast_check_never_passes_what_the_quote_check_refuses() -> None:
    """A mutant check that skips the crossing test (or the positivity of sizes) would pass
    these; the engine's check must refuse them, with the quote check's message."""
    crossed = Ladder.from_levels((101.0, 1.0), (100.0, 1.0))
    assert ladder_problem(crossed) == "quotes cross: bid 101.0 >= ask 100.0"
    zero = Ladder.from_levels((100.0, 0.0), ())
    assert ladder_problem(zero) == "BUY quote level 0 has size 0.0"
    nan = Ladder.from_levels((), (101.0, 1.0, math.nan, 1.0))
    assert ladder_problem(nan) == "SELL quote level 1 has price nan"
