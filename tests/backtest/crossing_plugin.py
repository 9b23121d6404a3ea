"""A quoter that crosses the MARKET (bid above the best ask), for the rejection test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmkit import hookimpl
from mmkit.components import EMPTY_LADDER, Estimates, Ladder, Quote, View
from mmkit.core.types import Side
from mmkit.params import param
from mmkit.registry import BuildContext


@dataclass(frozen=True)
class CrossingParams:
    ticks_through: int = param(5, ge=1, help="how many ticks above the best ask the bid goes")


class CrossingQuoter:
    def __init__(self, ctx: BuildContext[CrossingParams]) -> None:
        self.through = ctx.params.ticks_through
        self.size = ctx.risk.order_size

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        ask = view.market.best_ask
        if ask != ask:
            return EMPTY_LADDER
        px = ask + self.through * view.instrument.tick
        return Ladder((Quote(Side.BUY, px, self.size, 0),), ())


def build(ctx: BuildContext[CrossingParams]) -> CrossingQuoter:
    return CrossingQuoter(ctx)


@hookimpl
def register_quoters(register: Any) -> None:
    register(
        "crossing",
        f"{__name__}:build",
        params=CrossingParams,
        description="test quoter: bid through the best ask",
    )
