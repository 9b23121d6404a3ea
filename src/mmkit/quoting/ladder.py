"""The ladder depth generator: optimal depths -> venue-valid, exposure-capped levels.

:class:`LadderBuilder` turns a bid depth and an ask depth (relative to mid) into ``levels``
quotes per side:

* level 0 sits at the optimal depth, rounded onto the venue grid away from mid (bids down,
  asks up), and - post-only - strictly inside the opposite best (bid < best ask, ask > best
  bid); deeper levels are spaced by a whole number of price steps (at least
  ``min_level_ticks``), so every level is on the grid;
* sizes follow the allocation (``flat``, ``geometric`` or ``intensity`` ∝ ``exp(-k δ)``),
  normalised so that the average level carries the base size, rounded down to the size grid;
* worst-case exposure is capped: position plus every quote on a side never exceeds
  ``max_position`` (no bid at all at ``+max_position``, no ask at ``-max_position``); a level
  is also capped at ``max_order_notional``; a level worth less than the minimum notional is
  dropped;
* a side whose optimal depth is NaN or beyond ``max_depth`` is not quoted (a depth below
  ``-max_depth`` is clamped there, then post-only keeps it off the book), and the best bid is
  always strictly below the best ask.

Every price and size goes through :mod:`mmkit.rounding`. A level whose price and size did not
change since the last call keeps its :class:`~mmkit.components.Quote` object (and an unchanged
ladder is returned as the same object), which keeps the per-tick cost low.
"""

from __future__ import annotations

import math
from typing import cast

from mmkit.components import EMPTY_LADDER, Ladder, Quote
from mmkit.core.types import Instrument, Side
from mmkit.quoting.params import LadderParams
from mmkit.rounding import (
    next_price_above,
    post_only_price,
    price_decimals,
    round_price,
    round_size,
)

_NAN = math.nan
_POW10: tuple[int, ...] = tuple(int(10**k) for k in range(40))
# the same noise snap as mmkit.rounding (in grid steps)
_SNAP_ABS = 1e-9
_SNAP_REL = 1e-13


def _decade(x: float) -> int:
    e = math.floor(math.log10(x))
    if _pow10f(e) > x:
        e -= 1
    elif _pow10f(e + 1) <= x:
        e += 1
    return e


def _pow10f(e: int) -> float:
    return float(f"1e{e}")


class LadderBuilder:
    """Builds ladders for one instrument; reuse one instance per quoter (it caches)."""

    __slots__ = (
        "_ask_cache",
        "_ask_grid",
        "_ask_sides",
        "_bid_cache",
        "_bid_grid",
        "_bid_sides",
        "_flat",
        "_flat_key",
        "_flat_sz",
        "_ladders",
        "_last_ask_key",
        "_last_asks",
        "_last_bid_key",
        "_last_bids",
        "_last_ladder",
        "_min_notional_x",
        "_weights",
        "allocation",
        "levels",
        "max_decimals",
        "max_depth",
        "max_order_notional",
        "min_notional",
        "min_ticks",
        "post_only",
        "sz_decimals",
    )

    def __init__(
        self, instrument: Instrument, params: LadderParams, max_order_notional: float = math.inf
    ) -> None:
        self.sz_decimals = instrument.sz_decimals
        self.max_decimals = instrument.max_decimals
        self.min_notional = instrument.min_notional
        self.levels = params.levels
        self.min_ticks = params.min_level_ticks
        self.max_depth = params.max_depth
        self.post_only = params.post_only
        self.allocation = params.size_allocation
        self.max_order_notional = max_order_notional if max_order_notional > 0.0 else math.inf
        if params.size_allocation == "geometric":
            raw = [params.geometric_ratio**i for i in range(self.levels)]
        else:
            raw = [1.0] * self.levels
        mean = sum(raw) / len(raw)
        self._weights = [w / mean for w in raw]
        self._flat = params.size_allocation == "flat" or (
            params.size_allocation == "geometric" and params.geometric_ratio == 1.0
        )
        self._flat_key = math.nan
        self._flat_sz = 0.0
        self._last_bid_key: _Rep = _NONE
        self._last_ask_key: _Rep = _NONE
        self._last_bids: tuple[Quote, ...] = ()
        self._last_asks: tuple[Quote, ...] = ()
        self._last_ladder: Ladder = EMPTY_LADDER
        # recently built ladders and sides (by representation), quotes (by price, size, level)
        self._ladders: dict[tuple[_Rep, _Rep], Ladder] = {}
        self._bid_sides: dict[_Rep, tuple[Quote, ...]] = {}
        self._ask_sides: dict[_Rep, tuple[Quote, ...]] = {}
        self._bid_cache: dict[tuple[float, float, int], Quote] = {}
        self._ask_cache: dict[tuple[float, float, int], Quote] = {}
        # (lo, hi, 10**decimals) of the price decade last seen on each side
        self._bid_grid: tuple[float, float, int] = (math.inf, -math.inf, 1)
        self._ask_grid: tuple[float, float, int] = (math.inf, -math.inf, 1)
        # minimum notional with a relative slack for float noise
        self._min_notional_x = self.min_notional * (1.0 - 1e-12)

    # -- public ------------------------------------------------------------------------------
    def build(
        self,
        mid: float,
        bid_depth: float,
        ask_depth: float,
        spacing: float,
        base_size: float,
        position: float,
        max_position: float,
        best_bid: float = _NAN,
        best_ask: float = _NAN,
        kappa: float = 0.0,
    ) -> Ladder:
        """The ladder around ``mid`` (all depths and ``spacing`` relative to ``mid``)."""
        if not (0.0 < mid < math.inf and base_size > 0.0 and base_size < math.inf):
            return self._emit(_NONE, _NONE)
        if not (-math.inf < position < math.inf and max_position >= 0.0):
            return self._emit(_NONE, _NONE)
        if not (0.0 <= spacing < math.inf):
            spacing = 0.0
        if not (0.0 <= kappa < math.inf):
            kappa = 0.0
        bids = self._side(
            True, mid, bid_depth, spacing, base_size, max_position - position, best_ask, kappa
        )
        asks = self._side(
            False, mid, ask_depth, spacing, base_size, max_position + position, best_bid, kappa
        )
        # rounding (bids down, asks up) and post-only only move quotes away from mid, so our
        # own quotes can only cross when the depths leave (almost) no room between them
        if bid_depth + ask_depth < 1e-6 and len(bids) > 1 and len(asks) > 1:
            top = _top(asks)
            if _top(bids) >= top:
                # never let our own quotes cross: keep the asks, drop the bids at or above them
                flat = _flat(bids)
                keep = [i for i in range(0, len(flat), 2) if flat[i] < top]
                bids = ("f", *[x for i in keep for x in (flat[i], flat[i + 1])])
        return self._emit(bids, asks)

    # -- sides -------------------------------------------------------------------------------
    def _regrid(self, px: float, is_bid: bool) -> tuple[float, float, int]:
        """``(lo, hi, 10**decimals)`` of the price decade of ``px``, cached for the side."""
        d = price_decimals(px, self.sz_decimals, self.max_decimals)
        e = _decade(px)
        grid = (_pow10f(e), _pow10f(e + 1), _POW10[d])
        if is_bid:
            self._bid_grid = grid
        else:
            self._ask_grid = grid
        return grid

    def _sizes(self, mid: float, step_units: int, scale: int, k: float, base: float) -> list[float]:
        """Wanted size per level."""
        if self.allocation != "intensity":
            return [base * w for w in self._weights]
        # exp(-k δ_i) relative to level 0; δ_i - δ_0 = i * step_units / scale / mid
        gap = k * step_units / (scale * mid)
        raw = [math.exp(-gap * i) for i in range(self.levels)]
        mean = sum(raw) / len(raw)
        return [base * w / mean for w in raw]

    def _side(
        self,
        is_bid: bool,
        mid: float,
        depth: float,
        spacing: float,
        base: float,
        room: float,
        opposite: float,
        kappa: float,
    ) -> _Rep:
        """One side: level 0 at ``depth`` from ``mid`` (bids below, asks above), post-only
        against the ``opposite`` best, deeper levels away from mid."""
        if not (room > 0.0 and depth <= self.max_depth):
            return _NONE  # also a NaN depth
        if depth < -self.max_depth:
            depth = -self.max_depth
        if is_bid:
            if not depth < 1.0:
                return _NONE
            raw = mid * (1.0 - depth)
            lo, hi, scale = self._bid_grid
        else:
            raw = mid * (1.0 + depth)
            lo, hi, scale = self._ask_grid
        if not lo <= raw < hi:
            lo, hi, scale = self._regrid(raw, is_bid)
        # level 0 rounded away from mid (as rounding.round_price, with its noise snap); with
        # post-only, one that would reach the opposite best moves to the nearest valid price
        # strictly on our side of it
        x = raw * scale
        if is_bid:
            n0 = math.floor(x + _SNAP_ABS + _SNAP_REL * x)
        else:
            n0 = math.ceil(x - _SNAP_ABS - _SNAP_REL * x)
        # reaching the opposite best is decided exactly, as rounding.post_only_price does
        if self.post_only and 0.0 < opposite < math.inf:
            reaches = not (n0 / scale < opposite if is_bid else n0 / scale > opposite)
        else:
            reaches = False
        if reaches:
            y = opposite * scale
            if lo < opposite < hi:
                # the opposite best is inside this grid's decade: the nearest grid price
                # strictly on our side of it (what rounding.post_only_price gives)
                n0 = (
                    math.ceil(y - _SNAP_ABS - _SNAP_REL * y) - 1
                    if is_bid
                    else (math.floor(y + _SNAP_ABS + _SNAP_REL * y) + 1)
                )
            else:
                p0 = post_only_price(
                    raw,
                    is_bid,
                    _NAN if is_bid else opposite,
                    opposite if is_bid else _NAN,
                    self.sz_decimals,
                    max_decimals=self.max_decimals,
                )
                if not 0.0 < p0 < math.inf:
                    return _NONE
                scale = _POW10[price_decimals(p0, self.sz_decimals, self.max_decimals)]
                n0 = round(p0 * scale)
        if n0 <= 0:
            return _NONE
        s = int(spacing * mid * scale + 0.5)
        if s < self.min_ticks:
            s = self.min_ticks
        # asks: the first grid index of the next decade, where the grid may coarsen
        step, upper = (-s, 0) if is_bid else (s, _POW10[len(str(n0))])
        n_levels = self.levels
        if self._flat:
            sz = self._flat_sz if base == self._flat_key else self._flat_size(base)
            last = n0 + step * (n_levels - 1)
            if last > 0 and (not upper or last < upper) and sz * n_levels <= room:
                # evenly spaced, none capped or dropped: the compact representation
                lo_n, hi_n = (last, n0) if is_bid else (n0, last)
                if lo_n * sz >= self._min_notional_x * scale and base * hi_n <= (
                    self.max_order_notional * scale
                ):
                    return ("g", n0, step, scale, sz, n_levels)
            sizes = [base] * n_levels
        else:
            sizes = self._sizes(mid, s, scale, kappa, base)
        return self._fill(n0, step, scale, sizes, room, upper)

    def _flat_size(self, base: float) -> float:
        if base != self._flat_key:
            self._flat_key = base
            self._flat_sz = round_size(base, self.sz_decimals, "down")
        return self._flat_sz

    def _fill(
        self, n0: int, step: int, scale: int, sizes: list[float], room: float, upper: int
    ) -> _Rep:
        """Levels ``n0 + i * step`` (grid units of ``1/scale``), sizes capped by ``room``.

        ``upper > 0`` (asks) is the grid index where the next decade starts: beyond it prices
        are re-rounded onto the coarser grid, strictly increasing.
        """
        mn = self._min_notional_x
        max_notional = self.max_order_notional
        szd = self.sz_decimals
        out: list[float] = []
        last_target = -1.0
        sz = 0.0
        prev_px = 0.0
        n = n0
        for want in sizes:
            if n <= 0:
                break
            px = n / scale
            if upper and n >= upper:
                px = round_price(px, szd, max_decimals=self.max_decimals, direction="up")
                if not px > prev_px:
                    px = next_price_above(prev_px, szd, max_decimals=self.max_decimals)
            prev_px = px
            n += step
            target = want if want < room else room
            if target * px > max_notional:
                target = max_notional / px
            if target != last_target:
                sz = round_size(target, szd, "down")
                last_target = target
            if not (sz > 0.0 and px * sz >= mn):
                if want >= room:
                    break  # out of room: deeper levels would be smaller still
                continue
            out.append(px)
            out.append(sz)
            room -= sz
            if room <= 0.0:
                break
        return ("f", *out)

    # -- output ------------------------------------------------------------------------------
    def _emit(self, bids: _Rep, asks: _Rep) -> Ladder:
        same_bids = bids == self._last_bid_key
        same_asks = asks == self._last_ask_key
        if same_bids and same_asks:
            return self._last_ladder
        key = (bids, asks)
        seen = self._ladders.get(key)
        if seen is not None:
            self._last_bid_key, self._last_ask_key = bids, asks
            self._last_bids, self._last_asks = seen.bids, seen.asks
            self._last_ladder = seen
            return seen
        if not same_bids:
            side = self._bid_sides.get(bids)
            if side is None:
                side = _remember(self._bid_sides, bids, _quotes(Side.BUY, bids, self._bid_cache))
            self._last_bids = side
            self._last_bid_key = bids
        if not same_asks:
            side = self._ask_sides.get(asks)
            if side is None:
                side = _remember(self._ask_sides, asks, _quotes(Side.SELL, asks, self._ask_cache))
            self._last_asks = side
            self._last_ask_key = asks
        self._last_ladder = Ladder(self._last_bids, self._last_asks)
        if len(self._ladders) >= _SIDE_CACHE_SIZE:
            self._ladders.clear()
        self._ladders[key] = self._last_ladder
        return self._last_ladder


#: A side before it becomes quotes: ``("g", n0, step, scale, size, levels)`` for evenly spaced
#: flat levels ``(n0 + i * step) / scale``, or ``("f", px0, sz0, px1, sz1, ...)``. Comparing
#: representations tells whether the quotes changed without building them.
_Rep = tuple[object, ...]
_NONE: _Rep = ("f",)


def _flat(rep: _Rep) -> list[float]:
    if rep[0] == "g":
        _, n0, step, scale, sz, n = cast("tuple[str, int, int, int, float, int]", rep)
        return [v for i in range(n) for v in ((n0 + i * step) / scale, sz)]
    return cast("list[float]", list(rep[1:]))


def _top(rep: _Rep) -> float:
    if rep[0] == "g":
        return cast(int, rep[1]) / cast(int, rep[3])
    return cast(float, rep[1])


_QUOTE_CACHE_SIZE = 4096
_SIDE_CACHE_SIZE = 1024


def _remember(
    cache: dict[_Rep, tuple[Quote, ...]], rep: _Rep, quotes: tuple[Quote, ...]
) -> tuple[Quote, ...]:
    if len(cache) >= _SIDE_CACHE_SIZE:
        cache.clear()
    cache[rep] = quotes
    return quotes


def _quotes(
    side: Side, rep: _Rep, cache: dict[tuple[float, float, int], Quote]
) -> tuple[Quote, ...]:
    """Quotes of a side; a (price, size, level) seen recently reuses its Quote object."""
    if rep[0] == "g":
        _, n0, step, scale, sz, n = cast("tuple[str, int, int, int, float, int]", rep)
        levels = [((n0 + i * step) / scale, sz, i) for i in range(n)]
    else:
        flat = rep
        levels = [
            (cast(float, flat[j]), cast(float, flat[j + 1]), (j - 1) >> 1)
            for j in range(1, len(flat), 2)
        ]
    out = []
    for key in levels:
        q = cache.get(key)
        if q is None:
            if len(cache) >= _QUOTE_CACHE_SIZE:
                cache.clear()
            q = cache[key] = Quote(side, key[0], key[1], key[2])
        out.append(q)
    return tuple(out)
