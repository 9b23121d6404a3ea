"""numba kernels of the compiled kappa orchestrator twin (see ``kappa_orchestrator_twin``).

The twin's state is two preallocated arrays: ``f`` (float64) and ``i`` (int64), with the
named slots below; the robust source's ring buffer of trade log-depths is the tail of ``f``
(from ``F_RING``) and its receive times (ns) the tail of ``i`` (from ``I_RING``), so that
each kernel takes few arguments. Every kernel repeats the reference's arithmetic in the
reference's order (``KappaOrchestrator``, ``BookKappa``, ``RobustKappa``), so that the same
IEEE operations give the same bits; the Python ``min``/``max`` of the reference are
:func:`_pmin`/:func:`_pmax` (same NaN and signed-zero behaviour) and its exact int/float
comparisons are :func:`_int_gt_float`/``I_STAG_NS``. The book regression and the Student-t
fit are the existing kernels of :mod:`mmkit.estimators._kernels_kappa`, called in-kernel.

No Python objects here: the twin builds log lines, rejections and the ``Estimates`` writes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.deferred_kernels import kernel_on_first_use
from mmkit.estimators._kernels_kappa import book_depth_regression, student_t_location

# -- float slots ------------------------------------------------------------------------
F_MID = 0  # tracked mid (NaN before the first valid touch)
F_SMOOTHED = 1  # EWMA of the clamped blend
F_BLEND = 2  # last raw blend
F_KOUT = 3  # published kappa (kappa_value() at the last blend)
F_COUT = 4  # published kappa confidence
F_BK_KAPPA = 5  # book source
F_BK_CONF = 6
F_BK_MAX_DEPTH = 7
F_RB_KAPPA = 8  # robust source
F_RB_CONF = 9
F_RB_ESS = 10
F_RB_LOC = 11  # warm start of the next robust fit
F_RB_SCALE = 12
F_RB_OFFSET = 13  # log_exponential_offset(nu)
F_RB_NU = 14
F_RB_PRIOR_STRENGTH = 15
F_OWN_KAPPA = 16  # mirror of the Python own-fill source
F_OWN_CONF = 17
F_PRIOR_KAPPA = 18  # parameters
F_PRIOR_WEIGHT = 19
F_FLOOR = 20
F_CAP = 21
F_ALPHA = 22
F_CAP_MULT = 23
F_MAX_TRADE_DEPTH = 24
F_WINDOW_S = 25
F_STAG_CONF = 26
F_A = 27  # intensity computed at the last publish of the robust source (NaN: none)
F_FIRST_BAD = 28  # first bad price or size of the last trade batch
F_SRC_K = 29  # 4 slots: kappa of prior, book, robust, own as in the last blend
F_SRC_C = 33  # 4 slots: their confidences
F_SCRATCH = 37  # 64 slots: partials of the exact sum (fsum)
N_SCRATCH = 64
F_RING = F_SCRATCH + N_SCRATCH  # ring of trade log-depths: the rest of f

# -- int slots --------------------------------------------------------------------------
I_NOW = 0  # orchestrator clock (max of the times seen)
I_FIRST = 1  # first event time (-1 before any)
I_STAG_SINCE = 2
I_STAG_ALERT = 3
I_STAG_EPISODES = 4
I_DIRTY = 5  # bit set of sources changed since the last blend
I_PUB_ALERT = 6  # alert value last published
I_BK_LAST_FIT = 7
I_BK_INTERVAL = 8
I_BK_FITS = 9
I_BK_MIN_LEVELS = 10
I_RB_HEAD = 11
I_RB_COUNT = 12
I_RB_NOW = 13
I_RB_OLDEST = 14
I_RB_CUT = 15  # capacity_cut_ns
I_RB_LAST_FIT = 16
I_RB_INTERVAL = 17
I_RB_WINDOW = 18
I_RB_DIRTY = 19
I_RB_MIN_TRADES = 20
I_OWN_NOW = 21  # mirror of the Python own-fill source's clock
I_OWN_OLDEST = 22  # time of its oldest fill (NO_TIME when none)
I_OWN_WINDOW = 23
I_OWN_GRAD = 24  # 1 once graduated
I_STAG_NS = 25  # ceil(stagnation_s * 1e9), clamped: the exact int threshold
I_SRC_MASK = 26  # candidates in the last blend (bit k: prior, book, robust, own); 16: fallback
I_RING = 27  # ring of trade receive times: the rest of i
N_F = F_RING
N_I = I_RING

NS = 1_000_000_000
NO_TIME = 2**62
MIN_DEPTH = 1e-8  # as robust_kappa.MIN_DEPTH
EM_ITERS = 200  # as robust_kappa._EM_ITERS

BOOK, ROBUST, OWN = 1, 2, 4
ALL = BOOK | ROBUST | OWN
FALLBACK = 16

# estimate() result bits (besides the publish mask BOOK | ROBUST | OWN)
R_ALERT = 8  # the stagnation alert value
R_ALERT_CHANGED = 16  # publish the alert extra
R_ALERT_FIRED = 32  # the alert just went up: log it
R_NEED_OWN = 64  # the own-fill window must expire in Python first (nothing else done)
R_REBLENDED = 128  # kappa / confidence out changed

# scalar event kinds of on_scalar
K_OTHER = 0
K_BBO = 1
K_MID = 2  # BBO whose mid was computed in Python (a is the mid)
K_TRADE = 3

# on_* results
OK = 0
REJECT = 1


@njit(cache=True)
def _pmin(a: float, b: float) -> float:
    """Python's ``min(a, b)``: ``a`` unless ``b < a``."""
    return b if b < a else a


@njit(cache=True)
def _pmax(a: float, b: float) -> float:
    """Python's ``max(a, b)``: ``a`` unless ``b > a``."""
    return b if b > a else a


@njit(cache=True)
def _int_gt_float(a: int, b: float) -> bool:
    """Python's exact ``a > b`` for an int and a float (no rounding of ``a``)."""
    if b != b:
        return False
    if b >= 9.223372036854775807e18:
        return False
    if b < -9.223372036854775807e18:
        return True
    return bool(a > math.floor(b))


@kernel_on_first_use("float64(float64[::1], int64, float64[::1])", cache=True)
def fsum(x: np.ndarray, n: int, partials: np.ndarray) -> float:
    """Correctly rounded sum of ``x[:n]`` (finite terms whose partial sums stay finite), as
    Python's ``math.fsum``: Shewchuk's non-overlapping partials, then the half-way
    correction of the final rounding. ``partials`` is scratch space."""
    m = 0
    for k in range(n):
        xv = x[k]
        j = 0
        for q in range(m):
            y = partials[q]
            if abs(xv) < abs(y):
                xv, y = y, xv
            hi = xv + y
            lo = y - (hi - xv)
            if lo != 0.0:
                partials[j] = lo
                j += 1
            xv = hi
        partials[j] = xv
        m = j + 1
    hi = 0.0
    if m > 0:
        m -= 1
        hi = partials[m]
        lo = 0.0
        while m > 0:
            xv = hi
            m -= 1
            y = partials[m]
            hi = xv + y
            yr = hi - xv
            lo = y - yr
            if lo != 0.0:
                break
        if m > 0 and ((lo < 0.0 and partials[m - 1] < 0.0) or (lo > 0.0 and partials[m - 1] > 0.0)):
            y = lo * 2.0
            xv = hi + y
            yr = xv - hi
            if y == yr:
                hi = xv
    return float(hi)


@njit(cache=True)
def fsum_of(x: np.ndarray, partials: np.ndarray) -> float:
    """:func:`fsum` of a whole array (for tests against ``math.fsum``)."""
    return fsum(x, x.shape[0], partials)


@njit(cache=True)
def _touch(i: np.ndarray, now: int) -> None:
    """The clock and first-event bookkeeping every event does."""
    if now > i[I_NOW]:
        i[I_NOW] = now
    if i[I_FIRST] < 0:
        i[I_FIRST] = now


@njit(cache=True)
def _valid_mid(bid: float, ask: float) -> float:
    """As ``_mid.valid_mid``."""
    if not (math.isfinite(bid) and math.isfinite(ask)) or bid <= 0.0 or ask <= bid:
        return math.nan
    mid = 0.5 * (bid + ask)
    return mid if math.isfinite(mid) else math.nan


@njit(cache=True)
def _robust_add(f: np.ndarray, i: np.ndarray, depth: float, t: int) -> None:
    """One trade depth into the ring (``RobustKappa.add`` then its flush, one at a time:
    the held trades, their order and the capacity cut come out the same)."""
    rb_now = i[I_RB_NOW]
    if t > rb_now:
        rb_now = t
    i[I_RB_NOW] = rb_now
    i[I_RB_DIRTY] = 1
    cap = f.shape[0] - F_RING
    head = i[I_RB_HEAD]
    count = i[I_RB_COUNT]
    if count == cap:  # the oldest makes room
        last = i[I_RING + head]
        if last > i[I_RB_CUT]:
            i[I_RB_CUT] = last
        head = (head + 1) % cap
        count -= 1
    pos = (head + count) % cap
    i[I_RING + pos] = rb_now
    f[F_RING + pos] = math.log(_pmax(depth, MIN_DEPTH))
    i[I_RB_HEAD] = head
    i[I_RB_COUNT] = count + 1
    i[I_RB_OLDEST] = i[I_RING + head]


@njit(cache=True)
def _trade_depth(f: np.ndarray, p: float) -> float:
    """``KappaOrchestrator._depth`` of a price already known finite and positive."""
    mid = f[F_MID]
    if mid != mid:
        return math.nan
    d = abs(p - mid) / mid
    return d if d <= f[F_MAX_TRADE_DEPTH] else math.nan


@njit(cache=True)
def on_scalar(f: np.ndarray, i: np.ndarray, kind: int, a: float, b: float, now: int) -> int:
    """An event without arrays: ``K_OTHER`` (clock only), ``K_BBO`` (``a``, ``b`` = bid,
    ask), ``K_MID`` (``a`` = a mid computed in Python, NaN if none), ``K_TRADE`` (``a``,
    ``b`` = price, size). Returns ``REJECT`` when the reference records a rejection."""
    _touch(i, now)
    if kind == K_OTHER:
        return OK
    if kind == K_TRADE:
        if not (0.0 < a < math.inf and 0.0 < b < math.inf):
            return REJECT
        d = _trade_depth(f, a)
        if d == d:
            _robust_add(f, i, d, now)
        return OK
    mid = _valid_mid(a, b) if kind == K_BBO else a
    if mid == mid:
        f[F_MID] = mid
        return OK
    return REJECT


@njit(cache=True)
def on_book(
    bid_px: np.ndarray,
    bid_sz: np.ndarray,
    ask_px: np.ndarray,
    ask_sz: np.ndarray,
    now: int,
    f: np.ndarray,
    i: np.ndarray,
) -> int:
    """A book snapshot: mid, then ``BookKappa.on_book`` (refit unless within its interval).
    Returns ``REJECT`` when there is no valid touch."""
    _touch(i, now)
    mid = math.nan
    if bid_px.shape[0] > 0 and ask_px.shape[0] > 0:
        mid = _valid_mid(bid_px[0], ask_px[0])
    if mid != mid:
        return REJECT
    f[F_MID] = mid
    last = i[I_BK_LAST_FIT]
    if now - last < i[I_BK_INTERVAL] and now >= last:
        return OK
    i[I_BK_LAST_FIT] = now
    kappa, r2 = book_depth_regression(
        bid_px, bid_sz, ask_px, ask_sz, mid, f[F_BK_MAX_DEPTH], i[I_BK_MIN_LEVELS]
    )
    if math.isfinite(kappa) and kappa > 0.0 and math.isfinite(r2):
        f[F_BK_KAPPA] = kappa
        f[F_BK_CONF] = r2
        i[I_BK_FITS] += 1
        i[I_DIRTY] |= BOOK
    elif f[F_BK_CONF] != 0.0:
        f[F_BK_CONF] = 0.0
        i[I_DIRTY] |= BOOK
    return OK


@njit(cache=True)
def on_trades(
    px: np.ndarray, sz: np.ndarray, recv: np.ndarray, f: np.ndarray, i: np.ndarray
) -> int:
    """A trade batch (``KappaOrchestrator.on_trades``). Returns the count of rows whose
    price or size is not a finite positive number; the first such value is ``f[F_FIRST_BAD]``."""
    m = px.shape[0]
    if recv[m - 1] > i[I_NOW]:
        i[I_NOW] = recv[m - 1]
    if i[I_FIRST] < 0:
        i[I_FIRST] = recv[0]
    bad = 0
    for k in range(m):
        p = px[k]
        s = sz[k]
        if not (0.0 < p < math.inf and 0.0 < s < math.inf):
            if bad == 0:
                f[F_FIRST_BAD] = p if not (0.0 < p < math.inf) else s
            bad += 1
            continue
        d = _trade_depth(f, p)
        if d == d:
            _robust_add(f, i, d, recv[k])
    return bad


@njit(cache=True)
def robust_count_after(i: np.ndarray, cap: int, since: int) -> int:
    """``RobustKappa.count_after``: held trades received strictly after ``since``."""
    n = i[I_RB_COUNT]
    head = i[I_RB_HEAD]
    k = 0
    while k < n and i[I_RING + (head + k) % cap] <= since:
        k += 1
    return int(n - k)


@njit(cache=True)
def intensity_basis(f: np.ndarray, i: np.ndarray, min_trades: int) -> tuple[int, float, bool]:
    """``KappaOrchestrator.intensity_basis`` over the arrays."""
    n = i[I_RB_COUNT]
    if n < min_trades or i[I_FIRST] < 0:
        return 0, 0.0, False
    now = i[I_NOW]
    span_s = _pmin(f[F_WINDOW_S], (now - i[I_FIRST]) / NS)
    cut = i[I_RB_CUT]
    if _int_gt_float(cut, now - span_s * NS):
        cap = f.shape[0] - F_RING
        return robust_count_after(i, cap, cut), (now - cut) / NS, True
    return n, span_s, False


@njit(cache=True)
def _robust_refresh(f: np.ndarray, i: np.ndarray, now: int) -> bool:
    """``RobustKappa.refresh``: expire, refit if due; True when its output changed."""
    if now > i[I_RB_NOW]:
        i[I_RB_NOW] = now
    rb_now = i[I_RB_NOW]
    cutoff = rb_now - i[I_RB_WINDOW]
    cap = f.shape[0] - F_RING
    if i[I_RB_OLDEST] <= cutoff:
        while i[I_RB_COUNT] and i[I_RING + i[I_RB_HEAD]] <= cutoff:
            i[I_RB_HEAD] = (i[I_RB_HEAD] + 1) % cap
            i[I_RB_COUNT] -= 1
            i[I_RB_DIRTY] = 1
        i[I_RB_OLDEST] = i[I_RING + i[I_RB_HEAD]] if i[I_RB_COUNT] else NO_TIME
    if not i[I_RB_DIRTY] or rb_now - i[I_RB_LAST_FIT] < i[I_RB_INTERVAL]:
        return False
    i[I_RB_DIRTY] = 0
    i[I_RB_LAST_FIT] = rb_now
    n = i[I_RB_COUNT]
    if n < i[I_RB_MIN_TRADES]:
        changed = f[F_RB_CONF] != 0.0
        f[F_RB_CONF] = 0.0
        return bool(changed)
    # the iteration count as a run-time int64, not the constant: the reference calls this
    # kernel with an int64, and one compiled version serves both (not one per constant)
    iters: int = np.int64(EM_ITERS)  # type: ignore[assignment]
    loc, scale, ess = student_t_location(
        f[F_RING:], i[I_RB_HEAD], n, f[F_RB_NU], iters, f[F_RB_LOC], f[F_RB_SCALE]
    )
    if math.isfinite(loc) and scale > 0.0:
        f[F_RB_LOC] = loc
        f[F_RB_SCALE] = scale
    kappa = math.exp(_pmin(700.0, f[F_RB_OFFSET] - loc)) if math.isfinite(loc) else math.nan
    if math.isfinite(kappa) and kappa > 0.0 and 0.0 < ess < math.inf:
        f[F_RB_KAPPA] = kappa
        f[F_RB_ESS] = ess
        f[F_RB_CONF] = ess / (ess + f[F_RB_PRIOR_STRENGTH])
    else:
        f[F_RB_CONF] = 0.0
    return True


@njit(cache=True)
def robust_cap(f: np.ndarray, i: np.ndarray) -> float:
    """``KappaOrchestrator.robust_cap``."""
    if i[I_OWN_GRAD]:
        return math.inf
    return float(f[F_CAP_MULT] * f[F_PRIOR_KAPPA])


@njit(cache=True)
def _kappa_value(f: np.ndarray) -> float:
    k = f[F_SMOOTHED]
    if not math.isfinite(k):
        k = f[F_PRIOR_KAPPA]
    return _pmin(_pmax(k, f[F_FLOOR]), f[F_CAP])


@njit(cache=True)
def _reblend(f: np.ndarray, i: np.ndarray) -> None:
    """``KappaOrchestrator._reblend``; the sources used are left in ``F_SRC_*`` and
    ``I_SRC_MASK``."""
    i[I_DIRTY] = 0
    f[F_SRC_K] = f[F_PRIOR_KAPPA]
    f[F_SRC_C] = f[F_PRIOR_WEIGHT]
    f[F_SRC_K + 1] = f[F_BK_KAPPA]
    f[F_SRC_C + 1] = f[F_BK_CONF]
    f[F_SRC_K + 2] = _pmin(f[F_RB_KAPPA], robust_cap(f, i))
    f[F_SRC_C + 2] = f[F_RB_CONF]
    f[F_SRC_K + 3] = f[F_OWN_KAPPA]
    f[F_SRC_C + 3] = f[F_OWN_CONF] if i[I_OWN_GRAD] else 0.0
    mask = 0
    wsum = 0.0
    wk = 0.0
    lo = math.inf
    hi = 0.0
    conf = 0.0
    for s in range(4):
        k = f[F_SRC_K + s]
        c = f[F_SRC_C + s]
        if 0 < c <= 1 and 0 < k < math.inf:
            mask |= 1 << s
            wsum += c
            wk += c * k
            lo = _pmin(lo, k)
            hi = _pmax(hi, k)
            if s != 0:
                conf = _pmax(conf, c)
    if mask == 0:
        mask = FALLBACK
        f[F_SRC_K] = f[F_PRIOR_KAPPA]
        f[F_SRC_C] = 1.0
        wsum = 1.0
        wk = f[F_PRIOR_KAPPA]
        lo = f[F_PRIOR_KAPPA]
        hi = f[F_PRIOR_KAPPA]
    i[I_SRC_MASK] = mask
    blend = wk / wsum
    if not math.isfinite(blend):  # overflow of c * k: the exact sum of the convex terms
        terms = f[F_SCRATCH : F_SCRATCH + 4]
        m = 0
        for s in range(4):
            if mask & (1 << s) or (mask == FALLBACK and s == 0):
                terms[m] = (f[F_SRC_C + s] / wsum) * f[F_SRC_K + s]
                m += 1
        # the terms in the first 4 scratch slots, the partials in the others
        blend = fsum(terms, m, f[F_SCRATCH + 4 : F_SCRATCH + N_SCRATCH])
    b = _pmin(_pmax(blend, lo), hi)
    f[F_BLEND] = b
    clamped = _pmin(_pmax(b, f[F_FLOOR]), f[F_CAP])
    a = f[F_ALPHA]
    sm = a * f[F_SMOOTHED] + (1.0 - a) * clamped
    f[F_SMOOTHED] = sm if math.isfinite(sm) else clamped
    f[F_KOUT] = _kappa_value(f)
    f[F_COUT] = _pmin(conf, 1.0)


@njit(cache=True)
def _stagnation(f: np.ndarray, i: np.ndarray, now: int) -> int:
    """``KappaOrchestrator._stagnation``: 0 / ``R_ALERT``, plus ``R_ALERT_FIRED`` when the
    alert just went up."""
    if f[F_OWN_CONF] >= f[F_STAG_CONF]:
        i[I_STAG_SINCE] = -1
        i[I_STAG_ALERT] = 0
        return 0
    if i[I_STAG_SINCE] < 0:
        i[I_STAG_SINCE] = now
    fired = 0
    if not i[I_STAG_ALERT] and now - i[I_STAG_SINCE] >= i[I_STAG_NS]:
        i[I_STAG_ALERT] = 1
        i[I_STAG_EPISODES] += 1
        fired = R_ALERT_FIRED
    return (R_ALERT if i[I_STAG_ALERT] else 0) | fired


@njit(cache=True)
def estimate(f: np.ndarray, i: np.ndarray, now_ns: int, fresh: int) -> int:
    """``KappaOrchestrator.estimate`` up to the ``Estimates`` writes, which the caller does
    from the result: publish mask (``BOOK | ROBUST | OWN``; with ``ROBUST`` the intensity is
    ``f[F_A]``), ``R_ALERT``/``R_ALERT_CHANGED``/``R_ALERT_FIRED`` and ``R_REBLENDED``.
    ``fresh`` is 1 when ``out`` is not the last one written (publish everything).

    ``R_NEED_OWN`` alone: a fill has left the own-fill window; the caller expires it in
    Python (exact ``fsum``), sets ``OWN`` in ``I_DIRTY`` and calls again (only the clocks,
    whose updates are idempotent, have moved)."""
    if now_ns > i[I_NOW]:
        i[I_NOW] = now_ns
    now = i[I_NOW]
    if now > i[I_OWN_NOW]:
        i[I_OWN_NOW] = now
    if i[I_OWN_OLDEST] <= i[I_OWN_NOW] - i[I_OWN_WINDOW]:
        return R_NEED_OWN
    dirty = i[I_DIRTY]
    if _robust_refresh(f, i, now):
        dirty |= ROBUST
    res = 0
    if dirty:
        _reblend(f, i)
        res |= R_REBLENDED
    st = _stagnation(f, i, now)
    alert = 1 if st & R_ALERT else 0
    res |= st
    if fresh:
        dirty = ALL
        i[I_PUB_ALERT] = 1 - alert
    if dirty & ROBUST:
        n, span_s, _limited = intensity_basis(f, i, i[I_RB_MIN_TRADES])
        f[F_A] = n / (2.0 * span_s) if span_s > 0 and n > 0 else math.nan
    if alert != i[I_PUB_ALERT]:
        i[I_PUB_ALERT] = alert
        res |= R_ALERT_CHANGED
    return int(res | dirty)
