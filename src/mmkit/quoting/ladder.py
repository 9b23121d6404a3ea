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
        # [lo, hi, decimals, 10**decimals] of the price decade last seen on each side
        self._bid_grid = [math.inf, -math.inf, 0.0, 1.0]
        self._ask_grid = [math.inf, -math.inf, 0.0, 1.0]

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
        bids = self._bid_side(
            mid, bid_depth, spacing, base_size, max_position - position, best_ask, kappa
        )
        asks = self._ask_side(
            mid, ask_depth, spacing, base_size, max_position + position, best_bid, kappa
        )
        if len(bids) > 1 and len(asks) > 1 and _crossed(bids, asks):
            # never let our own quotes cross: keep the asks, drop the bids at or above them
            top = _top(asks)
            flat = _flat(bids)
            keep = [i for i in range(0, len(flat), 2) if flat[i] < top]
            bids = ("f", *[x for i in keep for x in (flat[i], flat[i + 1])])
        return self._emit(bids, asks)

    # -- sides -------------------------------------------------------------------------------
    def _grid(self, px: float, cache: list[float]) -> int:
        """Decimals of the price grid at ``px`` (cached per decade in ``cache``)."""
        if cache[0] <= px < cache[1]:
            return int(cache[2])
        d = price_decimals(px, self.sz_decimals, self.max_decimals)
        e = _decade(px)
        cache[:] = [_pow10f(e), _pow10f(e + 1), float(d), float(_POW10[d])]
        return d

    def _sizes(self, mid: float, step_units: int, scale: int, k: float, base: float) -> list[float]:
        """Wanted size per level (not called for flat sizes)."""
        if self.allocation != "intensity":
            return [base * w for w in self._weights]
        # exp(-k δ_i) relative to level 0; δ_i - δ_0 = i * step_units / scale / mid
        gap = k * step_units / (scale * mid)
        raw = [math.exp(-gap * i) for i in range(self.levels)]
        mean = sum(raw) / len(raw)
        return [base * w / mean for w in raw]

    def _bid_side(
        self,
        mid: float,
        depth: float,
        spacing: float,
        base: float,
        room: float,
        best_ask: float,
        kappa: float,
    ) -> _Rep:
        if not (room > 0.0 and depth <= self.max_depth and depth < 1.0):
            return _NONE  # also a NaN depth
        if depth < -self.max_depth:
            depth = -self.max_depth
        raw = mid * (1.0 - depth)
        g = self._bid_grid
        if g[0] <= raw < g[1]:  # same price decade as last time
            scale = int(g[3])
        else:
            scale = _POW10[self._grid(raw, g)]
        x = raw * scale
        n0 = math.floor(x + _SNAP_ABS + _SNAP_REL * x)  # round down, as rounding.round_price
        if self.post_only and 0.0 < best_ask < math.inf:
            y = best_ask * scale
            if n0 >= math.ceil(y - _SNAP_ABS - _SNAP_REL * y):
                # would reach the best ask: the largest valid price strictly below it
                p0 = post_only_price(
                    raw, True, _NAN, best_ask, self.sz_decimals, max_decimals=self.max_decimals
                )
                if not p0 > 0.0:
                    return _NONE
                d = price_decimals(p0, self.sz_decimals, self.max_decimals)
                scale = _POW10[d]
                n0 = round(p0 * scale)
        if n0 <= 0:
            return _NONE
        s = max(self.min_ticks, round(spacing * mid * scale))
        sizes = None if self._flat else self._sizes(mid, s, scale, kappa, base)
        return self._fill(n0, -s, scale, sizes, room, 0, base)

    def _ask_side(
        self,
        mid: float,
        depth: float,
        spacing: float,
        base: float,
        room: float,
        best_bid: float,
        kappa: float,
    ) -> _Rep:
        if not (room > 0.0 and depth <= self.max_depth):
            return _NONE  # also a NaN depth
        if depth < -self.max_depth:
            depth = -self.max_depth
        raw = mid * (1.0 + depth)
        g = self._ask_grid
        if g[0] <= raw < g[1]:  # same price decade as last time
            scale = int(g[3])
        else:
            scale = _POW10[self._grid(raw, g)]
        x = raw * scale
        n0 = math.ceil(x - _SNAP_ABS - _SNAP_REL * x)  # round up, as rounding.round_price
        if self.post_only and 0.0 < best_bid < math.inf:
            y = best_bid * scale
            if n0 <= math.floor(y + _SNAP_ABS + _SNAP_REL * y):
                # would reach the best bid: the smallest valid price strictly above it
                p0 = post_only_price(
                    raw, False, best_bid, _NAN, self.sz_decimals, max_decimals=self.max_decimals
                )
                if not 0.0 < p0 < math.inf:
                    return _NONE
                d = price_decimals(p0, self.sz_decimals, self.max_decimals)
                scale = _POW10[d]
                n0 = round(p0 * scale)
        s = max(self.min_ticks, round(spacing * mid * scale))
        # the first grid index of the next decade, where the grid may coarsen
        upper = _POW10[len(str(n0))]
        sizes = None if self._flat else self._sizes(mid, s, scale, kappa, base)
        return self._fill(n0, s, scale, sizes, room, upper, base)

    def _flat_size(self, base: float) -> float:
        if base != self._flat_key:
            self._flat_key = base
            self._flat_sz = round_size(base, self.sz_decimals, "down")
        return self._flat_sz

    def _fill(
        self,
        n0: int,
        step: int,
        scale: int,
        sizes: list[float] | None,
        room: float,
        upper: int,
        base: float,
    ) -> _Rep:
        """Levels ``n0 + i * step`` (grid units of ``1/scale``), sizes capped by ``room``.

        ``upper > 0`` (asks) is the grid index where the next decade starts: beyond it prices
        are re-rounded onto the coarser grid, strictly increasing. ``sizes=None``: flat sizes
        of ``base``, with a fast path when no level is capped or dropped.
        """
        mn = self.min_notional * (1.0 - 1e-12)
        max_notional = self.max_order_notional
        n_levels = self.levels
        if sizes is None:
            last = n0 + step * (n_levels - 1)
            if base == self._flat_key:
                sz = self._flat_sz
            else:
                sz = self._flat_size(base)
            if last > 0 and (not upper or last < upper) and sz * n_levels <= room:
                lo, hi = (n0, last) if step > 0 else (last, n0)
                if lo * sz >= mn * scale and base * hi <= max_notional * scale:
                    return ("g", n0, step, scale, sz, n_levels)
            sizes = [base] * n_levels
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


def _crossed(bids: _Rep, asks: _Rep) -> bool:
    return _top(bids) >= _top(asks)


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
