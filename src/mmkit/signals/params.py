"""Parameters of the signal estimators and the Binance leader feed (standard library only:
imported at CLI start).

Units follow :mod:`mmkit.components`: shifts relative to mid, sigma per square-root second,
durations in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mmkit.params import param


@dataclass(frozen=True)
class AdverseSelectionParams:
    markout_s: float = param(5.0, gt=0, help="horizon of the markout that defines toxicity")
    toxic_markout: float = param(
        0.0, ge=0, help="a fill is toxic when the mid moves against it by more than this (rel.)"
    )
    learning_rate: float = param(0.05, gt=0, le=10, help="SGD step of the online logistic fit")
    l2: float = param(1e-3, ge=0, help="L2 penalty of the logistic fit")
    flow_half_life_s: float = param(5.0, gt=0, help="half-life of the trade-flow imbalance")
    vol_half_life_s: float = param(30.0, gt=0, help="half-life of the short-horizon volatility")
    markout_half_life: float = param(
        20.0, gt=0, help="half-life (in fills) of the recent-markout feature"
    )
    threshold: float = param(
        0.6, gt=0, lt=1, help="predicted toxicity above which the spread widens (or skips)"
    )
    mode: Literal["widen", "skip"] = param(
        "widen", help="widen: spread_scale grows with toxicity; skip: size_scale 0 (no quotes)"
    )
    max_widen: float = param(3.0, ge=1, help="spread_scale at predicted toxicity 1 (widen mode)")
    window: int = param(2000, ge=10, help="resolved predictions kept for Brier score and IR")
    gating_threshold: float = param(0.0, help="model gating: IR below which the weight falls")
    gating_span: float = param(0.1, gt=0, help="model gating: IR shortfall that reaches min weight")
    gating_min_samples: int = param(100, ge=2, help="model gating: outcomes before IR counts")
    min_active_weight: float = param(
        0.5, ge=0, le=1, help="gating weight below which the model is off (no widening)"
    )
    model: str = param("adverse", help="model name in the prediction log")


@dataclass(frozen=True)
class LeadLagParams:
    leader_prefix: str = param(
        "leader:", help="stream-name prefix of in-band leader events (BBO / book / trades)"
    )
    channel: str = param(
        "binance", help="name of the leader side channel to read (empty: in-band events only)"
    )
    sample_interval_s: float = param(
        0.1,
        ge=1e-9,  # the grid's step is in whole nanoseconds: a smaller one rounds to 0
        help="grid on which both mids are sampled",
    )
    window: int = param(
        3000,
        ge=50,
        help="returns kept for the cross-correlation (at least max(min_samples, max_lag + 10))",
    )
    min_lag: int = param(1, ge=0, help="smallest lag tested (0 includes simultaneous moves)")
    max_lag: int = param(20, ge=1, help="largest lag tested, in samples")
    n_bins: int = param(8, ge=2, le=64, help="equal-frequency bins of the mutual information")
    n_permutations: int = param(200, ge=19, help="permutations of the significance test")
    alpha: float = param(
        0.01,
        ge=1e-6,  # as `mmkit signals lead-lag --alpha`: a million permutations already
        lt=1,
        help="significance level of the permutation test",
    )
    null: Literal["shuffle", "circular"] = param(
        "circular",
        help="null of the test: random circular shifts of the leader's moves along its own "
        "clock (valid for dependent series), or shuffled leader returns (valid only for i.i.d. "
        "returns: false positives far above alpha on real or synthetic markets)",
    )
    test_interval_s: float = param(5.0, gt=0, help="seconds between two significance tests")
    min_samples: int = param(300, ge=30, help="returns needed before the first test")
    stale_s: float = param(5.0, gt=0, help="leader silent this long: signal gated off")
    beta_z: float = param(3.0, ge=0, help="lags whose |corr| < beta_z/sqrt(n) get no weight")
    max_shift: float = param(1e-3, gt=0, help="cap on |fair_value_shift| (relative)")

    def __post_init__(self) -> None:
        if 1.0 / (1.0 + self.n_permutations) >= self.alpha:
            raise ValueError(
                f"n_permutations {self.n_permutations} can never reach alpha {self.alpha} "
                f"(smallest p-value is 1/(1+n)); use at least {min_permutations(self.alpha)}"
            )
        if self.min_lag > self.max_lag:
            raise ValueError(f"min_lag ({self.min_lag}) must not exceed max_lag ({self.max_lag})")
        need = max(self.min_samples, self.max_lag + 10)
        if self.window < need:
            raise ValueError(
                f"window ({self.window}) keeps fewer returns than a test needs, "
                f"max(min_samples, max_lag + 10) = {need}: the lead would never be tested"
            )


def min_permutations(alpha: float) -> int:
    """Fewest permutations whose smallest p-value, ``1/(1+n)``, is below ``alpha``
    (``alpha`` in (0, 1)). Starts just below ``1/alpha``: counting up from there one by one
    never ended once ``1/alpha`` was beyond a float's integers (alpha ~1e-16 and below),
    where ``n + 1`` rounds back to ``n``."""
    if not 0.0 < alpha < 1.0 or not math.isfinite(1.0 / alpha):
        raise ValueError(f"alpha {alpha!r} must be in (0, 1) with a finite 1/alpha")
    n = max(0, math.floor(1.0 / alpha) - 2)
    while 1.0 / (1.0 + n) >= alpha:
        # by one while a float tells n + 1 from n; beyond that, by a float's spacing at n
        n += 1 if float(n + 1) != float(n) else max(1, int(math.ulp(float(n))))
    return n


@dataclass(frozen=True)
class RlSkewParams:
    action_bound_sigma: float = param(
        1.0, gt=0, help="|skew_shift| <= action_bound_sigma * sigma (SimToRealConfig bound)"
    )
    skew_levels: int = param(5, ge=1, help="discrete skew actions spread over [-bound, +bound]")
    size_scales: list[float] = param([0.5, 1.0], help="discrete size_scale actions")
    decision_interval_s: float = param(5.0, gt=0, help="seconds between two decisions")
    learning_rate: float = param(0.1, gt=0, le=1, help="Q-learning step")
    discount: float = param(0.9, ge=0, lt=1, help="Q-learning discount")
    epsilon: float = param(0.1, ge=0, le=1, help="initial exploration probability")
    epsilon_min: float = param(0.01, ge=0, le=1, help="exploration floor")
    epsilon_decay: float = param(0.999, gt=0, le=1, help="exploration decay per decision")
    explore_radius: int = param(
        1, ge=1, help="an exploratory action is at most this many steps from the greedy one"
    )
    inventory_penalty: float = param(0.1, ge=0, help="reward penalty per (position/max)^2")
    max_position: float = param(
        0.0, ge=0, help="position normaliser (0: the run's risk.max_position)"
    )
    state_path: str = param("", help="JSON file the Q table is restored from and saved to")
    save_interval_s: float = param(60.0, gt=0, help="seconds between two saves of the state")


@dataclass(frozen=True)
class BinanceFeedParams:
    url: str = param(
        "wss://fstream.binance.com/stream", help="combined-stream endpoint (futures or spot)"
    )
    symbol: str = param("btcusdt", help="symbol, lower case as in the stream names")
    streams: list[str] = param(["bookTicker"], help="streams to subscribe (bookTicker, trade)")
    channel: str = param("binance", help="leader side channel the events are pushed to")
    prefix: str = param("leader:binance:", help="stream-name prefix of the events produced")
    backoff_s: float = param(0.5, gt=0, help="first reconnect delay")
    max_backoff_s: float = param(30.0, gt=0, help="longest reconnect delay")
    paths: list[str] = param([], help="capture files to replay instead of connecting")
