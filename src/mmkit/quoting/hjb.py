"""Exact optimal depths of the exponential-intensity market-making problem.

Guéant, Lehalle and Fernandez-Tapia (2013) show that with ``Λ(δ) = A exp(-k δ)``, exponential
utility (``ξ = γ``) and inventory bounded by ``±Q`` (in lots of one order), the value function
reduces to ``v(t) = exp(-M (T - t)) · 1`` with the tridiagonal, symmetric matrix::

    M[q, q]     = α q² - β q          α = k γ σ² / 2,  β = k μ (drift)
    M[q, q ± 1] = -η                  η = A (1 + γ/k)^-(1 + k/γ)

and the optimal depths are, with ``c = (1/γ) ln(1 + γ/k)``::

    δ_b(t, q) = (1/k) ln(v_q(t) / v_{q+1}(t)) + c      (q < Q; no bid at Q)
    δ_a(t, q) = (1/k) ln(v_q(t) / v_{q-1}(t)) + c      (q > -Q; no ask at -Q)

At ``t = T`` every depth is ``c``; as ``T - t -> ∞`` the ratios converge to those of the
eigenvector of ``M``'s smallest eigenvalue (the infinite-horizon quotes). The solver shifts
``M`` by that eigenvalue before ``scipy.linalg.expm`` so that long horizons neither underflow
nor overflow. :class:`DepthCache` keeps the last solution and re-solves only when a parameter
moved by more than a relative tolerance, so a quoter can ask for depths on every tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mmkit.quoting.glft import KAPPA_CAP, base_depth


@dataclass(frozen=True, slots=True)
class DepthTable:
    """Optimal depths for q = -Q..Q (index ``q + Q``); ``nan`` where a side is not quoted."""

    Q: int
    bid: tuple[float, ...]
    ask: tuple[float, ...]
    half0: float  # half spread at zero inventory

    def bid_depth(self, q: float) -> float:
        """Depth at inventory ``q`` (lots), linear between integers, saturating at ``Q - 1``."""
        return _interp(self.bid, q, -self.Q, self.Q - 1, self.Q)

    def ask_depth(self, q: float) -> float:
        """Depth at inventory ``q`` (lots), linear between integers, saturating at ``1 - Q``."""
        return _interp(self.ask, q, 1 - self.Q, self.Q, self.Q)


def _interp(values: tuple[float, ...], q: float, lo: int, hi: int, Q: int) -> float:
    if q != q:
        return math.nan
    if q <= lo:
        return values[lo + Q]
    if q >= hi:
        return values[hi + Q]
    i = math.floor(q)
    f = q - i
    a = values[i + Q]
    return a if f == 0.0 else a + f * (values[i + 1 + Q] - a)


@dataclass(frozen=True, slots=True)
class OdeCoefficients:
    alpha: float
    beta: float
    eta: float
    terminal: float  # c = (1/γ) ln(1 + γ/k)
    k: float


def ode_coefficients(
    k: float, A: float, sigma: float, gamma: float, drift: float = 0.0, kappa_floor: float = 1.0
) -> OdeCoefficients:
    """The matrix coefficients for ``k`` (floored), ``A > 0``, ``sigma >= 0``, ``gamma > 0``."""
    k = min(max(k, kappa_floor), KAPPA_CAP)
    x = gamma / k
    eta = A * math.exp(-(1.0 + 1.0 / x) * math.log1p(x)) if x > 1e-9 else A / math.e
    return OdeCoefficients(
        alpha=0.5 * k * gamma * sigma * sigma,
        beta=k * drift,
        eta=eta,
        terminal=base_depth(gamma, k),
        k=k,
    )


def _tridiagonal(co: OdeCoefficients, Q: int) -> tuple[np.ndarray, np.ndarray]:
    q = np.arange(-Q, Q + 1, dtype=np.float64)
    diag = co.alpha * q * q - co.beta * q
    off = np.full(2 * Q, -co.eta)
    return diag, off


def _ground_state(diag: np.ndarray, off: np.ndarray) -> tuple[float, np.ndarray]:
    from scipy.linalg import eigh_tridiagonal  # lazily: the closed form never needs scipy

    w, vecs = eigh_tridiagonal(diag, off, select="i", select_range=(0, 0))
    vec = np.abs(vecs[:, 0])  # Perron vector: one sign
    return float(w[0]), vec


def _table_from_log_ratios(ratios: np.ndarray, co: OdeCoefficients, Q: int) -> DepthTable:
    """Depths from ``ln(v_q / v_{q+1})`` for ``q = -Q..Q-1``."""
    diff = ratios * (1.0 / co.k)
    nan = np.array([math.nan])
    bid = np.concatenate([diff + co.terminal, nan])
    ask = np.concatenate([nan, co.terminal - diff])
    bids, asks = tuple(bid.tolist()), tuple(ask.tolist())
    return DepthTable(Q, bids, asks, 0.5 * (bids[Q] + asks[Q]))


def _log_positive(v: np.ndarray) -> np.ndarray | None:
    if not (np.all(np.isfinite(v)) and np.all(v > 0.0)):
        return None
    out: np.ndarray = np.log(v)
    return out


def solve_finite_horizon(co: OdeCoefficients, Q: int, tau: float) -> DepthTable:
    """Depths with ``tau = T - t`` seconds to the horizon.

    Raises :class:`ArithmeticError` if the solution is not representable (it then has no
    meaning for quoting; callers fall back to the closed form).
    """
    if not (Q >= 1 and tau >= 0.0 and math.isfinite(tau)):
        raise ValueError(f"finite-horizon solver needs Q >= 1 and finite tau >= 0, got {Q}, {tau}")
    from scipy.linalg import expm

    diag, off = _tridiagonal(co, Q)
    lam, _ = _ground_state(diag, off)
    n = 2 * Q + 1
    m = np.diag(diag - lam) + np.diag(off, 1) + np.diag(off, -1)
    with np.errstate(all="ignore"):
        v = expm(-tau * m) @ np.ones(n)
        log_v = _log_positive(v)
    if log_v is None:
        raise ArithmeticError("exact solver: v(t) under- or overflowed")
    return _table_from_log_ratios(log_v[:-1] - log_v[1:], co, Q)


def _ground_state_log_ratios(diag: np.ndarray, eta: float, lam: float) -> np.ndarray | None:
    """``ln(f_q / f_{q+1})`` of the ground state ``f``, with relative accuracy in the tails.

    From ``η f_{q-1} + η f_{q+1} = (M_qq - λ) f_q``, the ratios decaying towards each bound
    follow continued fractions started at the bound (``f_{Q+1} = 0``): stable, and exact in
    relative terms however small ``f`` gets, unlike an eigenvector's components. Returns
    None if a denominator is not positive (``λ`` not accurate enough).
    """
    d = (diag - lam).tolist()
    n = len(d)
    m = int(np.argmin(diag))
    out = [0.0] * (n - 1)
    r = 0.0  # f_{i+1} / f_i above the peak, from the top bound down
    for i in range(n - 1, m, -1):
        den = d[i] - eta * r
        if not den > 0.0:
            return None
        r = eta / den  # f_i / f_{i-1}
        out[i - 1] = -math.log(r)
    s = 0.0  # f_{i-1} / f_i below the peak, from the bottom bound up
    for i in range(m):
        den = d[i] - eta * s
        if not den > 0.0:
            return None
        s = eta / den  # f_i / f_{i+1}
        out[i] = math.log(s)
    return np.asarray(out, dtype=np.float64)


def solve_infinite_horizon(co: OdeCoefficients, Q: int) -> DepthTable:
    """The ``T - t -> ∞`` limit, from the eigenvector of ``M``'s smallest eigenvalue."""
    if Q < 1:
        raise ValueError(f"infinite-horizon solver needs Q >= 1, got {Q}")
    diag, off = _tridiagonal(co, Q)
    lam, vec = _ground_state(diag, off)
    with np.errstate(all="ignore"):
        ratios = _ground_state_log_ratios(diag, co.eta, lam) if co.eta > 0.0 else None
        if ratios is None:
            log_v = _log_positive(vec)
            if log_v is None:
                raise ArithmeticError("exact solver: the ground-state eigenvector underflowed")
            ratios = log_v[:-1] - log_v[1:]
    return _table_from_log_ratios(ratios, co, Q)


class DepthCache:
    """Solves on demand and re-solves only when the inputs moved materially.

    ``lookup(k, A, sigma, gamma, drift, tau)`` returns the cached :class:`DepthTable` unless
    ``k``, ``A``, ``sigma``, ``gamma`` or ``tau`` moved by more than ``tolerance`` (relative),
    or the drift term ``drift / (gamma sigma²)`` moved by more than ``tolerance`` lots.
    ``tau = inf`` selects the infinite-horizon limit. Returns ``None`` if the exact solution
    is not representable for these inputs.
    """

    __slots__ = ("Q", "_key", "_table", "kappa_floor", "solves", "tolerance")

    def __init__(self, Q: int, tolerance: float = 0.05, kappa_floor: float = 1.0) -> None:
        self.Q = Q
        self.tolerance = tolerance
        self.kappa_floor = kappa_floor
        self.solves = 0
        self._key: tuple[float, float, float, float, float, float] | None = None
        self._table: DepthTable | None = None

    def lookup(
        self, k: float, A: float, sigma: float, gamma: float, drift: float, tau: float
    ) -> DepthTable | None:
        key = self._key
        if key is not None:
            tol = self.tolerance
            k0, a0, s0, g0, d0, t0 = key
            if (
                abs(k - k0) <= tol * k0
                and abs(A - a0) <= tol * a0
                and abs(sigma - s0) <= tol * s0
                and abs(gamma - g0) <= tol * g0
                and (t0 == tau or (t0 != math.inf and abs(tau - t0) <= tol * t0))
                and (d0 == drift or abs(drift - d0) <= tol * gamma * sigma * sigma)
            ):
                return self._table
        self._key = (k, A, sigma, gamma, drift, tau)
        self._table = self._solve(k, A, sigma, gamma, drift, tau)
        return self._table

    def _solve(
        self, k: float, A: float, sigma: float, gamma: float, drift: float, tau: float
    ) -> DepthTable | None:
        self.solves += 1
        co = ode_coefficients(k, A, sigma, gamma, drift, self.kappa_floor)
        if not all(map(math.isfinite, (co.alpha, co.beta, co.eta, co.terminal))):
            return None
        try:
            if tau == math.inf:
                return solve_infinite_horizon(co, self.Q)
            return solve_finite_horizon(co, self.Q, tau)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            return None
