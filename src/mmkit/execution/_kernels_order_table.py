"""numba kernels over the executor twin's order table (:mod:`mmkit.execution.order_table`).

``track_rows(...)``: the tracking of a reconcile's sent cancels and modifies, written in
their rows straight from the reconcile kernel's output (see the function).

``send_table(...)``: a reconcile's sending without cancels (sort, weight, permit,
tracking) in one call (see the function).

``reconcile_send(...)``: a reconcile over the table and its sending in one call (see the
function).

``tape_marks_rows(...)``: the public tape's marks on our orders, read and written in their
rows (see the function).

``gather(tf, ti, rows, n, f, iv)``: the orders' records copied from their table rows
(``rows``: where each order's row starts in ``tf``, i.e. its row times ``NF``, in the
executor's order; ``tf`` / ``ti``: the table's ``array`` columns, which numba takes as
buffers) into the reconcile kernel's (``_kernels_reconciler_twin.reconcile_kernel``) order
regions of ``f`` and ``iv``: the head of each row (the kernel's ``OF`` floats and ``OI``
ints, which the table lays out first and in the same order), so no order is packed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from mmkit.execution import _kernels_permit as PK  # noqa: N812
from mmkit.execution import _kernels_reconciler_twin as K  # noqa: N812
from mmkit.execution.order_table import (
    F_FILLED,
    F_NEW_PX,
    F_NEW_SZ,
    F_PX,
    F_RISK,
    F_SENT_FILLED,
    F_SZ,
    I_BATCH,
    I_FATE_SEEN,
    I_KNOWN_TS,
    I_LEVEL,
    I_PENDING,
    I_REQ,
    I_RISK_TS,
    I_RISK_UNTIL,
    I_SIDE,
    I_STATE,
    N_STATES,
    NF,
    NI,
)
from mmkit.execution.rate_limit import MAX_BATCH

#: :func:`send_table`'s outcome when a cancel is among the ops (nothing done)
CANCELS = 5


@njit(cache=True)
def gather(tf: Any, ti: Any, rows: np.ndarray, n: int, f: np.ndarray, iv: np.ndarray) -> None:
    """Copy the first ``n`` orders' records (``rows[:n]``: where each row starts in ``tf``)
    into the reconcile kernel's order regions of ``f`` and ``iv`` (laid out as the kernel
    reads them)."""
    fo = K.FR_HEAD + K.DES * (iv[K.IR_NB] + iv[K.IR_NA])
    io = K.IR_HEAD
    for j in range(n):
        bf = rows[j]
        bi = (bf // NF) * NI
        for k in range(K.OF):
            f[fo + K.OF * j + k] = tf[bf + k]
        for k in range(K.OI):
            iv[io + K.OI * j + k] = ti[bi + k]


#: :func:`reconcile_send`'s result, added to the op count, when tape risks expired or a
#: side was held back (their counts are then in ``res``)
DETAILS = 1 << 32
#: ``res``'s slots: the tracking's first refused move (-1: none), the modifies, the places
#: (:func:`send_table`), the tape risks expired, the sides held back and the sending's
#: outcome code (``NOT_SENT``: no sending in the call)
R_BAD, R_MODIFIES, R_PLACES, R_EXPIRED, R_HELD, R_SENT = range(6)
NOT_SENT = -1


@njit(cache=True)
def reconcile_send(
    tf: Any,
    ti: Any,
    rows: np.ndarray,
    f: np.ndarray,
    iv: np.ndarray,
    of: np.ndarray,
    oi: np.ndarray,
    tol_bps: float,
    tol_frac: float,
    lot: float,
    min_notional: float,
    smart: int,
    maxp: float,
    pos: float,
    now: int,
    hwm: int,
    no: int,
    ng: int,
    nb: int,
    na: int,
    skip_b: int,
    skip_a: int,
    send: int,
    perm: np.ndarray,
    pf: np.ndarray,
    pi: np.ndarray,
    wt: np.ndarray,
    ww: np.ndarray,
    rid0: int,
    legal: Any,
    code_cancel: int,
    code_modify: int,
    res: np.ndarray,
) -> int:
    """A reconcile over the order table in one call: the reconcile kernel's headers
    written from the arguments (the caller has put the ladder's levels and the ghosts in
    ``f`` / ``iv``), the orders gathered from their rows (``rows[:no]``), the kernel
    run, the tape risks it found stale cleared in their rows (the reference's
    ``o.risk = 0.0``), and, when ``send`` and the kernel made ops, their sending
    (:func:`send_table`, its code in ``res[R_SENT]``; ``NOT_SENT`` otherwise). Returns the
    op count, plus :data:`DETAILS` when risks expired or a side was held back (counts in
    ``res``); -1, with nothing written in the table, where the reference must run."""
    f[K.FR_PRICE_BPS] = tol_bps
    f[K.FR_SIZE_FRAC] = tol_frac
    f[K.FR_LOT] = lot
    f[K.FR_MIN_NOTIONAL] = min_notional
    f[K.FR_MAXP] = maxp
    f[K.FR_POS] = pos
    iv[K.IR_SMART] = smart
    iv[K.IR_NOW] = now
    iv[K.IR_HWM] = hwm
    iv[K.IR_NO] = no
    iv[K.IR_NG] = ng
    iv[K.IR_NB] = nb
    iv[K.IR_NA] = na
    iv[K.IR_SKIP_B] = skip_b
    iv[K.IR_SKIP_A] = skip_a
    gather(tf, ti, rows, no, f, iv)
    k = K.reconcile_kernel(f, iv, of, oi)
    res[R_SENT] = NOT_SENT
    if k < 0:
        return k
    expired = oi[K.O_EXPIRED]
    res[R_EXPIRED] = expired
    res[R_HELD] = oi[K.O_HELD]
    if expired:
        # the kernel's "risk expired" flags: the last ``no`` ints of its scratch
        o_exp = K.IR_HEAD + K.OI * no + 2 * ng + 2 * (nb + na) + 2 * no
        for j in range(no):
            if iv[o_exp + j]:
                tf[rows[j] + F_RISK] = 0.0
    if k and send:
        res[R_SENT] = send_table(
            tf,
            ti,
            rows,
            of,
            oi,
            k,
            perm,
            pf,
            pi,
            wt,
            ww,
            now,
            rid0,
            legal,
            code_cancel,
            code_modify,
            res,
        )
    if expired or oi[K.O_HELD]:
        return k + DETAILS
    return k


@njit(cache=True, inline="always")
def _track_one(
    tf: Any,
    ti: Any,
    fb: int,
    kind: int,
    rid: int,
    px: float,
    sz: float,
    batch: int,
    legal: Any,
    code_cancel: int,
    code_modify: int,
) -> bool:
    """One sent cancel or modify written in its order's row (``fb``: where the row starts in
    ``tf``); False, with nothing written, when the order's state may not move there."""
    bi = (fb // NF) * NI
    to = K.S_CANCELING if kind == K.K_CANCEL else K.S_MODIFYING
    if legal[ti[bi + I_STATE] * N_STATES + to] == 0:
        return False
    ti[bi + I_STATE] = to
    if kind == K.K_CANCEL:
        ti[bi + I_LEVEL] = -1
        ti[bi + I_REQ] = rid
        ti[bi + I_PENDING] = code_cancel
    else:
        tf[fb + F_NEW_PX] = px
        tf[fb + F_NEW_SZ] = sz
        tf[fb + F_SENT_FILLED] = tf[fb + F_FILLED]
        ti[bi + I_FATE_SEEN] = 0
        ti[bi + I_BATCH] = batch
        ti[bi + I_REQ] = rid
        ti[bi + I_PENDING] = code_modify
    return True


@njit(cache=True)
def track_rows(
    tf: Any,
    ti: Any,
    rows: np.ndarray,
    of: np.ndarray,
    oi: np.ndarray,
    order: np.ndarray,
    n: int,
    rid0: int,
    legal: Any,
    code_cancel: int,
    code_modify: int,
) -> int:
    """``SmartExecutor._track_ops``'s writes for the sent cancels and modifies, for ops as
    the reconcile kernel wrote them (``of`` / ``oi``; an op's order starts at ``rows[j]``),
    sent in ``order`` (op indices, cancels then modifies then places), the ``p``-th with
    request id ``rid0 + p``; the batch is ``rid0``; ``legal``: the transition table
    (``order_table.LEGAL``). A cancel moves its order to CANCELING, detaches it (level -1)
    and records the request; a modify moves it to MODIFYING with its target, the fills seen
    at sending, no terminal word seen, the batch and the request. Stops at the first place
    (places make new orders: the caller's). Returns -1, or the position in ``order`` of the
    first op whose move is not legal (nothing of it written: the caller raises the
    reference's error there)."""
    for p in range(n):
        t = order[p]
        b = K.O_HEAD + K.OP_I * t
        kind = oi[b]
        if kind == K.K_PLACE:
            return -1
        fb = rows[oi[b + 3]]
        if not _track_one(
            tf,
            ti,
            fb,
            kind,
            rid0 + p,
            of[K.OP_F * t],
            of[K.OP_F * t + 1],
            rid0,
            legal,
            code_cancel,
            code_modify,
        ):
            return p
    return -1


@njit(cache=True)
def _kind_weight(n: int) -> int:
    """IP weight of ``n`` orders of one kind sent in requests of at most ``MAX_BATCH``
    (``rate_limit.batches_weight(n, MAX_BATCH)``; 0 for none)."""
    if n <= 0:
        return 0
    full = n // MAX_BATCH
    rest = n - full * MAX_BATCH
    w = full * (1 + MAX_BATCH // 40)
    if rest:
        w += 1 + rest // 40
    return w


@njit(cache=True)
def send_table(
    tf: Any,
    ti: Any,
    rows: np.ndarray,
    of: np.ndarray,
    oi: np.ndarray,
    k: int,
    perm: np.ndarray,
    pf: np.ndarray,
    pi: np.ndarray,
    wt: np.ndarray,
    ww: np.ndarray,
    now: int,
    rid0: int,
    legal: Any,
    code_cancel: int,
    code_modify: int,
    res: np.ndarray,
) -> int:
    """The sending of a reconcile's ``k`` ops as the reconcile kernel wrote them, when
    none is a cancel: ``perm`` gets the sending order (modifies, then places, each in the
    kernel's order: the reference's stable sort), the batch is weighed as the venue client
    sends it (``rate_limit.batch_ip_weight``: modifies and places in requests of at most
    ``MAX_BATCH``; a cycle's places share one time in force), admitted, spent and recorded
    by the permit (:func:`~mmkit.execution._kernels_permit.permit`, whose outcome code this
    returns; the 429 check is the caller's: the reconcile returns before it when a 429
    pause is on), and when admitted the modifies are tracked in their rows
    (:func:`track_rows`: ``res[0]`` is -1, or the position of the first move it refused).
    ``res[1]`` / ``res[2]``: the modifies and the places. ``CANCELS`` (nothing done)
    when a cancel is among the ops: whether each goes by oid or by cloid (its weight) is
    an attribute of its Python order, so the caller sends them."""
    # the counts start from a variable: from the constant 0, numba would compile the
    # helpers they are passed to once more, for that constant
    n_mod = k - k
    n_place = k - k
    for t in range(k):
        kind = oi[K.O_HEAD + K.OP_I * t]
        if kind == K.K_CANCEL:
            return CANCELS
        if kind == K.K_MODIFY:
            n_mod += 1
        else:
            n_place += 1
    m = 0
    p = n_mod
    for t in range(k):
        if oi[K.O_HEAD + K.OP_I * t] == K.K_MODIFY:
            perm[m] = t
            m += 1
        else:
            perm[p] = t
            p += 1
    res[1] = n_mod
    res[2] = n_place
    weight = _kind_weight(n_mod) + _kind_weight(n_place)
    normal = k < 0  # False, as a variable: a constant would compile permit once more
    code = PK.permit(pf, pi, wt, ww, now, weight, k, normal, normal)
    if code & PK.OUTCOME == PK.OK:
        res[0] = track_rows(
            tf, ti, rows, of, oi, perm, n_mod, rid0, legal, code_cancel, code_modify
        )
    return code


@njit(cache=True, inline="always")
def _mark(
    tf: Any,
    ti: Any,
    rows: np.ndarray,
    n: int,
    ts: int,
    p: float,
    s: float,
    aggressor: int,
    until: int,
    code_modify: int,
    touched: np.ndarray,
) -> int:
    """One print ``(ts, p, s, aggressor)`` (the deadline it sets: ``until``) against the
    ``n`` orders whose rows start at ``rows[:n]``, as ``SmartExecutor._tape_marks`` marks
    them (its loop over the live orders for one row): the orders marked flagged in
    ``touched``; returns how many it marked from no risk. An order's price for the tape
    and the size it may fill for are computed from its row as ``TrackedOrder.tape_px``
    and the reference compute them."""
    new_risks = 0
    if not (s > 0.0 and p > 0.0 and math.isfinite(p) and math.isfinite(s)):
        return 0
    for j in range(n):
        fb = rows[j]
        bi = (fb // NF) * NI
        if ti[bi + I_STATE] == K.S_DONE:
            continue
        oside = ti[bi + I_SIDE]
        if oside == aggressor:
            continue
        opx = tf[fb + F_PX]
        modifying = ti[bi + I_PENDING] == code_modify
        new_px = tf[fb + F_NEW_PX]
        # Python's max(px, new_px) for a bid, min for an ask: the first unless the second
        # is strictly beyond it
        beyond = (new_px > opx) if oside == 1 else (new_px < opx)
        if modifying and new_px > 0.0 and beyond:
            opx = new_px
        hit = p <= opx if oside == 1 else p >= opx
        if not hit or ts < ti[bi + I_KNOWN_TS]:
            continue
        most = tf[fb + F_SZ]
        if modifying:
            new_sz = tf[fb + F_NEW_SZ]
            if new_sz > most:  # Python's max(sz, new_sz)
                most = new_sz
        risk = tf[fb + F_RISK]
        if risk < most:
            if risk <= 0.0:
                new_risks += 1
            risk = risk + s
            tf[fb + F_RISK] = risk if risk < most else most  # Python's min(most, risk)
        if until > ti[bi + I_RISK_UNTIL]:
            ti[bi + I_RISK_UNTIL] = until
        if ts > ti[bi + I_RISK_TS]:
            ti[bi + I_RISK_TS] = ts
        touched[j] = 1
    return new_risks


@njit(cache=True)
def _fits(t: int, tape_ns: int) -> bool:
    """Whether ``t + tape_ns`` stays within int64 (the reference's Python integers would
    not overflow where it does not)."""
    if tape_ns >= 0:
        return t <= K._INT64_MAX - tape_ns
    return t >= K._INT64_MIN - tape_ns


@njit(cache=True)
def _touched(touched: np.ndarray, n: int) -> int:
    """How many of the ``n`` orders are flagged in ``touched``."""
    c = 0
    for j in range(n):
        c += touched[j]
    return c


@njit(cache=True)
def tape_marks_rows(
    tf: Any,
    ti: Any,
    rows: np.ndarray,
    n: int,
    times: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    side: np.ndarray,
    recv: np.ndarray,
    tape_ns: int,
    code_modify: int,
    touched: np.ndarray,
    res: np.ndarray,
) -> int:
    """``SmartExecutor._tape_marks`` over the prints of the columns (``times, px, sz,
    side, recv``) and the ``n`` orders whose rows start at ``rows[:n]``, read and written
    in their rows (:func:`_mark`: each print in order against each order in order).
    ``touched[j]`` is 1 for an order a print marked (its ``risk_rid`` and ``risk_oid``,
    object fields, are the caller's to set), and ``res[0]`` how many were. Returns the
    new risks (orders marked from no risk), or -1 with nothing written where a receive
    time plus ``tape_ns`` leaves int64 (the reference runs instead)."""
    for r in range(recv.shape[0]):
        if not _fits(recv[r], tape_ns):
            return -1
    for j in range(n):
        touched[j] = 0
    new_risks = 0
    for r in range(times.shape[0]):
        new_risks += _mark(
            tf,
            ti,
            rows,
            n,
            times[r],
            px[r],
            sz[r],
            side[r],
            recv[r] + tape_ns,
            code_modify,
            touched,
        )
    res[0] = _touched(touched, n)
    return new_risks
