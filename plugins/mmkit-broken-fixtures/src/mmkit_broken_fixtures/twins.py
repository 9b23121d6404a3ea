"""A third-party estimator with a compiled twin, and a twin that drifts from its reference.

``ewma_vol`` (Python reference) keeps an EWMA of squared log returns of market trades and
publishes it as ``extras["ewma_vol.var"]``. Its twin (``EwmaVolTwin``) runs the same update
in a numba kernel and is exact. ``broken_twin_vol`` offers a twin that clamps jumps over 10 %:
its Python code is correct, so only the audit's twin-equivalence invariant can catch it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmkit.components import Estimates
from mmkit.core.events import Event, EventKind
from mmkit.faults import Rejections
from mmkit.registry import BuildContext

ALPHA = 0.1
_BAD = "price not a finite positive number"


class EwmaVol:
    """EWMA of squared log returns of market trades (the Python reference)."""

    publishes = frozenset({"ewma_vol.*"})
    #: the prefix of the extras it publishes
    KEY = "ewma_vol"

    def __init__(self) -> None:
        self.last = 0.0
        self.var = 0.0
        self.count = 0
        self.rejections = Rejections()

    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is not EventKind.TRADE:
            return
        px = float(getattr(event, "px", math.nan))
        if not (math.isfinite(px) and px > 0.0):
            self.rejections.reject("TRADE", _BAD, px, now_ns)
            return
        self._update(px)

    def _weight(self) -> float:
        return ALPHA

    def _update(self, px: float) -> None:
        if self.last > 0.0:
            r = math.log(px / self.last)
            self.var = self.var + self._weight() * (r * r - self.var)
            self.count += 1
        self.last = px

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.extras[f"{self.KEY}.var"] = self.var
        out.extras[f"{self.KEY}.count"] = float(self.count)

    def twin(self) -> EwmaVol:
        return EwmaVolTwin()


class EwmaVolTwin(EwmaVol):
    """The compiled twin: state in two arrays, the update in a numba kernel."""

    def __init__(self) -> None:
        super().__init__()
        self._f = np.zeros(2)
        self._i = np.zeros(1, dtype=np.int64)

    def _kernel(self) -> Any:
        from mmkit_broken_fixtures._kernels_twins import update

        return update

    def _update(self, px: float) -> None:
        self._kernel()(self._f, self._i, px, ALPHA)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.extras[f"{self.KEY}.var"] = float(self._f[1])
        out.extras[f"{self.KEY}.count"] = float(self._i[0])


class BrokenTwinVol(EwmaVol):
    """Correct Python code whose twin clamps jumps (see :mod:`._kernels_twins`)."""

    def twin(self) -> EwmaVol:
        return _ClampingTwin()


class _ClampingTwin(EwmaVolTwin):
    def _kernel(self) -> Any:
        from mmkit_broken_fixtures._kernels_twins import update_clamped

        return update_clamped


class DecayVol(EwmaVol):
    """An EWMA of squared log returns whose weight decays with the time between trades
    (half-life 5 s), published as ``extras["decay_vol.var"]``; its twin's kernel is the same
    code, but LLVM compiles the decay as ``exp2`` (see
    :func:`mmkit_broken_fixtures._kernels_twins.update_decay`)."""

    publishes = frozenset({"decay_vol.*"})
    KEY = "decay_vol"
    HALF_LIFE_S = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.last_ns = 0
        self.dt_s = 0.0

    def on_event(self, event: Event, now_ns: int) -> None:
        self.dt_s = (now_ns - self.last_ns) / 1e9 if self.last_ns else 0.0
        if event.kind is EventKind.TRADE:
            self.last_ns = now_ns
        super().on_event(event, now_ns)

    def _weight(self) -> float:
        return 1.0 - 0.5 ** (self.dt_s / self.HALF_LIFE_S)

    def twin(self) -> EwmaVol:
        return _DecayTwin()


class _DecayTwin(DecayVol, EwmaVolTwin):
    def _update(self, px: float) -> None:
        from mmkit_broken_fixtures._kernels_twins import update_decay

        update_decay(self._f, self._i, px, self.dt_s, self.HALF_LIFE_S)


def build_decay_vol(ctx: BuildContext[Any]) -> DecayVol:
    return DecayVol()


def build_ewma_vol(ctx: BuildContext[Any]) -> EwmaVol:
    return EwmaVol()


def build_broken_twin(ctx: BuildContext[Any]) -> BrokenTwinVol:
    return BrokenTwinVol()
