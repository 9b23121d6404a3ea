"""The optimal-depth math: closed form vs exact solver, limits, symmetry, caching.

Expectations are computed from the model (eigenvalues of the ODE matrix, the closed form's
definition), never pasted numbers.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.linalg import eigh_tridiagonal, eigvalsh_tridiagonal

from mmkit.quoting.glft import (
    average_fill_distance,
    base_depth,
    glft_terms,
    terminal_depth,
)
from mmkit.quoting.hjb import (
    DepthCache,
    ode_coefficients,
    solve_finite_horizon,
    solve_infinite_horizon,
)

KAPPA = st.floats(300.0, 1e4)
GAMMA = st.floats(0.1, 300.0)
SIGMA = st.floats(1e-5, 1e-3)
A_ = st.floats(0.1, 10.0)


def spectral_gap(k: float, A: float, sigma: float, gamma: float, Q: int) -> float:
    co = ode_coefficients(k, A, sigma, gamma)
    q = np.arange(-Q, Q + 1, dtype=float)
    w = eigvalsh_tridiagonal(co.alpha * q * q, np.full(2 * Q, -co.eta))
    return float(w[1] - w[0])


def ground_state_width(k: float, A: float, sigma: float, gamma: float) -> float:
    """(η/α)^(1/4): the inventory scale of the ground state (harmonic-oscillator analogy)."""
    co = ode_coefficients(k, A, sigma, gamma)
    return float((co.eta / co.alpha) ** 0.25)


# ---- closed form -----------------------------------------------------------------------------


def test_base_depth_limits() -> None:
    k = 2000.0
    assert base_depth(0.0, k) == pytest.approx(1.0 / k)
    assert base_depth(1e-12, k) == pytest.approx(1.0 / k, rel=1e-12)
    assert base_depth(50.0, k) == pytest.approx(math.log(1 + 50.0 / k) / 50.0, rel=1e-14)
    # continuous in xi * delta around the series switch
    assert base_depth(k * 1e-9 * 0.999, k) == pytest.approx(base_depth(k * 1e-9 * 1.001, k))


@settings(deadline=None)
@given(KAPPA, A_, SIGMA, GAMMA, st.floats(-20, 20))
def test_closed_form_structure(k: float, A: float, sigma: float, gamma: float, q: float) -> None:
    t = glft_terms(k, A, sigma, gamma)
    c = math.log1p(gamma / k) / gamma
    omega = math.sqrt(gamma * sigma**2 / (2 * A * k) * (1 + gamma / k) ** (1 + k / gamma))
    assert t.base == pytest.approx(c, rel=1e-12)
    assert t.omega == pytest.approx(omega, rel=1e-9)
    assert t.bid_depth(q) == pytest.approx(c + (2 * q + 1) / 2 * omega, rel=1e-9, abs=1e-15)
    assert t.ask_depth(q) == pytest.approx(c - (2 * q - 1) / 2 * omega, rel=1e-9, abs=1e-15)
    # symmetry and a spread independent of inventory
    assert t.ask_depth(q) == pytest.approx(t.bid_depth(-q), rel=1e-12, abs=1e-15)
    assert t.bid_depth(q) + t.ask_depth(q) == pytest.approx(2 * t.half_spread, rel=1e-9)


def test_closed_form_general_xi_and_drift() -> None:
    k, A, sigma, gamma = 2000.0, 1.0, 1e-4, 50.0
    t0 = glft_terms(k, A, sigma, gamma, xi=0.0)
    assert t0.base == pytest.approx(1.0 / k)
    assert t0.omega == pytest.approx(math.sqrt(gamma * sigma**2 / (2 * A * k) * math.e))
    mu = 1e-7
    td = glft_terms(k, A, sigma, gamma, drift=mu)
    assert td.drift_lots == pytest.approx(mu / (gamma * sigma**2))
    t = glft_terms(k, A, sigma, gamma)
    # positive drift: buy more eagerly (smaller bid depth), sell less eagerly
    assert td.bid_depth(0) < t.bid_depth(0)
    assert td.ask_depth(0) > t.ask_depth(0)
    capped = glft_terms(k, A, sigma, gamma, drift=1.0, max_drift_lots=3.0)
    assert capped.drift_lots == 3.0
    # order size: delta scales the half-spread term
    t2 = glft_terms(k, A, sigma, gamma, delta=2.0)
    assert t2.half_spread == pytest.approx(t2.base + t2.omega)


@pytest.mark.parametrize("kappa", [0.0, -5.0, 1e-300, 0.5, math.inf, 1e300])
def test_kappa_floor_and_cap_keep_it_finite(kappa: float) -> None:
    t = glft_terms(kappa, 1.0, 1e-4, 50.0, kappa_floor=1.0)
    assert math.isfinite(t.base) and math.isfinite(t.omega)
    assert t.base >= 0 and t.omega >= 0
    assert math.isfinite(t.bid_depth(3.0))


def test_average_fill_distance() -> None:
    assert average_fill_distance(2000.0) == 1 / 2000.0
    assert average_fill_distance(0.0) == 1.0
    assert average_fill_distance(-3.0) == 1.0
    assert average_fill_distance(math.nan) == 1.0


# ---- exact solver ----------------------------------------------------------------------------


def gamma_for_width(k: float, A: float, sigma: float, width: float) -> float | None:
    """The risk aversion whose ground state has ``width`` (it narrows as gamma grows), by
    bisection on log gamma over [1e-3, 1e4]; None when that range does not reach it."""
    lo, hi = math.log(1e-3), math.log(1e4)
    if not ground_state_width(k, A, sigma, math.exp(hi)) <= width:
        return None
    if not ground_state_width(k, A, sigma, math.exp(lo)) >= width:
        return None
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if ground_state_width(k, A, sigma, math.exp(mid)) >= width:
            lo = mid
        else:
            hi = mid
    return math.exp(lo)


@settings(max_examples=40, deadline=None)
@given(KAPPA, A_, SIGMA, st.floats(3.0, 8.0))
def test_exact_and_closed_form_agree_small_q_long_horizon(
    k: float, A: float, sigma: float, target: float
) -> None:
    """The closed form is the continuum approximation of the long-horizon solution: it holds
    when the ground state spans a few lots (width (η/α)^¼ >= 3, so α/η is small) and the
    bound Q is far beyond that width. The width is drawn, and gamma solved for it (drawing
    gamma and discarding the other widths threw most examples away)."""
    found = gamma_for_width(k, A, sigma, target)
    assume(found is not None)
    assert found is not None
    gamma = found
    width = ground_state_width(k, A, sigma, gamma)
    assert 2.99 <= width <= 8.01
    Q = 40
    co = ode_coefficients(k, A, sigma, gamma)
    tau = 40.0 / spectral_gap(k, A, sigma, gamma, Q)  # long: e^-40 from the limit
    exact = solve_finite_horizon(co, Q, tau)
    cf = glft_terms(k, A, sigma, gamma)
    for q in (-2, -1, 0, 1, 2):
        assert abs(exact.bid_depth(q) - cf.bid_depth(q)) <= 0.1 * cf.omega
        assert abs(exact.ask_depth(q) - cf.ask_depth(q)) <= 0.1 * cf.omega


@settings(max_examples=25, deadline=None)
@given(KAPPA, A_, SIGMA, GAMMA, st.integers(2, 30))
def test_exact_converges_to_eigenvector_limit(
    k: float, A: float, sigma: float, gamma: float, Q: int
) -> None:
    co = ode_coefficients(k, A, sigma, gamma)
    limit = solve_infinite_horizon(co, Q)
    gap = spectral_gap(k, A, sigma, gamma, Q)
    # compare where the ground state is not negligible (>= 1e-6 of its peak): beyond, v_q
    # is below double precision relative to the peak and both solutions are at their floor
    q = np.arange(-Q, Q + 1, dtype=float)
    _, vec = eigh_tridiagonal(
        co.alpha * q * q, np.full(2 * Q, -co.eta), select="i", select_range=(0, 0)
    )
    f = np.abs(vec[:, 0])
    live = f >= 1e-6 * f.max()
    pairs = [i for i in range(2 * Q) if live[i] and live[i + 1]]
    assume(pairs)

    def err(tau: float) -> float:
        t = solve_finite_horizon(co, Q, tau)
        return max(
            max(abs(t.bid[i] - limit.bid[i]) for i in pairs),
            max(abs(t.ask[i + 1] - limit.ask[i + 1]) for i in pairs),
        )

    # the transient decays like exp(-gap * tau); after a few 1/gap the first excited mode
    # dominates, then the error reaches the floor of double precision
    errors = [err(n / gap) for n in (4.0, 16.0, 64.0)]
    scale = co.terminal + 1.0 / co.k
    floor = 1e-9 * scale
    assert errors[1] <= errors[0] * math.exp(-6.0) + floor
    assert errors[2] <= errors[1] + floor
    assert errors[2] <= floor


@settings(max_examples=20, deadline=None)
@given(KAPPA, A_, SIGMA, GAMMA, st.integers(1, 30), st.floats(0.0, 1e5))
def test_symmetry(k: float, A: float, sigma: float, gamma: float, Q: int, tau: float) -> None:
    co = ode_coefficients(k, A, sigma, gamma)
    for table in (solve_finite_horizon(co, Q, tau), solve_infinite_horizon(co, Q)):
        for q in range(-Q + 1, Q):
            assert table.ask_depth(q) == pytest.approx(table.bid_depth(-q), rel=1e-9, abs=1e-15)
        assert math.isnan(table.bid[-1]) and math.isnan(table.ask[0])  # no bid at Q, ask at -Q


@settings(max_examples=40, deadline=None)
@given(KAPPA, A_, SIGMA, GAMMA, st.integers(1, 30))
def test_depths_tend_to_terminal_at_horizon(
    k: float, A: float, sigma: float, gamma: float, Q: int
) -> None:
    co = ode_coefficients(k, A, sigma, gamma)
    c = math.log1p(gamma / k) / gamma
    assert terminal_depth(gamma, k) == pytest.approx(c, rel=1e-12)
    at_t = solve_finite_horizon(co, Q, 0.0)
    assert all(d == pytest.approx(c, rel=1e-12) for d in at_t.bid[:-1])
    assert all(d == pytest.approx(c, rel=1e-12) for d in at_t.ask[1:])
    # the distance to c shrinks with tau -> 0 (first order: |v_q - v_q+1| = O(tau))
    prev = math.inf
    for tau in (1e-1, 1e-2, 1e-3, 1e-4):
        t = solve_finite_horizon(co, Q, tau)
        dev = max(abs(d - c) for d in (*t.bid[:-1], *t.ask[1:]))
        assert dev <= prev + 1e-15
        prev = dev
    bound = (co.alpha * Q * Q + 2 * co.eta) * 1e-4 / co.k * 4  # |Δ ln v| <= 2 ||M|| tau
    assert prev <= bound + 1e-15


@settings(max_examples=30, deadline=None)
@given(KAPPA, A_, SIGMA, GAMMA, st.integers(2, 30), st.floats(0.0, 1e4))
def test_exact_depths_monotone_in_inventory(
    k: float, A: float, sigma: float, gamma: float, Q: int, tau: float
) -> None:
    co = ode_coefficients(k, A, sigma, gamma)
    t = solve_finite_horizon(co, Q, tau)
    bids = t.bid[:-1]
    asks = t.ask[1:]
    tol = 1e-12 * (co.terminal + 1 / co.k)
    assert all(b >= a - tol for a, b in itertools.pairwise(bids))
    assert all(b <= a + tol for a, b in itertools.pairwise(asks))


def test_drift_in_exact_solver() -> None:
    k, A, sigma, gamma, Q = 2000.0, 1.0, 1e-4, 50.0, 20
    base = solve_infinite_horizon(ode_coefficients(k, A, sigma, gamma), Q)
    up = solve_infinite_horizon(ode_coefficients(k, A, sigma, gamma, drift=1e-8), Q)
    assert up.bid_depth(0) < base.bid_depth(0)
    assert up.ask_depth(0) > base.ask_depth(0)


def test_interpolation_and_saturation() -> None:
    co = ode_coefficients(2000.0, 1.0, 1e-4, 50.0)
    t = solve_infinite_horizon(co, 5)
    assert t.bid_depth(0.5) == pytest.approx(0.5 * (t.bid_depth(0) + t.bid_depth(1)))
    assert t.bid_depth(100.0) == t.bid_depth(4)
    assert t.ask_depth(-100.0) == t.ask_depth(-4)
    assert math.isnan(t.bid_depth(math.nan))


def test_solver_rejects_bad_input() -> None:
    co = ode_coefficients(2000.0, 1.0, 1e-4, 50.0)
    with pytest.raises(ValueError):
        solve_finite_horizon(co, 0, 1.0)
    with pytest.raises(ValueError):
        solve_finite_horizon(co, 5, math.inf)
    with pytest.raises(ValueError):
        solve_infinite_horizon(co, 0)


# ---- cache -----------------------------------------------------------------------------------


def test_cache_resolves_only_on_material_moves() -> None:
    cache = DepthCache(Q=10, tolerance=0.05)
    args = (2000.0, 1.0, 1e-4, 50.0, 0.0, 600.0)
    first = cache.lookup(*args)
    assert first is not None and cache.solves == 1
    assert cache.lookup(2050.0, 1.02, 1.03e-4, 50.0, 0.0, 620.0) is first
    assert cache.solves == 1
    cache.lookup(2200.0, 1.0, 1e-4, 50.0, 0.0, 600.0)
    assert cache.solves == 2
    cache.lookup(2200.0, 1.0, 1e-4, 50.0, 0.0, math.inf)  # infinite horizon: new solve
    assert cache.solves == 3
    cache.lookup(2200.0, 1.0, 1e-4, 50.0, 0.0, math.inf)
    assert cache.solves == 3
    var = 50.0 * 1e-8
    cache.lookup(2200.0, 1.0, 1e-4, 50.0, 0.01 * var, math.inf)  # 0.01 lot: not material
    assert cache.solves == 3
    cache.lookup(2200.0, 1.0, 1e-4, 50.0, 0.5 * var, math.inf)
    assert cache.solves == 4
    exact = DepthCache(Q=10, tolerance=0.0)
    exact.lookup(*args)
    exact.lookup(2000.0 * (1 + 1e-12), *args[1:])
    assert exact.solves == 2


def test_cache_returns_none_for_unrepresentable_inputs() -> None:
    cache = DepthCache(Q=10)
    assert cache.lookup(2000.0, 1.0, 1e300, 50.0, 0.0, 600.0) is None
