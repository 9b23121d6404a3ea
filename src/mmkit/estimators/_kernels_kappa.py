"""numba kernels of the kappa sources: book-depth regression and the Student-t location fit."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _side_sums(
    px: np.ndarray, sz: np.ndarray, mid: float, max_depth: float
) -> tuple[float, float, float, float, float, float]:
    """``(n, sum d, sum y, sum d^2, sum d y, sum y^2)`` over usable levels of one side."""
    n = sx = sy = sxx = sxy = syy = 0.0
    for i in range(min(px.shape[0], sz.shape[0])):
        p = px[i]
        s = sz[i]
        if not (math.isfinite(p) and math.isfinite(s)) or p <= 0.0 or s <= 0.0:
            continue
        d = abs(p - mid) / mid
        if d > max_depth or not math.isfinite(d):
            continue
        y = math.log(s)
        n += 1.0
        sx += d
        sy += y
        sxx += d * d
        sxy += d * y
        syy += y * y
    return n, sx, sy, sxx, sxy, syy


@njit(cache=True)
def book_depth_regression(
    bid_px: np.ndarray,
    bid_sz: np.ndarray,
    ask_px: np.ndarray,
    ask_sz: np.ndarray,
    mid: float,
    max_depth: float,
    min_levels: int,
) -> tuple[float, float]:
    """Least squares of ``log(level size)`` on relative distance from mid, both sides pooled.

    The fitted decay rate is ``kappa = -slope``; returns ``(kappa, r_squared)``, or
    ``(nan, 0.0)`` when there are fewer than ``min_levels`` usable levels or no spread in
    distance. The caller rejects a non-positive kappa.
    """
    if not (math.isfinite(mid) and mid > 0.0):
        return math.nan, 0.0
    b = _side_sums(bid_px, bid_sz, mid, max_depth)
    a = _side_sums(ask_px, ask_sz, mid, max_depth)
    n = a[0] + b[0]
    if n < min_levels:
        return math.nan, 0.0
    sx = a[1] + b[1]
    sy = a[2] + b[2]
    sxx = a[3] + b[3] - sx * sx / n
    sxy = a[4] + b[4] - sx * sy / n
    syy = a[5] + b[5] - sy * sy / n
    if not (sxx > 0.0) or not math.isfinite(sxx):
        return math.nan, 0.0
    slope = sxy / sxx
    r2 = 0.0
    if syy > 0.0:
        r2 = min(max(sxy * sxy / (sxx * syy), 0.0), 1.0)
    return -slope, r2


@njit(cache=True)
def student_t_location(
    x: np.ndarray,
    start: int,
    n: int,
    nu: float,
    iters: int,
    mu0: float,
    scale0: float,
) -> tuple[float, float, float]:
    """EM fit of a Student-t location/scale with ``nu`` degrees of freedom.

    The data are ``n`` values of the ring buffer ``x`` starting at index ``start`` (wrapping
    around). Returns ``(location, scale, effective_sample_size)`` where the effective sample
    size is ``(sum w)^2 / sum w^2`` of the final EM weights (outliers get small weights).
    ``mu0, scale0`` (finite, scale > 0) start the iteration from a previous fit, so that a
    rolling-window refit converges in a few passes; NaN starts from the sample mean and
    variance. (No default arguments: numba cannot find a NaN default in its cache.) Each EM
    step is one pass over the data (weighted sums of y and y^2 about the data's mean); it
    stops when the location moves by less than 1e-9 (relative kappa precision, since
    kappa = exp(c - location)).
    """
    cap = x.shape[0]
    if n <= 0 or n > cap:
        return math.nan, math.nan, 0.0
    y = np.empty(n)
    c = 0.0
    for i in range(n):
        j = start + i
        y[i] = x[j - cap] if j >= cap else x[j]
        c += y[i]
    c /= n
    var = 0.0
    for i in range(n):
        y[i] -= c  # centred: the one-pass variance below does not cancel digits
        var += y[i] * y[i]
    var /= n
    if not (var > 1e-300):
        return c, 0.0, float(n)
    mu = 0.0
    if math.isfinite(mu0) and math.isfinite(scale0) and scale0 > 0.0:
        mu = mu0 - c
        var = scale0 * scale0
    sw = 0.0
    sw2 = 0.0
    step0 = 0.0  # the previous EM step of the location (0: none, or just extrapolated)
    move0 = 0.0  # the previous pass's largest move (location or log-scale)
    r_last = 0.0  # the last ratio of successive moves seen
    for _ in range(iters):
        sw = 0.0
        sw2 = 0.0
        swy = 0.0
        swyy = 0.0
        inv = 1.0 / var
        for i in range(n):
            d = y[i] - mu
            w = (nu + 1.0) / (nu + d * d * inv)
            sw += w
            sw2 += w * w
            wy = w * y[i]
            swy += wy
            swyy += wy * y[i]
        new_mu = swy / sw
        # sum w (y - new_mu)^2 = sum w y^2 - new_mu * sum w y, over sum w rather than n: the
        # same fixed point (at the t MLE the weights average 1), reached in fewer passes
        new_var = (swyy - new_mu * swy) / sw
        step = new_mu - mu
        if not (new_var > 1e-300):
            mu = new_mu
            break
        # converged when the distance left to the fixed point, of the location and of the
        # log-scale alike (a warm start may hold the location and be off in scale), is below
        # 1e-9: not the last step, since with a steady ratio r the steps still to come add up
        # to step * r / (1 - r), far more than the step itself for heavy tails (nu near 1)
        move = max(abs(step), 0.5 * abs(math.log(new_var / var)))
        ratio = move / move0 if move0 > 0.0 else r_last
        if 0.0 < ratio < 1.0:
            r_last = ratio
            done = move / (1.0 - ratio) <= 1e-9
        else:
            done = move <= 1e-9
        move0 = move
        mu = new_mu
        var = new_var
        if done:
            break
        # EM converges linearly here: two steps in a steady ratio r (0 < r < 0.95) show the
        # remaining distance, step * r / (1 - r) (Aitken). Jump there, then keep iterating:
        # the fixed point and the stopping test are those of plain EM steps.
        r = step / step0 if step0 != 0.0 else 0.0
        if 0.0 < r < 0.95:
            mu += step * r / (1.0 - r)
            step0 = 0.0
        else:
            step0 = step
    ess = sw * sw / sw2 if sw2 > 0.0 else 0.0
    return mu + c, math.sqrt(var), ess
