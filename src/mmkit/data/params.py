"""Parameters of the market-data feeds (standard library only: imported at CLI start)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from mmkit.errors import DataError
from mmkit.params import param

DataFormat = Literal["auto", "store", "binance", "hyperliquid", "hyperliquid_archive", "lobster"]

#: what ``--format`` takes where data is read (an event store, or a raw input converted on
#: the fly): ``mmkit backtest``, ``calibrate``, ``[feeds.replay] format``
READ_FORMATS: tuple[str, ...] = get_args(DataFormat)


def check_format(fmt: str, known: tuple[str, ...] = READ_FORMATS, *, option: str = "") -> None:
    """``fmt`` (given as ``option``, if any) is one of ``known``, or a :class:`DataError`
    that lists them."""
    if fmt not in known:
        where = f"{option}: " if option else ""
        raise DataError(f"{where}unknown data format {fmt!r}; known: {', '.join(known)}")


@dataclass(frozen=True)
class SyntheticParams:
    """The synthetic market: stochastic volatility with regimes and jump cascades, an L2
    book on a tick grid, and market orders whose depth reach decays as ``A*exp(-k*depth)``."""

    seed: int = param(-1, ge=-1, le=2**63 - 1, help="random seed; -1 uses the run's seed")
    duration_s: float = param(
        3600.0, gt=0, le=1e9, help="simulated seconds to generate (at most ~32 years)"
    )
    start_ns: int = param(1_700_000_000_000_000_000, ge=0, help="time of the first event, ns")
    mid0: float = param(100_000.0, gt=0, help="initial mid price")
    tick: float = param(0.0, ge=0, help="price tick; 0 uses the instrument's tick")
    lot: float = param(0.0, ge=0, help="size lot; 0 uses the instrument's lot")
    k: float = param(20000.0, gt=0, help="trade depth decay per unit relative depth (kappa)")
    A: float = param(0.35, gt=0, help="market orders per second per side (intensity at depth 0)")
    sigma_regimes: list[float] = param(
        [2e-5, 5e-5],
        help="relative vol per sqrt(s) of each regime, before the informed orders' moves "
        "(which dominate the default market's volatility)",
    )
    regime_mean_s: float = param(1800.0, gt=0, help="mean time spent in a regime, s")
    vol_of_vol: float = param(0.3, ge=0, help="stationary std of log-vol around its regime")
    vol_reversion_s: float = param(300.0, gt=0, help="mean-reversion time of log-vol, s")
    cascade_rate_per_h: float = param(0.5, ge=0, help="jump cascades per hour")
    cascade_jumps: float = param(4.0, ge=1, help="mean number of jumps in a cascade")
    jump_size: float = param(5e-4, ge=0, help="mean absolute relative size of one jump")
    cascade_gap_s: float = param(2.0, gt=0, help="mean time between jumps of a cascade, s")
    step_ms: float = param(100.0, gt=0, help="mid-price time step, ms")
    snapshot_interval_s: float = param(0.5, gt=0, help="book snapshot every this many s")
    levels: int = param(20, ge=1, le=200, help="book levels per side")
    spread_ticks: int = param(1, ge=1, help="best ask minus best bid, in ticks")
    depth_size: float = param(0.5, gt=0, help="mean size at the best level")
    depth_growth: float = param(0.2, ge=0, help="relative growth of level size per level")
    trade_size: float = param(0.01, gt=0, help="mean market order size")
    chunk_s: float = param(600.0, gt=0, help="seconds generated per kernel call")
    informed_frac: float = param(
        0.8,
        ge=0,
        le=1,
        help="fraction of market orders that are informed: the mid follows them afterwards "
        "(0: none, and the same market as before informed flow existed)",
    )
    informed_horizon_s: float = param(
        0.1,
        gt=0,
        help="time constant of an informed order's impact, s: after h s a fraction "
        "1 - exp(-h / informed_horizon_s) of the move has happened",
    )
    informed_impact_bp: float = param(
        0.0, ge=0, help="fixed part of an informed order's mid move, bp of the mid"
    )
    informed_depth_impact: float = param(
        2.6,
        ge=0,
        help="part of an informed order's mid move proportional to its depth reach "
        "(1: the mid moves to the price the order reached; above 1 it moves further)",
    )
    informed_persistence_s: float = param(
        0.0,
        ge=0,
        help="mean time, s, for which informed orders keep buying (or selling) before the "
        "hidden direction flips, so that trade-flow imbalance foretells the next informed "
        "order; 0: each informed order's side is a coin flip",
    )


#: the synthetic market as it was before informed flow (no adverse selection, more and
#: deeper market orders): the loopback emulator's protocol-fake market and the fixtures
#: whose figures were sized on it use these values
CALM_MARKET: dict[str, Any] = {
    "k": 3000.0,
    "A": 1.0,
    "sigma_regimes": [5e-5, 1.5e-4],
    "informed_frac": 0.0,
}


def calm_market(**overrides: Any) -> SyntheticParams:
    """:class:`SyntheticParams` with :data:`CALM_MARKET` (then ``overrides``) applied."""
    return SyntheticParams(**{**CALM_MARKET, **overrides})


@dataclass(frozen=True)
class ReplayParams:
    """Replay of an event store or of a raw capture (converted on the fly)."""

    path: list[str] = param([], help="input file(s): a store (.parquet) or raw captures")
    format: DataFormat = param("auto", help="input format; auto detects it")
    speed: float = param(0.0, ge=0, help="informational replay speed (0: as fast as possible)")


@dataclass(frozen=True)
class CaptureParams:
    """Replay of raw capture files of one format (converted on the fly, never written)."""

    path: list[str] = param([], help="input file(s), read in order as one stream")
