"""numba kernels: events the venue makes happen to the account on its own.

The matching kernels only ever change our orders because of our actions or of market data.
A venue also acts by itself: it cancels an order (margin, reduce-only, scheduled cancels),
an order fills against flow the replayed data do not show, or the position changes through
a fill of an order we never placed (another session, a liquidation). These kernels apply
such events to the state arrays, with the same records as every other change, so the
wrapper turns them into the same typed events. The backtest and paper paths never call
them; the audit harness (:mod:`mmkit.audit.harness`) injects them as faults.
"""

from __future__ import annotations

from numba import njit

from mmkit.venues.sim._kernels_fills import (
    book_fill,
    compact,
    fill_resting,
    find_order,
    order_record,
    remove_row,
)
from mmkit.venues.sim._layout import (
    OF_ORIG,
    OF_PX,
    OF_REM,
    OI_CID,
    OI_OID,
    OI_REQ,
    OI_SIDE,
    SF_EPS,
    SI_NEXT_OID,
    SI_NOW,
)
from mmkit.venues.sim.state import SimState


@njit(cache=True)
def _clock(st: SimState, ets: int) -> int:
    """Move the exchange clock to ``ets`` (never back); the time the event is stamped."""
    if ets > st.si[SI_NOW]:
        st.si[SI_NOW] = ets
    return int(st.si[SI_NOW])


@njit(cache=True)
def venue_cancel(st: SimState, oid: int, cid: int, ets: int, status: int, req: int) -> bool:
    """End the resting order ``oid`` (or client id ``cid`` when ``oid < 0``) with ``status``
    (``ST_OTHER_CANCELED`` for the venue's own cancel, ``ST_CANCELED`` for a cancel leg);
    ``req`` is the request id its record carries (-1: the order's own). False when no such
    order rests."""
    k = find_order(st, oid, cid)
    if k < 0:
        return False
    t = _clock(st, ets)
    oi = st.oi
    of = st.of
    order_record(
        st,
        t,
        oi[k, OI_REQ] if req < 0 else req,
        oi[k, OI_OID],
        oi[k, OI_CID],
        oi[k, OI_SIDE],
        status,
        of[k, OF_PX],
        of[k, OF_REM],
        of[k, OF_ORIG],
    )
    remove_row(st, k)
    return True


@njit(cache=True)
def venue_fill(st: SimState, oid: int, cid: int, qty: float, ets: int) -> float:
    """Fill up to ``qty`` (contracts; <= 0 or above the remaining: all of it) of the resting
    order ``oid`` (or client id ``cid``) at its own price, as maker; returns the size filled
    (0 when no such order rests)."""
    k = find_order(st, oid, cid)
    if k < 0:
        return 0.0
    rem = st.of[k, OF_REM]
    q = rem if (qty <= 0.0 or qty > rem) else qty
    if q <= st.sf[SF_EPS]:
        return 0.0
    fill_resting(st, k, q, _clock(st, ets))
    compact(st)
    return q


@njit(cache=True)
def account_fill(st: SimState, side: int, px: float, qty: float, ets: int, taker: bool) -> int:
    """A fill of ``qty`` at ``px`` of an order we never placed (a fresh oid, no client id):
    the position, cash and fees move as for any fill. Returns the oid."""
    oid = int(st.si[SI_NEXT_OID])
    st.si[SI_NEXT_OID] = oid + 1
    book_fill(st, _clock(st, ets), -1, oid, -1, side, px, qty, 0.0, taker)
    return oid


__all__ = ["account_fill", "venue_cancel", "venue_fill"]
