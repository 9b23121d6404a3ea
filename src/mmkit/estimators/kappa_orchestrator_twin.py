"""Compiled twin of :class:`~mmkit.estimators.kappa_orchestrator.KappaOrchestrator`.

The orchestrator's state, its book source's and its robust (market-trade) source's, ring
buffer included, live in two numpy arrays (``_f`` float64, ``_i`` int64; slots named in
:mod:`mmkit.estimators._kernels_kappa_orchestrator_twin`). Each hot call is one kernel call:
``on_event`` (a book snapshot, a BBO, a trade, any other event's clock), ``on_trades`` (a
whole batch, columnar) and ``estimate`` (expiry, the robust refit on its interval, the blend,
stagnation, the intensity); Python then only writes the ``Estimates`` fields and the extras
of the sources that changed, as the reference does.

The own-fill source stays the reference's Python :class:`OwnFillKappa` (fills are rare; its
window sum is recomputed with ``math.fsum`` when a fill expires): the kernels read a mirror of
its clock, oldest fill, kappa, confidence and graduation, refreshed after every Python
operation on it. When a fill leaves the window, ``estimate`` makes a second kernel call after
Python has expired it.

Outputs are exact (same IEEE operations in the same order as the reference, no fastmath; no
``TWIN_TOLERANCE``), for engine times in ``[0, 2**62)`` ns whose differences stay below 2**53
ns (104 days): beyond that, an int-to-float division in the kernels could round where
Python's exact int division does not, and int64 arithmetic could wrap where Python's ints do
not. Trade batch columns are float64 / int64 arrays as :class:`TradeBatch` builds them.
:func:`outputs_differ` is the comparison the tests use (exact, the public surface included).

Measured (``timeit``, busy 2-core machine, default parameters, 4096-trade buffer full):
a trade ``on_event`` 2.4 -> 0.45 us, ``on_trades`` of 60 trades 25 -> 1.1 us, a 20-level
book snapshot 1.2 -> 0.7 us, ``estimate`` with nothing due 0.51 -> 0.43 us, a book then
``estimate`` (reblend, extras) 4.7 -> 1.9 us.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mmkit.components import Estimates
from mmkit.core.events import Event, EventKind, TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.estimators import _kernels_kappa_orchestrator_twin as kk
from mmkit.estimators._mid import event_mid, positive
from mmkit.estimators.book_kappa import BookKappa
from mmkit.estimators.kappa_orchestrator import (
    _BAD_FILL,
    _BAD_TRADE,
    _NO_TOUCH,
    KappaOrchestrator,
    _publish_source,
)
from mmkit.estimators.params import KappaParams
from mmkit.estimators.robust_kappa import RobustKappa
from mmkit.twins.compare import estimates_diff, identical
from mmkit.twins.slots import bool_slot, compiled_entry, float_slot, int_slot

log = logging.getLogger("mmkit.estimators.kappa_orchestrator")  # the reference's log lines

_BOOK_SNAPSHOT = EventKind.BOOK_SNAPSHOT
_BBO = EventKind.BBO
_TRADE = EventKind.TRADE
_OWN_FILL = EventKind.OWN_FILL
_NAMES = ("prior", "book", "robust", "own")

_on_book = kk.on_book
_on_trades = kk.on_trades
# the two kernels of every event and every quoting cycle, through their compiled entry
# points once a twin is built (:func:`_bind`): the dispatcher's typing of their arguments
# cost as much as their work. The twin passes them its own arrays, floats it has checked
# and engine times (int64; the twin is exact for times in [0, 2**62), see above)
_SIG_SCALAR = "int64(float64[::1], int64[::1], int64, float64, float64, int64)"
_SIG_ESTIMATE = "int64(float64[::1], int64[::1], int64, int64)"
_on_scalar: Callable[..., int] = kk.on_scalar
_estimate: Callable[..., int] = kk.estimate


def _bind() -> None:
    global _on_scalar, _estimate
    _on_scalar = compiled_entry(kk.on_scalar, _SIG_SCALAR)
    _estimate = compiled_entry(kk.estimate, _SIG_ESTIMATE)


class _BookView(BookKappa):
    """The twin's book source: the reference's attributes, read from the twin's arrays.
    Driven by the twin's kernels only (``on_book`` raises)."""

    def __init__(self, f: np.ndarray, i: np.ndarray, ref: BookKappa) -> None:
        # no super().__init__: the state is the arrays'
        self._fa = f
        self._ia = i
        self.max_depth = ref.max_depth
        self.min_levels = ref.min_levels
        self.fit_interval_ns = ref.fit_interval_ns

    @property
    def kappa(self) -> float:  # type: ignore[override]
        return float(self._fa[kk.F_BK_KAPPA])

    @property
    def confidence(self) -> float:  # type: ignore[override]
        return float(self._fa[kk.F_BK_CONF])

    @property
    def fits(self) -> int:  # type: ignore[override]
        return int(self._ia[kk.I_BK_FITS])

    def on_book(self, ev: Any, mid: float, now_ns: int) -> bool:
        raise TypeError("the kappa twin's book source is driven by its kernels (on_event)")


class _RobustView(RobustKappa):
    """The twin's robust source: the reference's attributes (``observation_count``,
    ``kappa``, ``confidence``, ``ess``, ``capacity_cut_ns``, ``count_after``...) read from the
    twin's arrays. Driven by the twin's kernels only (``add``/``refresh`` raise)."""

    def __init__(self, f: np.ndarray, i: np.ndarray, ref: RobustKappa) -> None:
        self._fa = f
        self._ia = i
        self.nu = ref.nu
        self.window_ns = ref.window_ns
        self.min_trades = ref.min_trades
        self.fit_interval_ns = ref.fit_interval_ns
        self.prior_strength = ref.prior_strength
        self._cap = ref._cap
        self._offset = ref._offset

    @property
    def kappa(self) -> float:  # type: ignore[override]
        return float(self._fa[kk.F_RB_KAPPA])

    @property
    def confidence(self) -> float:  # type: ignore[override]
        return float(self._fa[kk.F_RB_CONF])

    @property
    def ess(self) -> float:  # type: ignore[override]
        return float(self._fa[kk.F_RB_ESS])

    @property
    def _loc(self) -> float:  # type: ignore[override]
        return float(self._fa[kk.F_RB_LOC])

    @property
    def _scale(self) -> float:  # type: ignore[override]
        return float(self._fa[kk.F_RB_SCALE])

    @property
    def capacity_cut_ns(self) -> int:  # type: ignore[override]
        return int(self._ia[kk.I_RB_CUT])

    @property
    def observation_count(self) -> int:
        return int(self._ia[kk.I_RB_COUNT])

    def count_after(self, since_ns: int) -> int:
        return int(kk.robust_count_after(self._ia, self._cap, int(since_ns)))

    def add(self, depth: float, now_ns: int) -> None:
        raise TypeError("the kappa twin's robust source is driven by its kernels (on_event)")

    def add_many(self, depths: list[float], times: list[int]) -> None:
        raise TypeError("the kappa twin's robust source is driven by its kernels (on_trades)")

    def refresh(self, now_ns: int) -> bool:
        raise TypeError("the kappa twin's robust source is driven by its kernels (estimate)")


class KappaOrchestratorTwin(KappaOrchestrator):
    """The compiled twin: same constructor, same outputs, state in ``_f``/``_i``."""

    mid = float_slot("_f", kk.F_MID, "tracked mid (NaN before a valid touch)")
    smoothed = float_slot("_f", kk.F_SMOOTHED, "EWMA of the clamped blend")
    blend = float_slot("_f", kk.F_BLEND, "last raw blend")
    _dirty = int_slot("_i", kk.I_DIRTY, "sources changed since the last blend (bit set)")
    _first_ns = int_slot("_i", kk.I_FIRST, "first event time, ns (-1 before any)")
    _now = int_slot("_i", kk.I_NOW, "latest time seen, ns")
    _stagnant_since = int_slot("_i", kk.I_STAG_SINCE, "start of low own-fill confidence, ns")
    stagnation_alert = bool_slot("_i", kk.I_STAG_ALERT, "stagnation alert up")
    stagnation_episodes = int_slot("_i", kk.I_STAG_EPISODES, "stagnation alerts fired")
    _published_alert = bool_slot("_i", kk.I_PUB_ALERT, "alert value last published")

    def __init__(self, p: KappaParams) -> None:
        _bind()
        cap = int(p.robust_max_trades)
        self._f = np.zeros(kk.N_F + cap, dtype=np.float64)
        self._i = np.zeros(kk.N_I + cap, dtype=np.int64)
        self._i[kk.I_OWN_OLDEST] = kk.NO_TIME
        super().__init__(p)  # its assignments to the slot properties land in the arrays
        f, i = self._f, self._i
        book, robust = self.book, self.robust
        f[kk.F_BK_KAPPA] = book.kappa
        f[kk.F_BK_CONF] = book.confidence
        f[kk.F_BK_MAX_DEPTH] = book.max_depth
        i[kk.I_BK_LAST_FIT] = book._last_fit_ns
        i[kk.I_BK_INTERVAL] = book.fit_interval_ns
        i[kk.I_BK_FITS] = book.fits
        i[kk.I_BK_MIN_LEVELS] = book.min_levels
        f[kk.F_RB_KAPPA] = robust.kappa
        f[kk.F_RB_CONF] = robust.confidence
        f[kk.F_RB_ESS] = robust.ess
        f[kk.F_RB_LOC] = robust._loc
        f[kk.F_RB_SCALE] = robust._scale
        f[kk.F_RB_OFFSET] = robust._offset
        f[kk.F_RB_NU] = robust.nu
        f[kk.F_RB_PRIOR_STRENGTH] = robust.prior_strength
        i[kk.I_RB_HEAD] = 0
        i[kk.I_RB_COUNT] = 0
        i[kk.I_RB_NOW] = robust._now
        i[kk.I_RB_OLDEST] = robust._oldest
        i[kk.I_RB_CUT] = robust.capacity_cut_ns
        i[kk.I_RB_LAST_FIT] = robust._last_fit_ns
        i[kk.I_RB_INTERVAL] = robust.fit_interval_ns
        i[kk.I_RB_WINDOW] = robust.window_ns
        i[kk.I_RB_DIRTY] = 0
        i[kk.I_RB_MIN_TRADES] = robust.min_trades
        f[kk.F_PRIOR_KAPPA] = p.prior_kappa
        f[kk.F_PRIOR_WEIGHT] = p.prior_weight
        f[kk.F_FLOOR] = p.kappa_floor
        f[kk.F_CAP] = p.kappa_cap
        f[kk.F_ALPHA] = p.ewma_alpha
        f[kk.F_CAP_MULT] = p.warmup_robust_cap_mult
        f[kk.F_MAX_TRADE_DEPTH] = p.max_trade_depth
        f[kk.F_WINDOW_S] = p.window_s
        f[kk.F_STAG_CONF] = p.stagnation_confidence
        f[kk.F_A] = math.nan
        # Python compares the int elapsed time with the float stagnation_s * 1e9 exactly:
        # elapsed >= x  <=>  elapsed >= ceil(x) for an int
        thr = p.stagnation_s * NS_PER_S
        i[kk.I_STAG_NS] = kk.NO_TIME if not thr < kk.NO_TIME else math.ceil(thr)
        i[kk.I_OWN_WINDOW] = self.own.window_ns
        self._sync_own()
        self.book = _BookView(f, i, book)
        self.robust = _RobustView(f, i, robust)

    # -- state the reference keeps in Python objects ----------------------------------------
    @property
    def _sources(self) -> list[tuple[str, float, float]]:
        f, mask = self._f, int(self._i[kk.I_SRC_MASK])
        if mask & kk.FALLBACK:
            return [("prior", float(f[kk.F_SRC_K]), float(f[kk.F_SRC_C]))]
        return [
            (_NAMES[s], float(f[kk.F_SRC_K + s]), float(f[kk.F_SRC_C + s]))
            for s in range(4)
            if mask & (1 << s)
        ]

    @_sources.setter
    def _sources(self, sources: list[tuple[str, float, float]]) -> None:
        f, mask = self._f, 0
        if len(sources) == 1 and sources[0][0] == "prior" and sources[0][2] == 1.0:
            mask = kk.FALLBACK
        for name, k, c in sources:
            s = _NAMES.index(name)
            f[kk.F_SRC_K + s] = k
            f[kk.F_SRC_C + s] = c
            if mask != kk.FALLBACK:
                mask |= 1 << s
        self._i[kk.I_SRC_MASK] = mask

    def _sync_own(self) -> None:
        """Mirror the Python own-fill source into the arrays (after any change to it)."""
        own, f, i = self.own, self._f, self._i
        obs = own._obs
        i[kk.I_OWN_NOW] = own._now
        i[kk.I_OWN_OLDEST] = obs[0][0] if obs else kk.NO_TIME
        i[kk.I_OWN_GRAD] = 1 if own.has_exited_warmup else 0
        f[kk.F_OWN_KAPPA] = own.kappa
        f[kk.F_OWN_CONF] = own.confidence

    # -- events -------------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        kind = event.kind
        ev: Any = event
        if kind is _BOOK_SNAPSHOT:
            if _on_book(ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz, now_ns, self._f, self._i):
                self.rejections.reject(kind.name, _NO_TOUCH, None, now_ns)
        elif kind is _TRADE:
            px, sz = ev.px, ev.sz
            if type(px) is not float or type(sz) is not float:
                px, sz = positive(px), positive(sz)  # NaN unless a finite positive number
            if _on_scalar(self._f, self._i, kk.K_TRADE, px, sz, now_ns):
                self.rejections.reject(kind.name, _BAD_TRADE, (ev.px, ev.sz), now_ns)
        elif kind is _BBO:
            b, a = ev.bid_px, ev.ask_px
            if type(b) is float and type(a) is float:
                bad = _on_scalar(self._f, self._i, kk.K_BBO, b, a, now_ns)
            else:
                bad = _on_scalar(self._f, self._i, kk.K_MID, event_mid(ev), 0.0, now_ns)
            if bad:
                self.rejections.reject(kind.name, _NO_TOUCH, None, now_ns)
        elif kind is _OWN_FILL:
            _on_scalar(self._f, self._i, kk.K_OTHER, 0.0, 0.0, now_ns)
            self._own_fill(ev, now_ns)
        # any other kind is one of its ``ignores``: nothing, not even the clock

    def _own_fill(self, ev: Any, now_ns: int) -> None:
        """The reference's own-fill branch, on the Python own-fill source."""
        if ev.crossed or ev.liquidation:  # not a passive fill at a chosen depth
            return
        fpx = positive(ev.px)
        if fpx != fpx:
            self.rejections.reject(_OWN_FILL.name, _BAD_FILL, ev.px, now_ns)
            self._reject_fill(ev.px)
            return
        d = self._depth(ev.px)
        own = self.own
        own._now = int(self._i[kk.I_OWN_NOW])  # the kernels advance the clock in estimate
        graduated = own.has_exited_warmup
        if d == d and own.on_fill(d, now_ns):
            self._i[kk.I_DIRTY] |= kk.OWN
            if own.has_exited_warmup and not graduated:
                log.info(
                    "kappa: own-fill warmup exited at fill %d (graduation is permanent)",
                    own.total_observations,
                )
        else:
            self._reject_fill(ev.px)
        self._sync_own()

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's trades, as ``on_event`` would take them one by one (one kernel call
        over the float64 / int64 columns)."""
        bad = _on_trades(batch.px, batch.sz, batch.recv, self._f, self._i)
        if bad:
            self.rejections.reject("TRADE", _BAD_TRADE, float(self._f[kk.F_FIRST_BAD]), now_ns, bad)

    # -- retrieval ----------------------------------------------------------------------------
    def estimate(self, out: Estimates, now_ns: int) -> None:
        f, i = self._f, self._i
        fresh = 0 if out is self._last_out else 1
        r = _estimate(f, i, now_ns, fresh)
        if r & kk.R_NEED_OWN:  # a fill leaves the own-fill window: expire it in Python
            own = self.own
            own._now = int(i[kk.I_OWN_NOW])
            own.expire(int(i[kk.I_NOW]))
            self._sync_own()
            i[kk.I_DIRTY] |= kk.OWN
            r = _estimate(f, i, now_ns, fresh)
        if fresh:
            self._last_out = out
        if r & kk.R_REBLENDED:
            self._kappa_out = float(f[kk.F_KOUT])
            self._confidence_out = float(f[kk.F_COUT])
        if r & kk.R_ALERT_FIRED:
            self._log_stagnation()
        if r & kk.ALL:
            self._publish_twin(out, r & kk.ALL)
        if r & kk.R_ALERT_CHANGED:
            out.extras["kappa.stagnation_alert"] = 1.0 if r & kk.R_ALERT else 0.0
        out.kappa = self._kappa_out
        out.kappa_confidence = self._confidence_out

    def _log_stagnation(self) -> None:
        now = int(self._i[kk.I_NOW])
        log.warning(
            "kappa stagnation: own-fill confidence %.2f below %.2f for %.0f s "
            "(%d fills in the window); quoting relies on market and book kappa",
            self.own.confidence,
            self.p.stagnation_confidence,
            (now - int(self._i[kk.I_STAG_SINCE])) / NS_PER_S,
            self.own.observation_count,
        )

    def _publish_twin(self, out: Estimates, dirty: int) -> None:
        """The reference's ``_publish`` with the values from the arrays."""
        ex, f = out.extras, self._f
        if dirty & kk.BOOK:
            _publish_source(ex, "kappa.book", float(f[kk.F_BK_KAPPA]), float(f[kk.F_BK_CONF]))
        if dirty & (kk.ROBUST | kk.OWN):
            cap = self.robust_cap()
            if cap < math.inf:
                ex["kappa.robust_cap"] = cap
            else:
                ex.pop("kappa.robust_cap", None)
        if dirty & kk.ROBUST:
            _publish_source(ex, "kappa.robust", float(f[kk.F_RB_KAPPA]), float(f[kk.F_RB_CONF]))
            a = float(f[kk.F_A])
            if a == a:
                out.A = a
        if dirty & kk.OWN:
            own = self.own
            ex["kappa.own"] = own.kappa
            ex["kappa.own_confidence"] = own.confidence
            ex["kappa.own_n"] = float(own.observation_count)
            ex["kappa.graduated"] = 1.0 if own.has_exited_warmup else 0.0

    def intensity_basis(self) -> tuple[int, float, bool]:
        n, span_s, limited = kk.intensity_basis(self._f, self._i, int(self.p.robust_min_trades))
        return int(n), float(span_s), bool(limited)


# -- comparison (the tests use it; importable for the audit) ---------------------------------


#: the public surface compared by :func:`outputs_differ` (attribute or zero-argument method)
SURFACE: tuple[str, ...] = (
    "kappa_sources",
    "blended_kappa",
    "posterior",
    "prior",
    "observation_count",
    "has_exited_warmup",
    "warmup_fills",
    "window_s",
    "intensity_basis",
    "robust_cap",
    "kappa_value",
    "mid",
    "smoothed",
    "stagnation_alert",
    "stagnation_episodes",
    "rejected_fills",
    "_first_ns",
    "_now",
)


def _surface(c: KappaOrchestrator) -> dict[str, Any]:
    vals: dict[str, Any] = {}
    for name in SURFACE:
        v = getattr(c, name)
        vals[name] = v() if callable(v) else v
    b, r = c.book, c.robust
    vals["book.kappa"], vals["book.confidence"], vals["book.fits"] = b.kappa, b.confidence, b.fits
    vals["robust.kappa"], vals["robust.confidence"] = r.kappa, r.confidence
    vals["robust.ess"], vals["robust.observation_count"] = r.ess, r.observation_count
    vals["robust.capacity_cut_ns"] = r.capacity_cut_ns
    vals["robust._scale"] = r._scale
    rj = c.rejections
    vals["rejections"] = (rj.total, dict(rj.counts), dict(rj.examples))
    return vals


def held_trades(robust: RobustKappa) -> tuple[np.ndarray, np.ndarray]:
    """The trades a robust source holds, oldest first: ``(receive times ns, log depths)``,
    from a reference :class:`RobustKappa` (its pending trades flushed first: that changes
    nothing it reports) or from a twin's view of its ring."""
    if isinstance(robust, _RobustView):
        f, i, cap = robust._fa, robust._ia, robust._cap
        n, head = int(i[kk.I_RB_COUNT]), int(i[kk.I_RB_HEAD])
        idx = (head + np.arange(n)) % cap
        return i[kk.I_RING + idx], f[kk.F_RING + idx]
    n = robust.observation_count  # flushes
    idx = (robust._head + np.arange(n)) % robust._cap
    return robust._times[idx], robust._vals[idx]


def outputs_differ(
    ref: KappaOrchestrator,
    twin: KappaOrchestrator,
    out_ref: Estimates | None = None,
    out_twin: Estimates | None = None,
    deep: bool = False,
) -> list[str]:
    """Every difference between a reference and its twin, exact: the estimates written
    (when given; :func:`mmkit.twins.compare.estimates_diff`: float ``==``, NaN equal to NaN)
    and, with the same sign of zero and the same types besides, the audit
    contract methods and the attributes reports read (``SURFACE``, the book and robust
    sources, the rejections); with ``deep``, also the held trades (times and log depths, in
    order: O(held trades)). Empty when they agree. Reading them changes neither."""
    diffs = [] if out_ref is None or out_twin is None else estimates_diff(out_ref, out_twin)
    sr, st = _surface(ref), _surface(twin)
    diffs += [f"{k}: {sr[k]!r} != {st[k]!r}" for k in sr if not identical(sr[k], st[k])]
    if deep:
        (tr, vr), (tt, vt) = held_trades(ref.robust), held_trades(twin.robust)
        if not (np.array_equal(tr, tt) and np.array_equal(vr, vt)):
            diffs.append(
                f"held trades differ: {len(tr)} vs {len(tt)} held, first difference at "
                f"{_first_mismatch(tr, vr, tt, vt)}"
            )
    return diffs


def _first_mismatch(tr: np.ndarray, vr: np.ndarray, tt: np.ndarray, vt: np.ndarray) -> str:
    for k in range(min(len(tr), len(tt))):
        if tr[k] != tt[k] or vr[k] != vt[k]:
            return f"#{k}: ({int(tr[k])}, {float(vr[k])!r}) != ({int(tt[k])}, {float(vt[k])!r})"
    return f"#{min(len(tr), len(tt))} (one is longer)"
