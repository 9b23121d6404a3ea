"""Our best resting prices among a set of orders (the run report's and the backtest path's
quoted bid and ask)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from mmkit.core.types import Side

__all__ = ["best_resting"]


def best_resting(orders: Iterable[Any]) -> tuple[float, float]:
    """Our best (highest) bid and best (lowest) ask among resting ``orders`` (objects with
    ``side``, ``px`` and ``sz`` left), NaN for a side with none; orders with nothing left
    (``sz <= 0``) do not rest."""
    bid = ask = math.nan
    for o in orders:
        if not o.sz > 0:
            continue
        if o.side is Side.BUY:
            bid = o.px if not bid >= o.px else bid
        else:
            ask = o.px if not ask <= o.px else ask
    return bid, ask
