"""The compiled twin of the kill switch (issue 20; contract in ``mmkit.twins``).

:class:`KillSwitchTwin` is a :class:`~mmkit.gates.kill_switch.KillSwitch` whose state lives
in numpy arrays (see :mod:`mmkit.gates._kernels_kill_switch_twin`) and whose ``check`` and
rejection bookkeeping run one numba kernel per call. Its decisions are the reference's,
bit for bit: same reason, same detail (keys, order, values), same mode and emergency flag,
and, once tripped, the same latched :class:`GateDecision` object on every later check.

What stays in Python (each is rare or reads Python objects): reading the view (position,
fill position, mid, the freshest stream time, the equity), a rejection's effective reason
(the venue catalogue's text), growing the rejection rings, and building a decision when
the kernel reports a trip (its detail is recomputed from the same objects the reference
uses, so even the numeric types match).

The equity is computed before the kernel call when that cannot change anything (a plain
:class:`~mmkit.core.portfolio.Portfolio` with nothing unpriced: ``equity`` is then a pure
read); otherwise (a portfolio subclass, whose ``equity`` may raise or have effects, or an
unpriced size, which ``equity`` books at the mark) the check runs in two kernel calls, the
equity being computed in between exactly when the reference computes it.

Limits of exactness (documented, not reachable with the engine's inputs): times (ns) must
fit in int64 and differences of them must not overflow; positions, the max position and
the equity are read as floats.

:func:`outputs_differ` compares a reference and a twin exactly (NaN equals NaN); the audit's
twin-equivalence invariant can import it from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.components import Estimates, GateDecision, View
from mmkit.core.events import ActionResult, Event, Kinds, OwnFill
from mmkit.core.outcomes import Outcome, RejectionClass, RejectReason
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_S
from mmkit.gates import _kernels_kill_switch_twin as kk
from mmkit.gates import reasons
from mmkit.gates.kill_switch import KillSwitch, effective_reason
from mmkit.gates.params import KillSwitchParams
from mmkit.twins.slots import bool_slot, compiled_entry, float_slot, int_slot

#: exact comparison everywhere: the kernels keep the reference's operations and order
TWIN_TOLERANCE: float = 0.0

#: starting capacity of each rejection ring (times); doubled when a ring fills up
INITIAL_RING_CAPACITY = 16

_INT64_MAX = int(kk.INT64_MAX)
_INT64_MIN = int(kk.INT64_MIN)

#: numba signature of ``ks_check``, called through its entry point once a twin is built
#: (:func:`_bind`): the dispatcher's typing of twelve arguments cost more than the check
#: (~0.2 us of every quoting cycle). ``now`` and ``fresh`` may be numpy integers: the entry
#: point takes them as int64, the flags carry their type for the reference's comparisons
_SIG_CHECK = (
    "int64(float64[::1], int64[::1], int64[:, ::1], int64, int64, float64, float64, float64, "
    "float64, float64, int64, int64)"
)


def _bind() -> None:
    global _ks_check
    _ks_check = compiled_entry(kk.ks_check, _SIG_CHECK)


def _bind_check(*args: Any) -> int:
    """``ks_check`` before a twin was built in this process (one unpickled, say): binds the
    entry point, then calls it (the check's float64 arguments are read by it)."""
    _bind()
    return _ks_check(*args)


_ks_check: Callable[..., int] = _bind_check
_OPEN = kk.OPEN  # (a module global: one lookup less on every check)


def _clamp_int64(v: int) -> int:
    """``v`` clamped into int64 (a limit beyond it is never reached by an int64 count)."""
    return min(max(v, _INT64_MIN), _INT64_MAX)


def _floor_int64(x: float) -> int:
    """``floor(x)`` clamped into int64; NaN gives int64 max (``age > NaN`` is never true)."""
    if x != x or x >= 2.0**63:
        return _INT64_MAX
    if x < -(2.0**63):
        return _INT64_MIN
    return math.floor(x)


class KillSwitchTwin(KillSwitch):
    """The kill switch with its state in arrays and its hot paths in numba kernels; same
    constructor, attributes (``params``, ``name``, ``roles``, ``tripped``,
    ``trip_count``), decisions and ``rejection_counts`` as :class:`KillSwitch`."""

    def __init__(self, params: KillSwitchParams | None = None, name: str = "kill_switch") -> None:
        self._f: npt.NDArray[np.float64] = np.zeros(kk.NF, dtype=np.float64)
        self._i: npt.NDArray[np.int64] = np.zeros(kk.NI, dtype=np.int64)
        self._ring: npt.NDArray[np.int64] = np.zeros((1, 1), dtype=np.int64)
        _bind()
        super().__init__(params, name)  # validates, then calls reset()

    # -- state setup ----------------------------------------------------------------------
    def _constants(self) -> None:
        """Fill the parameter slots and the per-reason ring table (from ``params``)."""
        p = self.params
        f, i = self._f, self._i
        stale = p.max_stale_s * NS_PER_S  # the reference compares ages (ns) with this
        f[kk.F_STALE_LIMIT] = float(stale)
        i[kk.I_STALE_EXACT] = 1 if isinstance(stale, int) else 0
        i[kk.I_STALE_FLOOR] = (
            _clamp_int64(stale) if isinstance(stale, int) else _floor_int64(float(stale))
        )
        f[kk.F_POS_MULT] = p.max_position_mult
        f[kk.F_UNEXPLAINED] = p.unexplained_position_frac
        f[kk.F_MAX_DD] = p.max_drawdown_usd
        f[kk.F_MAX_DAILY] = p.max_daily_loss_usd
        #: the reference computes int(window_s * 1e9) at every roll; when that raises
        #: (an infinite window) the twin raises the same error at the same calls
        self._window_bad = False
        try:
            i[kk.I_WINDOW] = _clamp_int64(int(p.rejection_window_s * NS_PER_S))
        except (OverflowError, ValueError):
            self._window_bad = True
            i[kk.I_WINDOW] = _INT64_MAX
        #: (class, limit) of each class ring, in the reference's order of checking
        self._ring_classes: list[tuple[RejectionClass, int]] = list(self._class_limits.items())
        n_rings = len(self._ring_classes) + 1  # the last ring: the max_rejections backstop
        i[kk.I_N_RINGS] = n_rings
        for k, (_, limit) in enumerate(self._ring_classes):
            i[kk.I_RINGS + k * kk.RING_STRIDE + 2] = _clamp_int64(limit)
        last = len(self._ring_classes)
        i[kk.I_RINGS + last * kk.RING_STRIDE + 2] = _clamp_int64(p.max_rejections)
        ring_of = {c: k for k, (c, _) in enumerate(self._ring_classes)}
        #: reason -> (its class ring or -1, 1 when it counts towards the backstop)
        self._slots_of: dict[RejectReason, tuple[int, int]] = {
            r: (
                ring_of.get(r.rejection_class, -1),
                1 if r.counts_as_rejection and r.value not in self._ignored else 0,
            )
            for r in RejectReason
        }
        self._ring = np.zeros((n_rings, INITIAL_RING_CAPACITY), dtype=np.int64)

    def reset(self) -> None:
        """Re-arm the switch (an operator action); every baseline starts afresh."""
        if not hasattr(self, "_slots_of"):
            self._constants()
        self.tripped = None
        f, i = self._f, self._i
        f[kk.F_PEAK] = -math.inf
        f[kk.F_DAY_START] = math.nan
        f[kk.F_LAST_POS] = 0.0
        f[kk.F_LAST_FILL_POS] = 0.0
        i[kk.I_DAY] = -1
        i[kk.I_LAST_GOOD] = -1
        i[kk.I_LAST_GOOD_NP] = 0
        i[kk.I_LAST_POS_SET] = 0
        i[kk.I_LIQUIDATION] = 0
        for k in range(int(i[kk.I_N_RINGS])):
            i[kk.I_RINGS + k * kk.RING_STRIDE] = 0
            i[kk.I_RINGS + k * kk.RING_STRIDE + 1] = 0

    def _grow(self) -> None:
        """Double the capacity of every rejection ring, keeping each ring's order."""
        i, old = self._i, self._ring
        cap = old.shape[1]
        new = np.zeros((old.shape[0], 2 * cap), dtype=np.int64)
        for k in range(old.shape[0]):
            base = kk.I_RINGS + k * kk.RING_STRIDE
            head, n = int(i[base]), int(i[base + 1])
            new[k, :n] = old[k, (head + np.arange(n)) % cap]
            i[base] = 0
        self._ring = new

    # -- the reference's private state, read from the arrays ------------------------------
    _peak = float_slot("_f", kk.F_PEAK, "The reference's ``_peak`` (equity high-water mark).")
    _day = int_slot("_i", kk.I_DAY, "The reference's ``_day`` (UTC day number).")
    _day_start = float_slot("_f", kk.F_DAY_START, "The reference's ``_day_start`` (equity).")

    @property
    def _last_pos(self) -> float | None:
        return float(self._f[kk.F_LAST_POS]) if self._i[kk.I_LAST_POS_SET] else None

    @_last_pos.setter
    def _last_pos(self, v: float | None) -> None:
        self._i[kk.I_LAST_POS_SET] = 0 if v is None else 1
        self._f[kk.F_LAST_POS] = 0.0 if v is None else v

    _last_fill_pos = float_slot(
        "_f",
        kk.F_LAST_FILL_POS,
        "The reference's ``_last_fill_pos`` (position after its last fill).",
    )
    _liquidation = bool_slot("_i", kk.I_LIQUIDATION, "The reference's ``_liquidation`` flag.")

    @property
    def _last_good_ns(self) -> int:
        return self._last_good_obj()  # type: ignore[no-any-return]

    @_last_good_ns.setter
    def _last_good_ns(self, v: int) -> None:
        self._i[kk.I_LAST_GOOD] = v
        self._i[kk.I_LAST_GOOD_NP] = 0 if type(v) is int else 1

    def _last_good_obj(self) -> Any:
        """The last usable time (ns) as the reference would hold it: a Python ``int``, or
        a numpy integer when it came from one (the arithmetic on it follows numpy)."""
        v = int(self._i[kk.I_LAST_GOOD])
        return np.int64(v) if self._i[kk.I_LAST_GOOD_NP] else v

    def rejection_times(self) -> dict[str, list[int]]:
        """The times (ns) of the rejections held, per limited class and ``"all"`` (the
        backstop), oldest first, without rolling the window (the reference's deques)."""
        i, ring = self._i, self._ring
        cap = ring.shape[1]
        out: dict[str, list[int]] = {}
        names = [c.value for c, _ in self._ring_classes] + ["all"]
        for k, name in enumerate(names):
            base = kk.I_RINGS + k * kk.RING_STRIDE
            head, n = int(i[base]), int(i[base + 1])
            out[name] = [int(ring[k, (head + j) % cap]) for j in range(n)]
        return out

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        kind = event.kind
        if kind is Kinds.OWN_FILL:
            assert isinstance(event, OwnFill)
            if event.liquidation:
                self._i[kk.I_LIQUIDATION] = 1
        elif kind is Kinds.ACTION_RESULT:
            assert isinstance(event, ActionResult)
            if event.outcome is not Outcome.REJECTED:
                return
            k, backstop = self._slots_of[effective_reason(event)]
            if k >= 0 or backstop:
                while kk.ks_reject(self._i, self._ring, now_ns, k, backstop):
                    self._grow()

    # -- decision -------------------------------------------------------------------------
    def _roll(self, now_ns: int) -> None:
        """Drop the rejections older than the window (an age equal to it still counts)."""
        if self._window_bad:
            int(self.params.rejection_window_s * NS_PER_S)  # raises as the reference does
        kk.ks_roll(self._i, self._ring, now_ns)

    def rejection_counts(self, now_ns: int) -> dict[str, int]:
        """Rejections (count) in the window ending at ``now_ns`` per limited class, plus
        ``"all"`` (the ``max_rejections`` backstop's total); for reports and tests."""
        self._roll(now_ns)
        i = self._i
        out = {
            c.value: int(i[kk.I_RINGS + k * kk.RING_STRIDE + 1])
            for k, (c, _) in enumerate(self._ring_classes)
        }
        last = len(self._ring_classes)
        out["all"] = int(i[kk.I_RINGS + last * kk.RING_STRIDE + 1])
        return out

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        tripped = self.tripped
        if tripped is not None:
            return tripped
        f, i, ring = self._f, self._i, self._ring
        if self._window_bad and not i[kk.I_LIQUIDATION]:
            int(self.params.rejection_window_s * NS_PER_S)  # raises as the reference does
        market = view.market
        mid = market.mid
        updates = market.last_update  # the reference's max(..., default=-1), faster
        fresh = max(updates.values()) if updates else -1
        flags = 0 if type(now_ns) is int else kk.FLAG_NOW_NP
        if type(fresh) is not int:
            flags |= kk.FLAG_FRESH_NP
        pf = view.portfolio
        ks_check = _ks_check
        if not pf.position_known:
            code = ks_check(f, i, ring, now_ns, 0, 0.0, 0.0, 0.0, float(mid), 0.0, fresh, flags)
            if code == kk.OPEN:
                return None
            return self._decision(code, view, now_ns, None, None, fresh, None, None)
        pos = pf.position
        fill_pos = pf.fill_position
        max_pos = view.max_position
        if type(pf) is Portfolio and not pf.unpriced:  # equity() is a pure read: one call
            equity = pf.equity(mid)
            # (the entry point reads each float64 argument as float() does: no call here)
            code = ks_check(
                f, i, ring, now_ns, 1, pos, fill_pos, max_pos, mid, equity, fresh, flags
            )  # fmt: skip
            if code == _OPEN:
                return None
            return self._decision(code, view, now_ns, pos, fill_pos, fresh, equity, None)
        # equity() may raise or book the unpriced size: compute it when the reference does
        code = ks_check(
            f, i, ring, now_ns, 1, float(pos), float(fill_pos), float(max_pos),
            float(mid), 0.0, fresh, flags | kk.FLAG_PRE,
        )  # fmt: skip
        if code != kk.NEED_EQUITY:
            if code == kk.OPEN:
                return None
            return self._decision(code, view, now_ns, pos, fill_pos, fresh, None, None)
        exc: Exception | None = None
        equity = math.nan
        try:
            mid = view.mid
            equity = view.portfolio.equity(mid)
        except Exception as e:  # a broken PnL must trip, never silence the switch
            exc = e
            flags |= kk.FLAG_EQUITY_RAISED
        code = ks_check(
            f, i, ring, now_ns, 1, float(pos), float(fill_pos), float(max_pos),
            float(mid), math.nan if exc is not None else float(equity), fresh,
            flags | kk.FLAG_PNL,
        )  # fmt: skip
        if code == kk.OPEN:
            return None
        return self._decision(code, view, now_ns, pos, fill_pos, fresh, equity, exc)

    def _decision(
        self,
        code: int,
        view: View,
        now_ns: int,
        pos: Any,
        fill_pos: Any,
        fresh: Any,
        equity: Any,
        exc: Exception | None,
    ) -> GateDecision:
        """The reference's decision for kernel result ``code``, its detail computed from
        the same objects as the reference's (a trip leaves the recorded position as it
        was, so the change is measured from the state)."""
        p = self.params
        if code == kk.TRIP_LIQUIDATION:
            return self._trip(reasons.LIQUIDATION)
        if code == kk.TRIP_REJECTIONS:
            k, n = int(self._i[kk.I_OUT_RING]), int(self._i[kk.I_OUT_COUNT])
            if k < len(self._ring_classes):
                cls, limit = self._ring_classes[k]
                return self._trip(
                    reasons.TOO_MANY_REJECTIONS,
                    rejection_class=cls.value,
                    count=float(n),
                    limit=float(limit),
                    window_s=p.rejection_window_s,
                )
            return self._trip(
                reasons.TOO_MANY_REJECTIONS,
                rejection_class="all",
                count=float(n),
                limit=float(p.max_rejections),
                window_s=p.rejection_window_s,
            )
        if code == kk.TRIP_POSITION_NONFINITE:
            return self._trip(reasons.PNL_UNAVAILABLE, error="non-finite position")
        if code == kk.TRIP_MAX_POSITION:
            return self._trip(
                reasons.MAX_POSITION, position=pos, limit=p.max_position_mult * view.max_position
            )
        if code == kk.TRIP_UNEXPLAINED:  # the recorded position is left as it was
            before = self._last_pos
            assert before is not None
            fills = fill_pos - self._last_fill_pos
            return self._trip(reasons.UNEXPLAINED_POSITION, change=pos - before, fills=fills)
        if code == kk.TRIP_STALE_SINCE_GOOD:
            return self._trip(
                reasons.STALE_TOO_LONG, age_s=(now_ns - self._last_good_obj()) / NS_PER_S
            )
        if code == kk.TRIP_STALE_FRESH:
            return self._trip(reasons.STALE_TOO_LONG, age_s=(now_ns - fresh) / NS_PER_S)
        if code == kk.TRIP_PNL_RAISED:
            assert exc is not None
            return self._trip(reasons.PNL_UNAVAILABLE, error=f"{type(exc).__name__}: {exc}")
        if code == kk.TRIP_EQUITY_NONFINITE:
            return self._trip(reasons.PNL_UNAVAILABLE, error=f"equity {equity!r}")
        if code == kk.TRIP_DRAWDOWN:
            return self._trip(
                reasons.DRAWDOWN, peak=self._peak, equity=equity, limit=p.max_drawdown_usd
            )
        if code == kk.TRIP_DAILY_LOSS:
            return self._trip(
                reasons.DAILY_LOSS,
                day_start=self._day_start,
                equity=equity,
                limit=p.max_daily_loss_usd,
            )
        raise AssertionError(f"kill switch twin: unknown kernel result {code}")


# -- comparison (tests and the audit's twin-equivalence invariant) --------------------------


def same_exact(a: object, b: object) -> bool:
    """``a`` and ``b`` equal exactly: numbers by value (float ``==``, NaN equal to NaN, an
    int and a float of the same value equal), strings and everything else by ``==``; a
    string never equals a number.

    Deliberately not :func:`mmkit.twins.compare.identical`: the reference keeps numpy
    scalars where it was handed numpy times (its ``_day`` is an ``np.int64`` after a check
    at a numpy ``now_ns``) while the twin's arrays give Python ints; the values are what
    reports read, so numbers compare by value across int and numpy types."""
    num = (int, float, np.integer, np.floating)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, num) and isinstance(b, num):
        if isinstance(a, int | np.integer) and isinstance(b, int | np.integer):
            return int(a) == int(b)
        fa, fb = float(a), float(b)
        return fa == fb or (fa != fa and fb != fb)
    if isinstance(a, num) or isinstance(b, num):
        return False
    return bool(a == b)


def decision_differ(a: GateDecision | None, b: GateDecision | None) -> list[str]:
    """How two gate decisions differ (empty when they are the same): presence, gate,
    reason, mode, emergency, the detail's keys in order and each value exactly, and the
    text ``describe()`` gives."""
    if a is None or b is None:
        return [] if a is b else [f"decision {a!r} != {b!r}"]
    out = []
    for name in ("gate", "reason", "mode", "emergency"):
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb or type(va) is not type(vb):
            out.append(f"{name}: {va!r} != {vb!r}")
    if list(a.detail) != list(b.detail):
        out.append(f"detail keys {list(a.detail)} != {list(b.detail)}")
    else:
        out += [
            f"detail[{k!r}]: {a.detail[k]!r} != {b.detail[k]!r}"
            for k in a.detail
            if not same_exact(a.detail[k], b.detail[k])
        ]
    if not out and a.describe() != b.describe():
        out.append(f"describe(): {a.describe()!r} != {b.describe()!r}")
    return out


def _ref_rejection_times(ref: KillSwitch) -> dict[str, list[int]]:
    """The reference's rejection deques as :meth:`KillSwitchTwin.rejection_times` gives the
    twin's (a twin passed here answers for itself)."""
    if isinstance(ref, KillSwitchTwin):
        return ref.rejection_times()
    out = {c.value: [int(t) for t in times] for c, times in ref._by_class.items()}
    out["all"] = [int(t) for t in ref._rejections]
    return out


def outputs_differ(
    ref: KillSwitch,
    twin: KillSwitch,
    decisions: tuple[GateDecision | None, GateDecision | None] | None = None,
) -> list[str]:
    """Every way the twin's outputs and state differ from the reference's (empty when they
    agree exactly): the last ``check`` results when given as ``(ref's, twin's)``, including
    whether each is the latched object; the latched decision; the trip count; the equity
    peak, the day and its opening equity, the recorded position and fill position, the
    liquidation flag, the last usable time; the rejection times held per class and in the
    backstop. Reads only (the rejection window is not rolled)."""
    out: list[str] = []
    if decisions is not None:
        a, b = decisions
        out += [f"check: {d}" for d in decision_differ(a, b)]
        if (a is not None and a is ref.tripped) != (b is not None and b is twin.tripped):
            out.append("check: one returned its latched decision object, the other did not")
    out += [f"tripped: {d}" for d in decision_differ(ref.tripped, twin.tripped)]
    if ref.trip_count != twin.trip_count:
        out.append(f"trip_count: {ref.trip_count} != {twin.trip_count}")
    for name in (
        "_peak",
        "_day",
        "_day_start",
        "_last_pos",
        "_last_fill_pos",
        "_liquidation",
        "_last_good_ns",
    ):
        va, vb = getattr(ref, name), getattr(twin, name)
        if (va is None) != (vb is None) or (va is not None and not same_exact(va, vb)):
            out.append(f"{name}: {va!r} != {vb!r}")
    ra, rb = _ref_rejection_times(ref), _ref_rejection_times(twin)
    if ra != rb:
        out.append(f"rejection times: {ra} != {rb}")
    return out
