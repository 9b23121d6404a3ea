"""Sigma: bipower, particle filter vs a grid filter on real data, cap, cascade, warmup."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mmkit.components import Estimates
from mmkit.core.events import Timer
from mmkit.estimators.bipower import MultiScaleBipower, bipower_variation
from mmkit.estimators.params import SigmaParams
from mmkit.estimators.particle_filter import ParticleFilter, SVModel
from mmkit.estimators.sigma_estimator import SigmaEstimator

from .helpers import NS, T0, book, trade

FX = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fx"


def test_bipower_hand_example() -> None:
    r = [0.01, -0.02, 0.005, 0.0, 0.03]
    expected = (math.pi / 2) * (0.02 * 0.01 + 0.005 * 0.02 + 0.0 * 0.005 + 0.03 * 0.0)
    assert bipower_variation(r) == pytest.approx(expected, rel=1e-15)
    assert bipower_variation(r) == pytest.approx((math.pi / 2) * 3e-4)


def test_bipower_is_jump_robust() -> None:
    rng = np.random.default_rng(1)
    r = list(rng.normal(0, 1e-3, 2000))
    rv_clean = sum(x * x for x in r)
    r[1000] = 0.1  # one jump: realised variance explodes, bipower barely moves
    assert sum(x * x for x in r) > 4 * rv_clean
    assert bipower_variation(r) == pytest.approx(rv_clean, rel=0.15)


def test_multiscale_bipower_tracks_variance() -> None:
    rng = np.random.default_rng(2)
    bp = MultiScaleBipower([30.0, 300.0], initial_var=1e-8)
    for x in rng.normal(0, 1e-3, 5000):
        bp.update(float(x))
    assert bp.variance == pytest.approx(1e-6, rel=0.2)


def _fx_returns() -> np.ndarray:
    path = FX / "usxuk_daily_1981_1985.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    levels = np.loadtxt(path, comments="#")
    y = 100.0 * np.diff(np.log(levels))
    centred: np.ndarray = y - y.mean()
    return centred


def _grid_loglik(y: np.ndarray, m: SVModel, points: int = 600, width: float = 8.0) -> float:
    """Deterministic filter on a grid of log-variance values (the reference)."""
    sd = m.stationary_sd
    h = np.linspace(m.mu - width * sd, m.mu + width * sd, points)
    trans = np.exp(-0.5 * ((h[None, :] - (m.mu + m.phi * (h[:, None] - m.mu))) / m.vol_of_vol) ** 2)
    trans /= trans.sum(axis=1, keepdims=True)
    p = np.exp(-0.5 * ((h - m.mu) / sd) ** 2)
    p /= p.sum()
    ll = 0.0
    for yt in y:
        pred = p @ trans
        lik = np.exp(-0.5 * (math.log(2 * math.pi) + h + yt * yt * np.exp(-h)))
        c = float(pred @ lik)
        ll += math.log(c)
        p = pred * lik / c
    return ll


@pytest.mark.slow
def test_particle_filter_loglik_matches_grid_filter_on_gbp_usd() -> None:
    """945 daily returns of the pound/dollar rate (the classic SV benchmark series).

    Same model for both filters, without regimes (d_mu = 0), so the grid filter over the
    log variance is exact up to discretisation. A bootstrap filter's log-likelihood
    estimate has a standard deviation of about 1 at 100 particles on this series and a
    downward (Jensen) bias of about half its variance, so the comparison uses 5,000
    particles averaged over 4 seeds (sd of the mean ~0.2).
    """
    y = _fx_returns()
    assert y.size == 945
    phi, eta = 0.98, 0.15
    sd = eta / math.sqrt(1 - phi * phi)
    model = SVModel(mu=math.log(float(y.var())) - 0.5 * sd * sd, phi=phi, vol_of_vol=eta)
    reference = _grid_loglik(y, model)
    assert reference == pytest.approx(_grid_loglik(y, model, points=300), abs=1e-3)
    lls = []
    for seed in range(4):
        pf = ParticleFilter(model, n_particles=5000, resample_frac=0.5, seed=seed)
        for r in y:
            pf.step(float(r))
        lls.append(pf.loglik)
    assert float(np.mean(lls)) == pytest.approx(reference, abs=1.0)


def test_particle_filter_is_deterministic_per_seed() -> None:
    m = SVModel(mu=-2.0, phi=0.95, vol_of_vol=0.2, d_mu=2.0, p01=0.01, p10=0.1)
    runs = []
    for _ in range(2):
        pf = ParticleFilter(m, 100, 0.5, seed=42)
        for r in np.random.default_rng(0).normal(0, 0.4, 600):
            pf.step(float(r))
        runs.append((pf.loglik, pf.mean_variance, pf.p_turbulent))
    assert runs[0] == runs[1]


def test_particle_filter_detects_turbulent_regime() -> None:
    m = SVModel(
        mu=math.log(1e-8), phi=0.99, vol_of_vol=0.05, d_mu=2 * math.log(4.0), p01=0.002, p10=0.02
    )
    pf = ParticleFilter(m, 100, 0.5, seed=1)
    rng = np.random.default_rng(1)
    for r in rng.normal(0, 1e-4, 300):
        pf.step(float(r))
    calm = pf.mean_variance
    for r in rng.normal(0, 4e-4, 60):
        pf.step(float(r))
    assert pf.mean_variance > 5 * calm
    assert pf.p_turbulent > 0.5


def _walk(
    est: SigmaEstimator,
    seconds: int,
    vol: float,
    rng: np.random.Generator,
    start: int = T0,
    mid: float = 100.0,
    out: Estimates | None = None,
) -> tuple[int, float, Estimates]:
    out = out if out is not None else Estimates()
    t = start
    for i in range(seconds * 2):
        t = start + i * NS // 2
        mid *= math.exp(vol * math.sqrt(0.5) * rng.standard_normal())
        est.on_event(book(t, mid), t)
        est.estimate(out, t)
    return t, mid, out


def test_warmup_fallback_to_default_sigma() -> None:
    est = SigmaEstimator(SigmaParams(default_sigma=1e-4, warmup_returns=30))
    _t, _m, out = _walk(est, 20, 5e-4, np.random.default_rng(0))
    assert not est.warmed_up
    assert out.sigma == pytest.approx(1e-4)


def test_sigma_tracks_a_higher_volatility() -> None:
    est = SigmaEstimator(SigmaParams(default_sigma=1e-4))
    _t, _m, out = _walk(est, 900, 3e-4, np.random.default_rng(0))
    assert out.sigma == pytest.approx(3e-4, rel=0.3)
    assert out.extras["sigma.bipower"] == pytest.approx(3e-4, rel=0.3)
    assert out.sigma_confidence > 0.9


def test_sigma_cap_on_every_path() -> None:
    p = SigmaParams(default_sigma=1e-4, max_sigma_mult=10.0, cascade_sigma_mult=50.0)
    est = SigmaEstimator(p)
    _t, _m, out = _walk(est, 600, 5e-2, np.random.default_rng(0))  # 500x the default
    assert out.sigma == pytest.approx(1e-3)
    assert est.max_sigma == pytest.approx(1e-3)


def test_cascade_on_jump_forces_floor_then_decays() -> None:
    p = SigmaParams(
        default_sigma=1e-4, cascade_hold_s=30.0, cascade_decay_half_life_s=10.0, max_sigma_mult=20.0
    )
    est = SigmaEstimator(p)
    rng = np.random.default_rng(0)
    t, mid, out = _walk(est, 120, 1e-4, rng)
    calm = out.sigma
    assert not out.cascade
    t += NS
    est.on_event(book(t, mid * 1.02), t)
    est.estimate(out, t)
    assert out.cascade
    assert out.sigma == pytest.approx(10 * 1e-4)
    assert out.sigma > calm
    # the hold ends at +30 s; 50 s after the trigger the floor has halved twice
    later = t + 50 * NS
    est.estimate(out, later)
    assert not out.cascade
    assert out.extras["sigma.cascade_floor"] == pytest.approx(2.5e-4, rel=1e-6)


def test_cascade_on_trade_burst() -> None:
    est = SigmaEstimator(SigmaParams(cascade_burst_min_trades=50, cascade_burst_factor=10.0))
    out = Estimates()
    t = T0
    for i in range(200):  # baseline: one trade per second
        t = T0 + i * NS
        est.on_event(trade(t, 100.0), t)
    est.estimate(out, t)
    assert not out.cascade
    for j in range(200):  # 200 trades in 0.2 s
        tt = t + NS + j * NS // 1000
        est.on_event(trade(tt, 100.0), tt)
    est.estimate(out, tt)
    assert out.cascade


def test_cascade_on_open_interest_drop() -> None:
    est = SigmaEstimator(SigmaParams(cascade_oi_drop=0.02))
    out = Estimates()
    est.on_open_interest(1000.0, T0)
    est.on_open_interest(995.0, T0 + NS)
    est.estimate(out, T0 + NS)
    assert not out.cascade
    est.on_open_interest(970.0, T0 + 10 * NS)
    est.estimate(out, T0 + 10 * NS)
    assert out.cascade


def test_out_of_order_and_gaps_are_ignored() -> None:
    est = SigmaEstimator(SigmaParams())
    out = Estimates()
    est.on_event(book(T0 + 10 * NS, 100.0), T0 + 10 * NS)
    est.on_event(book(T0, 50.0), T0)  # back in time: ignored
    est.on_event(Timer(T0 + 10**15), T0 + 10**15)  # a gap far beyond max_gap_intervals
    est.on_event(book(T0 + 10**15 + NS, 100.0), T0 + 10**15 + NS)
    est.estimate(out, T0 + 10**15 + NS)
    assert est.returns == 1  # only the return after the restarted sampling (0.0)
    assert not out.cascade
    assert math.isfinite(out.sigma)
