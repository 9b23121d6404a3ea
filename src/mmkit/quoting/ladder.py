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

Every price and size goes through :mod:`mmkit.rounding` (its :class:`~mmkit.rounding.PriceGrid`
and :func:`~mmkit.rounding.scaled_index` for the per-level grid arithmetic). Once level 0 is on
the grid, a side is a function of a few rounded numbers, and a side built lately from the same
ones is reused without its per-level loop (see :meth:`LadderBuilder._side`). A ladder is made
from its sides' numbers (:meth:`~mmkit.components.Ladder.from_levels`): its
:class:`~mmkit.components.Quote` objects are made only if a consumer reads them (the engine's
check and the built-in executor read the numbers), and an unchanged ladder is returned as the
same object (the engine then skips re-validating it). ``benchmarks/ladder.py`` measures what
each cache gains (and what the removed ones did); ``tests/quoting/test_ladder_differential.py``
checks the builder against a plain one.
"""

from __future__ import annotations

import math

from mmkit.components import EMPTY_LADDER, Ladder, Levels
from mmkit.core.types import Instrument
from mmkit.quoting.params import LadderParams
from mmkit.rounding import (
    PriceGrid,
    next_price_above,
    post_only_price,
    round_price,
    round_size,
    scaled_index,
)

_NAN = math.nan
_INF = math.inf  # a module global: cheaper than math.inf on the per-tick path

#: One side before it becomes quotes (:data:`mmkit.components.Levels`): comparing two of
#: them tells whether the quotes changed without building any.
_NONE: Levels = ()
#: What one side's levels depend on once its level 0 is on the grid: ``(n0, ticks, scale,
#: base size, intensity gap, room)``, room ``-1.0`` when it is too large to cap any level.
_SideKey = tuple[int, int, int, float, float, float]


class LadderBuilder:
    """Builds ladders for one instrument; reuse one instance per quoter (it remembers
    recent ladders, see :meth:`_emit`)."""

    __slots__ = (
        "_ask_grid",
        "_ask_levels",
        "_bid_grid",
        "_bid_levels",
        "_last_ask_key",
        "_last_bid_key",
        "_last_ladder",
        "_load",
        "_min_notional_x",
        "_slack",
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
        # one grid per side: each remembers its last decade, and bids and asks may sit in
        # different decades (a mid just above a power of ten)
        self._bid_grid = PriceGrid(self.sz_decimals, self.max_decimals)
        self._ask_grid = PriceGrid(self.sz_decimals, self.max_decimals)
        self._last_bid_key: Levels = _NONE
        self._last_ask_key: Levels = _NONE
        self._last_ladder: Ladder = EMPTY_LADDER
        # recently built sides by their rounded inputs (see _side)
        self._bid_levels: dict[_SideKey, Levels] = {}
        self._ask_levels: dict[_SideKey, Levels] = {}
        # a side's room cannot cap or stop any level when room > base * _load + _slack: the
        # wanted sizes add up to base * levels, and rounding a size down may still raise it
        # by its noise snap (1e-13 relative + 1e-9 absolute, see rounding.scaled_index); the
        # margin here is 1e-9 relative, far above that and the float error of room - sizes
        self._load = self.levels * (1.0 + 1e-9)
        self._slack = self.levels * 1e-8
        # minimum notional with a relative slack for float noise (as rounding.meets_min_notional)
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
        bids, asks = self.levels_of(
            mid,
            bid_depth,
            ask_depth,
            spacing,
            base_size,
            position,
            max_position,
            best_bid,
            best_ask,
            kappa,
        )
        return self._emit(bids, asks)

    def levels_of(
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
    ) -> tuple[Levels, Levels]:
        """The bid and ask :data:`Levels` that :meth:`build` turns into quotes."""
        if not (0.0 < mid < _INF and base_size > 0.0 and base_size < _INF):
            return _NONE, _NONE
        if not (-_INF < position < _INF and max_position >= 0.0):
            return _NONE, _NONE
        if not (0.0 <= spacing < _INF):
            spacing = 0.0
        if not (0.0 <= kappa < _INF):
            kappa = 0.0
        bids = self._side(
            True, mid, bid_depth, spacing, base_size, max_position - position, best_ask, kappa
        )
        asks = self._side(
            False, mid, ask_depth, spacing, base_size, max_position + position, best_bid, kappa
        )
        # rounding (bids down, asks up) and post-only only move quotes away from mid, so our
        # own quotes can only cross when the depths leave (almost) no room between them
        if bid_depth + ask_depth < 1e-6 and bids and asks:
            top = asks[0]
            if bids[0] >= top:
                # never let our own quotes cross: keep the asks, drop the bids at or above them
                bids = tuple(
                    v for i in range(0, len(bids), 2) if bids[i] < top for v in bids[i : i + 2]
                )
        return bids, asks

    # -- sides -------------------------------------------------------------------------------
    def _sizes(self, gap: float, base: float) -> list[float]:
        """Wanted size per level; ``gap`` (intensity allocation) is ``kappa`` times the
        relative depth between two levels (``level step / mid``)."""
        if self.allocation != "intensity":
            return [base * w for w in self._weights]
        # exp(-k δ_i) relative to level 0; δ_i - δ_0 = i * step_units / scale / mid
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
    ) -> Levels:
        """One side: level 0 at ``depth`` from ``mid`` (bids below, asks above), post-only
        against the ``opposite`` best, deeper levels away from mid.

        The levels are remembered by ``(level 0's grid index, level step in grid steps, grid
        scale, base size, intensity gap, room)``, which determine them; the room is left out
        (``-1.0``) when it cannot cap any level, so an uncapped ladder keeps one compact key
        while the position moves. Measured by ``benchmarks/ladder.py``: it skips the
        per-level loop on most calls (0.17x-0.22x the cost of a builder without caches, from
        0.49x-0.56x without it; leaving the room out of the key accounts for 8-15% of that).
        """
        max_depth = self.max_depth
        if not (room > 0.0 and depth <= max_depth):
            return _NONE  # also a NaN depth
        if depth < -max_depth:
            depth = -max_depth
        # level 0 rounded away from mid (rounding.round_price, in grid units); with post-only,
        # one that would reach the opposite best (a NaN one never does) moves to the nearest
        # valid price strictly on our side of it (rounding.post_only_price)
        grid = self._bid_grid if is_bid else self._ask_grid
        if is_bid:
            if not depth < 1.0:
                return _NONE
            raw = mid * (1.0 - depth)
            lo, hi, scale = grid.decade(raw)
            n0 = scaled_index(raw * scale, "down")
        else:
            raw = mid * (1.0 + depth)
            lo, hi, scale = grid.decade(raw)
            n0 = scaled_index(raw * scale, "up")
        # (grid indices are ints; hi * scale and lo * scale are powers of ten up to float noise)
        if n0 > hi * scale - 0.5 and n0 > 0:
            # rounded (or snapped) up out of the decade, onto the next power of ten (9999.95 ->
            # 10000.0) or, where max_decimals caps the grid, onto its first step: from there
            # on the grid is that decade's, as for rounding.price_step(level 0), which is the
            # same or coarser (and level 0, a power of ten then, is on it)
            lo, hi, coarser = grid.decade(n0 / scale)
            n0 //= scale // coarser
            scale = coarser
        if not (n0 / scale < opposite if is_bid else n0 / scale > opposite) and (
            self.post_only and 0.0 < opposite < _INF
        ):
            n0 = 0
            if lo < opposite < hi:
                # the opposite best is inside this grid's decade: the grid index just on our
                # side of it (what rounding.next_price_below / _above give while it stays in
                # the decade)
                y = opposite * scale
                n0 = scaled_index(y, "up") - 1 if is_bid else scaled_index(y, "down") + 1
            if not lo * scale - 0.5 < n0 < hi * scale - 0.5:
                p0 = post_only_price(
                    raw,
                    is_bid,
                    _NAN if is_bid else opposite,
                    opposite if is_bid else _NAN,
                    self.sz_decimals,
                    max_decimals=self.max_decimals,
                )
                if not 0.0 < p0 < _INF:
                    return _NONE
                lo, hi, scale = grid.decade(p0)
                n0 = round(p0 * scale)
        if n0 <= 0:
            return _NONE
        units = spacing * mid * scale  # level spacing in grid steps
        # (a spacing beyond any price range stays an int: deeper levels then fall off the grid)
        s = int(units + 0.5) if units < 1e15 else 10**15
        if s < self.min_ticks:
            s = self.min_ticks
        # everything below is a function of these rounded inputs: a side built lately from
        # the same ones is reused
        gap = kappa * s / (scale * mid) if self.allocation == "intensity" else 0.0
        key = (n0, s, scale, base, gap, room if room <= base * self._load + self._slack else -1.0)
        cache = self._bid_levels if is_bid else self._ask_levels
        got = cache.get(key)
        if got is None:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            # asks: the first grid index of the next decade, where the grid may coarsen
            step, upper = (-s, 0) if is_bid else (s, round(hi * scale))
            got = cache[key] = self._fill(n0, step, scale, self._sizes(gap, base), room, upper)
        return got

    def _fill(
        self, n0: int, step: int, scale: int, sizes: list[float], room: float, upper: int
    ) -> Levels:
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
            if target != last_target:  # flat sizes: one rounding for the whole side
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
        return tuple(out)

    # -- output ------------------------------------------------------------------------------
    def _emit(self, bids: Levels, asks: Levels, checked: bool = False) -> Ladder:
        """The ladder of the levels (:meth:`Ladder.from_levels`: no quote object is made
        until a consumer reads them); an unchanged ladder is the same object (the engine
        then skips re-validating it, the executor finds its orders in place without a
        diff). ``benchmarks/ladder.py`` measures this against the caches it replaced.
        ``checked``: the caller verified the levels as the engine would (a new ladder is
        then made ``checked``: see ``Ladder._checked``)."""
        if bids == self._last_bid_key and asks == self._last_ask_key:
            return self._last_ladder
        lad = Ladder.from_levels(bids, asks, checked=checked)
        self._last_bid_key, self._last_ask_key, self._last_ladder = bids, asks, lad
        return lad


#: entries of the recent-sides cache (:meth:`LadderBuilder._side`) before it starts afresh
#: (bounded memory)
_CACHE_SIZE = 1024
