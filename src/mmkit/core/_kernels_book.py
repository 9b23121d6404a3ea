"""numba kernel of :class:`~mmkit.core.market.MarketState`: one book side after a delta.

Imported lazily (on the first book delta), so importing :mod:`mmkit.core` stays free of
numba; feeds of full snapshots (Hyperliquid, the synthetic market) never load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def apply_side_delta(
    px: np.ndarray, sz: np.ndarray, upd_px: np.ndarray, upd_sz: np.ndarray, descending: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The side ``(px, sz)`` (sorted: descending for bids) after the updates: a size of 0 or
    a non-finite size removes the level, any other size sets it, the last update of a price
    wins; non-finite prices are ignored. One linear merge of the book with the sorted
    updates."""
    sgn = -1.0 if descending else 1.0
    m = upd_px.shape[0]
    ukey = np.empty(m)
    for j in range(m):
        ukey[j] = sgn * upd_px[j]
    order = np.argsort(ukey, kind="mergesort")  # stable: equal prices keep arrival order
    n = px.shape[0]
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
        # copied in one tight loop (deltas touch a few levels of a book thousands deep)
        lo = i
        hi = n
        while lo < hi:
            mid = (lo + hi) >> 1
            if sgn * px[mid] < uk:
                lo = mid + 1
            else:
                hi = mid
        for t in range(lo - i):
            out_px[k + t] = px[i + t]
            out_sz[k + t] = sz[i + t]
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
    # the levels beyond the last update, as they were: one tight copy loop (updates sit
    # near the top of a deep book, so this is most of the side)
    rest = n - i
    for t in range(rest):
        out_px[k + t] = px[i + t]
        out_sz[k + t] = sz[i + t]
    k += rest
    # views of the merge buffers (no second copy): the book owns them from here on
    return out_px[:k], out_sz[:k]
