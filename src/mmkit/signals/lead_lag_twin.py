"""Compiled twin of the lead-lag estimator (issue 20, see :mod:`mmkit.twins`).

:class:`LeadLagTwin` is a :class:`~mmkit.signals.lead_lag.LeadLagEstimator` whose per-event
state (the sampling grid, both mids at the last grid point and now, the leader's liveness,
the rings' fill) lives in two arrays (slots in :mod:`mmkit.signals._kernels_leadlag_twin`),
and whose per-event work (the grid samples due, the returns written into the rings) is one
kernel call per follower or leader quote, and the expected catch-up the estimate publishes
(a weighted sum over the ring) is one more. The analysis (cross-correlations and the
permutation test, every ``test_interval_s``) was already in kernels
(:mod:`mmkit.signals._kernels_leadlag`); the estimate, the state machine, the log lines and
the rejections are the reference's own code on the twin's state.

Every attribute reads as on the reference (properties over the arrays), so the reference's
methods run on the twin unchanged. A value an array cannot hold as the reference holds it
(a mid that is a numpy scalar, a time that is not an int within +-2**61 ns, a grid step or
staleness beyond that) turns the twin, in place, into a plain
:class:`~mmkit.signals.lead_lag.LeadLagEstimator` holding every value in its own attribute:
it is then its reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mmkit.core.events import BBO, Event, EventKind
from mmkit.signals import _kernels_leadlag_twin as kern
from mmkit.signals.lead_lag import LeadLagEstimator
from mmkit.signals.leader import LeaderQuote
from mmkit.signals.params import LeadLagParams
from mmkit.twins.slots import spilling_bool_slot, spilling_float_slot, spilling_int_slot

#: no tolerance: the kernels repeat the reference's arithmetic operation for operation
TWIN_TOLERANCE: float = 0.0

_SAFE = kern.SAFE_NS
_F64 = np.dtype(np.float64)
_BBO = EventKind.BBO

#: the reference's attributes held in the float array: name -> slot
_FLOATS: dict[str, int] = {
    "_prev_lead": kern.F_PREV_LEAD,
    "_prev_fol": kern.F_PREV_FOL,
    "lead_mid": kern.F_LEAD_MID,
    "follow_mid": kern.F_FOLLOW_MID,
}
#: ... and in the int array: name -> (slot, smallest and largest value it holds)
_INTS: dict[str, tuple[int, int, int]] = {
    "_n": (kern.I_N, -_SAFE, _SAFE),
    "_i": (kern.I_RING, -_SAFE, _SAFE),
    "samples_taken": (kern.I_SAMPLES, -(2**63), 2**63 - 1),
    "_next_grid": (kern.I_NEXT_GRID, -_SAFE, 2 * _SAFE),
    "last_leader_ns": (kern.I_LAST_LEADER, -_SAFE, _SAFE),
    "_last_now": (kern.I_LAST_NOW, -_SAFE, _SAFE),
    # a zero step is the reference's ZeroDivisionError, which its own code then raises
    "_dt": (kern.I_DT, 1, _SAFE),
    "_stale_ns": (kern.I_STALE, -_SAFE, _SAFE),
}


def _domain_error() -> None:
    """Raise what the reference's ``math.log`` raises for a ratio that underflowed to 0."""
    math.log(0.0)


class LeadLagTwin(LeadLagEstimator):
    """The compiled twin of :class:`LeadLagEstimator`: same parameters and seed, same
    outputs (module docstring)."""

    def __init__(self, params: LeadLagParams, seed: int = 0) -> None:
        _bind()
        self._lf = np.zeros(kern.NF, dtype=np.float64)
        self._li = np.zeros(kern.NI, dtype=np.int64)
        self._li[kern.I_WINDOW] = params.window
        super().__init__(params, seed)

    def _spill(self) -> None:
        """Become a plain :class:`LeadLagEstimator` holding the current values."""
        names = (*_FLOATS, *_INTS, "leader_connected")
        values = {name: getattr(self, name) for name in names}
        self.__class__ = LeadLagEstimator  # type: ignore[assignment]
        self.__dict__.update(values)

    def on_event(self, event: Event, now_ns: int) -> None:
        # the common case, a top of book (ours or the leader's) with a usable touch, in one
        # kernel call; everything else (feed statuses, books, rejections, values the arrays
        # cannot hold) as the reference
        if event.kind is _BBO and type(now_ns) is int and -_SAFE < now_ns < _SAFE:
            assert isinstance(event, BBO)
            b, a, stream = event.bid_px, event.ask_px, event.stream
            if (
                type(b) is float
                and type(a) is float
                and 0.0 < b < a < math.inf
                and type(stream) is str
            ):
                ch = self.channel
                if ch is not None and len(ch):
                    self._drain(now_ns)
                    if type(self) is not LeadLagTwin:  # a quote drained spilled the twin
                        LeadLagEstimator.on_event(self, event, now_ns)
                        return
                if stream.startswith(self.leader_prefix):
                    code = _leader(
                        self._lf, self._li, self._x, self._y, 0.5 * (b + a), now_ns, True
                    )
                else:
                    code = _follower(self._lf, self._li, self._x, self._y, 0.5 * (b + a), now_ns)
                if code:
                    _domain_error()
                return
        super().on_event(event, now_ns)

    def _on_follower(self, mid: float, now_ns: int) -> None:
        if type(mid) is float and type(now_ns) is int and -_SAFE < now_ns < _SAFE:
            if _follower(self._lf, self._li, self._x, self._y, mid, now_ns):
                _domain_error()
            return
        self._spill()
        LeadLagEstimator._on_follower(self, mid, now_ns)

    def _on_leader(self, q: LeaderQuote) -> None:
        t, mid, up = q.arrival_ns, q.mid, q.connected
        if type(t) is int and -_SAFE < t < _SAFE and type(mid) is float and type(up) is bool:
            if _leader(self._lf, self._li, self._x, self._y, mid, t, up):
                _domain_error()
            return
        self._spill()
        LeadLagEstimator._on_leader(self, q)

    def _catch_up_sum(self, betas: np.ndarray) -> float:
        if (
            type(betas) is np.ndarray
            and betas.dtype == _F64
            and betas.ndim == 1
            and betas.flags.c_contiguous
        ):
            return _catch_up(self._li, self._x, betas)
        return LeadLagEstimator._catch_up_sum(self, betas)

    def _advance(self, now_ns: int) -> None:
        if type(now_ns) is int and -_SAFE < now_ns < _SAFE:
            li = self._li
            if now_ns <= li.item(kern.I_LAST_NOW):
                return  # the reference's first test: nothing new (the estimate of a cycle
                # run at an event's own time), without a kernel call
            if _advance_k(self._lf, li, self._x, self._y, now_ns):
                _domain_error()
            return
        self._spill()
        LeadLagEstimator._advance(self, now_ns)


for _name, _k in _FLOATS.items():
    setattr(LeadLagTwin, _name, spilling_float_slot("_lf", _k, _name))
for _name, (_k, _lo, _hi) in _INTS.items():
    setattr(LeadLagTwin, _name, spilling_int_slot("_li", _k, _name, _lo, _hi))
LeadLagTwin.leader_connected = spilling_bool_slot("_li", kern.I_CONNECTED, "leader_connected")

_A = "float64[::1], int64[::1], float64[::1], float64[::1]"
_SIG_ADVANCE = f"int64({_A}, int64)"
_SIG_FOLLOWER = f"int64({_A}, float64, int64)"
_SIG_LEADER = f"int64({_A}, float64, int64, boolean)"
_SIG_CATCH_UP = "float64(int64[::1], float64[::1], float64[::1])"

_advance_k: Callable[..., int] = kern.advance
_follower: Callable[..., int] = kern.follower
_leader: Callable[..., int] = kern.leader
_catch_up: Callable[..., float] = kern.catch_up


def _bind() -> None:
    """The kernels' compiled entry points, once a twin is made (not at import)."""
    global _advance_k, _follower, _leader, _catch_up
    from mmkit.twins.slots import compiled_entry

    _advance_k = compiled_entry(kern.advance, _SIG_ADVANCE)
    _follower = compiled_entry(kern.follower, _SIG_FOLLOWER)
    _leader = compiled_entry(kern.leader, _SIG_LEADER)
    _catch_up = compiled_entry(kern.catch_up, _SIG_CATCH_UP)
