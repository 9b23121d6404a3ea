"""numba kernel: event-store records -> columnar market events for the matching engine.

Deltas become ``EV_DEPTH`` rows and trades ``EV_TRADE`` rows as they are. A book snapshot
(a run of rows ending with the END flag) is turned into the level changes that take the
book from its current state to the snapshot's, over the price range the snapshot covers,
so that the matching engine only ever sees diffs (and queue positions survive a snapshot).
BBO rows and gaps are skipped (the book's own levels are the reference).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mmkit.venues.sim._kernels_book import column_of, price_of, set_level
from mmkit.venues.sim._layout import EV_DEPTH, EV_TRADE, SI_BA, SI_BB

_SNAPSHOT = 1  # mmkit.data.schema.RecordKind
_DELTA = 2
_TRADE = 3
_FLAG_END = 1


@njit(cache=True)
def _emit(
    o_ts: np.ndarray,
    o_kind: np.ndarray,
    o_side: np.ndarray,
    o_px: np.ndarray,
    o_sz: np.ndarray,
    w: int,
    t: int,
    k: int,
    s: int,
    p: float,
    q: float,
) -> int:
    o_ts[w] = t
    o_kind[w] = k
    o_side[w] = s
    o_px[w] = p
    o_sz[w] = q
    return w + 1


@njit(cache=True)
def records_to_events(
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    flags: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    grid: np.ndarray,
    si: np.ndarray,
    sf: np.ndarray,
    i: int,
    o_ts: np.ndarray,
    o_kind: np.ndarray,
    o_side: np.ndarray,
    o_px: np.ndarray,
    o_sz: np.ndarray,
    w: int,
) -> tuple[int, int]:
    """Convert rows ``i..`` into the output columns from row ``w``.

    ``grid``/``si``/``sf`` hold the book as converted so far (same layout as the matching
    state), so the conversion can resume. Returns ``(next row, rows written)``; it stops
    early, before an event that might not fit, when the output is nearly full.
    """
    n = ts.shape[0]
    cap = o_ts.shape[0]
    nt = grid.shape[1]
    while i < n:
        k = kind[i]
        if k == _SNAPSHOT:
            e = i
            while e < n - 1 and (flags[e] & _FLAG_END) == 0:
                e += 1
            t = ts[e]
            for row in range(2):
                s = 1 - 2 * row
                lo = nt
                hi = -1
                for r in range(i, e + 1):
                    if side[r] == s and px[r] > 0.0:
                        c = column_of(si, sf, px[r])
                        if c >= 0:
                            lo = min(lo, c)
                            hi = max(hi, c)
                if row == 0:
                    top = max(si[SI_BB], hi)
                    bottom = lo if hi >= 0 else 0
                else:
                    top = min(si[SI_BA], lo) if hi >= 0 else si[SI_BA]
                    bottom = hi if hi >= 0 else nt - 1
                span = (
                    abs(top - bottom) + 1
                    if (row == 0 and top >= bottom) or (row == 1 and top <= bottom)
                    else 0
                )
                if w + span + 2 > cap:
                    return i, w
                if hi < 0:
                    lo = 0
                    hi = 0
                want = np.zeros(hi - lo + 1, dtype=np.float64)
                for r in range(i, e + 1):
                    if side[r] == s and px[r] > 0.0 and sz[r] > 0.0:
                        c = column_of(si, sf, px[r])
                        if c >= 0:
                            want[c - lo] += sz[r]
                step = -1 if row == 0 else 1
                c = top
                for _ in range(span):
                    new = want[c - lo] if lo <= c <= hi else 0.0
                    if grid[row, c] != new:
                        set_level(grid, si, row, c, new)
                        w = _emit(
                            o_ts,
                            o_kind,
                            o_side,
                            o_px,
                            o_sz,
                            w,
                            t,
                            EV_DEPTH,
                            s,
                            price_of(si, sf, c),
                            new,
                        )
                    c += step
            i = e + 1
            continue
        if w + 1 > cap:
            return i, w
        ok = (side[i] == 1 or side[i] == -1) and px[i] > 0.0 and sz[i] >= 0.0
        if k == _DELTA and ok:
            c = column_of(si, sf, px[i])
            if c >= 0:
                set_level(grid, si, 0 if side[i] == 1 else 1, c, sz[i])
                w = _emit(
                    o_ts, o_kind, o_side, o_px, o_sz, w, ts[i], EV_DEPTH, side[i], px[i], sz[i]
                )
        elif k == _TRADE and ok and sz[i] > 0.0:
            w = _emit(o_ts, o_kind, o_side, o_px, o_sz, w, ts[i], EV_TRADE, side[i], px[i], sz[i])
        i += 1
    return i, w
