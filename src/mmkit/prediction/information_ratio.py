"""Information ratio of a model against a baseline forecast.

For each resolved prediction the model earns ``gain_i = loss(baseline_i, y_i) -
loss(model_i, y_i)``; the information ratio is ``mean(gain) / std(gain)`` (per prediction,
not annualised): positive when the model beats the baseline consistently, near 0 when it
adds nothing, negative when it is worse.

* probability models (fill, adverse selection): squared error, baseline = the running base
  rate of outcomes seen *before* each prediction (no look-ahead; starts at ``prior_rate``);
* sigma (recommendation 8): QLIKE loss ``y / f + log f`` of forecast variance ``f`` against
  realised squared return ``y``, baseline = a constant variance (``default_sigma^2 dt``) or
  the running mean of past realised variance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def information_ratio(gains: Sequence[float] | np.ndarray) -> float:
    """``mean / std`` (population std) of per-prediction gains; NaN under two samples."""
    g = np.asarray(gains, dtype=np.float64)
    g = g[np.isfinite(g)]
    if g.size < 2:
        return math.nan
    sd = float(g.std())
    m = float(g.mean())
    if sd <= 1e-300:
        return math.copysign(math.inf, m) if m != 0 else 0.0
    return m / sd


def _running_mean_before(y: np.ndarray, prior: float) -> np.ndarray:
    """Element ``i`` is the mean of ``y[:i]`` (``prior`` for ``i = 0``)."""
    csum = np.concatenate(([0.0], np.cumsum(y)[:-1]))
    n = np.arange(y.size, dtype=np.float64)
    out = np.full(y.size, prior)
    nz = n > 0
    out[nz] = csum[nz] / n[nz]
    return out


def probability_ir(
    pred: Sequence[float], outcome: Sequence[float], prior_rate: float = 0.5
) -> float:
    """IR of probability forecasts vs the running base rate (squared-error loss)."""
    p = np.asarray(pred, dtype=np.float64)
    o = np.asarray(outcome, dtype=np.float64)
    if p.shape != o.shape:
        raise ValueError("predictions and outcomes must have the same length")
    base = _running_mean_before(o, prior_rate)
    return information_ratio((base - o) ** 2 - (p - o) ** 2)


def qlike(forecast_var: np.ndarray, realised: np.ndarray) -> np.ndarray:
    """QLIKE loss ``y / f + log f`` (robust to noise in the realised-variance proxy)."""
    out: np.ndarray = realised / forecast_var + np.log(forecast_var)
    return out


def sigma_ir(
    forecast_var: Sequence[float], realised_sq: Sequence[float], baseline_var: float | None = None
) -> float:
    """IR of variance forecasts vs realised squared returns under QLIKE.

    ``baseline_var`` is a constant baseline (e.g. ``default_sigma^2 * dt``); None uses the
    running mean of past realised variance (the first forecast is the baseline's prior).
    Non-positive or non-finite forecasts are dropped.
    """
    f = np.asarray(forecast_var, dtype=np.float64)
    y = np.asarray(realised_sq, dtype=np.float64)
    if f.shape != y.shape:
        raise ValueError("forecasts and realised values must have the same length")
    ok = np.isfinite(f) & (f > 0) & np.isfinite(y) & (y >= 0)
    f, y = f[ok], y[ok]
    if f.size < 2:
        return math.nan
    if baseline_var is not None:
        base = np.full(f.size, float(baseline_var))
    else:
        base = _running_mean_before(y, float(f[0]))
        base = np.where(base > 0, base, f[0])
    return information_ratio(qlike(base, y) - qlike(f, y))
