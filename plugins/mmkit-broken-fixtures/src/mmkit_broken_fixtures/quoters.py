"""Broken quoters."""

from __future__ import annotations

import math
from typing import Any

from mmkit.components import Estimates, Ladder, Quote, View
from mmkit.core.types import Side


def _lot_size(ctx: Any) -> float:
    lot = float(ctx.instrument.lot)
    decimals = int(ctx.instrument.sz_decimals)
    return max(lot, round(math.floor(float(ctx.risk.order_size) / lot) * lot, decimals))


class CrossingQuoter:
    """Signs swapped: the bid sits above the mid and the ask below it."""

    def __init__(self, size: float, tick: float) -> None:
        self.size = size
        self.tick = tick

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        if not (math.isfinite(mid) and mid > 0):
            return Ladder()
        half = max(self.tick, round(mid * 5e-4 / self.tick) * self.tick)
        bid = round((mid + half) / self.tick) * self.tick  # BUG: + instead of -
        ask = round((mid - half) / self.tick) * self.tick
        return Ladder((Quote(Side.BUY, bid, self.size),), (Quote(Side.SELL, ask, self.size),))


class NanMidQuoter:
    """Quotes around the mid without checking it: an empty book side makes every price NaN."""

    def __init__(self, size: float) -> None:
        self.size = size

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid  # BUG: NaN when a side is empty, never checked
        half = mid * 5e-4
        return Ladder(
            (Quote(Side.BUY, mid - half, self.size),), (Quote(Side.SELL, mid + half, self.size),)
        )


def build_crossing(ctx: Any) -> CrossingQuoter:
    return CrossingQuoter(_lot_size(ctx), ctx.instrument.tick)


def build_nan(ctx: Any) -> NanMidQuoter:
    return NanMidQuoter(_lot_size(ctx))
