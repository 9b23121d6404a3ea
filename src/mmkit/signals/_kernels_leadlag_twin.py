"""numba kernels of the lead-lag estimator's per-event work (grid sampling of both mids into
the return rings), for its compiled twin (:mod:`mmkit.signals.lead_lag_twin`).

State: a float64 array ``f`` (slots ``F_*``), an int64 array ``i`` (slots ``I_*``) and the
reference's own return rings ``x`` (leader) and ``y`` (follower). Each kernel repeats
:class:`~mmkit.signals.lead_lag.LeadLagEstimator`'s Python operation for operation, in the
same order, so that the twin's state equals the reference's bit for bit. Integer ``//`` and
``%`` follow Python's rules in numba (floor division), as the grid's arithmetic needs for
times before the epoch.

A kernel returns :data:`OK`, or :data:`DOMAIN_ERROR` where the reference's ``math.log``
raises (a mid ratio that underflows to 0.0: numba's ``log`` would return ``-inf``): the
state is then as the reference leaves it when it raises, and the caller raises the same
error.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

F_PREV_LEAD = 0
F_PREV_FOL = 1
F_LEAD_MID = 2
F_FOLLOW_MID = 3
NF = 4

I_N = 0  # returns stored (<= window)
I_RING = 1  # next write index of the rings
I_SAMPLES = 2
I_NEXT_GRID = 3
I_LAST_LEADER = 4
I_CONNECTED = 5  # 1 or 0
I_LAST_NOW = 6
I_DT = 7
I_STALE = 8
I_WINDOW = 9
NI = 10

OK = 0
DOMAIN_ERROR = 1

#: times (and the grid's step and staleness) the kernels take: within +-2**61 ns (73 years
#: around the epoch) no sum or product of the grid's arithmetic leaves int64
SAFE_NS = 2**61


@njit(cache=True)
def sample(
    f: np.ndarray, i: np.ndarray, x: np.ndarray, y: np.ndarray, lead: float, fol: float
) -> int:
    """``LeadLagEstimator._sample``."""
    pl = f[F_PREV_LEAD]
    pf = f[F_PREV_FOL]
    f[F_PREV_LEAD] = lead
    f[F_PREV_FOL] = fol
    if not (pl > 0.0 and pf > 0.0 and lead > 0.0 and fol > 0.0):
        return OK
    q = lead / pl
    if q == 0.0:
        return DOMAIN_ERROR
    rx = math.log(q)
    q = fol / pf
    if q == 0.0:
        return DOMAIN_ERROR
    ry = math.log(q)
    if not (math.isfinite(rx) and math.isfinite(ry)):
        return OK
    w = i[I_WINDOW]
    k = i[I_RING]
    x[k] = rx
    y[k] = ry
    i[I_RING] = (k + 1) % w
    i[I_SAMPLES] += 1
    if i[I_N] < w:
        i[I_N] += 1
    return OK


@njit(cache=True)
def advance(f: np.ndarray, i: np.ndarray, x: np.ndarray, y: np.ndarray, now: int) -> int:
    """``LeadLagEstimator._advance``: the grid samples due before ``now``."""
    if now <= i[I_LAST_NOW]:
        return OK
    i[I_LAST_NOW] = now
    dt = i[I_DT]
    nxt = i[I_NEXT_GRID]
    if nxt < 0:
        i[I_NEXT_GRID] = now - now % dt + dt
        return OK
    if now < nxt:
        return OK
    steps = (now - nxt) // dt + 1
    last = i[I_LAST_LEADER]
    live = i[I_CONNECTED] != 0 and last >= 0 and now - last <= i[I_STALE]
    if steps * dt > i[I_STALE] or not live:
        # a gap or a dead leader: no return is taken across it
        f[F_PREV_LEAD] = np.nan
        f[F_PREV_FOL] = np.nan
        i[I_NEXT_GRID] = nxt + steps * dt
        return OK
    lead = f[F_LEAD_MID]
    fol = f[F_FOLLOW_MID]
    for _ in range(steps):
        if sample(f, i, x, y, lead, fol) != OK:
            return DOMAIN_ERROR
    i[I_NEXT_GRID] = nxt + steps * dt
    return OK


@njit(cache=True)
def follower(
    f: np.ndarray, i: np.ndarray, x: np.ndarray, y: np.ndarray, mid: float, now: int
) -> int:
    """``LeadLagEstimator._on_follower``: the grid advanced to ``now``, then the mid."""
    if advance(f, i, x, y, now) != OK:
        return DOMAIN_ERROR
    f[F_FOLLOW_MID] = mid
    return OK


@njit(cache=True)
def leader(
    f: np.ndarray,
    i: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    mid: float,
    arrival: int,
    connected: bool,
) -> int:
    """``LeadLagEstimator._on_leader`` of a quote arrived at ``arrival``."""
    if advance(f, i, x, y, arrival) != OK:
        return DOMAIN_ERROR
    if not connected:
        i[I_CONNECTED] = 0
        return OK
    i[I_CONNECTED] = 1
    f[F_LEAD_MID] = mid
    if arrival > i[I_LAST_LEADER]:
        i[I_LAST_LEADER] = arrival
    return OK


@njit(cache=True)
def catch_up(i: np.ndarray, x: np.ndarray, betas: np.ndarray) -> float:
    """``LeadLagEstimator._catch_up_sum``: the leader's returns summed from the newest,
    each lag's sum weighted by its beta."""
    w = i[I_WINDOW]
    total = 0.0
    csum = 0.0
    j = i[I_RING]
    for lag in range(1, min(betas.size, i[I_N] + 1)):
        j = j - 1 if j > 0 else w - 1
        csum += x[j]
        b = betas[lag]
        if b != 0.0:
            total += b * csum
    return total
