"""numba kernels of the compiled sigma estimator twin (:mod:`.sigma_estimator_twin`).

The whole state of :class:`~mmkit.estimators.sigma_estimator.SigmaEstimator` (sampling
clock, bipower EWMAs, trade-burst detector, cascade floor and the particle filter's
particles and random-number block) lives in ONE float64 buffer (one array argument per call:
each array costs ~75 ns to pass). Seen as int64 (``buf.view(int64)``), words
``[0, I_OFF_F)`` are the integer slots ``I_*`` then the filter's integer particle state;
words ``[I_OFF_F, I_OFF_RING)`` are the float slots ``F_*`` (``f = buf[I_OFF_F:]``) then the
filter's float arrays; the rest, as int64, is the burst detector's window of trade times, a
ring buffer that Python grows (a new, longer buffer) when a kernel says it is full.

Every kernel repeats the reference's arithmetic in the reference's order (no fastmath, no
reassociation), so that results are bit for bit the same; Python's two-argument ``max`` and
``min`` are spelt out (:func:`_pymax`, :func:`_pymin`) so that their NaN behaviour is
Python's (the first argument wins unless the second compares greater / smaller), and
``pow(0.5, x)`` takes its base from the buffer (see ``F_HALF``).

Kernels return a status word: the low 8 bits are the ``ST_*`` flags, the rest (for the batch
kernel) the index of the next row to process, so that Python can do the rare work (draw the
next random block, log a cascade transition, grow the ring) and resume.

The particle filter's step is the one rare path that is not rare work: a sampled return
(once per ``sample_interval_s``) makes the kernel stop with ``ST_PF``; Python then calls the
reference's own ``pf_step`` dispatcher exactly as :class:`.particle_filter.ParticleFilter`
does and :func:`sigma_finish` completes the return. The reason: ``pf_step`` is compiled
with fastmath reassociation, so LLVM may order its sums differently once it is inlined
into a bigger kernel (measured: the posterior mean variance moved by one ulp after three
steps); called through its own dispatcher it is the very code the reference runs.

Time differences in seconds are Python's ``int / int`` (correctly rounded), also beyond
2**53 ns where converting to float first would round twice (:func:`ns_to_s`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.deferred_kernels import kernel_on_first_use

# Python's max/min (NaN behaviour included) and ``_mid.valid_mid``: the kappa twin's kernels
from mmkit.estimators._kernels_kappa_orchestrator_twin import _pmax as _pymax
from mmkit.estimators._kernels_kappa_orchestrator_twin import _pmin as _pymin
from mmkit.estimators._kernels_kappa_orchestrator_twin import _valid_mid
from mmkit.estimators._kernels_pf import F_ROWS, OUT_LOGLIK, OUT_MEAN_VAR, OUT_SIZE, P_SIZE

#: random-number block of the particle filter, in steps (as :mod:`.particle_filter`)
BLOCK = 256
_HALF_PI = math.pi / 2.0

# -- float slots (F) ---------------------------------------------------------------------
F_MID = 0
F_ANCHOR_MID = 1
F_BASE_VAR = 2
F_DEFAULT_VAR = 3
F_PREV_ABS = 4  # bipower: |previous return|, NaN after a reset
F_DT = 5  # sample_interval_s
F_JUMP_K = 6
F_PF_WEIGHT = 7
F_MIN_SIGMA = 8
F_MAX_SIGMA = 9
F_DEFAULT_SIGMA = 10
F_BURST_WINDOW_S = 11
F_BURST_FACTOR = 12
F_BURST_HL_S = 13
F_BURST_RATE = 14  # baseline trades per second, NaN until the first window
F_CASC_FLOOR = 15
F_CASC_HL_S = 16
F_REASON_RATIO = 17  # |r| / ref of the last jump trigger
F_LOG_RATIO = 18  # |r| / ref of the pending log's jump
F_LOGLIK = 19  # particle filter's summed log-likelihood
F_FIRST_BAD = 20  # batch: first bad price or size
F_R = 21  # the sampled return waiting for the particle filter's step
#: 0.5, read from the array: with a constant base LLVM rewrites ``pow(0.5, x)`` as
#: ``exp2(-x)``, which can differ from libm's ``pow`` (what Python calls) by one ulp
F_HALF = 22
F_HEADER = 24
# -- int slots (I) -----------------------------------------------------------------------
I_NOW = 0
I_ANCHOR_NS = 1
I_DT_NS = 2
I_MAX_GAP = 3
I_RETURNS = 4
I_BOOK_SEEN = 5
I_WARMUP = 6
I_BP_COUNT = 7
I_PF_STEPS = 8
I_PF_K = 9  # next row of the random block
I_BURST_WINDOW_NS = 10
I_BURST_MIN = 11
I_WIN_START = 12
I_WIN_COUNT = 13
I_RING_HEAD = 14
I_RING_LEN = 15
I_TRIG_NS = 16
I_TRIGGERS = 17
I_REASON = 18  # R_* of the last trigger
I_LOG_REASON = 19  # R_* of the pending log
I_HOLD_NS = 20
I_LATE = 21  # batch: rows older than the clock
I_FIRST_LATE = 22
I_BAD = 23  # batch: rows with a bad price or size
I_NSC = 24  # bipower scales
I_N = 25  # particles
I_HALF = 26  # (n + 1) // 2
I_OFF_VARS = 27  # offsets into F
I_OFF_ALPHAS = 28
I_OFF_FS = 29
I_OFF_NORM = 30
I_OFF_UNI = 31
I_OFF_MODEL = 32
I_OFF_OUT = 33
I_OFF_IS = 34  # offset into I
I_OFF_F = 35  # word where the float part starts
I_OFF_RING = 36  # word where the ring starts
I_PY_SUM = 37  # 1: builtin sum() is Neumaier's compensated sum (Python >= 3.12)
I_HEADER = 38

# -- trigger reasons ---------------------------------------------------------------------
R_NONE = 0
R_JUMP = 1
R_BURST = 2
R_PY = 3  # set from Python (open-interest drop, or a direct trigger): text kept in Python

# -- event codes (on_event) --------------------------------------------------------------
E_BOOK = 0  # a book / BBO: (a, b) = its best bid and ask (NaN when it has none)
E_TRADE = 2  # a trade: (a, b) = its price and size (NaN when not numbers)
E_OTHER = 4

# -- status flags ------------------------------------------------------------------------
ST_LATE = 1  # older than the clock: nothing changed
ST_LOG = 2  # a cascade transition to log (I_LOG_REASON, F_LOG_RATIO)
ST_BLOCK = 4  # the random block is used up: draw the next one
ST_GROW = 8  # the ring is full: grow it and call again (nothing of that row changed)
ST_REJ = 16  # batch done with late or bad rows (I_LATE, I_FIRST_LATE, I_BAD, F_FIRST_BAD)
ST_PF = 32  # a return in F_R: run the filter's step (Python), then sigma_finish
ST_NO_TOUCH = 64  # the book had no valid touch (reject it)
ST_BAD = 128  # the trade's price or size was not a finite positive number (reject it)
ST_MASK = 255
ST_SHIFT = 8


def layout(n_particles: int, n_scales: int) -> tuple[int, int, dict[str, int]]:
    """``(float words, int words, offsets)`` for ``n_particles`` particles and ``n_scales``
    bipower scales: float offsets are relative to the float part (``f``), ``is`` to the
    int view; the buffer is ``int words + float words + ring capacity`` long."""
    half = (n_particles + 1) // 2
    off: dict[str, int] = {}
    pos = F_HEADER
    for name, size in (
        ("vars", n_scales),
        ("alphas", n_scales),
        ("fs", F_ROWS * n_particles),
        ("norm", BLOCK * half),
        ("uni", BLOCK * (n_particles + 1)),
        ("model", P_SIZE),
        ("out", OUT_SIZE),
    ):
        off[name] = pos
        pos += size
    off["is"] = I_HEADER
    return pos, I_HEADER + 3 * n_particles, off


_TWO53 = 2**53
_NS_INT = 1_000_000_000


@njit(cache=True)
def ns_to_s(a: int) -> float:
    """``a / 1_000_000_000`` for an int64 ``a >= 0`` (ns to s) rounded as Python rounds
    ``int / int``: once, to nearest even. Below 2**53 the float conversion is exact, so one
    float division does it; above, the quotient is built as ``M * 2**-e`` with ``M`` the
    correctly rounded 53-bit integer (all in int64)."""
    if a < _TWO53:
        return a / 1e9
    q = a // _NS_INT
    r = a - q * _NS_INT
    bits = 0
    x = q
    while x > 0:
        bits += 1
        x >>= 1
    e = 53 - bits  # q < 2**34 here, so 19 <= e <= 29 and r << e < 2**59
    d = (r << e) // _NS_INT
    rem = (r << e) - d * _NS_INT
    if 2 * rem > _NS_INT or (2 * rem == _NS_INT and d % 2 == 1):
        d += 1
    m = (q << e) + d
    s: float = float(m) / float(1 << e)
    return s


@njit(cache=True)
def _clamp(f: np.ndarray, s: float) -> float:
    if not math.isfinite(s):
        s = f[F_DEFAULT_SIGMA]
    return _pymin(_pymax(s, f[F_MIN_SIGMA]), f[F_MAX_SIGMA])


@njit(cache=True)
def _bp_variance(f: np.ndarray, ii: np.ndarray) -> float:
    """``sum(vars) / len(vars)`` with the running interpreter's ``sum`` (``I_PY_SUM``):
    one addition per scale up to Python 3.11, Neumaier's compensated sum from 3.12 on
    (CPython's float path: start ``0 + x0``, compensation by magnitude, added at the end
    only when non-zero and finite). Not the GLFT twin's Neumaier sum: that one starts from
    ``x0`` itself, this one from ``0 + x0`` as CPython does (a ``-0.0`` first term sums to
    ``0.0`` here), so the sign of a zero total differs."""
    o = ii[I_OFF_VARS]
    m = ii[I_NSC]
    total: float = 0.0
    if ii[I_PY_SUM] == 0:
        for j in range(m):
            total += f[o + j]
    else:
        total = 0.0 + f[o]
        c = 0.0
        for j in range(1, m):
            x = f[o + j]
            t = total + x
            if abs(total) >= abs(x):
                c += (total - t) + x
            else:
                c += (x - t) + total
            total = t
        if c != 0.0 and math.isfinite(c):
            total += c
    mean: float = total / m
    return mean


@njit(cache=True)
def _variance(f: np.ndarray, ii: np.ndarray) -> float:
    default: float = f[F_DEFAULT_VAR]
    if ii[I_RETURNS] < ii[I_WARMUP]:
        return default
    w = f[F_PF_WEIGHT]
    v: float = w * f[ii[I_OFF_OUT] + OUT_MEAN_VAR] + (1.0 - w) * _bp_variance(f, ii)
    return v if math.isfinite(v) and v > 0 else default


@njit(cache=True)
def _active(ii: np.ndarray, now: int) -> bool:
    t = ii[I_TRIG_NS]
    held: bool = t >= 0 and now - t <= ii[I_HOLD_NS]
    return held


@njit(cache=True)
def _floor_value(f: np.ndarray, ii: np.ndarray, now: int) -> float:
    t = ii[I_TRIG_NS]
    if t < 0:
        return 0.0
    age = now - t
    hold = ii[I_HOLD_NS]
    floor: float = f[F_CASC_FLOOR]
    if age <= hold:
        return floor
    decay_s = ns_to_s(age - hold)
    return floor * math.pow(f[F_HALF], decay_s / f[F_CASC_HL_S])


@kernel_on_first_use("int64(float64[::1], int64[::1], int64, int64, float64)", cache=True)
def _trigger(f: np.ndarray, ii: np.ndarray, now: int, reason: int, ratio: float) -> int:
    """Cascade trigger; ``ST_LOG`` when it starts a hold (the reference logs then)."""
    st = 0
    if not _active(ii, now):
        ii[I_LOG_REASON] = reason
        f[F_LOG_RATIO] = ratio
        st = ST_LOG
    ii[I_TRIG_NS] = max(ii[I_TRIG_NS], now)
    ii[I_TRIGGERS] += 1
    ii[I_REASON] = reason
    f[F_REASON_RATIO] = ratio
    return st


@njit(cache=True)
def _burst(f: np.ndarray, ii: np.ndarray, ring: np.ndarray, now: int) -> bool:
    """TradeBurstDetector.on_trade (the caller made room in the ring)."""
    cap = ring.shape[0]
    head = ii[I_RING_HEAD]
    n = ii[I_RING_LEN]
    ring[(head + n) % cap] = now
    n += 1
    cutoff = now - ii[I_BURST_WINDOW_NS]
    while n > 0 and ring[head] <= cutoff:
        head = (head + 1) % cap
        n -= 1
    ii[I_RING_HEAD] = head
    ii[I_RING_LEN] = n
    # baseline rate over windows of 10 x window_s
    if ii[I_WIN_START] < 0:
        ii[I_WIN_START] = now
    ii[I_WIN_COUNT] += 1
    elapsed = ns_to_s(now - ii[I_WIN_START])
    if elapsed >= 10.0 * f[F_BURST_WINDOW_S]:
        rate = ii[I_WIN_COUNT] / elapsed
        if math.isfinite(f[F_BURST_RATE]):
            a = 1.0 - f[F_HALF] ** (elapsed / f[F_BURST_HL_S])
            f[F_BURST_RATE] += a * (rate - f[F_BURST_RATE])
        else:
            f[F_BURST_RATE] = rate
        ii[I_WIN_START] = now
        ii[I_WIN_COUNT] = 0
    if n < ii[I_BURST_MIN] or not math.isfinite(f[F_BURST_RATE]):
        return False
    burst: bool = n > f[F_BURST_FACTOR] * f[F_BURST_RATE] * f[F_BURST_WINDOW_S]
    return burst


@njit(cache=True)
def _on_trade(f: np.ndarray, ii: np.ndarray, ring: np.ndarray, px: float, now: int) -> int:
    if ii[I_BOOK_SEEN] == 0:
        f[F_MID] = px
    if _burst(f, ii, ring, now):
        return _trigger(f, ii, now, R_BURST, 0.0)
    return 0


@njit(cache=True)
def _on_return(f: np.ndarray, ii: np.ndarray, r: float, now: int) -> int:
    """The first part of the reference's ``_on_return`` (the jump check); ``ST_PF`` asks
    Python for the particle filter's step on ``F_R``, then :func:`sigma_finish`."""
    if not math.isfinite(r):
        return 0
    st = ST_PF
    ref = math.sqrt(_pymax(f[F_BASE_VAR], _bp_variance(f, ii)))
    if abs(r) > f[F_JUMP_K] * ref:
        st |= _trigger(f, ii, now, R_JUMP, abs(r) / ref)
    f[F_R] = r
    return st


@njit(cache=True)
def pf_account(buf: np.ndarray) -> int:
    """The particle filter's bookkeeping after one ``pf_step`` (row ``I_PF_K`` used):
    ``ST_BLOCK`` when that was the block's last row."""
    ii = buf.view(np.int64)
    f = buf[ii[I_OFF_F] :]
    return _pf_account(f, ii)


@njit(cache=True)
def _pf_account(f: np.ndarray, ii: np.ndarray) -> int:
    k = ii[I_PF_K] + 1
    ii[I_PF_K] = k
    ii[I_PF_STEPS] += 1
    f[F_LOGLIK] += f[ii[I_OFF_OUT] + OUT_LOGLIK]
    return ST_BLOCK if k >= BLOCK else 0


@njit(cache=True)
def sigma_finish(buf: np.ndarray) -> int:
    """The rest of the reference's ``_on_return`` after the filter's step on ``F_R``:
    filter bookkeeping, bipower update, the count and the published variance."""
    ii = buf.view(np.int64)
    f = buf[ii[I_OFF_F] :]
    st = _pf_account(f, ii)
    a = abs(f[F_R])
    prev = f[F_PREV_ABS]
    if math.isfinite(prev):
        x = _HALF_PI * a * prev
        ov = ii[I_OFF_VARS]
        oa = ii[I_OFF_ALPHAS]
        for j in range(ii[I_NSC]):
            v = f[ov + j]
            f[ov + j] = v + f[oa + j] * (x - v)
        ii[I_BP_COUNT] += 1
    f[F_PREV_ABS] = a
    ii[I_RETURNS] += 1
    f[F_BASE_VAR] = _variance(f, ii)
    return st


@njit(cache=True)
def _sample(f: np.ndarray, ii: np.ndarray, now: int) -> int:
    if ii[I_ANCHOR_NS] < 0:
        ii[I_ANCHOR_NS] = now
        f[F_ANCHOR_MID] = f[F_MID]
        return 0
    elapsed = now - ii[I_ANCHOR_NS]
    dt_ns = ii[I_DT_NS]
    if elapsed < dt_ns:
        return 0
    k = elapsed // dt_ns
    if k > ii[I_MAX_GAP]:
        ii[I_ANCHOR_NS] = now
        f[F_ANCHOR_MID] = f[F_MID]
        f[F_PREV_ABS] = np.nan
        return 0
    r = math.log(f[F_MID] / f[F_ANCHOR_MID]) / math.sqrt(k)
    ii[I_ANCHOR_NS] += k * dt_ns
    f[F_ANCHOR_MID] = f[F_MID]
    return _on_return(f, ii, r, now)


@njit(cache=True)
def sigma_event(buf: np.ndarray, code: int, a: float, b: float, now: int) -> int:
    """One event (``E_*`` code; ``a, b`` its best bid and ask, or its price and size): the
    reference's ``_on_event`` without the open-interest branch. Returns ``ST_*`` flags."""
    ii = buf.view(np.int64)
    f = buf[ii[I_OFF_F] :]
    ring = ii[ii[I_OFF_RING] :]
    ok = False
    if code == E_TRADE:
        ok = math.isfinite(a) and a > 0.0 and math.isfinite(b) and b > 0.0
        if ok and ii[I_RING_LEN] >= ring.shape[0]:
            return ST_GROW
    if now < ii[I_NOW]:
        return ST_LATE
    ii[I_NOW] = now
    st = 0
    if code == E_BOOK:
        mid = _valid_mid(a, b)
        if mid == mid:
            f[F_MID] = mid
            ii[I_BOOK_SEEN] = 1
        else:
            st = ST_NO_TOUCH
    elif code == E_TRADE:
        if ok:
            st |= _on_trade(f, ii, ring, a, now)
        else:
            st = ST_BAD
    if f[F_MID] == f[F_MID]:
        st |= _sample(f, ii, now)
    return st


@njit(cache=True)
def sigma_trades(
    buf: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    recv: np.ndarray,
    start: int,
) -> int:
    """Rows ``start..`` of a trade batch, as the reference's ``on_trades``; stops after a
    row that raised ``ST_LOG`` or ``ST_PF``, and before a trade that finds the ring
    full (``ST_GROW``). Returns ``next row << ST_SHIFT | flags``; ``ST_REJ`` on the last
    call when rows were late or bad."""
    ii = buf.view(np.int64)
    f = buf[ii[I_OFF_F] :]
    ring = ii[ii[I_OFF_RING] :]
    if start == 0:
        ii[I_LATE] = 0
        ii[I_FIRST_LATE] = 0
        ii[I_BAD] = 0
        f[F_FIRST_BAD] = 0.0
    n = px.shape[0]
    inf = math.inf
    j = start
    while j < n:
        t = recv[j]
        if t < ii[I_NOW]:
            if ii[I_LATE] == 0:
                ii[I_FIRST_LATE] = t - ii[I_NOW]
            ii[I_LATE] += 1
            j += 1
            continue
        p = px[j]
        s = sz[j]
        ok = 0.0 < p < inf and 0.0 < s < inf
        if ok and ii[I_RING_LEN] >= ring.shape[0]:
            return (j << ST_SHIFT) | ST_GROW
        ii[I_NOW] = t
        st = 0
        if ok:
            st |= _on_trade(f, ii, ring, p, t)
        else:
            if ii[I_BAD] == 0:
                f[F_FIRST_BAD] = p if not 0.0 < p < inf else s
            ii[I_BAD] += 1
        if f[F_MID] == f[F_MID]:
            st |= _sample(f, ii, t)
        j += 1
        if st != 0 and j < n:
            return (j << ST_SHIFT) | st
        if st != 0:
            if ii[I_LATE] > 0 or ii[I_BAD] > 0:
                st |= ST_REJ
            return (j << ST_SHIFT) | st
    st = 0
    if ii[I_LATE] > 0 or ii[I_BAD] > 0:
        st = ST_REJ
    done: int = (n << ST_SHIFT) | st
    return done


@njit(cache=True)
def sigma_estimate(buf: np.ndarray, now_ns: int) -> tuple[float, bool, int, bool, float]:
    """``(sigma, cascade active, returns, triggered, cascade floor)`` at
    ``max(now_ns, clock)``: the hot part of the reference's ``estimate``."""
    ii = buf.view(np.int64)
    f = buf[ii[I_OFF_F] :]
    now = max(now_ns, ii[I_NOW])
    s = math.sqrt(f[F_BASE_VAR] / f[F_DT])
    trig = ii[I_TRIG_NS] >= 0
    fl = 0.0
    if trig:
        fl = _floor_value(f, ii, now)
        s = _pymax(s, fl)
    return _clamp(f, s), _active(ii, now), ii[I_RETURNS], trig, fl
