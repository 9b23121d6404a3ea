"""numba kernel: one pass over the columnar market collecting what calibration fits.

The book is rebuilt from ``EV_DEPTH`` level changes with the simulated exchange's book
kernels; at each market trade the relative depth ``|px - mid| / mid`` from the mid just
before it is recorded; every ``mid_every_ns`` the mid is sampled (sigma) and every
``book_every_ns`` the book-structure regression of :mod:`mmkit.estimators` is run.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.estimators._kernels_kappa import book_depth_regression
from mmkit.venues.sim._kernels_book import (
    best_ask_px,
    best_bid_px,
    column_of,
    set_level,
    top_levels,
)
from mmkit.venues.sim._layout import EV_DEPTH, EV_TRADE

# scan state (int64 array)
ST_NEXT_MID = 0
ST_NEXT_BOOK = 1
ST_STARTED = 2
ST_BOOK_TRIES = 3  # book regressions attempted (a valid mid), fitted or not
ST_SIZE = 4

_MAX_GAP_SAMPLES = 600  # a longer silence than this many samples restarts the mid sampling


@njit(cache=True)
def _mid(si: np.ndarray, sf: np.ndarray) -> float:
    bb = best_bid_px(si, sf)
    ba = best_ask_px(si, sf)
    if bb == bb and ba == ba and bb < ba:
        return 0.5 * (bb + ba)
    return math.nan


@njit(cache=True)
def scan_chunk(
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    grid: np.ndarray,
    si: np.ndarray,
    sf: np.ndarray,
    st: np.ndarray,
    mid_every_ns: int,
    book_every_ns: int,
    book_levels: int,
    book_max_depth: float,
    book_min_levels: int,
    tr_ts: np.ndarray,
    tr_depth: np.ndarray,
    tr_side: np.ndarray,
    tr_mid: np.ndarray,
    mid_ts: np.ndarray,
    mid_px: np.ndarray,
    bk_ts: np.ndarray,
    bk_kappa: np.ndarray,
    bk_r2: np.ndarray,
) -> tuple[int, int, int]:
    """Scan one chunk; returns the numbers of trades, mid samples and book fits written.

    Output arrays must hold every trade of the chunk and ``span / every + 2`` samples.
    A NaN mid sample marks a restart (empty or crossed book, or a long silence).
    """
    nt = 0
    nm = 0
    nb = 0
    cap_m = mid_ts.shape[0]
    cap_b = bk_ts.shape[0]
    for i in range(ts.shape[0]):
        t = ts[i]
        if st[ST_STARTED] == 0:
            st[ST_NEXT_MID] = (t // mid_every_ns + 1) * mid_every_ns
            st[ST_NEXT_BOOK] = (t // book_every_ns + 1) * book_every_ns
            st[ST_STARTED] = 1
        if st[ST_NEXT_MID] < t:
            if t - st[ST_NEXT_MID] > _MAX_GAP_SAMPLES * mid_every_ns:
                if nm < cap_m:
                    mid_ts[nm] = st[ST_NEXT_MID]
                    mid_px[nm] = math.nan
                    nm += 1
                st[ST_NEXT_MID] = (t // mid_every_ns) * mid_every_ns
            m = _mid(si, sf)
            while st[ST_NEXT_MID] < t and nm < cap_m:
                mid_ts[nm] = st[ST_NEXT_MID]
                mid_px[nm] = m
                nm += 1
                st[ST_NEXT_MID] += mid_every_ns
        if st[ST_NEXT_BOOK] < t:
            m = _mid(si, sf)
            if m == m and nb < cap_b:
                st[ST_BOOK_TRIES] += 1
                bp, bs = top_levels(grid, si, sf, 0, book_levels)
                ap, as_ = top_levels(grid, si, sf, 1, book_levels)
                k, r2 = book_depth_regression(bp, bs, ap, as_, m, book_max_depth, book_min_levels)
                if k == k and k > 0.0:
                    bk_ts[nb] = st[ST_NEXT_BOOK]
                    bk_kappa[nb] = k
                    bk_r2[nb] = r2
                    nb += 1
            st[ST_NEXT_BOOK] = (t // book_every_ns + 1) * book_every_ns
        k = kind[i]
        if k == EV_DEPTH:
            c = column_of(si, sf, px[i])
            if c >= 0:
                set_level(grid, si, 0 if side[i] == 1 else 1, c, sz[i])
        elif k == EV_TRADE:
            m = _mid(si, sf)
            p = px[i]
            if m == m and p > 0.0:
                tr_ts[nt] = t
                tr_depth[nt] = abs(p - m) / m
                tr_side[nt] = side[i]
                tr_mid[nt] = m
                nt += 1
    return nt, nm, nb
