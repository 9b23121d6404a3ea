"""A test plugin: the estimator ``flaky`` raises at every 25th estimate (a bug a run must
report first, not only in its log)."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates
from mmkit.core.events import Event


class FlakyEstimator:
    def __init__(self) -> None:
        self.calls = 0

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def estimate(self, out: Estimates, now_ns: int) -> None:
        self.calls += 1
        if self.calls % 25 == 0:
            raise RuntimeError("flaky estimator: every 25th estimate")


@hookimpl
def register_estimators(register: Any) -> None:
    register("flaky", lambda ctx: FlakyEstimator(), description="raises at every 25th estimate")
