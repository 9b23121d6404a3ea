"""numba kernels of the kill switch's compiled twin (:mod:`mmkit.gates.kill_switch_twin`).

State is a struct of arrays owned by the twin:

- ``f`` (float64, slots ``F_*``): the equity peak and the UTC day's opening equity (USD),
  the last checked position and fill position (base units) and the parameters the checks
  compare with (USD, base units, ns as a float).
- ``i`` (int64, slots ``I_*``): the UTC day index, the last time (ns) market data was
  usable, flags, the rejection window (ns) and, per rejection ring, its head, length and
  limit (ring ``k`` at ``I_RINGS + k * RING_STRIDE``).
- ``ring`` (int64, ``(n_rings, capacity)``): the receive times (ns) of the rejections
  still in the window, one circular buffer per limited rejection class (in
  :class:`~mmkit.core.outcomes.RejectionClass` order) and a last one for the
  ``max_rejections`` backstop over the classes together.

The arithmetic is the reference's (:class:`mmkit.gates.kill_switch.KillSwitch`) operation
for operation, so that every decision is bit-identical. Two comparisons need care because
Python compares an ``int`` with a ``float`` exactly while numpy (and numba) first round the
integer to float64: an age in ns (an exact ``int`` in the reference unless a numpy
integer crept in from a trade batch's receive times) is compared with the staleness limit
through :func:`_older`, which takes both semantics.

No kernel allocates; each returns a small int code (``OPEN``, ``NEED_EQUITY`` or a
``TRIP_*``), the detail of a trip being rebuilt in Python from the state and the inputs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.core.types import NS_PER_S

NS_PER_DAY = 86_400 * NS_PER_S

# -- float slots ------------------------------------------------------------------------
F_PEAK = 0  #: highest equity seen since the last reset (USD); -inf before the first
F_DAY_START = 1  #: equity at the first check of the current UTC day (USD); NaN before
F_LAST_POS = 2  #: position at the last check that passed the position checks (base units)
F_LAST_FILL_POS = 3  #: the portfolio's fill position at that check (base units)
F_STALE_LIMIT = 4  #: max_stale_s * NS_PER_S (ns, as the float the reference compares with)
F_POS_MULT = 5  #: max_position_mult (a multiple of the view's max_position)
F_UNEXPLAINED = 6  #: unexplained_position_frac (a fraction of the view's max_position)
F_MAX_DD = 7  #: max_drawdown_usd (USD)
F_MAX_DAILY = 8  #: max_daily_loss_usd (USD)
NF = 9

# -- int slots --------------------------------------------------------------------------
I_DAY = 0  #: UTC day index (now_ns // NS_PER_DAY) of the day's opening equity; -1 before
I_LAST_GOOD = 1  #: local time (ns) market data was last usable; -1 before the first check
I_LAST_GOOD_NP = 2  #: 1 when the reference would hold that time as a numpy integer
I_LAST_POS_SET = 3  #: 1 once a position has been recorded (the reference's not-None)
I_LIQUIDATION = 4  #: 1 once a liquidation fill was seen
I_WINDOW = 5  #: rejection window (ns), int(rejection_window_s * NS_PER_S) clamped to int64
I_STALE_FLOOR = 6  #: floor(max_stale_s * NS_PER_S) clamped to int64: exact int comparison
I_N_RINGS = 7  #: number of rejection rings (the limited classes, then the backstop)
I_OUT_RING = 8  #: output: the ring whose count tripped (the backstop is the last ring)
I_OUT_COUNT = 9  #: output: its count
I_STALE_EXACT = 10  #: 1 when max_stale_s * NS_PER_S is an int: every age compares exactly
I_RINGS = 11  #: first ring's slots: head, length, limit (RING_STRIDE per ring)
RING_STRIDE = 3
MAX_RINGS = 9  #: eight rejection classes at most, plus the backstop
NI = I_RINGS + RING_STRIDE * MAX_RINGS

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

# -- flags of ks_check ------------------------------------------------------------------
FLAG_PRE = 1  #: stop before the PnL checks (return NEED_EQUITY): the equity comes next
FLAG_PNL = 2  #: only the PnL checks (the equity was computed after a FLAG_PRE call)
FLAG_EQUITY_RAISED = 4  #: computing the equity raised (with FLAG_PNL or in one call)
FLAG_FRESH_NP = 8  #: the freshest stream time is a numpy integer (float comparison)
FLAG_NOW_NP = 16  #: now_ns is a numpy integer (float comparison, numpy result type)

# -- results of ks_check ----------------------------------------------------------------
OPEN = 0
TRIP_LIQUIDATION = 1
TRIP_REJECTIONS = 2  #: ring in i[I_OUT_RING], count in i[I_OUT_COUNT]
TRIP_POSITION_NONFINITE = 3
TRIP_MAX_POSITION = 4
TRIP_UNEXPLAINED = 5
TRIP_STALE_SINCE_GOOD = 6  #: age from the last usable time (no mid or no stream yet)
TRIP_STALE_FRESH = 7  #: age of the freshest stream
TRIP_PNL_RAISED = 8
TRIP_EQUITY_NONFINITE = 9
TRIP_DRAWDOWN = 10
TRIP_DAILY_LOSS = 11
NEED_EQUITY = 12


@njit(cache=True)
def _older(age: int, exact_floor: int, limit: float, as_float: bool) -> bool:
    """``age > limit`` with ``age`` in ns: compared exactly as Python compares an ``int``
    with a ``float`` (``age > floor(limit)``), or, when numpy integers are involved, as
    numpy does (``float64(age) > limit``)."""
    if as_float:
        return float(age) > limit
    return age > exact_floor


@njit(cache=True)
def _roll(i: np.ndarray, ring: np.ndarray, now: int) -> None:
    """Drop from every ring the rejections older than the window at ``now`` (ns); an age
    equal to the window still counts, and a newer time at the head shields older ones
    behind it (out-of-order times), as the reference's deques do."""
    window = i[I_WINDOW]
    cap = ring.shape[1]
    for k in range(i[I_N_RINGS]):
        base = I_RINGS + k * RING_STRIDE
        head = i[base]
        n = i[base + 1]
        while n > 0 and now - ring[k, head] > window:
            head += 1
            if head == cap:
                head = 0
            n -= 1
        i[base] = head
        i[base + 1] = n


@njit(cache=True)
def ks_roll(i: np.ndarray, ring: np.ndarray, now: int) -> None:
    """Roll the rejection window to ``now`` (ns): what ``rejection_counts`` reads after."""
    _roll(i, ring, now)


@njit(cache=True)
def _push(i: np.ndarray, ring: np.ndarray, r: int, now: int) -> None:
    """Append ``now`` (ns) at the tail of ring ``r`` (the caller has checked it has room);
    ``r`` is always a run-time int64, so one compiled version serves both callers."""
    cap = ring.shape[1]
    base = I_RINGS + r * RING_STRIDE
    slot = i[base] + i[base + 1]
    if slot >= cap:
        slot -= cap
    ring[r, slot] = now
    i[base + 1] += 1


@njit(cache=True)
def ks_reject(i: np.ndarray, ring: np.ndarray, now: int, k: int, backstop: int) -> int:
    """Record a rejection at ``now`` (ns) in class ring ``k`` (-1: the class has no limit)
    and, when ``backstop`` is 1, in the backstop ring. Returns 1 without recording anything
    when a ring it needs is full (the caller grows the rings and calls again), else 0."""
    cap = ring.shape[1]
    last = i[I_N_RINGS] - 1
    if k >= 0 and i[I_RINGS + k * RING_STRIDE + 1] == cap:
        return 1
    if backstop == 1 and i[I_RINGS + last * RING_STRIDE + 1] == cap:
        return 1
    if k >= 0:
        _push(i, ring, k, now)
    if backstop == 1:
        _push(i, ring, last, now)
    return 0


@njit(cache=True)
def ks_check(
    f: np.ndarray,
    i: np.ndarray,
    ring: np.ndarray,
    now: int,
    known: int,
    pos: float,
    fill_pos: float,
    max_pos: float,
    mid: float,
    equity: float,
    fresh: int,
    flags: int,
) -> int:
    """One ``check`` of an untripped switch at ``now`` (ns): liquidation, rejection counts
    per class then together, then (position known) a finite position within
    ``max_position_mult * max_pos``, a position change explained by the fills, and the PnL
    checks (staleness, a finite equity, drawdown from the peak, the UTC day's loss), or
    (position unknown) staleness alone. ``fresh`` is the freshest stream's local time (ns,
    -1 without one), ``mid`` the book's mid, ``equity`` the portfolio's equity at ``mid``
    (USD). Returns ``OPEN``, a ``TRIP_*`` code or ``NEED_EQUITY`` (with ``FLAG_PRE``)."""
    exact = i[I_STALE_EXACT] != 0  # an int limit: numpy compares it with ints exactly too
    now_np = (flags & FLAG_NOW_NP) != 0 and not exact
    fresh_np = (flags & FLAG_FRESH_NP) != 0 and not exact
    stale_limit = f[F_STALE_LIMIT]
    stale_floor = i[I_STALE_FLOOR]
    if (flags & FLAG_PNL) == 0:
        if i[I_LIQUIDATION] != 0:
            return TRIP_LIQUIDATION
        _roll(i, ring, now)
        last = i[I_N_RINGS] - 1
        for k in range(last + 1):
            base = I_RINGS + k * RING_STRIDE
            n = i[base + 1]
            if n >= i[base + 2]:
                i[I_OUT_RING] = k
                i[I_OUT_COUNT] = n
                return TRIP_REJECTIONS
        if known == 0:  # no PnL without a known position: staleness alone
            if i[I_LAST_GOOD] < 0:
                i[I_LAST_GOOD] = now
                i[I_LAST_GOOD_NP] = 1 if (flags & FLAG_NOW_NP) != 0 else 0
            if fresh < 0 or not math.isfinite(mid):
                as_float = now_np or (i[I_LAST_GOOD_NP] != 0 and not exact)
                if _older(now - i[I_LAST_GOOD], stale_floor, stale_limit, as_float):
                    return TRIP_STALE_SINCE_GOOD
                return OPEN
            if _older(now - fresh, stale_floor, stale_limit, now_np or fresh_np):
                return TRIP_STALE_FRESH
            i[I_LAST_GOOD] = now
            i[I_LAST_GOOD_NP] = 1 if (flags & FLAG_NOW_NP) != 0 else 0
            return OPEN
        if not math.isfinite(pos):
            return TRIP_POSITION_NONFINITE
        if abs(pos) > f[F_POS_MULT] * max_pos:
            return TRIP_MAX_POSITION
        if i[I_LAST_POS_SET] != 0:
            fills = fill_pos - f[F_LAST_FILL_POS]
            unexplained = (pos - f[F_LAST_POS]) - fills
            if abs(unexplained) > f[F_UNEXPLAINED] * max_pos:
                return TRIP_UNEXPLAINED
        f[F_LAST_POS] = pos
        f[F_LAST_FILL_POS] = fill_pos
        i[I_LAST_POS_SET] = 1
        if (flags & FLAG_PRE) != 0:
            return NEED_EQUITY
    # -- the PnL checks ----------------------------------------------------------------
    if i[I_LAST_GOOD] < 0:
        i[I_LAST_GOOD] = now
        i[I_LAST_GOOD_NP] = 1 if (flags & FLAG_NOW_NP) != 0 else 0
    if (flags & FLAG_EQUITY_RAISED) != 0:
        return TRIP_PNL_RAISED
    if not math.isfinite(mid) or fresh < 0:
        as_float = now_np or (i[I_LAST_GOOD_NP] != 0 and not exact)
        if _older(now - i[I_LAST_GOOD], stale_floor, stale_limit, as_float):
            return TRIP_STALE_SINCE_GOOD
        return OPEN
    if not math.isfinite(equity):
        return TRIP_EQUITY_NONFINITE
    if _older(now - fresh, stale_floor, stale_limit, now_np or fresh_np):
        return TRIP_STALE_FRESH
    i[I_LAST_GOOD] = now
    i[I_LAST_GOOD_NP] = 1 if (flags & FLAG_NOW_NP) != 0 else 0
    if equity > f[F_PEAK]:
        f[F_PEAK] = equity
    if f[F_PEAK] - equity > f[F_MAX_DD]:
        return TRIP_DRAWDOWN
    day = now // NS_PER_DAY
    if day != i[I_DAY]:
        i[I_DAY] = day
        f[F_DAY_START] = equity
    if f[F_DAY_START] - equity > f[F_MAX_DAILY]:
        return TRIP_DAILY_LOSS
    return OPEN
