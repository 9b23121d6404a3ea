"""numba kernels of :class:`~mmkit.gates.data_quality_twin.DataQualityGateTwin`.

All of the gate's state lives in ONE ``int64`` array ``s`` (no float state: every figure the
gate keeps is a nanosecond time or a count). Scalar slots come first, named below; from
:data:`BASE` on, stream ``k`` (a slot number the twin hands out in order of first sight)
owns two cells: ``s[BASE + 2k]``, the latest exchange time (ns) seen on that stream (-1
before one is kept: the reference's ``dict.get(stream, -1)``), and ``s[BASE + 2k + 1]``, 1
once the reference's dict would hold the stream.

Every kernel keeps the reference's order of operations and comparisons (integer
arithmetic only, so there is nothing to round). Times are int64 ns; a subtraction of two
of them cannot overflow while both lie within +-:data:`SAFE_NS` (about 146 years around
1970), which :func:`check` verifies before it subtracts; outside, it answers
:data:`FALLBACK` and the twin decides with the reference's Python (arbitrary-precision)
code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# -- scalar slots of the state array ``s`` ---------------------------------------------
#: ``max_data_age_ms`` in ns (clamped into int64; see the twin)
THRESHOLD = 0
#: ``max_book_age_ms`` in ns (0: the book's age is not checked)
BOOK_THRESHOLD = 1
#: ``regression_hold_ms`` in ns
HOLD = 2
#: 1 when ``check_position_known``
CHECK_POSITION = 3
#: local time (ns) of the latest timestamp regression, -1 before the first
LAST_REGRESSION = 4
#: ``MarketState.ts_regressions`` as of the latest check that reached the regression test
REGRESSIONS_SEEN = 5
#: regressions the gate counted itself (events and batch rows)
REGRESSIONS = 6
#: streams that own a slot
N_STREAMS = 7
#: first per-stream cell
BASE = 8
#: cells per stream: latest exchange time, "kept" flag
STREAM_CELLS = 2

#: |time| (ns) below which a difference of two times fits int64
SAFE_NS = 1 << 62

# -- check() answers ---------------------------------------------------------------------
OPEN = 0
#: a time outside +-SAFE_NS: decide in Python
FALLBACK = 1
STALE_STREAMS = 2
STALE_BOOK = 3
SEQUENCE_GAP = 4
REGRESSION = 5
EMPTY_BID = 6
EMPTY_ASK = 7
CROSSED = 8
POSITION_UNKNOWN = 9


@njit(cache=True)
def on_market_event(s: np.ndarray, slot: int, ts: int, now_ns: int) -> int:
    """One market-data event of stream ``slot`` with exchange time ``ts`` received at
    ``now_ns``: a regression (``ts`` below the stream's latest) is counted and stamped,
    anything else becomes the stream's latest. Returns 1 for a regression, else 0."""
    cell = BASE + STREAM_CELLS * slot
    if ts < s[cell]:
        s[REGRESSIONS] += 1
        s[LAST_REGRESSION] = now_ns
        return 1
    s[cell] = ts
    s[cell + 1] = 1
    return 0


@njit(cache=True)
def on_trade_batch(s: np.ndarray, slot: int, times: np.ndarray, recv: np.ndarray) -> int:
    """A trade batch of stream ``slot`` (columns ``times`` and ``recv``, int64 ns), counted
    as row-by-row :func:`on_market_event` calls count it: a row regresses when below the
    latest time before it (regressing rows do not move the latest); the last regressing
    row's receive time stamps the regression. Returns the number of regressing rows."""
    cell = BASE + STREAM_CELLS * slot
    latest = s[cell]
    n = times.shape[0]
    count = 0
    last_row = -1
    for k in range(n):
        x = times[k]
        if x < latest:
            count += 1
            last_row = k
        else:
            latest = x
    if count:
        s[REGRESSIONS] += count
        s[LAST_REGRESSION] = recv[last_row]
    if count < n:
        s[cell] = latest
        s[cell + 1] = 1
    return count


@njit(cache=True)
def check(
    s: np.ndarray,
    now_ns: int,
    stream_ns: int,
    book_ns: int,
    pending_gap: int,
    ts_regressions: int,
    bid: float,
    ask: float,
    position_known: int,
) -> int:
    """The gate's decision as a code, in the reference's order of tests (feeds present and
    connected were checked by the caller). ``stream_ns`` is the local time the streams'
    age is judged by: the freshest stream's (no ``streams`` configured) or the oldest of the
    configured ones. Updates the regression bookkeeping exactly when the reference does
    (only when the staleness and gap tests pass)."""
    lim = SAFE_NS
    last = s[LAST_REGRESSION]
    if not (-lim < now_ns < lim and -lim < stream_ns < lim and -lim < book_ns < lim and last < lim):
        return FALLBACK
    if now_ns - stream_ns > s[THRESHOLD]:
        return STALE_STREAMS
    book_threshold = s[BOOK_THRESHOLD]
    if book_threshold > 0 and book_ns >= 0 and now_ns - book_ns > book_threshold:
        return STALE_BOOK
    if pending_gap:
        return SEQUENCE_GAP
    if ts_regressions > s[REGRESSIONS_SEEN]:
        s[REGRESSIONS_SEEN] = ts_regressions
        s[LAST_REGRESSION] = now_ns
        last = now_ns
    if last >= 0 and now_ns - last < s[HOLD]:
        return REGRESSION
    if not (math.isfinite(bid) and bid > 0):
        return EMPTY_BID
    if not (math.isfinite(ask) and ask > 0):
        return EMPTY_ASK
    if bid >= ask:
        return CROSSED
    if s[CHECK_POSITION] and not position_known:
        return POSITION_UNKNOWN
    return OPEN
