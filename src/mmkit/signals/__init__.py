"""Signals feeding the quoter (seed report sections 3, 6 and 7; recommendation 6).

* :mod:`.adverse_selection` - pre-fill toxicity classifier (online logistic regression on
  microstructure features, 5 s markout outcomes, prediction log, Brier/IR, model gating);
* :mod:`.lead_lag` - cross-venue lead-lag (cross-correlation + MI permutation test), fair
  value shift, gated off when the leader feed is absent or stale;
* :mod:`.rl_skew` - bounded tabular Q-learning skew/size agent with saved state;
* :mod:`.leader` / :mod:`.binance_feed` - how the leader venue's data reaches the estimator;
* :mod:`.synthetic` - two-venue and toxic-flow synthetic markets for tests and benchmarks.
"""
