"""Kappa that never puts quotes on the touch (issue 16): the robust source is capped before
own-fill graduation and the blend is clamped into ``[kappa_floor, kappa_cap]``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.audit.invariants.estimators import adversarial_ops, replay
from mmkit.components import Estimates
from mmkit.core.types import Side
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.params import KappaParams

from .helpers import NS, T0, book, fill, trade

Ops = list[tuple[int, tuple[Any, ...]]]
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def clamp_params(draw: st.DrawFn) -> KappaParams:
    floor = draw(st.floats(1.0, 1e4))
    cap = floor * draw(st.floats(1.0, 1e3))
    return KappaParams(
        prior_kappa=draw(st.floats(1.0, 1e6)),  # also outside the clamp
        kappa_floor=floor,
        kappa_cap=cap,
        warmup_robust_cap_mult=draw(st.floats(1.0, 100.0)),
        robust_fit_interval_s=0.0,
    )


@SETTINGS
@given(clamp_params(), adversarial_ops())
def test_kappa_stays_in_the_clamp_and_confidences_in_0_1(p: KappaParams, ops: Ops) -> None:
    est = KappaOrchestrator(p)

    def after(out: Estimates, now: int) -> None:
        assert math.isfinite(out.kappa)
        assert p.kappa_floor <= out.kappa <= p.kappa_cap
        assert 0.0 <= out.kappa_confidence <= 1.0
        for key, v in out.extras.items():
            assert math.isfinite(v), key
            if key.endswith("_confidence"):
                assert 0.0 <= v <= 1.0, key
        cap = p.warmup_robust_cap_mult * p.prior_kappa
        for name, k, c in est.kappa_sources():
            assert 0.0 < c <= 1.0 and 0.0 < k < math.inf
            if name == "robust" and not est.has_exited_warmup:
                assert k <= cap
        if not est.has_exited_warmup:
            assert out.extras.get("kappa.robust_cap") == cap
        else:
            assert "kappa.robust_cap" not in out.extras

    replay(est, ops, after)


def _touch_tape(est: KappaOrchestrator, seconds: int, out: Estimates, start: int = T0) -> float:
    """A BTC-like tape: mid 100,000, a one-dollar spread, every trade on the touch (depth
    5e-6 of mid, as on Hyperliquid). Returns the largest kappa published."""
    top = 0.0
    for i in range(seconds):
        t = start + i * NS
        ev = book(t, mid=100_000.0, spread=1e-5)
        est.on_event(ev, t)
        for k in range(4):
            side = Side.BUY if k % 2 else Side.SELL
            px = 100_000.5 if side is Side.BUY else 99_999.5
            est.on_event(trade(t + k, px, 0.01, side), t + k)
        est.estimate(out, t)
        top = max(top, out.kappa)
    return top


def test_a_tape_at_the_touch_cannot_pull_kappa_to_the_touch() -> None:
    est = KappaOrchestrator(KappaParams())
    out = Estimates()
    top = _touch_tape(est, 300, out)
    raw = out.extras["kappa.robust"]
    assert raw > 1e5  # the raw fit says "the touch"
    assert top <= 2.0 * est.p.prior_kappa  # capped before graduation: 1/kappa >= 2.5 bp
    assert out.extras["kappa.robust_cap"] == 4000.0


def test_the_uncapped_configuration_is_caught() -> None:
    """The same check fails on the old behaviour (no cap, a clamp of [1, 1e7])."""
    old = KappaParams(warmup_robust_cap_mult=1e9, kappa_floor=1.0, kappa_cap=1e7)
    top = _touch_tape(KappaOrchestrator(old), 300, Estimates())
    assert top > 2.0 * old.prior_kappa
    assert top > KappaParams().kappa_cap  # and past the default clamp too


def test_after_graduation_the_clamp_still_holds() -> None:
    est = KappaOrchestrator(KappaParams())
    out = Estimates()
    _touch_tape(est, 30, out)
    t = T0 + 31 * NS
    for i in range(8):  # own fills right at the touch: the posterior wants ~1e5
        est.on_event(fill(t + i, 100_000.0 - 0.5), t + i)
    assert est.has_exited_warmup
    top = _touch_tape(est, 200, out, start=t + NS)  # the robust source is uncapped now
    assert "kappa.robust_cap" not in out.extras
    assert out.extras["kappa.robust"] > est.p.kappa_cap
    assert top <= est.p.kappa_cap
    assert out.kappa == pytest.approx(est.p.kappa_cap, rel=0.05)


def test_the_clamp_floor_holds_for_a_thin_far_book() -> None:
    est = KappaOrchestrator(KappaParams(prior_kappa=150.0))
    out = Estimates()
    for i in range(100):  # trades 3% from mid: raw robust ~ 33, below the floor of 100
        t = T0 + i * NS
        est.on_event(book(t), t)
        est.on_event(trade(t, 103.0 if i % 2 else 97.0), t)
        est.estimate(out, t)
        assert out.kappa >= est.p.kappa_floor
    assert out.extras["kappa.robust"] < est.p.kappa_floor


def test_the_hyperliquid_capture_stays_off_the_touch(shared_data: Path) -> None:
    """The real BTC capture: trades print at the touch (robust fit > 1e5); the published
    kappa stays under the warmup cap."""
    from mmkit.core.events import EventKind, TradeBatch
    from mmkit.data.replay import ReplayFeed

    est = KappaOrchestrator(KappaParams())
    out = Estimates()
    top = 0.0
    for ev in ReplayFeed([str(shared_data / "hyperliquid" / "btcusd_20250126.gz")]).events():
        if ev.kind is EventKind.TRADE_BATCH:
            assert isinstance(ev, TradeBatch)
            now = int(ev.columns()[4][-1])
            est.on_trades(ev, now)
        else:
            now = int(ev.ts)
            est.on_event(ev, now)
        est.estimate(out, now)
        top = max(top, out.kappa)
    assert out.extras["kappa.robust"] > 1e5
    assert top <= 2.0 * est.p.prior_kappa
