"""Adverse-selection classifier: beats the base rate on a market with a known toxic-flow
component, logs predictions and outcomes, widens or skips, and is gated off when its IR
falls."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mmkit.components import Estimates
from mmkit.core.events import BBO, Event, OwnFill
from mmkit.core.types import Side
from mmkit.prediction.brier import brier_score
from mmkit.prediction.prediction_log import InMemoryPredictionLog, PredictionLog
from mmkit.signals.adverse_selection import AdverseSelectionEstimator
from mmkit.signals.params import AdverseSelectionParams
from mmkit.signals.synthetic import toxic_flow_events

NS = 1_000_000_000


def _run(est: AdverseSelectionEstimator, events: list[Event]) -> Estimates:
    out = Estimates()
    for ev in events:
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
    est.update_stats()
    return out


def test_brier_beats_base_rate_on_toxic_flow() -> None:
    log = InMemoryPredictionLog()
    est = AdverseSelectionEstimator(AdverseSelectionParams(), log)
    out = _run(est, toxic_flow_events(0, 2500))
    pred, outcome = log.pairs("adverse")
    assert len(pred) == est.outcomes == 2500
    base = [float(np.mean(outcome))] * len(outcome)  # even the in-sample base rate loses
    assert brier_score(pred, outcome) < brier_score(base, outcome) - 0.03
    assert out.extras["adverse.brier"] < out.extras["adverse.brier_base"]
    assert out.extras["adverse.ir"] > 0.1
    assert est.active and est.weight == 1.0


def test_no_signal_no_skill() -> None:
    est = AdverseSelectionEstimator(AdverseSelectionParams())
    _run(est, toxic_flow_events(1, 1500, informed_share=0.0))
    assert abs(est.brier - est.brier_base) < 0.02


class _JournalStub:
    def __init__(self) -> None:
        self.rows: list[tuple[str, Any]] = []

    def record_prediction(
        self, ts: int, model: str, key: str, prediction: float, meta: Any = None
    ) -> None:
        self.rows.append(("p", (model, key, prediction, dict(meta or {}))))

    def record_outcome(self, ts: int, model: str, key: str, outcome: float) -> None:
        self.rows.append(("o", (model, key, outcome)))


def test_attach_prediction_log_sends_both_sides_of_the_loop() -> None:
    est = AdverseSelectionEstimator(AdverseSelectionParams())
    journal = _JournalStub()
    assert isinstance(journal, PredictionLog)
    est.attach_prediction_log(journal)
    _run(est, toxic_flow_events(2, 20))
    preds = [r for k, r in journal.rows if k == "p"]
    outs = [r for k, r in journal.rows if k == "o"]
    assert len(preds) == len(outs) == 20
    assert [p[1] for p in preds] == [o[1] for o in outs]
    assert all(0.0 <= p[2] <= 1.0 and "imbalance" in p[3] for p in preds)


def test_outcome_is_the_5s_markout() -> None:
    est = AdverseSelectionEstimator(AdverseSelectionParams())
    log = InMemoryPredictionLog()
    est.attach_prediction_log(log)
    t = 10 * NS
    out = Estimates()
    events: list[Event] = [
        BBO(t, 99.99, 1.0, 100.01, 1.0),
        OwnFill(t, 1, None, Side.BUY, 99.99, 1.0, tid=1),
        OwnFill(t, 2, None, Side.SELL, 100.01, 1.0, tid=2),
        BBO(t + 4 * NS, 99.0, 1.0, 99.02, 1.0),  # not yet due
        BBO(t + 5 * NS, 99.0, 1.0, 99.02, 1.0),
    ]
    for ev in events:
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
    recs = {r.key.split(":")[1]: r.outcome for r in log.records("adverse")}
    assert recs == {"1": 1.0, "2": 0.0}  # the mid fell: our buy was toxic, our sell was not


def test_widen_and_skip_modes() -> None:
    events = toxic_flow_events(3, 1500)
    est = AdverseSelectionEstimator(AdverseSelectionParams(threshold=0.5, max_widen=3.0))
    out = Estimates()
    seen_widen = False
    for ev in events:
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
        assert 1.0 <= out.spread_scale <= 3.0
        if out.toxicity > 0.5:
            seen_widen = True
            assert out.spread_scale == pytest.approx(1 + 2 * (out.toxicity - 0.5) / 0.5)
        else:
            assert out.spread_scale == 1.0
    assert seen_widen
    skip = AdverseSelectionEstimator(AdverseSelectionParams(threshold=0.5, mode="skip"))
    out = Estimates()
    zeros = 0
    for ev in events:
        skip.on_event(ev, ev.ts)
        skip.estimate(out, ev.ts)
        assert out.size_scale == (0.0 if out.toxicity > 0.5 else 1.0)
        zeros += out.size_scale == 0.0
    assert zeros > 0


def test_model_gated_off_when_its_ir_falls() -> None:
    params = AdverseSelectionParams(gating_min_samples=100, learning_rate=0.0001)
    est = AdverseSelectionEstimator(params)
    est.model.w[:] = 0.0
    est.model.w[1] = -8.0  # confidently wrong: predicts toxic exactly when it is not
    out = _run(est, toxic_flow_events(4, 400))
    assert est.ir < 0
    assert est.weight < params.min_active_weight and not est.active
    assert out.extras["adverse.active"] == 0.0
    assert out.spread_scale == 1.0  # no widening from a gated model
    assert out.toxicity == pytest.approx(est.base_rate)


def test_hostile_fills_do_not_break_it() -> None:
    est = AdverseSelectionEstimator(AdverseSelectionParams())
    out = Estimates()
    t = NS
    for px, sz in [(math.nan, 1.0), (math.inf, 1.0), (-1.0, 1.0), (100.0, 0.0), (100.0, math.nan)]:
        ev = OwnFill(t, 1, None, Side.BUY, px, sz)
        est.on_event(ev, t)
        est.estimate(out, t)
    assert est.rejections.total == 5
    assert est.rejections.reasons() == {"price or size not a finite positive number, or no side"}
    assert 0.0 <= out.toxicity <= 1.0
