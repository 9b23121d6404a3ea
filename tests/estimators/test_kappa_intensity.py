"""The kappa orchestrator's ``A`` (market trades per second per side) against known rates.

Trade streams are homogeneous Poisson processes generated with numpy (exponential gaps);
the true A is half the total rate (the model's A is per side). The tolerance is statistical:
the held count is Poisson with mean ``m`` (the trades the window or the buffer can hold), so
the relative error of the rate is about ``1 / sqrt(m)``; six of those standard errors make a
false failure practically impossible (about 2e-9 per example).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.calibrate.run import calibrate
from mmkit.components import Estimates
from mmkit.core.events import TradeBatch
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.params import KappaParams

from .helpers import NS, T0, book, trade

_MID = 100.0


def _orchestrator(window_s: float, max_trades: int) -> KappaOrchestrator:
    """An orchestrator that refits at every retrieval (the A under test is then current)."""
    return KappaOrchestrator(
        KappaParams(
            window_s=window_s,
            robust_max_trades=max_trades,
            robust_min_trades=10,
            robust_fit_interval_s=0.0,
        )
    )


def _poisson_times(rng: np.random.Generator, rate: float, duration_s: float) -> np.ndarray:
    """Receive times (ns after T0) of a Poisson stream of ``rate`` trades/s over
    ``duration_s`` seconds (cumulated exponential gaps, not numpy's own Poisson counts)."""
    n_draw = int(rate * duration_s + 10.0 * math.sqrt(rate * duration_s) + 20)
    t = np.cumsum(rng.exponential(1.0 / rate, n_draw))
    while t[-1] < duration_s:  # practically never: extend the stream
        t = np.concatenate([t, t[-1] + np.cumsum(rng.exponential(1.0 / rate, n_draw))])
    t = t[t < duration_s]
    return T0 + np.maximum(1, np.round(t * NS)).astype(np.int64)


def _feed_one_by_one(k: KappaOrchestrator, times: np.ndarray, rng: np.random.Generator) -> None:
    k.on_event(book(T0, _MID), T0)
    depths = rng.exponential(1.0 / 3000.0, times.size)
    for i, (t, d) in enumerate(zip(times.tolist(), depths.tolist(), strict=True)):
        px = _MID * (1.0 + d if i % 2 else 1.0 - d)
        k.on_event(trade(t, px), t)


def _a_at(k: KappaOrchestrator, end_ns: int) -> float:
    out = Estimates()
    k.estimate(out, end_ns)
    return out.A


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.1, 200.0),
    coverage=st.sampled_from([0.3, 5.0]),  # duration / (time the buffer holds)
    window_mult=st.sampled_from([0.5, 20.0]),  # window / duration
    seed=st.integers(0, 2**32 - 1),
)
def test_a_recovers_the_poisson_rate(
    rate: float, coverage: float, window_mult: float, seed: int
) -> None:
    """Within six standard errors of the true per-side rate, whether the window or the
    trade buffer limits what is held, and for streams shorter or far longer than the
    buffer covers."""
    cap = 256
    duration = coverage * cap / rate
    window = window_mult * duration
    rng = np.random.default_rng(seed)
    times = _poisson_times(rng, rate, duration)
    k = _orchestrator(window, cap)
    _feed_one_by_one(k, times, rng)
    end = T0 + int(duration * NS)
    # expected number of trades held: what the window spans, at most what the buffer holds
    m = min(rate * min(window, duration), float(cap))
    if m < 40:  # too few for a normal tolerance (rate 0.1 over a short window)
        return
    a = _a_at(k, end)
    truth = rate / 2.0
    assert math.isfinite(a)
    assert abs(a - truth) <= 6.0 * truth / math.sqrt(m), (a, truth, m)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(0.5, 50.0),
    fill=st.floats(0.1, 0.95),  # expected held trades / buffer size
    window_mult=st.sampled_from([0.3, 1.0, 3.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_unchanged_while_the_buffer_holds_the_whole_window(
    rate: float, fill: float, window_mult: float, seed: int
) -> None:
    """Without capacity drops A is exactly the trades of the window over
    ``2 × min(window, elapsed)``: the count recomputed here from the generated times."""
    cap = 512
    duration = fill * cap / rate
    window = window_mult * duration
    rng = np.random.default_rng(seed)
    times = _poisson_times(rng, rate, duration)
    end = T0 + int(duration * NS)
    held = int(np.count_nonzero(times > end - int(window * NS)))
    if held > cap or held < 10:
        return
    k = _orchestrator(window, cap)
    _feed_one_by_one(k, times, rng)
    a = _a_at(k, end)
    span = min(window, (end - T0) / NS)
    assert a == pytest.approx(held / (2.0 * span), rel=1e-12)
    n, span_s, by_buffer = k.intensity_basis()
    assert (n, by_buffer) == (held, False)
    assert span_s == pytest.approx(span, rel=1e-12)


def test_full_buffer_regression_old_formula_understates() -> None:
    """60 trades/s for 300 s with a 4096-trade buffer and a 600 s window (the shape of the
    USD-M BTC capture): the buffer holds ~68 s. The former A, held trades over
    ``2 × min(window, elapsed)``, was 4096 / 600 = 6.8/s against a true 30/s."""
    rng = np.random.default_rng(19)
    rate, duration, cap = 60.0, 300.0, 4096
    times = _poisson_times(rng, rate, duration)
    k = _orchestrator(600.0, cap)
    _feed_one_by_one(k, times, rng)
    end = T0 + int(duration * NS)
    a = _a_at(k, end)
    old = k.robust.observation_count / (2.0 * min(600.0, (end - T0) / NS))
    assert old == pytest.approx(cap / 600.0)  # the buffer was full
    assert old < 0.25 * rate / 2.0  # the understatement the fix removes
    assert a == pytest.approx(rate / 2.0, rel=6.0 / math.sqrt(cap))
    n, span_s, by_buffer = k.intensity_basis()
    assert by_buffer
    # the span is the time since the newest trade the buffer dropped: the trade just
    # before the oldest one held
    oldest_held = times.size - cap
    assert span_s == pytest.approx((end - int(times[oldest_held - 1])) / NS, rel=1e-12)
    assert n == cap


def test_batches_sharing_a_receive_time_and_an_oversized_batch() -> None:
    """Batches (one receive time for many trades) and a batch larger than the buffer: A
    counts only the trades after the newest dropped one, so the trades of the cut's own
    batch that are still held do not inflate it."""
    cap = 64
    k = _orchestrator(1e6, cap)
    k.on_event(book(T0, _MID), T0)
    per_batch, gap_s = 10, 1.0  # 10 trades/s in batches of 10 each second: A = 5/s
    n_batches = 50
    for b in range(1, n_batches + 1):
        t = T0 + b * int(gap_s * NS)
        recv = np.full(per_batch, t, dtype=np.int64)
        px = np.full(per_batch, _MID * (1 + 1e-4))
        batch = TradeBatch(recv, px, np.ones(per_batch), np.ones(per_batch, np.int8), recv)
        k.on_trades(batch, t)
    end = T0 + n_batches * NS
    a = _a_at(k, end)
    n, span_s, by_buffer = k.intensity_basis()
    # 64 held = the last 6 batches whole (60) + 4 of the batch at the cut (not counted)
    assert by_buffer and n == 60 and span_s == pytest.approx(6.0)
    assert a == pytest.approx(5.0)
    # one batch larger than the buffer: the count restarts after its dropped trades
    t = end + NS
    big = 3 * cap
    recv = np.linspace(end + 1, t, big).astype(np.int64)
    px = np.full(big, _MID * (1 - 1e-4))
    k.on_trades(TradeBatch(recv, px, np.ones(big), -np.ones(big, np.int8), recv), t)
    _a_at(k, t)
    n, span_s, by_buffer = k.intensity_basis()
    assert by_buffer and n == cap
    assert span_s == pytest.approx((t - int(recv[big - cap - 1])) / NS, rel=1e-12)


@pytest.mark.slow
def test_real_usdm_capture_engine_a_agrees_with_the_offline_mle(shared_data: Path) -> None:
    """On the USD-M BTC capture (21,308 trades over 345 s, the 4096-trade buffer ~67 s) the
    engine's end-state A and calibrate's offline maximum-likelihood A over all the trades
    have overlapping 95% intervals; the former A (held trades over the whole 600 s window's
    elapsed part) was 5.97/s against 30.9/s."""
    capture = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    if not capture.exists():
        pytest.skip(f"{capture} not available")
    cal = calibrate([capture]).calibration
    engine_a = {e.name: e for e in cal.engine}["A"]
    mle_a = cal.intensity["mle"].A
    assert engine_a.lo <= mle_a.hi and mle_a.lo <= engine_a.hi, (engine_a, mle_a)
    # the buffer limited what was held: the span is well under the capture's 345 s
    assert engine_a.quality["window_s"] < 120.0
    assert engine_a.value > 3.0 * engine_a.n / (2.0 * 345.0)
