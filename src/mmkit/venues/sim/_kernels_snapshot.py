"""numba kernel: replace one side of the book with a snapshot, as level changes.

A snapshot of ``m`` levels covers the prices from the best level down to its deepest one;
every column in that range is set to the snapshot's size (0 when absent) through
:func:`depth_update`, so queue positions and fills follow the same rules as diffs. Columns
beyond the deepest snapshot level are left alone (a 20-level snapshot says nothing there).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mmkit.venues.sim._kernels_book import column_of
from mmkit.venues.sim._kernels_market import depth_update
from mmkit.venues.sim._layout import SI_BA, SI_BB, SI_NOW, SI_NT
from mmkit.venues.sim.state import SimState


@njit(cache=True)
def apply_snapshot_side(st: SimState, row: int, px: np.ndarray, sz: np.ndarray, ets: int) -> None:
    """Replace ``row`` (0 bids descending, 1 asks ascending) with the levels ``px``/``sz``."""
    si = st.si
    if ets > si[SI_NOW]:
        si[SI_NOW] = ets
    nt = si[SI_NT]
    m = px.shape[0]
    cols = np.empty(m, dtype=np.int64)
    for q in range(m):
        cols[q] = column_of(si, st.sf, px[q])
    lo = nt
    hi = -1
    for q in range(m):
        c = cols[q]
        if c >= 0:
            lo = min(lo, c)
            hi = max(hi, c)
    if row == 0:
        top = max(si[SI_BB], hi)
        bottom = lo if hi >= 0 else 0  # an empty snapshot empties the side
    else:
        top = min(si[SI_BA], lo) if hi >= 0 else si[SI_BA]
        bottom = hi if hi >= 0 else nt - 1
    if hi < 0:
        lo = 0
        hi = 0
    want = np.zeros(hi - lo + 1, dtype=np.float64)
    for q in range(m):
        c = cols[q]
        if c >= 0 and sz[q] > 0.0:
            want[c - lo] += sz[q]
    grid = st.grid
    step = -1 if row == 0 else 1
    c = top
    while (row == 0 and c >= bottom) or (row == 1 and c <= bottom):
        new = want[c - lo] if lo <= c <= hi else 0.0
        if grid[row, c] != new:
            depth_update(st, row, c, new, ets)
        c += step
