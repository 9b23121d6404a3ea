"""The lead-lag estimator's twin agrees exactly with its reference.

Streams: the audit's adversarial ops with a leader venue's top of book and its disconnects
woven in (drawn offsets, hostile ones included), after the busy and jumpy market, and the
audit's fixed lead-lag market (a leader that leads by four samples, then disconnects,
comes back and goes silent). Leader quotes also arrive through a side channel. After
every step both estimate; the published estimates, the rejections, every state value
(the grid, the mids, the liveness, the rings and their fill, the tests run and their
result) are compared exactly. Kernels that drop one operation fail it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mmkit.audit.invariants.delivery import lead_lag_session
from mmkit.audit.invariants.estimators import (
    LEADER,
    adversarial_ops,
    busy_market,
    feed,
    stream_events,
)
from mmkit.audit.invariants.twins import jumpy_market
from mmkit.components import Estimates
from mmkit.core.events import BBO
from mmkit.core.types import NS_PER_S
from mmkit.signals import _kernels_leadlag_twin as kern
from mmkit.signals import lead_lag_twin as twin_mod
from mmkit.signals.lead_lag import LeadLagEstimator
from mmkit.signals.lead_lag_twin import LeadLagTwin
from mmkit.signals.leader import LeaderChannel, LeaderQuote
from mmkit.signals.params import LeadLagParams
from mmkit.twins.compare import estimates_diff, identical

_STATE = (
    "_n",
    "_i",
    "samples_taken",
    "_next_grid",
    "last_leader_ns",
    "_last_now",
    "_prev_lead",
    "_prev_fol",
    "lead_mid",
    "follow_mid",
    "leader_connected",
    "_dt",
    "_stale_ns",
    "tests",
    "status",
    "shift",
    "_next_test",
)
_T0 = 1_700_000_000 * NS_PER_S
_F32: Any = np.float32  # a value the arrays cannot hold as the reference holds it


def _state_diff(ref: LeadLagEstimator, tw: LeadLagEstimator) -> list[str]:
    out = [
        f"{n}: {getattr(ref, n)!r} != {getattr(tw, n)!r}"
        for n in _STATE
        if not identical(getattr(ref, n), getattr(tw, n))
        or type(getattr(ref, n)) is not type(getattr(tw, n))
    ]
    if not (np.array_equal(ref._x, tw._x) and np.array_equal(ref._y, tw._y)):
        out.append("the return rings differ")
    a, b = ref.result, tw.result
    if (a is None) != (b is None) or (
        a is not None
        and b is not None
        and (
            (a.lag, a.corr, a.mi, a.p_value, a.significant, a.n)
            != (b.lag, b.corr, b.mi, b.p_value, b.significant, b.n)
            or not np.array_equal(a.betas, b.betas)
        )
    ):
        out.append(f"results differ: {a} != {b}")
    if ref.rejections.total != tw.rejections.total:
        out.append(f"rejections: {ref.rejections.total} != {tw.rejections.total}")
    return out


def _outcome(fn: Any, *args: Any) -> str:
    try:
        fn(*args)
    except Exception as exc:  # the reference's own errors: the twin must raise the same
        return f"{type(exc).__name__}: {exc}"
    return ""


def _lockstep(
    ops: list[tuple[int, tuple[Any, ...]]],
    pair: tuple[LeadLagEstimator, LeadLagEstimator] | None = None,
    channel: list[tuple[int, float]] | None = None,
) -> tuple[LeadLagEstimator, LeadLagEstimator]:
    """Drive a reference and its twin (by default fresh ones, in-band leader only) through
    the busy and jumpy markets then ``ops``; fail at the first step after which their
    estimates, their errors or their states differ. ``channel``: leader quotes (arrival
    delay after the step's time in ns, mid) pushed into each one's own side channel, one
    per step, cycled."""
    if pair is None:
        p = LeadLagParams(channel="")
        ref = LeadLagEstimator(p, seed=5)
        pair = ref, ref.twin()
        assert type(pair[1]) is LeadLagTwin
    ref, tw = pair
    chans = (LeaderChannel("ref"), LeaderChannel("twin"))
    if channel:
        ref.attach_channel(chans[0])
        tw.attach_channel(chans[1])
    outs = Estimates(), Estimates()
    events = stream_events(ops, busy_market() + jumpy_market())
    for step, (where, now, ev, _) in enumerate(events):
        if channel:
            delay, mid = channel[step % len(channel)]
            for ch in chans:
                ch.push(LeaderQuote(now + delay, now, mid, mid == mid))
        errors = [_outcome(feed, e, ev, now) for e in (ref, tw)]
        errors += [_outcome(e.estimate, o, now) for e, o in zip((ref, tw), outs, strict=True)]
        diff = estimates_diff(outs[0], outs[1]) + _state_diff(ref, tw)
        if errors[0] != errors[1] or errors[2] != errors[3]:
            diff.append(f"errors: reference {errors[::2]}, twin {errors[1::2]}")
        assert not diff, f"after {where}: {diff}"
    return ref, tw


_offset = st.one_of(
    st.floats(-0.02, 0.02),
    st.sampled_from([math.nan, math.inf, -1.0, -0.999999, 1e300, 0.0]),
)
_leader_ops = st.lists(
    st.tuples(
        st.integers(0, 3 * NS_PER_S),
        st.one_of(
            st.tuples(st.just("leader"), _offset, _offset),
            st.tuples(st.just("leader"), st.floats(-2e-3, 0.0), st.floats(0.0, 2e-3)),
            st.tuples(st.just("feed"), st.booleans(), st.booleans(), st.just(LEADER)),
        ),
    ),
    max_size=40,
)


def _weave(ops: list[Any], leader: list[Any]) -> list[Any]:
    out: list[Any] = []
    for k in range(max(len(ops), len(leader))):
        out += ops[k : k + 1] + leader[k : k + 1]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(adversarial_ops(3600.0), _leader_ops)
@example(lead_lag_session(), [])
def test_the_twin_equals_its_reference(
    ops: list[tuple[int, tuple[Any, ...]]], leader: list[tuple[int, tuple[Any, ...]]]
) -> None:
    _lockstep(_weave(ops, leader))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    adversarial_ops(3600.0),
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, -NS_PER_S, NS_PER_S // 10, 3 * NS_PER_S]),
            st.one_of(
                st.floats(95.0, 105.0),
                st.sampled_from([math.nan, 1e-300, 1e300, np.float64(100.0)]),
            ),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_leader_quotes_through_the_side_channel(
    ops: list[tuple[int, tuple[Any, ...]]], channel: list[tuple[int, float]]
) -> None:
    p = LeadLagParams(channel="")
    _lockstep(ops, (LeadLagEstimator(p, seed=1), LeadLagTwin(p, seed=1)), channel)


def test_the_lead_lag_session_runs_the_kernels_to_a_published_shift() -> None:
    """The stream the audit relies on samples, tests and publishes through the kernels (no
    spill), and goes through the feed's gating."""
    ref, tw = _lockstep(lead_lag_session())
    assert type(tw) is LeadLagTwin
    assert tw.tests >= 5 and tw.samples_taken >= 500
    assert tw.result is not None and tw.result.significant and tw.result.lag == 4
    assert tw.status == "leader_stale" and ref.status == "leader_stale"
    seen: set[str] = set()
    shifts = 0
    out = Estimates()
    fresh = LeadLagTwin(LeadLagParams(channel=""), seed=5)
    for _, now, ev, _ in stream_events(lead_lag_session(), busy_market() + jumpy_market()):
        feed(fresh, ev, now)
        fresh.estimate(out, now)
        seen.add(fresh.status)
        shifts += out.fair_value_shift != 0.0
    assert {"active", "leader_disconnected", "leader_stale"} <= seen and shifts > 100


@pytest.mark.parametrize(
    ("event", "now"),
    [
        (BBO(_T0, np.float64(99.0), 1.0, np.float64(101.0), 1.0), _T0),
        (BBO(_T0, 99.0, 1.0, 101.0, 1.0), 2**62),
        (BBO(_T0, 99.0, 1.0, 101.0, 1.0, stream=LEADER), 2**62),
        (BBO(_T0, _F32(99.0), 1.0, _F32(101.5), 1.0, stream=LEADER), _T0),
    ],
)
def test_a_value_the_arrays_cannot_hold_spills_the_twin_and_stays_equal(
    event: BBO, now: int
) -> None:
    """A numpy mid, a time beyond +-2**61 ns: the reference keeps such values, so the twin
    becomes a plain LeadLagEstimator holding them, and stays equal."""
    p = LeadLagParams(channel="")
    ref, tw = LeadLagEstimator(p, seed=2), LeadLagTwin(p, seed=2)
    _lockstep(lead_lag_session(40), (ref, tw))
    for est in (ref, tw):
        est.on_event(event, now)
    assert type(tw) is LeadLagEstimator
    assert not _state_diff(ref, tw)
    _lockstep(lead_lag_session(40), (ref, tw))  # the markets run on


def test_times_before_the_epoch_take_the_kernels() -> None:
    """Times from before the epoch to after it: the grid's floor division and modulo as
    Python's (a negative next grid point starts the grid again, a negative arrival is no
    leader data: the reference's rules)."""
    p = LeadLagParams(channel="", min_samples=30, max_lag=5)
    ref, tw = LeadLagEstimator(p, seed=4), LeadLagTwin(p, seed=4)
    out = Estimates(), Estimates()
    for k in range(600):
        now = -(10**10) + 37_000_001 * k
        mid = 100.0 * (1.0 + 1e-4 * math.sin(k / 5.0))
        for e, o in zip((ref, tw), out, strict=True):
            e.on_event(BBO(now, mid - 0.01, 1.0, mid + 0.01, 1.0, stream=LEADER), now)
            e.on_event(BBO(now, mid - 0.02, 1.0, mid + 0.02, 1.0), now + 1)
            e.estimate(o, now + 1)
        assert not estimates_diff(*out) and not _state_diff(ref, tw), k
    assert type(tw) is LeadLagTwin and tw.samples_taken > 50


def test_a_ratio_that_underflows_raises_as_the_reference_raises() -> None:
    """A leader mid that falls from 1e300 to 1e-30 in one sample: the reference's
    ``math.log`` of 0.0 raises; the twin raises the same error with the same state."""
    p = LeadLagParams(channel="")
    ref, tw = LeadLagEstimator(p, seed=0), LeadLagTwin(p, seed=0)
    errors = []
    for k, mid in enumerate([1e300, 1e300, 1e300, 1e-30, 1e-30]):
        now = _T0 + k * NS_PER_S // 10
        lead = BBO(now, mid, 1.0, mid * 1.5, 1.0, stream=LEADER)
        ours = BBO(now, 99.0, 1.0, 101.0, 1.0)
        for e in (ref, tw):
            errors.append(_outcome(e.on_event, lead, now))
            errors.append(_outcome(e.on_event, ours, now + 1))
        assert not _state_diff(ref, tw)
    assert errors[0::4] == errors[2::4] and errors[1::4] == errors[3::4]
    assert any("ValueError" in e for e in errors) and type(tw) is LeadLagTwin


def test_the_configuration_refuses_a_grid_step_below_a_nanosecond() -> None:
    """Configured, such a step is refused with its key named: it could only make the
    estimator divide by zero at every event (a fault a cycle)."""
    from mmkit.config.loader import load_settings
    from mmkit.errors import ConfigError
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    sets = ['components.estimators=["kappa","sigma","warmup","lead_lag"]']
    with pytest.raises(ConfigError) as exc:
        load_settings(
            None, host.registry, env={}, sets=[*sets, "estimators.lead_lag.sample_interval_s=1e-10"]
        )
    assert any(
        "estimators.lead_lag.sample_interval_s: 1e-10 is out of range (must be >= 1e-09)" in p
        for p in exc.value.problems
    ), exc.value.problems
    ok = load_settings(
        None, host.registry, env={}, sets=[*sets, "estimators.lead_lag.sample_interval_s=1e-9"]
    )
    assert ok is not None


def test_a_grid_step_rounding_to_zero_spills_at_construction() -> None:
    """A sample interval below half a nanosecond, built directly (the configuration refuses
    it): the reference divides by zero at its first event, and so does the twin, which
    spilled at construction (a zero step is not one its array holds)."""
    p = LeadLagParams(channel="", sample_interval_s=1e-10)
    ref, tw = LeadLagEstimator(p), LeadLagTwin(p)
    assert type(tw) is LeadLagEstimator
    for e in (ref, tw):
        with pytest.raises(ZeroDivisionError):
            e.on_event(BBO(_T0, 99.0, 1.0, 101.0, 1.0), _T0)


def _broken_follower(f: Any, i: Any, x: Any, y: Any, mid: float, now: int) -> int:
    """The follower's kernel storing the mid before the grid samples (the samples due
    before ``now`` see the new mid)."""
    f[kern.F_FOLLOW_MID] = mid
    return int(kern.advance.py_func(f, i, x, y, now))


def _broken_advance(f: Any, i: Any, x: Any, y: Any, now: int) -> int:
    """The grid advance that forgets the staleness (samples across a dead leader)."""
    stale = i[kern.I_STALE]
    i[kern.I_STALE] = 2**60
    try:
        return int(kern.advance.py_func(f, i, x, y, now))
    finally:
        i[kern.I_STALE] = stale


def _broken_leader(f: Any, i: Any, x: Any, y: Any, mid: float, t: int, up: bool) -> int:
    """The leader's kernel ignoring disconnects."""
    return int(kern.leader.py_func(f, i, x, y, mid, t, True))


def _broken_catch_up(i: Any, x: Any, betas: Any) -> float:
    """The catch-up sum that weighs each lag's own return, not the sum up to it."""
    w, total, j = int(i[kern.I_WINDOW]), 0.0, int(i[kern.I_RING])
    for lag in range(1, min(betas.size, int(i[kern.I_N]) + 1)):
        j = j - 1 if j > 0 else w - 1
        total += float(betas[lag]) * float(x[j])
    return total


@pytest.mark.parametrize(
    ("name", "broken"),
    [
        ("_catch_up", _broken_catch_up),
        ("_follower", _broken_follower),
        ("_advance_k", _broken_advance),
        ("_leader", _broken_leader),
    ],
)
def test_a_broken_kernel_is_caught(monkeypatch: pytest.MonkeyPatch, name: str, broken: Any) -> None:
    p = LeadLagParams(channel="")
    pair = LeadLagEstimator(p, seed=5), LeadLagTwin(p, seed=5)
    monkeypatch.setattr(twin_mod, name, broken)
    with pytest.raises(AssertionError, match="after "):
        _lockstep(lead_lag_session(), pair)


def test_the_reference_offers_its_twin() -> None:
    p = LeadLagParams(channel="", window=400)
    tw = LeadLagEstimator(p, seed=9).twin()
    assert type(tw) is LeadLagTwin and tw.params is p and tw.seed == 9
    assert tw.twin() is not tw and type(tw.twin()) is LeadLagTwin
