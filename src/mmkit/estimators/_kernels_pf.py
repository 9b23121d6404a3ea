"""numba kernels of the stochastic-volatility particle filter.

Model, per sample interval ``t`` (returns normalised to one interval)::

    regime s_t in {0 calm, 1 turbulent}, Markov: P(0->1) = p01, P(1->0) = p10
    h_t = m(s_t) + phi * (h_{t-1} - m(s_t)) + vol_of_vol * eta_t,    eta_t ~ N(0, 1)
    r_t = exp(h_t / 2) * eps_t,                                        eps_t ~ N(0, 1)

with ``m(0) = mu`` and ``m(1) = mu + d_mu``: ``h`` is the log variance of one interval's
return. A bootstrap filter propagates particles through the transition, weights them by the
Gaussian likelihood of ``r_t`` and resamples (systematic) when the effective sample size
falls below a fraction of the particle count. Random numbers are passed in, so that each
filter instance owns its own seeded generator and runs are reproducible.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_LOG_2PI = math.log(2.0 * math.pi)

#: indices of the ``out`` array filled by :func:`pf_step`
OUT_LOGLIK = 0
OUT_MEAN_VAR = 1
OUT_ESS = 2
OUT_P_TURBULENT = 3
OUT_RESAMPLED = 4
OUT_SIZE = 5


@njit(cache=True)
def systematic_resample(w: np.ndarray, u: float, idx: np.ndarray) -> None:
    """Fill ``idx`` with systematic-resampling ancestors of normalised weights ``w``."""
    n = w.shape[0]
    step = 1.0 / n
    pos = u * step
    cum = w[0]
    j = 0
    for i in range(n):
        while pos > cum and j < n - 1:
            j += 1
            cum += w[j]
        idx[i] = j
        pos += step


#: rows of the float state array
F_H = 0  # log variance per particle
F_W = 1  # normalised weight per particle
F_TMP = 2  # scratch
F_EINV = 3  # exp(-h) of the last step
F_ROWS = 4
#: rows of the integer state array
I_REG = 0  # regime per particle
I_TMP = 1  # scratch
I_IDX = 2  # resampling ancestors
#: entries of the model array
P_MU = 0
P_DMU = 1
P_PHI = 2
P_VOL = 3
P_P01 = 4
P_P10 = 5
P_RESAMPLE = 6
P_SIZE = 7

_FLAGS = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast maths, but NaN/inf preserved


@njit(cache=True, fastmath=_FLAGS)
def pf_step(
    fs: np.ndarray,
    ist: np.ndarray,
    normals: np.ndarray,
    uniforms: np.ndarray,
    k: int,
    r: float,
    model: np.ndarray,
    out: np.ndarray,
) -> None:
    """Advance the filter by one observed return ``r``.

    ``fs`` (4 x n floats) and ``ist`` (3 x n ints) hold the particle state (rows ``F_*`` and
    ``I_*``); row ``k`` of ``normals`` (``(n + 1) // 2`` standard normals, used antithetically:
    particle ``i`` and ``i + half`` get ``z`` and ``-z``) and of ``uniforms`` (n + 1
    uniforms in [0, 1)) are this step's random numbers; ``model`` holds the ``P_*`` entries.
    Antithetic pairs keep each particle's transition exact (so the likelihood estimate stays
    unbiased) and halve the normals drawn.
    Writes the log-likelihood increment, the posterior mean of ``exp(h)``, the effective
    sample size fraction, the posterior turbulent probability and whether it resampled
    into ``out``.
    """
    h = fs[F_H]
    w = fs[F_W]
    tmp = fs[F_TMP]
    einv = fs[F_EINV]
    reg = ist[I_REG]
    z = normals[k]
    u = uniforms[k]
    n = h.shape[0]
    half = z.shape[0]
    mu = model[P_MU]
    d_mu = model[P_DMU]
    phi = model[P_PHI]
    vol = model[P_VOL]
    p01 = model[P_P01]
    p10 = model[P_P10]
    r2 = r * r
    max_ll = -math.inf
    for i in range(n):
        s = reg[i]
        if s == 0:
            if u[i] < p01:
                s = 1
        elif u[i] < p10:
            s = 0
        reg[i] = s
        m = mu + d_mu * s
        zi = z[i] if i < half else -z[i - half]
        hi = m + phi * (h[i] - m) + vol * zi
        h[i] = hi
        e = math.exp(-hi)
        einv[i] = e
        ll = -0.5 * (hi + r2 * e)
        tmp[i] = ll
        max_ll = max(max_ll, ll)
    total = 0.0
    for i in range(n):
        wi = w[i] * math.exp(tmp[i] - max_ll)
        w[i] = wi
        total += wi
    if not (total > 0.0) or not math.isfinite(total):
        for i in range(n):
            w[i] = 1.0 / n
        out[OUT_LOGLIK] = max_ll - 0.5 * _LOG_2PI
    else:
        out[OUT_LOGLIK] = max_ll + math.log(total) - 0.5 * _LOG_2PI
        inv = 1.0 / total
        for i in range(n):
            w[i] *= inv
    sw2 = 0.0
    mean_var = 0.0
    p_turb = 0.0
    for i in range(n):
        wi = w[i]
        sw2 += wi * wi
        mean_var += wi / einv[i]
        p_turb += wi * reg[i]
    ess = 1.0 / (sw2 * n)
    out[OUT_MEAN_VAR] = mean_var
    out[OUT_ESS] = ess
    out[OUT_P_TURBULENT] = p_turb
    out[OUT_RESAMPLED] = 0.0
    if ess < model[P_RESAMPLE]:
        idx = ist[I_IDX]
        rtmp = ist[I_TMP]
        systematic_resample(w, float(u[n]), idx)
        for i in range(n):
            tmp[i] = h[idx[i]]
            rtmp[i] = reg[idx[i]]
        for i in range(n):
            h[i] = tmp[i]
            reg[i] = rtmp[i]
            w[i] = 1.0 / n
        out[OUT_RESAMPLED] = 1.0


@njit(cache=True)
def new_state(h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float and integer state arrays for particles starting at ``h0`` (calm regime)."""
    n = h0.shape[0]
    fs = np.zeros((F_ROWS, n))
    w0 = 1.0 / n
    # element loops, not row assignments: an array-to-array row assignment pulls in numba's
    # shape-mismatch error formatting, which cost ~1.5 s of the first compile
    for i in range(n):
        fs[F_H, i] = h0[i]
        fs[F_W, i] = w0
    ist = np.zeros((3, n), dtype=np.int64)
    return fs, ist
