"""Broken gates."""

from __future__ import annotations

from typing import Any

from mmkit.components import NOT_MARKET_DATA, Estimates, GateDecision, GateMode, View
from mmkit.core.events import Event, EventKind


class NeverClosesGate:
    """Claims to guard data quality; never closes, so stale or crossed books are quoted."""

    provides = frozenset({"data_quality"})  # what it claims to be

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return None  # BUG: no data / stale / crossed / empty book all pass


def build_never_closes(ctx: Any) -> NeverClosesGate:
    return NeverClosesGate()


class DeafFillPause:
    """Pauses quoting for 5 s after each of our own fills (a cool-down against toxic flow),
    but declares the ``ignores`` of a market-data gate, which names OWN_FILL: the engine
    never delivers it a fill, and it never pauses."""

    ignores = NOT_MARKET_DATA  # BUG: copied from a market-data gate; it needs fills

    def __init__(self, name: str, pause_s: float = 5.0) -> None:
        self.name = name
        self.pause_ns = int(pause_s * 1e9)
        self.last_fill_ns: int | None = None

    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is EventKind.OWN_FILL:
            self.last_fill_ns = now_ns

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        t = self.last_fill_ns
        if t is not None and 0 <= now_ns - t < self.pause_ns:
            return GateDecision(self.name, "FillPause", {"since_ns": now_ns - t}, GateMode.HALT)
        return None


def build_deaf_fill_pause(ctx: Any) -> DeafFillPause:
    return DeafFillPause(ctx.name)
