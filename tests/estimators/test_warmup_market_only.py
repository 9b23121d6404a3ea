"""Warmup that can finish (issue 16): readiness on market data alone, own-fill graduation as
an opt-in, and a timeout that counts from the first market data, not from process start."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.components import Estimates
from mmkit.core.events import Timer
from mmkit.core.types import Side
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.params import KappaParams, WarmupParams
from mmkit.estimators.warmup import WarmupEstimator

from .helpers import NS, T0, book, trade


def _market_second(ests: list[Any], out: Estimates, t: int, trades: int = 2) -> None:
    """One second of a BTC-like market: a book and ``trades`` trades of 0.01 (about $1,000
    each, the synthetic market's rate), no own fill ever."""
    evs: list[Any] = [book(t, mid=100_000.0, spread=2e-5)]
    for k in range(trades):
        side = Side.BUY if k % 2 else Side.SELL
        px = 100_000.0 * (1 + 3e-4) if side is Side.BUY else 100_000.0 * (1 - 3e-4)
        evs.append(trade(t + k + 1, px, 0.01, side))
    for ev in evs:
        for e in ests:
            e.on_event(ev, ev.ts)
    for e in ests:
        e.estimate(out, t + trades)


def _run_market(seconds: int, warm: WarmupEstimator, start: int = T0) -> tuple[Estimates, int]:
    """Feed ``seconds`` of market; returns the estimates and the second warmup ended (-1)."""
    kappa = KappaOrchestrator(KappaParams())
    out = Estimates()
    ended = -1
    for i in range(seconds):
        _market_second([kappa, warm], out, start + i * NS)
        if out.warmed_up and ended < 0:
            ended = i
    return out, ended


def test_the_defaults_leave_warmup_on_market_data_alone() -> None:
    warm = WarmupEstimator(WarmupParams())
    out, ended = _run_market(200, warm)
    assert out.warmed_up
    assert out.extras["warmup.timed_out"] == 0.0
    assert 0 <= ended < 100  # 2 trades a second: 50 trades at 25 s, 60k USD at 30 s
    assert math.isclose(out.extras["warmup.after_s"], warm.finished_after_s)
    assert warm.finished_after_s < 100


def test_graduation_is_an_opt_in_that_cannot_finish_without_fills() -> None:
    """Opting in waits for own fills that warmup itself prevents: only the timeout ends it."""
    warm = WarmupEstimator(WarmupParams(require_kappa_graduation=True, max_warmup_secs=120.0))
    out, ended = _run_market(200, warm)
    assert out.warmed_up and out.extras["warmup.timed_out"] == 1.0
    assert ended == 120


def test_timeout_counts_from_the_first_market_data() -> None:
    """Ten minutes of timers and estimate calls before any market data do not use up the
    timeout; then it runs from the first book."""
    warm = WarmupEstimator(WarmupParams(min_trades=10**9, max_warmup_secs=300.0))
    out = Estimates()
    for i in range(600):
        t = T0 + i * NS
        warm.on_event(Timer(t), t)
        warm.estimate(out, t)
        assert not out.warmed_up
        assert out.warmup_waiting.startswith("first market data")
    first = T0 + 600 * NS
    warm.on_event(book(first), first)
    warm.estimate(out, first)
    assert not out.warmed_up and "timeout in 300 s" in out.warmup_waiting
    warm.estimate(out, first + 299 * NS)
    assert not out.warmed_up
    warm.estimate(out, first + 300 * NS)
    assert out.warmed_up and out.extras["warmup.timed_out"] == 1.0
    assert warm.first_ns == first


def test_a_kappa_without_a_market_fit_keeps_warmup_waiting() -> None:
    """With the kappa estimator present but no usable book or trade fit, the kappa-fit
    requirement is what warmup says it waits for."""
    warm = WarmupEstimator(WarmupParams(min_buckets=0, min_trades=0))
    out = Estimates()
    out.extras["kappa.book_confidence"] = 0.0
    out.extras["kappa.robust_confidence"] = 0.0
    warm.on_event(book(T0), T0)
    warm.estimate(out, T0)
    assert not out.warmed_up and "kappa fit from market data" in out.warmup_waiting
    out.extras["kappa.robust_confidence"] = 0.3
    warm.estimate(out, T0 + NS)
    assert out.warmed_up and out.extras["warmup.timed_out"] == 0.0


Step = tuple[int, str]


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 90 * NS),
            st.sampled_from(["timer", "timer", "book", "trade", "estimate"]),
        ),
        max_size=40,
    ),
    st.floats(1.0, 200.0),
)
def test_timing_out_means_the_limit_passed_since_the_first_market_data(
    steps: list[Step], limit: float
) -> None:
    """Whatever the order of timers, books and trades: warmup never times out before
    ``max_warmup_secs`` after the first market-data event, and always has by then."""
    warm = WarmupEstimator(WarmupParams(min_trades=10**9, max_warmup_secs=limit))
    out = Estimates()
    now = T0
    first = -1
    for dt, what in steps:
        now += dt
        if what == "timer":
            warm.on_event(Timer(now), now)
        elif what == "book":
            warm.on_event(book(now), now)
            first = now if first < 0 else first
        elif what == "trade":
            warm.on_event(trade(now, 100.0), now)
            first = now if first < 0 else first
        warm.estimate(out, now)
        if first < 0:
            assert not out.warmed_up
        else:
            assert out.warmed_up == (now - first >= limit * NS)
            assert out.warmed_up == (out.extras["warmup.timed_out"] == 1.0)
