"""numba kernels: run a columnar market through the matching engine.

Market arrays (one row per event, sorted by exchange time): ``ts`` int64 ns, ``kind``
(``EV_*``), ``side`` (+1 bid / buy aggressor, -1 ask / sell aggressor), ``px``, ``sz``,
``ref`` (L3: index of the referenced order's add event, -1 when unknown/before the data).

:func:`advance` is the step a backtest kernel calls: apply events up to a time, with our
pending actions interleaved at their arrival times. :func:`replay_actions` drives it with a
pre-computed action schedule. Both stop early, returning ``done=False``, when the record
buffer is nearly full; the caller drains the records (rows ``0 .. si[SI_NREC]``), resets
``si[SI_NREC]`` to 0 and calls again with the returned indices.

L3 ``ref`` values are indices into the market arrays, and an order remembers the index at
which it reached the book: drive one exchange with one set of market arrays throughout.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mmkit.venues.sim._kernels_book import column_of, set_level
from mmkit.venues.sim._kernels_market import apply_event
from mmkit.venues.sim._kernels_orders import enqueue, process_pending
from mmkit.venues.sim._layout import (
    EV_DEPTH,
    EV_TRADE,
    OI_PXI,
    OI_SIDE,
    SI_ACOUNT,
    SI_MIDX,
    SI_NORD,
    SI_NOW,
    SI_NREC,
)
from mmkit.venues.sim.state import SimState


@njit(cache=True)
def record_margin(st: SimState) -> int:
    """Record rows one step (one event or one action) may need at most."""
    return int(2 * st.oi.shape[0] + 16)


@njit(cache=True)
def touches_orders(oi: np.ndarray, n: int, kind: int, side: int, j: int, sz: float) -> bool:
    """Whether a market event at column ``j`` may concern one of our ``n`` resting orders.

    A cheap filter over the order rows so that the common event (far from our quotes) only
    updates the book; the matching functions make the actual decisions.
    """
    for r in range(n):
        p = oi[r, OI_PXI]
        s = oi[r, OI_SIDE]
        if kind == EV_DEPTH:
            if s == side and p == j:
                return True
            if sz > 0.0 and s == -side and ((s == 1 and p >= j) or (s == -1 and p <= j)):
                return True
        elif kind == EV_TRADE:
            if s == -side and ((s == 1 and p >= j) or (s == -1 and p <= j)):
                return True
        else:
            return True
    return False


@njit(cache=True)
def advance(
    st: SimState,
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    ref: np.ndarray,
    i: int,
    t_end: int,
) -> tuple[int, bool]:
    """Apply market events ``i..`` stamped ``<= t_end`` and the actions arriving meanwhile.

    Returns ``(next event index, done)``; ``done`` is False when the record buffer needs
    draining before calling again.
    """
    n = ts.shape[0]
    grid = st.grid
    si = st.si
    sf = st.sf
    oi = st.oi
    margin = record_margin(st)
    rcap = st.ri.shape[0]
    while i < n:
        t = ts[i]
        if t > t_end:
            break
        si[SI_MIDX] = i
        if si[SI_ACOUNT] > 0 and not process_pending(st, t, margin):
            return i, False
        if si[SI_NREC] + margin > rcap:
            return i, False
        if t > si[SI_NOW]:
            si[SI_NOW] = t
        k = kind[i]
        q = sz[i]
        j = column_of(si, sf, px[i])
        if j >= 0 and q >= 0.0:
            if si[SI_NORD] == 0 or not touches_orders(oi, si[SI_NORD], k, side[i], j, q):
                if k == EV_DEPTH:
                    set_level(grid, si, 0 if side[i] > 0 else 1, j, q)
                elif k != EV_TRADE:
                    apply_event(st, k, side[i], px[i], q, ref[i], t)
            else:
                apply_event(st, k, side[i], px[i], q, ref[i], t)
        i += 1
    si[SI_MIDX] = i
    if si[SI_ACOUNT] > 0 and not process_pending(st, t_end, margin):
        return i, False
    return i, True


@njit(cache=True)
def replay_actions(
    st: SimState,
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    ref: np.ndarray,
    a_ts: np.ndarray,
    a_kind: np.ndarray,
    a_req: np.ndarray,
    a_oid: np.ndarray,
    a_cid: np.ndarray,
    a_side: np.ndarray,
    a_tif: np.ndarray,
    a_ro: np.ndarray,
    a_px: np.ndarray,
    a_sz: np.ndarray,
    i: int,
    j: int,
) -> tuple[int, int, bool]:
    """Replay the market with actions sent at local times ``a_ts`` (sorted).

    An action sent at ``a_ts[j]`` is sent after every market event stamped at or before
    that time. Returns ``(event index, action index, done)``.
    """
    m = a_ts.shape[0]
    big = np.iinfo(np.int64).max
    while True:
        t_next = a_ts[j] if j < m else big
        i, ok = advance(st, ts, kind, side, px, sz, ref, i, t_next)
        if not ok:
            return i, j, False
        if j >= m:
            return i, j, True
        if not enqueue(
            st,
            a_kind[j],
            a_ts[j],
            a_req[j],
            a_oid[j],
            a_cid[j],
            a_side[j],
            a_tif[j],
            a_ro[j] != 0,
            a_px[j],
            a_sz[j],
        ):
            raise ValueError("sim venue: too many actions in flight (pending ring full)")
        j += 1
