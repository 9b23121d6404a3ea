"""The core sections of ``mmkit.toml`` (component parameter tables come from the registry)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkit.params import param

Network = Literal["testnet", "mainnet"]


@dataclass(frozen=True)
class ComponentsSection:
    """Which registered component of each kind the engine runs."""

    estimators: list[str] = param(
        ["kappa", "sigma", "warmup"], help="estimators, run in this order every cycle"
    )
    gates: list[str] = param(
        ["data_quality", "warmup", "kill_switch"], help="gates; any closed gate stops quoting"
    )
    quoter: str = param("glft", help="the quoter")
    executor: str = param("smart", help="the executor")
    venue: str = param("sim", help="venue for paper/backtest (sim) or live (hyperliquid)")
    feed: str = param("synthetic", help="market-data feed for paper trading and backtests")
    signal_feeds: list[str] = param(
        [], help="extra feeds run beside the venue for signals (e.g. binance_leader for lead-lag)"
    )


@dataclass(frozen=True)
class InstrumentSection:
    coin: str = param("BTC", help="coin name as the venue spells it")
    asset: int = param(0, ge=0, help="venue asset id (index in meta.universe)")
    sz_decimals: int = param(5, ge=0, le=8, help="size decimals (venue szDecimals)")
    max_decimals: int = param(6, ge=0, le=8, help="6 for perps, 8 for spot")
    tick: float = param(1.0, gt=0, help="price tick of the simulated market / ladder spacing")
    min_notional: float = param(10.0, ge=0, help="minimum order value in USD")
    max_leverage: int = param(50, ge=1, help="venue max leverage")


@dataclass(frozen=True)
class RiskSection:
    max_position: float = param(0.05, gt=0, help="absolute position limit in coin units")
    order_size: float = param(0.002, gt=0, help="base size of one quote level in coin units")
    max_order_notional: float = param(10_000.0, gt=0, help="refuse any order above this USD value")


@dataclass(frozen=True)
class EngineSection:
    seed: int = param(0, ge=0, help="seed of every random choice (deterministic runs)")
    requote: Literal["event", "timer"] = param(
        "event", help="requote on every market event or on timers only"
    )
    timer_ms: int = param(100, gt=0, help="timer event period of runners")
    twins: Literal["auto", "off", "require"] = param(
        "auto",
        help="compiled twins (mmkit.twins): auto runs each component's twin when it has one "
        "and its Python code otherwise; off runs every component's Python reference; require "
        "refuses a component without a twin",
    )
    divergence_min_age_s: float = param(
        5.0,
        ge=0,
        le=300,
        help="a venue position differing from our fills is adopted only once it persisted "
        "this long (venue time, across snapshots): longer than any plausible fill-event delay",
    )


@dataclass(frozen=True)
class VenueSection:
    network: Network = param("testnet", help="testnet is the default; mainnet also needs --mainnet")
    url: str = param("", help="override the REST base URL (e.g. the loopback emulator)")
    account: str = param("", help="master (or sub-account) address every query is made for")
    vault: str = param("", help="vault / sub-account address to trade for, if any")
    key_env: str = param("MMKIT_PRIVATE_KEY", help="environment variable holding the signing key")
    key_file: str = param("", help="file holding the signing key (must be mode 0600)")


@dataclass(frozen=True)
class TradeSection:
    speed: float = param(100.0, gt=0, help="paper clock speed-up over real time")
    duration_s: float = param(
        600.0,
        gt=0,
        le=1e9,  # ~32 years: the engine's clock is int64 nanoseconds (1e300 overflowed it)
        help="simulated seconds to run in paper mode",
    )
    journal_dir: str = param("runs", help="directory of the run journals")
    metrics_port: int = param(0, ge=0, le=65535, help="Prometheus port (0 = off)")
    log_json: bool = param(False, help="structured JSON logs")


CORE_SECTIONS: dict[str, type] = {
    "components": ComponentsSection,
    "instrument": InstrumentSection,
    "risk": RiskSection,
    "engine": EngineSection,
    "venue": VenueSection,
    "trade": TradeSection,
}
