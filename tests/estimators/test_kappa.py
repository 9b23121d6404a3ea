"""Kappa sources and orchestrator: known truths, warmup, expiry, stagnation."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.components import Estimates
from mmkit.core.events import Event
from mmkit.estimators._kernels_kappa import student_t_location
from mmkit.estimators.book_kappa import BookKappa
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.own_fill_kappa import OwnFillKappa
from mmkit.estimators.params import KappaParams
from mmkit.estimators.robust_kappa import RobustKappa

from .helpers import NS, T0, book, fill, run, trade


def test_conjugate_update_known_truth() -> None:
    own = OwnFillKappa(2.0, 1.0, window_s=600.0)
    for i, d in enumerate((0.5, 1.0, 1.5)):
        assert own.on_fill(d, T0 + i * NS)
    assert own.posterior() == (5.0, 4.0)
    assert own.kappa == pytest.approx(1.25)
    assert own.observation_count == 3


def test_conjugate_ignores_bad_depths() -> None:
    own = OwnFillKappa(2.0, 1.0, window_s=600.0)
    for d in (math.nan, math.inf, -1.0):
        assert not own.on_fill(d, T0)
    assert own.posterior() == own.prior


@pytest.mark.parametrize("true_kappa", [500.0, 2000.0, 8000.0])
def test_own_fill_recovers_kappa_from_10000_exponential_depths(true_kappa: float) -> None:
    rng = np.random.default_rng(7)
    own = OwnFillKappa.from_prior_mean(2000.0, 10.0, window_s=1e9)
    for d in rng.exponential(1.0 / true_kappa, 10_000):
        own.on_fill(float(d), T0)
    assert own.kappa == pytest.approx(true_kappa, rel=0.05)
    assert own.confidence == pytest.approx(10_000 / 10_010)


@pytest.mark.parametrize("true_kappa", [500.0, 2000.0, 8000.0])
def test_robust_recovers_kappa_from_10000_exponential_depths(true_kappa: float) -> None:
    rng = np.random.default_rng(11)
    rk = RobustKappa(
        4.0, window_s=1e9, max_trades=10_000, min_trades=10, fit_interval_s=0.0, prior_strength=50.0
    )
    for d in rng.exponential(1.0 / true_kappa, 10_000):
        rk.add(float(d), T0)
    assert rk.refresh(T0)
    assert rk.kappa == pytest.approx(true_kappa, rel=0.05)
    assert 0.9 < rk.confidence < 1.0


def test_robust_resists_outliers() -> None:
    rng = np.random.default_rng(3)
    rk = RobustKappa(4.0, 1e9, 10_000, 10, 0.0, 50.0)
    depths = list(rng.exponential(1.0 / 2000.0, 2000)) + [0.04] * 100  # 5% spoofed far prints
    for d in depths:
        rk.add(float(d), T0)
    rk.refresh(T0)
    naive = 1.0 / float(np.mean(depths))
    assert abs(rk.kappa - 2000.0) < abs(naive - 2000.0)
    assert rk.kappa == pytest.approx(2000.0, rel=0.25)


def test_book_regression_recovers_decay_with_full_confidence() -> None:
    bk = BookKappa(max_depth=0.01, min_levels=4, fit_interval_s=0.0)
    assert bk.on_book(book(T0, decay=1500.0), 100.0, T0)
    assert bk.kappa == pytest.approx(1500.0, rel=1e-9)
    assert bk.confidence == pytest.approx(1.0)


def test_book_thickening_away_from_mid_has_no_confidence() -> None:
    bk = BookKappa(0.01, 4, 0.0)
    bk.on_book(book(T0, decay=-800.0), 100.0, T0)
    assert bk.confidence == 0.0


def _orchestrator(**kw: float) -> KappaOrchestrator:
    return KappaOrchestrator(KappaParams(**kw))  # type: ignore[arg-type]


def test_warmup_exits_at_exactly_the_fifth_fill_and_never_reenters() -> None:
    k = _orchestrator()
    out = Estimates()
    for i in range(1, 8):
        t = T0 + i * NS
        run(k, [book(t), fill(t, 100.0 * (1 - 3e-4))], out)
        assert k.has_exited_warmup == (i >= 5), i
        assert out.extras["kappa.graduated"] == (1.0 if i >= 5 else 0.0)
    # every fill expires: posterior back to the prior, graduation kept
    later = T0 + 2000 * NS
    run(k, [book(later)], out)
    assert k.observation_count == 0
    assert k.posterior() == k.prior
    assert k.has_exited_warmup
    assert out.extras["kappa.own_confidence"] == 0.0


def test_own_source_joins_blend_only_after_graduation() -> None:
    k = _orchestrator()
    out = Estimates()
    for i in range(4):
        t = T0 + i * NS
        run(k, [book(t), fill(t, 100.0 * (1 - 1e-3))], out)
    assert "own" not in [s[0] for s in k.kappa_sources()]
    t = T0 + 5 * NS
    run(k, [fill(t, 100.0 * (1 - 1e-3))], out)
    assert "own" in [s[0] for s in k.kappa_sources()]


def test_fill_depth_uses_mid_at_fill_time() -> None:
    k = _orchestrator()
    run(k, [book(T0, mid=200.0), fill(T0, 200.0 * (1 - 5e-4))])
    a, b = k.posterior()
    a0, b0 = k.prior
    assert a == a0 + 1
    assert b - b0 == pytest.approx(5e-4)


def test_blend_is_ewma_of_confidence_weighted_sources() -> None:
    k = _orchestrator(prior_weight=0.0)
    out = run(k, [book(T0, decay=1500.0)])
    # one book source with R² = 1: blend 1500, EWMA 0.9 * 2000 + 0.1 * 1500
    assert k.blended_kappa() == pytest.approx(1500.0)
    assert out.kappa == pytest.approx(0.9 * 2000.0 + 0.1 * 1500.0)
    assert out.kappa_confidence == pytest.approx(1.0)


def test_market_trades_drive_robust_kappa_and_intensity() -> None:
    rng = np.random.default_rng(5)
    k = _orchestrator()
    evs: list[Event] = [book(T0)]
    for i in range(400):
        t = T0 + i * NS // 4
        d = rng.exponential(1 / 3000.0)
        evs.append(trade(t, 100.0 * (1 + d if i % 2 else 1 - d)))
    out = run(k, evs)
    assert out.extras["kappa.robust"] == pytest.approx(3000.0, rel=0.2)
    intensity = out.A
    assert intensity == pytest.approx(400 / (2 * 99.75), rel=0.01)


def test_kappa_floor_and_cap_at_retrieval() -> None:
    k = _orchestrator(prior_kappa=0.5, kappa_floor=1.0)
    assert run(k, [book(T0)]).kappa >= 1.0
    k2 = _orchestrator(prior_kappa=1e9, kappa_cap=1e6, book_min_levels=100)
    assert run(k2, [book(T0)]).kappa == 1e6


def test_stagnation_alert_after_an_hour_once_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    k = _orchestrator()
    out = Estimates()
    with caplog.at_level(logging.WARNING, logger="mmkit.estimators.kappa_orchestrator"):
        for m in range(0, 121, 5):  # two hours, one event every 5 minutes
            t = T0 + m * 60 * NS
            run(k, [book(t)], out)
            assert out.extras["kappa.stagnation_alert"] == (1.0 if m >= 60 else 0.0), m
    assert sum("stagnation" in r.message for r in caplog.records) == 1
    # enough fills end the episode
    t = T0 + 121 * 60 * NS
    for i in range(12):
        run(k, [book(t + i), fill(t + i, 100.0 * (1 - 3e-4))], out)
    assert out.extras["kappa.stagnation_alert"] == 0.0
    assert k.stagnation_episodes == 1


def test_bad_input_is_rejected_with_a_reason_not_counted_away() -> None:
    """A trade with a NaN price and a crossed book are skipped, each recorded as a
    rejection naming the event kind and why; the estimates stay finite."""
    k = _orchestrator()
    out = run(k, [book(T0), trade(T0 + 1, math.nan), book(T0 + 2, spread=-1e-3)])
    assert math.isfinite(out.kappa) and out.kappa > 0
    assert {(r.event_kind, r.reason) for r in k.rejections.counts} == {
        ("TRADE", "price or size not a finite positive number"),
        (
            "BOOK_SNAPSHOT",
            "no valid touch (a side empty, crossed, or a price not finite and positive)",
        ),
    }
    assert k.rejections.total == 2


def test_a_bug_reaches_the_engine_fault_path_instead_of_a_counter() -> None:
    """A programming error inside the estimator is no longer swallowed (it used to become
    ``bad_events += 1``): called directly it raises; through an engine it is reported as a
    fault naming the component and the exception type, it is not a rejection, and the next
    quoting cycle halts."""
    from tests.foundation.test_engine import book as wide_book
    from tests.foundation.toy_plugin import (
        BookGate,
        CancelReplaceExecutor,
        MidEstimator,
        SpreadQuoter,
        ToyQuoterParams,
    )

    from mmkit.core.types import Instrument
    from mmkit.engine import Engine

    k = _orchestrator()
    with pytest.raises(AttributeError):
        k.on_event(object(), T0)  # type: ignore[arg-type]
    assert k.rejections.total == 0

    def broken_add(depth: float, now_ns: int) -> None:
        raise TypeError("add() got a refactored signature")

    k.robust.add = broken_add  # type: ignore[method-assign]
    faults: list[tuple[str, str]] = []

    class Obs:
        def on_fault(self, component: str, message: str, now_ns: int) -> None:
            faults.append((component, message))

        def __getattr__(self, name: str) -> object:
            return lambda *a, **kw: None

    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[("kappa", k), ("toy_est", MidEstimator())],
        gates=[("toy_gate", BookGate())],
        quoter=("toy_quoter", SpreadQuoter(ToyQuoterParams(), 0.01)),
        executor=("toy_exec", CancelReplaceExecutor()),
        observer=Obs(),  # type: ignore[arg-type]
    )
    assert any(type(a).__name__ == "Place" for a in eng.on_event(wide_book(T0), T0))
    acts = eng.on_event(trade(T0 + 1, 100_000.0), T0 + 1)
    assert faults == [
        ("estimator kappa", "on_event raised TypeError: add() got a refactored signature")
    ]
    assert eng.faults == 1 and eng.rejected_events == 0
    assert eng.fault_log.by_component["estimator kappa"] == 1
    assert [type(a).__name__ for a in acts] == ["CancelAll"]  # that cycle halted
    assert eng.on_event(wide_book(T0 + 2), T0 + 2)  # and the next one quotes again


def test_taker_and_liquidation_fills_are_not_kappa_observations() -> None:
    from dataclasses import replace

    k = _orchestrator()
    f = fill(T0, 100.0 * (1 - 3e-4))
    run(k, [book(T0), replace(f, crossed=True), replace(f, liquidation=True)])
    assert k.observation_count == 0
    run(k, [f])
    assert k.observation_count == 1


def test_fills_without_a_mid_or_too_deep_are_counted_not_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    k = _orchestrator()
    with caplog.at_level(logging.INFO, logger="mmkit.estimators.kappa_orchestrator"):
        run(k, [fill(T0, 100.0)])  # no book yet: no mid to measure the depth from
        run(k, [book(T0), fill(T0, 50.0), fill(T0, math.nan)])
    assert k.observation_count == 0
    assert k.rejected_fills == 3
    assert sum("not used as an observation" in r.message for r in caplog.records) == 2


@settings(max_examples=60)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(10, 3000),
    st.floats(1.0, 30.0),
    st.floats(-3.0, 3.0),
    st.floats(0.1, 5.0),
)
def test_warm_started_student_t_fit_lands_on_the_cold_fit(
    seed: int, n: int, nu: float, shift: float, scale_mult: float
) -> None:
    """A refit started from any earlier fit (the rolling estimator's warm start) converges
    to the same location as a fit started from the sample mean: same fixed point, to the
    stopping tolerance, whatever the ring-buffer offset."""
    rng = np.random.default_rng(seed)
    x = np.log(rng.exponential(1e-4, size=n))
    start = int(rng.integers(0, n))
    ring = np.roll(x, start)
    cold = student_t_location(ring, start, n, nu, 2000, math.nan, math.nan)
    warm = student_t_location(ring, start, n, nu, 2000, cold[0] + shift, cold[1] * scale_mult)
    assert math.isfinite(cold[0]) and cold[1] > 0
    assert abs(warm[0] - cold[0]) < 1e-6
    assert warm[1] == pytest.approx(cold[1], rel=1e-5)
    assert warm[2] == pytest.approx(cold[2], rel=1e-5)


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.integers(20, 40), st.integers(30, 60), st.floats(4.0, 8.0))
def test_a_refit_leaves_a_degenerate_earlier_fit(
    seed: int, near: int, spread: int, nu: float
) -> None:
    """The first refits of a session see a few prints at the same depths: a window of
    (nearly) identical values fits a scale of ~1e-14. The next window adds prints a few
    ulps-to-microns away and a spread of deeper ones; the refit, warm-started from that
    degenerate fit, must reach the same fit as a cold start (the earlier EM's variance
    update cancelled to zero there, and the fit stayed where it was for as long as such
    windows lasted: kappa frozen at the degenerate value). The windows are those of the
    USD-M capture's first refits (nu 4, ~40 % of the depths tied): the tied share stays
    well below nu / (nu + 1), where the likelihood has a proper maximum (nearer to it the
    likelihood is so flat that no fit converges in 2,000 passes, warm or cold)."""
    rng = np.random.default_rng(seed)
    v = math.log(8e-7)
    y = np.concatenate(
        [
            np.full(19, v),
            np.full(near, v + 1.6e-6),
            np.full(16, v - 1.5e-4),
            np.log(rng.exponential(1e-5, size=spread)),
        ]
    )
    rng.shuffle(y)
    n = len(y)
    cold = student_t_location(y, 0, n, nu, 2000, math.nan, math.nan)
    warm = student_t_location(y, 0, n, nu, 2000, v, 5.3e-15)
    assert math.isfinite(cold[0]) and cold[1] > 0
    assert abs(warm[0] - cold[0]) < 1e-6
    assert warm[1] == pytest.approx(cold[1], rel=1e-5)


@settings(max_examples=30)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 500),
    st.sampled_from([1e-300, 1e-200, 1e-160, 0.0, -1.0, 1e155, 1e200, 1e300, math.inf]),
)
def test_a_warm_start_out_of_range_starts_cold(seed: int, n: int, scale0: float) -> None:
    """A warm start whose variance is not a float in (1e-300, inf) is a cold start: the
    same fit, no error. (A scale of 1e-200 squares to 0 and the first pass divided by it:
    ZeroDivisionError. The fit's own results never go below 1e-300 in variance, so only a
    caller's warm start could bring one; it is the kernel's input all the same.)"""
    rng = np.random.default_rng(seed)
    x = np.log(rng.exponential(1e-4, size=n))
    cold = student_t_location(x, 0, n, 4.0, 200, math.nan, math.nan)
    warm = student_t_location(x, 0, n, 4.0, 200, float(np.median(x)), scale0)
    assert warm == cold


@settings(max_examples=15)
@given(st.integers(0, 2**32 - 1), st.integers(200, 3000), st.floats(2.0, 30.0))
def test_student_t_fit_is_the_maximum_likelihood_estimate(seed: int, n: int, nu: float) -> None:
    """The EM's scale step divides by the sum of the weights, not by n: the same fixed point
    (the weights average 1 at the t MLE), reached in fewer passes. scipy's numerical MLE
    with the degrees of freedom fixed agrees."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    x = np.log(rng.exponential(1e-4, size=n))
    loc, scale, _ess = student_t_location(x, 0, n, nu, 2000, math.nan, math.nan)
    _df, ref_loc, ref_scale = stats.t.fit(x, fix_df=nu, loc=loc, scale=scale)
    assert abs(loc - ref_loc) < 1e-4 * max(1.0, ref_scale)
    assert scale == pytest.approx(ref_scale, rel=1e-4)
    z = (x - loc) / scale
    w = (nu + 1.0) / (nu + z * z)
    assert float(np.mean(w)) == pytest.approx(1.0, rel=1e-6)  # the scale score is 0
    assert abs(float(np.sum(w * z))) < 1e-6 * n  # the location score is 0
