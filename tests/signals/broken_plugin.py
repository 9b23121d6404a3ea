"""Deliberately broken signal estimators, and a plugin registering them.

Load with ``MMKIT_PLUGINS=signals.broken_plugin`` (``tests`` on ``PYTHONPATH``) to see
``mmkit audit --strict`` fail on each signal invariant.
"""

from __future__ import annotations

import math
from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates
from mmkit.core.events import EventKind


class UnboundedAgent:
    """Skews by 5 sigma although its bound is 1 sigma."""

    action_bound_sigma = 1.0

    def on_event(self, event: Any, now_ns: int) -> None:
        pass

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.skew_shift = 5.0 * out.sigma if math.isfinite(out.sigma) else 0.0


class NanExtras:
    """Publishes a skew and a NaN in its extras once it has seen a fill."""

    def __init__(self) -> None:
        self.fills = 0

    def on_event(self, event: Any, now_ns: int) -> None:
        self.fills += event.kind is EventKind.OWN_FILL

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.skew_shift = 0.0
        out.extras["nan.ratio"] = math.nan if self.fills else 0.0


class StickyLeadLag:
    """Keeps shifting fair value after the leader went silent."""

    def __init__(self) -> None:
        self.seen = False

    def on_event(self, event: Any, now_ns: int) -> None:
        if getattr(event, "stream", "").startswith("leader:"):
            self.seen = True

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.fair_value_shift = 1e-4 if self.seen else 0.0
        out.extras["sticky.gated"] = 0.0 if self.seen else 1.0


class SilentGate:
    """Stops shifting when the leader is stale but never says it is gated."""

    stale_s = 5.0

    def __init__(self) -> None:
        self.last = -1

    def on_event(self, event: Any, now_ns: int) -> None:
        if getattr(event, "stream", "").startswith("leader:"):
            self.last = now_ns

    def estimate(self, out: Estimates, now_ns: int) -> None:
        live = self.last >= 0 and now_ns - self.last <= 5e9
        out.fair_value_shift = 1e-4 if live else 0.0


class OverconfidentToxicity:
    """Publishes a 'probability' of 1.5 after fills."""

    def __init__(self) -> None:
        self.fills = 0

    def on_event(self, event: Any, now_ns: int) -> None:
        self.fills += event.kind is EventKind.OWN_FILL

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.toxicity = 0.5 + 0.5 * self.fills


BROKEN_ESTIMATORS: dict[str, type] = {
    "broken_unbounded_rl": UnboundedAgent,
    "broken_nan_extras": NanExtras,
    "broken_sticky_lead_lag": StickyLeadLag,
    "broken_silent_gate": SilentGate,
    "broken_toxicity": OverconfidentToxicity,
}


def _factory(cls: type) -> Any:
    return lambda ctx: cls()


@hookimpl
def register_estimators(register: Any) -> None:
    for name, cls in BROKEN_ESTIMATORS.items():
        register(name, _factory(cls), description=f"broken fixture: {cls.__doc__}")
