"""Fill-intensity fits ``lambda(d) = A exp(-k d)`` from market-trade depths.

Depths ``d`` are relative to the mid just before each trade (the units of
:mod:`mmkit.components`: ``k`` per unit of relative depth, ``A`` trades per second per side
reaching depth 0). Three fits of the same model:

* ``mle``: depths are ``Exp(k)``, so ``k = n / sum d`` (exact chi-square interval) and
  ``A = n / (2 T)`` (exact Poisson interval);
* ``loglinear``: least squares of ``log N(d >= d_j) / (2T)`` on ``d_j`` over a grid of
  shallow depths (up to the ``shallow_quantile`` of the depths); slope ``-k``, intercept
  ``log A``; intervals from the regression's standard errors (optimistic: the cumulative
  counts are correlated);
* ``student_t``: the estimators' robust fit (:mod:`mmkit.estimators.robust_kappa`, Student-t
  location of ``log d`` corrected by the same fit on ``log Exp(1)``); interval from the
  t-location's Fisher information at the effective sample size.

``k`` converts to per tick as ``k * tick / mid`` and to per unit of price as ``k / mid``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mmkit.calibrate.estimate import Z95, Estimate, nan_estimate
from mmkit.estimators._kernels_kappa import student_t_location
from mmkit.estimators.robust_kappa import MIN_DEPTH, log_exponential_offset

F64 = npt.NDArray[np.float64]
K_UNIT = "per unit relative depth"
A_UNIT = "trades/s per side at depth 0"


@dataclass
class IntensityFit:
    method: str
    kappa: Estimate
    A: Estimate


def _chi2_ppf(q: float, df: float) -> float:
    from scipy.stats import chi2

    return float(chi2.ppf(q, df))


def _poisson_rate(n: int, exposure: float) -> tuple[float, float, float]:
    if n <= 0 or exposure <= 0:
        return math.nan, math.nan, math.nan
    lo = 0.5 * _chi2_ppf(0.025, 2 * n) / exposure
    hi = 0.5 * _chi2_ppf(0.975, 2 * n + 2) / exposure
    return n / exposure, lo, hi


def _ks_exponential(d: F64, k: float) -> float:
    """Kolmogorov–Smirnov distance between the depths and ``Exp(k)``."""
    x = np.sort(d)
    n = x.size
    cdf = 1.0 - np.exp(-k * x)
    i = np.arange(1, n + 1, dtype=np.float64)
    return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))


def _clean(depths: F64) -> F64:
    d = np.asarray(depths, dtype=np.float64)
    return d[np.isfinite(d) & (d >= 0.0)]


def fit_mle(depths: F64, duration_s: float) -> IntensityFit:
    d = _clean(depths)
    n = int(d.size)
    A, alo, ahi = _poisson_rate(n, 2.0 * duration_s)
    a_est = Estimate("A", A, alo, ahi, A_UNIT, "mle", n)
    total = float(d.sum())
    if n < 2 or total <= 0:
        return IntensityFit("mle", nan_estimate("kappa", K_UNIT, "mle", "too few trades"), a_est)
    k = n / total
    lo = _chi2_ppf(0.025, 2 * n) / (2 * total)
    hi = _chi2_ppf(0.975, 2 * n) / (2 * total)
    ks = _ks_exponential(d, k) if n <= 5_000_000 else math.nan
    return IntensityFit(
        "mle", Estimate("kappa", k, lo, hi, K_UNIT, "mle", n, {"ks_distance": ks}), a_est
    )


def fit_loglinear(
    depths: F64, duration_s: float, *, shallow_quantile: float = 0.9, points: int = 30
) -> IntensityFit:
    d = np.sort(_clean(depths))
    n = int(d.size)
    bad = IntensityFit(
        "loglinear",
        nan_estimate("kappa", K_UNIT, "loglinear", "too few trades or depths"),
        nan_estimate("A", A_UNIT, "loglinear", "too few trades or depths"),
    )
    if n < 10 or duration_s <= 0:
        return bad
    top = float(np.quantile(d, shallow_quantile))
    if not top > 0:
        return bad
    grid = np.linspace(0.0, top, points)
    counts = n - np.searchsorted(d, grid, side="left")
    ok = counts > 0
    x, y = grid[ok], np.log(counts[ok] / (2.0 * duration_s))
    if x.size < 3:
        return bad
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    icpt = float(ym - slope * xm)
    resid = y - (icpt + slope * x)
    dof = x.size - 2
    s2 = float(np.sum(resid**2) / dof)
    se_slope = math.sqrt(s2 / sxx)
    se_icpt = math.sqrt(s2 * (1.0 / x.size + xm * xm / sxx))
    syy = float(np.sum((y - ym) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / syy if syy > 0 else math.nan
    k = -slope
    q = {"r_squared": r2, "points": float(x.size), "max_depth": top}
    return IntensityFit(
        "loglinear",
        Estimate("kappa", k, k - Z95 * se_slope, k + Z95 * se_slope, K_UNIT, "loglinear", n, q),
        Estimate(
            "A",
            math.exp(icpt),
            math.exp(icpt - Z95 * se_icpt),
            math.exp(icpt + Z95 * se_icpt),
            A_UNIT,
            "loglinear",
            n,
            q,
        ),
    )


def fit_student_t(depths: F64, duration_s: float, *, nu: float = 4.0) -> IntensityFit:
    d = _clean(depths)
    n = int(d.size)
    A, alo, ahi = _poisson_rate(n, 2.0 * duration_s)
    a_est = Estimate("A", A, alo, ahi, A_UNIT, "student_t (trade count)", n)
    if n < 10:
        return IntensityFit(
            "student_t", nan_estimate("kappa", K_UNIT, "student_t", "too few trades"), a_est
        )
    logd = np.log(np.maximum(d, MIN_DEPTH))
    mu, scale, ess = student_t_location(logd, 0, n, float(nu), 500, math.nan, math.nan)
    k = math.exp(log_exponential_offset(float(nu)) - mu)
    se = scale * math.sqrt((nu + 3.0) / (nu + 1.0)) / math.sqrt(max(ess, 1.0))
    q = {"effective_sample_size": float(ess), "scale": float(scale), "nu": float(nu)}
    return IntensityFit(
        "student_t",
        Estimate(
            "kappa", k, k * math.exp(-Z95 * se), k * math.exp(Z95 * se), K_UNIT, "student_t", n, q
        ),
        a_est,
    )


def fit_all(depths: F64, duration_s: float, *, nu: float = 4.0) -> dict[str, IntensityFit]:
    return {
        "mle": fit_mle(depths, duration_s),
        "loglinear": fit_loglinear(depths, duration_s),
        "student_t": fit_student_t(depths, duration_s, nu=nu),
    }


def in_ticks_and_price(kappa: float, tick: float, mid: float) -> dict[str, float]:
    """``kappa`` per unit relative depth as per tick and per unit of price at ``mid``."""
    return {"per_tick": kappa * tick / mid, "per_price_unit": kappa / mid}


def book_kappa_estimate(kappas: F64, r2: F64) -> Estimate:
    """Median of the book-structure regressions, with an order-statistics interval."""
    k = np.sort(np.asarray(kappas, dtype=np.float64)[np.isfinite(kappas)])
    n = int(k.size)
    if n < 3:
        return nan_estimate("book_kappa", K_UNIT, "book regression", "too few book samples")
    half = Z95 * math.sqrt(n) / 2.0
    lo_i = max(0, math.floor(n / 2 - half))
    hi_i = min(n - 1, math.ceil(n / 2 + half))
    return Estimate(
        "book_kappa",
        float(np.median(k)),
        float(k[lo_i]),
        float(k[hi_i]),
        K_UNIT,
        "median of book regressions",
        n,
        {
            "mean_r_squared": float(np.nanmean(r2)) if r2.size else math.nan,
            "p10": float(np.quantile(k, 0.1)),
            "p90": float(np.quantile(k, 0.9)),
        },
        "interval of the median (samples are autocorrelated: optimistic)",
    )
