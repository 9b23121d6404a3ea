"""numba kernel of :class:`~mmkit.core.market.MarketState`: one book side after a delta.

Imported lazily (on the first book delta), so importing :mod:`mmkit.core` stays free of
numba; feeds of full snapshots (Hyperliquid, the synthetic market) never load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _find(px: np.ndarray, sgn: float, key: float, lo: int) -> int:
    """The first index at or after ``lo`` whose level is not before ``key`` (bisection)."""
    hi = px.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if sgn * px[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def apply_side_delta(
    px: np.ndarray, sz: np.ndarray, upd_px: np.ndarray, upd_sz: np.ndarray, descending: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The side ``(px, sz)`` (sorted: descending for bids) after the updates: a size of 0 or
    a non-finite size removes the level, any other size sets it, the last update of a price
    wins; non-finite prices are ignored. One linear merge of the book with the sorted
    updates, into new arrays: the inputs are never written to (a book's arrays may be an
    event's)."""
    sgn = -1.0 if descending else 1.0
    m = upd_px.shape[0]
    n = px.shape[0]
    if m == 0:
        return px[:n], sz[:n]  # nothing changes: the same arrays
    ukey = np.empty(m)
    for j in range(m):
        ukey[j] = sgn * upd_px[j]
    order = np.argsort(ukey, kind="mergesort")  # stable: equal prices keep arrival order
    out_px = np.empty(n + m)
    out_sz = np.empty(n + m)
    i = 0
    j = 0
    k = 0
    while j < m:
        u = order[j]
        uk = ukey[u]
        if not np.isfinite(uk):
            j += 1
            continue
        # the last update of this price wins
        while j + 1 < m and ukey[order[j + 1]] == uk:
            j += 1
            u = order[j]
        # the book's levels before this price, kept as they are: found by bisection and
        # copied in one block (deltas touch a few levels of a book thousands deep)
        lo = _find(px, sgn, uk, i)
        out_px[k : k + lo - i] = px[i:lo]
        out_sz[k : k + lo - i] = sz[i:lo]
        k += lo - i
        i = lo
        if i < n and sgn * px[i] == uk:
            i += 1  # replaced (or removed) by the update
        s = upd_sz[u]
        if s > 0.0 and np.isfinite(s):
            out_px[k] = upd_px[u]
            out_sz[k] = s
            k += 1
        j += 1
    # the levels beyond the last update, as they were (updates sit near the top of a deep
    # book, so this block is most of the side)
    rest = n - i
    out_px[k : k + rest] = px[i:n]
    out_sz[k : k + rest] = sz[i:n]
    k += rest
    # views of the merge buffers (no second copy): the book owns them from here on
    return out_px[:k], out_sz[:k]


@njit(cache=True)
def apply_delta(
    bid_px: np.ndarray,
    bid_sz: np.ndarray,
    ask_px: np.ndarray,
    ask_sz: np.ndarray,
    ub_px: np.ndarray,
    ub_sz: np.ndarray,
    ua_px: np.ndarray,
    ua_sz: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both sides after a delta (:func:`apply_side_delta` on each), in one call."""
    bp, bs = apply_side_delta(bid_px, bid_sz, ub_px, ub_sz, True)
    ap, as_ = apply_side_delta(ask_px, ask_sz, ua_px, ua_sz, False)
    return bp, bs, ap, as_
