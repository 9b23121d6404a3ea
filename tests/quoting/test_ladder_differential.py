"""The optimised LadderBuilder against a plain, obviously-correct builder written here from
mmkit.rounding alone: identical ladders (prices, sizes, sides, levels) for random estimates,
positions, instruments and parameters, call after call on one builder (its memo of the last
ladder must never leak a stale side). A deliberately broken builder shows the check bites."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.components import Ladder
from mmkit.core.types import Instrument
from mmkit.quoting.ladder import LadderBuilder
from mmkit.quoting.params import LadderParams, SizeAllocation
from mmkit.rounding import (
    next_price_above,
    post_only_price,
    price_step,
    round_price,
    round_size,
)

Row = tuple[float, float]  # (price, size)


@dataclass
class PlainLadder:
    """The ladder rules of :mod:`mmkit.quoting.ladder`, one level at a time, in prices."""

    inst: Instrument
    p: LadderParams
    max_order_notional: float

    def build(
        self,
        mid: float,
        bid_depth: float,
        ask_depth: float,
        spacing: float,
        base: float,
        position: float,
        max_position: float,
        best_bid: float,
        best_ask: float,
        kappa: float,
    ) -> tuple[list[Row], list[Row]]:
        if not (0.0 < mid < math.inf and 0.0 < base < math.inf):
            return [], []
        if not (math.isfinite(position) and max_position >= 0.0):
            return [], []
        spacing = spacing if 0.0 <= spacing < math.inf else 0.0
        kappa = kappa if 0.0 <= kappa < math.inf else 0.0
        bids = self.side(
            True, mid, bid_depth, spacing, base, max_position - position, best_ask, kappa
        )
        asks = self.side(
            False, mid, ask_depth, spacing, base, max_position + position, best_bid, kappa
        )
        if bid_depth + ask_depth < 1e-6 and bids and asks:
            bids = [b for b in bids if b[0] < asks[0][0]]  # never cross our own asks
        return bids, asks

    def side(
        self,
        is_bid: bool,
        mid: float,
        depth: float,
        spacing: float,
        base: float,
        room: float,
        opposite: float,
        kappa: float,
    ) -> list[Row]:
        inst, p = self.inst, self.p
        szd, mxd = inst.sz_decimals, inst.max_decimals
        if not (room > 0.0 and depth <= p.max_depth) or (is_bid and not depth < 1.0):
            return []
        depth = max(depth, -p.max_depth)
        raw = mid * (1.0 - depth) if is_bid else mid * (1.0 + depth)
        if p.post_only and 0.0 < opposite < math.inf:
            bb, ba = (math.nan, opposite) if is_bid else (opposite, math.nan)
            px0 = post_only_price(raw, is_bid, bb, ba, szd, max_decimals=mxd)
        else:
            px0 = round_price(raw, szd, max_decimals=mxd, direction="down" if is_bid else "up")
        if not 0.0 < px0 < math.inf:
            return []
        step = price_step(px0, szd, mxd)  # level 0's grid; deeper asks may coarsen
        units = spacing * mid / step
        ticks = max(p.min_level_ticks, int(units + 0.5) if units < 1e15 else 10**15)
        if p.size_allocation == "intensity":
            gap = kappa * ticks * step / mid
            raw_w = [math.exp(-gap * i) for i in range(p.levels)]
        elif p.size_allocation == "geometric":
            raw_w = [p.geometric_ratio**i for i in range(p.levels)]
        else:
            raw_w = [1.0] * p.levels
        mean = sum(raw_w) / len(raw_w)
        if p.size_allocation == "intensity":
            wants = [base * w / mean for w in raw_w]
        else:
            wants = [base * (w / mean) for w in raw_w]
        scale = round(1.0 / step)  # 10**decimals
        n0 = round(px0 * scale)
        out: list[Row] = []
        prev = 0.0
        for i, want in enumerate(wants):
            n = n0 - i * ticks if is_bid else n0 + i * ticks
            if n <= 0:
                break
            px = n / scale
            if not is_bid and round_price(px, szd, max_decimals=mxd) != px:
                px = round_price(px, szd, max_decimals=mxd, direction="up")  # coarser decade
                if not px > prev:
                    px = next_price_above(prev, szd, max_decimals=mxd)
            prev = px
            target = min(want, room)
            if target * px > self.max_order_notional:
                target = self.max_order_notional / px
            sz = round_size(target, szd, "down")
            if not (sz > 0.0 and px * sz >= inst.min_notional * (1.0 - 1e-12)):
                if want >= room:
                    break
                continue
            out.append((px, sz))
            room -= sz
            if room <= 0.0:
                break
        return out


def rows(ladder: Ladder) -> tuple[list[Row], list[Row]]:
    """Prices and sizes, after checking sides and levels are what they must be."""
    for side, quotes in ((1, ladder.bids), (-1, ladder.asks)):
        assert [q.level for q in quotes] == list(range(len(quotes)))
        assert all(int(q.side) == side for q in quotes)
    return [(q.px, q.sz) for q in ladder.bids], [(q.px, q.sz) for q in ladder.asks]


INSTRUMENTS = st.builds(
    lambda szd, mxd, mn: Instrument(
        "X", 0, sz_decimals=szd, max_decimals=mxd, tick=1.0, min_notional=mn
    ),
    st.integers(0, 6),
    st.sampled_from([6, 8]),
    st.sampled_from([10.0, 1.0, 100.0]),
)
PARAMS = st.builds(
    lambda lv, sp, mt, alloc, ratio, md, po: LadderParams(
        levels=lv,
        level_spacing=sp,
        min_level_ticks=mt,
        size_allocation=alloc,
        geometric_ratio=ratio,
        max_depth=md,
        post_only=po,
    ),
    st.integers(1, 12),
    st.floats(0.01, 5.0),
    st.integers(1, 5),
    st.sampled_from(["flat", "geometric", "intensity"]),
    st.sampled_from([1.0, 1.5, 0.7]),
    st.floats(0.001, 0.5),
    st.booleans(),
)
ODD = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0])
MIDS = st.one_of(
    st.floats(1e-4, 2e6),
    st.sampled_from([100.0, 99999.5, 10000.0, 9999.95, 0.1, 1.0, 1000.0, 0.999995]),
    ODD,
)
DEPTHS = st.one_of(st.floats(-0.05, 0.05), st.floats(-0.6, 0.6), ODD)
CALLS = st.tuples(
    MIDS,
    DEPTHS,
    DEPTHS,
    st.one_of(st.floats(0.0, 0.01), st.floats(-1.0, 1.0), ODD),  # spacing
    st.one_of(st.floats(1e-4, 50.0), ODD),  # base size
    st.one_of(st.floats(-100.0, 100.0), st.just(0.0), ODD),  # position
    st.one_of(st.floats(0.0, 200.0), ODD),  # max position
    st.one_of(st.floats(0.5, 1.5), st.just(math.nan)),  # best bid / mid
    st.one_of(st.floats(0.5, 1.5), st.just(math.nan)),  # best ask / mid
    st.one_of(st.floats(0.0, 5000.0), ODD),  # kappa
)


def _compare(
    inst: Instrument,
    p: LadderParams,
    notional: float,
    calls: list[tuple[float, ...]],
    plain: PlainLadder,
) -> None:
    fast = LadderBuilder(inst, p, notional)
    for mid, bd, ad, sp, base, pos, mp, bbr, bar, k in calls:
        bb, ba = mid * bbr, mid * bar
        got = rows(fast.build(mid, bd, ad, sp, base, pos, mp, bb, ba, k))
        want = plain.build(mid, bd, ad, sp, base, pos, mp, bb, ba, k)
        assert got == want, (mid, bd, ad, sp, base, pos, mp, bb, ba, k)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    INSTRUMENTS,
    PARAMS,
    st.sampled_from([math.inf, 1000.0, 50.0]),
    st.lists(CALLS, min_size=1, max_size=6),
)
def test_optimised_ladder_equals_the_plain_one(
    inst: Instrument, p: LadderParams, notional: float, calls: list[tuple[float, ...]]
) -> None:
    _compare(inst, p, notional, calls, PlainLadder(inst, p, notional))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5), st.floats(0.0, 3.0), st.floats(-0.01, 0.01))
def test_repeated_and_alternating_calls_agree(szd: int, pos: float, skew: float) -> None:
    """Unchanged, then alternating, then unchanged again: the memo of the last side."""
    inst = Instrument("X", 0, sz_decimals=szd, max_decimals=6, tick=1.0)
    p = LadderParams()
    a = (100.0, 0.001 + skew, 0.001 - skew, 1e-4, 1.0, pos, 5.0, 99.99, 100.01, 10.0)
    b = (100.02, 0.001, 0.001, 1e-4, 1.0, pos, 5.0, 100.0, 100.04, 10.0)
    _compare(inst, p, math.inf, [a, a, b, a, b, b, a], PlainLadder(inst, p, math.inf))


class _OffByOneLevel(PlainLadder):
    """Broken on purpose: spaces levels one tick too far apart."""

    def side(self, is_bid: bool, *args: float) -> list[Row]:
        p = self.p
        self.p = LadderParams(
            levels=p.levels,
            level_spacing=p.level_spacing,
            min_level_ticks=p.min_level_ticks + 1,
            size_allocation=p.size_allocation,
            geometric_ratio=p.geometric_ratio,
            max_depth=p.max_depth,
            post_only=p.post_only,
        )
        try:
            return super().side(is_bid, *args)
        finally:
            self.p = p


def test_a_broken_builder_is_caught() -> None:
    inst = Instrument()
    p = LadderParams(levels=3)
    call = (100_000.0, 1e-4, 1e-4, 0.0, 0.001, 0.0, 0.01, 99_999.0, 100_001.0, 10.0)
    _compare(inst, p, math.inf, [call], PlainLadder(inst, p, math.inf))
    try:
        _compare(inst, p, math.inf, [call], _OffByOneLevel(inst, p, math.inf))
    except AssertionError:
        return
    raise AssertionError("a ladder spaced one tick wider went unnoticed")


# -- the sides' cache by rounded inputs ------------------------------------------------------
# A side is remembered by (level 0's grid index, level step, grid scale, base size, intensity
# gap, room), the room left out when it is too large to cap any level (an uncapped ladder's
# compact key). Calls alternate between uncapped sides (compact key), capped ones (room in
# the key) and back, on flat and non-flat ladders, so a side served from the cache under the
# wrong key shows up as a difference from the plain builder.

ROOMY_AND_TIGHT = st.lists(
    st.sampled_from([-4.0, -1.0, 0.0, 0.5, 1.5, 2.0, 3.0, 4.5, 5.0]), min_size=2, max_size=12
)


def _alternating(mid: float, skews: list[float], positions: list[float]) -> list[tuple[float, ...]]:
    """Calls around ``mid`` with a base size of 1 and a max position of 5: positions below
    0 leave room for every level, above 0 cap the bids (and under 0 the asks)."""
    out: list[tuple[float, ...]] = []
    for i, pos in enumerate(positions):
        skew = skews[i % len(skews)]
        out.append(
            (mid, 0.001 + skew, 0.001 - skew, 1e-4, 1.0, pos, 5.0, mid * 0.9999, mid * 1.0001, 50.0)
        )
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 4),
    st.sampled_from(["flat", "geometric", "intensity"]),
    st.sampled_from([1.0, 1.5, 0.7]),
    st.integers(1, 6),
    st.sampled_from([100.0, 3000.05, 99_999.5, 9.99995]),
    st.lists(st.sampled_from([0.0, 2e-4, -2e-4]), min_size=1, max_size=3),
    ROOMY_AND_TIGHT,
)
def test_compact_and_capped_sides_alternate(
    szd: int,
    alloc: SizeAllocation,
    ratio: float,
    levels: int,
    mid: float,
    skews: list[float],
    positions: list[float],
) -> None:
    inst = Instrument("X", 0, sz_decimals=szd, max_decimals=6, tick=1.0, min_notional=1.0)
    p = LadderParams(levels=levels, size_allocation=alloc, geometric_ratio=ratio)
    calls = _alternating(mid, skews, positions)
    _compare(inst, p, math.inf, calls, PlainLadder(inst, p, math.inf))


class _RoomAlwaysOutOfKey(LadderBuilder):
    """Broken on purpose: keys every side as if its room could never cap a level."""

    __slots__ = ()

    def __init__(self, instrument: Instrument, params: LadderParams, notional: float) -> None:
        super().__init__(instrument, params, notional)
        self._load = 0.0
        self._slack = 0.0


def test_a_side_cached_under_too_compact_a_key_is_caught() -> None:
    inst = Instrument("X", 0, sz_decimals=2, max_decimals=6, tick=1.0, min_notional=1.0)
    p = LadderParams(levels=5)
    calls = _alternating(100.0, [0.0], [-1.0, 3.0, -1.0])  # roomy, capped bids, roomy
    plain = PlainLadder(inst, p, math.inf)
    _compare(inst, p, math.inf, calls, plain)
    broken = _RoomAlwaysOutOfKey(inst, p, math.inf)
    got = [rows(broken.build(*c)) for c in calls]
    assert got != [plain.build(*c) for c in calls]


def test_level_zero_rounded_onto_a_power_of_ten_takes_that_decade_s_grid() -> None:
    """Found by the property test: an ask rounded up from 9999.9375 to 10000.0 (and a bid
    snapped up to 100.0 by float noise) is spaced on the grid of its own decade, so every
    level is a valid price (10000.1 has six significant figures)."""
    inst = Instrument("X", 0, sz_decimals=0, max_decimals=6, tick=1.0, min_notional=10.0)
    p = LadderParams(levels=2, level_spacing=1.0, min_level_ticks=1, max_depth=0.5)
    ask = (9999.9375, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, math.nan, math.nan, 0.0)
    assert rows(LadderBuilder(inst, p).build(*ask))[1] == [(10000.0, 1.0), (10001.0, 1.0)]
    p3 = LadderParams(levels=2, level_spacing=1.0, min_level_ticks=3, max_depth=0.5)
    bid = (100.0, 1e-13, math.nan, 0.0, 1.0, -2.0, 2.0, math.nan, math.nan, 0.0)
    assert rows(LadderBuilder(inst, p3).build(*bid))[0] == [(100.0, 1.0), (99.97, 1.0)]
    # and where max_decimals caps the grid, rounding up leaves the decade by a whole step
    tiny = Instrument("X", 0, sz_decimals=5, max_decimals=6, tick=1.0, min_notional=10.0)
    p5 = LadderParams(levels=2, level_spacing=1.0, min_level_ticks=5, max_depth=0.5)
    call = (0.0078125, 0.0, 0.0, 0.0, 17.0, 0.0, 18.0, 0.0078125, math.nan, 0.0)
    assert rows(LadderBuilder(tiny, p5).build(*call)) == ([], [(0.6, 17.0)])
