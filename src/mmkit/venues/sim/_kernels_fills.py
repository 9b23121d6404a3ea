"""numba kernels: output records, fills and the account (position, cash, fees).

Every observable change is written as one record row (see ``REC_*`` in ``_layout``) stamped
with the exchange time it happened and the local time its news arrives (response channel).
"""

from __future__ import annotations

from numba import njit

from mmkit.venues.sim._jit import kernel_helper
from mmkit.venues.sim._kernels_book import best_ask_px, best_bid_px
from mmkit.venues.sim._kernels_latency import response_time
from mmkit.venues.sim._layout import (
    OF_AHEAD,
    OF_ORIG,
    OF_PX,
    OF_REM,
    OI_CID,
    OI_OID,
    OI_REQ,
    OI_SIDE,
    OI_SIZE,
    REC_FILL,
    REC_ORDER,
    RF_ASK,
    RF_BID,
    RF_FEE,
    RF_PX,
    RF_SIZE,
    RF_SZ,
    RF_SZ2,
    RI_CID,
    RI_CODE,
    RI_ETS,
    RI_LTS,
    RI_OID,
    RI_REQ,
    RI_SIDE,
    RI_SIZE,
    RI_SUB,
    RI_TYPE,
    SF_CASH,
    SF_EPS,
    SF_FEES,
    SF_MAKER_FEE,
    SF_POSITION,
    SF_TAKER_FEE,
    SF_VOLUME,
    SI_DIRTY,
    SI_NFILLS,
    SI_NORD,
    SI_NREC,
    ST_FILLED,
)
from mmkit.venues.sim.state import SimState


@kernel_helper
def new_record(st: SimState, typ: int, ets: int, req: int, oid: int, cid: int, side: int) -> int:
    """Append a record row (other columns zeroed); returns its index."""
    r = st.si[SI_NREC]
    st.si[SI_NREC] = r + 1
    ri = st.ri
    for c in range(RI_SIZE):
        ri[r, c] = 0
    for c in range(RF_SIZE):
        st.rf[r, c] = 0.0
    ri[r, RI_TYPE] = typ
    ri[r, RI_ETS] = ets
    ri[r, RI_LTS] = response_time(st.si, st.sf, st.rng, ets)
    ri[r, RI_REQ] = req
    ri[r, RI_OID] = oid
    ri[r, RI_CID] = cid
    ri[r, RI_SIDE] = side
    st.rf[r, RF_BID] = best_bid_px(st.si, st.sf)
    st.rf[r, RF_ASK] = best_ask_px(st.si, st.sf)
    return int(r)


@kernel_helper
def order_record(
    st: SimState,
    ets: int,
    req: int,
    oid: int,
    cid: int,
    side: int,
    status: int,
    px: float,
    rem: float,
    orig: float,
) -> None:
    r = new_record(st, REC_ORDER, ets, req, oid, cid, side)
    st.ri[r, RI_CODE] = status
    st.rf[r, RF_PX] = px
    st.rf[r, RF_SZ] = rem
    st.rf[r, RF_SZ2] = orig


@kernel_helper
def book_fill(
    st: SimState,
    ets: int,
    req: int,
    oid: int,
    cid: int,
    side: int,
    px: float,
    qty: float,
    rem_after: float,
    taker: bool,
) -> None:
    """Account a fill of ``qty`` at ``px`` and write its record."""
    sf = st.sf
    fee = (sf[SF_TAKER_FEE] if taker else sf[SF_MAKER_FEE]) * px * qty
    signed = float(side) * qty
    sf[SF_POSITION] += signed
    sf[SF_CASH] -= signed * px + fee
    sf[SF_FEES] += fee
    sf[SF_VOLUME] += px * qty
    n = st.si[SI_NFILLS] + 1
    st.si[SI_NFILLS] = n
    r = new_record(st, REC_FILL, ets, req, oid, cid, side)
    st.ri[r, RI_CODE] = n
    st.ri[r, RI_SUB] = 1 if taker else 0
    st.rf[r, RF_PX] = px
    st.rf[r, RF_SZ] = qty
    st.rf[r, RF_SZ2] = rem_after
    st.rf[r, RF_FEE] = fee


@kernel_helper
def fill_resting(st: SimState, k: int, qty: float, ets: int) -> None:
    """Fill ``qty`` of resting order row ``k`` at its own price (we were the maker)."""
    of = st.of
    oi = st.oi
    rem = of[k, OF_REM] - qty
    if rem <= st.sf[SF_EPS]:
        rem = 0.0
    of[k, OF_REM] = rem
    px = of[k, OF_PX]
    book_fill(
        st, ets, oi[k, OI_REQ], oi[k, OI_OID], oi[k, OI_CID], oi[k, OI_SIDE], px, qty, rem, False
    )
    if rem == 0.0:
        order_record(
            st,
            ets,
            oi[k, OI_REQ],
            oi[k, OI_OID],
            oi[k, OI_CID],
            oi[k, OI_SIDE],
            ST_FILLED,
            px,
            0.0,
            of[k, OF_ORIG],
        )
        st.si[SI_DIRTY] = 1
    else:
        of[k, OF_AHEAD] = 0.0


@njit(cache=True)
def remove_row(st: SimState, k: int) -> None:
    """Delete order row ``k`` keeping the others in time priority."""
    n = st.si[SI_NORD]
    oi = st.oi
    of = st.of
    for r in range(k, n - 1):
        for c in range(OI_SIZE):
            oi[r, c] = oi[r + 1, c]
        for c in range(of.shape[1]):
            of[r, c] = of[r + 1, c]
    st.si[SI_NORD] = n - 1


@kernel_helper
def compact(st: SimState) -> None:
    """Drop filled rows (remaining size zero), keeping time priority."""
    if st.si[SI_DIRTY] == 0:
        return
    st.si[SI_DIRTY] = 0
    n = st.si[SI_NORD]
    oi = st.oi
    of = st.of
    w = 0
    for r in range(n):
        if of[r, OF_REM] > 0.0:
            if w != r:
                for c in range(OI_SIZE):
                    oi[w, c] = oi[r, c]
                for c in range(of.shape[1]):
                    of[w, c] = of[r, c]
            w += 1
    st.si[SI_NORD] = w


@njit(cache=True)
def find_order(st: SimState, oid: int, cid: int) -> int:
    """Row of the resting order with ``oid`` (or, when ``oid < 0``, client id ``cid``); -1."""
    oi = st.oi
    for k in range(st.si[SI_NORD]):
        if oid >= 0:
            if oi[k, OI_OID] == oid:
                return k
        elif cid >= 0 and oi[k, OI_CID] == cid:
            return k
    return -1


__all__ = [
    "book_fill",
    "compact",
    "fill_resting",
    "find_order",
    "new_record",
    "order_record",
    "remove_row",
]
