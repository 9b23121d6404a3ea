"""Warmup estimator and gate: requirements, latch, timeout, visibility."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

import pytest

from mmkit.components import Estimates, Estimator, GateMode, View
from mmkit.core.events import Event
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.params import KappaParams, WarmupParams
from mmkit.estimators.warmup import WarmupEstimator, WarmupGate

from .helpers import NS, T0, book, fill, trade

# The warmup gate reads only the estimates: it is checked without a view (None on purpose)
NO_VIEW = cast(View, None)


def _step(ests: Sequence[Estimator], ev: Event, out: Estimates) -> None:
    for e in ests:
        e.on_event(ev, ev.ts)
    for e in ests:
        e.estimate(out, ev.ts)


def test_waits_for_buckets_trades_and_graduation_then_latches() -> None:
    kappa = KappaOrchestrator(KappaParams())
    warm = WarmupEstimator(  # graduation is an opt-in since issue 16
        WarmupParams(bucket_size=1.0, min_buckets=30, min_trades=50, require_kappa_graduation=True)
    )
    out = Estimates()
    ests: list[Estimator] = [kappa, warm]
    _step(ests, book(T0), out)
    assert not out.warmed_up
    assert "volume buckets 0/30" in out.warmup_waiting
    assert "market trades 0/50" in out.warmup_waiting
    assert "kappa graduation (own fills 0)" in out.warmup_waiting
    for i in range(60):  # 60 trades of 0.5: 30 buckets
        _step(ests, trade(T0 + i * NS, 100.01, 0.5), out)
    assert not out.warmed_up
    assert out.warmup_waiting.startswith("kappa graduation (own fills 0)")
    for i in range(4):
        _step(ests, fill(T0 + (61 + i) * NS, 99.97), out)
    assert not out.warmed_up and "own fills 4" in out.warmup_waiting
    _step(ests, fill(T0 + 66 * NS, 99.97), out)
    assert out.warmed_up and out.warmup_waiting == ""
    assert out.extras["warmup.timed_out"] == 0.0
    # fills expire: kappa keeps its graduation, warmup stays done
    _step(ests, book(T0 + 3000 * NS), out)
    assert out.warmed_up


def test_timeout_starts_quoting_from_priors(caplog: pytest.LogCaptureFixture) -> None:
    warm = WarmupEstimator(WarmupParams(max_warmup_secs=300.0))
    gate = WarmupGate()
    out = Estimates()
    out.extras["kappa.graduated"] = 0.0
    with caplog.at_level(logging.INFO, logger="mmkit.estimators.warmup"):
        warm.on_event(book(T0), T0)
        warm.estimate(out, T0)
        d = gate.check(NO_VIEW, out, T0)
        assert d is not None and d.reason == "Warmup" and d.mode is GateMode.HALT
        assert "timeout in 300 s" in str(d.detail["waiting"])
        warm.estimate(out, T0 + 299 * NS)
        assert not out.warmed_up
        warm.estimate(out, T0 + 300 * NS)
    assert out.warmed_up
    assert out.extras["warmup.timed_out"] == 1.0
    assert gate.check(NO_VIEW, out, T0 + 300 * NS) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "quoting from priors" in warnings[0].message
    assert "market trades 0/50" in warnings[0].message
    assert any("waiting for" in r.message for r in caplog.records)


def test_missing_kappa_estimator_waives_graduation(caplog: pytest.LogCaptureFixture) -> None:
    warm = WarmupEstimator(WarmupParams(min_buckets=0, min_trades=1, require_kappa_graduation=True))
    out = Estimates()
    with caplog.at_level(logging.INFO, logger="mmkit.estimators.warmup"):
        ev = trade(T0, 100.0, 1.0)
        warm.on_event(ev, T0)
        warm.estimate(out, T0)
    assert out.warmed_up
    assert any("not waited for" in r.message for r in caplog.records)


def test_gate_without_warmup_estimator_says_so() -> None:
    d = WarmupGate("wu").check(NO_VIEW, Estimates(), T0)
    assert d is not None and d.gate == "wu" and "no warmup estimator" in d.describe()


def test_bad_trades_do_not_count() -> None:
    warm = WarmupEstimator(WarmupParams())
    for px, sz in [(float("nan"), 1.0), (100.0, float("inf")), (100.0, -1.0), (0.0, 1.0)]:
        warm.on_event(trade(T0, px, sz), T0)
    warm.on_event(object(), T0)  # type: ignore[arg-type]
    assert warm.trades == 0 and warm.volume == 0.0
