"""The smart executor's compiled twin (issue 20; see docs/twins.md).

:class:`SmartExecutorTwin` is a :class:`~mmkit.execution.smart_executor.SmartExecutor`
whose array-shaped hot parts run as numba kernels
(:mod:`mmkit.execution._kernels_reconciler_twin`):

* the **reconcile core** (``_reconcile`` up to the sending): stale tape risks expired, each
  side's in-flight exposure, occupied levels, level debts of detached orders and ghosts,
  both sides' ladder diff (no-overfill sizing, worst-case clipping, tolerances, smart or
  cancel-replace) and the rejection-backoff hold, in **one** kernel call over the order
  book packed as records; the ops are mapped back to the same
  :class:`~mmkit.execution.reconciler.Op` tuples (the same ``TrackedOrder`` objects) and
  sent by the reference's own ``_send_ops`` (same actions, cloids, request ids, tracking);
* ``diff`` (one side, ``reconciler.diff_side``'s arguments): the same kernel code;
* the **public tape's marks** on our orders for a trade batch (``on_trades``): one kernel
  call over the batch's numpy columns instead of a Python loop over rows x orders (for
  batches with rows x live orders below :attr:`SmartExecutorTwin.tape_kernel_min_work` the
  reference's loop, which is cheaper there and gives the same result).

* the **permit** (``_permit``): the rate tracker's check, the budget's spend and the
  record in one kernel call (:mod:`mmkit.execution._kernels_permit`), the rate tracker and
  the budget being the reference's classes over arrays
  (:mod:`mmkit.execution.permit_arrays`): ~7 -> ~2 µs of a quoting cycle that sends.

Everything else (order tracking, venue answers, backoffs, sending) is the
reference's, inherited unchanged: the order state stays in ``TrackedOrder`` objects that
every audit and report reads. The twin is exact: every action (type, order, cloids, prices,
sizes) and every public attribute equals the reference's after every event;
:func:`outputs_differ` is the comparison the tests (and the audit) use. Inputs the kernels
cannot take as the reference does (a lot that is not a positive finite number, an overflow,
a value numpy refuses) run the reference's Python for that call (counted in
``twin_fallbacks``), so errors and results stay the reference's.

**The order table** (:meth:`SmartExecutorTwin.use_table`; by default chosen at the first
reconcile, for a ladder of two levels a side or more: :attr:`SmartExecutorTwin.order_table`;
step 1 of the compiled loop in ``docs/twins.md``): the orders' numeric fields live in an
:class:`~mmkit.execution.order_table.OrderTable` and the orders are views over its rows, so
a reconcile is one kernel call
(:func:`~mmkit.execution._kernels_order_table.reconcile_send`: the orders read in their
rows, the ladder's numbers written to the kernel's buffer only when they are new, the
stale tape risks cleared and, without a cancel among the ops, the sending's sort, weight,
permit and tracking), the ops stay rows from which the actions are built
(:meth:`SmartExecutorTwin._fused_sent`; with a cancel, :meth:`SmartExecutorTwin._send_rows`:
the cancels and modifies tracked by ``track_rows``), the public tape's marks are
made in the rows (``tape_marks_rows``, a single trade as columns of one row;
against fewer than :attr:`SmartExecutorTwin.table_marks_min_orders` orders the
reference's on the views, cheaper there), and a ladder's numbers are read as levels
(:meth:`~mmkit.components.Ladder.levels`); every other path is the reference's Python on
the views.

Speed: the kernels themselves take well under a microsecond; what a reconcile costs is the
Python around them. With the order table a reconcile is one kernel call with nothing
packed but a new ladder side: a quiet reconcile of ten orders takes ~4.9 µs (8.6 as two
calls with their arguments packed; 2026-12-07, ``docs/twins.md``), but the views cost the
answers' paths 12-15 %. Without it, packing the Python order objects into arrays on every
call costs more than the reference's own Python diff at every ladder size measured (1 to
30 levels a side), so that path runs the reference's diff unless
:attr:`SmartExecutorTwin.reconcile_in_kernel` is set.
The tape marks pay (a 50-row batch against 6 orders: ~44 -> ~6 µs) and run in the kernel
from :attr:`SmartExecutorTwin.tape_kernel_min_work`. The kernels take plain record arrays
so that a compiled engine loop holding the order book in arrays can call them directly;
:meth:`SmartExecutorTwin.use_kernels_always` switches every kernel on, and the audit's
equivalence checks do so.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.components import Ladder, Levels, View
from mmkit.core.actions import Action, Cancel, Modify, Place
from mmkit.core.entry_points import entry_for
from mmkit.core.events import TradeBatch
from mmkit.core.records import new_record
from mmkit.core.types import BUY, SELL, Instrument, Side
from mmkit.execution import _kernels_order_table as KT  # noqa: N812
from mmkit.execution import _kernels_permit as KP  # noqa: N812
from mmkit.execution import _kernels_reconciler_twin as K  # noqa: N812
from mmkit.execution.order_state import OrderState, Pending
from mmkit.execution.order_table import CODE_CANCEL, CODE_MODIFY, LEGAL, OrderTable, TableOrder
from mmkit.execution.orders import TrackedOrder
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.pending import OrderRequest, new_order_request
from mmkit.execution.permit_arrays import (
    PermitArrays,
    permit_arrays,
    permit_stand_ins,
    permit_state,
)
from mmkit.execution.rate_limit import batch_ip_weight, log_ip_warning
from mmkit.execution.reconciler import Op, OpKind, Tolerances, diff_levels
from mmkit.execution.smart_executor import SmartExecutor

__all__ = ["SmartExecutorTwin", "actions_differ", "outputs_differ"]

_KINDS = (OpKind.CANCEL, OpKind.MODIFY, OpKind.PLACE)
_new_op = tuple.__new__
#: numpy refuses these when packing (a value that is not a number, an int beyond int64)
_PACK_ERRORS = (TypeError, ValueError, OverflowError)


def _grow(buf: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """``buf`` if it holds ``size`` items, else a new buffer of the same dtype twice as big
    (buffers only grow: no allocation per call once the ladder's size is known)."""
    if buf.shape[0] >= size:
        return buf
    return np.empty(max(size, 2 * buf.shape[0]), dtype=buf.dtype)


def _run(
    kernel: Callable[..., int],
    f: npt.NDArray[np.float64],
    iv: npt.NDArray[np.int64],
    of: npt.NDArray[np.float64],
    oi: npt.NDArray[np.int64],
    fl: list[float],
    il: list[int],
    tail: tuple[int, list[float], int, list[int]] | None = None,
) -> int:
    """Pack the call's floats ``fl`` and ints ``il`` into the kernel's input arrays (and
    ``tail``'s floats and ints at its offsets) and run ``kernel``: its op count, or -1 when
    a value does not pack (not a number, an int beyond int64), in which case the caller
    runs the reference's Python."""
    try:
        f[: len(fl)] = fl
        iv[: len(il)] = il
        if tail is not None:
            fo, ft, io, it = tail
            f[fo : fo + len(ft)] = ft
            iv[io : io + len(it)] = it
    except _PACK_ERRORS:
        return -1
    return int(kernel(f, iv, of, oi))


#: the reconcile kernel's arrays: float and int inputs, float and int outputs
Buffers = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]
]

#: a trade batch's columns for the tape kernels: times, prices, sizes, sides, receive times
Columns = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int8],
    npt.NDArray[np.int64],
]


def _columns(batch: TradeBatch) -> Columns | None:
    """A trade batch's columns ``(times, px, sz, side, recv)`` contiguous and of the tape
    kernels' dtypes (int64, float64, float64, int8, int64), or None when one cannot be."""
    try:
        return (
            np.ascontiguousarray(batch.times, dtype=np.int64),
            np.ascontiguousarray(batch.px, dtype=np.float64),
            np.ascontiguousarray(batch.sz, dtype=np.float64),
            np.ascontiguousarray(batch.side, dtype=np.int8),
            np.ascontiguousarray(batch.recv, dtype=np.int64),
        )
    except _PACK_ERRORS:
        return None


def _rows_in(table: OrderTable, orders: Sequence[TrackedOrder]) -> list[int] | None:
    """Where each of ``orders`` starts in ``table`` (its row's first float), or None when
    one is not a row of it (an order made before the table, copied out of it, or spilled
    out of it by a value its row could not hold: a ``SpilledOrder``, whose ``_table`` is
    None)."""
    try:  # a TrackedOrder that is no TableOrder has no _table: AttributeError
        rows = [o._fb for o in orders if o._table is table]  # type: ignore[attr-defined]
    except AttributeError:
        return None
    return rows if len(rows) == len(orders) else None


def _ops_of(
    of: npt.NDArray[np.float64], oi: npt.NDArray[np.int64], k: int, pool: Sequence[TrackedOrder]
) -> list[tuple[bool, Op]]:
    """The kernel's ``k`` ops read back from its output arrays, each with whether it is on
    the bid side; an op's order is ``pool[j]`` for the order index ``j`` the kernel wrote
    (-1: none, a placement)."""
    ints = oi[K.O_HEAD : K.O_HEAD + K.OP_I * k].tolist()
    flts = of[: K.OP_F * k].tolist()
    out: list[tuple[bool, Op]] = []
    for t in range(k):
        b = K.OP_I * t
        j = ints[b + 3]
        # Op(...) through tuple.__new__, as the reference's diff builds its MODIFYs
        op = _new_op(
            Op,
            (
                _KINDS[ints[b]],
                ints[b + 2],
                pool[j] if j >= 0 else None,
                flts[2 * t],
                flts[2 * t + 1],
            ),
        )
        out.append((ints[b + 1] == 1, op))
    return out


#: from this many prints on, _may_touch compares them with numpy
_MAY_TOUCH_NUMPY_ROWS = 24


def _may_touch(px: npt.NDArray[np.float64], live: Sequence[TrackedOrder]) -> bool:
    """Whether any print of a batch (prices ``px``) is at or through a live order's price,
    its in-flight modify's included: False only when none can mark any order, whatever the
    rows' sides, sizes and times (every print above every bid and below every ask, the
    common case on a busy tape), so that skipping the marks then is exact. A NaN price, of
    a print or an order, never proves it."""
    if px.shape[0] == 0:
        return False  # no print: nothing to mark
    top_bid = -math.inf
    low_ask = math.inf
    for o in live:
        opx = o.tape_px()
        if opx != opx:
            return True
        if o.side is BUY:
            top_bid = max(top_bid, opx)
        else:
            low_ask = min(low_ask, opx)
    if px.shape[0] > _MAY_TOUCH_NUMPY_ROWS:  # a NaN print makes min / max NaN: no proof
        return not (float(px.min()) > top_bid and float(px.max()) < low_ask)
    # a short batch (most of a busy tape's): a Python pass over its prices costs less than
    # numpy's reductions (~1 µs each); a NaN compares False, so it never proves anything
    return not all(top_bid < p < low_ask for p in px.tolist())


#: reconcile_send's and tape_marks_rows's, likewise (numba's dispatcher
#: types each call's arguments, the table's two ``array`` columns through Python code:
#: ~1 µs a call)
_RECONCILE: list[Callable[..., int]] = []
_MARKS: list[Callable[..., int]] = []
#: the dimensions of a batch's five columns that the marks' entry point takes
_VECTORS = (1, 1, 1, 1, 1)


def _refused_move(
    ints: list[int], order: Sequence[int], orders: list[TrackedOrder], bad: int
) -> None:
    """Raise the reference's error for the ``bad``-th op sent, whose move ``track_rows``
    refused: the same error, from the same check (``OrderState.to``)."""
    b = K.OP_I * order[bad]
    cancel = ints[b] == K.K_CANCEL
    orders[ints[b + 3]].state.to(OrderState.CANCELING if cancel else OrderState.MODIFYING)
    raise AssertionError("track_rows refused a legal move")  # pragma: no cover


class SmartExecutorTwin(SmartExecutor):
    """The compiled twin of :class:`SmartExecutor`: same constructor arguments, same
    behaviour, the ladder diff and the tape marks in numba (module docstring)."""

    #: a trade batch's tape marks run in the kernel when rows x live orders reaches this;
    #: below it the reference's row loop is cheaper than packing the orders (~3 µs) and
    #: gives the same result (measured: 6 orders x 5 rows is even, 2 x 50 is 5x faster)
    tape_kernel_min_work: int = 24
    #: the reconcile core runs in its kernel. Off by default: packing the ``TrackedOrder``
    #: objects into records and mapping the ops back costs more than the reference's own
    #: diff at every ladder size measured (``benchmarks/execution.py``: 1 to 30 levels a
    #: side, 1.2 to 2.4x the reference's time), so the reference's Python, which gives the
    #: same ops by definition, runs instead. The kernel takes records so that a compiled
    #: engine loop holding the order book in arrays can call it; the audit and the tests
    #: prove it equal with it on (:meth:`use_kernels_always`).
    reconcile_in_kernel: bool = False
    #: whether new twins keep their orders in the order table (:meth:`use_table`):
    #: ``"on"``, ``"off"``, or ``"auto"`` (the default): decided at the first reconcile of
    #: a ladder with a quote, while the twin has no order yet, by that ladder's size: the
    #: table from :attr:`table_min_levels` levels on a side. Measured on 2026-12-07 (two
    #: engines on the same events, alternating event by event: ``benchmarks/lockstep.py``):
    #: at the default five levels a side the table takes ~20 % off the synthetic
    #: market's median tick-to-actions and 3-7 % off its p99 (the answers ~5 % slower,
    #: the whole at parity), ~4 % off the USD-M capture's paper flow; at one level a side,
    #: in the USD-M backtest, the orders as objects are ~5 % faster (the views cost the
    #: answers more than the reconcile kernel saves on two orders). See
    #: ``docs/twins.md``, step 1.
    order_table: str = "auto"
    #: under ``order_table = "auto"``, the table for a first ladder with this many levels
    #: on a side or more
    table_min_levels: int = 2
    #: over the order table, the tape marks against fewer orders than this are the
    #: reference's on the views (a trade batch's first put to ``_may_touch``, which usually
    #: proves it marks nothing): cheaper there than the marks kernel's call (2026-12-07,
    #: two orders: a single trade ~2.7 against ~3.0 µs, a batch's shortcut ~1.3 against
    #: ~4); from ~6 orders the kernel is the cheaper
    table_marks_min_orders: int = 5

    def __init__(
        self,
        params: SmartExecutorParams | None = None,
        instrument: Instrument | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(params, instrument, seed)
        # preallocated kernel buffers (grown when a ladder or the order book gets bigger)
        self._df: npt.NDArray[np.float64] = np.empty(64, dtype=np.float64)
        self._di: npt.NDArray[np.int64] = np.empty(64, dtype=np.int64)
        self._of: npt.NDArray[np.float64] = np.empty(32, dtype=np.float64)
        self._oi: npt.NDArray[np.int64] = np.empty(48, dtype=np.int64)
        self._tf: npt.NDArray[np.float64] = np.empty(K.TO_F * 16, dtype=np.float64)
        self._ti: npt.NDArray[np.int64] = np.empty(K.T_HEAD + K.TO_I * 16, dtype=np.int64)
        #: calls that ran the reference's Python instead of a kernel (see the module doc)
        self.twin_fallbacks = 0
        #: the order table, when the orders keep their fields in it (:meth:`use_table`)
        self.table: OrderTable | None = None
        self._rows: npt.NDArray[np.int64] = np.empty(16, dtype=np.int64)
        self._ki: npt.NDArray[np.int64] = np.empty(16, dtype=np.int64)
        self._res: npt.NDArray[np.int64] = np.zeros(8, dtype=np.int64)
        # the one-call reconcile over the table (_reconcile_rows): its own input arrays,
        # the ladder tuples last written to them, the orders whose rows are in _rows, the
        # tolerances as arguments, and stand-ins for the permit's arrays once they spill
        self._lf: npt.NDArray[np.float64] = np.empty(64, dtype=np.float64)
        self._li: npt.NDArray[np.int64] = np.empty(64, dtype=np.int64)
        self._lv_key: tuple[Levels, Levels, npt.NDArray[np.float64]] | None = None
        self._lean_for = (-1, -1, -1)
        self._rows_of: list[TrackedOrder] | None = None
        self._rows_spills = -1
        self._rows_table: OrderTable | None = None
        self._tol_of: Tolerances | None = None
        self._tol: tuple[float, float, float, float, int] | None = None
        self._no_pa = permit_stand_ins()
        # the tape marks over the table: the orders a print marked, and a single print's
        # columns (one row each)
        self._touch: npt.NDArray[np.int64] = np.empty(16, dtype=np.int64)
        self._one: Columns = (
            np.empty(1, dtype=np.int64),
            np.empty(1, dtype=np.float64),
            np.empty(1, dtype=np.float64),
            np.empty(1, dtype=np.int8),
            np.empty(1, dtype=np.int64),
        )
        #: the rate tracker's and the budget's state in arrays, for the permit kernel
        #: (None: the reference's permit; a value the arrays cannot hold ends it)
        self._pa: PermitArrays | None = permit_arrays(self.rate, self.budget)
        if self._pa is not None:
            self._pa.owner = self
        #: the order table's choice is still to be made (``order_table = "auto"``)
        self._table_undecided = self.order_table == "auto"
        if self.order_table == "on":
            self.use_table()

    def use_table(self, on: bool = True) -> None:
        """Keep the orders' numeric fields in an :class:`~mmkit.execution.order_table.
        OrderTable` from now on (``on``; a twin starts so when :attr:`order_table`), so
        that the reconcile kernel reads them in place instead of packing them
        (:func:`~mmkit.execution._kernels_order_table.reconcile_send`) and the reference's
        Python reads and writes them through the table's views; ``on=False``: the orders
        as the reference's own objects (the packed path). Only before the first order: the
        orders made earlier would not be in it (``RuntimeError``)."""
        if self.orders.by_cloid or self._ghosts:
            raise RuntimeError("use_table() must come before the first order")
        self._table_undecided = False
        if not on:
            self.table = None
            self._order_type = SmartExecutor._order_type
            return
        table = OrderTable()
        self.table = table
        self._order_type = functools.partial(TableOrder.make, table)

    def _choose_table(self, ladder: Ladder) -> None:
        """``order_table = "auto"``: at the first reconcile of a ladder with a quote, while
        no order exists (none placed, none adopted), the order table when that ladder has
        :attr:`table_min_levels` levels on a side (else the orders stay objects); an
        order made before that decides for objects. Either way the twin's outcomes are the
        reference's: only its speed depends on the choice."""
        if self.orders.by_cloid or self._ghosts:
            self._table_undecided = False
            return
        bids, asks = ladder.levels()  # the numbers: no quote objects made
        most = max(len(bids), len(asks)) >> 1
        if most:
            self.use_table(most >= self.table_min_levels)

    # ----------------------------------------------------------------------------------
    # the permit
    # ----------------------------------------------------------------------------------
    def _permit(self, actions: list[Action], now_ns: int, *, emergency: bool = False) -> bool:
        """The reference's ``_permit``: its 429 check here, then the rate tracker's check,
        the budget's spend and the record in one kernel call over the permit's arrays
        (:meth:`PermitArrays.permit`); the reference's own for a time the kernel does not
        take (not an int within ``±SAFE_NS``), once the arrays have spilled, or when the
        kernel reports it cannot be exact (``FALLBACK``: nothing done)."""
        pa = self._pa
        if pa is None or type(now_ns) is not int or not -KP.SAFE_NS < now_ns < KP.SAFE_NS:
            return super()._permit(actions, now_ns, emergency=emergency)
        if not emergency and now_ns < self.retry.until_ns:
            self.counters["skipped_rate"] += 1
            return False
        weight, n, cancels_only = batch_ip_weight(actions)
        code = pa.permit(now_ns, weight, n, cancels_only, emergency)
        ok = self._permitted(code, len(actions), emergency)
        return super()._permit(actions, now_ns, emergency=emergency) if ok is None else ok

    def _permitted(self, code: int, n_actions: int, emergency: bool) -> bool | None:
        """A permit kernel's outcome ``code`` for a batch of ``n_actions``, booked as the
        reference's ``_permit`` books it (the warning logged, the counters): whether the
        batch may go; None for ``FALLBACK`` (nothing done: the reference's permit decides)."""
        out = code & KP.OUTCOME
        counters = self.counters
        if out == KP.OK:
            if code & KP.WARN:
                log_ip_warning(self.rate._ip_used, self.rate.ip_limit)
            if emergency:
                if code & KP.OVER_LIMIT:
                    counters["emergency_over_limit"] += 1  # sent all the same
                counters["emergency_actions"] += n_actions
            return True
        if out == KP.SKIP_RATE:
            counters["skipped_rate"] += 1
            return False
        if out == KP.SKIP_BUDGET:
            counters["skipped_budget"] += 1
            return False
        return None

    # ----------------------------------------------------------------------------------
    # the reconcile core
    # ----------------------------------------------------------------------------------
    def use_kernels_always(self) -> None:
        """Run every hot part in its kernel whatever the size of the work (the reconcile
        core, and the tape marks of the smallest batches): what the audit's equivalence
        checks and the tests prove. The defaults run the reference's Python where it is
        cheaper."""
        self.reconcile_in_kernel = True
        self.tape_kernel_min_work = 0
        self.table_marks_min_orders = 0

    def _reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        """The reference's ``_reconcile``: the ops of both sides from one kernel call over
        the order book packed as records, sent by the reference's ``_send_ops`` (with
        :attr:`reconcile_in_kernel`; else the reference's own, cheaper at these sizes).
        With the order table (:meth:`use_table`): :meth:`_reconcile_rows`."""
        if self._table_undecided:
            self._choose_table(ladder)
        if self.table is not None:
            acts = self._reconcile_rows(self.table, ladder, view, now_ns)
            if acts is not None:
                return acts
        if not self.reconcile_in_kernel and self.table is None:
            return super()._reconcile(ladder, view, now_ns)
        self._quiet = None
        if now_ns < self.retry.until_ns:
            self.counters["skipped_rate"] += 1
            return []
        pos = view.position
        quiet: tuple[Ladder, float, float] | None = (ladder, pos, view.max_position)
        if pos != pos:  # NaN: the engine refuses such a position; never size from it
            pos = 0.0
        orders = list(self.orders.by_cloid.values())
        ghosts = list(self._ghosts.values())
        bids, asks = ladder.levels()
        no, ng, nb, na = len(orders), len(ghosts), len(bids) >> 1, len(asks) >> 1
        f, iv, of, oi = self._buffers(no, ng, nb + na)
        fl, il = self._heads(view.max_position, pos, now_ns, no, ng, nb, na)
        fl += bids
        fl += asks
        for o in orders:
            fl += (o.sz, o.new_sz, o.risk, o.px, o.filled, o.cap, o.orig_sz)
            # IntEnum members are ints: numpy stores their values (no ``.value`` lookups)
            il += (o.state, o.side, o.level, o.home, o.risk_until_ns, o.risk_ts)
        for g in ghosts:
            fl.append(g.unseen)
            il += (g.side, g.home)
        k = _run(K.reconcile_kernel, f, iv, of, oi, fl, il)
        if k < 0:
            self.twin_fallbacks += 1
            return super()._reconcile(ladder, view, now_ns)
        quiet = self._after_kernel(orders, nb + na, ng, quiet)
        ops = [(BUY if buy else SELL, op) for buy, op in _ops_of(of, oi, k, orders)]
        return self._send_ops(ops, quiet, now_ns)

    def _buffers(self, no: int, ng: int, nl: int) -> Buffers:
        """The reconcile kernel's arrays for ``no`` orders, ``ng`` ghosts and ``nl`` levels
        (both sides), grown when too small."""
        self._df, self._di = self._sized(self._df, self._di, no, ng, nl)
        return self._df, self._di, self._of, self._oi

    def _sized(
        self, f: npt.NDArray[np.float64], iv: npt.NDArray[np.int64], no: int, ng: int, nl: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """``f`` and ``iv`` (the reconcile kernel's inputs), grown when too small for
        ``no`` orders, ``ng`` ghosts and ``nl`` levels; the shared outputs and the sending
        order's buffer grown likewise for as many ops."""
        nf = K.FR_HEAD + K.DES * nl + K.OF * no + ng + nl
        ni = K.IR_HEAD + K.OI * no + 2 * ng + 2 * nl + 3 * no  # flags: the last no
        if f.shape[0] < nf or iv.shape[0] < ni:
            f, iv = _grow(f, nf), _grow(iv, ni)
        cap_ops = no + 2 * nl
        of, oi = self._of, self._oi
        if of.shape[0] < K.OP_F * cap_ops or oi.shape[0] < K.O_HEAD + K.OP_I * cap_ops:
            self._of = _grow(of, K.OP_F * cap_ops)
            self._oi = _grow(oi, K.O_HEAD + K.OP_I * cap_ops)
        self._ki = _grow(self._ki, cap_ops)
        return f, iv

    def _heads(
        self, maxp: float, pos: float, now_ns: int, no: int, ng: int, nb: int, na: int
    ) -> tuple[list[float], list[int]]:
        """The reconcile kernel's float and int headers (``FR_*`` / ``IR_*``)."""
        tol = self.tol
        fl = [tol.price_bps, tol.size_frac, tol.lot, tol.min_notional, maxp, pos]
        il = [
            1 if tol.smart else 0,
            now_ns,
            self._fill_hwm,
            no,
            ng,
            nb,
            na,
            1 if self.rejections.should_skip(BUY, now_ns) else 0,
            1 if self.rejections.should_skip(SELL, now_ns) else 0,
        ]
        return fl, il

    def _after_kernel(
        self,
        orders: list[TrackedOrder],
        nl: int,
        ng: int,
        quiet: tuple[Ladder, float, float] | None,
    ) -> tuple[Ladder, float, float] | None:
        """The reconcile kernel's outcomes besides its ops: tape risks it found stale are
        cleared on the orders, sides it held back are counted (and the book is then not in
        place: ``quiet`` becomes None)."""
        head = self._oi[: K.O_HEAD].tolist()
        if head[K.O_EXPIRED]:
            no = len(orders)
            ni = K.IR_HEAD + K.OI * no + 2 * ng + 2 * nl + 3 * no
            flags = self._di[ni - no : ni].tolist()
            for o, gone in zip(orders, flags, strict=True):
                if gone:
                    # no fill of it came for the print, although the fill stream has since
                    # delivered a later fill (or a long time passed): the print was not ours
                    o.risk = 0.0
                    self.counters["tape_risks_expired"] += 1
        if head[K.O_HELD]:
            self.counters["skipped_backoff"] += head[K.O_HELD]
            quiet = None  # held back, not in place
        return quiet

    # ----------------------------------------------------------------------------------
    # the reconcile over the order table (use_table): the ops stay rows
    # ----------------------------------------------------------------------------------
    def _reconcile_rows(
        self, table: OrderTable, ladder: Ladder, view: View, now_ns: int
    ) -> list[Action] | None:
        """``_reconcile`` over the order table in one kernel call
        (:func:`~mmkit.execution._kernels_order_table.reconcile_send`): the headers passed
        as arguments, the orders gathered from their rows (:meth:`_table_orders`), the
        ladder's numbers from :meth:`Ladder.levels` (no ``Quote`` read; written to the
        kernel's buffer only when a side is another tuple than the last call's), the tape
        risks found stale cleared in their rows and, without a cancel among the ops, the
        sending's sort, weight, permit and tracking in the same call
        (:meth:`_fused_sent` makes the actions). None, with nothing changed, when an order
        is not in the table or an argument is not of the type the kernel takes exactly
        (the caller then packs the orders)."""
        orders = self._table_orders(table)
        if orders is None:
            return None
        pos = view.position
        maxp = view.max_position
        hwm = self._fill_hwm
        tol = self._tol_args()
        if (
            tol is None
            or type(now_ns) is not int
            or not -KP.SAFE_NS < now_ns < KP.SAFE_NS
            or type(hwm) is not int
            or not -KP.SAFE_NS < hwm < KP.SAFE_NS
            or (type(pos) is not float and type(pos) is not int)
            or (type(maxp) is not float and type(maxp) is not int)
        ):
            return None
        self._quiet = None
        if now_ns < self.retry.until_ns:
            self.counters["skipped_rate"] += 1
            return []
        quiet: tuple[Ladder, float, float] | None = (ladder, pos, maxp)
        if pos != pos:  # NaN: the engine refuses such a position; never size from it
            pos = 0.0
        bid_l, ask_l = ladder.levels()
        ghosts = list(self._ghosts.values()) if self._ghosts else []
        no, ng = len(orders), len(ghosts)
        nb, na = len(bid_l) >> 1, len(ask_l) >> 1
        f, iv, of, oi = self._lean_buffers(no, ng, nb + na)
        try:
            fmaxp, fpos = float(maxp), float(pos)  # an int beyond a double: OverflowError
            self._put_levels(f, bid_l, ask_l, nb)
            if ng:  # the ghosts after the orders' regions, which the kernel fills
                o = K.FR_HEAD + K.DES * (nb + na) + K.OF * no
                f[o : o + ng] = [g.unseen for g in ghosts]
                ghost_i: list[int] = []
                for g in ghosts:
                    ghost_i += (g.side, g.home)
                o = K.IR_HEAD + K.OI * no
                iv[o : o + 2 * ng] = ghost_i
        except _PACK_ERRORS:
            self._lv_key = None
            return None
        pa = self._pa
        rid0 = self._rid + 1
        rej = self.rejections
        head = (
            table.f,
            table.i,
            self._rows,
            f,
            iv,
            of,
            oi,
            *tol,
            fmaxp,
            fpos,
            now_ns,
            hwm,
            no,
            ng,
            nb,
            na,
            1 if rej.should_skip(BUY, now_ns) else 0,
            1 if rej.should_skip(SELL, now_ns) else 0,
            0 if pa is None else 1,
            self._ki,
        )
        tail = (rid0, LEGAL, CODE_CANCEL, CODE_MODIFY, self._res)
        args = (*head, *(pa.arrays() if pa is not None else self._no_pa), *tail)
        if not _RECONCILE:  # the entry point for these argument types, once per process
            _RECONCILE.append(entry_for(KT.reconcile_send, *args))
        call = _RECONCILE[0]
        r = int(call(*args))
        if r < 0:
            self.twin_fallbacks += 1
            return SmartExecutor._reconcile(self, ladder, view, now_ns)
        k = r & (KT.DETAILS - 1)
        if r & KT.DETAILS:
            res = self._res
            expired, held = int(res[KT.R_EXPIRED]), int(res[KT.R_HELD])
            if expired:
                self.counters["tape_risks_expired"] += expired
            if held:
                self.counters["skipped_backoff"] += held
                quiet = None  # held back, not in place
        if not k:
            self._quiet = quiet
            return []
        if pa is not None:
            code = int(self._res[KT.R_SENT])
            while code == KP.RING_FULL:
                # nothing was recorded and only the stale risks were written (cleared, and
                # counted above): the same call over a grown ring makes the same ops
                pa.grow()
                call(*head, *pa.arrays(), *tail)
                code = int(self._res[KT.R_SENT])
            acts = self._fused_sent(code, k, orders, now_ns, rid0)
            if acts is not None:
                return acts
        return self._send_rows(table, k, orders, now_ns)

    def _table_orders(self, table: OrderTable) -> list[TrackedOrder] | None:
        """The order book's orders, where each starts in ``table`` in ``self._rows`` (in
        the same order), or None when one is not a row of it (:func:`_rows_in`). The rows
        are written again only when the orders are not the very objects of the last call
        (identity: ``TrackedOrder`` compares so), an order spilled out of the table since
        (``spills``), or the first is no row of it (the orders of an unpickled executor
        are plain orders): an order keeps its row while it is alive, and the list kept
        here keeps them alive."""
        orders = list(self.orders.by_cloid.values())
        if (
            orders == self._rows_of
            and table.spills == self._rows_spills
            and table is self._rows_table
            and (not orders or getattr(orders[0], "_table", None) is table)
        ):
            return orders
        rows_l = _rows_in(table, orders)
        if rows_l is None:
            return None
        n = len(orders)
        self._rows = rows = _grow(self._rows, n)
        rows[:n] = rows_l
        self._rows_of, self._rows_spills, self._rows_table = orders, table.spills, table
        return orders

    def _tol_args(self) -> tuple[float, float, float, float, int] | None:
        """The tolerances as the kernel's arguments (worked out once per ``Tolerances``
        object, which is frozen): the four numbers as doubles, as the packed path stores
        them (a Python int converted exactly as numpy does), ``smart`` as 0 / 1; None when
        one is of another type or an int beyond a double."""
        tol = self.tol
        if tol is not self._tol_of:
            nums = (tol.price_bps, tol.size_frac, tol.lot, tol.min_notional)
            self._tol_of = tol
            self._tol = None
            if all(type(x) is float or type(x) is int for x in nums) and type(tol.smart) is bool:
                try:
                    fl = tuple(float(x) for x in nums)
                except OverflowError:
                    return None
                self._tol = (fl[0], fl[1], fl[2], fl[3], 1 if tol.smart else 0)
        return self._tol

    def _lean_buffers(self, no: int, ng: int, nl: int) -> Buffers:
        """:meth:`_reconcile_rows`'s own input arrays (no other path writes them, so the
        levels written last are still there) and the shared outputs (:meth:`_sized`),
        checked again only for other counts than the last call's (buffers only grow,
        whoever grows them)."""
        if (no, ng, nl) != self._lean_for:
            self._lf, self._li = self._sized(self._lf, self._li, no, ng, nl)
            self._lean_for = (no, ng, nl)
        return self._lf, self._li, self._of, self._oi

    def _put_levels(self, f: npt.NDArray[np.float64], bids: Levels, asks: Levels, nb: int) -> None:
        """The ladder's levels in ``f`` after the header (bids, then asks): skipped when
        both sides are the very tuples written last into this buffer (a tuple cannot
        change; the key keeps them alive)."""
        key = self._lv_key
        if key is not None and key[0] is bids and key[1] is asks and key[2] is f:
            return
        self._lv_key = None
        o = K.FR_HEAD
        f[o : o + len(bids)] = bids
        o += K.DES * nb
        f[o : o + len(asks)] = asks
        if type(bids) is tuple and type(asks) is tuple:
            self._lv_key = (bids, asks, f)

    def _send_rows(
        self, table: OrderTable, k: int, orders: list[TrackedOrder], now_ns: int
    ) -> list[Action]:
        """The reference's ``_send_ops`` for the reconcile kernel's ``k`` ops as rows
        (``self._of`` / ``self._oi``; an op's order is ``orders[j]``), when the kernel's own
        sending did not go (a cancel among them, the permit's arrays spilled, or its
        ``FALLBACK``): sent cancels first, then modifies, then places (a stable sort, as
        the reference's), all or nothing through the reference's ``_permit`` (each action
        built by ``new_record`` from all its fields, as the reference's ``_send_ops`` builds
        it); the cancels and modifies tracked in one kernel call
        (:func:`~mmkit.execution._kernels_order_table.track_rows`), the places made by the
        reference's ``_track_ops``."""
        of, oi = self._of, self._oi
        ints = oi[K.O_HEAD : K.O_HEAD + K.OP_I * k].tolist()
        kinds = ints[0 :: K.OP_I]
        first = kinds[0]
        order: Sequence[int] = range(k)
        for kind in kinds:
            if kind != first:
                order = sorted(range(k), key=kinds.__getitem__)
                break
        rid0 = self._rid + 1
        actions, places = self._rows_actions(k, ints, order, orders, rid0)
        self._rid = rid0 + k - 1  # taken even when the batch is then refused
        if not self._permit(actions, now_ns):
            return []
        n_track = k - len(places)
        done = n_track
        if n_track:
            self._ki = perm = _grow(self._ki, k)
            perm[:k] = order
            bad = int(
                KT.track_rows(
                    table.f,
                    table.i,
                    self._rows,
                    of,
                    oi,
                    perm,
                    n_track,
                    rid0,
                    LEGAL,
                    CODE_CANCEL,
                    CODE_MODIFY,
                )
            )
            done = n_track if bad < 0 else bad
        counts = self._rows_pending(done, ints, order, orders, rid0)
        rows = (ints, order, orders)
        return self._rows_sent(actions, places, counts, (done, n_track), rows, now_ns)

    def _fused_sent(
        self, code: int, k: int, orders: list[TrackedOrder], now_ns: int, rid0: int
    ) -> list[Action] | None:
        """The outcome of ``send_table`` (its ``code``; its counts in ``self._res``) for
        the ``k`` ops sent from request id ``rid0``: the permit's outcome booked, then, for
        a batch sent, the actions and the pending requests in one pass; ``[]`` for a batch
        refused; None, with nothing changed, when the kernel did nothing (a cancel among
        the ops, or the permit's ``FALLBACK``: the caller sends them another way)."""
        oi, perm, res = self._oi, self._ki, self._res
        if code == KT.CANCELS:
            return None
        ok = self._permitted(code, k, False)
        if ok is None:
            # nothing done: a cancel among the ops (KT.CANCELS: its weight is its Python
            # order's oid), or the permit's FALLBACK
            return None
        if not ok:
            # refused as the reference refuses after building the actions: their request
            # ids and the places' cloids are taken all the same
            self._rid = rid0 + k - 1
            self._cloid_n += int(res[KT.R_PLACES])
            return []
        ints = oi[K.O_HEAD : K.O_HEAD + K.OP_I * k].tolist()
        counts = res.tolist()
        n_mod = counts[KT.R_MODIFIES]
        bad = counts[KT.R_BAD]
        done = n_mod if bad < 0 else bad  # the modifies tracked (all, but for a bug)
        if done == k:
            # modifies only, every one tracked (a busy market's requote): the kernel's
            # stable sort left them in its order, so the sending order is 0 .. k - 1
            actions = self._modify_actions(k, ints, range(k), orders, rid0)
            self._rid = rid0 + k - 1
            self._count_sent([0, k, 0], now_ns)
            return actions
        order = perm[:k].tolist()
        actions, places = self._rows_actions(k, ints, order, orders, rid0, done)
        self._rid = rid0 + k - 1
        counts = [0, done, 0]
        rows = (ints, order, orders)
        return self._rows_sent(actions, places, counts, (done, n_mod), rows, now_ns)

    def _rows_sent(
        self,
        actions: list[Action],
        places: list[tuple[Side, Op]],
        counts: list[int],
        tracked: tuple[int, int],
        rows: tuple[list[int], Sequence[int], list[TrackedOrder]],
        now_ns: int,
    ) -> list[Action]:
        """A sent batch's end: the reference's error when the tracking kernel refused a
        move (``tracked``: the ops it tracked, of those it had to; ``rows``: the ops' ints,
        their sending order and the orders), the places made by the reference's
        ``_track_ops``, the counters and the requote time."""
        done, n_track = tracked
        if done < n_track:
            _refused_move(*rows, done)
        if places:
            rid0 = actions[0].request_id
            counts[2] = self._track_ops(places, actions[n_track:], rid0, now_ns)[2]
        self._count_sent(counts, now_ns)
        return actions

    def _rows_actions(
        self,
        k: int,
        ints: list[int],
        order: Sequence[int],
        orders: list[TrackedOrder],
        rid0: int,
        tracked: int = 0,
    ) -> tuple[list[Action], list[tuple[Side, Op]]]:
        """The actions of the kernel's ops in sending ``order`` (the ``p``-th with request
        id ``rid0 + p``), each built by ``new_record`` from all its fields as the
        reference's ``_send_ops`` builds it, and the places as ops (a new cloid each); the
        pending requests of the first ``tracked`` ops (cancels and modifies a kernel has
        tracked) added in the same pass."""
        flts = self._of[: K.OP_F * k].tolist()
        actions: list[Action] = []
        append = actions.append
        add = self._pending.adder()
        p_cancel, p_modify = Pending.CANCEL, Pending.MODIFY
        tif = self._tif
        places: list[tuple[Side, Op]] = []
        for rid, t in enumerate(order, rid0):
            b = K.OP_I * t
            kind = ints[b]
            if kind == K.K_CANCEL:
                o = orders[ints[b + 3]]
                append(new_record(Cancel, (rid, o.cloid, o.oid, False)))
                if rid - rid0 < tracked:
                    add(rid, new_order_request(OrderRequest, (o, p_cancel)))
                continue
            side = BUY if ints[b + 1] == 1 else SELL
            px, sz, level = flts[2 * t], flts[2 * t + 1], ints[b + 2]
            if kind == K.K_MODIFY:
                o = orders[ints[b + 3]]
                append(
                    new_record(
                        Modify, (rid, o.cloid, o.oid, side, px, sz, tif, o.reduce_only, level)
                    )
                )
                if rid - rid0 < tracked:
                    add(rid, new_order_request(OrderRequest, (o, p_modify)))
            else:
                cloid = self._new_cloid()
                append(new_record(Place, (rid, cloid, side, px, sz, tif, False, level)))
                places.append((side, _new_op(Op, (OpKind.PLACE, level, None, px, sz))))
        return actions, places

    def _modify_actions(
        self, k: int, ints: list[int], order: Sequence[int], orders: list[TrackedOrder], rid0: int
    ) -> list[Action]:
        """:meth:`_rows_actions` for ``k`` ops that are all modifies the kernel tracked (a
        batch without cancels or places: the requote of a ladder that moved): the same
        ``Modify`` records and pending requests, without the per-op kind tests."""
        flts = self._of[: K.OP_F * k].tolist()
        actions: list[Action] = []
        append = actions.append
        add = self._pending.adder()
        p_modify = Pending.MODIFY
        tif = self._tif
        opi = K.OP_I
        buy, sell = BUY, SELL
        for rid, t in enumerate(order, rid0):
            b = opi * t
            o = orders[ints[b + 3]]
            append(
                new_record(
                    Modify,
                    (
                        rid,
                        o.cloid,
                        o.oid,
                        buy if ints[b + 1] == 1 else sell,
                        flts[2 * t],
                        flts[2 * t + 1],
                        tif,
                        o.reduce_only,
                        ints[b + 2],
                    ),
                )
            )
            add(rid, new_order_request(OrderRequest, (o, p_modify)))
        return actions

    def _rows_pending(
        self,
        done: int,
        ints: list[int],
        order: Sequence[int],
        orders: list[TrackedOrder],
        rid0: int,
    ) -> list[int]:
        """The pending requests of the first ``done`` ops sent (cancels and modifies the
        kernel tracked); how many cancels, modifies (and places: 0) they were."""
        counts = [0, 0, 0]
        add = self._pending.adder()
        p_cancel, p_modify = Pending.CANCEL, Pending.MODIFY
        for p in range(done):
            b = K.OP_I * order[p]
            o = orders[ints[b + 3]]
            if ints[b] == K.K_CANCEL:
                add(rid0 + p, new_order_request(OrderRequest, (o, p_cancel)))
                counts[0] += 1
            else:
                add(rid0 + p, new_order_request(OrderRequest, (o, p_modify)))
                counts[1] += 1
        return counts

    # ----------------------------------------------------------------------------------
    # the ladder diff of one side (the same kernel code; for callers of ``diff``)
    # ----------------------------------------------------------------------------------
    def diff(
        self,
        desired: Levels,
        resting: Sequence[TrackedOrder],
        occupied: set[int],
        cap: float,
        tol: Tolerances,
        debt: Mapping[int, float] | None = None,
    ) -> list[Op]:
        """``reconciler.diff_levels`` in one kernel call (same arguments, same ops); the
        reference's Python unless :attr:`reconcile_in_kernel` (packing one side's orders
        costs more than the reference's diff: 5 levels, ~10.5 against ~3.7 µs)."""
        if not self.reconcile_in_kernel:
            return diff_levels(desired, resting, occupied, cap, tol, debt)
        if len(desired) & 1:  # an odd last number is no level (as in diff_levels)
            desired = desired[:-1]
        n = len(desired) >> 1
        m = len(resting)
        owed = debt or {}
        self._df = f = _grow(self._df, K.FD_HEAD + (K.DES + 1) * n + K.OF * m)
        self._di = iv = _grow(self._di, K.ID_HEAD + 2 * n + (K.OI + 1) * m)
        self._of = of = _grow(self._of, K.OP_F * (m + 2 * n))
        self._oi = oi = _grow(self._oi, K.O_HEAD + K.OP_I * (m + 2 * n))
        fl = [tol.price_bps, tol.size_frac, tol.lot, tol.min_notional, cap]
        il = [1 if tol.smart else 0, n, m, 1]
        fl += desired
        get = owed.get
        fl += [get(i, 0.0) for i in range(n)]
        il += [1 if i in occupied else 0 for i in range(n)]
        for r in resting:
            fl += (r.sz, r.new_sz, r.risk, r.px, r.filled, r.cap, r.orig_sz)
            il += (0, 0, r.level, 0, 0, 0)
        k = _run(K.diff_side_kernel, f, iv, of, oi, fl, il)
        if k < 0:
            self.twin_fallbacks += 1
            return diff_levels(desired, resting, occupied, cap, tol, debt)
        return [op for _, op in _ops_of(of, oi, k, resting)]

    # ----------------------------------------------------------------------------------
    # the tape's marks (trade batches)
    # ----------------------------------------------------------------------------------
    def _tape_marks(self, rows: Iterable[tuple[int, float, float, int, int]]) -> None:
        """The reference's ``_tape_marks``; over the order table and more than a few
        orders, one print of the types a trade gives (Python ints and floats: a single
        trade's path) is marked in the orders' rows in one kernel call
        (:meth:`_tape_marks_table`), anything else the reference's way."""
        table = self.table
        if table is None or len(self.orders.by_cloid) < self.table_marks_min_orders:
            SmartExecutor._tape_marks(self, rows)  # a few orders: cheaper on their views
            return
        rows = list(rows)
        if len(rows) == 1:
            ts, p, q, aggressor, t = rows[0]
            if (
                type(p) is float
                and type(q) is float
                and type(ts) is int
                and type(t) is int
                and type(aggressor) is int
                and -128 <= aggressor <= 127  # an int8 (numpy 1.x would wrap it silently)
            ):
                one = self._one
                try:
                    one[0][0] = ts
                    one[1][0] = p
                    one[2][0] = q
                    one[3][0] = aggressor
                    one[4][0] = t
                except OverflowError:  # a time beyond int64
                    pass
                else:
                    if self._tape_marks_table(table, one):
                        return
        SmartExecutor._tape_marks(self, rows)

    def _tape_marks_table(self, table: OrderTable, cols: Columns) -> bool:
        """The tape marks of the prints of ``cols`` (``times, px, sz, side, recv``:
        contiguous, of the kernel's dtypes) in the orders' rows
        (:func:`~mmkit.execution._kernels_order_table.tape_marks_rows`), then the marked
        orders' ``risk_rid`` and ``risk_oid``: the reference's ``_tape_marks``. False, with
        nothing done, when an order is not in the table or a time would leave int64 (the
        caller runs the reference's)."""
        tape_ns = self._tape_risk_ns
        if not (type(tape_ns) is int and -KP.SAFE_NS < tape_ns < KP.SAFE_NS):
            return False
        orders = self._table_orders(table)
        if orders is None:
            return False
        n = len(orders)
        rows = self._rows
        self._touch = touched = _grow(self._touch, n)
        res = self._res
        args: tuple[Any, ...] = (table.f, table.i, rows, n, *cols, tape_ns, CODE_MODIFY)
        args += (touched, res)
        times, px, sz, side, recv = cols
        if (times.ndim, px.ndim, sz.ndim, side.ndim, recv.ndim) == _VECTORS:
            # through the entry point, which takes vectors of these dtypes as they come
            if not _MARKS:
                _MARKS.append(entry_for(KT.tape_marks_rows, *args))
            new = _MARKS[0](*args)
        else:  # another shape: through the dispatcher, which types it
            new = KT.tape_marks_rows(*args)
        if new < 0:
            return False
        if new:
            self.counters["tape_risks"] += new
        if res[0]:
            rid = self._rid
            for o, hit in zip(orders, touched[:n].tolist(), strict=True):
                if hit:
                    o.risk_rid = rid
                    o.risk_oid = o.oid
        return True

    def on_trades(self, batch: TradeBatch, view: View, now_ns: int) -> list[Action]:
        """The reference's ``on_trades`` with the tape marks in one kernel call."""
        out: list[Action] = []
        if self.orders.by_cloid:
            self._tape_marks_batch(batch)
        self._on_market_data(view, now_ns, out)
        return out

    def _tape_marks_batch(self, batch: TradeBatch) -> None:
        """``_tape_marks`` over the batch's columns (same rows, orders and updates); over
        the order table, in the orders' rows (:meth:`_tape_marks_table`), after the
        shortcut for a book of a few orders (cheaper there than the kernel's call)."""
        done = OrderState.DONE
        if self.table is not None:
            by_cloid = self.orders.by_cloid
            if len(by_cloid) < self.table_marks_min_orders:
                live = [o for o in by_cloid.values() if o.state is not done]
                if not live or not _may_touch(batch.px, live):
                    return
            cols = _columns(batch)
            if cols is not None and self._tape_marks_table(self.table, cols):
                return
            SmartExecutor._tape_marks(self, zip(*batch.columns(), strict=True))
            return
        live = [o for o in self.orders.by_cloid.values() if o.state is not done]
        if not live or not _may_touch(batch.px, live):
            return
        n = len(live)
        if n * len(batch) < self.tape_kernel_min_work:
            self._tape_marks(zip(*batch.columns(), strict=True))
            return
        self._tf = tf = _grow(self._tf, K.TO_F * n)
        self._ti = ti = _grow(self._ti, K.T_HEAD + K.TO_I * n)
        fl: list[float] = []
        il: list[int] = [n, 0, self._tape_risk_ns]
        p_modify = Pending.MODIFY
        for o in live:
            modifying = o.pending is p_modify
            fl += (o.tape_px(), max(o.sz, o.new_sz) if modifying else o.sz, o.risk)
            il += (int(o.side), o.known_ts, o.risk_until_ns, o.risk_ts, 0)
        try:
            tf[: K.TO_F * n] = fl
            ti[: K.T_HEAD + K.TO_I * n] = il
        except _PACK_ERRORS:
            cols = None
        else:
            cols = _columns(batch)
        status = -1 if cols is None else int(K.tape_marks_kernel(*cols, tf, ti))
        if status < 0:
            self.twin_fallbacks += 1
            SmartExecutor._tape_marks(self, zip(*batch.columns(), strict=True))
            return
        new = int(ti[K.T_NEW_RISKS])
        if new:
            self.counters["tape_risks"] += new
        ints = ti[K.T_HEAD : K.T_HEAD + K.TO_I * n].tolist()
        rid = self._rid
        for j, o in enumerate(live):
            if not ints[K.TO_I * j + 4]:
                continue
            o.risk = float(tf[K.TO_F * j + 2])
            o.risk_until_ns = ints[K.TO_I * j + 2]
            o.risk_ts = ints[K.TO_I * j + 3]
            o.risk_rid = rid
            o.risk_oid = o.oid


# --------------------------------------------------------------------------------------
# the comparison (tests, audit)
# --------------------------------------------------------------------------------------
def _same(a: object, b: object) -> bool:
    """Exact equality, NaN equal to NaN (floats compared by value: ``0.0 == -0.0``).

    Deliberately not :func:`mmkit.twins.compare.identical` nor ``same``: it recurses into
    tuples, dicts (key order included: ``status()`` and ``budget_state()`` are read in
    order) and dataclasses (actions, tracked orders); like ``same``, an int equals a float of the
    same value."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b) and not (isinstance(a, int | float) and isinstance(b, int | float)):
        return False
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return bool(a == b)


def actions_differ(ref: Iterable[Action], twin: Iterable[Action]) -> list[str]:
    """Where two action lists differ (type, every field, order), or ``[]``."""
    ra, ta = list(ref), list(twin)
    out: list[str] = []
    if len(ra) != len(ta):
        out.append(f"actions: {len(ra)} from the reference, {len(ta)} from the twin")
    for k, (a, b) in enumerate(zip(ra, ta, strict=False)):
        if not _same(a, b):
            out.append(f"action {k}: reference {a!r} != twin {b!r}")
    return out


#: the TrackedOrder fields compared (all of them)
_ORDER_FIELDS = tuple(f.name for f in dataclasses.fields(TrackedOrder))


def _orders_differ(
    what: str, ra: Mapping[str, TrackedOrder], ta: Mapping[str, TrackedOrder]
) -> list[str]:
    if list(ra) != list(ta):
        return [f"{what}: reference cloids {list(ra)} != twin {list(ta)}"]
    out: list[str] = []
    for cloid, a in ra.items():
        b = ta[cloid]
        for name in _ORDER_FIELDS:
            x, y = getattr(a, name), getattr(b, name)
            if not _same(x, y):
                out.append(f"{what} {cloid}.{name}: reference {x!r} != twin {y!r}")
    return out


def outputs_differ(
    ref: SmartExecutor,
    twin: SmartExecutor,
    ref_actions: Iterable[Action] = (),
    twin_actions: Iterable[Action] = (),
) -> list[str]:
    """Every difference between a reference executor and its twin after the same events:
    the actions of the last call (``ref_actions`` / ``twin_actions``), ``counters``,
    ``status()``, ``open_orders()``, ``budget_state()``, every field of the rate tracker
    and the budget (:func:`~mmkit.execution.permit_arrays.permit_state`; the window's
    entries included), every tracked order field (live
    orders and ghosts), and the bookkeeping a later call depends on (request ids, cloid
    counter, pending requests, the quiet-reconcile shortcut, requote flags, idle watch).
    ``[]`` when they agree exactly (NaN equal to NaN)."""
    out = actions_differ(ref_actions, twin_actions)
    if ref.counters != twin.counters:
        out.append(f"counters: reference {ref.counters} != twin {twin.counters}")
    rs, ts = ref.status(), twin.status()
    if not _same(rs, ts):
        keys = [k for k in rs if k not in ts or not _same(rs[k], ts[k])] + [
            k for k in ts if k not in rs
        ]
        out.append("status(): " + ", ".join(f"{k}: {rs.get(k)!r} != {ts.get(k)!r}" for k in keys))
    if not _same(ref.open_orders(), twin.open_orders()):
        out.append(f"open_orders(): {ref.open_orders()} != {twin.open_orders()}")
    if not _same(ref.budget_state(), twin.budget_state()):
        out.append(f"budget_state(): {ref.budget_state()} != {twin.budget_state()}")
    rp, tp = permit_state(ref.rate, ref.budget), permit_state(twin.rate, twin.budget)
    for name, x in rp.items():
        if not _same(x, tp[name]):
            out.append(f"{name}: reference {x!r} != twin {tp[name]!r}")
    out += _orders_differ("order", ref.orders.by_cloid, twin.orders.by_cloid)
    out += _orders_differ("ghost", ref._ghosts, twin._ghosts)
    for name in (
        "_rid",
        "_cloid_n",
        "_cloid_base",
        "_now",
        "_fill_hwm",
        "_requote_needed",
        "_serviced_ns",
        "_halt_sent_all",
        "_halt_retry_ns",
        "_halt_all_ns",
        "_retry_mark",
        "_idle_since",
        "_idle_why",
        "_idle_reported",
        "_rejected_batch",
    ):
        x, y = getattr(ref, name), getattr(twin, name)
        if not _same(x, y):
            out.append(f"{name}: reference {x!r} != twin {y!r}")
    rq, tq = ref._quiet, twin._quiet
    if (rq is None) != (tq is None) or (
        rq is not None and tq is not None and not _same(rq[1:], tq[1:])
    ):
        out.append(f"_quiet: reference {rq!r} != twin {tq!r}")
    if sorted(ref._pending._by_rid) != sorted(twin._pending._by_rid):
        out.append("pending request ids differ")
    if list(ref._unmatched) != list(twin._unmatched):
        out.append("unmatched fills differ")
    if sorted(ref.orders.by_oid) != sorted(twin.orders.by_oid):
        out.append("oid map differs")
    return out
