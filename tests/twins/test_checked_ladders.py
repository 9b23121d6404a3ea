"""Ladders made ``checked`` (``Ladder._checked``): the engine skips its own
``ladder_problem`` for them, so the maker's check must say exactly what that function says.

The GLFT twin's kernel checks its rows with :func:`levels_fine`. Here:

* :func:`levels_fine` against ``ladder_problem`` on any sides of numbers (NaN, infinities,
  zeros, negatives, odd lengths, crossed and unsorted books): the same verdict, both ways;
  and deliberately broken variants of the check (a crossing test with ``>``, a size
  forgotten, the last level skipped) are caught;
* every ladder the twin makes over the audit's quoting streams: ``checked`` only when
  ``ladder_problem`` finds nothing, and on a sane market it is ``checked`` (the skip is
  used at all);
* the flag itself: False for ladders made from quotes, by ``replace``, by ``from_levels``
  without ``checked=True``; kept by pickling and copying (the numbers are the same);
* the engine: a quoter whose ladder says ``checked`` is not re-checked, and one whose
  ladder does not is (a NaN ladder halts quoting with the quoter named).
"""

from __future__ import annotations

import copy
import functools
import math
import pickle
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.foundation.test_engine import T0, Recorder, book, toy_engine
from tests.twins.test_glft_quoter_twin import calls_of, pair, streams

from mmkit.components import Ladder, Quote
from mmkit.core.actions import Place, action_problem
from mmkit.core.types import Side
from mmkit.engine import ladder_problem
from mmkit.quoting import _kernels_glft_quoter_twin as kt

#: numbers a side may hold: ordinary prices and sizes, and every value the check refuses
numbers = st.one_of(
    st.floats(1e-9, 1e9),
    st.sampled_from([0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, 5e-324, 1e308]),
    st.floats(allow_nan=True, allow_infinity=True),
)
sides = st.lists(numbers, max_size=9).map(tuple)


def fine_in_kernel(check: Any, bids: tuple[float, ...], asks: tuple[float, ...]) -> bool:
    """``check`` (a kernel with :func:`levels_fine`'s arguments) over the two sides laid
    out in one array, as the twin's rows are (some slots in front, the asks after)."""
    f = np.full(3 + len(bids) + len(asks) + 2, np.nan)
    f[3 : 3 + len(bids)] = bids
    f[3 + len(bids) : 3 + len(bids) + len(asks)] = asks
    return bool(check(f, 3, len(bids), 3 + len(bids), len(asks)))


def verdict(bids: tuple[float, ...], asks: tuple[float, ...]) -> bool:
    """The engine's own: whether ``ladder_problem`` finds nothing in the ladder of them."""
    return ladder_problem(Ladder.from_levels(bids, asks)) is None


@settings(max_examples=600, deadline=None)
@given(sides, sides)
def test_the_kernel_check_is_ladder_problem(
    bids: tuple[float, ...], asks: tuple[float, ...]
) -> None:
    assert fine_in_kernel(kt.levels_fine, bids, asks) == verdict(bids, asks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=5), st.floats(0.001, 10.0))
def test_touching_and_crossed_books_are_not_fine(prices: list[float], sz: float) -> None:
    """A bid at or above an ask, wherever it sits in the side (the sides are not sorted)."""
    bids = tuple(x for p in prices for x in (p, sz))
    asks = (max(prices), sz)
    assert not fine_in_kernel(kt.levels_fine, bids, asks)
    assert not verdict(bids, asks)


def _py_check(
    f: Any,
    bids: int,
    nb: int,
    asks: int,
    na: int,
    *,
    cross_at: bool = True,
    sizes: bool = True,
    last_bid: bool = True,
) -> bool:
    """:func:`levels_fine` in Python, with switches that break it one way each."""
    top, low = -math.inf, math.inf
    for j in range(0, (nb if last_bid else nb - 2) - 1, 2):
        px, sz = f[bids + j], f[bids + j + 1]
        if not (0.0 < px < math.inf and (not sizes or 0.0 < sz < math.inf)):
            return False
        top = max(top, px)
    for j in range(0, na - 1, 2):
        px, sz = f[asks + j], f[asks + j + 1]
        if not (0.0 < px < math.inf and (not sizes or 0.0 < sz < math.inf)):
            return False
        low = min(low, px)
    crossed = top >= low if cross_at else top > low
    return not (nb > 1 and na > 1 and crossed)


def test_the_python_check_is_the_kernel_check() -> None:
    """The unbroken switches give the kernel's verdicts (so the mutants below differ from
    it by their one change only)."""
    for bids, asks in [((1.0, 1.0), (2.0, 1.0)), ((2.0, 1.0), (2.0, 1.0)), ((1.0, 0.0), ())]:
        assert fine_in_kernel(_py_check, bids, asks) == fine_in_kernel(kt.levels_fine, bids, asks)


@pytest.mark.parametrize(
    "broken",
    [
        functools.partial(_py_check, cross_at=False),  # a touching book passes
        functools.partial(_py_check, sizes=False),  # sizes unchecked
        functools.partial(_py_check, last_bid=False),  # the last bid level never read
    ],
    ids=["crossing-strict", "prices-only", "last-level-skipped"],
)
def test_a_broken_check_is_caught(broken: Any) -> None:
    """The property above finds each broken check (a counterexample exists and is found)."""
    found: list[tuple[tuple[float, ...], tuple[float, ...]]] = []

    @settings(max_examples=2000, deadline=None, database=None)
    @given(sides, sides)
    def prop(bids: tuple[float, ...], asks: tuple[float, ...]) -> None:
        if fine_in_kernel(broken, bids, asks) != verdict(bids, asks):
            found.append((bids, asks))
            raise AssertionError("differs")

    with pytest.raises(AssertionError):
        prop()
    assert found


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(hostile=True))
def test_the_twin_marks_only_ladders_the_engine_would_pass(stream: Any) -> None:
    tgt, scenarios = stream
    _, twin = pair(tgt)
    for view, est, now in calls_of(tgt, scenarios):
        lad = twin.quote(view, est, now)
        if lad._checked:
            assert ladder_problem(lad) is None, lad


def test_the_twin_marks_its_ladders_on_a_sane_market() -> None:
    """On the default configuration's moving BTC market, the new ladders are checked (so the
    engine's skip is taken), and each one passes ``ladder_problem``."""
    from tests.twins.test_glft_quoter_twin import BTC, RISKS

    from mmkit.audit.invariants.quoting import make_estimates, make_view
    from mmkit.quoting.glft_quoter_twin import GlftQuoterTwin
    from mmkit.quoting.params import GlftParams

    twin = GlftQuoterTwin(GlftParams(), BTC, RISKS["BTC"])
    rng = np.random.default_rng(11)
    made = checked = 0
    last = None
    mid = 90_000.0
    for n in range(300):
        mid = round(mid + rng.normal(0.0, 3.0))
        view = make_view(BTC, [mid - 0.5, mid - 1.5], [mid + 0.5, mid + 1.5], 0.002, 0.01)
        est = make_estimates({"kappa": float(10 ** rng.uniform(2.0, 4.0)), "A": 1.0, "sigma": 1e-4})
        lad = twin.quote(view, est, n)
        if lad is not last:
            made += 1
            checked += lad._checked
            assert ladder_problem(lad) is None
        last = lad
    assert twin.python_calls == 0
    assert made > 20 and checked == made


def test_the_flag_belongs_to_from_levels_only() -> None:
    bids, asks = (100.0, 1.0, 99.0, 1.0), (101.0, 1.0)
    q = Ladder((Quote(Side.BUY, 100.0, 1.0),), (Quote(Side.SELL, 101.0, 1.0),))
    assert q._checked is False
    assert Ladder.from_levels(bids, asks)._checked is False
    assert Ladder.from_levels(bids, asks, checked=1)._checked is False  # type: ignore[arg-type]
    made = Ladder.from_levels(bids, asks, checked=True)
    assert made._checked is True
    assert replace(made)._checked is False  # a ladder of quotes
    assert made == Ladder.from_levels(bids, asks)  # never compared
    assert pickle.loads(pickle.dumps(made))._checked is True
    assert copy.deepcopy(made)._checked is True


class LevelsQuoter:
    """Quotes one NaN-priced bid, made from its levels, ``checked`` or not."""

    def __init__(self, checked: bool) -> None:
        self.checked = checked

    def quote(self, view: Any, est: Any, now_ns: int) -> Ladder:
        return Ladder.from_levels((math.nan, 1.0), (), checked=self.checked)


@pytest.mark.parametrize("checked", [False, True])
def test_the_engine_trusts_a_checked_ladder_and_still_guards_the_actions(checked: bool) -> None:
    """Unchecked, the NaN ladder is the quoter's fault (quoting halts). Made ``checked``
    (a maker that lies), the engine does not look at the ladder again, but no NaN order
    leaves it all the same: its action guard refuses the executor's order (the flag
    skips the ladder's check, never the actions')."""
    rec = Recorder()
    eng = toy_engine(rec, quoter=LevelsQuoter(checked))
    acts = eng.on_event(book(T0), T0)
    assert all(action_problem(a) is None for a in acts)
    assert not any(isinstance(a, Place) for a in acts)
    assert (("fault", "quoter toy_quoter") in rec.log) is not checked
    assert (("fault", "executor toy_exec") in rec.log) is checked


@settings(max_examples=300, deadline=None)
@given(sides, sides, st.booleans())
def test_the_status_carries_the_check_of_its_rows(
    bids: tuple[float, ...], asks: tuple[float, ...], last_valid: bool
) -> None:
    """``_status`` over rows as the quote kernels leave them (any numbers: the GLFT rows
    on the streams above are always fine, so only rows written here reach the other
    branch): a change carries :data:`LEVELS_FINE` exactly when ``ladder_problem`` would pass
    the ladder of those rows; an unchanged call is SAME, with no bit."""
    bids, asks = bids[: 2 * (len(bids) // 2)], asks[: 2 * (len(asks) // 2)]
    levels = max(len(bids), len(asks), 2) // 2
    f = np.zeros(kt.F_WEIGHTS + 10 * levels)  # weights, rows, last rows: 2 * levels each
    i = np.zeros(kt.I_SLOTS, dtype=np.int64)
    i[kt.I_LEVELS] = levels
    at_b = kt.F_WEIGHTS + 2 * levels
    at_a = at_b + 2 * levels
    f[at_b : at_b + len(bids)] = bids
    f[at_a : at_a + len(asks)] = asks
    i[kt.I_NB], i[kt.I_NA] = len(bids), len(asks)
    i[kt.I_LAST_VALID] = 1 if last_valid else 0
    i[kt.I_LAST_NB] = -1  # the last rows differ: a change
    status = kt._status(f, i)
    assert status & (kt.BIDS_CHANGED | kt.ASKS_CHANGED)
    assert bool(status & kt.LEVELS_FINE) == verdict(bids, asks)
    if all(x == x for x in bids + asks):  # (a NaN never equals itself: changed again)
        assert kt._status(f, i) == kt.SAME  # the same rows again
