"""numba kernels of the microstructure features (:mod:`mmkit.signals.features`) and of the
adverse-selection classifier's prediction, for their compiled twins
(:mod:`mmkit.signals.adverse_selection_twin`).

State: a float64 array ``f`` (slots ``F_*``) and an int64 array ``i`` (slots ``I_*``). Each
kernel repeats the reference's arithmetic operation for operation, in the same order, so
that the twin's state and outputs equal the reference's bit for bit; ``0.5 ** x`` takes its
base from the array (``F_HALF``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.signals.features import _CLIP

F_MID = 0
F_IMBALANCE = 1
F_SPREAD = 2
F_FLOW_SIGNED = 3
F_FLOW_TOTAL = 4
F_VAR = 5
F_VAR_W = 6
F_MARKOUT = 7
F_CASCADE = 8
F_STAGNATION = 9
F_FLOW_HL = 10
F_VOL_HL = 11
F_MK_DECAY = 12
#: 0.5, read from the array: with a constant base LLVM rewrites ``0.5 ** x`` as
#: ``exp2(-x)``, which can differ from libm's ``pow`` (what Python calls) by one ulp
F_HALF = 13
NF = 14

I_MID_TS = 0
I_FLOW_TS = 1
NI = 2

#: the features' clip
CLIP = _CLIP


@njit(cache=True)
def top(f: np.ndarray, i: np.ndarray, b: float, bs: float, a: float, as_: float, now: int) -> bool:
    """``MicrostructureState._top``: a top of book (bid, bid size, ask, ask size) at ``now``;
    whether it carried a usable mid."""
    if not (0.0 < b < a < math.inf):
        return False
    mid = 0.5 * (a + b)
    if 0.0 < bs < math.inf and 0.0 < as_ < math.inf:
        f[F_IMBALANCE] = (bs - as_) / (bs + as_)
    f[F_SPREAD] = (a - b) / mid
    prev = f[F_MID]
    pts = i[I_MID_TS]
    if prev > 0.0 and now > pts >= 0:
        dt = now - pts
        r = math.log(mid / prev)
        w = 1.0 - f[F_HALF] ** (dt / f[F_VOL_HL])
        f[F_VAR] += w * (r * r / (dt * 1e-9) - f[F_VAR])
        f[F_VAR_W] += w * (1.0 - f[F_VAR_W])
    if now >= pts:
        f[F_MID] = mid
        i[I_MID_TS] = now
    return True


@njit(cache=True)
def trade(f: np.ndarray, i: np.ndarray, sz: float, buy: bool, now: int) -> None:
    """``MicrostructureState._trade``: an aggressor's trade of ``sz`` at ``now``."""
    if not (0.0 < sz < math.inf):
        return
    fts = i[I_FLOW_TS]
    if fts >= 0 and now > fts:
        decay = f[F_HALF] ** ((now - fts) / f[F_FLOW_HL])
        f[F_FLOW_SIGNED] *= decay
        f[F_FLOW_TOTAL] *= decay
    if now >= fts:
        i[I_FLOW_TS] = now
    f[F_FLOW_SIGNED] += sz if buy else -sz
    f[F_FLOW_TOTAL] += sz


@njit(cache=True)
def _clipped(v: float) -> float:
    if -CLIP <= v <= CLIP:
        return v
    if v != v:
        return 0.0
    return CLIP if v > 0 else -CLIP


@njit(cache=True)
def values(f: np.ndarray, s: float, x: np.ndarray) -> None:
    """``MicrostructureState.values`` into ``x``, for a fill on the side of sign ``s`` (-1.0:
    our bid, 1.0: our ask)."""
    total = f[F_FLOW_TOTAL]
    flow = f[F_FLOW_SIGNED] / total if total > 1e-12 else 0.0
    var_w = f[F_VAR_W]
    v = f[F_VAR] / var_w if var_w > 0 else 0.0
    vol = math.sqrt(v) * 1e4 if v > 0 else 0.0
    x[0] = 1.0
    x[1] = _clipped(s * f[F_IMBALANCE])
    x[2] = _clipped(s * flow)
    x[3] = _clipped(f[F_SPREAD] * 1e4)
    x[4] = _clipped(vol)
    x[5] = _clipped(f[F_MARKOUT])
    x[6] = _clipped(f[F_CASCADE])
    x[7] = _clipped(f[F_STAGNATION])


@njit(cache=True)
def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(cache=True)
def _predict(
    f: np.ndarray, w: np.ndarray, x: np.ndarray, s: float, weight: float, base: float
) -> float:
    """``AdverseSelectionEstimator.predict`` of a fill on the side of sign ``s``: the
    model's probability (``OnlineLogistic.predict``) blended with the base rate by the
    gating ``weight`` (0 when the model is off), clamped to [0, 1]."""
    values(f, s, x)
    z = np.dot(w, x)  # the BLAS dot numpy's ``w @ x`` calls: the same sum, bit for bit
    raw = _sigmoid(z) if math.isfinite(z) else 0.5
    p = weight * raw + (1.0 - weight) * base
    if not math.isfinite(p):
        return base
    # min(1.0, max(0.0, p)) with Python's rules: the first argument unless the second wins
    m = 0.0
    if p > m:
        m = p
    r = 1.0
    if m < r:
        r = m
    return r


@njit(cache=True)
def toxicities(
    f: np.ndarray, w: np.ndarray, x: np.ndarray, weight: float, base: float
) -> tuple[float, float]:
    """The predicted toxicity of a fill on the bid and on the ask (``x``: scratch of the
    features' length)."""
    return _predict(f, w, x, -1.0, weight, base), _predict(f, w, x, 1.0, weight, base)
