"""numba kernels: the replayed market's L2 book on a dense tick grid.

``grid[0, j]`` is the bid size and ``grid[1, j]`` the ask size at absolute tick
``si[SI_BASE] + j``. The best bid and ask columns are tracked incrementally: setting a level
is O(1) except when the best level empties, which scans to the next non-empty column.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mmkit.venues.sim._layout import SF_INV_TICK, SF_TICK, SI_BA, SI_BASE, SI_BB, SI_NT


@njit(cache=True, inline="always")
def column_of(si: np.ndarray, sf: np.ndarray, px: float) -> int:
    """Grid column of a price (nearest tick), or -1 when outside the grid."""
    j = np.int64(px * sf[SF_INV_TICK] + 0.5) - si[SI_BASE]
    if j < 0 or j >= si[SI_NT]:
        return -1
    return int(j)


@njit(cache=True, inline="always")
def price_of(si: np.ndarray, sf: np.ndarray, j: int) -> float:
    return float((j + si[SI_BASE]) * sf[SF_TICK])


@njit(cache=True, inline="always")
def set_level(grid: np.ndarray, si: np.ndarray, row: int, j: int, sz: float) -> float:
    """Set the size of column ``j`` on ``row`` (0 bids, 1 asks); returns the old size."""
    old = grid[row, j]
    if sz <= 0.0:
        sz = 0.0
    grid[row, j] = sz
    if row == 0:
        bb = si[SI_BB]
        if sz > 0.0:
            if j > bb:
                si[SI_BB] = j
        elif j == bb:
            k = j - 1
            while k >= 0 and grid[0, k] <= 0.0:
                k -= 1
            si[SI_BB] = k
    else:
        ba = si[SI_BA]
        if sz > 0.0:
            if j < ba:
                si[SI_BA] = j
        elif j == ba:
            n = si[SI_NT]
            k = j + 1
            while k < n and grid[1, k] <= 0.0:
                k += 1
            si[SI_BA] = k
    return float(old)


@njit(cache=True)
def best_bid_px(si: np.ndarray, sf: np.ndarray) -> float:
    """Best bid price of the replayed book, NaN when the bid side is empty."""
    bb = si[SI_BB]
    if bb < 0:
        return np.nan
    return price_of(si, sf, bb)


@njit(cache=True)
def best_ask_px(si: np.ndarray, sf: np.ndarray) -> float:
    """Best ask price of the replayed book, NaN when the ask side is empty."""
    ba = si[SI_BA]
    if ba >= si[SI_NT]:
        return np.nan
    return price_of(si, sf, ba)


@njit(cache=True)
def range_within(px: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """(min, max) of the prices inside ``[lo, hi]``; (inf, -inf) when none are."""
    mn = np.inf
    mx = -np.inf
    for i in range(px.shape[0]):
        p = px[i]
        if lo <= p <= hi:
            mn = min(mn, p)
            mx = max(mx, p)
    return mn, mx


@njit(cache=True, inline="always")
def _off_tick(x: float) -> bool:
    """A price in ticks that is not a whole number of them (or not finite)."""
    return not (abs(x - np.floor(x + 0.5)) <= 1e-6)


@njit(cache=True)
def first_off_tick(px: np.ndarray, inv_tick: float) -> int:
    """Index of the first price that is not a multiple of the tick (or not finite); -1."""
    for i in range(px.shape[0]):
        if _off_tick(px[i] * inv_tick):
            return i
    return -1


@njit(cache=True)
def check_prices(px: np.ndarray, inv_tick: float, lo: int, hi: int) -> tuple[int, int]:
    """One pass over a market event's prices: the index of the first that is not a
    multiple of the tick (or not finite; -1 when none, as :func:`first_off_tick`), and how
    many are not on a tick of ``lo .. hi``."""
    bad = -1
    n = 0
    for i in range(px.shape[0]):
        x = px[i] * inv_tick
        if bad < 0 and _off_tick(x):
            bad = i
        t = np.int64(x + 0.5)
        if not (lo <= t <= hi):
            n += 1
    return bad, n


@njit(cache=True)
def off_grid(px: np.ndarray, inv_tick: float, base: int, nt: int) -> tuple[int, int, int]:
    """Prices of ``px`` outside the grid of ticks ``base .. base + nt - 1``: how many, and
    the lowest and highest tick among those on a positive tick (``(0, 0, -1)`` when none;
    a price on no positive tick counts but has no tick to cover)."""
    n = 0
    lo = np.int64(0)
    hi = np.int64(-1)
    for i in range(px.shape[0]):
        t = np.int64(px[i] * inv_tick + 0.5)
        if base <= t < base + nt:
            continue
        n += 1
        if t >= 1:
            if hi < lo:
                lo = t
                hi = t
            else:
                lo = min(lo, t)
                hi = max(hi, t)
    return n, int(lo), int(hi)


@njit(cache=True)
def top_levels(
    grid: np.ndarray, si: np.ndarray, sf: np.ndarray, row: int, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``depth`` non-empty levels of ``row`` (0 bids descending, 1 asks ascending)."""
    px = np.empty(depth, dtype=np.float64)
    sz = np.empty(depth, dtype=np.float64)
    n = 0
    nt = si[SI_NT]
    if row == 0:
        c = si[SI_BB]
        while c >= 0 and n < depth:
            if grid[0, c] > 0.0:
                px[n] = price_of(si, sf, c)
                sz[n] = grid[0, c]
                n += 1
            c -= 1
    else:
        c = si[SI_BA]
        while c < nt and n < depth:
            if grid[1, c] > 0.0:
                px[n] = price_of(si, sf, c)
                sz[n] = grid[1, c]
                n += 1
            c += 1
    return px[:n], sz[:n]
