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


# -- the depth grid: a book thousands of levels deep, updated in place ----------------------
#
# The levels near the touch sit in a row of slots per side, one per price step: slot ``i``
# holds the level whose price rounds to ``origin + i * tick`` (its exact price in ``gpx``,
# NaN when the slot is empty, its size in ``gsz``). A delta sets or clears one slot per
# update there, so its cost does not grow with the depth of the book. The levels beyond the
# slots (bids below them, asks above: a deep book's far orders, thousands of steps away) are
# kept sorted in ``fpx`` / ``fsz`` (bids descending, asks ascending, ``meta[M_FAR + side]``
# of them) and updated in place too: there are a few hundred. ``meta`` also holds per side
# (0 bids, 1 asks) the best slot (-1 when the side has no slotted level) and the number of
# slotted levels; ``fmeta`` the grid's origin and 1 / price step.
# See :mod:`mmkit.core.depth_grid`.

GRID_OK = 0
GRID_CONFLICT = 1  # two different prices in one slot: the grid cannot hold this book
GRID_OUTSIDE = 2  # a bid above the slots or an ask below them
GRID_FULL = 3  # the far levels need more room (the caller grows it and tries again)

M_BEST = 0  # meta[M_BEST + side]
M_COUNT = 2  # meta[M_COUNT + side]
M_FAR = 4  # meta[M_FAR + side]

_IN = 0
_FAR = 1  # beyond the slots on the side's far end (bids below, asks above)
_OUT = 2  # beyond the slots on the side's near end


@njit(cache=True)
def _place(p: float, origin: float, inv_tick: float, width: int, side: int) -> tuple[int, int]:
    """(where, slot) of price ``p`` (finite) on ``side``: _IN with its slot, _FAR or _OUT."""
    x = (p - origin) * inv_tick
    if x <= -0.5:
        return (_FAR if side == 0 else _OUT), -1
    if x >= width - 0.5:
        return (_OUT if side == 0 else _FAR), -1
    return _IN, int(np.floor(x + 0.5))


@njit(cache=True)
def grid_fill(
    gpx: np.ndarray,
    gsz: np.ndarray,
    meta: np.ndarray,
    fmeta: np.ndarray,
    side: int,
    px: np.ndarray,
    sz: np.ndarray,
) -> tuple[int, int]:
    """Put the slotted levels of a sorted side (strictly, with finite prices: checked by
    the caller) into the empty row ``side``: (GRID_OK, index of its first far level, or its
    length), or GRID_CONFLICT when two of its levels share a slot, GRID_OUTSIDE when one
    lies beyond the slots on the near end. The caller puts the far levels in place."""
    origin = fmeta[0]
    inv_tick = fmeta[1]
    width = gpx.shape[1]
    n = px.shape[0]
    count = 0
    best = -1
    k = 0
    while k < n:
        where, i = _place(px[k], origin, inv_tick, width, side)
        if where == _FAR:
            break  # sorted: every later level is far too
        if where == _OUT:
            return GRID_OUTSIDE, k
        if gpx[side, i] == gpx[side, i]:
            return GRID_CONFLICT, k
        gpx[side, i] = px[k]
        gsz[side, i] = sz[k]
        if count == 0:
            best = i
        count += 1
        k += 1
    meta[M_COUNT + side] = count
    meta[M_BEST + side] = best
    return GRID_OK, k


@njit(cache=True)
def _grid_side(
    gpx: np.ndarray,
    gsz: np.ndarray,
    meta: np.ndarray,
    side: int,
    upd_px: np.ndarray,
    upd_sz: np.ndarray,
    origin: float,
    inv_tick: float,
    undo_i: np.ndarray,
    undo_px: np.ndarray,
    undo_sz: np.ndarray,
    n_undo: int,
    far: np.ndarray,
) -> tuple[int, int, int]:
    """One side's slotted updates in arrival order (the last update of a price wins): a
    size of 0 or not finite removes the level of exactly that price, if there is one; any
    other size sets it; non-finite prices are ignored. Every slot written is logged first,
    so that the caller can undo the delta; updates beyond the far end are listed in ``far``.
    Returns (status, entries logged, far updates)."""
    width = gpx.shape[1]
    count = meta[M_COUNT + side]
    best = meta[M_BEST + side]
    n_far = 0
    for k in range(upd_px.shape[0]):
        p = upd_px[k]
        if not np.isfinite(p):
            continue
        where, i = _place(p, origin, inv_tick, width, side)
        s = upd_sz[k]
        remove = not (s > 0.0 and np.isfinite(s))
        if where == _FAR:
            far[n_far] = k
            n_far += 1
            continue
        if where == _OUT:
            if remove:
                continue  # the book has no level there: nothing to remove
            return GRID_OUTSIDE, n_undo, n_far
        held = gpx[side, i]
        if remove:
            if held != p:  # an empty slot (NaN) or another price: nothing to remove
                continue
        elif held == held and held != p:
            return GRID_CONFLICT, n_undo, n_far
        undo_i[n_undo] = i
        undo_px[n_undo] = held
        undo_sz[n_undo] = gsz[side, i]
        n_undo += 1
        if remove:
            gpx[side, i] = np.nan
            count -= 1
        else:
            if held != held:
                count += 1
                # bids: the highest slot is the best; asks: the lowest
                if best < 0 or (i > best if side == 0 else i < best):
                    best = i
            gpx[side, i] = p
            gsz[side, i] = s
    if count == 0:
        best = -1
    elif gpx[side, best] != gpx[side, best]:  # the best level went: the next one inward
        step = -1 if side == 0 else 1
        while gpx[side, best] != gpx[side, best]:
            best += step
    meta[M_COUNT + side] = count
    meta[M_BEST + side] = best
    return GRID_OK, n_undo, n_far


@njit(cache=True)
def _far_update(
    fpx: np.ndarray, fsz: np.ndarray, meta: np.ndarray, side: int, p: float, s: float
) -> None:
    """One update of a far level (same rule as the slots), kept sorted in place."""
    n = meta[M_FAR + side]
    sgn = -1.0 if side == 0 else 1.0
    lo = _find(fpx[side, :n], sgn, sgn * p, 0)
    found = lo < n and fpx[side, lo] == p
    if not (s > 0.0 and np.isfinite(s)):
        if found:
            for j in range(lo, n - 1):
                fpx[side, j] = fpx[side, j + 1]
                fsz[side, j] = fsz[side, j + 1]
            meta[M_FAR + side] = n - 1
        return
    if not found:
        for j in range(n, lo, -1):
            fpx[side, j] = fpx[side, j - 1]
            fsz[side, j] = fsz[side, j - 1]
        fpx[side, lo] = p
        meta[M_FAR + side] = n + 1
    fsz[side, lo] = s


@njit(cache=True)
def grid_delta(
    gpx: np.ndarray,
    gsz: np.ndarray,
    meta: np.ndarray,
    fmeta: np.ndarray,
    fpx: np.ndarray,
    fsz: np.ndarray,
    ub_px: np.ndarray,
    ub_sz: np.ndarray,
    ua_px: np.ndarray,
    ua_sz: np.ndarray,
) -> int:
    """Both sides of a delta, in place: GRID_OK, or GRID_CONFLICT / GRID_OUTSIDE /
    GRID_FULL with nothing changed (the slots written so far are restored; the far levels
    are only written once every slotted update went in)."""
    origin = fmeta[0]
    inv_tick = fmeta[1]
    mb = ub_px.shape[0]
    m = mb + ua_px.shape[0]
    undo_i = np.empty(m, np.int64)
    undo_px = np.empty(m)
    undo_sz = np.empty(m)
    far_b = np.empty(mb, np.int64)
    far_a = np.empty(m - mb, np.int64)
    saved = meta.copy()
    st, nb, nfb = _grid_side(
        gpx, gsz, meta, 0, ub_px, ub_sz, origin, inv_tick, undo_i, undo_px, undo_sz, 0, far_b
    )
    na = nb
    nfa = 0
    if st == GRID_OK:
        st, na, nfa = _grid_side(
            gpx, gsz, meta, 1, ua_px, ua_sz, origin, inv_tick, undo_i, undo_px, undo_sz, nb, far_a
        )
    cap = fpx.shape[1]
    if st == GRID_OK and (meta[M_FAR] + nfb > cap or meta[M_FAR + 1] + nfa > cap):
        st = GRID_FULL
    if st != GRID_OK:
        for k in range(na - 1, -1, -1):
            side = 0 if k < nb else 1
            gpx[side, undo_i[k]] = undo_px[k]
            gsz[side, undo_i[k]] = undo_sz[k]
        meta[:] = saved
        return st
    for j in range(nfb):
        _far_update(fpx, fsz, meta, 0, ub_px[far_b[j]], ub_sz[far_b[j]])
    for j in range(nfa):
        _far_update(fpx, fsz, meta, 1, ua_px[far_a[j]], ua_sz[far_a[j]])
    return GRID_OK


@njit(cache=True)
def grid_side_levels(
    gpx: np.ndarray, gsz: np.ndarray, meta: np.ndarray, fpx: np.ndarray, fsz: np.ndarray, side: int
) -> tuple[np.ndarray, np.ndarray]:
    """The side's levels as new sorted arrays (bids descending, asks ascending): its slots
    from the best outward, then its far levels."""
    n = meta[M_COUNT + side]
    nf = meta[M_FAR + side]
    px = np.empty(n + nf)
    sz = np.empty(n + nf)
    i = meta[M_BEST + side]
    step = -1 if side == 0 else 1
    k = 0
    while k < n:
        if gpx[side, i] == gpx[side, i]:
            px[k] = gpx[side, i]
            sz[k] = gsz[side, i]
            k += 1
        i += step
    px[n:] = fpx[side, :nf]
    sz[n:] = fsz[side, :nf]
    return px, sz
