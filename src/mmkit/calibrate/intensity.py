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

Honest intervals: no estimate of ``k`` from ``n`` depths can be sharper than the exact
chi-square interval of ``n`` exponential depths (the MLE's), so the loglinear and Student-t
intervals are widened to at least that relative width (a Student-t fit of depths that sit
on one or two values — trades at the touch — has a scale near 0 and would otherwise claim
``k`` to a few parts per million from 64 trades). Every fit also carries
``quality["curve_rms_log"]``, the goodness of fit used by ``--kappa-method auto``
(:func:`curve_residual`), and notes when the sample is small (:data:`SMALL_SAMPLE_TRADES`)
or the depths are degenerate (:func:`depth_shape_note`).
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
#: below this many trades an intensity fit is flagged: the shape of the depth distribution
#: (its tail, clustering at the touch) cannot be checked, and the relative error of k is
#: 1/sqrt(n) > 7% even when the exponential model holds
SMALL_SAMPLE_TRADES = 200
#: counts below this are left out of the goodness-of-fit curve (log N is too noisy)
CURVE_MIN_COUNT = 5
#: the goodness-of-fit curve runs up to this quantile of the depths (the plot's range)
CURVE_QUANTILE = 0.99


@dataclass
class IntensityFit:
    method: str
    kappa: Estimate
    A: Estimate


def _chi2_ppf(q: float, df: float) -> float:
    from scipy.stats import chi2

    return float(chi2.ppf(q, df))


def poisson_rate(n: int, exposure: float) -> tuple[float, float, float]:
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


def exponential_bound(n: int) -> tuple[float, float]:
    """Relative 95% interval ``(lo / k, hi / k)`` of the MLE of ``k`` from ``n`` exponential
    depths (exact: ``2 n k / k_hat ~ chi2(2n)``); (NaN, NaN) below 1 depth."""
    if n < 1:
        return math.nan, math.nan
    return _chi2_ppf(0.025, 2 * n) / (2 * n), _chi2_ppf(0.975, 2 * n) / (2 * n)


def widen_to_bound(k: float, lo: float, hi: float, n: int) -> tuple[float, float, bool]:
    """``[lo, hi]`` widened to at least the exponential bound around ``k`` and clipped at 0
    (k > 0); True when it had to be widened."""
    rlo, rhi = exponential_bound(n)
    if not (math.isfinite(k) and math.isfinite(rlo)):
        return lo, hi, False
    blo, bhi = k * rlo, k * rhi
    wider = lo > blo * (1 + 1e-9) or hi < bhi * (1 - 1e-9)  # beyond rounding
    return max(0.0, min(lo, blo)), max(hi, bhi), wider


def depth_shape_note(depths: F64) -> str:
    """Why the exponential model may not describe these depths ("" when nothing stands out):
    most trades on one depth value (prints at the touch), or very few distinct depths."""
    d = _clean(depths)
    n = int(d.size)
    if n == 0:
        return ""
    _vals, counts = np.unique(np.round(d, 12), return_counts=True)
    top = float(counts.max()) / n
    notes = []
    if top >= 0.5:
        notes.append(
            f"{top:.0%} of the trades sit at one depth ({float(_vals[counts.argmax()]):.3g}, "
            "the touch): the exponential model does not describe them"
        )
    elif _vals.size < 10:
        notes.append(f"only {_vals.size} distinct depths: the fit's shape is not checkable")
    return "; ".join(notes)


def curve_residual(depths: F64, duration_s: float, k: float, a: float) -> float:
    """Goodness of fit of ``A exp(-k d)`` to the measured intensity curve (NaN if none).

    The curve is the one :func:`mmkit.calibrate.plots.intensity_plot` draws: ``N(d' >= d) /
    (2 T)`` on 200 depths from 0 to the :data:`CURVE_QUANTILE` of the depths. The statistic
    is the count-weighted RMS of ``log(measured) - log(fitted)`` over points with at least
    :data:`CURVE_MIN_COUNT` trades (weights = counts, since ``var(log N) ~ 1 / N``), in
    natural-log units (0.1 = the fit is off by about 10% where the trades are). It judges
    every fit on the same points, including ones none of the fits was fitted on (the
    loglinear fit uses 30 points up to the 90% quantile, unweighted)."""
    d = np.sort(_clean(depths))
    if d.size < 2 or not (duration_s > 0 and k > 0 and a > 0):
        return math.nan
    if not (math.isfinite(k) and math.isfinite(a)):
        return math.nan
    top = float(np.quantile(d, CURVE_QUANTILE))
    if not top > 0:
        return math.nan
    grid = np.linspace(0.0, top, 200)
    counts = (d.size - np.searchsorted(d, grid, side="left")).astype(np.float64)
    ok = counts >= CURVE_MIN_COUNT
    if np.count_nonzero(ok) < 3:
        return math.nan
    resid = np.log(counts[ok] / (2.0 * duration_s)) - (math.log(a) - k * grid[ok])
    w = counts[ok]
    return float(math.sqrt(float(np.sum(w * resid * resid)) / float(np.sum(w))))


def _finish(fit: IntensityFit, d: F64, duration_s: float) -> IntensityFit:
    """Attach the goodness of fit, honest interval and sample-size / shape notes to a fit."""
    k, a = fit.kappa, fit.A
    n = int(d.size)
    if not math.isfinite(k.value):
        return fit
    notes = [k.note] if k.note else []
    lo, hi, wider = widen_to_bound(k.value, k.lo, k.hi, n)
    if wider:
        notes.append(
            "interval widened to the exact exponential bound for n trades (the fit's own "
            "was narrower than n depths can support)"
        )
    k.lo, k.hi = lo, hi
    if n > 0 and math.isfinite(a.value) and duration_s > 0:
        # A counts trades: never sharper than the exact Poisson interval of n of them
        _, plo, phi = poisson_rate(n, 2.0 * duration_s)
        r = a.value / (n / (2.0 * duration_s))
        if not (a.lo <= plo * r and a.hi >= phi * r):
            a.lo, a.hi = min(a.lo, plo * r), max(a.hi, phi * r)
            a.note = "interval widened to the exact Poisson interval of n trades"
    k.quality["curve_rms_log"] = curve_residual(d, duration_s, k.value, a.value)
    if n < SMALL_SAMPLE_TRADES:
        notes.append(f"SMALL SAMPLE: {n} trades (< {SMALL_SAMPLE_TRADES})")
    shape = depth_shape_note(d)
    if shape:
        notes.append(shape)
    k.note = "; ".join(notes)
    return fit


def fit_mle(depths: F64, duration_s: float) -> IntensityFit:
    d = _clean(depths)
    n = int(d.size)
    A, alo, ahi = poisson_rate(n, 2.0 * duration_s)
    a_est = Estimate("A", A, alo, ahi, A_UNIT, "mle", n)
    total = float(d.sum())
    if n == 0:
        a_est.note = "no market trades with a depth (no trades, or none after a book mid)"
    if n < 2 or total <= 0:
        why = f"too few trades ({n}, needs 2)" if n < 2 else "every depth is 0 (prints at mid)"
        return IntensityFit("mle", nan_estimate("kappa", K_UNIT, "mle", why), a_est)
    k = n / total
    lo = _chi2_ppf(0.025, 2 * n) / (2 * total)
    hi = _chi2_ppf(0.975, 2 * n) / (2 * total)
    ks = _ks_exponential(d, k) if n <= 5_000_000 else math.nan
    return _finish(
        IntensityFit(
            "mle", Estimate("kappa", k, lo, hi, K_UNIT, "mle", n, {"ks_distance": ks}), a_est
        ),
        d,
        duration_s,
    )


def fit_loglinear(
    depths: F64, duration_s: float, *, shallow_quantile: float = 0.9, points: int = 30
) -> IntensityFit:
    d = np.sort(_clean(depths))
    n = int(d.size)

    def bad(why: str) -> IntensityFit:
        return IntensityFit(
            "loglinear",
            nan_estimate("kappa", K_UNIT, "loglinear", why),
            nan_estimate("A", A_UNIT, "loglinear", why),
        )

    if n < 10 or duration_s <= 0:
        return bad(f"too few trades ({n}, needs 10)" if n < 10 else "no time span")
    top = float(np.quantile(d, shallow_quantile))
    if not top > 0:
        return bad(f"the {shallow_quantile:.0%} depth quantile is 0 (prints at mid)")
    grid = np.linspace(0.0, top, points)
    counts = n - np.searchsorted(d, grid, side="left")
    ok = counts > 0
    x, y = grid[ok], np.log(counts[ok] / (2.0 * duration_s))
    if x.size < 3:
        return bad("fewer than 3 depth points with trades")
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    if not sxx > 0:
        return bad("degenerate depth grid")
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
    if not k > 0:
        return bad(f"the intensity does not fall with depth (slope {slope:.3g})")
    return _finish(
        IntensityFit(
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
        ),
        d,
        duration_s,
    )


def fit_student_t(depths: F64, duration_s: float, *, nu: float = 4.0) -> IntensityFit:
    d = _clean(depths)
    n = int(d.size)
    A, alo, ahi = poisson_rate(n, 2.0 * duration_s)
    a_est = Estimate("A", A, alo, ahi, A_UNIT, "student_t (trade count)", n)
    if n < 10:
        return IntensityFit(
            "student_t",
            nan_estimate("kappa", K_UNIT, "student_t", f"too few trades ({n}, needs 10)"),
            a_est,
        )
    logd = np.log(np.maximum(d, MIN_DEPTH))
    mu, scale, ess = student_t_location(logd, 0, n, float(nu), 500, math.nan, math.nan)
    if not (math.isfinite(mu) and math.isfinite(scale)):
        return IntensityFit(
            "student_t",
            nan_estimate("kappa", K_UNIT, "student_t", "the Student-t fit did not converge"),
            a_est,
        )
    k = math.exp(log_exponential_offset(float(nu)) - mu)
    se = scale * math.sqrt((nu + 3.0) / (nu + 1.0)) / math.sqrt(max(ess, 1.0))
    q = {"effective_sample_size": float(ess), "scale": float(scale), "nu": float(nu)}
    return _finish(
        IntensityFit(
            "student_t",
            Estimate(
                "kappa",
                k,
                k * math.exp(-Z95 * se),
                k * math.exp(Z95 * se),
                K_UNIT,
                "student_t",
                n,
                q,
            ),
            a_est,
        ),
        d,
        duration_s,
    )


def select_fit(fits: dict[str, IntensityFit]) -> tuple[str, str]:
    """``--kappa-method auto``: the fit with the smallest :func:`curve_residual`, and why.

    Falls back to ``mle`` (with the reason) when no fit has a finite residual."""
    scores = {
        name: f.kappa.quality.get("curve_rms_log", math.nan)
        for name, f in fits.items()
        if math.isfinite(f.kappa.value)
    }
    ranked = sorted((v, k) for k, v in scores.items() if math.isfinite(v))
    if not ranked:
        return "mle", (
            "no fit has a goodness of fit (fewer than 3 depth points with "
            f"{CURVE_MIN_COUNT}+ trades): mle by default"
        )
    best_v, best = ranked[0]
    others = ", ".join(f"{k} {v:.3g}" for v, k in ranked[1:]) or "no other finite fit"
    return best, (
        f"{best} fits the measured intensity curve best: count-weighted RMS log residual "
        f"{best_v:.3g} (vs {others}; depths up to the {CURVE_QUANTILE:.0%} quantile)"
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


def book_kappa_estimate(
    kappas: F64,
    r2: F64,
    tries: int | None = None,
    *,
    min_levels: int = 4,
    max_depth: float = 0.01,
) -> Estimate:
    """Median of the book-structure regressions, with an order-statistics interval.

    ``tries`` (regressions attempted, when known) turns a NaN into its reason: no book at
    all, or books whose regressions all failed."""
    k = np.sort(np.asarray(kappas, dtype=np.float64)[np.isfinite(kappas)])
    n = int(k.size)
    if n < 3:
        if tries == 0:
            why = "no book samples (the data has no depth levels, or no valid mid)"
        elif tries is not None:
            why = (
                f"{n} of {tries} book regressions fitted (needs 3): the others had fewer "
                f"than {min_levels} levels per side within {max_depth:g} of mid, or sizes "
                "that grow away from mid (no decay to fit)"
            )
        else:
            why = f"{n} book regressions fitted (needs 3)"
        return nan_estimate("book_kappa", K_UNIT, "book regression", why)
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
            "tries": float(tries) if tries is not None else math.nan,
            "mean_r_squared": float(np.nanmean(r2)) if r2.size else math.nan,
            "p10": float(np.quantile(k, 0.1)),
            "p90": float(np.quantile(k, 0.9)),
        },
        "interval of the median (samples are autocorrelated: optimistic)",
    )
