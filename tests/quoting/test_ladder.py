"""LadderBuilder (public API for quoter plugins): grid, spacing, post-only, exposure."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.audit.invariants.quoting import (
    assert_exposure,
    assert_finite_positive,
    assert_no_self_cross,
    assert_post_only,
    assert_venue_grid,
)
from mmkit.core.types import Instrument
from mmkit.quoting.ladder import LadderBuilder
from mmkit.quoting.params import LadderParams
from mmkit.rounding import post_only_price, round_price

ANY = st.one_of(
    st.floats(-0.2, 0.2), st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e300, -1e300])
)


def test_ask_ladder_across_a_decade_stays_on_the_grid() -> None:
    inst = Instrument("X", 0, sz_decimals=1, max_decimals=6, tick=0.1)
    b = LadderBuilder(inst, LadderParams(levels=5, post_only=False))
    lad = b.build(9999.0, 0.01, 0.0, 0.4 / 9999.0, 1.0, 0.0, 100.0)
    asks = [q.px for q in lad.asks]
    # 4 steps of 0.1 apart below 10000; above, re-rounded up onto the integer grid and kept
    # strictly increasing
    assert asks == [9999.0, 9999.4, 9999.8, 10001.0, 10002.0]
    assert_venue_grid(lad, inst)


def test_bid_ladder_across_a_decade_uses_the_finer_grid() -> None:
    inst = Instrument("X", 0, sz_decimals=1, max_decimals=6, tick=0.1)
    b = LadderBuilder(inst, LadderParams(levels=4, post_only=False))
    lad = b.build(10000.5, 0.00001, 0.01, 1.0 / 10000.0, 1.0, 0.0, 100.0)
    bids = [q.px for q in lad.bids]
    assert bids[0] == 10000.0 and bids[1:] == [9999.0, 9998.0, 9997.0]
    assert_venue_grid(lad, inst)


def test_post_only_and_self_cross_guard() -> None:
    inst = Instrument("X", 0, sz_decimals=2, max_decimals=6, tick=0.01)
    b = LadderBuilder(inst, LadderParams(levels=3))
    # both depths negative: both sides want to cross; post-only keeps them off the book
    lad = b.build(100.0, -0.01, -0.01, 1e-4, 1.0, 0.0, 10.0, 99.99, 100.01)
    assert_post_only(lad, (99.99,), (100.01,))
    assert_no_self_cross(lad)
    assert lad.bids[0].px < 100.01 and lad.asks[0].px > 99.99


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([(0, 5), (2, 3), (5, 0.001), (4, 0.05)]),
    st.floats(0.01, 2e5),
    ANY,
    ANY,
    st.one_of(st.floats(0, 0.01), st.just(math.nan)),
    st.floats(0.0, 3.0),
    st.floats(-2.0, 2.0),
    st.integers(1, 8),
    st.sampled_from(["flat", "geometric", "intensity"]),
    st.booleans(),
    st.floats(0.0, 0.01),
    st.sampled_from(["ok", "none", "off_grid"]),
)
def test_builder_output_is_always_valid(
    inst_spec: tuple[int, float],
    mid: float,
    bid_d: float,
    ask_d: float,
    spacing: float,
    size_mult: float,
    pos_mult: float,
    levels: int,
    allocation: str,
    post_only: bool,
    half: float,
    book: str,
) -> None:
    szd, base_size = inst_spec
    inst = Instrument("X", 0, sz_decimals=szd, max_decimals=6, tick=1.0)
    b = LadderBuilder(
        inst,
        LadderParams(levels=levels, size_allocation=allocation, post_only=post_only),  # type: ignore[arg-type]
        max_order_notional=5_000.0,
    )
    base = base_size * size_mult * max(1.0, 20.0 / (base_size * mid))
    max_pos = base * 4
    pos = pos_mult * max_pos
    bb = round_price(mid * (1 - half), szd, direction="down")
    ba = round_price(mid * (1 + half), szd, direction="up")
    if book == "none":
        bb = ba = math.nan
    elif book == "off_grid":
        bb, ba = mid * (1 - half) - 1e-7, mid * (1 + half) + 1e-7
    lad = b.build(mid, bid_d, ask_d, spacing, base, pos, max_pos, bb, ba, 2000.0)
    assert_finite_positive(lad)
    assert_no_self_cross(lad)
    assert_venue_grid(lad, inst)
    assert_exposure(lad, pos, max_pos, 5_000.0)
    if post_only and book != "none":
        assert_post_only(lad, (bb,), (ba,))
    assert len(lad.bids) <= levels and len(lad.asks) <= levels
    # the same inputs give the very same ladder object (nothing changed)
    assert b.build(mid, bid_d, ask_d, spacing, base, pos, max_pos, bb, ba, 2000.0) is lad


@settings(max_examples=400)
@given(
    st.sampled_from([0, 2, 5]),
    st.floats(0.05, 2e5),
    st.floats(-0.01, 0.01),
    st.floats(-0.01, 0.01),
    st.floats(0.0, 0.002),
    st.booleans(),
    st.booleans(),
)
def test_level_zero_is_the_rounding_modules_post_only_price(
    szd: int, mid: float, bid_d: float, ask_d: float, half: float, on_grid: bool, decade: bool
) -> None:
    """The builder's own grid arithmetic (decade cache, post-only shortcut) gives exactly
    what mmkit.rounding gives for the best level, whatever the depth does to the book."""
    inst = Instrument("X", 0, sz_decimals=szd, max_decimals=6, tick=1.0)
    b = LadderBuilder(inst, LadderParams(levels=1, max_depth=0.5))
    bb, ba = mid * (1 - half), mid * (1 + half)
    if on_grid:
        bb = round_price(bb, szd, direction="down")
        ba = round_price(ba, szd, direction="up")
    if decade:  # the best ask right at a decade boundary, where the price grid changes
        ba = 10.0 ** round(math.log10(mid))
        bb = round_price(ba * (1 - half - 1e-4), szd, direction="down")
        mid = 0.5 * (bb + ba)
    if not bb < ba:
        return
    size = 1e6 / mid  # far above the minimum notional
    lad = b.build(mid, bid_d, ask_d, 0.0, size, 0.0, 10 * size, bb, ba, 0.0)
    want_bid = post_only_price(mid * (1 - bid_d), True, math.nan, ba, szd)
    want_ask = post_only_price(mid * (1 + ask_d), False, bb, math.nan, szd)
    assert [q.px for q in lad.asks] == [want_ask]
    if want_bid < want_ask:  # else the self-cross guard drops the bid
        assert [q.px for q in lad.bids] == ([want_bid] if want_bid > 0 else [])


@pytest.mark.parametrize("bad", [math.nan, -1.0, 0.0, math.inf])
def test_no_ladder_for_bad_mid_or_size(bad: float) -> None:
    b = LadderBuilder(Instrument(), LadderParams())
    assert b.build(bad, 1e-3, 1e-3, 1e-4, 0.001, 0.0, 0.01).empty
    assert b.build(90000.0, 1e-3, 1e-3, 1e-4, bad, 0.0, 0.01).empty
