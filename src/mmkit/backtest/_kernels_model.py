"""numba kernels of the Avellaneda–Stoikov model market (many independent paths).

Per step of length ``dt`` and per path: the resting bid at ``mid - db`` fills with
probability ``1 - exp(-A exp(-k db) dt)`` (Poisson arrivals of intensity ``A exp(-k depth)``,
``k`` per unit of price), likewise the ask; then the mid takes an arithmetic Brownian step
``sigma sqrt(dt) Z``. A NaN depth means no quote on that side. Inventory is counted in lots
(one fill = one lot) and stays within ``+-max_q``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def seed_model(seed: int) -> None:
    np.random.seed(seed)


@njit(cache=True)
def model_step(
    mid: np.ndarray,
    q: np.ndarray,
    cash: np.ndarray,
    bid_d: np.ndarray,
    ask_d: np.ndarray,
    A: float,
    k: float,
    dt: float,
    sigma_sqdt: float,
    max_q: float,
    stats: np.ndarray,
) -> None:
    """One step for every path; ``stats`` accumulates (bid fills, ask fills, spread sum, n)."""
    for p in range(mid.shape[0]):
        m = mid[p]
        db = bid_d[p]
        da = ask_d[p]
        if db == db and da == da:
            stats[2] += db + da
            stats[3] += 1.0
        if (
            db == db
            and q[p] < max_q
            and np.random.random() < 1.0 - math.exp(-A * math.exp(-k * db) * dt)
        ):
            q[p] += 1.0
            cash[p] -= m - db
            stats[0] += 1.0
        if (
            da == da
            and q[p] > -max_q
            and np.random.random() < 1.0 - math.exp(-A * math.exp(-k * da) * dt)
        ):
            q[p] -= 1.0
            cash[p] += m + da
            stats[1] += 1.0
        mid[p] = m + sigma_sqdt * np.random.standard_normal()
