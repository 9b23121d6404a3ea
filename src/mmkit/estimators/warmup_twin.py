"""Compiled twins of the warmup estimator and gate (issue 20, see ``mmkit.twins``).

:class:`WarmupEstimatorTwin` is a :class:`~mmkit.estimators.warmup.WarmupEstimator` whose
numeric state lives in two numpy arrays (``f`` float64, ``i`` int64; slots in
:mod:`mmkit.estimators._kernels_warmup_twin`) and whose hot methods make one numba call
each: ``on_event`` for a trade, ``on_trades`` for a batch, ``estimate`` while warming up.
Every attribute reports read (``first_ns``, ``warmed_up``, ``timed_out``, ``ended_by``,
``ended_ns``, ``finished_after_s``, ``trades``, ``volume``, ``notional``, ``buckets``,
``trades_at_end``, ``buckets_at_end``, ``waiting``, ``rejections``) reads the same value as
on the reference, as properties over the arrays. Rare paths stay in Python with the
reference's own code: log lines, rejection records, building the ``warmup_waiting`` text
(only when it changes), and any input the kernels cannot take exactly (a price that is not a
Python float, an extras value that is not a float, an int64 overflow, a time difference
above 2**53 ns), for which the reference method runs on the twin's state (the properties
make that possible) and the kernel state is resynchronised.

After warmup the estimate needs no kernel at all: it writes four cached values.

:class:`WarmupGateTwin` has no numeric state, so it has no kernel either (a numba call
would cost more than its whole check); it returns the same :class:`GateDecision` object
while the waiting text does not change (decisions are frozen; the reference builds an equal
one on every call).

:func:`outputs_differ` is the comparison the tests (and the audit's ``twins.equivalence``)
use: exact, NaN equal to NaN, no tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mmkit.components import Estimates, GateDecision, View
from mmkit.core.events import Event, Trade, TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.estimators import _kernels_warmup_twin as kern
from mmkit.estimators.params import WarmupParams
from mmkit.estimators.warmup import _BAD_TRADE, WarmupEstimator, WarmupGate, log
from mmkit.twins.compare import identical
from mmkit.twins.slots import compiled_entry, float_slot, int_slot

#: no tolerance: the kernels repeat the reference's arithmetic operation for operation
TWIN_TOLERANCE: float = 0.0

_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1

# the kernel of every quoting cycle, through its compiled entry point once a twin is built
# (:func:`_bind`): the dispatcher's typing of seven arguments cost more than the estimate.
# Its callers pass their own arrays, floats they checked and int times (an int beyond
# int64 raises OverflowError, and the reference decides)
_SIG_ESTIMATE = "int64(float64[::1], int64[::1], int64, float64, float64, float64, int64)"
_estimate: Callable[..., int] = kern.estimate


def _bind() -> None:
    global _estimate
    _estimate = compiled_entry(kern.estimate, _SIG_ESTIMATE)


_NO_DATA = "first market data (the warmup timeout starts with it)"
#: (bit, name in the reference's ``_met``) in the order the reference logs them (sorted)
_MET_NAMES = (
    (kern.U_GRAD, "kappa"),
    (kern.U_FIT, "kappa fit"),
    (kern.U_TRADES, "trades"),
    (kern.U_VOLUME, "volume"),
)
#: estimate results that need more than publishing the waiting text
_RARE = (
    kern.R_READY | kern.R_TIMEOUT | kern.R_WAIVE_FIT | kern.R_WAIVE_GRAD | (0xFF << kern.MET_SHIFT)
)
#: results after which the waiting text is rebuilt (or checked: the own-fill count in it)
_REBUILD = kern.R_TEXT | (kern.U_GRAD << kern.UNMET_SHIFT)
_WAIVE_NAMES = ((kern.U_FIT, "kappa fit"), (kern.U_GRAD, "kappa graduation"))


def _as_int64(x: Any) -> int | None:
    """``x`` as an int64 value when it is an int (not bool) that fits, else None."""
    if type(x) is int and _I64_MIN <= x <= _I64_MAX:
        return x
    return None


def _as_exact_float(x: Any) -> float | None:
    """``x`` as a float that compares and computes as ``x`` does in Python: a float, or
    an int of at most 53 bits; else None."""
    if type(x) is float:
        return x
    if type(x) is int and -(2**53) <= x <= 2**53:
        return float(x)
    return None


class WarmupEstimatorTwin(WarmupEstimator):
    """The compiled twin of :class:`WarmupEstimator`: same parameters, same outputs."""

    def __init__(self, p: WarmupParams) -> None:
        _bind()
        # the arrays first: the reference constructor assigns through the properties
        self.f = np.zeros(kern.NF, dtype=np.float64)
        self.i = np.zeros(kern.NI, dtype=np.int64)
        self._seen = False  # first_ns >= 0 seen (a mirror that only ever turns True)
        self._warm = False  # warmed up (mirror of i[I_WARMED], refreshed by its setter)
        self._end_extras = (0.0, math.nan)  # extras written once warmed up
        self._fills = ""  # graduation text part ("own fills N") of the current waiting text
        super().__init__(p)
        self.f[kern.F_BUCKET_SIZE] = _as_exact_float(p.bucket_size) or 0.0
        self.f[kern.F_BUCKET_NOTIONAL] = _as_exact_float(p.bucket_notional) or 0.0
        self.f[kern.F_MAX_WARMUP_S] = _as_exact_float(p.max_warmup_secs) or 0.0
        interval = _as_exact_float(p.log_interval_s * NS_PER_S)
        self.f[kern.F_LOG_INTERVAL_NS] = interval or 0.0
        self.i[kern.I_MIN_BUCKETS] = _as_int64(p.min_buckets) or 0
        self.i[kern.I_MIN_TRADES] = _as_int64(p.min_trades) or 0
        self.i[kern.I_REQ_FIT] = 1 if p.require_kappa_market_fit else 0
        self.i[kern.I_REQ_GRAD] = 1 if p.require_kappa_graduation else 0
        self._req_fit = bool(p.require_kappa_market_fit)
        self._req_grad = bool(p.require_kappa_graduation)
        #: parameters the kernels cannot hold exactly: every estimate runs the reference
        self._slow = (
            None
            in (
                _as_exact_float(p.bucket_size),
                _as_exact_float(p.bucket_notional),
                _as_exact_float(p.max_warmup_secs),
                interval,
                _as_int64(p.min_buckets),
                _as_int64(p.min_trades),
            )
            or type(p.require_kappa_market_fit) is not bool
            or type(p.require_kappa_graduation) is not bool
        )
        self._label = self._bucket_label()

    # -- state as properties over the arrays (what reports read) -------------------------

    trades = int_slot("i", kern.I_TRADES, "market trades counted")
    volume = float_slot("f", kern.F_VOLUME, "market volume counted (base units)")
    notional = float_slot("f", kern.F_NOTIONAL, "market notional counted (quote units)")
    trades_at_end = int_slot("i", kern.I_TRADES_AT_END, "trades counted when warmup ended")
    ended_ns = int_slot("i", kern.I_ENDED_NS, "when warmup ended (ns)")
    _last_log_ns = int_slot("i", kern.I_LAST_LOG_NS, "last progress log line (ns)")
    #: held as an integral float: the count can exceed int64 (``int`` of the float is the
    #: reference's ``int(volume // bucket)`` exactly)
    buckets_at_end = int_slot("f", kern.F_BUCKETS_AT_END, "buckets counted when warmup ended")

    @property
    def first_ns(self) -> int:
        return int(self.i[kern.I_FIRST_NS])

    @first_ns.setter
    def first_ns(self, v: int) -> None:
        self.i[kern.I_FIRST_NS] = v
        self._seen = v >= 0

    @property
    def warmed_up(self) -> bool:
        return bool(self.i[kern.I_WARMED])

    @warmed_up.setter
    def warmed_up(self, v: bool) -> None:
        self.i[kern.I_WARMED] = 1 if v else 0
        self._sync_end()

    @property
    def timed_out(self) -> bool:
        return bool(self.i[kern.I_TIMED_OUT])

    @timed_out.setter
    def timed_out(self, v: bool) -> None:
        self.i[kern.I_TIMED_OUT] = 1 if v else 0
        self._sync_end()

    @property
    def finished_after_s(self) -> float:
        return float(self.f[kern.F_AFTER_S])

    @finished_after_s.setter
    def finished_after_s(self, v: float) -> None:
        self.f[kern.F_AFTER_S] = v
        self._sync_end()

    def _sync_end(self) -> None:
        """Refresh the Python mirrors of the end state (after any write to it)."""
        self._warm = bool(self.i[kern.I_WARMED])
        self._end_extras = (
            1.0 if self.i[kern.I_TIMED_OUT] else 0.0,
            float(self.f[kern.F_AFTER_S]),
        )

    def _sync_sets(self) -> None:
        """After the reference code ran on the twin: its ``_met`` / ``_waived`` sets into
        the kernel's bit masks, and the waiting-text cache invalidated."""
        self.i[kern.I_MET] = sum(bit for bit, name in _MET_NAMES if name in self._met)
        self.i[kern.I_WAIVED] = sum(bit for bit, name in _WAIVE_NAMES if name in self._waived)
        self.i[kern.I_KEY_VALID] = 0
        self._seen = self.i[kern.I_FIRST_NS] >= 0
        self._sync_end()

    # -- events ----------------------------------------------------------------------------

    def on_event(self, event: Event, now_ns: int) -> None:
        if type(event) is Trade:
            px, sz = event.px, event.sz
            if type(px) is float and type(sz) is float and type(now_ns) is int:
                try:
                    bad = kern.on_trade(self.f, self.i, px, sz, now_ns)
                except OverflowError:  # now_ns outside int64: the reference decides
                    pass
                else:
                    if bad:
                        self.rejections.reject("TRADE", _BAD_TRADE, (px, sz), now_ns)
                    return
            super().on_event(event, now_ns)
            return
        if not self._seen:
            if self.i[kern.I_FIRST_NS] >= 0:
                self._seen = True
            elif event.kind.is_market_data:
                self.first_ns = now_ns
        if isinstance(event, Trade):  # a subclass of Trade: the reference's own path
            self._on_trade(event.px, event.sz, now_ns)

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's trades, as ``on_event`` would take them one by one."""
        px, sz, recv = batch.px, batch.sz, batch.recv
        if px.dtype is not _F64 or sz.dtype is not _F64 or recv.dtype is not _I64:
            px = np.ascontiguousarray(px, dtype=np.float64)
            sz = np.ascontiguousarray(sz, dtype=np.float64)
            recv = np.ascontiguousarray(recv, dtype=np.int64)
        bad = kern.on_trades(self.f, self.i, px, sz, recv)
        if bad:
            self.rejections.reject(
                "TRADE", _BAD_TRADE, float(self.f[kern.F_FIRST_BAD]), now_ns, bad
            )

    # -- estimate ------------------------------------------------------------------------

    def _reference_estimate(self, out: Estimates, now_ns: int) -> None:
        """The reference method on the twin's state, then the kernel state resynchronised."""
        try:
            WarmupEstimator.estimate(self, out, now_ns)
        finally:
            self._sync_sets()

    def estimate(self, out: Estimates, now_ns: int) -> None:
        if self._warm:
            out.warmed_up = True
            out.warmup_waiting = ""
            ex = out.extras
            ex["warmup.timed_out"], ex["warmup.after_s"] = self._end_extras
            return
        if self._slow or type(now_ns) is not int:
            self._reference_estimate(out, now_ns)
            return
        book = robust = grad = 0.0
        present = 0
        ex = out.extras
        if self._req_fit:
            v = ex.get("kappa.book_confidence")
            if v is not None:
                if type(v) is not float:
                    self._reference_estimate(out, now_ns)
                    return
                book = v
                present = kern.P_BOOK
            v = ex.get("kappa.robust_confidence")
            if v is not None:
                if type(v) is not float:
                    self._reference_estimate(out, now_ns)
                    return
                robust = v
                present |= kern.P_ROBUST
        if self._req_grad:
            v = ex.get("kappa.graduated")
            if v is not None:
                if type(v) is not float or type(ex.get("kappa.own_n", 0.0)) is not float:
                    self._reference_estimate(out, now_ns)
                    return
                grad = v
                present |= kern.P_GRAD
        try:
            code = _estimate(self.f, self.i, now_ns, book, robust, grad, present)
        except OverflowError:  # now_ns outside int64
            code = kern.R_FALLBACK
        if code & kern.R_FALLBACK:
            self._reference_estimate(out, now_ns)
            return
        if code & kern.R_DONE:  # warmed up behind the mirror's back (state set directly)
            self._sync_end()
            self.estimate(out, now_ns)
            return
        if code & kern.R_NO_DATA:
            self._publish_wait(out, _NO_DATA, code)
            return
        if code & _RARE:
            self._rare(code)
            if code & (kern.R_READY | kern.R_TIMEOUT):
                self._end(out, code)
                return
        if code & _REBUILD:
            self.waiting = self._text(out, code)
        # the reference's _wait, its log decision taken by the kernel
        out.warmed_up = False
        out.warmup_waiting = self.waiting
        out.extras["warmup.timed_out"] = 0.0
        if code & kern.R_LOG:
            log.info("warmup: waiting for %s", self.waiting)

    def _rare(self, code: int) -> None:
        """Waive and requirement-met log lines, in the reference's order."""
        if code & kern.R_WAIVE_FIT:
            self._waive("kappa.book_confidence / kappa.robust_confidence", "kappa fit")
        if code & kern.R_WAIVE_GRAD:
            self._waive("kappa.graduated", "kappa graduation")
        newly = (code >> kern.MET_SHIFT) & 0xFF
        if newly:
            elapsed_s = float(self.f[kern.F_ELAPSED_S])
            for bit, name in _MET_NAMES:
                if newly & bit:
                    self._met.add(name)
                    log.info("warmup: %s requirement met after %.0f s", name, elapsed_s)

    def _descriptions(self, out: Estimates, unmet: int) -> list[str]:
        """What is still missing, worded and ordered as the reference's ``_unmet``."""
        p = self.p
        d: list[str] = []
        if unmet & kern.U_VOLUME:
            d.append(
                f"volume buckets {int(self.f[kern.F_BUCKETS])}/{p.min_buckets} ({self._label})"
            )
        if unmet & kern.U_TRADES:
            d.append(f"market trades {int(self.i[kern.I_TRADES])}/{p.min_trades}")
        if unmet & kern.U_FIT:
            d.append("kappa fit from market data (book or trades)")
        if unmet & kern.U_GRAD:
            n = out.extras.get("kappa.own_n", math.nan)
            fills = f"{n:.0f}" if math.isfinite(n) else "?"
            d.append(f"kappa graduation (own fills {fills})")
        return d

    def _text(self, out: Estimates, code: int) -> str:
        """The waiting text, rebuilt only when its parts changed."""
        unmet = (code >> kern.UNMET_SHIFT) & 0xFF
        if unmet & kern.U_GRAD:
            n = out.extras.get("kappa.own_n", math.nan)
            fills = f"{n:.0f}" if math.isfinite(n) else "?"
            if not code & kern.R_TEXT and fills == self._fills:
                return self.waiting
            self._fills = fills
        remaining = float(self.f[kern.F_REMAINING_S])
        return "; ".join(self._descriptions(out, unmet)) + f"; timeout in {remaining:.0f} s"

    def _publish_wait(self, out: Estimates, waiting: str, code: int) -> None:
        """As the reference's ``_wait``, the log decision taken by the kernel."""
        self.waiting = waiting
        out.warmed_up = False
        out.warmup_waiting = waiting
        out.extras["warmup.timed_out"] = 0.0
        if code & kern.R_LOG:
            log.info("warmup: waiting for %s", waiting)

    def _end(self, out: Estimates, code: int) -> None:
        """Warmup ended in the kernel: the reference's ``_finish`` outputs and log line."""
        self._sync_end()
        self.waiting = ""
        elapsed_s = float(self.f[kern.F_ELAPSED_S])
        if code & kern.R_TIMEOUT:
            missing = "; ".join(self._descriptions(out, (code >> kern.UNMET_SHIFT) & 0xFF))
            log.warning(
                "warmup: %s",
                f"timeout after {elapsed_s:.0f} s, quoting from priors; still missing: {missing}",
            )
        else:
            log.info("warmup: complete (%s)", f"all requirements met after {elapsed_s:.0f} s")
        out.warmed_up = True
        out.warmup_waiting = ""
        ex = out.extras
        ex["warmup.timed_out"], ex["warmup.after_s"] = self._end_extras


class WarmupGateTwin(WarmupGate):
    """The twin of :class:`WarmupGate`: the same decisions, one object per waiting text."""

    def __init__(self, name: str = "warmup") -> None:
        super().__init__(name)
        self._last_waiting: str | None = None
        self._last: GateDecision | None = None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if est.warmed_up:
            return None
        waiting = est.warmup_waiting or "warmup (no warmup estimator has reported yet)"
        last = self._last
        if last is not None and waiting == self._last_waiting and type(waiting) is str:
            return last
        self._last_waiting = waiting
        self._last = d = GateDecision(self.name, "Warmup", {"waiting": waiting})
        return d


# -- comparison (tests and the audit's twins.equivalence) --------------------------------

#: what reports read of a warmup estimator
ESTIMATOR_ATTRS = (
    "first_ns",
    "warmed_up",
    "timed_out",
    "ended_by",
    "ended_ns",
    "finished_after_s",
    "trades",
    "volume",
    "notional",
    "buckets",
    "trades_at_end",
    "buckets_at_end",
    "waiting",
)


#: the comparison of every value below: exact and typed, NaN equal to NaN, the sign of zero
#: counted, tuples element by element (kept under this name for callers)
same = identical


def _dict_diff(what: str, a: Any, b: Any) -> list[str]:
    return [
        f"{what}[{k!r}]: {a.get(k, '(absent)')!r} != {b.get(k, '(absent)')!r}"
        for k in sorted(set(a) | set(b), key=repr)
        if k not in a or k not in b or not same(a[k], b[k])
    ]


def estimates_differ(a: Estimates, b: Estimates) -> list[str]:
    """Fields and extras in which two :class:`Estimates` differ (exact, typed: stricter
    than :func:`mmkit.twins.compare.estimates_diff`, which lets an int equal a float)."""
    out = [
        f"estimates.{n}: {getattr(a, n)!r} != {getattr(b, n)!r}"
        for n in a.__slots__
        if n != "extras" and not same(getattr(a, n), getattr(b, n))
    ]
    return out + _dict_diff("extras", a.extras, b.extras)


def decisions_differ(a: GateDecision | None, b: GateDecision | None) -> list[str]:
    """How two gate decisions differ (gate, reason, detail, mode, emergency), exactly and
    typed (:func:`mmkit.twins.compare.decision_diff` lets an int detail equal a float)."""
    if a is None or b is None:
        return [] if a is b else [f"decision: {a!r} != {b!r}"]
    out = [
        f"decision.{n}: {getattr(a, n)!r} != {getattr(b, n)!r}"
        for n in ("gate", "reason", "mode", "emergency")
        if not same(getattr(a, n), getattr(b, n))
    ]
    return out + _dict_diff("decision.detail", dict(a.detail), dict(b.detail))


def _read(obj: Any, name: str) -> Any:
    """``obj.name``, or ``("raises", exception type name)`` when reading it raises (e.g.
    ``buckets`` after an absurd ``bucket_size``: ``int(inf)``), so that both raising the
    same way compares equal."""
    try:
        return getattr(obj, name)
    except Exception as e:
        return ("raises", type(e).__name__)


def outputs_differ(
    ref: WarmupEstimator,
    twin: WarmupEstimator,
    ref_out: Estimates | None = None,
    twin_out: Estimates | None = None,
) -> list[str]:
    """Every difference between a reference warmup estimator and its twin: the public
    attributes reports read, the rejections (counts, examples, total) and, when given,
    the :class:`Estimates` each published. Empty when they agree exactly."""
    diff = []
    for n in ESTIMATOR_ATTRS:
        a, b = _read(ref, n), _read(twin, n)
        if not same(a, b):
            diff.append(f"{n}: {a!r} != {b!r}")
    ra, rb = ref.rejections, twin.rejections
    if ra.total != rb.total:
        diff.append(f"rejections.total: {ra.total} != {rb.total}")
    diff += _dict_diff("rejections.counts", dict(ra.counts), dict(rb.counts))
    diff += _dict_diff("rejections.examples", ra.examples, rb.examples)
    if ref_out is not None and twin_out is not None:
        diff += estimates_differ(ref_out, twin_out)
    return diff
