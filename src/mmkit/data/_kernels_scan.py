"""numba kernel that walks store records: rebuilds the book and counts what ``data info``
reports (crossed books, local-time regressions, gaps), chunk by chunk."""

from __future__ import annotations

import numpy as np
from numba import njit

K_SNAPSHOT = 1
K_DELTA = 2
K_GAP = 10
FLAG_END = 1

# state vector
ST_BEST_BID = 0
ST_BEST_ASK = 1
ST_DIRTY = 2  # best prices must be recomputed at the event's end
ST_IN_EVENT = 3  # inside a multi-row book event
ST_CROSSED = 4
ST_REGRESSIONS = 5
ST_LAST_LOCAL = 6
ST_GAPS = 7
ST_BOOKS = 8
STATE_LEN = 9


@njit(cache=True)
def _best(levels: dict[float, float], bid: bool) -> float:
    best = -np.inf if bid else np.inf
    for p in levels:
        if (p > best) if bid else (p < best):
            best = p
    return best


@njit(cache=True)
def scan_chunk(
    kind: np.ndarray,
    side: np.ndarray,
    flags: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    local_ts: np.ndarray,
    bids: dict[float, float],
    asks: dict[float, float],
    state: np.ndarray,
) -> None:
    """Advance the scan over one chunk (state, ``bids`` and ``asks`` carry over)."""
    for i in range(kind.shape[0]):
        k = kind[i]
        end = (flags[i] & FLAG_END) != 0
        if end:
            lt = float(local_ts[i])
            if lt < state[ST_LAST_LOCAL]:
                state[ST_REGRESSIONS] += 1
            else:
                state[ST_LAST_LOCAL] = lt
        if k == K_SNAPSHOT or k == K_DELTA:  # noqa: SIM109 (numba: plain comparisons)
            if k == K_SNAPSHOT and state[ST_IN_EVENT] == 0:
                bids.clear()
                asks.clear()
                state[ST_DIRTY] = 1
            state[ST_IN_EVENT] = 1
            s = side[i]
            if s != 0:
                book = bids if s > 0 else asks
                p = px[i]
                if sz[i] > 0:
                    book[p] = sz[i]
                    if s > 0 and p > state[ST_BEST_BID]:
                        state[ST_BEST_BID] = p
                    elif s < 0 and p < state[ST_BEST_ASK]:
                        state[ST_BEST_ASK] = p
                elif p in book:
                    del book[p]
                    if p == (state[ST_BEST_BID] if s > 0 else state[ST_BEST_ASK]):
                        state[ST_DIRTY] = 1
            if end:
                state[ST_IN_EVENT] = 0
                state[ST_BOOKS] += 1
                if state[ST_DIRTY] != 0:
                    state[ST_BEST_BID] = _best(bids, True)
                    state[ST_BEST_ASK] = _best(asks, False)
                    state[ST_DIRTY] = 0
                if len(bids) > 0 and len(asks) > 0 and state[ST_BEST_BID] >= state[ST_BEST_ASK]:
                    state[ST_CROSSED] += 1
        elif k == K_GAP and end:
            state[ST_GAPS] += 1
            bids.clear()
            asks.clear()
            state[ST_BEST_BID] = -np.inf
            state[ST_BEST_ASK] = np.inf
