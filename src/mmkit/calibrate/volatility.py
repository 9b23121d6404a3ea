"""Sigma from sampled mids: bipower variation and the estimators' particle filter.

Returns are log-returns of mids sampled every ``dt`` seconds (a NaN sample restarts the
sampling, so no return spans a gap). ``sigma`` is relative volatility per square-root second.

* ``bipower``: ``sqrt(BV / (n - 1) / dt)`` with :func:`mmkit.estimators.bipower.bipower_variation`
  (robust to jumps); interval from its asymptotic variance ``theta * sigma^4 / n``,
  ``theta = pi^2/4 + pi - 5`` (constant volatility: optimistic under clustering);
* ``multiscale``: the path of :class:`mmkit.estimators.bipower.MultiScaleBipower`;
* ``particle filter``: the regime-switching SV filter of the ``sigma`` estimator, centred on
  the bipower level; its filtered path gives the regime sigmas (median of the path while
  ``P(turbulent) < 0.5`` and while ``>= 0.5``) with order-statistics intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mmkit.calibrate.estimate import Z95, Estimate, nan_estimate
from mmkit.estimators.bipower import MultiScaleBipower, bipower_variation
from mmkit.estimators.params import SigmaParams
from mmkit.estimators.particle_filter import ParticleFilter
from mmkit.estimators.sigma_estimator import sv_model

F64 = npt.NDArray[np.float64]
UNIT = "relative vol per sqrt(s)"
#: below this many returns a sigma is flagged: the bipower interval assumes many returns,
#: and a few minutes of data say little about the level over a day
SMALL_SAMPLE_RETURNS = 100
THETA = math.pi**2 / 4.0 + math.pi - 5.0


@dataclass
class SigmaFit:
    bipower: Estimate
    realized: Estimate
    calm: Estimate
    turbulent: Estimate
    path_ts: npt.NDArray[np.int64]
    pf_sigma: F64
    multiscale_sigma: F64
    p_turbulent: F64


def sampled_returns(mid: F64) -> F64:
    """Log-returns between consecutive finite samples; NaN where a pair spans a restart."""
    m = np.asarray(mid, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diff(np.log(np.where(m > 0, m, np.nan)))


def _median_ci(x: F64) -> tuple[float, float, float]:
    s = np.sort(x[np.isfinite(x)])
    n = s.size
    if n < 3:
        return math.nan, math.nan, math.nan
    half = Z95 * math.sqrt(n) / 2.0
    return (
        float(np.median(s)),
        float(s[max(0, math.floor(n / 2 - half))]),
        float(s[min(n - 1, math.ceil(n / 2 + half))]),
    )


def fit_sigma(
    mid_ts: npt.NDArray[np.int64],
    mid: F64,
    dt: float,
    params: SigmaParams | None = None,
    seed: int = 0,
) -> SigmaFit:
    r_all = sampled_returns(mid)
    ts = mid_ts[1:]
    ok = np.isfinite(r_all)
    r = r_all[ok]
    n = int(r.size)
    empty = np.zeros(0)
    if n < 10:
        why = f"too few mid returns ({n} at {dt:g} s, needs 10)"
        return SigmaFit(
            nan_estimate("sigma", UNIT, "bipower", why),
            nan_estimate("sigma_realized", UNIT, "realized variance", why),
            nan_estimate("sigma_calm", UNIT, "particle filter", why),
            nan_estimate("sigma_turbulent", UNIT, "particle filter", why),
            np.zeros(0, np.int64),
            empty,
            empty,
            empty,
        )
    small = (
        f"SMALL SAMPLE: {n} returns (< {SMALL_SAMPLE_RETURNS})" if n < SMALL_SAMPLE_RETURNS else ""
    )
    # bipower over runs of consecutive returns (no pair across a restart)
    bv = 0.0
    pairs = 0
    for run in np.split(r_all, np.flatnonzero(~ok)):
        seg = run[np.isfinite(run)]
        if seg.size >= 2:
            bv += bipower_variation(seg.tolist())
            pairs += seg.size - 1
    var = bv / max(pairs, 1) / dt
    sig = math.sqrt(var) if var > 0 else math.nan
    rel = 0.5 * Z95 * math.sqrt(THETA / max(pairs, 1))
    bip = Estimate(
        "sigma",
        sig,
        sig * (1 - rel),
        sig * (1 + rel),
        UNIT,
        "bipower",
        pairs,
        {"returns": float(n), "dt_s": dt},
        small,
    )
    rv = float(np.mean(r * r)) / dt
    rs = math.sqrt(rv)
    rrel = 0.5 * Z95 * math.sqrt(2.0 / n)
    realized = Estimate(
        "sigma_realized",
        rs,
        rs * (1 - rrel),
        rs * (1 + rrel),
        UNIT,
        "realized variance",
        n,
        {"jump_share": max(0.0, 1.0 - var / rv) if rv > 0 else math.nan},
        small,
    )
    # filtered paths
    p = params or SigmaParams()
    if math.isfinite(sig) and sig > 0:
        p = replace(p, default_sigma=sig, sample_interval_s=dt)
    pf = ParticleFilter(sv_model(p), p.n_particles, p.resample_ess, seed=seed)
    msb = MultiScaleBipower([h / dt for h in p.bipower_half_lives], p.default_sigma**2 * dt)
    pf_path = np.full(n, math.nan)
    ms_path = np.full(n, math.nan)
    pturb = np.full(n, math.nan)
    j = 0
    for x in r_all.tolist():
        if not math.isfinite(x):
            msb.reset_pair()
            continue
        pf.step(x)
        msb.update(x)
        pf_path[j] = math.sqrt(pf.mean_variance / dt)
        ms_path[j] = math.sqrt(msb.variance / dt)
        pturb[j] = pf.p_turbulent
        j += 1
    warm = min(n, p.warmup_returns)
    calm_mask = pturb[warm:] < 0.5
    regimes = []
    for name, mask in (("sigma_calm", calm_mask), ("sigma_turbulent", ~calm_mask)):
        v, lo, hi = _median_ci(pf_path[warm:][mask])
        if not math.isfinite(v):
            why = (
                f"the filter's first {p.warmup_returns} returns are its warmup and the data has {n}"
                if n <= p.warmup_returns
                else f"{int(mask.sum())} filtered returns in this regime (needs 3)"
            )
            regimes.append(nan_estimate(name, UNIT, "particle filter", why))
            continue
        regimes.append(
            Estimate(
                name,
                v,
                lo,
                hi,
                UNIT,
                "particle filter (median of filtered path)",
                int(mask.sum()),
                {"share_of_time": float(mask.mean()) if mask.size else math.nan},
                "interval of the median (path is autocorrelated: optimistic)",
            )
        )
    return SigmaFit(bip, realized, regimes[0], regimes[1], ts[ok], pf_path, ms_path, pturb)
