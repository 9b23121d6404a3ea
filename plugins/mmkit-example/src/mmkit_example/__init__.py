"""Example mmkit plugin: a gate that refuses to quote into a blown-out market."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates, GateDecision, View
from mmkit.core.events import Event
from mmkit.params import param
from mmkit.registry import BuildContext

log = logging.getLogger("mmkit_example")


@dataclass(frozen=True)
class MaxSpreadParams:
    max_spread_bps: float = param(50.0, gt=0, help="close the gate above this market spread (bps)")


class MaxSpreadGate:
    """Closed while the market's best ask / best bid are more than N bps apart."""

    def __init__(self, params: MaxSpreadParams) -> None:
        self.limit = params.max_spread_bps * 1e-4

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        bid, ask = view.market.best_bid, view.market.best_ask
        if not (math.isfinite(bid) and math.isfinite(ask)) or bid <= 0 or ask <= bid:
            return None  # empty or crossed books are the data-quality gate's business
        spread = (ask - bid) / (0.5 * (ask + bid))
        if spread > self.limit:
            return GateDecision(
                "max_spread",
                "WideSpread",
                {"spread_bps": round(spread * 1e4, 2), "limit_bps": round(self.limit * 1e4, 2)},
            )
        return None


def build(ctx: BuildContext[MaxSpreadParams]) -> MaxSpreadGate:
    return MaxSpreadGate(ctx.params)


@hookimpl
def register_gates(register: Any) -> None:
    register(
        "max_spread",
        build,
        params=MaxSpreadParams,
        description="no quoting while the market spread is wider than max_spread_bps",
    )


@hookimpl
def mmkit_on_gate_closed(decision: GateDecision, now_ns: int, run: Any) -> None:
    log.info("gate %s closed: %s", decision.gate, decision.describe())
