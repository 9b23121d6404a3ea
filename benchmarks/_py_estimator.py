"""A third-party estimator written in plain Python (no twin), for ``benchmarks/backtest.py``'s
"one third-party Python estimator in the set" figure: an EWMA of signed market-trade volume
(trade-flow imbalance), registered through the ``register_estimators`` hook like any plugin.
It takes trades row by row (no ``on_trades``), as a simple plugin would."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates
from mmkit.core.events import Event, EventKind

NAME = "bench_flow"


class FlowImbalance:
    """EWMA (weight ``ALPHA`` per trade) of signed trade size; published as an extra."""

    publishes = frozenset({"bench_flow.*"})
    ALPHA = 0.05

    def __init__(self) -> None:
        self.flow = 0.0

    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is EventKind.TRADE:
            signed = float(getattr(event, "side", 0)) * float(getattr(event, "sz", 0.0))
            if signed == signed:
                self.flow += self.ALPHA * (signed - self.flow)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.extras["bench_flow.imbalance"] = self.flow


def build(ctx: Any) -> FlowImbalance:
    return FlowImbalance()


@hookimpl
def register_estimators(register: Any) -> None:
    register(NAME, f"{__name__}:build", description="benchmark: a plain-Python estimator")
