"""Small helpers shared by the gauntlet's quoters (no bugs live here)."""

from __future__ import annotations

import math

from mmkit.components import Estimates, Quote, View
from mmkit.core.types import Side
from mmkit.rounding import min_size_for_notional, post_only_price, round_size


def usable(est: Estimates) -> bool:
    """Whether the estimates a quoter needs are finite and positive."""
    return (
        math.isfinite(est.kappa)
        and est.kappa > 0
        and math.isfinite(est.sigma)
        and est.sigma >= 0
        and math.isfinite(est.spread_scale)
        and math.isfinite(est.size_scale)
    )


#: the widest half-spread any gauntlet quoter uses (relative): beyond it, it quotes nothing
MAX_HALF_SPREAD = 0.5


def half_spread(
    est: Estimates, min_half_spread_bps: float, gamma: float, horizon_s: float
) -> float:
    """Relative half-spread: ``1/kappa + gamma * sigma**2 * horizon / 2``, widened by
    ``spread_scale`` (never narrowed), floored at ``min_half_spread_bps`` and held at
    :data:`MAX_HALF_SPREAD` (sigma is read at most 1 per sqrt second, so that a wild
    estimate cannot overflow)."""
    sigma = min(est.sigma, 1.0)
    hs = 1.0 / est.kappa + 0.5 * gamma * sigma * sigma * horizon_s
    hs *= min(max(1.0, est.spread_scale), 1e6)
    return min(max(hs, min_half_spread_bps * 1e-4), MAX_HALF_SPREAD)


def level_size(view: View, base: float, px: float) -> float:
    """``base`` coins rounded down to the lot, raised to the minimum order value at ``px``;
    NaN when ``px`` is not a usable price."""
    ins = view.instrument
    if not (math.isfinite(px) and px > 0):
        return math.nan
    sz = round_size(base, ins.sz_decimals, "down")
    floor = min_size_for_notional(px, ins.sz_decimals, ins.min_notional)
    return max(sz, floor) if math.isfinite(floor) else math.nan


def ladder_side(
    view: View, side: Side, fair: float, depths: list[float], base: float, capacity: float
) -> tuple[Quote, ...]:
    """Post-only quotes at relative ``depths`` from ``fair`` on one side, strictly
    monotone, each venue-valid, stopping when the cumulative size would exceed
    ``capacity`` (coins)."""
    m = view.market
    ins = view.instrument
    out: list[Quote] = []
    used = 0.0
    prev = math.nan
    for i, d in enumerate(depths):
        raw = fair * (1.0 - d) if side is Side.BUY else fair * (1.0 + d)
        px = post_only_price(
            raw,
            side is Side.BUY,
            m.best_bid,
            m.best_ask,
            ins.sz_decimals,
            max_decimals=ins.max_decimals,
        )
        if not (math.isfinite(px) and px > 0):
            break
        if math.isfinite(prev) and (px >= prev if side is Side.BUY else px <= prev):
            continue  # two depths rounded onto one price: keep the ladder strictly monotone
        sz = level_size(view, base, px)
        if not math.isfinite(sz) or used + sz > capacity + 1e-12:
            break
        used += sz
        prev = px
        out.append(Quote(side, px, sz, i))
    return tuple(out)
