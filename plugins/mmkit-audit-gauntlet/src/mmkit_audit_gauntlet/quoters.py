"""Quoters of the gauntlet. Each turns estimates and the market into a :class:`Ladder`;
each class's docstring says how, and the ``BUG:`` comment marks its one conditional defect
(``BUGS.md`` has the table)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmkit.components import EMPTY_LADDER, Estimates, Ladder, Quote, View
from mmkit.core.types import Side
from mmkit.params import param
from mmkit.registry import RiskLimits
from mmkit.rounding import round_price

from ._quoting import half_spread, ladder_side, level_size, usable


@dataclass(frozen=True)
class LadderParams:
    levels: int = param(3, ge=1, le=10, help="levels per side")
    level_step_bps: float = param(2.0, gt=0, help="extra depth per level (bps)")
    min_half_spread_bps: float = param(1.0, ge=0, help="floor on the half-spread (bps)")
    gamma: float = param(0.1, gt=0, help="risk aversion in the half-spread")
    horizon_s: float = param(60.0, gt=0, help="holding horizon in the half-spread (s)")


def _depths(p: LadderParams, hs: float) -> list[float]:
    return [hs + i * p.level_step_bps * 1e-4 for i in range(p.levels)]


def _capacities(view: View) -> tuple[float, float]:
    """Coins the bids and the asks may add before |position| exceeds max_position."""
    q = view.position
    return max(0.0, view.max_position - q), max(0.0, view.max_position + q)


# ---------------------------------------------------------------------------------------
# g_skew_flip
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkewFlipParams(LadderParams):
    skew_bps: float = param(5.0, ge=0, help="reservation shift at max_position (bps)")


class SkewFlip:
    """Inventory-skewed ladder: the reservation price moves down by ``skew_bps`` times
    ``position / max_position`` (long inventory lowers both sides to sell it), with the
    shift held at its half-way value beyond ``max_position / 2``."""

    def __init__(self, p: SkewFlipParams, risk: RiskLimits) -> None:
        self.p = p
        self.risk = risk

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        if not (math.isfinite(mid) and mid > 0 and usable(est)) or view.max_position <= 0:
            return EMPTY_LADDER
        q = view.position / view.max_position
        if abs(q) <= 0.5:
            skew = self.p.skew_bps * 1e-4 * q
        else:
            # BUG: meant to hold the skew at its half-way value; the sign is taken from
            # the wrong side, so past max_position / 2 the quotes jump UP when long
            skew = -math.copysign(0.5 * self.p.skew_bps * 1e-4, q)
        fair = mid * (1.0 - skew)
        hs = half_spread(est, self.p.min_half_spread_bps, self.p.gamma, self.p.horizon_s)
        cap_b, cap_a = _capacities(view)
        base = self.risk.order_size * min(max(est.size_scale, 0.0), 1.0)
        d = _depths(self.p, hs)
        return Ladder(
            ladder_side(view, Side.BUY, fair, d, base, cap_b),
            ladder_side(view, Side.SELL, fair, d, base, cap_a),
        )


# ---------------------------------------------------------------------------------------
# g_decade_round
# ---------------------------------------------------------------------------------------


class DecadeRound:
    """Symmetric ladder around mid, prices snapped to the venue's grid: the number of
    decimals allowed (5 significant figures, at most ``max_decimals - sz_decimals``) is
    worked out once per requote from the mid, bids rounded down, asks up, and kept
    strictly inside the book's opposite side."""

    def __init__(self, p: LadderParams, risk: RiskLimits) -> None:
        self.p = p
        self.risk = risk

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        if not (math.isfinite(mid) and mid > 0 and usable(est)):
            return EMPTY_LADDER
        ins = view.instrument
        # BUG: the grid of the MID's decade is used for every level; a level on the other
        # side of a power of ten (mid 9999.5, ask 10000.3) keeps a decimal too many
        decimals = min(ins.max_decimals - ins.sz_decimals, max(0, 4 - math.floor(math.log10(mid))))
        step = 10.0**-decimals
        hs = half_spread(est, self.p.min_half_spread_bps, self.p.gamma, self.p.horizon_s)
        cap_b, cap_a = _capacities(view)
        base = self.risk.order_size * min(max(est.size_scale, 0.0), 1.0)
        bb, ba = view.market.best_bid, view.market.best_ask
        bids: list[Quote] = []
        asks: list[Quote] = []
        used_b = used_a = 0.0
        for i, d in enumerate(_depths(self.p, hs)):
            b = round(math.floor(mid * (1 - d) / step) * step, decimals)
            a = round(math.ceil(mid * (1 + d) / step) * step, decimals)
            if math.isfinite(ba) and b >= ba:
                b = round(ba - step, decimals)
            if math.isfinite(bb) and a <= bb:
                a = round(bb + step, decimals)
            if b > 0 and (not bids or b < bids[-1].px):
                sz = level_size(view, base, b)
                if math.isfinite(sz) and used_b + sz <= cap_b + 1e-12:
                    used_b += sz
                    bids.append(Quote(Side.BUY, b, sz, i))
            if not asks or a > asks[-1].px:
                sz = level_size(view, base, a)
                if math.isfinite(sz) and used_a + sz <= cap_a + 1e-12:
                    used_a += sz
                    asks.append(Quote(Side.SELL, a, sz, i))
        return Ladder(tuple(bids), tuple(asks))


# ---------------------------------------------------------------------------------------
# g_level_cap
# ---------------------------------------------------------------------------------------


class LevelCap:
    """Symmetric ladder with a position limit: a level is quoted only if filling it would
    keep |position| within ``max_position``."""

    def __init__(self, p: LadderParams, risk: RiskLimits) -> None:
        self.p = p
        self.risk = risk

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        if not (math.isfinite(mid) and mid > 0 and usable(est)):
            return EMPTY_LADDER
        hs = half_spread(est, self.p.min_half_spread_bps, self.p.gamma, self.p.horizon_s)
        base = self.risk.order_size * min(max(est.size_scale, 0.0), 1.0)
        d = _depths(self.p, hs)
        big = math.inf
        bids, asks = [], []
        q = view.position
        # BUG: each level is checked on its own (position + this level), never the
        # cumulative size: harmless when flat, over the limit once inventory is high
        for quote in ladder_side(view, Side.BUY, mid, d, base, big):
            if q + quote.sz <= view.max_position:
                bids.append(quote)
        for quote in ladder_side(view, Side.SELL, mid, d, base, big):
            if q - quote.sz >= -view.max_position:
                asks.append(quote)
        return Ladder(tuple(bids), tuple(asks))


# ---------------------------------------------------------------------------------------
# g_last_trade_fair
# ---------------------------------------------------------------------------------------


class LastTradeFair:
    """Ladder around a fair value: the mid, or the last trade price when one side of the
    book is missing (so we keep quoting, and help refill, a one-sided book). Post-only:
    bids stay below the best ask, asks above the best bid."""

    def __init__(self, p: LadderParams, risk: RiskLimits) -> None:
        self.p = p
        self.risk = risk

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        m = view.market
        fair = m.mid
        if not math.isfinite(fair):
            fair = m.last_trade_px
        if not (math.isfinite(fair) and fair > 0 and usable(est)):
            return EMPTY_LADDER
        ins = view.instrument
        hs = half_spread(est, self.p.min_half_spread_bps, self.p.gamma, self.p.horizon_s)
        cap_b, cap_a = _capacities(view)
        base = self.risk.order_size * min(max(est.size_scale, 0.0), 1.0)
        two_sided = math.isfinite(m.best_bid) and math.isfinite(m.best_ask)
        bids: list[Quote] = []
        asks: list[Quote] = []
        used_b = used_a = 0.0
        for i, d in enumerate(_depths(self.p, hs)):
            b = round_price(
                fair * (1 - d), ins.sz_decimals, max_decimals=ins.max_decimals, direction="down"
            )
            a = round_price(
                fair * (1 + d), ins.sz_decimals, max_decimals=ins.max_decimals, direction="up"
            )
            # BUG: the post-only clamp only runs on a two-sided book; on a one-sided book
            # a last trade beyond the remaining side puts our quote through it
            if two_sided:
                if b >= m.best_ask:
                    continue
                if a <= m.best_bid:
                    continue
            for px, side, lst in ((b, Side.BUY, bids), (a, Side.SELL, asks)):
                if not (math.isfinite(px) and px > 0):
                    continue
                if lst and (px >= lst[-1].px if side is Side.BUY else px <= lst[-1].px):
                    continue
                sz = level_size(view, base, px)
                if not math.isfinite(sz):
                    continue
                if side is Side.BUY and used_b + sz <= cap_b + 1e-12:
                    used_b += sz
                    lst.append(Quote(side, px, sz, i))
                elif side is Side.SELL and used_a + sz <= cap_a + 1e-12:
                    used_a += sz
                    lst.append(Quote(side, px, sz, i))
        return Ladder(tuple(bids), tuple(asks))


# ---------------------------------------------------------------------------------------
# g_nearest_touch
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearestTouchParams:
    min_half_spread_bps: float = param(
        0.0, ge=0, help="floor on the half-spread (bps); the model decides"
    )
    gamma: float = param(0.1, gt=0, help="risk aversion in the half-spread")
    horizon_s: float = param(60.0, gt=0, help="holding horizon in the half-spread (s)")


class NearestTouch:
    """One level per side at the model's half-spread, each price rounded to the NEAREST
    valid price (least distortion of the model), then kept off the opposite touch."""

    def __init__(self, p: NearestTouchParams, risk: RiskLimits) -> None:
        self.p = p
        self.risk = risk

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        m = view.market
        mid = m.mid
        if not (math.isfinite(mid) and mid > 0 and usable(est)):
            return EMPTY_LADDER
        ins = view.instrument
        hs = half_spread(est, self.p.min_half_spread_bps, self.p.gamma, self.p.horizon_s)
        b = round_price(mid * (1 - hs), ins.sz_decimals, max_decimals=ins.max_decimals)
        a = round_price(mid * (1 + hs), ins.sz_decimals, max_decimals=ins.max_decimals)
        # BUG: with a half-spread under half a price step (a high kappa on a quiet
        # market), both sides round to the same price: bid == ask
        if b >= m.best_ask or a <= m.best_bid or not (b > 0 and a > 0):
            return EMPTY_LADDER
        cap_b, cap_a = _capacities(view)
        base = self.risk.order_size * min(max(est.size_scale, 0.0), 1.0)
        bids: tuple[Quote, ...] = ()
        asks: tuple[Quote, ...] = ()
        sb, sa = level_size(view, base, b), level_size(view, base, a)
        if math.isfinite(sb) and sb <= cap_b:
            bids = (Quote(Side.BUY, b, sb, 0),)
        if math.isfinite(sa) and sa <= cap_a:
            asks = (Quote(Side.SELL, a, sa, 0),)
        return Ladder(bids, asks)


# ---------------------------------------------------------------------------------------
# g_cascade_stepback
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CascadeStepBackParams(LadderParams):
    calm_sigma: float = param(1e-4, gt=0, help="sigma of a calm market (per sqrt s)")


class CascadeStepBack:
    """Ladder that steps back in a cascade: while ``est.cascade`` is set, every depth is
    multiplied by ``sigma / calm_sigma`` (at least 1), so the ladder widens with the
    volatility of the cascade."""

    def __init__(self, p: CascadeStepBackParams, risk: RiskLimits) -> None:
        self.p = p
        self.risk = risk

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        m = view.market
        mid = m.mid
        if not (math.isfinite(mid) and mid > 0 and usable(est)):
            return EMPTY_LADDER
        ins = view.instrument
        hs = half_spread(est, self.p.min_half_spread_bps, self.p.gamma, self.p.horizon_s)
        depths = _depths(self.p, hs)
        if est.cascade:
            mult = max(1.0, est.sigma / self.p.calm_sigma)
            depths = [d * mult for d in depths]
        cap_b, cap_a = _capacities(view)
        base = self.risk.order_size * min(max(est.size_scale, 0.0), 1.0)
        bids: list[Quote] = []
        asks: list[Quote] = []
        used_b = used_a = 0.0
        for i, d in enumerate(depths):
            # BUG: a depth beyond 100% gives a negative bid, which round_price turns into
            # NaN, and NaN is not checked here: only in a cascade with sigma >> calm_sigma
            b = round_price(
                mid * (1 - d), ins.sz_decimals, max_decimals=ins.max_decimals, direction="down"
            )
            a = round_price(
                mid * (1 + d), ins.sz_decimals, max_decimals=ins.max_decimals, direction="up"
            )
            if b >= m.best_ask or a <= m.best_bid:
                continue
            # one size per level, worth the minimum order value on both of its sides
            sz = max(level_size(view, base, a), level_size(view, base, b))
            if not math.isfinite(sz):
                continue
            if (not bids or not b >= bids[-1].px) and used_b + sz <= cap_b + 1e-12:
                used_b += sz
                bids.append(Quote(Side.BUY, b, sz, i))
            if (not asks or a > asks[-1].px) and used_a + sz <= cap_a + 1e-12:
                used_a += sz
                asks.append(Quote(Side.SELL, a, sz, i))
        return Ladder(tuple(bids), tuple(asks))


# ---------------------------------------------------------------------------------------
# Correct but unusual: asymmetric ladder (should PASS)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsymmetricParams:
    bid_levels: int = param(1, ge=0, le=10, help="bid levels")
    ask_levels: int = param(4, ge=0, le=10, help="ask levels")
    level_step_bps: float = param(3.0, gt=0, help="extra depth per level (bps)")
    min_half_spread_bps: float = param(2.0, gt=0, help="floor on the half-spread (bps)")
    gamma: float = param(0.1, gt=0, help="risk aversion in the half-spread")
    horizon_s: float = param(60.0, gt=0, help="holding horizon in the half-spread (s)")
    skew_bps: float = param(3.0, ge=0, help="reservation shift at max_position (bps)")


class Asymmetric:
    """An asymmetric ladder (one bid, four asks by default: a seller's book), reservation
    price shifted down linearly with inventory (clamped to +/- max_position), cumulative
    exposure capped per side, post-only and venue-valid through ``mmkit.rounding``."""

    def __init__(self, p: AsymmetricParams, risk: RiskLimits) -> None:
        self.p = p
        self.risk = risk

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        if not (math.isfinite(mid) and mid > 0 and usable(est)) or view.max_position <= 0:
            return EMPTY_LADDER
        q = min(1.0, max(-1.0, view.position / view.max_position))
        fair = mid * (1.0 - self.p.skew_bps * 1e-4 * q)
        hs = half_spread(est, self.p.min_half_spread_bps, self.p.gamma, self.p.horizon_s)
        if not hs < 0.5:
            return EMPTY_LADDER
        step = self.p.level_step_bps * 1e-4
        cap_b, cap_a = _capacities(view)
        base = self.risk.order_size * min(max(est.size_scale, 0.0), 1.0)
        bids = ladder_side(
            view, Side.BUY, fair, [hs + i * step for i in range(self.p.bid_levels)], base, cap_b
        )
        asks = ladder_side(
            view, Side.SELL, fair, [hs + i * step for i in range(self.p.ask_levels)], base, cap_a
        )
        if bids and asks and not bids[0].px < asks[0].px:
            return EMPTY_LADDER
        return Ladder(bids, asks)
