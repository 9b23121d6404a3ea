"""Broken gates."""

from __future__ import annotations

from typing import Any

from mmkit.components import Estimates, GateDecision, View
from mmkit.core.events import Event


class NeverClosesGate:
    """Claims to guard data quality; never closes, so stale or crossed books are quoted."""

    provides = frozenset({"data_quality"})  # what it claims to be

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return None  # BUG: no data / stale / crossed / empty book all pass


def build_never_closes(ctx: Any) -> NeverClosesGate:
    return NeverClosesGate()
