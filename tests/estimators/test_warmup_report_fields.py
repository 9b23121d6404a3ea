"""What a backtest report reads from the warmup estimator (issue 19): ``first_ns``,
``warmed_up``, ``timed_out``, ``ended_by``, ``ended_ns``, ``finished_after_s``, ``trades``
and ``buckets``, checked against a brute-force recount of the market data fed to it."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.components import Estimates
from mmkit.core.events import Timer, TradeBatch
from mmkit.estimators.params import WarmupParams
from mmkit.estimators.warmup import WarmupEstimator

from .helpers import NS, T0, book, trade

#: (seconds since the previous step, what): a timer, a book, one trade of ``quarters`` x
#: 0.25 units at 100 USD, or a batch of such trades; an estimate call follows every step
steps_st = st.lists(
    st.tuples(
        st.integers(0, 40),
        st.sampled_from(["timer", "book", "trade", "batch"]),
        st.lists(st.integers(1, 12), min_size=1, max_size=4),  # sizes in quarters
    ),
    max_size=60,
)


@settings(max_examples=120, deadline=None)
@given(
    steps=steps_st,
    min_trades=st.integers(0, 25),
    min_buckets=st.integers(0, 8),
    limit_s=st.integers(1, 400),
)
def test_report_fields_match_a_recount_of_the_market_data(
    steps: list[tuple[int, str, list[int]]], min_trades: int, min_buckets: int, limit_s: int
) -> None:
    """Readiness from market data only (trades and USD buckets; no kappa estimator, so its
    fit is waived), the timeout from the first market data; once ended, every field is
    frozen. The oracle recounts trades and notional itself (sizes are exact binary
    fractions, so the sums have no rounding)."""
    p = WarmupParams(
        min_trades=min_trades,
        min_buckets=min_buckets,
        bucket_notional=100.0,
        max_warmup_secs=float(limit_s),
    )
    warm = WarmupEstimator(p)
    out = Estimates()
    now = T0
    first = -1
    n_trades = 0
    notional = 0.0
    ended = -1
    ended_by = "never"
    for dt_s, what, quarters in steps:
        now += dt_s * NS
        if what == "timer":
            warm.on_event(Timer(now), now)
        elif what == "book":
            warm.on_event(book(now), now)
            first = now if first < 0 else first
        elif what == "trade":
            warm.on_event(trade(now, 100.0, quarters[0] * 0.25), now)
            first = now if first < 0 else first
            if ended < 0:
                n_trades += 1
                notional += 100.0 * quarters[0] * 0.25
        else:
            k = len(quarters)
            batch = TradeBatch(
                np.full(k, now, np.int64),
                np.full(k, 100.0),
                np.array([q * 0.25 for q in quarters]),
                np.ones(k, np.int8),
                np.full(k, now, np.int64),
            )
            warm.on_trades(batch, now)
            first = now if first < 0 else first
            if ended < 0:
                n_trades += k
                notional += 100.0 * 0.25 * sum(quarters)
        warm.estimate(out, now)
        if ended < 0 and first >= 0:
            if n_trades >= min_trades and int(notional // 100.0) >= min_buckets:
                ended, ended_by = now, "ready"
            elif now - first >= limit_s * NS:
                ended, ended_by = now, "timeout"
        assert warm.first_ns == first
        assert warm.ended_ns == ended
        assert warm.ended_by == ended_by
        assert warm.warmed_up == (ended >= 0) == out.warmed_up
        assert warm.timed_out == (ended_by == "timeout")
        if ended >= 0:
            assert warm.finished_after_s == (ended - first) / NS
            assert out.extras["warmup.after_s"] == warm.finished_after_s
        else:
            assert math.isnan(warm.finished_after_s)
            assert warm.trades == n_trades
            assert warm.buckets == int(notional // 100.0)


def test_a_run_that_never_warms_up_says_never() -> None:
    warm = WarmupEstimator(WarmupParams(min_trades=10**6, max_warmup_secs=1_000.0))
    out = Estimates()
    for i in range(10):
        t = T0 + i * NS
        warm.on_event(trade(t, 100.0), t)
        warm.estimate(out, t)
    assert (warm.ended_by, warm.ended_ns, warm.trades) == ("never", -1, 10)
    assert warm.first_ns == T0 and math.isnan(warm.finished_after_s)
