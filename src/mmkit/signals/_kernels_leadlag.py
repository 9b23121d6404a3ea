"""numba kernels of the lead-lag estimator: lagged cross-correlation, binned mutual
information and its permutation test.

Convention: ``x`` is the leader's return series and ``y`` the follower's, aligned on the same
sampling grid; "lag ``L``" pairs ``x[t - L]`` with ``y[t]`` (the leader ``L`` samples ahead).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.deferred_kernels import kernel_on_first_use

# The four kernels the estimator calls from Python have explicit signatures, compiled (or
# loaded from numba's cache) on first use: a trading session loads them before its first
# event and the kernel warm-up's worker compiles them (mmkit.deferred_kernels). As lazy
# kernels they compiled, or loaded, at the session's first significance test: 7.9 s on a
# cold cache, 0.5 s on a warm one (2026-12-07), while the session quoted.
_F = "float64[::1]"
_I = "int64[::1]"


@njit(cache=True)
def _lag_moments(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[float, float, float]:
    """Centred co-moments ``(Sxy, Sxx, Syy)`` of ``x[t-lag]`` and ``y[t]`` (zeros if < 3 pairs)."""
    m = x.size - lag
    if m < 3:
        return 0.0, 0.0, 0.0
    sx = 0.0
    sy = 0.0
    for i in range(m):
        sx += x[i]
        sy += y[i + lag]
    mx = sx / m
    my = sy / m
    cxy = 0.0
    cxx = 0.0
    cyy = 0.0
    for i in range(m):
        dx = x[i] - mx
        dy = y[i + lag] - my
        cxy += dx * dy
        cxx += dx * dx
        cyy += dy * dy
    return cxy, cxx, cyy


@kernel_on_first_use(f"{_F}({_F}, {_F}, int64)", cache=True)
def xcorr(x: np.ndarray, y: np.ndarray, max_lag: int) -> np.ndarray:
    """Pearson correlation of ``x[t-L]`` and ``y[t]`` for ``L = 0..max_lag`` (0 if flat)."""
    out = np.zeros(max_lag + 1)
    for lag in range(max_lag + 1):
        cxy, cxx, cyy = _lag_moments(x, y, lag)
        if cxx > 0.0 and cyy > 0.0:
            out[lag] = cxy / math.sqrt(cxx * cyy)
    return out


@kernel_on_first_use(f"{_I}({_F}, int64)", cache=True)
def quantile_bins(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-frequency bin of each value; ties always share a bin (quantised prices give many
    zero returns, which must not be split by their position in time)."""
    n = x.size
    s = np.sort(x)
    cuts = np.empty(n_bins - 1)
    for k in range(1, n_bins):
        cuts[k - 1] = s[min(n - 1, (k * n) // n_bins)]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = 0
        for k in range(n_bins - 1):
            if x[i] >= cuts[k]:
                b = k + 1
        out[i] = b
    return out


@njit(cache=True)
def _mi(bx: np.ndarray, by: np.ndarray, lag: int, n_bins: int, counts: np.ndarray) -> float:
    """Plug-in mutual information (nats) of ``bx[t-lag]`` and ``by[t]``."""
    m = bx.size - lag
    counts[:, :] = 0.0
    for i in range(m):
        counts[bx[i], by[i + lag]] += 1.0
    px = counts.sum(axis=1)
    py = counts.sum(axis=0)
    mi = 0.0
    for a in range(n_bins):
        if px[a] == 0.0:
            continue
        for b in range(n_bins):
            c = counts[a, b]
            if c > 0.0:
                mi += c * math.log(c * m / (px[a] * py[b]))
    return mi / m


@njit(cache=True)
def lagged_mi(
    bx: np.ndarray, by: np.ndarray, min_lag: int, max_lag: int, n_bins: int
) -> np.ndarray:
    """MI at each lag (entries below ``min_lag`` are 0)."""
    counts = np.zeros((n_bins, n_bins))
    out = np.zeros(max_lag + 1)
    for lag in range(min_lag, max_lag + 1):
        if bx.size - lag >= 3:
            out[lag] = _mi(bx, by, lag, n_bins, counts)
    return out


@kernel_on_first_use(
    f"UniTuple(float64, 2)({_I}, {_I}, {_I}, int64, int64, int64, int64, int64, boolean)",
    cache=True,
)
def permutation_test(
    bx: np.ndarray,
    by: np.ndarray,
    moves: np.ndarray,
    min_lag: int,
    max_lag: int,
    n_bins: int,
    n_perm: int,
    seed: int,
    circular: bool,
) -> tuple[float, float]:
    """``(p_value, observed)``: the test of the statistic ``max over lags min_lag..max_lag of
    (MI(L) - its mean over the observed and the re-pairings)``, and the observed ``max MI(L)``.

    Centring each lag on its own re-paired mean puts the lags on one footing: a lag whose MI
    is high whatever the pairing (the plug-in bias of many ties, or zero returns that two
    venues stepping on one clock share at every other sample) cannot hide the lag that a real
    lead lifts above its own null (Westfall and Young's max-T over the lags).

    ``moves`` holds the sample indices (increasing) at which the leader's return is not zero.
    The null re-pairs the leader's binned returns with the follower's:

    * ``circular`` (the valid null): the leader's moves are rotated, by a seeded shift of at
      least ``max_lag + 1`` moves, along its own move slots; the samples where it did not
      move stay where they are. Each series keeps its own dependence (autocorrelation,
      volatility clusters, runs of ties) and its own update clock, so a clock shared with the
      follower (two venues stepping on the same grid) is not taken for a lead. Without zero
      returns this is the plain circular shift of the leader's series.
    * otherwise a seeded shuffle of all the leader's returns: valid only for independent,
      identically distributed returns (its false-positive rate on autocorrelated or
      clock-sampled returns is far above alpha; see :func:`mmkit.signals.lead_lag.analyse`).

    The max over lags in both the statistic and the null accounts for the choice of the lag.
    ``p = (1 + #{null >= observed}) / (1 + n_perm)``.
    """
    np.random.seed(seed)
    mi_obs = lagged_mi(bx, by, min_lag, max_lag, n_bins)
    m = moves.size
    perm = bx.copy()
    vals = np.empty(m, dtype=np.int64)
    for j in range(m):
        vals[j] = bx[moves[j]]
    lo = max_lag + 1
    null = np.empty((n_perm, max_lag + 1))
    for r in range(n_perm):
        if circular:
            if m > 2 * lo:
                k = np.random.randint(lo, m - lo + 1)
                for j in range(m):
                    perm[moves[j]] = vals[(j + k) % m]
            else:  # too few moves to rotate far enough: shuffle them on their slots
                sh = np.random.permutation(vals)
                for j in range(m):
                    perm[moves[j]] = sh[j]
        else:
            perm = np.random.permutation(bx)
        null[r, :] = lagged_mi(perm, by, min_lag, max_lag, n_bins)
    # each lag's MI less its mean over the observed and every re-pairing (a symmetric function
    # of all of them, so the observed stays exchangeable with the re-pairings)
    centre = (mi_obs + null.sum(axis=0)) / (n_perm + 1.0)
    obs = -np.inf
    for lag in range(min_lag, max_lag + 1):
        obs = max(obs, mi_obs[lag] - centre[lag])
    hits = 0
    for r in range(n_perm):
        st = -np.inf
        for lag in range(min_lag, max_lag + 1):
            st = max(st, null[r, lag] - centre[lag])
        if st >= obs - 1e-12:
            hits += 1
    return (1.0 + hits) / (1.0 + n_perm), mi_obs.max()


@kernel_on_first_use(f"{_F}({_F}, {_F}, int64)", cache=True)
def lag_betas(x: np.ndarray, y: np.ndarray, max_lag: int) -> np.ndarray:
    """Slope of ``y[t]`` on ``x[t-L]`` for each lag (univariate least squares, 0 if flat)."""
    out = np.zeros(max_lag + 1)
    for lag in range(max_lag + 1):
        cxy, cxx, _ = _lag_moments(x, y, lag)
        if cxx > 0.0:
            out[lag] = cxy / cxx
    return out
