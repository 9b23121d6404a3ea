"""Parameters of the built-in estimators (standard library only: imported at CLI start).

Every default is the seed report's (sections 1, 2 and recommendations 1, 3, 5); units follow
:mod:`mmkit.components`: depths relative to mid, kappa per unit of relative depth, sigma
per square-root second, durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmkit.params import param


@dataclass(frozen=True)
class KappaParams:
    prior_kappa: float = param(2000.0, gt=0, help="prior kappa (per unit of relative depth)")
    prior_strength: float = param(
        10.0, gt=0, help="pseudo-observations of the own-fill prior (confidence n/(n+this))"
    )
    window_s: float = param(600.0, gt=0, help="rolling window of fills and trades, seconds")
    warmup_fills: int = param(5, ge=1, help="own fills that end the own-fill warmup (permanent)")
    ewma_alpha: float = param(
        0.9, ge=0, lt=1, help="weight of the previous smoothed kappa in the EWMA of the blend"
    )
    kappa_floor: float = param(
        100.0,
        gt=0,
        help="lower end of the kappa clamp, applied to every blend and at retrieval "
        "(100: fill intensity e-folds over 1/100 = 1% of mid, wider than any quote that "
        "still fills on a liquid perp)",
    )
    kappa_cap: float = param(
        10_000.0,
        gt=0,
        help="upper end of the kappa clamp, applied to every blend and at retrieval "
        "(10000: fill intensity e-folds over 1 bp, so the tightest kappa-driven half-spread "
        "is about 1 bp: the order of Hyperliquid's 1.5 bp base maker fee and 20x the half-"
        "spread of a BTC book at a 1-dollar tick, never the touch)",
    )
    warmup_robust_cap_mult: float = param(
        2.0,
        ge=1,
        help="before own-fill graduation the robust (market-trade) kappa is capped at this "
        "x prior_kappa: trades print at the touch, which says where the market trades, not "
        "how our fills decay with depth",
    )
    prior_weight: float = param(
        0.01, ge=0, help="confidence given to the prior as a blend source (0: only as fallback)"
    )
    book_max_depth: float = param(
        0.01, gt=0, help="book levels farther than this relative depth are ignored"
    )
    book_min_levels: int = param(4, ge=3, help="levels needed for a book regression")
    book_fit_interval_s: float = param(
        0.0, ge=0, help="minimum seconds between two book regressions (0: every snapshot)"
    )
    robust_nu: float = param(4.0, gt=0, help="Student-t degrees of freedom of the robust fit")
    robust_min_trades: int = param(10, ge=2, help="trades needed for a robust fit")
    robust_max_trades: int = param(4096, ge=16, help="most recent trades kept in the window")
    robust_fit_interval_s: float = param(1.0, ge=0, help="minimum seconds between robust fits")
    robust_prior_strength: float = param(
        50.0, gt=0, help="effective samples at which the robust confidence is 50%"
    )
    max_trade_depth: float = param(
        0.05, gt=0, help="trade or fill depths beyond this are treated as bad data"
    )
    stagnation_confidence: float = param(
        0.5, ge=0, le=1, help="own-fill confidence below which stagnation is timed"
    )
    stagnation_s: float = param(3600.0, gt=0, help="seconds below that confidence to alert")

    def __post_init__(self) -> None:
        if self.kappa_floor > self.kappa_cap:
            raise ValueError(
                f"kappa_floor ({self.kappa_floor}) must not exceed kappa_cap ({self.kappa_cap})"
            )


@dataclass(frozen=True)
class SigmaParams:
    default_sigma: float = param(
        1e-4, gt=0, help="prior / warmup sigma (relative vol per sqrt second)"
    )
    max_sigma_mult: float = param(
        10.0, ge=1, help="cap: sigma <= max_sigma_mult * default_sigma on every path"
    )
    min_sigma_mult: float = param(0.01, gt=0, le=1, help="floor: sigma >= this * default_sigma")
    sample_interval_s: float = param(1.0, gt=0, help="seconds between two sampled mid returns")
    max_gap_intervals: int = param(
        300, ge=1, help="a gap longer than this many intervals restarts the return sampling"
    )
    n_particles: int = param(100, ge=8, help="particles of the volatility filter")
    resample_ess: float = param(
        0.5, gt=0, le=1, help="resample when effective sample size < this * particles"
    )
    half_life_s: float = param(
        300.0, gt=0, help="mean-reversion half-life of the log variance, seconds"
    )
    vol_of_vol: float = param(
        0.05, gt=0, help="std of the log-variance innovation per sample interval"
    )
    turbulent_mult: float = param(
        3.0, ge=1, help="sigma multiple of the turbulent regime's mean level"
    )
    p_enter_turbulent: float = param(
        0.002, ge=0, le=1, help="per-interval probability calm -> turbulent"
    )
    p_exit_turbulent: float = param(
        0.02, ge=0, le=1, help="per-interval probability turbulent -> calm"
    )
    warmup_returns: int = param(30, ge=1, help="returns before the filter replaces default_sigma")
    bipower_half_lives: list[float] = param(
        [30.0, 300.0, 1800.0], help="half-lives (seconds) of the multi-scale bipower EWMAs"
    )
    pf_weight: float = param(
        0.7, ge=0, le=1, help="weight of the particle filter's variance vs bipower variance"
    )
    cascade_jump_k: float = param(
        8.0, gt=0, help="a sampled return beyond k sigma triggers cascade mode"
    )
    cascade_burst_window_s: float = param(2.0, gt=0, help="window of the trade-burst detector")
    cascade_burst_factor: float = param(
        20.0, gt=1, help="trades in the window vs the baseline rate that trigger cascade mode"
    )
    cascade_burst_min_trades: int = param(
        100, ge=1, help="minimum trades in the window for a burst"
    )
    cascade_oi_drop: float = param(
        0.02, gt=0, lt=1, help="relative open-interest drop that triggers cascade mode"
    )
    cascade_oi_window_s: float = param(60.0, gt=0, help="window of the open-interest detector")
    cascade_sigma_mult: float = param(
        10.0, ge=1, help="sigma floor while in cascade mode, as a multiple of default_sigma"
    )
    cascade_hold_s: float = param(60.0, ge=0, help="seconds the cascade floor is held")
    cascade_decay_half_life_s: float = param(
        60.0, gt=0, help="half-life of the cascade floor's decay after the hold"
    )
    seed: int = param(-1, help="random seed of the filter (-1: the run's seed)")

    def __post_init__(self) -> None:
        hls = self.bipower_half_lives
        if not hls or not all(isinstance(h, int | float) and 0 < h < float("inf") for h in hls):
            raise ValueError(f"bipower_half_lives must be positive numbers, got {hls!r}")


@dataclass(frozen=True)
class WarmupParams:
    bucket_size: float = param(
        0.0,
        ge=0,
        help="market volume (base units) of one volume bucket; 0 (default): use bucket_notional, "
        "since a base-unit bucket means a different amount of money on every coin",
    )
    bucket_notional: float = param(
        2000.0,
        gt=0,
        help="market volume (quote currency, USD) of one volume bucket when bucket_size is 0 "
        "(30 x 2000 = 60k USD: ~90 s of the default synthetic market, about a second of "
        "Binance USD-M BTC)",
    )
    min_buckets: int = param(30, ge=0, help="completed volume buckets required")
    min_trades: int = param(50, ge=0, help="market trades required")
    require_kappa_graduation: bool = param(
        False,
        help="also wait for the kappa orchestrator's own-fill graduation (opt-in: own fills "
        "only come from quoting, which warmup holds back, so this ends in the timeout unless "
        "fills arrive some other way)",
    )
    require_kappa_market_fit: bool = param(
        True,
        help="wait until kappa has a fit from market data (the book regression or the robust "
        "trade fit has confidence > 0)",
    )
    max_warmup_secs: float = param(
        300.0,
        gt=0,
        help="seconds after the first market data event after which quoting starts from the "
        "priors anyway",
    )
    log_interval_s: float = param(
        30.0, gt=0, help="seconds between two 'still warming up' log lines"
    )
