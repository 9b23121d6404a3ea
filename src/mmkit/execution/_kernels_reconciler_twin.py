"""numba kernels of the smart executor's compiled twin (issue 20): the reconcile core
(worst-case exposure, occupied levels, level debts, both sides' ladder diff, backoff hold)
and the public tape's marks on our orders, over packed arrays.

Everything here mirrors ``SmartExecutor._reconcile`` (up to the sending),
:mod:`mmkit.execution.reconciler` (``diff_side``, ``floor_lot``) and
``SmartExecutor._tape_marks`` operation by operation, in the same order, so that the
results are bit-identical (no fastmath, no reassociation: ``a + b + c`` stays ``(a + b) + c``
and ``a + (b + c)`` stays so). Python's ``min(a, b)`` / ``max(a, b)`` are spelled out (they
return ``a`` unless ``b`` is strictly smaller / larger, which matters for NaN), and so is its
``round(x, 12)`` (:func:`round12`). A kernel that meets an input the reference would raise
on (a lot size that is not a positive finite number, a ``floor`` of infinity, an int64
overflow) returns ``-1`` and the caller runs the reference instead, so errors stay the
reference's.

Records (the caller packs each object's fields in one go):

* desired level (``DES`` floats): ``px, sz``;
* order, floats (``OF``): ``sz, new_sz, risk, px, filled, cap, orig_sz``;
* order, ints (``OI``): ``state, side (+1/-1), level, home, risk_until_ns, risk_ts``;
* op out: ints (``OP_I``) ``kind, side, level, order index (-1: none)``, floats (``OP_F``)
  ``px, sz``; ops come in the reference's emission order (the caller sorts by kind).

``reconcile_kernel(f, iv, of, oi) -> n_ops`` (``no`` orders, ``ng`` ghosts, ``nb``/``na``
bids/asks):
    ``f``: ``[price_bps, size_frac, lot, min_notional, max_position, position]``, bids,
    asks, orders, ghosts' ``unseen``, scratch ``nb + na`` (level debts);
    ``iv``: ``[smart, now_ns, fill_hwm, no, ng, nb, na, skip_buy, skip_sell]``, orders,
    ghosts ``(side, home)``, scratch ``2 (nb + na) + 3 no``;
    ``oi``: ``[n_ops, risks expired, sides held back, 0]`` then the ops; the per-order
    "risk expired" flags are the last ``no`` scratch ints of ``iv``.

``diff_side_kernel(f, iv, of, oi) -> n_ops`` (one side, ``n`` levels, ``m`` resting):
    ``f``: ``[price_bps, size_frac, lot, min_notional, cap]``, levels, debts[n], orders;
    ``iv``: ``[smart, n, m, side]``, occupied flags[n], orders, scratch ``m + n``;
    ``oi``: ``[n_ops, 0, 0, 0]`` then the ops.

``tape_marks_kernel(times, px, sz, side, recv, of, oi) -> status``
    the batch's columns, then per live order ``of``: ``(price, most, risk)``, ``oi``:
    ``(side, known_ts, risk_until_ns, risk_ts, touched)`` after the header
    ``[n_orders, new_risks (out), tape_risk_ns]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.deferred_kernels import kernel_on_first_use

#: op kinds (the values of ``reconciler.OpKind``)
K_CANCEL = 0
K_MODIFY = 1
K_PLACE = 2
#: order states (the values of ``order_state.OrderState``)
S_PLACING = 1
S_RESTING = 2
S_MODIFYING = 3
S_CANCELING = 4
S_UNKNOWN = 5
S_AWAITING_FATE = 6
S_DONE = 7
#: record sizes and fields
DES = 2
OF = 7
OF_SZ, OF_NEW_SZ, OF_RISK, OF_PX, OF_FILLED, OF_CAP, OF_ORIG = range(OF)
OI = 6
OI_STATE, OI_SIDE, OI_LEVEL, OI_HOME, OI_UNTIL, OI_RISK_TS = range(OI)
OP_I = 4
OP_F = 2
#: the op output header in ``oi``
O_N, O_EXPIRED, O_HELD = 0, 1, 2
O_HEAD = 4
# ---- reconcile_kernel headers ----
FR_PRICE_BPS, FR_SIZE_FRAC, FR_LOT, FR_MIN_NOTIONAL, FR_MAXP, FR_POS = range(6)
FR_HEAD = 6
IR_SMART, IR_NOW, IR_HWM, IR_NO, IR_NG, IR_NB, IR_NA, IR_SKIP_B, IR_SKIP_A = range(9)
IR_HEAD = 9
# ---- diff_side_kernel headers ----
FD_CAP = 4
FD_HEAD = 5
ID_SMART, ID_N, ID_M, ID_SIDE = range(4)
ID_HEAD = 4

# ---- tape_marks_kernel ----
T_N = 0
T_NEW_RISKS = 1
T_TAPE_NS = 2
T_HEAD = 3
#: per order: floats (price, most, risk), ints (side, known_ts, risk_until, risk_ts, touched)
TO_F = 3
TO_I = 5

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min
#: at and above this a double's spacing exceeds 1e-12: rounding to 12 decimals gives it back
_ROUND12_IDENTITY = 8192.0
_SPLIT = 134217729.0  # 2**27 + 1: Dekker's split of a double into two 26-bit halves


@njit(cache=True)
def _two_prod_err(a: float, b: float, p: float) -> float:
    """The exact error ``a * b - p`` of the rounded product ``p = fl(a * b)`` (Dekker's
    TwoProduct, exact in IEEE double arithmetic without fma, barring overflow)."""
    c = _SPLIT * a
    ah = c - (c - a)
    al = a - ah
    d = _SPLIT * b
    bh = d - (d - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True)
def round12(v: float) -> float:
    """Python's ``round(v, 12)`` for ``v >= 0`` (what ``floor_lot`` returns), bit for bit.

    Python rounds the exact binary value of ``v`` to 12 decimals (ties to even) and returns
    the double nearest that decimal. Here: ``v * 1e12`` exactly (rounded product + its
    TwoProduct error), its nearest integer ``k`` with ties to even, then ``k / 1e12`` (a
    correctly rounded division of two exact doubles: the double nearest ``k * 1e-12``).
    Valid for ``v < 8192`` (``v * 1e12 < 2**53``: ``k`` is exact); from 8192 up a double's
    spacing is above 1e-12, so the nearest double to the rounded decimal is ``v`` itself."""
    if not v < _ROUND12_IDENTITY:  # also inf / NaN: returned as they are, as Python does
        return v
    y = v * 1e12
    err = _two_prod_err(v, 1e12, y)
    fy = np.floor(y)
    d = ((y - fy) - 0.5) + err  # sign of (exact fraction - 1/2): both steps are exact
    if d > 0.0:
        k = fy + 1.0
    elif d < 0.0 or np.floor(0.5 * fy) * 2.0 == fy:  # below a half, or a tie to an even fy
        k = fy
    else:
        k = fy + 1.0
    out: float = k / 1e12
    return out


@njit(cache=True)
def floor_lot_k(sz: float, lot: float) -> float:
    """``reconciler.floor_lot`` for a positive finite ``lot``; ``-1.0`` where the reference
    raises (``math.floor`` of infinity: ``sz / lot`` overflowed)."""
    if not (math.isfinite(sz) and sz > 0):
        return 0.0
    x = sz / lot + 1e-9
    if not math.isfinite(x):
        return -1.0
    return round12(np.floor(x) * lot)


@kernel_on_first_use(
    "int64(int64[::1], float64[::1], int64, int64, int64, int64, int64, float64, float64)",
    cache=True,
)  # explicit: called with constant kinds, compiled once (not once per constant)
def _emit(
    oi: np.ndarray,
    of: np.ndarray,
    k: int,
    kind: int,
    side: int,
    lv: int,
    j: int,
    px: float,
    sz: float,
) -> int:
    b = O_HEAD + k * OP_I
    oi[b] = kind
    oi[b + 1] = side
    oi[b + 2] = lv
    oi[b + 3] = j
    of[k * OP_F] = px
    of[k * OP_F + 1] = sz
    return k + 1


@njit(cache=True, inline="always")
def _in_place(price_ok: bool, target: float, osz: float, size_frac: float, room: float) -> bool:
    """The reference's "leave this order as it is" test: its price within tolerance, its
    size ``osz`` within ``size_frac`` below ``target`` (and not above it, up to 1e-12) and
    no position room overdrawn. Run-time arguments only (one compiled version)."""
    return (
        price_ok and target * (1.0 - size_frac) <= osz and osz <= target + 1e-12 and room >= -1e-12
    )


@kernel_on_first_use(
    "int64(float64[::1], int64, float64[::1], int64[::1], int64[::1], int64[::1], int64,"
    " float64[::1], int64[::1], float64, float64, float64, float64, float64, boolean, int64,"
    " int64[::1], float64[::1], int64)",
    cache=True,
)  # explicit: called with constant op counts, compiled once (not once per constant)
def _diff(
    des: np.ndarray,
    n: int,
    debt: np.ndarray,
    occ: np.ndarray,
    by: np.ndarray,
    ridx: np.ndarray,
    m: int,
    orf: np.ndarray,
    ori: np.ndarray,
    cap: float,
    price_bps: float,
    size_frac: float,
    lot: float,
    min_notional: float,
    smart: bool,
    side: int,
    oi: np.ndarray,
    of: np.ndarray,
    k: int,
) -> int:
    """``reconciler.diff_side`` of one side: levels ``des``, resting orders ``ridx`` (indices
    of order records), appending its ops at ``k``; returns the new op count, or -1 where
    the reference raises (``lot`` checked by the caller)."""
    px_tol = price_bps * 1e-4
    for i in range(n):
        by[i] = -1
    room = cap
    for t in range(m):
        j = ridx[t]
        room -= orf[j * OF + OF_SZ] + orf[j * OF + OF_RISK]
        lv = ori[j * OI + OI_LEVEL]
        if 0 <= lv < n and by[lv] < 0 and occ[lv] == 0:
            by[lv] = j
        else:
            k = _emit(oi, of, k, K_CANCEL, side, lv, j, 0.0, 0.0)
    for i in range(n):
        if occ[i] != 0:
            continue
        j = by[i]
        qpx = des[DES * i]
        qsz = des[DES * i + 1]
        owed = debt[i]
        if owed > 0.0:
            qsz = floor_lot_k(qsz - owed, lot)
            if qsz < 0.0:
                return -1
        if j < 0:
            if qsz <= room:
                target = qsz
            else:  # floor_lot_k gives 0.0 for room <= 0 (or NaN): the reference's else
                target = floor_lot_k(room, lot)
                if target < 0.0:
                    return -1
            if target > 0 and target * qpx >= min_notional:
                k = _emit(oi, of, k, K_PLACE, side, i, -1, qpx, target)
                room -= target
            continue
        r = j * OF
        osz = orf[r + OF_SZ]
        risk = orf[r + OF_RISK]
        filled = orf[r + OF_FILLED]
        want = qsz - filled
        limit = osz + room
        if want <= limit:
            target = want
        else:
            target = floor_lot_k(limit, lot)
            if target < 0.0:
                return -1
        if target <= 0 or target * qpx < min_notional:
            k = _emit(oi, of, k, K_CANCEL, side, i, j, 0.0, 0.0)
            continue
        price_ok = abs(orf[r + OF_PX] - qpx) <= px_tol * qpx
        if _in_place(price_ok, target, osz, size_frac, room):
            continue
        exposed = filled + risk
        if exposed > 0.0:
            ocap = orf[r + OF_CAP]
            if ocap > 0.0:
                size_cap = ocap
            else:
                size_cap = orf[r + OF_ORIG]
                alt = osz + filled
                if alt > size_cap:
                    size_cap = alt
            most = target - risk
            alt = size_cap - exposed
            if alt < most:
                most = alt
            most = floor_lot_k(most, lot)  # 0.0 for most <= 0 (or NaN), as the reference
            if most < 0.0:
                return -1
            if most <= 0 or most * qpx < min_notional or most < target * (1.0 - size_frac):
                k = _emit(oi, of, k, K_CANCEL, side, i, j, 0.0, 0.0)
                continue
            target = most
            if _in_place(price_ok, target, osz, size_frac, room):
                continue
        if smart:
            k = _emit(oi, of, k, K_MODIFY, side, i, j, qpx, target)
            if target > osz:
                room -= target - osz
        else:
            k = _emit(oi, of, k, K_CANCEL, side, i, j, 0.0, 0.0)
            if room > 0:
                fl = floor_lot_k(room, lot)
                if fl < 0.0:
                    return -1
                again = target
                if fl < again:
                    again = fl
            else:
                again = 0.0
            if again > 0 and again * qpx >= min_notional:
                k = _emit(oi, of, k, K_PLACE, side, i, -1, qpx, again)
                room -= again
    return k


@njit(cache=True)
def diff_side_kernel(f: np.ndarray, iv: np.ndarray, of: np.ndarray, oi: np.ndarray) -> int:
    """``reconciler.diff_side`` over the packed arrays (module docstring); returns the
    number of ops written, or -1 where the reference must run (it would raise)."""
    lot = f[FR_LOT]
    if not (lot > 0.0 and math.isfinite(lot)):
        return -1
    n = iv[ID_N]
    m = iv[ID_M]
    o_des = FD_HEAD
    o_debt = o_des + DES * n
    o_orf = o_debt + n
    o_occ = ID_HEAD
    o_ori = o_occ + n
    o_ridx = o_ori + OI * m
    o_by = o_ridx + m
    for t in range(m):
        iv[o_ridx + t] = t
    k = _diff(
        f[o_des:o_debt],
        n,
        f[o_debt:o_orf],
        iv[o_occ:o_ori],
        iv[o_by : o_by + n],
        iv[o_ridx:o_by],
        m,
        f[o_orf:],
        iv[o_ori:o_ridx],
        f[FD_CAP],
        f[FR_PRICE_BPS],
        f[FR_SIZE_FRAC],
        lot,
        f[FR_MIN_NOTIONAL],
        iv[ID_SMART] != 0,
        iv[ID_SIDE],
        oi,
        of,
        0,
    )
    oi[O_N] = k
    return k


@njit(cache=True)
def reconcile_kernel(f: np.ndarray, iv: np.ndarray, of: np.ndarray, oi: np.ndarray) -> int:
    """``SmartExecutor._reconcile`` from the order book to the ops (module docstring):
    expire stale tape risks, sum each side's in-flight exposure, mark occupied levels and
    level debts (detached orders, ghosts), diff both sides, hold a side in rejection
    backoff to its cancels. Returns the number of ops, or -1 where the reference must run."""
    lot = f[FR_LOT]
    if not (lot > 0.0 and math.isfinite(lot)):
        return -1
    now = iv[IR_NOW]
    hwm = iv[IR_HWM]
    no = iv[IR_NO]
    ng = iv[IR_NG]
    nb = iv[IR_NB]
    na = iv[IR_NA]
    # float regions
    o_bids = FR_HEAD
    o_asks = o_bids + DES * nb
    o_orf = o_asks + DES * na
    o_gun = o_orf + OF * no
    o_debt_b = o_gun + ng
    o_debt_a = o_debt_b + nb
    # int regions
    o_ori = IR_HEAD
    o_gi = o_ori + OI * no
    o_occ_b = o_gi + 2 * ng
    o_occ_a = o_occ_b + nb
    o_by_b = o_occ_a + na
    o_by_a = o_by_b + nb
    o_rb = o_by_a + na
    o_ra = o_rb + no
    o_exp = o_ra + no
    for i in range(nb):
        f[o_debt_b + i] = 0.0
        iv[o_occ_b + i] = 0
    for i in range(na):
        f[o_debt_a + i] = 0.0
        iv[o_occ_a + i] = 0
    n_rb = 0
    n_ra = 0
    busy_b = 0.0
    busy_a = 0.0
    expired = 0
    for j in range(no):
        rf = o_orf + OF * j
        ri = o_ori + OI * j
        iv[o_exp + j] = 0
        st = iv[ri + OI_STATE]
        is_buy = iv[ri + OI_SIDE] == 1
        risk = f[rf + OF_RISK]
        if risk != 0.0 and (now >= iv[ri + OI_UNTIL] or hwm > iv[ri + OI_RISK_TS]):
            f[rf + OF_RISK] = 0.0
            risk = 0.0
            iv[o_exp + j] = 1
            expired += 1
        lv = iv[ri + OI_LEVEL]
        sz = f[rf + OF_SZ]
        if st == S_RESTING:
            if is_buy:
                iv[o_rb + n_rb] = j
                n_rb += 1
            else:
                iv[o_ra + n_ra] = j
                n_ra += 1
            if lv >= 0:
                continue
            worst = sz
        elif st != S_DONE:
            worst = sz
            if st == S_MODIFYING or st == S_UNKNOWN:  # noqa: SIM109 (numba: plain compares)
                nsz = f[rf + OF_NEW_SZ]
                if nsz > sz:
                    worst = nsz
            if is_buy:
                busy_b += worst + risk
            else:
                busy_a += worst + risk
            if lv >= 0:
                if st != S_CANCELING:
                    if is_buy:
                        if lv < nb:
                            iv[o_occ_b + lv] = 1
                    elif lv < na:
                        iv[o_occ_a + lv] = 1
                continue
        else:
            continue
        home = iv[ri + OI_HOME]
        if home >= 0:
            if is_buy:
                if home < nb:
                    f[o_debt_b + home] = f[o_debt_b + home] + worst + risk
            elif home < na:
                f[o_debt_a + home] = f[o_debt_a + home] + worst + risk
    for g in range(ng):
        unseen = f[o_gun + g]
        home = iv[o_gi + 2 * g + 1]
        if iv[o_gi + 2 * g] == 1:
            busy_b += unseen
            if 0 <= home < nb:
                f[o_debt_b + home] = f[o_debt_b + home] + unseen
        else:
            busy_a += unseen
            if 0 <= home < na:
                f[o_debt_a + home] = f[o_debt_a + home] + unseen
    maxp = f[FR_MAXP]
    pos = f[FR_POS]
    smart = iv[IR_SMART] != 0
    k = 0
    held = 0
    for s in range(2):
        if s == 0:
            side, n, m, cap = 1, nb, n_rb, maxp - pos - busy_b
            o_des, o_debt, o_occ, o_by, o_r = o_bids, o_debt_b, o_occ_b, o_by_b, o_rb
            skip = iv[IR_SKIP_B] != 0
        else:
            side, n, m, cap = -1, na, n_ra, maxp + pos - busy_a
            o_des, o_debt, o_occ, o_by, o_r = o_asks, o_debt_a, o_occ_a, o_by_a, o_ra
            skip = iv[IR_SKIP_A] != 0
        if n == 0 and m == 0:
            continue
        k0 = k
        k = _diff(
            f[o_des : o_des + DES * n],
            n,
            f[o_debt : o_debt + n],
            iv[o_occ : o_occ + n],
            iv[o_by : o_by + n],
            iv[o_r : o_r + m],
            m,
            f[o_orf:o_gun],
            iv[o_ori:o_gi],
            cap,
            f[FR_PRICE_BPS],
            f[FR_SIZE_FRAC],
            lot,
            f[FR_MIN_NOTIONAL],
            smart,
            side,
            oi,
            of,
            k,
        )
        if k < 0:
            return -1
        if skip and k > k0:
            kept = k0
            for t in range(k0, k):
                b = O_HEAD + t * OP_I
                if oi[b] == K_CANCEL:
                    kept = _emit(oi, of, kept, K_CANCEL, side, oi[b + 2], oi[b + 3], 0.0, 0.0)
            if kept != k:
                held += 1
            k = kept
    oi[O_N] = k
    oi[O_EXPIRED] = expired
    oi[O_HELD] = held
    return k


@njit(cache=True)
def tape_marks_kernel(
    times: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    side: np.ndarray,
    recv: np.ndarray,
    of: np.ndarray,
    oi: np.ndarray,
) -> int:
    """``SmartExecutor._tape_marks`` over a batch's columns and the live orders packed in
    ``of`` / ``oi`` (module docstring): rows in order, orders in order, the same updates.
    Returns 0, or -1 (nothing written) where a receive time plus ``tape_risk_ns`` leaves
    int64 (Python's integers would not overflow: the reference runs instead)."""
    n_orders = oi[T_N]
    tape_ns = oi[T_TAPE_NS]
    rows = times.shape[0]
    for r in range(rows):
        t = recv[r]
        if tape_ns >= 0:
            if t > _INT64_MAX - tape_ns:
                return -1
        elif t < _INT64_MIN - tape_ns:
            return -1
    new_risks = 0
    for r in range(rows):
        p = px[r]
        s = sz[r]
        if not (s > 0.0 and p > 0.0 and math.isfinite(p) and math.isfinite(s)):
            continue
        ts = times[r]
        aggressor = side[r]
        until = recv[r] + tape_ns
        for j in range(n_orders):
            bi = T_HEAD + j * TO_I
            bf = j * TO_F
            oside = oi[bi]
            if oside == aggressor:
                continue
            opx = of[bf]
            hit = p <= opx if oside == 1 else p >= opx
            if not hit or ts < oi[bi + 1]:
                continue
            most = of[bf + 1]
            risk = of[bf + 2]
            if risk < most:
                if risk <= 0.0:
                    new_risks += 1
                risk = risk + s
                of[bf + 2] = risk if risk < most else most  # Python's min(most, risk)
            if until > oi[bi + 2]:
                oi[bi + 2] = until
            if ts > oi[bi + 3]:
                oi[bi + 3] = ts
            oi[bi + 4] = 1
    oi[T_NEW_RISKS] = new_risks
    return 0
