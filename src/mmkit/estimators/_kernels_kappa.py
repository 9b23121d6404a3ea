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


#: a Newton step is taken only within this trust region: |location step| <= this many
#: scales, |log-variance step| <= :data:`_NEWTON_MAX_LOG_VAR`; an EM step otherwise
_NEWTON_MAX_LOC = 0.5
_NEWTON_MAX_LOG_VAR = 0.5
#: a Newton step this small (times sqrt(scale) below a scale of 1) ends the fit: the
#: distance left is of the order of its square over the scale
_NEWTON_DONE = 1e-6
#: the fit's target: the distance left to the fixed point, of the location and of half the
#: log-variance (the log-scale)
_TOL = 1e-9


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
    """Maximum-likelihood fit of a Student-t location/scale with ``nu`` degrees of freedom.

    The data are ``n`` values of the ring buffer ``x`` starting at index ``start`` (wrapping
    around). Returns ``(location, scale, effective_sample_size)`` where the effective sample
    size is ``(sum w)^2 / sum w^2`` of the final pass's EM weights ``w = (nu + 1) / (nu +
    z^2)`` (outliers get small weights). ``mu0, scale0`` (finite, scale > 0) start the
    iteration from a previous fit, so that a rolling-window refit converges in a few passes;
    NaN (or a scale whose square is not within (1e-300, inf)) starts from the sample mean
    and variance. (No default arguments: numba cannot find a NaN default in its cache.) At
    most ``iters`` passes over the data; the variance never goes below 1e-300.

    Each pass computes, from one loop over the data, the log-likelihood's gradient and
    Hessian in (location, log-variance) and the EM update. Where the Hessian is negative
    definite and the Newton step stays within a trust region (half a scale in location,
    0.5 in log-variance) the pass takes the Newton step, else the EM step (which never
    lowers the likelihood: far from the fit, between modes, or on degenerate, heavily tied
    data). Near the fit Newton converges quadratically: a warm-started refit takes ~3
    passes where EM took ~15 (and up to its cap on flat likelihoods). The fit ends when the
    distance left to the fixed point, of the location and of the log-scale alike, is below
    1e-9 (relative kappa precision, since kappa = exp(c - location)): after a Newton step
    of at most 1e-6, times sqrt(scale) below a scale of 1 (what is left is of the order of
    its square over the scale), or an EM step whose distance left, step * r / (1 - r) for
    the steady ratio r of successive steps, is.
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
    # a warm start whose variance is out of the fit's range (below 1e-300, or beyond a
    # float: a scale of 1e-200 or 1e300) starts cold instead
    if math.isfinite(mu0) and scale0 > 0.0 and 1e-300 < scale0 * scale0 < math.inf:
        mu = mu0 - c
        var = scale0 * scale0
    nup = nu + 1.0
    sw = 0.0
    sw2 = 0.0
    move0 = 0.0  # the previous EM pass's largest move (location or log-scale)
    r_last = 0.0  # the last ratio of successive EM moves seen
    for _ in range(iters):
        # sums over the data at (mu, var), with d = y - mu, q = d^2 / var, w the EM weight
        sw = 0.0
        sw2 = 0.0
        swd = 0.0
        swq = 0.0
        sw2q = 0.0
        sw2qd = 0.0
        sw2qq = 0.0
        inv = 1.0 / var
        for i in range(n):
            d = y[i] - mu
            q = d * d * inv
            w = nup / (nu + q)
            ww = w * w
            sw += w
            sw2 += ww
            swd += w * d
            swq += w * q
            wwq = ww * q
            sw2q += wwq
            sw2qd += wwq * d
            sw2qq += wwq * q
        if not (sw > 0.0):  # every weight underflowed (or NaN data): no step to take
            break
        # log-likelihood (up to a constant) l = -n/2 log var - (nu+1)/2 sum log(1 + q/nu):
        # gradient and Hessian in (mu, t = log var)
        g_mu = swd * inv
        g_t = 0.5 * (swq - n)
        h_mm = (2.0 * sw2q / nup - sw) * inv
        h_mt = (sw2qd / nup - swd) * inv
        h_tt = 0.5 * (sw2qq / nup - swq)
        det = h_mm * h_tt - h_mt * h_mt
        newton = False
        d_mu = 0.0
        d_t = 0.0
        if h_mm < 0.0 and det > 0.0 and math.isfinite(det):
            d_mu = (h_mt * g_t - h_tt * g_mu) / det
            d_t = (h_mt * g_mu - h_mm * g_t) / det
            newton = abs(d_t) <= _NEWTON_MAX_LOG_VAR and d_mu * d_mu <= _NEWTON_MAX_LOC**2 * var
        if newton:
            mu += d_mu
            new_var = var * math.exp(d_t)
            if not (new_var > 1e-300):  # the scale collapses (ties): stop where it is
                break
            var = new_var
            # what is left is ~ (location step)^2 / scale: the bound tightens with sqrt(scale)
            # below a scale of 1, so that a narrow fit also ends within the target
            if max(abs(d_mu), 0.5 * abs(d_t)) <= _NEWTON_DONE * min(1.0, math.sqrt(math.sqrt(var))):
                break
            move0 = 0.0  # the EM ratio restarts after a Newton step
            continue
        # the EM step: location sum w y / sum w; variance sum w (y - new_mu)^2 / sum w
        # (over sum w rather than n: the same fixed point, since at the t MLE the weights
        # average 1, reached in fewer passes)
        step = swd / sw
        new_var = var * (swq - step * step * sw * inv) / sw
        if not (new_var > 1e-300):
            mu += step
            break
        # converged when the distance left to the fixed point, of the location and of the
        # log-scale alike (a warm start may hold the location and be off in scale), is below
        # the target: not the last step, since with a steady ratio r the steps still to
        # come add up to step * r / (1 - r), far more than the step itself for heavy tails
        move = max(abs(step), 0.5 * abs(math.log(new_var / var)))
        ratio = move / move0 if move0 > 0.0 else r_last
        if 0.0 < ratio < 1.0:
            r_last = ratio
            done = move / (1.0 - ratio) <= _TOL
        else:
            done = move <= _TOL
        move0 = move
        mu += step
        var = new_var
        if done:
            break
    ess = sw * sw / sw2 if sw2 > 0.0 else 0.0
    return mu + c, math.sqrt(var), ess
