"""Guéant–Lehalle–Fernandez-Tapia closed-form depths, in Guéant's general form.

With fill intensity ``Λ(δ) = A exp(-k δ)`` at depth ``δ``, price volatility ``σ``, risk aversion
``γ``, the parameter ``ξ`` of the objective (``ξ = γ``: exponential utility, GLFT "model A";
``ξ = 0``: risk-adjusted expectation), order size ``Δ`` and drift ``μ``, the asymptotic optimal
depths for an inventory ``q`` (same unit as ``Δ``) are (Guéant 2017, "Optimal market making")::

    δ_b(q) ≈ c + ω (-μ / (γ σ²) + (2q + Δ) / 2)
    δ_a(q) ≈ c + ω ( μ / (γ σ²) - (2q - Δ) / 2)

    c = ln(1 + ξΔ/k) / (ξΔ)                    (-> 1/k as ξΔ -> 0)
    ω = sqrt(γ σ² / (2 A Δ k) · (1 + ξΔ/k)^(1 + k/(ξΔ)))   ((...)^(...) -> e as ξΔ -> 0)

so the half spread is ``c + ωΔ/2`` and the quotes' centre moves by ``ω (μ/(γσ²) - q)``.
Depths are relative to mid (``k`` per unit of relative depth), ``σ`` per square-root second,
``A`` and ``μ`` per second. ``k`` is floored (``max(k, floor)``) wherever it is used, so the
formula cannot blow up; callers validate the other inputs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

#: kappa ceiling: beyond it the depths are 0 to double precision anyway
KAPPA_CAP = 1e12


def base_depth(xi_delta: float, k: float) -> float:
    """``ln(1 + ξΔ/k) / (ξΔ)``, the depth of a flat book; ``1/k`` in the limit ``ξΔ -> 0``."""
    x = xi_delta / k
    if x < 1e-9:
        return (1.0 - 0.5 * x) / k
    return math.log1p(x) / xi_delta


def _utility_factor(xi_delta: float, k: float) -> float:
    """``(1 + ξΔ/k)^(1 + k/(ξΔ))``, between 1 and e; e in the limit ``ξΔ -> 0``."""
    x = xi_delta / k
    if x < 1e-9:
        return math.e * (1.0 - 0.5 * x)
    return math.exp((1.0 + 1.0 / x) * math.log1p(x))


class GlftTerms(NamedTuple):
    """The two terms of the closed form for one set of estimates (a tuple: cheap to make)."""

    base: float  # c
    omega: float  # ω
    delta: float  # Δ
    drift_lots: float  # μ / (γ σ²), in units of q

    def bid_depth(self, q: float) -> float:
        return self.base + self.omega * (-self.drift_lots + q + 0.5 * self.delta)

    def ask_depth(self, q: float) -> float:
        return self.base + self.omega * (self.drift_lots - q + 0.5 * self.delta)

    @property
    def half_spread(self) -> float:
        return self.base + 0.5 * self.omega * self.delta


def xi_delta(gamma: float, xi: float | None, delta: float) -> float:
    """``ξΔ`` of the closed form; ``xi=None`` means ``ξ = γ`` (GLFT model A)."""
    return max(gamma if xi is None else xi, 0.0) * delta


def closed_form(
    k: float, A: float, sigma: float, gamma: float, xi_delta: float, delta: float
) -> tuple[float, float]:
    """``(c, ω)`` for a floored ``k`` (positional and tuple-valued: the quoter's hot path);
    ``ω`` is how much both depths move per unit of inventory."""
    omega2 = gamma * sigma * sigma / (2.0 * A * delta * k) * _utility_factor(xi_delta, k)
    return base_depth(xi_delta, k), math.sqrt(omega2)


def glft_terms(
    k: float,
    A: float,
    sigma: float,
    gamma: float,
    *,
    xi: float | None = None,
    delta: float = 1.0,
    drift: float = 0.0,
    kappa_floor: float = 1.0,
    max_drift_lots: float = math.inf,
) -> GlftTerms:
    """The closed-form terms; ``xi=None`` means ``ξ = γ``. ``k`` is floored at ``kappa_floor``.

    Inputs other than ``k`` must be finite with ``A, gamma, delta > 0`` and ``sigma >= 0``.
    """
    k = min(max(k, kappa_floor), KAPPA_CAP)
    base, omega = closed_form(k, A, sigma, gamma, xi_delta(gamma, xi, delta), delta)
    return GlftTerms(
        base, omega, delta, drift_in_lots(drift, gamma * sigma * sigma, max_drift_lots)
    )


def drift_in_lots(drift: float, var: float, max_drift_lots: float) -> float:
    """``μ / (γσ²)`` (``var = γσ²``) capped at ``±max_drift_lots``; 0 without drift."""
    if drift == 0.0:
        return 0.0
    if var > 0.0:
        return max(-max_drift_lots, min(max_drift_lots, drift / var))
    return math.copysign(max_drift_lots, drift) if math.isfinite(max_drift_lots) else 0.0


def terminal_depth(gamma: float, k: float) -> float:
    """``(1/γ) ln(1 + γ/k)``: every depth of the exact solution at the horizon (ξ = γ)."""
    return base_depth(gamma, k)


def average_fill_distance(k: float) -> float:
    """``1 / max(k, 1)``: mean depth of fills under exponential intensity (level spacing unit)."""
    return 1.0 / max(k, 1.0) if k == k else 1.0
