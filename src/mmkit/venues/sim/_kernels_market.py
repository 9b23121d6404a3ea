"""numba kernels: how replayed market events move the book and fill our resting orders.

* **L2 depth** (a level's new size): the book changes; a *decrease* at a level where we
  rest is first explained by trades already seen there, and the rest is cancellations,
  of which the queue model puts a share ahead of us::

      share_ahead = f(front) / (f(front) + f(back))

  with ``front`` the size ahead of us and ``back`` the size behind, ``f(x) = x**n``
  (power model; ``n = 1`` is a uniform cancel position) or ``f(x) = log(1 + x)`` (log
  model); the risk-averse model never advances us on cancels. A size increase joins
  behind us. An opposite level appearing at or through our price fills us at our price
  (the book moved through us).
* **Trades**: an aggressor trading *through* our price fills us first (best price first,
  then time); a trade *at* our price first consumes the size ahead of us, then our order,
  then the market size between our orders at that level.
* **L3** (order-level) events keep an exact FIFO queue: a cancel or execution of a market
  order reduces the size ahead of us only if that order joined the level before ours
  (its add-event index is below the index at which our order arrived).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.venues.sim._jit import kernel_helper
from mmkit.venues.sim._kernels_book import column_of, set_level
from mmkit.venues.sim._kernels_fills import compact, fill_resting
from mmkit.venues.sim._layout import (
    EV_DEPTH,
    EV_L3_ADD,
    EV_L3_CANCEL,
    EV_L3_EXEC,
    EV_TRADE,
    OF_AHEAD,
    OF_REM,
    OF_TRADED,
    OI_MSEQ,
    OI_PXI,
    OI_SIDE,
    Q_LOG,
    Q_POWER,
    SF_EPS,
    SF_QPOWER,
    SI_NORD,
    SI_QMODEL,
)
from mmkit.venues.sim.state import SimState


@njit(cache=True)
def share_ahead(model: int, power: float, front: float, back: float) -> float:
    """Fraction of a cancellation assumed to come from ahead of our order."""
    if front <= 0.0:
        return 0.0
    if back <= 0.0:
        return 1.0
    if model == Q_POWER:
        f = front**power
        b = back**power
    elif model == Q_LOG:
        f = math.log1p(front)
        b = math.log1p(back)
    else:
        return 0.0
    tot = f + b
    if not (tot > 0.0) or not math.isfinite(tot):
        return front / (front + back)
    return float(f / tot)


@njit(cache=True)
def fill_crossed(st: SimState, row: int, j: int, ets: int) -> None:
    """A level appeared at column ``j`` on ``row``: fill our opposite orders it crosses."""
    oi = st.oi
    n = st.si[SI_NORD]
    for k in range(n):
        side = oi[k, OI_SIDE]
        rem = st.of[k, OF_REM]
        if rem <= 0.0:
            continue
        if (row == 1 and side == 1 and oi[k, OI_PXI] >= j) or (
            row == 0 and side == -1 and oi[k, OI_PXI] <= j
        ):
            fill_resting(st, k, rem, ets)


@kernel_helper
def depth_update(st: SimState, row: int, j: int, new_sz: float, ets: int) -> None:
    """L2: the level at column ``j`` on ``row`` (0 bids, 1 asks) now holds ``new_sz``."""
    old = set_level(st.grid, st.si, row, j, new_sz)
    n = st.si[SI_NORD]
    if n == 0:
        return
    new = st.grid[row, j]
    side = 1 - 2 * row
    oi = st.oi
    of = st.of
    model = st.si[SI_QMODEL]
    for k in range(n):
        if oi[k, OI_PXI] != j or oi[k, OI_SIDE] != side:
            continue
        if new < old:
            traded = of[k, OF_TRADED]
            cancelled = (old - new) - traded
            front = of[k, OF_AHEAD]
            if cancelled > 0.0 and front > 0.0:
                back = old - traded - front
                if back < 0.0:
                    back = 0.0
                front -= share_ahead(model, st.sf[SF_QPOWER], front, back) * cancelled
                if front < 0.0:
                    front = 0.0
            if front > new:
                front = new
            of[k, OF_AHEAD] = front
        of[k, OF_TRADED] = 0.0
    if new > 0.0:
        fill_crossed(st, row, j, ets)
        compact(st)


@kernel_helper
def trade(
    st: SimState, aggr: int | np.int64, j: int, qty: float, ref: int, l3: bool, ets: int
) -> None:
    """A market trade of ``qty`` at column ``j``; ``aggr`` is the aggressor side.

    ``l3`` marks an execution of a known market order whose add event has index ``ref``
    (-1: it predates the data), for the exact FIFO rule.
    """
    n = st.si[SI_NORD]
    if n == 0:
        return
    oi = st.oi
    of = st.of
    eps = st.sf[SF_EPS]
    passive = -aggr
    left = qty
    # through our price: best price first, then time priority
    while left > eps:
        best = -1
        for k in range(n):
            if oi[k, OI_SIDE] != passive or of[k, OF_REM] <= 0.0:
                continue
            p = oi[k, OI_PXI]
            if (passive == 1 and p > j) or (passive == -1 and p < j):
                if best < 0:
                    best = k
                else:
                    bp = oi[best, OI_PXI]
                    if (passive == 1 and p > bp) or (passive == -1 and p < bp):
                        best = k
        if best < 0:
            break
        f = min(of[best, OF_REM], left)
        fill_resting(st, best, f, ets)
        left -= f
    # at our price: the size ahead of us trades first
    for k in range(n):
        if oi[k, OI_SIDE] != passive or oi[k, OI_PXI] != j or of[k, OF_REM] <= 0.0:
            continue
        ahead = of[k, OF_AHEAD]
        if l3:
            if ref < oi[k, OI_MSEQ]:
                of[k, OF_AHEAD] = max(ahead - qty, 0.0)
                continue
            ahead = 0.0
        else:
            of[k, OF_TRADED] += qty
        f = min(of[k, OF_REM], max(left - ahead, 0.0))
        of[k, OF_AHEAD] = max(ahead - left, 0.0)
        if f > eps:
            fill_resting(st, k, f, ets)
            left -= f
    compact(st)


@kernel_helper
def l3_change(st: SimState, row: int, j: int, qty: float, ref: int, advance: bool) -> None:
    """L3: ``qty`` of a market order (add index ``ref``) left the level at column ``j``.

    ``advance``: move our queue position when that order was ahead of ours (a cancel; an
    execution has already done so in :func:`trade`).
    """
    old = st.grid[row, j]
    set_level(st.grid, st.si, row, j, old - qty)
    new = st.grid[row, j]
    side = 1 - 2 * row
    oi = st.oi
    of = st.of
    for k in range(st.si[SI_NORD]):
        if oi[k, OI_PXI] != j or oi[k, OI_SIDE] != side:
            continue
        ahead = of[k, OF_AHEAD]
        if advance and ref < oi[k, OI_MSEQ]:
            ahead = max(ahead - qty, 0.0)
        of[k, OF_AHEAD] = min(ahead, new)


@kernel_helper
def apply_event(
    st: SimState, kind: int, side: int, px: float, sz: float, ref: int, ets: int
) -> None:
    """Apply one columnar market event (``EV_*``) at exchange time ``ets``."""
    j = column_of(st.si, st.sf, px)
    if j < 0 or not (sz >= 0.0):
        return
    row = 0 if side > 0 else 1
    if kind == EV_DEPTH:
        depth_update(st, row, j, sz, ets)
    elif kind == EV_TRADE:
        trade(st, np.int64(side), j, sz, -1, False, ets)  # int64: one compiled trade()
    elif kind == EV_L3_ADD:
        old = st.grid[row, j]
        set_level(st.grid, st.si, row, j, old + sz)
        if sz > 0.0 and st.si[SI_NORD] > 0:
            fill_crossed(st, row, j, ets)
    elif kind == EV_L3_CANCEL:
        l3_change(st, row, j, sz, ref, True)
    elif kind == EV_L3_EXEC:
        trade(st, np.int64(-side), j, sz, ref, True, ets)
        l3_change(st, row, j, sz, ref, False)
    compact(st)
