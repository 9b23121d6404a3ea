"""The glft quoter end to end: registration, ladder shape, hostile inputs, monotone skew."""

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
    make_estimates,
    make_view,
)
from mmkit.components import Quoter
from mmkit.core.types import Instrument
from mmkit.params import build_params
from mmkit.plugin_manager import get_host
from mmkit.quoting.glft import glft_terms
from mmkit.quoting.glft_quoter import GlftQuoter
from mmkit.quoting.params import DepthSource, GlftParams
from mmkit.registry import BuildContext, RiskLimits
from mmkit.rounding import price_step

from .conftest import BTC, DOGE, ETH, RISK_BTC, RISK_DOGE, RISK_ETH

HOSTILE = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300, 5e-324])
SOURCES: list[DepthSource] = ["closed_form", "finite_horizon", "infinite_horizon"]


def quoter(
    params: GlftParams | None = None, inst: Instrument = BTC, risk: RiskLimits = RISK_BTC
) -> GlftQuoter:
    return GlftQuoter(params or GlftParams(), inst, risk)


def book(mid: float, half: float = 0.5, n: int = 3) -> tuple[list[float], list[float]]:
    return [mid - half - i for i in range(n)], [mid + half + i for i in range(n)]


def test_registered_and_builds_through_the_registry() -> None:
    host = get_host()
    spec = host.registry.get("quoter", "glft")
    params, problems = build_params(
        GlftParams, {"depth_source": "finite_horizon", "levels": 3}, "quoters.glft"
    )
    assert not problems and params is not None
    q = spec.build(BuildContext("quoter", "glft", params, BTC, RISK_BTC))
    assert isinstance(q, Quoter)
    _, bad = build_params(GlftParams, {"depth_source": "exact"}, "quoters.glft")
    assert bad and "depth_source" in bad[0]


def test_ladder_shape_flat_book() -> None:
    bids, asks = book(90000.5)
    view = make_view(BTC, bids, asks, 0.0, RISK_BTC.max_position)
    lad = quoter().quote(view, make_estimates({}), 0)
    assert len(lad.bids) == 5 and len(lad.asks) == 5
    assert [q.level for q in lad.bids] == list(range(5))
    t = glft_terms(2000.0, 1.0, 1e-4, 50.0)
    mid = 90000.5
    # level 0 at the optimal depth, rounded away from mid onto the grid
    assert lad.bids[0].px == math.floor(mid * (1 - t.bid_depth(0.0)))
    assert lad.asks[0].px == math.ceil(mid * (1 + t.ask_depth(0.0)))
    # evenly spaced by a whole number of price steps, 0.5 average fill distances apart
    gaps = {round(a.px - b.px, 9) for a, b in zip(lad.bids, lad.bids[1:], strict=False)}
    assert gaps == {round(0.5 / 2000.0 * mid)}
    assert all(q.sz == RISK_BTC.order_size for q in (*lad.bids, *lad.asks))


def test_quotes_are_reused_when_nothing_changed() -> None:
    bids, asks = book(90000.5)
    view = make_view(BTC, bids, asks, 0.0, RISK_BTC.max_position)
    q = quoter()
    est = make_estimates({})
    first = q.quote(view, est, 0)
    assert q.quote(view, est, 1) is first
    est.kappa = 1500.0
    assert q.quote(view, est, 2) != first


@pytest.mark.parametrize("source", SOURCES)
def test_exposure_cap_and_limit_side(source: DepthSource) -> None:
    params = GlftParams(depth_source=source)
    bids, asks = book(90000.5)
    est = make_estimates({})
    maxp = RISK_BTC.max_position
    at_limit = quoter(params).quote(make_view(BTC, bids, asks, maxp, maxp), est, 0)
    assert not at_limit.bids and at_limit.asks
    assert sum(q.sz for q in at_limit.asks) <= 2 * maxp
    short_limit = quoter(params).quote(make_view(BTC, bids, asks, -maxp, maxp), est, 0)
    assert short_limit.bids and not short_limit.asks
    near = quoter(params).quote(make_view(BTC, bids, asks, 0.0075, maxp), est, 0)
    assert sum(q.sz for q in near.bids) == pytest.approx(0.0025)  # the last level is trimmed
    assert_exposure(near, 0.0075, maxp, RISK_BTC.max_order_notional)


def test_min_notional_drops_levels() -> None:
    tiny = RiskLimits(max_position=1.0, order_size=0.0001, max_order_notional=1e6)
    bids, asks = book(90000.5)
    lad = quoter(inst=BTC, risk=tiny).quote(
        make_view(BTC, bids, asks, 0.0, 1.0), make_estimates({}), 0
    )
    assert lad.empty  # $9 orders are below the $10 minimum


def test_geometric_and_intensity_sizes() -> None:
    bids, asks = book(3000.05, 0.05)
    view = make_view(ETH, bids, asks, 0.0, 10.0)
    risk = RiskLimits(max_position=10.0, order_size=0.1, max_order_notional=1e6)
    geo = quoter(
        GlftParams(size_allocation="geometric", geometric_ratio=2.0, levels=4), ETH, risk
    ).quote(view, make_estimates({}), 0)
    sizes = [q.sz for q in geo.bids]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    assert sum(sizes) == pytest.approx(4 * 0.1, abs=4e-4)  # rounded down, <= 1e-4 each
    inten = quoter(GlftParams(size_allocation="intensity", levels=4), ETH, risk).quote(
        view, make_estimates({}), 0
    )
    sizes = [q.sz for q in inten.bids]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_post_only_clamps_to_the_touch() -> None:
    bids, asks = book(90000.5)
    view = make_view(BTC, bids, asks, -0.009, RISK_BTC.max_position)
    # a huge skew pulls the bid through the ask: it stops one step below the best ask
    lad = quoter(GlftParams(gamma=1e5)).quote(view, make_estimates({"sigma": 1e-3}), 0)
    assert lad.bids[0].px == asks[0] - 1.0
    assert_post_only(lad, tuple(bids), tuple(asks))


def test_no_quotes_without_a_usable_market() -> None:
    q = quoter()
    est = make_estimates({})
    assert q.quote(make_view(BTC, [], [100.0], 0.0, 0.01), est, 0).empty
    assert q.quote(make_view(BTC, [101.0], [100.0], 0.0, 0.01), est, 0).empty
    assert q.quote(make_view(BTC, [99.0], [100.0], 0.0, 0.01, position_known=False), est, 0).empty
    assert q.quote(make_view(BTC, [99.0], [100.0], math.nan, 0.01), est, 0).empty
    for bad in (
        {"kappa": math.nan},
        {"A": math.nan},
        {"sigma": math.nan},
        {"sigma": -1.0},
        {"sigma": math.inf},
    ):
        assert q.quote(make_view(BTC, *book(90000.5), 0.0, 0.01), make_estimates(bad), 0).empty


@pytest.mark.parametrize(
    "mods",
    [{"spread_scale": 2.0}, {"fair_value_shift": 1e-4}, {"skew_shift": -1e-4}, {"size_scale": 2.0}],
)
def test_estimate_modifiers(mods: dict[str, float]) -> None:
    view = make_view(BTC, *book(90000.5), 0.0, 0.1)
    risk = RiskLimits(max_position=0.1, order_size=0.001, max_order_notional=1e6)
    base = quoter(risk=risk).quote(view, make_estimates({}), 0)
    mod = quoter(risk=risk).quote(view, make_estimates(mods), 0)
    b0, a0, b1, a1 = base.bids[0].px, base.asks[0].px, mod.bids[0].px, mod.asks[0].px
    if "spread_scale" in mods:
        assert b1 < b0 and a1 > a0
    elif "size_scale" in mods:
        assert mod.bids[0].sz == 2 * base.bids[0].sz
    else:
        shift = mods.get("fair_value_shift", 0.0) + mods.get("skew_shift", 0.0)
        assert (b1 - b0) * shift > 0 and (a1 - a0) * shift > 0


def test_session_horizon_moves_towards_terminal_depth() -> None:
    params = GlftParams(
        depth_source="finite_horizon",
        horizon_mode="session",
        horizon_s=600.0,
        resolve_tolerance=0.0,
    )
    q = quoter(params)
    early = q._tau(0)
    late = q._tau(599 * 10**9)
    assert early == 600.0 and late == pytest.approx(1.0)


# ---- properties over hostile input -----------------------------------------------------------


@st.composite
def situations(
    draw: st.DrawFn,
) -> tuple[
    Instrument, RiskLimits, GlftParams, dict[str, float], list[float], list[float], float, int
]:
    inst, risk, ref = draw(
        st.sampled_from([(BTC, RISK_BTC, 90000.0), (ETH, RISK_ETH, 3000.0), (DOGE, RISK_DOGE, 0.2)])
    )
    params = GlftParams(
        depth_source=draw(st.sampled_from(SOURCES)),
        gamma=draw(st.floats(1e-3, 1e4)),
        levels=draw(st.integers(1, 6)),
        size_allocation=draw(st.sampled_from(["flat", "geometric", "intensity"])),
        use_drift=draw(st.booleans()),
        xi=draw(st.sampled_from([-1.0, 0.0, 10.0])),
        max_q=draw(st.integers(1, 40)),
    )

    def f(lo: float, hi: float) -> st.SearchStrategy[float]:
        return st.one_of(st.floats(lo, hi), HOSTILE)

    est = {
        "kappa": draw(f(0.0, 1e7)),
        "A": draw(f(0.0, 1e3)),
        "sigma": draw(st.one_of(st.floats(0.0, 0.05), HOSTILE)),
        "drift": draw(f(-1e-3, 1e-3)),
        "fair_value_shift": draw(f(-0.01, 0.01)),
        "skew_shift": draw(f(-0.01, 0.01)),
        "spread_scale": draw(f(0.0, 20.0)),
        "size_scale": draw(f(0.0, 5.0)),
    }
    mid = ref * draw(st.floats(0.5, 2.0))
    step = price_step(mid, inst.sz_decimals, inst.max_decimals)
    half = draw(st.integers(0, 20)) * step
    bids = [mid - half - i * step for i in range(3)]
    asks = [mid + half + step + i * step for i in range(3)]
    kind = draw(st.sampled_from(["ok", "ok", "ok", "crossed", "empty", "one"]))
    if kind == "crossed":
        bids, asks = asks, bids
    elif kind == "empty":
        bids, asks = [], []
    elif kind == "one":
        asks = []
    pos = draw(st.one_of(st.floats(-2.0, 2.0).map(lambda x: x * risk.max_position), HOSTILE))
    return inst, risk, params, est, bids, asks, pos, draw(st.integers(0, 10**15))


@settings(max_examples=300, deadline=None)
@given(situations())
def test_any_input_gives_valid_or_no_quotes(
    s: tuple[
        Instrument, RiskLimits, GlftParams, dict[str, float], list[float], list[float], float, int
    ],
) -> None:
    inst, risk, params, est, bids, asks, pos, now = s
    view = make_view(inst, bids, asks, pos, risk.max_position)
    lad = GlftQuoter(params, inst, risk).quote(view, make_estimates(est), now)
    assert_finite_positive(lad)
    assert_no_self_cross(lad)
    assert_venue_grid(lad, inst)
    assert_post_only(lad, tuple(bids), tuple(asks))
    if math.isfinite(pos):
        assert_exposure(lad, pos, risk.max_position, risk.max_order_notional)


@settings(max_examples=200, deadline=None)
@given(situations(), st.floats(-1.2, 1.2), st.floats(0.0, 1.0))
def test_more_long_never_raises_quotes(
    s: tuple[
        Instrument, RiskLimits, GlftParams, dict[str, float], list[float], list[float], float, int
    ],
    frac: float,
    more: float,
) -> None:
    inst, risk, params, est, bids, asks, _, now = s
    lo, hi = frac * risk.max_position, (frac + more) * risk.max_position
    q = GlftQuoter(params, inst, risk)  # one instance: caches must not break monotonicity
    e = make_estimates(est)
    a = q.quote(make_view(inst, bids, asks, lo, risk.max_position), e, now)
    b = q.quote(make_view(inst, bids, asks, hi, risk.max_position), e, now)
    if a.bids and b.bids:
        assert b.bids[0].px <= a.bids[0].px
    if a.asks and b.asks:
        assert b.asks[0].px <= a.asks[0].px


@pytest.mark.parametrize("risk", [RiskLimits(order_size=0.0), RiskLimits(max_position=math.nan)])
def test_bad_risk_limits_fail_the_build_clearly(risk: RiskLimits) -> None:
    from mmkit.errors import PluginError

    spec = get_host().registry.get("quoter", "glft")
    with pytest.raises(PluginError, match="order_size"):
        spec.build(BuildContext("quoter", "glft", GlftParams(), BTC, risk))
