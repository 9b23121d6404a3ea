"""Compiled twins of the adverse-selection classifier and the RL skew agent's features
(issue 20, see :mod:`mmkit.twins`).

:class:`AdverseSelectionTwin` is an :class:`~mmkit.signals.adverse_selection.
AdverseSelectionEstimator` whose microstructure features are a :class:`FeaturesTwin`: a
:class:`~mmkit.signals.features.MicrostructureState` whose numbers live in two arrays
(slots in :mod:`mmkit.signals._kernels_features`), updated by one kernel call per top of
book, book snapshot or trade. Its estimate predicts both sides' toxicity in one kernel call
(the features, the logistic model's dot product and the gating blend) instead of building
two feature vectors and calling numpy twice; the rest of the estimate, own fills, markouts,
the prediction log and the Brier and IR statistics are the reference's own code.

Every attribute of the features reads as on the reference (properties over the arrays), so
the reference's methods (``vector``, ``on_markout``, the rare inputs) run on the twin's
state unchanged. A value an array cannot hold as the reference holds it (a float field
given anything but a Python float - a numpy scalar, an int -, an int field given anything
but an int within int64) turns the features, in place, into a plain
:class:`MicrostructureState` holding every value in its own attribute, after which the
twin runs the reference's code: it is then its reference.

:class:`RlSkewTwin` is the :class:`~mmkit.signals.rl_skew.RlSkewAgent` over the same
:class:`FeaturesTwin`; its decisions (one every ``decision_interval_s``, drawing from
Python's seeded generator) are the reference's code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mmkit.core.events import BBO, BookSnapshot, Event, EventKind, Trade
from mmkit.core.types import Side
from mmkit.signals import _kernels_features as kern
from mmkit.signals.adverse_selection import _STATS_EVERY, AdverseSelectionEstimator
from mmkit.signals.features import N_FEATURES, MicrostructureState
from mmkit.signals.params import AdverseSelectionParams, RlSkewParams
from mmkit.signals.rl_skew import FEATURE_HALF_LIVES, RlSkewAgent
from mmkit.twins.slots import spilling_float_slot, spilling_int_slot

#: no tolerance: the kernels repeat the reference's arithmetic operation for operation
TWIN_TOLERANCE: float = 0.0

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_F64 = np.dtype(np.float64)
_BBO, _BOOK, _TRADE = EventKind.BBO, EventKind.BOOK_SNAPSHOT, EventKind.TRADE

#: the features' attributes held in the float array and in the int array: name -> slot
_FLOATS: dict[str, int] = {
    "mid": kern.F_MID,
    "imbalance": kern.F_IMBALANCE,
    "spread": kern.F_SPREAD,
    "_flow_signed": kern.F_FLOW_SIGNED,
    "_flow_total": kern.F_FLOW_TOTAL,
    "_var": kern.F_VAR,
    "_var_w": kern.F_VAR_W,
    "markout_bp": kern.F_MARKOUT,
    "cascade": kern.F_CASCADE,
    "stagnation": kern.F_STAGNATION,
    "_flow_hl": kern.F_FLOW_HL,
    "_vol_hl": kern.F_VOL_HL,
    "_mk_decay": kern.F_MK_DECAY,
}
_INTS: dict[str, int] = {"mid_ts": kern.I_MID_TS, "_flow_ts": kern.I_FLOW_TS}


class FeaturesTwin(MicrostructureState):
    """:class:`MicrostructureState` over arrays, with one kernel call per top of book, book
    snapshot or trade (module docstring)."""

    def __init__(
        self, flow_half_life_s: float, vol_half_life_s: float, markout_half_life: float
    ) -> None:
        self._f = np.zeros(kern.NF, dtype=np.float64)
        self._f[kern.F_HALF] = 0.5
        self._i = np.zeros(kern.NI, dtype=np.int64)
        super().__init__(flow_half_life_s, vol_half_life_s, markout_half_life)

    def _spill(self) -> None:
        """Become a plain :class:`MicrostructureState` holding the current values."""
        values = {name: getattr(self, name) for name in (*_FLOATS, *_INTS)}
        self.__class__ = MicrostructureState  # type: ignore[assignment]
        self.__dict__.update(values)

    def on_event(self, ev: Event, now_ns: int) -> bool:
        k = ev.kind
        if type(now_ns) is int and _I64_MIN <= now_ns <= _I64_MAX:
            if k is _BBO:
                assert isinstance(ev, BBO)
                b, bs, a, az = ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz
                if type(b) is type(bs) is type(a) is type(az) is float:
                    return bool(_top(self._f, self._i, b, bs, a, az, now_ns))
            elif k is _BOOK:
                assert isinstance(ev, BookSnapshot)
                if not (ev.bid_px.size and ev.ask_px.size and ev.bid_sz.size and ev.ask_sz.size):
                    return False
                b, bs = float(ev.bid_px[0]), float(ev.bid_sz[0])
                a, az = float(ev.ask_px[0]), float(ev.ask_sz[0])
                return bool(_top(self._f, self._i, b, bs, a, az, now_ns))
            elif k is _TRADE:
                assert isinstance(ev, Trade)
                sz = ev.sz
                if type(sz) is float:
                    _trade(self._f, self._i, sz, ev.side is Side.BUY, now_ns)
                    return False
            else:
                return False
        return super().on_event(ev, now_ns)


for _name, _k in _FLOATS.items():
    setattr(FeaturesTwin, _name, spilling_float_slot("_f", _k, _name))
for _name, _k in _INTS.items():
    setattr(FeaturesTwin, _name, spilling_int_slot("_i", _k, _name))


class AdverseSelectionTwin(AdverseSelectionEstimator):
    """The compiled twin of :class:`AdverseSelectionEstimator`: same parameters, same
    outputs (module docstring)."""

    def __init__(self, params: AdverseSelectionParams, log: Any = None) -> None:
        _bind()
        super().__init__(params, log)
        self.features = FeaturesTwin(
            params.flow_half_life_s, params.vol_half_life_s, params.markout_half_life
        )
        self._x = np.zeros(N_FEATURES, dtype=np.float64)

    def _resolve(self, now_ns: int) -> None:
        # nothing to resolve and no statistics due: the reference's pass changes nothing
        # (it would only read the mid, a property here)
        if self._pending or self._since_stats >= _STATS_EVERY:
            super()._resolve(now_ns)

    def toxicities(self) -> tuple[float, float]:
        feats, w, weight = self.features, self.model.w, self.weight
        if (
            type(feats) is FeaturesTwin
            and type(w) is np.ndarray
            and w.dtype is _F64
            and w.shape == (N_FEATURES,)
            and w.flags.c_contiguous
            and isinstance(weight, float)
        ):
            active = weight if self.active else 0.0
            return _toxicities(feats._f, w, self._x, float(active), self.base_rate)
        return super().toxicities()


class RlSkewTwin(RlSkewAgent):
    """The compiled twin of :class:`~mmkit.signals.rl_skew.RlSkewAgent`: its features are a
    :class:`FeaturesTwin` (one kernel call per top of book, book snapshot or trade); its
    decisions, one every ``decision_interval_s``, are the reference's code."""

    def __init__(self, params: RlSkewParams, max_position: float, seed: int = 0) -> None:
        _bind()
        super().__init__(params, max_position, seed)
        self.features = FeaturesTwin(*FEATURE_HALF_LIVES)


_top: Callable[..., bool] = kern.top
_trade: Callable[..., None] = kern.trade
_toxicities: Callable[..., tuple[float, float]] = kern.toxicities

_SIG_TOP = "boolean(float64[::1], int64[::1], float64, float64, float64, float64, int64)"
_SIG_TRADE = "void(float64[::1], int64[::1], float64, boolean, int64)"
_SIG_TOX = "UniTuple(float64, 2)(float64[::1], float64[::1], float64[::1], float64, float64)"


def _bind() -> None:
    """The kernels' compiled entry points, once a twin is made (not at import)."""
    global _top, _trade, _toxicities
    from mmkit.twins.slots import compiled_entry

    _top = compiled_entry(kern.top, _SIG_TOP)
    _trade = compiled_entry(kern.trade, _SIG_TRADE)
    _toxicities = compiled_entry(kern.toxicities, _SIG_TOX)
