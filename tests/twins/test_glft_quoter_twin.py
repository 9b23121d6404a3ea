"""The compiled GLFT quoter twin against its Python reference, call by call.

Streams of quoting situations (the audit's quoter scenarios: sane, one-sided, crossed and
off-grid books, positions at and beyond the limits, estimates over their whole range with
NaN / inf / negative / huge / subnormal values, focused grid-edge, near-limit, tight and
cascade families) drive a :class:`GlftQuoter` and its :class:`GlftQuoterTwin` side by side
over one instance each (so every cache and the "same ladder object" shortcut is exercised,
situations are revisited on purpose). After every call :func:`outputs_differ` must be empty:
ladders equal to the bit, the same object identities, the same public attributes.
A twin broken in one branch or by one ulp must be caught by the same comparison.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from mmkit.audit.invariant import AuditTarget
from mmkit.audit.invariants.quoting import (
    FOCUSES,
    Scenario,
    make_estimates,
    make_view,
    scenarios,
)
from mmkit.components import Estimates, Ladder, Quote, View
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import Instrument
from mmkit.quoting import _kernels_glft_quoter_twin as kt
from mmkit.quoting.glft_quoter import GlftQuoter
from mmkit.quoting.glft_quoter_twin import GlftQuoterTwin, ladders_differ, outputs_differ
from mmkit.quoting.params import DepthSource, GlftParams
from mmkit.registry import ComponentSpec, RiskLimits
from mmkit.rounding import Direction
from mmkit.twins import make_twin

BTC = Instrument("BTC", 0, sz_decimals=5, max_decimals=6, tick=1.0, min_notional=10.0)
ETH = Instrument("ETH", 1, sz_decimals=4, max_decimals=6, tick=0.1, min_notional=10.0)
DOGE = Instrument("DOGE", 5, sz_decimals=0, max_decimals=6, tick=1e-5, min_notional=10.0)
SPOT = Instrument("PURR", 7, sz_decimals=0, max_decimals=8, tick=1e-6, min_notional=10.0)
RISKS = {
    "BTC": RiskLimits(max_position=0.01, order_size=0.001, max_order_notional=10_000.0),
    "ETH": RiskLimits(max_position=0.2, order_size=0.01, max_order_notional=10_000.0),
    "DOGE": RiskLimits(max_position=2000.0, order_size=200.0, max_order_notional=10_000.0),
    "PURR": RiskLimits(max_position=5000.0, order_size=700.0, max_order_notional=50.0),
}
INSTRUMENTS = (BTC, ETH, DOGE, SPOT)
_SPEC = ComponentSpec(
    "quoter", "glft", "mmkit.quoting.glft_quoter:build", GlftParams, "", "mmkit.quoters"
)


def target(params: GlftParams, inst: Instrument) -> AuditTarget:
    return AuditTarget(_SPEC, params, inst, RISKS[inst.coin])


#: ladder parameters and GLFT parameters over their ranges (closed form: the compiled path)
params_st = st.builds(
    GlftParams,
    levels=st.integers(1, 8),
    level_spacing=st.sampled_from([0.5, 0.05, 2.0, 1e-9, 40.0]),
    min_level_ticks=st.sampled_from([1, 1, 3, 50]),
    size_allocation=st.sampled_from(["flat", "geometric", "intensity"]),
    geometric_ratio=st.sampled_from([1.5, 0.5, 3.0]),
    max_depth=st.sampled_from([0.05, 0.001, 0.5]),
    post_only=st.booleans(),
    gamma=st.sampled_from([50.0, 0.1, 1e4]),
    xi=st.sampled_from([-1.0, 0.0, 1e-12, 5.0]),
    delta_lots=st.sampled_from([1.0, 0.5, 3.0]),
    kappa_floor=st.sampled_from([1.0, 100.0]),
    use_drift=st.booleans(),
    max_drift_lots=st.sampled_from([5.0, 0.0, 1e6]),
    # the exact solver (its table in Python, the ladder compiled) one time in four
    depth_source=st.sampled_from(["closed_form"] * 6 + ["finite_horizon", "infinite_horizon"]),
    horizon_s=st.sampled_from([3600.0, 2.5]),
    horizon_mode=st.sampled_from(["rolling", "session"]),
    max_q=st.sampled_from([3, 12, 30]),
    resolve_tolerance=st.sampled_from([0.05, 0.0]),
)


@st.composite
def streams(draw: Any, hostile: bool = True) -> tuple[AuditTarget, list[Scenario]]:
    """A quoter configuration and a stream of situations drawn from a small pool (so that
    some are revisited, as a mid bouncing between a few prices does)."""
    inst = draw(st.sampled_from(INSTRUMENTS))
    tgt = target(draw(params_st), inst)
    focus = draw(st.sampled_from(["", "", "", *FOCUSES]))
    pool = draw(st.lists(scenarios(tgt, hostile=hostile, focus=focus), min_size=1, max_size=6))
    order = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=14))
    return tgt, [pool[j] for j in order]


def quote_both(
    ref: GlftQuoter, twin: GlftQuoter, view: View, est: Estimates, now_ns: int
) -> tuple[Ladder, Ladder]:
    """One call each (the twin gets its own copies: nothing it does can reach the
    reference's inputs)."""
    r = ref.quote(view, est, now_ns)
    t = twin.quote(view, est.copy(), now_ns)
    return r, t


def compare_stream(
    ref: GlftQuoter,
    twin: GlftQuoter,
    calls: list[tuple[View, Estimates, int]],
) -> list[str]:
    """Drive both over ``calls``; the differences of the first call that has any, plus
    any difference in which earlier ladder objects each call returned again."""
    refs: list[Ladder] = []
    twins: list[Ladder] = []
    # calls that returned each object (every ladder stays alive in refs/twins: ids are stable)
    seen_r: dict[int, list[int]] = {}
    seen_t: dict[int, list[int]] = {}
    for n, (view, est, now) in enumerate(calls):
        r, t = quote_both(ref, twin, view, est, now)
        prev_r = refs[-1] if refs else None
        prev_t = twins[-1] if twins else None
        bad = outputs_differ(ref, twin, r, t, prev_r, prev_t)
        # every earlier ladder object returned again (the recent-ladder cache), not only
        # the last one
        again_r = seen_r.setdefault(id(r), [])
        again_t = seen_t.setdefault(id(t), [])
        if again_r != again_t:
            bad.append(f"ladder objects of calls {again_r} (reference) vs {again_t} (twin)")
        if bad:
            return [f"call {n}: {b}" for b in bad]
        again_r.append(n)
        again_t.append(n)
        refs.append(r)
        twins.append(t)
    return []


def calls_of(tgt: AuditTarget, stream: list[Scenario]) -> list[tuple[View, Estimates, int]]:
    out = []
    for sc in stream:
        view = make_view(
            tgt.instrument,
            sc.bids,
            sc.asks,
            sc.position,
            tgt.risk.max_position,
            last_trade=sc.last_trade,
        )
        out.append((view, make_estimates(sc.est), sc.now_ns))
    return out


def pair(tgt: AuditTarget, cls: type[GlftQuoterTwin] = GlftQuoterTwin) -> tuple[Any, Any]:
    ref = GlftQuoter(tgt.params, tgt.instrument, tgt.risk)
    return ref, cls(tgt.params, tgt.instrument, tgt.risk)


# -- the twin itself ---------------------------------------------------------------------------


def test_twin_method_gives_a_fresh_twin_with_the_same_parameters() -> None:
    params = GlftParams(levels=3, gamma=7.0)
    ref = GlftQuoter(params, ETH, RISKS["ETH"])
    tw = ref.twin()
    assert type(tw) is GlftQuoterTwin
    assert tw.params is params and tw.instrument is ETH
    assert (tw.order_size, tw.max_position) == (0.01, 0.2)
    assert tw.builder is not ref.builder
    assert type(make_twin("quoter", ref)) is GlftQuoterTwin
    assert type(tw.twin()) is GlftQuoterTwin and tw.twin() is not tw
    assert tw.python_only == ""
    hjb = GlftQuoterTwin(GlftParams(depth_source="finite_horizon"), ETH, RISKS["ETH"])
    assert hjb.python_only == "" and hjb.cache is not None and hjb.cache is not ref.cache
    wide = Instrument("W", 0, sz_decimals=16, max_decimals=20)
    assert "sz_decimals" in GlftQuoterTwin(GlftParams(), wide, RISKS["ETH"]).python_only


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(hostile=True))
def test_twin_equals_reference_on_audit_streams(stream: tuple[AuditTarget, list[Scenario]]) -> None:
    tgt, scs = stream
    ref, tw = pair(tgt)
    assert compare_stream(ref, tw, calls_of(tgt, scs)) == []


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(hostile=True))
def test_twin_equals_reference_on_many_audit_streams(
    stream: tuple[AuditTarget, list[Scenario]],
) -> None:
    tgt, scs = stream
    ref, tw = pair(tgt)
    assert compare_stream(ref, tw, calls_of(tgt, scs)) == []


# -- hostile views: what the audit scenarios never build ---------------------------------------

HOSTILE = [math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1e300, -1e300, 5e-324, 1e-12, 1e-40]
num = st.one_of(st.sampled_from(HOSTILE), st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def hostile_call(draw: Any, inst: Instrument, max_pos: float) -> tuple[View, Estimates, int]:
    market = MarketState()
    mid = draw(st.one_of(st.floats(1e-3, 1e6), st.sampled_from([1e-39, 1e-30, 9.9999e4, 1e37])))
    half = draw(st.floats(0.0, 0.02))
    market.best_bid = draw(st.one_of(st.just(mid * (1 - half)), num))
    market.best_ask = draw(st.one_of(st.just(mid * (1 + half)), num))
    position = draw(st.one_of(st.floats(-2 * max_pos, 2 * max_pos), num))
    view_max = draw(st.one_of(st.just(max_pos), num))
    view = View(inst, market, Portfolio(position, draw(st.booleans())), view_max)
    est = Estimates()
    for name, sane in (
        ("kappa", st.floats(1e-3, 1e9)),
        ("A", st.floats(1e-4, 1e3)),
        ("sigma", st.floats(0.0, 1.0)),
        ("drift", st.floats(-1e-2, 1e-2)),
        ("fair_value_shift", st.floats(-0.1, 0.1)),
        ("skew_shift", st.floats(-0.1, 0.1)),
        ("spread_scale", st.floats(0.0, 200.0)),
        ("size_scale", st.floats(0.0, 20.0)),
    ):
        setattr(est, name, draw(st.one_of(sane, sane, num)))
    return view, est, draw(st.integers(0, 2**62))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_twin_equals_reference_on_hostile_views(data: st.DataObject) -> None:
    inst = data.draw(st.sampled_from(INSTRUMENTS))
    tgt = target(data.draw(params_st), inst)
    calls = data.draw(st.lists(hostile_call(inst, tgt.risk.max_position), min_size=1, max_size=8))
    # revisit: the same call again must give the same object from both
    calls = calls + calls[:2]
    ref, tw = pair(tgt)
    assert compare_stream(ref, tw, calls) == []


def test_non_numeric_estimates_take_the_reference_path() -> None:
    """An estimate that is not a number cannot enter the kernel: the reference decides
    (here it raises, and the twin raises the same way)."""
    tgt = target(GlftParams(), BTC)
    ref, tw = pair(tgt)
    view = make_view(BTC, [90000.0], [90001.0], 0.0, 0.01)
    est = make_estimates({"kappa": "fast"})  # type: ignore[dict-item]
    with pytest.raises(TypeError) as r_exc:
        ref.quote(view, est, 0)
    with pytest.raises(TypeError) as t_exc:
        tw.quote(view, est, 0)
    assert str(r_exc.value) == str(t_exc.value)
    assert tw.python_calls == 1
    # an int estimate is a number: same ladder as the reference's
    est = make_estimates({"kappa": 3000})
    assert ladders_differ(ref.quote(view, est, 0), tw.quote(view, est, 0)) == []


def test_numbers_of_other_types_take_the_dispatcher_and_stay_equal() -> None:
    """Plain floats go through the kernel's compiled entry point, which would take a
    numeric string or a Decimal as ``float()`` does; numbers of any other type (numpy
    scalars, ints, a numpy bool flag) and non-numbers go through numba's dispatcher, which
    converts what it can type and refuses the rest. Every case gives the reference's
    ladder or its exception."""
    from decimal import Decimal

    from mmkit.quoting import glft_quoter_twin as gt

    tgt = target(GlftParams(), BTC)
    ref, tw = pair(tgt)
    view = make_view(BTC, [90000.0], [90001.0], 0.0, 0.01)
    assert ladders_differ(ref.quote(view, Estimates(), 0), tw.quote(view, Estimates(), 0)) == []
    assert gt._glft_quote is not gt._bind_quote  # the entry point was bound and ran
    assert tw.python_calls == 0
    for name, value in (
        ("kappa", np.float64(3000.0)),
        ("sigma", np.float32(2e-4)),
        ("A", 2),
        ("size_scale", True),
        ("drift", np.int64(0)),
    ):
        est = Estimates()
        setattr(est, name, value)
        assert ladders_differ(ref.quote(view, est, 0), tw.quote(view, est, 0)) == [], name
    assert tw.python_calls == 0
    market = view.market
    market.best_bid = np.float64(90000.0)
    assert ladders_differ(ref.quote(view, Estimates(), 0), tw.quote(view, Estimates(), 0)) == []
    market.best_bid = 90000.0
    view.portfolio.position_known = np.bool_(True)
    assert ladders_differ(ref.quote(view, Estimates(), 0), tw.quote(view, Estimates(), 0)) == []
    view.portfolio.position_known = True
    bad: tuple[object, ...] = ("3000", Decimal(3000))
    for bad_value in bad:
        est = Estimates()
        est.kappa = bad_value  # type: ignore[assignment]
        calls = tw.python_calls
        got: list[str] = []
        for q in (ref, tw):
            try:
                got.append(repr(q.quote(view, est, 0).levels()))
            except Exception as exc:  # compared: both must raise alike
                got.append(f"{type(exc).__name__}: {exc}")
        assert got[0] == got[1], bad_value
        assert tw.python_calls == calls + 1  # the reference decided


# -- the compiled path is the one that runs ----------------------------------------------------


def test_default_config_runs_compiled_on_a_moving_btc_market() -> None:
    """A BTC ladder with the default parameters over a market walking across many mids,
    positions and estimates: every call compiled, every ladder equal, identities too."""
    rng = np.random.default_rng(7)
    tgt = target(GlftParams(), BTC)
    ref, tw = pair(tgt)
    calls = []
    mid = 90_000.0
    for n in range(600):
        mid = round(mid + rng.normal(0.0, 3.0))
        half = 0.5 if n % 5 else 2.0
        view = make_view(
            BTC,
            [mid - half, mid - half - 1],
            [mid + half, mid + half + 1],
            float(rng.integers(-12, 13)) * 1e-3,
            0.01,
        )
        est = make_estimates(
            {
                "kappa": float(10 ** rng.uniform(2.0, 4.5)),
                "A": float(10 ** rng.uniform(-1.0, 1.0)),
                "sigma": float(10 ** rng.uniform(-5.0, -3.0)),
                "spread_scale": float(rng.choice([1.0, 1.0, 2.0])),
                "fair_value_shift": float(rng.choice([0.0, 1e-4, -3e-4])),
            }
        )
        # repeat some calls as they are (a quiet market between timer ticks)
        calls += [(view, est, n)] * int(rng.integers(1, 3))
    assert compare_stream(ref, tw, calls) == []
    assert tw.python_calls == 0


def test_uncovered_inputs_fall_back_and_stay_equal() -> None:
    """A mid beyond the kernel's price range and asks straddling a power of ten run the
    reference's code; the calls around them are compiled again and still equal."""
    tgt = target(GlftParams(levels=5, level_spacing=5.0), DOGE)
    ref, tw = pair(tgt)
    est = make_estimates({"kappa": 200.0, "A": 1.0, "sigma": 1e-3})
    views = [
        make_view(DOGE, [0.1], [0.1001], 0.0, 2000.0),  # compiled
        make_view(DOGE, [0.0999], [0.09999], 0.0, 2000.0),  # asks cross 0.1: Python
        make_view(DOGE, [0.1], [0.1001], 0.0, 2000.0),  # compiled again
        make_view(DOGE, [1e-39], [1.1e-39], 0.0, 2000.0),  # below the kernel's range
        make_view(DOGE, [0.1], [0.1001], 0.0, 2000.0),
    ]
    assert compare_stream(ref, tw, [(v, est, 0) for v in views]) == []
    assert 1 <= tw.python_calls <= 2


@pytest.mark.parametrize("source", ["finite_horizon", "infinite_horizon"])
def test_exact_solver_table_then_compiled_ladder(source: DepthSource) -> None:
    """The exact solver's depths (same solves: the same cache lookups) through the compiled
    ladder, with the table missing for extreme inputs (the closed form then)."""
    params = GlftParams(depth_source=source, max_q=10, levels=3, horizon_mode="session")
    tgt = target(params, ETH)
    ref, tw = pair(tgt)
    calls = []
    for n in range(12):
        sigma = (3e-4, 3e-4, 5e-4, 1e3, 0.0)[n % 5]  # 1e3: no table, the closed form
        est = make_estimates({"kappa": 300.0 + 40 * (n % 3), "A": 2.0, "sigma": sigma})
        view = make_view(ETH, [3000.0 + n], [3000.5 + n], 0.01 * (n % 5 - 2), 0.2)
        calls += [(view, est, n * 10**9)] * (1 + n % 2)
    assert compare_stream(ref, tw, calls) == []
    assert tw.python_calls == 0
    assert tw.cache is not None and ref.cache is not None
    assert tw.cache.solves == ref.cache.solves >= 2


# -- a broken twin is caught -------------------------------------------------------------------


class OneUlpTwin(GlftQuoterTwin):
    """Right everywhere except that its best ask is one ulp too high."""

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        lad = super().quote(view, est, now_ns)
        if not lad.asks:
            return lad
        top = lad.asks[0]
        bumped = Quote(top.side, math.nextafter(top.px, math.inf), top.sz, top.level)
        return Ladder(lad.bids, (bumped, *lad.asks[1:]))


class NoPostOnlyTwin(GlftQuoterTwin):
    """Wrong in one branch: the kernel never applies post-only."""

    def __init__(self, params: GlftParams, instrument: Instrument, risk: RiskLimits) -> None:
        super().__init__(params, instrument, risk)
        self._i[kt.I_POST_ONLY] = 0


class StaleLadderTwin(GlftQuoterTwin):
    """Right prices, wrong identities: a fresh Ladder object even when nothing changed."""

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        lad = super().quote(view, est, now_ns)
        return Ladder(lad.bids, lad.asks)


@pytest.mark.parametrize("broken", [OneUlpTwin, NoPostOnlyTwin, StaleLadderTwin])
def test_a_broken_twin_is_caught(broken: type[GlftQuoterTwin]) -> None:
    def prepared(tgt: AuditTarget) -> AuditTarget:
        if broken is NoPostOnlyTwin:  # the broken branch exists only with post-only on
            return replace(tgt, params=replace(tgt.params, post_only=True))
        return tgt

    def differs(stream: tuple[AuditTarget, list[Scenario]]) -> bool:
        tgt = prepared(stream[0])
        ref, tw = pair(tgt, broken)
        return bool(compare_stream(ref, tw, calls_of(tgt, stream[1])))

    tgt, scs = find(
        streams(hostile=True),
        differs,
        settings=settings(max_examples=1000, deadline=None, database=None, phases=[Phase.generate]),
    )
    # and the correct twin agrees on the very stream that caught the broken one
    ref, tw = pair(prepared(tgt))
    assert compare_stream(ref, tw, calls_of(prepared(tgt), scs)) == []


def test_the_kernel_reports_same_only_for_equal_levels() -> None:
    """The kernel's SAME status (the twin's shortcut to the last ladder object) against the
    levels it wrote: equal rows, equal lengths, and CHANGED whenever any float moved."""
    tgt = target(GlftParams(levels=2), BTC)
    tw = GlftQuoterTwin(tgt.params, tgt.instrument, tgt.risk)
    view = make_view(BTC, [90000.0], [90001.0], 0.0, 0.01)
    est = make_estimates({"kappa": 2000.0, "A": 1.0, "sigma": 1e-4})
    first = tw.quote(view, est, 0)
    assert tw.quote(view, est, 0) is first
    est2 = make_estimates({"kappa": 2000.0, "A": 1.0, "sigma": 1e-4, "size_scale": 2.0})
    second = tw.quote(view, est2, 0)
    assert second is not first and second.bids[0].sz == 2 * first.bids[0].sz
    third = tw.quote(view, est, 0)  # the builder keeps the last ladder only: an equal one
    assert third == first and third.levels() == first.levels()
    assert tw.quote(view, est, 0) is third


# -- a real market ---------------------------------------------------------------------------


def book_tickers(path: Any, limit: int) -> list[tuple[float, float]]:
    """Best bid / best ask of the first ``limit`` bookTicker messages of a raw capture."""
    import gzip
    import json

    out: list[tuple[float, float]] = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if "@bookTicker" not in line:
                continue
            data = json.loads(line.split(" ", 1)[1])["data"]
            out.append((float(data["b"]), float(data["a"])))
            if len(out) >= limit:
                break
    return out


@pytest.mark.parametrize("coin", ["btcusdt", "ethusdt"])
def test_twin_equals_reference_on_the_usdm_capture(shared_data: Any, coin: str) -> None:
    """The Binance USD-M top of book, tick by tick, under the default parameters (and the
    intensity allocation with drift for ETH): positions walking through the limits,
    estimates drifting; every ladder and identity equal, every call compiled."""
    path = shared_data / "binance-usdm" / f"{coin}_20240808.gz"
    tops = book_tickers(path, 4000)
    assert len(tops) == 4000
    inst, params = (
        (BTC, GlftParams())
        if coin == "btcusdt"
        else (ETH, GlftParams(size_allocation="intensity", use_drift=True, levels=7))
    )
    tgt = target(params, inst)
    ref, tw = pair(tgt)
    rng = np.random.default_rng(3)
    lots = tgt.risk.max_position / tgt.risk.order_size
    calls = []
    position = 0.0
    log_k = 3.0
    for n, (bid, ask) in enumerate(tops):
        market = MarketState()
        market.best_bid, market.best_ask = bid, ask
        if rng.random() < 0.05:
            step = float(rng.integers(-1, 2)) * tgt.risk.order_size
            position = float(np.clip(position + step, -1.2 * lots, 1.2 * lots))
        log_k = float(np.clip(log_k + rng.normal(0.0, 0.01), 2.0, 4.5))
        est = Estimates(kappa=10**log_k, A=1.5, sigma=2e-4, drift=float(rng.normal(0, 1e-5)))
        view = View(inst, market, Portfolio(position, True), tgt.risk.max_position)
        calls.append((view, est, n * 1_000_000))
    assert compare_stream(ref, tw, calls) == []
    assert tw.python_calls == 0


# -- the kernel's rounding helpers against mmkit.rounding --------------------------------------

prices = st.one_of(
    st.floats(1e-38, 1e38),
    st.floats(-3.0, 3.0).map(lambda x: 10.0**x),
    st.sampled_from([1e-5, 9.99995, 10.0, 99999.5, 100000.0, 123456.0, 0.1 + 0.2]),
    st.tuples(st.integers(-8, 8), st.integers(0, 3)).map(
        lambda t: math.nextafter(10.0 ** t[0], (-1.0, 1.0, 0.0, math.inf)[t[1]])
    ),
)
grids = st.sampled_from([(5, 6), (4, 6), (0, 6), (0, 8), (6, 6), (3, 8)])


def helper_state(sz_decimals: int, max_decimals: int) -> tuple[np.ndarray, np.ndarray]:
    tw = GlftQuoterTwin(
        GlftParams(),
        Instrument("X", 0, sz_decimals=sz_decimals, max_decimals=max_decimals),
        RISKS["BTC"],
    )
    return tw._f, tw._i


@settings(max_examples=400, deadline=None)
@given(st.floats(-(2.0**51), 2.0**51))
def test_round_half_even_is_pythons_round(x: float) -> None:
    assert kt._round_half_even(x) == float(round(x))


@settings(max_examples=400, deadline=None)
@given(prices, grids)
def test_rounding_helpers_equal_mmkit_rounding(px: float, grid: tuple[int, int]) -> None:
    from mmkit import rounding

    szd, maxd = grid
    f, i = helper_state(szd, maxd)
    assert kt._decade(f, px) == rounding._decade(px)
    directions: tuple[tuple[bool, Direction], ...] = ((True, "up"), (False, "down"))
    for up, direction in directions:
        got = kt._round_price(f, i, px, up)
        want = rounding.round_price(px, szd, max_decimals=maxd, direction=direction)
        assert got == want or got == -1.0, (px, direction, got, want)
        if got == -1.0:  # a fallback only where the reference's grid index is that large
            assert want * 10 ** rounding.price_decimals(px, szd, maxd) >= 2.0**52
    above = kt._next_price_above(f, i, px)
    if above != -1.0:
        assert above == rounding.next_price_above(px, szd, max_decimals=maxd)
    below = kt._next_price_below(f, i, px)
    if below != -1.0:
        assert below == rounding.next_price_below(px, szd, max_decimals=maxd)
    for is_bid in (True, False):
        opp = px * (1.0 + (1e-4 if is_bid else -1e-4))
        got = kt._post_only_price(f, i, px, is_bid, opp)
        want = rounding.post_only_price(
            px,
            is_bid,
            math.nan if is_bid else opp,
            opp if is_bid else math.nan,
            szd,
            max_decimals=maxd,
        )
        assert got == -1.0 or got == want or (got != got and want != want), (px, is_bid)


def _neumaier(xs: list[float]) -> float:
    """CPython 3.12+'s ``sum`` of floats, written out (for the other Python's branch)."""
    total, c = xs[0], 0.0
    for x in xs[1:]:
        t = total + x
        c += (total - t) + x if abs(total) >= abs(x) else (x - t) + total
        total = t
    return total + c if c and math.isfinite(c) else total


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=9))
def test_kernel_sum_is_pythons_sum(xs: list[float]) -> None:
    """The intensity allocation's mean: the kernel sums as this Python's ``sum`` does."""
    import sys

    f = np.asarray([7.0, *xs], dtype=np.float64)
    mine = sys.version_info >= (3, 12)
    assert kt.py_sum(f, 1, len(xs), mine) == sum(xs)
    other = kt.py_sum(f, 1, len(xs), not mine)
    plain = 0.0
    for x in xs:
        plain += x
    assert other == (plain if mine else _neumaier(xs))
