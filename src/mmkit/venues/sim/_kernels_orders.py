"""numba kernels: our actions reaching the exchange (place, modify, cancel, cancel-all).

Actions wait in a FIFO ring until the exchange clock reaches their arrival time (entry
latency), then are applied in order. Rejections carry Hyperliquid's reasons (the wrapper
adds the venue's own strings). A modify is cancel-then-replace: the old order ends
canceled, the replacement gets a new oid and keeps the client id; as on Hyperliquid (no
``always_place``) the replacement is post-only, so a crossing price fails the new leg after
the old one is gone.
"""

from __future__ import annotations

import math

from numba import njit

from mmkit.venues.sim._jit import kernel_helper
from mmkit.venues.sim._kernels_book import best_ask_px, best_bid_px, column_of, set_level
from mmkit.venues.sim._kernels_fills import (
    book_fill,
    find_order,
    new_record,
    order_record,
    remove_row,
)
from mmkit.venues.sim._kernels_latency import entry_arrival
from mmkit.venues.sim._layout import (
    A_CANCEL,
    A_CANCEL_ALL,
    A_ECHO,
    A_MODIFY,
    A_PLACE,
    AF_PX,
    AF_SZ,
    AI_ARR,
    AI_CID,
    AI_KIND,
    AI_OID,
    AI_REQ,
    AI_RO,
    AI_SIDE,
    AI_TIF,
    OF_AHEAD,
    OF_ORIG,
    OF_PX,
    OF_REM,
    OF_TRADED,
    OI_CID,
    OI_MSEQ,
    OI_OID,
    OI_PXI,
    OI_REQ,
    OI_SIDE,
    OI_TIF,
    OI_TS,
    OUT_CANCELED,
    OUT_FILLED,
    OUT_REJECTED,
    OUT_RESTING,
    Q_FRONT,
    R_INVALID_PRICE,
    R_INVALID_SIZE,
    R_IOC_NO_MATCH,
    R_MIN_NOTIONAL,
    R_MODIFY_GONE,
    R_MODIFY_PLACE_FAILED,
    R_NONE,
    R_OPEN_ORDER_CAP,
    R_ORDER_GONE,
    R_POST_ONLY,
    R_PRICE_TOO_FAR,
    R_REDUCE_ONLY,
    REC_ECHO,
    REC_RESULT,
    RF_FEE,
    RF_PX,
    RF_SZ,
    RI_CODE,
    RI_REASON,
    RI_SUB,
    SF_EPS,
    SF_INV_TICK,
    SF_LOT,
    SF_MIN_NOTIONAL,
    SF_POSITION,
    SF_TICK,
    SI_ACOUNT,
    SI_AHEAD,
    SI_BA,
    SI_BB,
    SI_MIDX,
    SI_NEXT_OID,
    SI_NORD,
    SI_NOW,
    SI_NREC,
    SI_NT,
    SI_QMODEL,
    ST_CANCELED,
    ST_FILLED,
    ST_OPEN,
    TIF_ALO,
    TIF_IOC,
)
from mmkit.venues.sim.state import SimState


@kernel_helper
def result_record(
    st: SimState,
    ets: int,
    req: int,
    oid: int,
    cid: int,
    side: int,
    outcome: int,
    reason: int,
    sub: int,
    filled: float,
    avg_px: float,
) -> None:
    r = new_record(st, REC_RESULT, ets, req, oid, cid, side)
    st.ri[r, RI_CODE] = outcome
    st.ri[r, RI_REASON] = reason
    st.ri[r, RI_SUB] = sub
    st.rf[r, RF_SZ] = filled
    st.rf[r, RF_PX] = avg_px


@njit(cache=True)
def _off_step(x: float) -> bool:
    return abs(x - math.floor(x + 0.5)) > 1e-6


@njit(cache=True)
def check_order(st: SimState, side: int, px: float, sz: float, ro: bool) -> tuple[int, float]:
    """(reason, size after the reduce-only clip); reason R_NONE when the order is valid."""
    sf = st.sf
    if not (math.isfinite(px) and px > 0.0):
        return R_INVALID_PRICE, sz
    if not (math.isfinite(sz) and sz > 0.0) or (side != 1 and side != -1):
        return R_INVALID_SIZE, sz
    if _off_step(px * sf[SF_INV_TICK]):
        return R_INVALID_PRICE, sz
    if column_of(st.si, sf, px) < 0:
        return R_PRICE_TOO_FAR, sz
    lot = sf[SF_LOT]
    if lot > 0.0 and (_off_step(sz / lot) or sz < 0.5 * lot):
        return R_INVALID_SIZE, sz
    if ro:
        pos = sf[SF_POSITION]
        if pos * side >= 0.0:
            return R_REDUCE_ONLY, sz
        if sz > abs(pos):
            sz = abs(pos)
    elif sf[SF_MIN_NOTIONAL] > 0.0 and px * sz < sf[SF_MIN_NOTIONAL] * (1.0 - 1e-12):
        return R_MIN_NOTIONAL, sz
    return R_NONE, sz


@njit(cache=True)
def _take(st: SimState, side: int, j: int, px: float, qty: float) -> tuple[float, float]:
    """Consume the replayed book's opposite side up to column ``j``; (filled, notional)."""
    si = st.si
    grid = st.grid
    tick = st.sf[SF_TICK]
    eps = st.sf[SF_EPS]
    rem = qty
    notional = 0.0
    if side == 1:
        c = si[SI_BA]
        while rem > eps and c <= j and c < si[SI_NT]:
            lvl = grid[1, c]
            q = min(rem, lvl)
            notional += q * (px + (c - j) * tick)
            rem -= q
            set_level(grid, si, 1, c, lvl - q)
            c = si[SI_BA]
    else:
        c = si[SI_BB]
        while rem > eps and c >= j and c >= 0:
            lvl = grid[0, c]
            q = min(rem, lvl)
            notional += q * (px + (c - j) * tick)
            rem -= q
            set_level(grid, si, 0, c, lvl - q)
            c = si[SI_BB]
    return qty - rem, notional


@kernel_helper
def place(
    st: SimState,
    req: int,
    cid: int,
    side: int,
    px: float,
    sz: float,
    tif: int,
    ro: bool,
    modify: bool,
) -> int:
    """Apply a new order at the exchange clock; returns its oid, or -1 when rejected."""
    si = st.si
    ets = si[SI_NOW]
    reason, sz = check_order(st, side, px, sz, ro)
    j = column_of(si, st.sf, px) if reason == R_NONE else -1
    crosses = False
    if reason == R_NONE:
        crosses = (
            (si[SI_BA] < si[SI_NT] and j >= si[SI_BA])
            if side == 1
            else (si[SI_BB] >= 0 and j <= si[SI_BB])
        )
        if crosses and (tif == TIF_ALO or modify):
            reason = R_POST_ONLY
        elif tif == TIF_IOC and not crosses:
            reason = R_IOC_NO_MATCH
        elif tif != TIF_IOC and si[SI_NORD] >= st.oi.shape[0]:
            reason = R_OPEN_ORDER_CAP
    if reason != R_NONE:
        if modify:
            result_record(
                st,
                ets,
                req,
                -1,
                cid,
                side,
                OUT_REJECTED,
                R_MODIFY_PLACE_FAILED,
                reason,
                0.0,
                0.0,
            )
        else:
            result_record(
                st,
                ets,
                req,
                -1,
                cid,
                side,
                OUT_REJECTED,
                reason,
                R_NONE,
                0.0,
                0.0,
            )
        return -1
    oid = int(si[SI_NEXT_OID])
    si[SI_NEXT_OID] = oid + 1
    filled = 0.0
    avg = 0.0
    rem = sz
    if crosses:
        filled, notional = _take(st, side, j, px, sz)
        if filled > 0.0:
            avg = notional / filled
            avg = min(avg, px) if side == 1 else max(avg, px)  # rounding never worsens it
            rem = sz - filled
            if rem <= st.sf[SF_EPS]:
                rem = 0.0
            book_fill(st, ets, req, oid, cid, side, avg, filled, rem, True)
    if tif == TIF_IOC or rem == 0.0:
        if filled <= 0.0:
            result_record(
                st,
                ets,
                req,
                -1,
                cid,
                side,
                OUT_REJECTED,
                R_IOC_NO_MATCH,
                R_NONE,
                0.0,
                0.0,
            )
            return -1
        result_record(
            st,
            ets,
            req,
            oid,
            cid,
            side,
            OUT_FILLED,
            R_NONE,
            R_NONE,
            filled,
            avg,
        )
        order_record(
            st, ets, req, oid, cid, side, ST_FILLED if rem == 0.0 else ST_CANCELED, px, rem, sz
        )
        return oid
    k = si[SI_NORD]
    si[SI_NORD] = k + 1
    oi = st.oi
    of = st.of
    oi[k, OI_OID] = oid
    oi[k, OI_CID] = cid
    oi[k, OI_SIDE] = side
    oi[k, OI_PXI] = j
    oi[k, OI_TIF] = tif
    oi[k, OI_REQ] = req
    oi[k, OI_MSEQ] = si[SI_MIDX]
    oi[k, OI_TS] = ets
    of[k, OF_PX] = px
    of[k, OF_REM] = rem
    of[k, OF_ORIG] = sz
    # queue position: the level's whole size is ahead of us, except under the optimistic
    # "front" model (we stand first at our level)
    of[k, OF_AHEAD] = 0.0 if si[SI_QMODEL] == Q_FRONT else st.grid[0 if side == 1 else 1, j]
    of[k, OF_TRADED] = 0.0
    result_record(
        st,
        ets,
        req,
        oid,
        cid,
        side,
        OUT_RESTING,
        R_NONE,
        R_NONE,
        filled,
        avg if filled > 0.0 else 0.0,
    )
    order_record(st, ets, req, oid, cid, side, ST_OPEN, px, rem, sz)
    return oid


@njit(cache=True)
def _cancel_row(st: SimState, k: int, req: int) -> None:
    oi = st.oi
    of = st.of
    order_record(
        st,
        st.si[SI_NOW],
        req,
        oi[k, OI_OID],
        oi[k, OI_CID],
        oi[k, OI_SIDE],
        ST_CANCELED,
        of[k, OF_PX],
        of[k, OF_REM],
        of[k, OF_ORIG],
    )
    remove_row(st, k)


@njit(cache=True)
def cancel(st: SimState, req: int, oid: int, cid: int) -> None:
    k = find_order(st, oid, cid)
    ets = st.si[SI_NOW]
    if k < 0:
        result_record(
            st,
            ets,
            req,
            oid,
            cid,
            0,
            OUT_REJECTED,
            R_ORDER_GONE,
            R_NONE,
            0.0,
            0.0,
        )
        return
    side = st.oi[k, OI_SIDE]
    cid = st.oi[k, OI_CID]
    oid = st.oi[k, OI_OID]
    _cancel_row(st, k, req)
    result_record(
        st,
        ets,
        req,
        oid,
        cid,
        side,
        OUT_CANCELED,
        R_NONE,
        R_NONE,
        0.0,
        0.0,
    )


@njit(cache=True)
def modify(
    st: SimState, req: int, oid: int, cid: int, side: int, px: float, sz: float, tif: int, ro: bool
) -> int:
    """Cancel-then-replace; returns the new oid or -1."""
    k = find_order(st, oid, cid)
    if k < 0:
        result_record(
            st,
            st.si[SI_NOW],
            req,
            oid,
            cid,
            side,
            OUT_REJECTED,
            R_MODIFY_GONE,
            R_NONE,
            0.0,
            0.0,
        )
        return -1
    if cid < 0:
        cid = st.oi[k, OI_CID]
    _cancel_row(st, k, req)
    return place(st, req, cid, side, px, sz, tif, ro, True)


@njit(cache=True)
def cancel_all(st: SimState, req: int) -> None:
    while st.si[SI_NORD] > 0:
        _cancel_row(st, st.si[SI_NORD] - 1, req)
    result_record(
        st,
        st.si[SI_NOW],
        req,
        -1,
        -1,
        0,
        OUT_CANCELED,
        R_NONE,
        R_NONE,
        0.0,
        0.0,
    )


@njit(cache=True)
def echo(st: SimState, req: int) -> None:
    r = new_record(st, REC_ECHO, st.si[SI_NOW], req, -1, -1, 0)
    st.rf[r, RF_FEE] = st.sf[SF_POSITION]
    st.rf[r, RF_PX] = best_bid_px(st.si, st.sf)
    st.rf[r, RF_SZ] = best_ask_px(st.si, st.sf)


@njit(cache=True)
def enqueue(
    st: SimState,
    kind: int,
    local_ts: int,
    req: int,
    oid: int,
    cid: int,
    side: int,
    tif: int,
    ro: bool,
    px: float,
    sz: float,
) -> bool:
    """Send an action at local time ``local_ts``; False when the pending ring is full."""
    si = st.si
    cap = st.ai.shape[0]
    cnt = si[SI_ACOUNT]
    if cnt >= cap:
        return False
    r = (si[SI_AHEAD] + cnt) % cap
    ai = st.ai
    ai[r, AI_KIND] = kind
    ai[r, AI_ARR] = entry_arrival(si, st.sf, st.rng, local_ts)
    ai[r, AI_REQ] = req
    ai[r, AI_OID] = oid
    ai[r, AI_CID] = cid
    ai[r, AI_SIDE] = side
    ai[r, AI_TIF] = tif
    ai[r, AI_RO] = 1 if ro else 0
    st.af[r, AF_PX] = px
    st.af[r, AF_SZ] = sz
    si[SI_ACOUNT] = cnt + 1
    return True


@njit(cache=True)
def process_pending(st: SimState, t: int, margin: int) -> bool:
    """Apply every pending action that has arrived by ``t``.

    Returns False (and stops early) when fewer than ``margin`` record rows are left: the
    caller drains the records and calls again.
    """
    si = st.si
    ai = st.ai
    af = st.af
    cap = ai.shape[0]
    rcap = st.ri.shape[0]
    while si[SI_ACOUNT] > 0:
        h = si[SI_AHEAD]
        arr = ai[h, AI_ARR]
        if arr > t:
            return True
        if si[SI_NREC] + margin > rcap:
            return False
        if arr > si[SI_NOW]:
            si[SI_NOW] = arr
        kind = ai[h, AI_KIND]
        req = ai[h, AI_REQ]
        ro = ai[h, AI_RO] != 0
        if kind == A_PLACE:
            place(
                st,
                req,
                ai[h, AI_CID],
                ai[h, AI_SIDE],
                af[h, AF_PX],
                af[h, AF_SZ],
                ai[h, AI_TIF],
                ro,
                False,
            )
        elif kind == A_MODIFY:
            modify(
                st,
                req,
                ai[h, AI_OID],
                ai[h, AI_CID],
                ai[h, AI_SIDE],
                af[h, AF_PX],
                af[h, AF_SZ],
                ai[h, AI_TIF],
                ro,
            )
        elif kind == A_CANCEL:
            cancel(st, req, ai[h, AI_OID], ai[h, AI_CID])
        elif kind == A_CANCEL_ALL:
            cancel_all(st, req)
        elif kind == A_ECHO:
            echo(st, req)
        si[SI_AHEAD] = (h + 1) % cap
        si[SI_ACOUNT] -= 1
    return True
