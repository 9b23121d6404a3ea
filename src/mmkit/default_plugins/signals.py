"""Built-in signals plugin: the adverse-selection classifier, the cross-venue lead-lag
estimator, the bounded RL skew agent, and the Binance leader feed (seed report sections 3, 6
and 7; recommendation 6). Imports stay light: implementations load when built."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_estimators(register: Any) -> None:
    from mmkit.signals.params import AdverseSelectionParams, LeadLagParams, RlSkewParams

    register(
        "adverse_selection",
        "mmkit.signals.adverse_selection:build",
        params=AdverseSelectionParams,
        description="pre-fill toxicity classifier (online logistic, 5 s markouts, Brier/IR, "
        "model gating); widens or skips when toxic; run after kappa and sigma",
    )
    register(
        "lead_lag",
        "mmkit.signals.lead_lag:build",
        params=LeadLagParams,
        description="cross-venue lead-lag (cross-correlation + MI permutation test) shifting "
        "fair value; gated off when the leader feed is absent or stale",
    )
    register(
        "rl_skew",
        "mmkit.signals.rl_skew:build",
        params=RlSkewParams,
        description="tabular Q-learning skew/size agent, |skew| <= action_bound_sigma * sigma, "
        "seeded bounded exploration, state saved between runs",
    )


@hookimpl
def register_feeds(register: Any) -> None:
    from mmkit.signals.params import BinanceFeedParams

    register(
        "binance_leader",
        "mmkit.signals.binance_feed:build",
        params=BinanceFeedParams,
        description="Binance combined-stream leader feed (websockets or capture replay) "
        "for the lead_lag estimator's side channel",
    )


@hookimpl
def register_commands(cli: Any) -> None:
    from mmkit.signals.cli import register

    register(cli)
