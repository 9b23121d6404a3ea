"""numba kernels of the warmup estimator twin (:mod:`mmkit.estimators.warmup_twin`).

State is a struct of arrays owned by the twin: a ``float64`` array ``f`` and an ``int64``
array ``i``, indexed by the slot constants below (``F_*`` / ``I_*``). The kernels repeat
the reference :class:`mmkit.estimators.warmup.WarmupEstimator` operation for operation
(same comparisons, same additions in the same order, CPython's float floor division), so
they give the same bits. Whatever they cannot decide exactly (an int64 subtraction that
would overflow, a time difference above 2**53 ns, a bucket count that Python's ``int()``
refuses) they report as :data:`R_FALLBACK` *before* touching the state, and the twin runs
the reference method instead.

The estimate kernel returns a bit set (``R_*``) telling the Python side which rare things to
do: log lines, rebuild the ``warmup_waiting`` text, finish. The unmet requirements of the
call are in bits ``U_* << UNMET_SHIFT`` and the newly met ones in ``U_* << MET_SHIFT``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# -- float slots (f) ---------------------------------------------------------------------
F_VOLUME = 0  # market volume, base units
F_NOTIONAL = 1  # market notional, quote currency
F_AFTER_S = 2  # seconds from first market data to the end of warmup (NaN until then)
F_BUCKET_SIZE = 3  # parameter (base units; <= 0 or NaN: use the notional bucket)
F_BUCKET_NOTIONAL = 4  # parameter (quote currency)
F_MAX_WARMUP_S = 5  # parameter max_warmup_secs (s)
F_LOG_INTERVAL_NS = 6  # log_interval_s * NS_PER_S (ns, as the reference computes it)
F_ELAPSED_S = 7  # output: seconds since the first market data at the last estimate
F_REMAINING_S = 8  # output: seconds until the timeout at the last estimate
F_BUCKETS = 9  # output: completed buckets (an integral float) at the last estimate
F_BUCKETS_AT_END = 10  # completed buckets when warmup ended (integral float)
F_KEY_BUCKETS = 11  # waiting-text key: buckets shown
F_KEY_REMAINING = 12  # waiting-text key: remaining seconds rounded as "%.0f" rounds
F_FIRST_BAD = 13  # output of the batch kernel: the first rejected value
NF = 14

# -- int slots (i) -----------------------------------------------------------------------
I_TRADES = 0  # valid market trades counted
I_FIRST_NS = 1  # receive time (ns) of the first market data event, -1 before
I_WARMED = 2  # 1 once warmed up
I_TIMED_OUT = 3  # 1 when warmup ended by the timeout
I_TRADES_AT_END = 4
I_ENDED_NS = 5  # engine time (ns) of the check that ended warmup, -1 before
I_LAST_LOG_NS = 6  # engine time (ns) of the last "waiting" log line
I_MIN_BUCKETS = 7  # parameter
I_MIN_TRADES = 8  # parameter
I_REQ_FIT = 9  # parameter require_kappa_market_fit (0/1)
I_REQ_GRAD = 10  # parameter require_kappa_graduation (0/1)
I_MET = 11  # requirements met so far (U_* bits; the reference's ``_met``)
I_WAIVED = 12  # requirements waived (U_FIT / U_GRAD bits; the reference's ``_waived``)
I_KEY_VALID = 13  # 1 when the waiting-text key below describes the current text
I_KEY_TRADES = 14  # waiting-text key: trades shown (-1: not shown)
I_KEY_UNMET = 15  # waiting-text key: unmet bits
NI = 16

# -- requirement bits (sorted as the reference logs them: kappa, kappa fit, trades, volume)
U_GRAD = 1  # "kappa" (own-fill graduation)
U_FIT = 2  # "kappa fit" (market-data kappa fit)
U_TRADES = 4  # "trades"
U_VOLUME = 8  # "volume"
UNMET_SHIFT = 16
MET_SHIFT = 24

# -- presence bits of the extras the estimate kernel is given ----------------------------
P_BOOK = 1  # extras["kappa.book_confidence"] present
P_ROBUST = 2  # extras["kappa.robust_confidence"] present
P_GRAD = 4  # extras["kappa.graduated"] present

# -- estimate kernel result bits ---------------------------------------------------------
R_DONE = 1  # already warmed up: nothing changed
R_FALLBACK = 2  # not decidable exactly here: nothing changed, run the reference
R_NO_DATA = 4  # waiting for the first market data
R_WAIT = 8  # waiting for requirements (text in the key slots)
R_TEXT = 16  # the waiting text changed: rebuild it
R_LOG = 32  # a "waiting" log line is due (I_LAST_LOG_NS updated)
R_READY = 64  # warmup ended now, requirements met
R_TIMEOUT = 128  # warmup ended now, by the timeout
R_WAIVE_FIT = 256  # log that the kappa-fit requirement is waived (first time)
R_WAIVE_GRAD = 512  # log that the graduation requirement is waived (first time)

_I64_MAX = np.iinfo(np.int64).max
_I64_MIN = np.iinfo(np.int64).min
_TWO63 = 9223372036854775808.0  # 2**63 as a float
_TWO53 = 9007199254740992  # 2**53: ints up to it convert to float exactly
_NS_PER_S_F = 1e9


@njit(cache=True)
def sub_fits(a: int, b: int) -> bool:
    """``a - b`` fits in int64 (Python ints never overflow; int64 does)."""
    if b < 0:
        return a <= _I64_MAX + b
    return a >= _I64_MIN + b


@njit(cache=True)
def int_ge_float(d: int, x: float) -> bool:
    """``d >= x`` compared exactly, as Python compares an int with a float (converting
    ``d`` to float would round above 2**53)."""
    if x != x:
        return False
    xc = np.ceil(x)  # a float (numba's math.ceil returns an int64)
    if xc >= _TWO63:
        return False
    if xc < -_TWO63:
        return True
    return bool(d >= np.int64(xc))


@njit(cache=True)
def integral_lt_int(q: float, m: int) -> bool:
    """``int(q) < m`` for a finite integral float ``q`` (exact, no rounding of ``m``)."""
    if q >= _TWO63:
        return False
    if q < -_TWO63:
        return True
    return bool(np.int64(q) < m)


@njit(cache=True)
def py_floordiv(vx: float, wx: float) -> float:
    """``vx // wx`` as CPython computes it for floats (``wx != 0``)."""
    mod = np.fmod(vx, wx)  # C fmod, as CPython (numba has no math.fmod)
    div = (vx - mod) / wx
    if mod != 0.0 and (wx < 0.0) != (mod < 0.0):
        mod += wx
        div -= 1.0
    floordiv: float
    if div != 0.0:
        floordiv = np.floor(div)  # a float (numba's math.floor returns an int64)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = math.copysign(0.0, vx / wx)
    return floordiv


@njit(cache=True)
def _count(f: np.ndarray, i: np.ndarray, px: float, sz: float) -> None:
    """A trade with finite, positive price and size (an overflowing sum is skipped)."""
    i[I_TRADES] += 1
    v = f[F_VOLUME] + sz
    if math.isfinite(v):
        f[F_VOLUME] = v
    n = f[F_NOTIONAL] + px * sz
    if math.isfinite(n):
        f[F_NOTIONAL] = n


@njit(cache=True)
def on_trade(f: np.ndarray, i: np.ndarray, px: float, sz: float, now_ns: int) -> int:
    """One market trade received at ``now_ns``: 1 if rejected (price or size not a finite
    positive number), else 0. The first market data time is set here too."""
    if i[I_FIRST_NS] < 0:
        i[I_FIRST_NS] = now_ns
    if 0.0 < px < math.inf and 0.0 < sz < math.inf:
        _count(f, i, px, sz)
        return 0
    return 1


@njit(cache=True)
def on_trades(
    f: np.ndarray, i: np.ndarray, px: np.ndarray, sz: np.ndarray, recv: np.ndarray
) -> int:
    """A trade batch (columns): the number of rejected rows; the first rejected value (the
    price when it is bad, else the size) goes to ``f[F_FIRST_BAD]``."""
    if i[I_FIRST_NS] < 0 and recv.shape[0] > 0:
        i[I_FIRST_NS] = recv[0]
    bad = 0
    for k in range(px.shape[0]):
        p = px[k]
        s = sz[k]
        if 0.0 < p < math.inf and 0.0 < s < math.inf:
            _count(f, i, p, s)
        else:
            if bad == 0:
                f[F_FIRST_BAD] = p if not 0.0 < p < math.inf else s
            bad += 1
    return bad


@njit(cache=True)
def _log_due(f: np.ndarray, i: np.ndarray, now_ns: int) -> int:
    """``R_LOG`` (and the log time updated) when ``log_interval_s`` has passed since the
    last waiting line, else 0. The caller checked that the subtraction fits."""
    if int_ge_float(now_ns - i[I_LAST_LOG_NS], f[F_LOG_INTERVAL_NS]):
        i[I_LAST_LOG_NS] = now_ns
        return R_LOG
    return 0


@njit(cache=True)
def estimate(
    f: np.ndarray,
    i: np.ndarray,
    now_ns: int,
    book_conf: float,
    robust_conf: float,
    graduated: float,
    present: int,
) -> int:
    """The warmup check at engine time ``now_ns`` (see the module doc for the result bits).

    ``book_conf`` / ``robust_conf`` / ``graduated`` are the kappa extras, meaningful only
    where their ``P_*`` bit is in ``present`` (an absent key waives its requirement).
    """
    if i[I_WARMED] != 0:
        return R_DONE
    if not sub_fits(now_ns, i[I_LAST_LOG_NS]):
        return R_FALLBACK
    first = i[I_FIRST_NS]
    if first < 0:
        return R_NO_DATA | _log_due(f, i, now_ns)
    # everything that could make the reference differ is checked before any write
    if not sub_fits(now_ns, first):
        return R_FALLBACK
    diff = now_ns - first
    if diff < 0:
        diff = 0
    if diff > _TWO53:
        return R_FALLBACK
    elapsed_s = diff / _NS_PER_S_F
    if f[F_BUCKET_SIZE] > 0.0:
        q = py_floordiv(f[F_VOLUME], f[F_BUCKET_SIZE])
    else:
        if f[F_BUCKET_NOTIONAL] == 0.0:
            return R_FALLBACK  # ZeroDivisionError in the reference
        q = py_floordiv(f[F_NOTIONAL], f[F_BUCKET_NOTIONAL])
    if not math.isfinite(q):
        return R_FALLBACK  # int() of inf / NaN raises in the reference
    trades = i[I_TRADES]
    code = 0
    unmet = 0
    if integral_lt_int(q, i[I_MIN_BUCKETS]):
        unmet |= U_VOLUME
    if trades < i[I_MIN_TRADES]:
        unmet |= U_TRADES
    waived = i[I_WAIVED]
    if i[I_REQ_FIT] != 0:
        if present & (P_BOOK | P_ROBUST) == 0:
            if waived & U_FIT == 0:
                waived |= U_FIT
                code |= R_WAIVE_FIT
        else:
            # max() of the present values, in the reference's order (NaN-sensitive)
            if present & P_BOOK:
                best = book_conf
                if present & P_ROBUST and robust_conf > best:
                    best = robust_conf
            else:
                best = robust_conf
            if not best > 0.0:
                unmet |= U_FIT
    if i[I_REQ_GRAD] != 0:
        if present & P_GRAD == 0:
            if waived & U_GRAD == 0:
                waived |= U_GRAD
                code |= R_WAIVE_GRAD
        elif not graduated >= 0.5:
            unmet |= U_GRAD
    i[I_WAIVED] = waived
    active = U_VOLUME | U_TRADES
    if i[I_REQ_FIT] != 0 and waived & U_FIT == 0:
        active |= U_FIT
    if i[I_REQ_GRAD] != 0 and waived & U_GRAD == 0:
        active |= U_GRAD
    newly = active & ~unmet & ~i[I_MET]
    i[I_MET] |= newly
    code |= (newly << MET_SHIFT) | (unmet << UNMET_SHIFT)
    f[F_ELAPSED_S] = elapsed_s
    f[F_BUCKETS] = q
    if unmet == 0 or elapsed_s >= f[F_MAX_WARMUP_S]:
        f[F_AFTER_S] = elapsed_s
        i[I_ENDED_NS] = now_ns
        i[I_WARMED] = 1
        i[I_TIMED_OUT] = 0 if unmet == 0 else 1
        i[I_TRADES_AT_END] = trades
        f[F_BUCKETS_AT_END] = q
        i[I_KEY_VALID] = 0
        return int(code | (R_READY if unmet == 0 else R_TIMEOUT))
    remaining = f[F_MAX_WARMUP_S] - elapsed_s
    f[F_REMAINING_S] = remaining
    key_q = q if unmet & U_VOLUME else -1.0
    key_t = trades if unmet & U_TRADES else -1
    key_r = np.rint(remaining)  # "%.0f" rounds half to even on the exact value, as rint
    if (
        i[I_KEY_VALID] == 0
        or i[I_KEY_UNMET] != unmet
        or f[F_KEY_BUCKETS] != key_q
        or i[I_KEY_TRADES] != key_t
        or f[F_KEY_REMAINING] != key_r  # NaN: always rebuilt
    ):
        i[I_KEY_VALID] = 1
        i[I_KEY_UNMET] = unmet
        f[F_KEY_BUCKETS] = key_q
        i[I_KEY_TRADES] = key_t
        f[F_KEY_REMAINING] = key_r
        code |= R_TEXT
    return int(code | R_WAIT | _log_due(f, i, now_ns))
