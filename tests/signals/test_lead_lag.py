"""Lead-lag estimator: finds an injected lead, stays quiet on independent venues, gates off
(and says so) when the leader is absent, stale or disconnected."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.components import Estimates
from mmkit.core.events import BBO, Event, FeedStatus
from mmkit.signals import _kernels_leadlag as kern
from mmkit.signals.lead_lag import STATES, LeadLagEstimator, analyse, grid_returns
from mmkit.signals.leader import LeaderChannel, LeaderQuote
from mmkit.signals.params import LeadLagParams
from mmkit.signals.synthetic import T0, lead_lag_events, lead_lag_mids

NS = 1_000_000_000


def _run(est: LeadLagEstimator, events: Sequence[Event], out: Estimates | None = None) -> Estimates:
    out = out or Estimates()
    for ev in events:
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
    return out


def _returns(seed: int, n: int, lag: int, independent: bool) -> tuple[np.ndarray, np.ndarray]:
    lead, fol = lead_lag_mids(seed, n + 1, lag, independent=independent)
    return np.diff(np.log(lead)), np.diff(np.log(fol))


@pytest.mark.parametrize("lag", [1, 3, 5, 12])
def test_estimator_finds_injected_lag(lag: int) -> None:
    est = LeadLagEstimator(LeadLagParams(channel=""), seed=7)
    out = _run(est, list(lead_lag_events(lag, 3200, lag)))
    assert est.result is not None
    assert est.result.lag == lag
    assert est.result.significant and est.result.p_value <= 0.01
    assert est.status == "active"
    assert out.extras["lead_lag.lag_s"] == pytest.approx(lag * 0.1)
    assert out.extras["lead_lag.active"] == 1.0 and out.extras["lead_lag.gated"] == 0.0


def test_shift_predicts_the_followers_next_moves() -> None:
    est = LeadLagEstimator(LeadLagParams(channel=""), seed=1)
    out = Estimates()
    shifts, mids = [], []
    for ev in lead_lag_events(11, 4000, 4):
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
        if ev.stream == "bbo":
            shifts.append(out.fair_value_shift)
            mids.append(0.5 * (ev.bid_px + ev.ask_px))
    s = np.asarray(shifts[:-4])
    future = np.log(np.asarray(mids[4:]) / np.asarray(mids[:-4]))
    live = s != 0.0
    assert live.sum() > 500
    assert np.corrcoef(s[live], future[live])[0, 1] > 0.3
    assert np.all(np.abs(s) <= LeadLagParams().max_shift)


def test_independent_venues_not_significant_in_95_percent_of_seeds() -> None:
    significant = 0
    for seed in range(40):
        x, y = _returns(1000 + seed, 3000, 0, independent=True)
        res = analyse(x, y, min_lag=1, max_lag=20, n_permutations=199, alpha=0.01, seed=seed)
        significant += res.significant
    assert significant <= 2  # >= 95% not significant


def test_injected_lead_significant_in_every_seed() -> None:
    for seed in range(10):
        x, y = _returns(seed, 3000, 3, independent=False)
        res = analyse(x, y, min_lag=1, max_lag=20, n_permutations=199, seed=seed)
        assert res.significant and res.lag == 3


def test_test_is_seeded() -> None:
    x, y = _returns(5, 800, 0, independent=True)
    a = analyse(x, y, seed=3, n_permutations=99, alpha=0.05)
    b = analyse(x, y, seed=3, n_permutations=99, alpha=0.05)
    assert a.p_value == b.p_value and a.mi == b.mi


def test_circular_null_also_finds_the_lead() -> None:
    x, y = _returns(2, 3000, 2, independent=False)
    assert analyse(x, y, min_lag=1, circular=True, seed=1).significant


def test_absent_leader_gated_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    est = LeadLagEstimator(LeadLagParams(channel=""), seed=0)
    follower = [e for e in lead_lag_events(0, 500, 3) if e.stream == "bbo"]
    with caplog.at_level(logging.INFO, logger="mmkit.signals"):
        out = _run(est, follower)
    assert out.fair_value_shift == 0.0
    assert out.extras["lead_lag.gated"] == 1.0
    assert out.extras["lead_lag.state"] == STATES["no_leader_data"]
    assert est.gate_reason == "no_leader_data"


def test_stale_and_disconnected_leader_gated(caplog: pytest.LogCaptureFixture) -> None:
    params = LeadLagParams(channel="", stale_s=2.0)
    events = list(lead_lag_events(4, 3200, 5))
    est = LeadLagEstimator(params, seed=0)
    out = _run(est, events)
    assert est.status == "active" and out.fair_value_shift != 0.0
    last = events[-1].ts
    tail = [BBO(last + i * NS // 10, 99.9, 1.0, 100.1, 1.0, stream="bbo") for i in range(1, 40)]
    with caplog.at_level(logging.WARNING, logger="mmkit.signals"):
        for ev in tail:
            est.on_event(ev, ev.ts)
            est.estimate(out, ev.ts)
            if ev.ts - last > 2 * NS + NS // 10:
                assert out.fair_value_shift == 0.0 and out.extras["lead_lag.gated"] == 1.0
    assert est.status == "leader_stale"
    assert "gated off: leader_stale" in caplog.text
    # a disconnect gates at once, a fresh quote reopens
    est2 = LeadLagEstimator(params, seed=0)
    out2 = _run(est2, events)
    t = last + 1
    est2.on_event(FeedStatus(t, "leader:bbo", connected=False), t)
    est2.estimate(out2, t)
    assert out2.fair_value_shift == 0.0 and est2.gate_reason == "leader_disconnected"
    t += NS // 10
    est2.on_event(BBO(t, 99.9, 1.0, 100.1, 1.0, stream="leader:bbo"), t)
    est2.estimate(out2, t)
    assert est2.gate_reason == ""


def test_side_channel_matches_in_band() -> None:
    events = list(lead_lag_events(9, 1500, 2))
    in_band = LeadLagEstimator(LeadLagParams(channel="", min_samples=300), seed=2)
    _run(in_band, events)
    ch = LeaderChannel("test")
    side = LeadLagEstimator(LeadLagParams(channel="", min_samples=300), seed=2)
    side.attach_channel(ch)
    follower = []
    for ev in events:
        if ev.stream.startswith("leader:"):
            ch.push(LeaderQuote(ev.ts, ev.ts, 0.5 * (ev.bid_px + ev.ask_px)))
        else:
            follower.append(ev)
    _run(side, follower)
    assert in_band.result is not None and side.result is not None
    assert side.result.lag == in_band.result.lag == 2
    assert side.result.p_value == in_band.result.p_value


def test_bad_quotes_are_skipped() -> None:
    est = LeadLagEstimator(LeadLagParams(channel=""), seed=0)
    out = Estimates()
    for i, (b, a) in enumerate([(float("nan"), 1.0), (2.0, 1.0), (-1.0, 1.0), (1.0, float("inf"))]):
        ev = BBO(T0 + i, b, 1.0, a, 1.0, stream="leader:bbo")
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
    assert est.rejections.total == 4 and out.fair_value_shift == 0.0
    assert {r.event_kind for r in est.rejections.counts} == {"BBO"}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 3.0]), min_size=10, max_size=80),
    st.integers(2, 10),
)
def test_quantile_bins_keep_ties_together(values: list[float], n_bins: int) -> None:
    x = np.asarray(values)
    b = kern.quantile_bins(x, n_bins)
    assert b.min() >= 0 and b.max() < n_bins
    for v in set(values):
        assert len(set(b[x == v].tolist())) == 1  # ties share a bin
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(b[order]) >= 0)  # monotone in the value


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(20, 200))
def test_grid_returns_sum_to_the_total_log_move(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(1, 10**8, n)).astype(np.int64)
    mids = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    start, stop, dt = int(ts[0]) + 1, int(ts[-1]), 10**7
    r = grid_returns(ts, mids, start, stop, dt)
    grid = np.arange(start, stop, dt)
    i0 = np.searchsorted(ts, grid[0], "right") - 1
    i1 = np.searchsorted(ts, grid[-1], "right") - 1
    assert r.sum() == pytest.approx(np.log(mids[i1] / mids[i0]), abs=1e-9)


def test_analyse_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="equal 1-d"):
        analyse(np.zeros(100), np.zeros(99))
    with pytest.raises(ValueError, match="too few"):
        analyse(np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="at least 100"):
        analyse(np.zeros(100), np.zeros(100), n_permutations=99, alpha=0.01)


def test_params_refuse_an_unreachable_alpha() -> None:
    from mmkit.params import build_params

    obj, problems = build_params(
        LeadLagParams, {"n_permutations": 50, "alpha": 0.01}, "estimators.lead_lag"
    )
    assert obj is None and any("never reach alpha" in p for p in problems)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), st.floats(allow_nan=True), st.booleans()), max_size=12
    ),
    st.sampled_from([None, 3, 100]),
)
def test_a_leader_channel_copies_with_its_quotes_and_a_queue_of_its_own(
    quotes: list[tuple[int, float, bool]], maxlen: int | None
) -> None:
    """A deep copy (or a pickled copy) of a channel holds the same quotes, in order, in a
    queue and behind a lock of its own: what is pushed to or taken from one does not
    change the other."""
    import copy
    import pickle

    ch = LeaderChannel("copy-test", maxlen=maxlen) if maxlen else LeaderChannel("copy-test")
    for t, mid, up in quotes:
        ch.push(LeaderQuote(t, t, mid, up))
    for twin in (copy.deepcopy(ch), pickle.loads(pickle.dumps(ch))):
        assert twin is not ch and twin.name == ch.name and twin.pushed == ch.pushed
        assert list(map(repr, twin._q)) == list(map(repr, ch._q))  # NaN mids: by repr
        assert twin._q.maxlen == ch._q.maxlen
        assert twin._lock is not ch._lock
        twin.push(LeaderQuote(0, 0, 1.0))
        assert len(twin) == min(len(ch) + 1, twin._q.maxlen or 10**9)
        assert twin.take_until(10**13) and len(twin) == 0
    assert len(ch) == min(len(quotes), maxlen or 10**9)


@settings(max_examples=40, deadline=None)
@given(st.integers(50, 400), st.integers(1, 60), st.integers(30, 400))
def test_the_configuration_refuses_a_window_no_test_can_fill(
    window: int, max_lag: int, min_samples: int
) -> None:
    """A window that keeps fewer returns than a test needs (``max(min_samples, max_lag +
    10)``) is a configuration error naming the numbers; any accepted window does get
    tested once it is full (it used to validate and then never test, silently)."""
    from mmkit.config.loader import load_settings
    from mmkit.errors import ConfigError
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    sets = [
        'components.estimators=["kappa","sigma","warmup","lead_lag"]',
        f"estimators.lead_lag.window={window}",
        f"estimators.lead_lag.max_lag={max_lag}",
        f"estimators.lead_lag.min_samples={min_samples}",
    ]
    need = max(min_samples, max_lag + 10)
    if window < need:
        with pytest.raises(ConfigError) as exc:
            load_settings(None, host.registry, env={}, sets=sets)
        assert any(f"window ({window})" in p and f"= {need}" in p for p in exc.value.problems)
        return
    load_settings(None, host.registry, env={}, sets=sets)
    est = LeadLagEstimator(
        LeadLagParams(
            channel="", window=window, max_lag=max_lag, min_samples=min_samples, test_interval_s=1
        ),
        seed=0,
    )
    _run(est, list(lead_lag_events(2, window + 60, 1)))
    assert est.tests >= 1
