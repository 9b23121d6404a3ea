"""The compiled twin of :class:`~mmkit.estimators.sigma_estimator.SigmaEstimator`.

:class:`SigmaEstimatorTwin` is the reference with its state moved into one float64 buffer
(int64 and float64 views of it; see :mod:`._kernels_sigma_estimator_twin` for the slots)
and its hot methods (``on_event``, ``on_trades``, ``estimate``) run as one numba call each,
through the kernels' compiled entry points (no type dispatch per call). The rare paths stay
in Python and produce the same outputs in the same order: rejections, the cascade log line
on a transition, open-interest readings, drawing the particle filter's next random block
(same generator, same block shapes, same order: the block is drawn as soon as the previous
one is used up instead of at the next step, which changes nothing the filter computes),
growing the burst detector's window (a new, longer buffer).

The particle filter's step itself runs through the reference's ``pf_step`` kernel (once per
sampled return, not per event; see :mod:`._kernels_sigma_estimator_twin` for why).

Every attribute of the reference that other code reads still reads right: ``mid``,
``returns``, ``warmed_up``, ``rejections``, ``sigma_cap()``, and the sub-objects ``pf``,
``bipower``, ``burst`` and ``cascade`` are views (subclasses of the reference classes whose
state attributes are properties over the buffer). ``copy.deepcopy`` gives an independent
twin. :func:`outputs_differ` is the exact comparison the tests use.

Equality: exact (no ``TWIN_TOLERANCE``).
"""

from __future__ import annotations

import copy
import math
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

import mmkit.estimators._kernels_sigma_estimator_twin as kern
from mmkit.components import Estimates
from mmkit.core.events import Event, EventKind, TradeBatch
from mmkit.estimators._kernels_pf import F_ROWS, OUT_SIZE, P_SIZE, pf_step
from mmkit.estimators._mid import positive
from mmkit.estimators.bipower import MultiScaleBipower
from mmkit.estimators.cascade import CascadeFloor, TradeBurstDetector
from mmkit.estimators.params import SigmaParams
from mmkit.estimators.particle_filter import ParticleFilter
from mmkit.estimators.sigma_estimator import (
    _BAD_TRADE,
    _LATE,
    _NO_TOUCH,
    SigmaEstimator,
)
from mmkit.estimators.sigma_estimator import log as _ref_log
from mmkit.twins.compare import estimates_diff, same
from mmkit.twins.slots import bool_slot, compiled_entry, float_slot, int_slot

FloatArr = npt.NDArray[np.float64]
IntArr = npt.NDArray[np.int64]

_BOOK = EventKind.BOOK_SNAPSHOT
_BBO = EventKind.BBO
_TRADE = EventKind.TRADE
_NAN = math.nan
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_S8 = (8,)  # strides of a 1-d contiguous 8-byte column
_E_BOOK, _E_TRADE, _E_OTHER = kern.E_BOOK, kern.E_TRADE, kern.E_OTHER
_ST_GROW, _ST_LATE, _ST_LOG, _ST_PF = kern.ST_GROW, kern.ST_LATE, kern.ST_LOG, kern.ST_PF
_ST_NO_TOUCH, _ST_BAD, _ST_MASK = kern.ST_NO_TOUCH, kern.ST_BAD, kern.ST_MASK
_RING0 = 1024  # initial capacity of the burst window (trade times), doubled when full

#: numba signatures of the kernels, called through their compiled entry points (no type
#: dispatch per call: the arrays are the twin's own, or checked float64 / int64 C arrays)
_SIGS = {
    "event": "int64(float64[::1], int64, float64, float64, int64)",
    "trades": "int64(float64[::1], float64[::1], float64[::1], int64[::1], int64)",
    "estimate": "Tuple((float64, boolean, int64, boolean, float64))(float64[::1], int64)",
    "finish": "int64(float64[::1])",
    "account": "int64(float64[::1])",
}
_KERNELS = {
    "event": kern.sigma_event,
    "trades": kern.sigma_trades,
    "estimate": kern.sigma_estimate,
    "finish": kern.sigma_finish,
    "account": kern.pf_account,
}


def _entry(name: str) -> Callable[..., Any]:
    """The compiled entry point of kernel ``name`` for its signature in ``_SIGS``."""
    return compiled_entry(_KERNELS[name], _SIGS[name])


class _State:
    """The one buffer a twin's kernels work on (see :mod:`._kernels_sigma_estimator_twin`)
    and its typed views ``i`` (int slots and particle state), ``f`` (float slots and
    arrays) and ``ring`` (the burst window), shared by the twin and its sub-object views."""

    __slots__ = ("buf", "f", "i", "n_f", "n_i", "on_move", "py_reason", "ring")

    def __init__(self, n_f: int, n_i: int) -> None:
        self.n_f, self.n_i = n_f, n_i
        #: the text of the last trigger set from Python (reason ``R_PY``)
        self.py_reason = ""
        #: called after :meth:`grow_ring` moved the state to a new buffer
        self.on_move: list[Callable[[], None]] = []
        self._alloc(np.zeros(n_i + n_f + _RING0, dtype=np.float64))
        self.i[kern.I_OFF_F] = n_i
        self.i[kern.I_OFF_RING] = n_i + n_f

    def __deepcopy__(self, memo: dict[int, Any]) -> _State:
        """An independent copy: a new buffer, views onto it (a deep copy of a view would be
        an array of its own), no listeners (the copied views register again)."""
        new = _State.__new__(_State)
        memo[id(self)] = new
        new.n_f, new.n_i, new.py_reason = self.n_f, self.n_i, self.py_reason
        new.on_move = []
        new._alloc(self.buf.copy())
        return new

    def _alloc(self, buf: FloatArr) -> None:
        self.buf = buf
        words: IntArr = buf.view(np.int64)
        self.i = words[: self.n_i]
        self.f = buf[self.n_i : self.n_i + self.n_f]
        self.ring = words[self.n_i + self.n_f :]

    def grow_ring(self) -> None:
        """Double the burst window's capacity (a new buffer), keeping its times in order."""
        old, i = self.ring, self.i
        head, n, cap = int(i[kern.I_RING_HEAD]), int(i[kern.I_RING_LEN]), old.shape[0]
        fixed = self.n_i + self.n_f
        new = np.zeros(fixed + 2 * cap, dtype=np.float64)
        new.view(np.int64)[:fixed] = self.buf.view(np.int64)[:fixed]  # bits, not values
        self._alloc(new)
        first = min(n, cap - head)  # the window wraps round the end of the old ring
        self.ring[:first] = old[head : head + first]
        self.ring[first:n] = old[: n - first]
        self.i[kern.I_RING_HEAD] = 0
        for moved in self.on_move:
            moved()


class _OverState:
    """What the property slots of a view read: the state's current ``f`` and ``i`` arrays
    (looked up each time: growing the burst ring moves the whole state to a new buffer)."""

    _s: _State

    @property
    def _sf(self) -> FloatArr:
        return self._s.f

    @property
    def _si(self) -> IntArr:
        return self._s.i


class _ParticleFilterView(_OverState, ParticleFilter):
    """The reference filter's state, moved into the twin's arrays (same generator)."""

    steps = int_slot("_si", kern.I_PF_STEPS, "returns assimilated")
    loglik = float_slot("_sf", kern.F_LOGLIK, "summed log-likelihood increments")
    _k = int_slot("_si", kern.I_PF_K, "next row of the random block")

    def __init__(self, src: ParticleFilter, s: _State, off: dict[str, int]) -> None:
        # not ParticleFilter.__init__: adopt ``src`` (its generator has drawn the particles)
        self._s = s
        self._off = off
        self.model = src.model
        self.n = src.n
        self._rng = src._rng
        self.bind()
        s.on_move.append(self.bind)
        self._fs[:] = src._fs
        self._is[:] = src._is
        self._model[:] = src._model
        self.out[:] = src.out
        self.steps = src.steps
        self.loglik = src.loglik
        if src._k < kern.BLOCK:  # a block in use: carry it on
            self._normals[:] = src._normals
            self._uniforms[:] = src._uniforms
            self._k = src._k
        else:
            self.draw_block()

    def __deepcopy__(self, memo: dict[int, Any]) -> _ParticleFilterView:
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new._s = copy.deepcopy(self._s, memo)
        new._off = self._off
        new.model = self.model
        new.n = self.n
        new._rng = copy.deepcopy(self._rng, memo)
        new.bind()
        new._s.on_move.append(new.bind)
        return new

    def bind(self) -> None:
        """Point the reference's array attributes at the twin's buffer (again, after it
        moved)."""
        f, i, off, n = self._s.f, self._s.i, self._off, self.n
        half = (n + 1) // 2
        self._fs = f[off["fs"] : off["fs"] + F_ROWS * n].reshape((F_ROWS, n))
        self._is = i[off["is"] : off["is"] + 3 * n].reshape((3, n))
        self._model = f[off["model"] : off["model"] + P_SIZE]
        self.out = f[off["out"] : off["out"] + OUT_SIZE]
        o = off["norm"]
        self._normals = f[o : o + kern.BLOCK * half].reshape((kern.BLOCK, half))
        o = off["uni"]
        self._uniforms = f[o : o + kern.BLOCK * (n + 1)].reshape((kern.BLOCK, n + 1))

    def draw_block(self) -> None:
        """The next block of random numbers, drawn in place (same draws, same order as the
        reference's ``standard_normal((256, half))`` then ``random((256, n + 1))``)."""
        self._rng.standard_normal(out=self._normals)
        self._rng.random(out=self._uniforms)
        self._k = 0

    def step(self, r: float) -> None:
        """Assimilate one return (the reference's ``step``, on the arrays)."""
        if not math.isfinite(r):
            return
        self.kernel_step(float(r))

    def kernel_step(self, r: float) -> None:
        """``pf_step`` through its own dispatcher (as the reference calls it) and the
        bookkeeping; draws the next block when this one is used up."""
        s = self._s
        pf_step(
            self._fs,
            self._is,
            self._normals,
            self._uniforms,
            s.i[kern.I_PF_K],
            r,
            self._model,
            self.out,
        )
        if _entry("account")(s.buf) & kern.ST_BLOCK:
            self.draw_block()


class _BipowerView(_OverState, MultiScaleBipower):
    """The reference bipower's state in the twin's arrays; its methods work unchanged."""

    _prev_abs = float_slot("_sf", kern.F_PREV_ABS, "|previous return| (NaN after a reset)")
    count = int_slot("_si", kern.I_BP_COUNT, "bipower terms taken")

    def __init__(self, src: MultiScaleBipower, s: _State, off: dict[str, int]) -> None:
        self._s = s
        self._o = off["vars"]
        m = len(src._alphas)
        self._m = m
        s.f[off["alphas"] : off["alphas"] + m] = src._alphas
        self._alphas = list(src._alphas)
        self._vars = list(src._vars)
        self._prev_abs = src._prev_abs
        self.count = src.count

    @property
    def _vars(self) -> list[float]:
        v: list[float] = self._s.f[self._o : self._o + self._m].tolist()
        return v

    @_vars.setter
    def _vars(self, v: list[float]) -> None:
        self._s.f[self._o : self._o + self._m] = v


class _BurstView(_OverState, TradeBurstDetector):
    """The reference burst detector's state in the twin's arrays (read-only from Python:
    the twin's kernels update it)."""

    _rate = float_slot("_sf", kern.F_BURST_RATE, "baseline trades per second (NaN until measured)")
    _win_start = int_slot("_si", kern.I_WIN_START, "start of the baseline window (ns, -1 before)")
    _win_count = int_slot("_si", kern.I_WIN_COUNT, "trades in the baseline window")

    def __init__(self, src: TradeBurstDetector, s: _State) -> None:
        self._s = s
        self.window_ns = src.window_ns
        self.window_s = src.window_s
        self.factor = src.factor
        self.min_trades = src.min_trades
        self._hl_s = src._hl_s
        f, i = s.f, s.i
        f[kern.F_BURST_WINDOW_S] = src.window_s
        f[kern.F_BURST_FACTOR] = src.factor
        f[kern.F_BURST_HL_S] = src._hl_s
        i[kern.I_BURST_WINDOW_NS] = src.window_ns
        i[kern.I_BURST_MIN] = src.min_trades
        self._rate = src._rate
        self._win_start = src._win_start
        self._win_count = src._win_count
        if src._times:
            raise ValueError("a twin adopts a fresh burst detector (no trades seen)")

    def _window(self) -> deque[int]:
        """The window's trade times (a copy)."""
        i, ring = self._s.i, self._s.ring
        head, n, cap = int(i[kern.I_RING_HEAD]), int(i[kern.I_RING_LEN]), ring.shape[0]
        return deque(int(ring[(head + j) % cap]) for j in range(n))

    _times = property(_window, doc="the window's trade times (a copy, read-only)")

    def on_trade(self, now_ns: int) -> bool:
        raise TypeError("the twin's burst detector is driven by its kernels (on_event)")


_REASONS = {kern.R_NONE: "", kern.R_BURST: "trade burst"}


class _CascadeView(_OverState, CascadeFloor):
    """The reference cascade floor's state in the twin's arrays; ``trigger``, ``active``
    and ``value`` are the reference's, through these properties."""

    triggered_ns = int_slot("_si", kern.I_TRIG_NS, "last trigger (ns, -1: never)")
    triggers = int_slot("_si", kern.I_TRIGGERS, "triggers so far")

    def __init__(self, src: CascadeFloor, s: _State) -> None:
        self._s = s
        self.floor = src.floor
        self.hold_ns = src.hold_ns
        self.half_life_s = src.half_life_s
        s.f[kern.F_CASC_FLOOR] = src.floor
        s.f[kern.F_CASC_HL_S] = src.half_life_s
        s.i[kern.I_HOLD_NS] = src.hold_ns
        self.triggered_ns = src.triggered_ns
        self.triggers = src.triggers
        self.last_reason = src.last_reason

    @property
    def last_reason(self) -> str:
        """The last trigger's reason, in the reference's words."""
        return _reason_text(
            self._s, int(self._s.i[kern.I_REASON]), float(self._s.f[kern.F_REASON_RATIO])
        )

    @last_reason.setter
    def last_reason(self, v: str) -> None:
        self._s.py_reason = v
        self._s.i[kern.I_REASON] = kern.R_PY if v else kern.R_NONE


def _reason_text(s: _State, code: int, ratio: float) -> str:
    if code == kern.R_JUMP:
        return f"jump of {ratio:.1f} sigma"
    if code == kern.R_PY:
        return s.py_reason
    return _REASONS[code]


def _n_scales(p: SigmaParams) -> int:
    """Bipower scales the reference keeps (valid half-lives, at least one)."""
    hls = [h / p.sample_interval_s for h in p.bipower_half_lives]
    return max(1, sum(1 for h in hls if math.isfinite(h) and h > 0))


class SigmaEstimatorTwin(_OverState, SigmaEstimator):
    """:class:`SigmaEstimator` run by numba kernels: same constructor, same outputs."""

    def __init__(self, p: SigmaParams, seed: int = 0) -> None:
        self._k_event = _entry("event")
        self._k_trades = _entry("trades")
        self._k_estimate = _entry("estimate")
        self._k_finish = _entry("finish")
        # the reference's dispatcher, called as the reference calls it (once per sampled
        # return): the same compiled overload, loaded from the same cache entry
        self._k_pf_step = pf_step
        n_f, n_i, off = kern.layout(int(p.n_particles), _n_scales(p))
        s = self._s = _State(n_f, n_i)
        super().__init__(p, seed)  # its state attributes land in the arrays (properties)
        f, i = s.f, s.i
        if len(self.bipower._alphas) != _n_scales(p):  # pragma: no cover - layout drift
            raise AssertionError("bipower scales differ from the twin's layout")
        i[kern.I_PY_SUM] = 1 if sys.version_info >= (3, 12) else 0
        i[kern.I_DT_NS] = self.dt_ns
        i[kern.I_MAX_GAP] = p.max_gap_intervals
        i[kern.I_WARMUP] = p.warmup_returns
        i[kern.I_NSC] = len(self.bipower._alphas)
        i[kern.I_N] = self.pf.n
        i[kern.I_HALF] = (self.pf.n + 1) // 2
        i[kern.I_OFF_VARS] = off["vars"]
        i[kern.I_OFF_ALPHAS] = off["alphas"]
        i[kern.I_OFF_FS] = off["fs"]
        i[kern.I_OFF_NORM] = off["norm"]
        i[kern.I_OFF_UNI] = off["uni"]
        i[kern.I_OFF_MODEL] = off["model"]
        i[kern.I_OFF_OUT] = off["out"]
        i[kern.I_OFF_IS] = off["is"]
        f[kern.F_DEFAULT_VAR] = self._default_var
        f[kern.F_DT] = p.sample_interval_s
        f[kern.F_JUMP_K] = p.cascade_jump_k
        f[kern.F_PF_WEIGHT] = p.pf_weight
        f[kern.F_MIN_SIGMA] = self.min_sigma
        f[kern.F_MAX_SIGMA] = self.max_sigma
        f[kern.F_DEFAULT_SIGMA] = self.default_sigma
        f[kern.F_HALF] = 0.5
        self.pf = _ParticleFilterView(self.pf, s, off)
        self.bipower = _BipowerView(self.bipower, s, off)
        self.burst = _BurstView(self.burst, s)
        self.cascade = _CascadeView(self.cascade, s)

    # the reference's state attributes, over the arrays
    mid = float_slot("_sf", kern.F_MID, "last valid mid (NaN before one)")
    _anchor_mid = float_slot("_sf", kern.F_ANCHOR_MID, "mid at the sampling anchor")
    _base_var = float_slot("_sf", kern.F_BASE_VAR, "published per-interval variance of the sources")
    _anchor_ns = int_slot("_si", kern.I_ANCHOR_NS, "sampling anchor (ns, -1 before)")
    _now = int_slot("_si", kern.I_NOW, "the sampling clock (ns)")
    returns = int_slot("_si", kern.I_RETURNS, "returns sampled")

    _book_seen = bool_slot(
        "_si", kern.I_BOOK_SEEN, "a valid book was seen (trades no longer set the mid)"
    )

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        ev: Any = event
        kind = ev.kind
        if kind is _BBO:
            try:
                a = float(ev.bid_px)
                b = float(ev.ask_px)
            except (TypeError, ValueError, IndexError, OverflowError):  # as event_mid
                a = b = _NAN
            code = _E_BOOK
        elif kind is _TRADE:
            try:  # as positive(): a price or size that is not a number is a bad trade
                a = float(ev.px)
            except (TypeError, ValueError, OverflowError):
                a = _NAN
            try:
                b = float(ev.sz)
            except (TypeError, ValueError, OverflowError):
                b = _NAN
            code = _E_TRADE
        elif kind is _BOOK:
            a, b = _touch(ev)
            code = _E_BOOK
        else:
            a = b = 0.0
            code = _E_OTHER
            oi = getattr(ev, "open_interest", None)
            if oi is not None:
                if now_ns < self._now:
                    self.rejections.reject(kind.name, _LATE, now_ns - self._now, now_ns)
                    return
                self._now = now_ns
                if self.oi.on_open_interest(positive(oi), now_ns):
                    self._trigger(now_ns, "open-interest drop")
        st = self._k_event(self._s.buf, code, a, b, now_ns)
        if st:
            self._after_event(st, ev, code, a, b, now_ns)

    def _after_event(self, st: int, ev: Any, code: int, a: float, b: float, now_ns: int) -> None:
        """The rare outcomes of an event, in the reference's order: a full ring (grow it,
        run the event), a late event, the input's rejection, then the kernel's requests."""
        while st & _ST_GROW:
            self._s.grow_ring()
            st = self._k_event(self._s.buf, code, a, b, now_ns)
        if st & _ST_LATE:
            self.rejections.reject(ev.kind.name, _LATE, now_ns - self._now, now_ns)
            return
        if st & _ST_NO_TOUCH:
            self.rejections.reject(ev.kind.name, _NO_TOUCH, None, now_ns)
        elif st & _ST_BAD:
            self.rejections.reject(ev.kind.name, _BAD_TRADE, (ev.px, ev.sz), now_ns)
        if st & (_ST_LOG | _ST_PF):
            self._flags(st)

    def _flags(self, st: int) -> None:
        """The work a kernel asked for, in the reference's order: the transition's log
        line, then the particle filter's step on the sampled return (and the next random
        block when the step used up this one)."""
        if st & kern.ST_LOG:
            s = self._s
            reason = _reason_text(s, int(s.i[kern.I_LOG_REASON]), float(s.f[kern.F_LOG_RATIO]))
            _ref_log.warning(
                "sigma cascade mode: %s; sigma floor %.3g for %.0f s",
                reason,
                self.cascade.floor,
                self.p.cascade_hold_s,
            )
        if st & kern.ST_PF:
            s = self._s
            pf: Any = self.pf
            self._k_pf_step(
                pf._fs,
                pf._is,
                pf._normals,
                pf._uniforms,
                s.i[kern.I_PF_K],
                s.f[kern.F_R],
                pf._model,
                pf.out,
            )
            if self._k_finish(s.buf) & kern.ST_BLOCK:
                pf.draw_block()

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's trades, as ``on_event`` would take them one by one."""
        px, sz, recv = batch.px, batch.sz, batch.recv
        if not (
            px.dtype is _F64
            and sz.dtype is _F64
            and recv.dtype is _I64
            and px.strides == _S8
            and sz.strides == _S8
            and recv.strides == _S8
        ):  # the entry point takes 1-d contiguous float64 / int64 columns only
            px, sz, recv = _f64(px), _f64(sz), _i64(recv)
        st = self._k_trades(self._s.buf, px, sz, recv, 0)
        if st & _ST_MASK:
            self._after_trades(st, px, sz, recv, now_ns)

    def _after_trades(self, st: int, px: FloatArr, sz: FloatArr, recv: IntArr, now_ns: int) -> None:
        """Serve a batch kernel's requests and resume it at the row it stopped at; then
        record the batch's late and bad rows as the reference does."""
        s = self._s
        n = px.shape[0]
        while True:
            j = st >> kern.ST_SHIFT
            flags = st & _ST_MASK
            if flags & _ST_GROW:
                s.grow_ring()
            elif flags & (_ST_LOG | _ST_PF):
                self._flags(flags)
            if j >= n and not flags & _ST_GROW:
                break
            st = self._k_trades(s.buf, px, sz, recv, j)
        if flags & kern.ST_REJ:
            i = s.i
            late, bad = int(i[kern.I_LATE]), int(i[kern.I_BAD])
            if late:
                self.rejections.reject("TRADE", _LATE, int(i[kern.I_FIRST_LATE]), now_ns, late)
            if bad:
                first_bad = float(s.f[kern.F_FIRST_BAD])
                self.rejections.reject("TRADE", _BAD_TRADE, first_bad, now_ns, bad)

    # -- retrieval ------------------------------------------------------------------------
    def estimate(self, out: Estimates, now_ns: int) -> None:
        sigma, active, n, trig, floor = self._k_estimate(self._s.buf, now_ns)
        out.sigma = sigma
        out.cascade = active
        if n != self._published_returns or out is not self._last_out:
            self._publish_all(out)  # the reference's, through the views (once per return)
        if trig:
            out.extras["sigma.cascade_floor"] = floor


def _touch(ev: Any) -> tuple[float, float]:
    """A snapshot's best bid and ask as floats, NaN when a side is empty or a price is not
    a number (the cases :func:`mmkit.estimators._mid.event_mid` turns into NaN)."""
    try:
        bids, asks = ev.bid_px, ev.ask_px
        if len(bids) == 0 or len(asks) == 0:
            return _NAN, _NAN
        return float(bids[0]), float(asks[0])
    except (TypeError, ValueError, IndexError, OverflowError):
        return _NAN, _NAN


def _f64(a: Any) -> FloatArr:
    """``a`` as a one-dimensional contiguous float64 array (the same object when it is one
    already: strides ``(8,)``), the only layout the batch kernel's entry point takes."""
    if a.dtype is _F64 and a.strides == _S8:
        v: FloatArr = a
        return v
    c: FloatArr = _column(a, np.float64)
    return c


def _i64(a: Any) -> IntArr:
    """As :func:`_f64`, int64."""
    if a.dtype is _I64 and a.strides == _S8:
        v: IntArr = a
        return v
    c: IntArr = _column(a, np.int64)
    return c


def _column(a: Any, dtype: Any) -> Any:
    c = np.ascontiguousarray(a, dtype=dtype)
    if c.ndim != 1:
        raise ValueError(f"a trade batch column has shape {c.shape}, not one dimension")
    return c


# -- comparison (tests and the audit) ------------------------------------------------------


def estimates_differ(a: Estimates, b: Estimates) -> list[str]:
    """Fields and extras in which two :class:`Estimates` differ, exactly (the audit's
    :func:`mmkit.twins.compare.estimates_diff`)."""
    return estimates_diff(a, b)


def state_differ(ref: SigmaEstimator, twin: SigmaEstimator) -> list[str]:
    """Public and reported state in which the reference and its twin differ, exactly:
    sampling clock and mid, returns, sigma_cap, rejections (counts and examples), the
    cascade floor (triggers, last reason, trigger time), the burst detector, bipower
    scales and the particle filter's particles, weights, regimes and outputs."""
    out: list[str] = []

    def cmp(name: str, a: Any, b: Any) -> None:
        if not same(a, b):
            out.append(f"{name}: {a!r} != {b!r}")

    for name in ("mid", "_anchor_mid", "_base_var", "_anchor_ns", "_now", "returns"):
        cmp(name, getattr(ref, name), getattr(twin, name))
    cmp("_book_seen", ref._book_seen, twin._book_seen)
    cmp("warmed_up", ref.warmed_up, twin.warmed_up)
    cmp("sigma_cap()", ref.sigma_cap(), twin.sigma_cap())
    cmp("rejections.total", ref.rejections.total, twin.rejections.total)
    cmp("rejections.counts", dict(ref.rejections.counts), dict(twin.rejections.counts))
    cmp("rejections.examples", ref.rejections.examples, twin.rejections.examples)
    rc, tc = ref.cascade, twin.cascade
    for name in ("triggered_ns", "triggers", "last_reason", "floor"):
        cmp(f"cascade.{name}", getattr(rc, name), getattr(tc, name))
    rb, tb = ref.burst, twin.burst
    for name in ("_rate", "_win_start", "_win_count"):
        cmp(f"burst.{name}", getattr(rb, name), getattr(tb, name))
    cmp("burst._times", list(rb._times), list(tb._times))
    cmp("bipower.scales", ref.bipower.scales, twin.bipower.scales)
    cmp("bipower._prev_abs", ref.bipower._prev_abs, twin.bipower._prev_abs)
    cmp("bipower.count", ref.bipower.count, twin.bipower.count)
    cmp("bipower.variance", ref.bipower.variance, twin.bipower.variance)
    rp, tp = ref.pf, twin.pf
    cmp("pf.steps", rp.steps, tp.steps)
    cmp("pf.loglik", rp.loglik, tp.loglik)
    for name in ("mean_variance", "ess_fraction", "p_turbulent"):
        cmp(f"pf.{name}", getattr(rp, name), getattr(tp, name))
    for name in ("h", "w", "regimes"):
        ra, ta = getattr(rp, name), getattr(tp, name)
        if not np.array_equal(ra, ta, equal_nan=ra.dtype.kind == "f"):
            bad = int(np.flatnonzero(~((ra == ta) | ((ra != ra) & (ta != ta))))[0])
            out.append(f"pf.{name}[{bad}]: {ra[bad]!r} != {ta[bad]!r}")
    return out


def outputs_differ(
    ref: SigmaEstimator,
    twin: SigmaEstimator,
    out_ref: Estimates | None = None,
    out_twin: Estimates | None = None,
) -> list[str]:
    """Everything in which ``ref`` and ``twin`` differ (empty: equal): their state
    (:func:`state_differ`) and, when given, the estimates each last wrote."""
    diff = state_differ(ref, twin)
    if out_ref is not None and out_twin is not None:
        diff += estimates_differ(out_ref, out_twin)
    return diff
