"""The simulated exchange's state: plain numpy arrays grouped in a named tuple.

Every kernel takes a :class:`SimState`; numba passes it by reference to its arrays, so a
backtest kernel can own one and call the matching kernels directly. Column meanings are in
:mod:`mmkit.venues.sim._layout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from mmkit.errors import ConfigError
from mmkit.venues.sim import _layout as lay

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

#: largest grid the venue allocates (columns per side)
MAX_TICKS = 50_000_000
#: the most columns a grid grows to on its own to follow a market (two float64 rows: 64 MB):
#: a backtest's venue sized to its whole market, a conversion following a market that
#: travels (:class:`mmkit.data.market_stream.MarketStream`)
MAX_FIT_TICKS = 4_000_000


class SimState(NamedTuple):
    grid: F64  # [2, n_ticks] bid sizes, ask sizes
    si: I64  # scalar ints (SI_*)
    sf: F64  # scalar floats (SF_*)
    oi: I64  # [max_orders, OI_SIZE]
    of: F64  # [max_orders, OF_SIZE]
    ai: I64  # [max_pending, AI_SIZE] pending-action ring
    af: F64  # [max_pending, AF_SIZE]
    ri: I64  # [max_records, RI_SIZE] output records
    rf: F64  # [max_records, RF_SIZE]
    rng: U64  # [1] splitmix64 state


@dataclass(frozen=True)
class MatchConfig:
    """Numbers the kernels need, already in kernel units (ns, fractions, codes)."""

    tick: float
    maker_fee: float = 0.00015
    taker_fee: float = 0.00045
    entry_latency_ns: int = 0
    response_latency_ns: int = 0
    feed_latency_ns: int = 0
    latency_model: int = lay.LAT_CONSTANT
    latency_jitter: float = 0.0
    queue_model: int = lay.Q_POWER
    queue_power: float = 2.0
    min_notional: float = 0.0
    lot: float = 0.0
    max_orders: int = 64
    max_pending: int = 4096
    max_records: int = 65536
    seed: int = 0
    first_oid: int = 1


def grid_around(price: float, tick: float, price_range: float) -> tuple[int, int]:
    """(base tick, number of ticks) of a grid covering ``price * (1 +- price_range)``."""
    if not (math.isfinite(price) and price > 0):
        raise ConfigError([f"sim venue: cannot centre the price grid on price {price!r}"])
    lo = math.floor(price * (1.0 - price_range) / tick)
    hi = math.ceil(price * (1.0 + price_range) / tick)
    lo = max(lo, 1)
    n = hi - lo + 1
    if n > MAX_TICKS:
        raise ConfigError(
            [
                f"sim venue: a grid of +-{price_range:.0%} around {price} at tick {tick} needs {n} "
                f"columns (max {MAX_TICKS}); raise venues.sim.tick or lower venues.sim.price_range"
            ]
        )
    return lo, n


def roi_grid(
    prices: npt.NDArray[np.float64], tick: float, price_range: float, pad_ticks: int = 16
) -> tuple[int, int]:
    """(base tick, n ticks) of a grid over the prices within ``median * (1 +- price_range)``.

    Levels outside that region of interest (stale orders far from the market, fat-finger
    quotes) are ignored by the kernels; orders outside it are rejected as too far.
    """
    from mmkit.venues.sim._kernels_book import range_within

    step = max(1, prices.shape[0] // 10_001)
    sample = prices[::step]
    sample = sample[np.isfinite(sample) & (sample > 0)]
    if not sample.size:
        raise ConfigError(["sim venue: no valid price to centre the book grid on"])
    centre = float(np.median(sample))
    mn, mx = range_within(
        np.ascontiguousarray(prices, dtype=np.float64),
        centre * (1.0 - price_range),
        centre * (1.0 + price_range),
    )
    if mn > mx:  # no price near the median (a book of two far apart clusters): all of them
        mn, mx = float(sample.min()), float(sample.max())
    lo = max(1, math.floor(mn / tick) - pad_ticks)
    hi = math.ceil(mx / tick) + pad_ticks
    n = hi - lo + 1
    if n > MAX_TICKS:
        raise ConfigError(
            [
                f"sim venue: prices {mn}..{mx} span {n} ticks of {tick} "
                f"(max {MAX_TICKS}); use a coarser tick or a smaller price_range"
            ]
        )
    return lo, n


def new_state(cfg: MatchConfig, base: int, n_ticks: int) -> SimState:
    """A fresh exchange with an empty book covering ticks ``base .. base + n_ticks - 1``."""
    if not (math.isfinite(cfg.tick) and cfg.tick > 0):
        raise ConfigError([f"sim venue: tick {cfg.tick!r} must be finite and > 0"])
    if n_ticks <= 0 or n_ticks > MAX_TICKS:
        raise ConfigError([f"sim venue: grid of {n_ticks} ticks is outside 1..{MAX_TICKS}"])
    if cfg.max_records < 4 * cfg.max_orders + 64:
        raise ConfigError(["sim venue: max_records must be >= 4 * max_orders + 64"])
    si = np.zeros(lay.SI_SIZE, dtype=np.int64)
    si[lay.SI_BASE] = base
    si[lay.SI_NT] = n_ticks
    si[lay.SI_BB] = -1
    si[lay.SI_BA] = n_ticks
    si[lay.SI_NEXT_OID] = cfg.first_oid
    si[lay.SI_LAT_MODEL] = cfg.latency_model
    si[lay.SI_QMODEL] = cfg.queue_model
    si[lay.SI_ENTRY_LAT] = cfg.entry_latency_ns
    si[lay.SI_RESP_LAT] = cfg.response_latency_ns
    si[lay.SI_FEED_LAT] = cfg.feed_latency_ns
    for k in (lay.SI_LAST_ARR, lay.SI_LAST_RESP, lay.SI_LAST_FEED, lay.SI_NOW):
        si[k] = np.iinfo(np.int64).min
    sf = np.zeros(lay.SF_SIZE, dtype=np.float64)
    sf[lay.SF_TICK] = cfg.tick
    sf[lay.SF_INV_TICK] = 1.0 / cfg.tick
    sf[lay.SF_MAKER_FEE] = cfg.maker_fee
    sf[lay.SF_TAKER_FEE] = cfg.taker_fee
    sf[lay.SF_QPOWER] = cfg.queue_power
    sf[lay.SF_JITTER] = cfg.latency_jitter
    sf[lay.SF_MIN_NOTIONAL] = cfg.min_notional
    sf[lay.SF_LOT] = cfg.lot
    sf[lay.SF_EPS] = 1e-12
    rng = np.array([np.uint64(cfg.seed & 0xFFFFFFFFFFFFFFFF)], dtype=np.uint64)
    return SimState(
        grid=np.zeros((2, n_ticks), dtype=np.float64),
        si=si,
        sf=sf,
        oi=np.zeros((cfg.max_orders, lay.OI_SIZE), dtype=np.int64),
        of=np.zeros((cfg.max_orders, lay.OF_SIZE), dtype=np.float64),
        ai=np.zeros((cfg.max_pending, lay.AI_SIZE), dtype=np.int64),
        af=np.zeros((cfg.max_pending, lay.AF_SIZE), dtype=np.float64),
        ri=np.zeros((cfg.max_records, lay.RI_SIZE), dtype=np.int64),
        rf=np.zeros((cfg.max_records, lay.RF_SIZE), dtype=np.float64),
        rng=rng,
    )
