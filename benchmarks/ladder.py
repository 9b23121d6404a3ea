"""Ladder builder benchmark: is each cache worth its code?

Drives :class:`mmkit.quoting.ladder.LadderBuilder` with the default GLFT ladder parameters
(``GlftParams()``: 5 flat levels, post-only) on a realistic call sequence: a mid that moves by
one tick on about a third of the events (the rest are trades and unchanged books), an
inventory that drifts by one lot now and then, GLFT-like depths skewed by the inventory, and
the book's best bid/ask around the mid. Instruments: the default one (``Instrument()``, which
is BTC-like: 5 size decimals, price ~100,000) and an ETH-like one (4 size decimals, ~3,000).
A third sequence ("busy") moves the inventory on a third of the events, as a stream of fills
would.

Variants, each a subclass that only switches caches off:

* ``plain``  - no cache at all: every side goes through the per-level loop and becomes new
  Quote objects and a new Ladder (it still pays the side-cache lookup, which always misses);
* ``memo``   - the last side's quotes are reused while it is unchanged, and an unchanged
  ladder is the same object (which also lets the engine skip re-validating it);
* ``+recent``  - memo plus dicts of recently built sides and ladders;
* ``+quotes``  - ``+recent`` plus a cache of Quote objects by (price, size, level) (removed:
  it gained under 10%);
* ``+levels``  - ``+recent`` plus the sides' levels by their rounded inputs (level 0's grid
  index, the level step, the grid scale, the base size, the intensity gap and the room),
  which skips the per-level loop;
* ``+flat``  - ``+levels`` with the room left out of the key when it is too large to cap any
  level (the compact key of an uncapped ladder); the product until 2026-12-06;
* ``+lazy quotes, memo`` - the product: ``+flat`` whose ladders are made from their levels,
  their ``Quote`` objects only when a consumer reads them (the engine's check and the
  built-in executor read the levels), the last ladder reused while unchanged;
* ``+lazy, recent ladders`` - the product plus the recent ladders by their levels (does that
  cache still pay once no quote is made at build time? It did not: removed).

Every variant before ``+lazy`` makes its quotes at once (the old output), so the table shows
what each cache gained then and what making no quotes gains now; a consumer that reads the
quotes of a lazy ladder pays for them once, when it reads them.

Prints the median over runs of µs per build (process CPU time, robust to a shared machine;
the variants are interleaved run by run) and the ratio to ``plain``; asserts nothing.
``--compare FILE`` adds the ``LadderBuilder`` of another ladder module (for instance an older
``mmkit/quoting/ladder.py`` from git, written to /tmp) to the table.

    python benchmarks/ladder.py [--compare /tmp/old_ladder.py] [--runs 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import random
import statistics
import time
from typing import Any

from mmkit.components import Ladder, Quote
from mmkit.components import side_quotes as quotes
from mmkit.core.types import Instrument, Side
from mmkit.quoting.ladder import LadderBuilder, Levels
from mmkit.quoting.params import GlftParams, LadderParams

RUNS = 7
EVENTS = 20_000
_CACHE = 1024

ETH = Instrument("ETH", 1, sz_decimals=4, max_decimals=6, tick=0.1)


class _Forgetful(dict[Any, Any]):
    """A cache that never keeps anything (every lookup misses)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class _Eager(LadderBuilder):
    """The product's output before 2026-12-06: each new side became ``Quote`` objects at
    once (recent sides and ladders reused), where the product now makes a ladder from its
    levels (:meth:`~mmkit.components.Ladder.from_levels`) and its quotes only when read."""

    __slots__ = ("_ladders", "_last_asks", "_last_bids", "_sides")

    def __init__(
        self, instrument: Instrument, params: LadderParams, max_order_notional: float = math.inf
    ) -> None:
        super().__init__(instrument, params, max_order_notional)
        self._last_bids: tuple[Quote, ...] = ()
        self._last_asks: tuple[Quote, ...] = ()
        self._sides: dict[tuple[Side, Levels], tuple[Quote, ...]] = {}
        self._ladders: dict[tuple[Levels, Levels], Ladder] = {}

    def _emit(self, bids: Levels, asks: Levels) -> Ladder:
        same_bids = bids == self._last_bid_key
        same_asks = asks == self._last_ask_key
        if same_bids and same_asks:
            return self._last_ladder
        key = (bids, asks)
        lad = self._ladders.get(key)
        if lad is None:
            if not same_bids:
                self._last_bids = self._side_quotes(Side.BUY, bids)
            if not same_asks:
                self._last_asks = self._side_quotes(Side.SELL, asks)
            if len(self._ladders) >= _CACHE:
                self._ladders.clear()
            lad = self._ladders[key] = Ladder(self._last_bids, self._last_asks)
        else:
            self._last_bids, self._last_asks = lad.bids, lad.asks
        self._last_bid_key, self._last_ask_key, self._last_ladder = bids, asks, lad
        return lad

    def _side_quotes(self, side: Side, levels: Levels) -> tuple[Quote, ...]:
        key = (side, levels)
        got = self._sides.get(key)
        if got is None:
            if len(self._sides) >= _CACHE:
                self._sides.clear()
            got = self._sides[key] = self._quotes(side, levels)
        return got

    def _quotes(self, side: Side, levels: Levels) -> tuple[Quote, ...]:
        return quotes(side, levels)


class WithoutLevels(_Eager):
    """Eager quotes without the sides' levels by rounded inputs (``+recent``)."""

    __slots__ = ()

    def __init__(
        self, instrument: Instrument, params: LadderParams, max_order_notional: float = math.inf
    ) -> None:
        super().__init__(instrument, params, max_order_notional)
        self._bid_levels = _Forgetful()
        self._ask_levels = _Forgetful()


class Plain(WithoutLevels):
    """No cache: every call builds its levels, quotes and ladder."""

    __slots__ = ()

    def _emit(self, bids: Levels, asks: Levels) -> Ladder:
        return Ladder(quotes(Side.BUY, bids), quotes(Side.SELL, asks))


class Memo(WithoutLevels):
    """Only the memo of the last side and ladder."""

    __slots__ = ()

    def _emit(self, bids: Levels, asks: Levels) -> Ladder:
        same_bids = bids == self._last_bid_key
        same_asks = asks == self._last_ask_key
        if same_bids and same_asks:
            return self._last_ladder
        if not same_bids:
            self._last_bids, self._last_bid_key = quotes(Side.BUY, bids), bids
        if not same_asks:
            self._last_asks, self._last_ask_key = quotes(Side.SELL, asks), asks
        self._last_ladder = Ladder(self._last_bids, self._last_asks)
        return self._last_ladder


class RecentQuotes(WithoutLevels):
    """``+recent`` plus Quote objects by (side, price, size, level)."""

    __slots__ = ("_quote_cache",)

    def __init__(
        self, instrument: Instrument, params: LadderParams, max_order_notional: float = math.inf
    ) -> None:
        super().__init__(instrument, params, max_order_notional)
        self._quote_cache: dict[tuple[Side, float, float, int], Quote] = {}

    def _quotes(self, side: Side, levels: Levels) -> tuple[Quote, ...]:
        out = []
        cache = self._quote_cache
        for j in range(0, len(levels), 2):
            key = (side, levels[j], levels[j + 1], j >> 1)
            q = cache.get(key)
            if q is None:
                if len(cache) >= 4 * _CACHE:
                    cache.clear()
                q = cache[key] = Quote(side, levels[j], levels[j + 1], j >> 1)
            out.append(q)
        return tuple(out)


class RoomInKey(_Eager):
    """Eager quotes, the room always part of a side's key (no compact flat key)."""

    __slots__ = ()

    def __init__(
        self, instrument: Instrument, params: LadderParams, max_order_notional: float = math.inf
    ) -> None:
        super().__init__(instrument, params, max_order_notional)
        self._load = math.inf


class LazyRecent(LadderBuilder):
    """The product plus a dict of recently built ladders by their levels (reused when the
    mid bounces back), as the eager variants have: does it still pay once no quote is made
    at build time? (Measured 2026-12-06: no, 0-4 % slower; removed.)"""

    __slots__ = ("_recent",)

    def __init__(
        self, instrument: Instrument, params: LadderParams, max_order_notional: float = math.inf
    ) -> None:
        super().__init__(instrument, params, max_order_notional)
        self._recent: dict[tuple[Levels, Levels], Ladder] = {}

    def _emit(self, bids: Levels, asks: Levels) -> Ladder:
        if bids == self._last_bid_key and asks == self._last_ask_key:
            return self._last_ladder
        key = (bids, asks)
        lad = self._recent.get(key)
        if lad is None:
            if len(self._recent) >= _CACHE:
                self._recent.clear()
            lad = self._recent[key] = Ladder.from_levels(bids, asks)
        self._last_bid_key, self._last_ask_key, self._last_ladder = bids, asks, lad
        return lad


VARIANTS: dict[str, type[Any]] = {
    "plain": Plain,
    "memo of the last side": Memo,
    "+recent sides/ladders": WithoutLevels,
    "+quote objects (removed)": RecentQuotes,
    "+levels by rounded inputs": RoomInKey,
    "+flat: room out of key": _Eager,
    "+lazy quotes, memo (the product)": LadderBuilder,
    "+lazy, recent ladders (removed)": LazyRecent,
}

Call = tuple[float, float, float, float, float, float, float, float, float, float]


def calls(inst: Instrument, mid0: float, seed: int = 7, fill_rate: float = 0.02) -> list[Call]:
    """A realistic sequence of build() arguments (see the module docstring); the inventory
    moves by one lot on a ``fill_rate`` share of the events."""
    rng = random.Random(seed)
    p = GlftParams()
    tick = inst.tick
    order = 0.001 if inst.sz_decimals >= 5 else 0.01
    max_pos = 10 * order
    half, skew = 1.5e-4, 3e-5  # relative half spread at q = 0, per lot of inventory
    mid, lots = mid0, 0
    out: list[Call] = []
    for _ in range(EVENTS):
        if rng.random() < 0.33:
            mid += tick * rng.choice((-1, 1))
        if rng.random() < fill_rate:
            lots = max(-10, min(10, lots + rng.choice((-1, 1))))
        kappa = 2000.0
        out.append(
            (
                mid,
                half + skew * lots,
                half - skew * lots,
                p.level_spacing / kappa,
                order,
                lots * order,
                max_pos,
                mid - tick / 2,
                mid + tick / 2,
                kappa,
            )
        )
    return out


def per_build_us(
    classes: dict[str, type[Any]], inst: Instrument, seq: list[Call], runs: int
) -> dict[str, float]:
    """Median µs per build of each class, the classes interleaved run by run (a load spike
    on the shared machine then hits every variant alike)."""
    samples: dict[str, list[float]] = {name: [] for name in classes}
    for _ in range(runs):
        for name, cls in classes.items():
            build = cls(inst, GlftParams(), 10_000.0).build
            t0 = time.process_time()
            for c in seq:
                build(*c)
            samples[name].append((time.process_time() - t0) / len(seq) * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


def _load_builder(path: str) -> type[Any]:
    """``LadderBuilder`` of the ladder module at ``path`` (not imported as mmkit's)."""
    spec = importlib.util.spec_from_file_location("compared_ladder", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--compare: cannot load a Python module from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = getattr(module, "LadderBuilder", None)
    if not isinstance(cls, type):
        raise SystemExit(f"--compare: {path} defines no LadderBuilder class")
    return cls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=RUNS, help="runs per variant (median taken)")
    ap.add_argument("--compare", metavar="FILE", help="another ladder module to time alongside")
    args = ap.parse_args()
    variants = dict(VARIANTS)
    if args.compare:
        variants[f"compared: {args.compare}"] = _load_builder(args.compare)
    print(f"ladder build, default GLFT ladder: median of {args.runs} runs of {EVENTS} calls (CPU)")
    for name, inst, mid0, fill_rate in (
        ("default (BTC-like)", Instrument(), 100_000.0, 0.02),
        ("ETH-like", ETH, 3000.05, 0.02),
        ("ETH-like, busy (inventory moves on 1/3 of events)", ETH, 3000.05, 0.33),
    ):
        got = per_build_us(variants, inst, calls(inst, mid0, fill_rate=fill_rate), args.runs)
        base = got["plain"]
        print(f"  {name}")
        for label, us in got.items():
            print(f"    {label:<32} {us:7.2f} µs/build   {us / base:5.2f} x plain")


if __name__ == "__main__":
    main()
