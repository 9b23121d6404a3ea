"""Calibration loop: prediction log, Brier decomposition, information ratio, gating."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.prediction import (
    GatingConfig,
    InMemoryPredictionLog,
    ModelGating,
    PredictionLog,
    brier_decomposition,
    brier_score,
    probability_ir,
    sigma_ir,
)


def test_in_memory_log_is_a_prediction_log_and_pairs_outcomes() -> None:
    log = InMemoryPredictionLog()
    assert isinstance(log, PredictionLog)
    log.record_prediction(1, "fill", "o1", 0.3, {"depth": 1e-4})
    log.record_prediction(2, "fill", "o2", 0.8)
    log.record_prediction(3, "adverse", "f1", 0.6)
    log.record_outcome(10, "fill", "o2", 1.0)
    log.record_outcome(11, "fill", "nope", 1.0)
    assert log.pairs("fill") == ([0.8], [1.0])
    assert log.orphan_outcomes == 1
    assert log.models() == ["adverse", "fill"]
    assert [r.key for r in log.records("fill", resolved_only=False)] == ["o1", "o2"]
    with pytest.raises(ValueError, match=r"'fill'.*'o3'"):
        log.record_prediction(4, "fill", "o3", math.nan)


def test_brier_known_values() -> None:
    assert brier_score([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert brier_score([0.5, 0.5], [0.0, 1.0]) == 0.25
    d = brier_decomposition([0.2, 0.2, 0.8, 0.8], [0, 1, 1, 1])
    # bins: f=0.2 -> o=0.5 ; f=0.8 -> o=1.0 ; base rate 0.75
    assert d.reliability == pytest.approx(0.5 * 0.09 + 0.5 * 0.04)
    assert d.resolution == pytest.approx(0.5 * 0.0625 + 0.5 * 0.0625)
    assert d.uncertainty == pytest.approx(0.1875)
    assert d.brier == pytest.approx(d.reliability - d.resolution + d.uncertainty)
    assert d.residual == pytest.approx(0.0, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.05, 0.15, 0.55, 0.95]), st.integers(0, 1)),
        min_size=1,
        max_size=80,
    )
)
def test_decomposition_is_exact_when_bins_are_pure(data: list[tuple[float, int]]) -> None:
    p = [x for x, _ in data]
    o = [float(y) for _, y in data]
    d = brier_decomposition(p, o)
    assert d.brier == pytest.approx(d.reliability - d.resolution + d.uncertainty, abs=1e-12)
    assert d.reliability >= 0 and d.resolution >= 0


def test_brier_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        brier_score([1.5], [1.0])
    with pytest.raises(ValueError):
        brier_score([0.5], [0.5])
    assert math.isnan(brier_score([], []))


def test_information_ratio_separates_skill_from_noise() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.95, 3000)
    outcomes = (rng.uniform(size=3000) < truth).astype(float)
    skilled = probability_ir(truth.tolist(), outcomes.tolist())
    noise = probability_ir(rng.uniform(size=3000).tolist(), outcomes.tolist())
    assert skilled > 0.1
    assert noise < 0.0


def test_sigma_ir_rewards_good_variance_forecasts() -> None:
    rng = np.random.default_rng(1)
    var = np.where(np.arange(4000) % 1000 < 500, 1e-8, 9e-8)  # regimes
    r2 = var * rng.standard_normal(4000) ** 2
    assert sigma_ir(var.tolist(), r2.tolist(), baseline_var=5e-8) > 0.1
    assert sigma_ir(var[::-1].tolist(), r2.tolist(), baseline_var=5e-8) < 0.0
    assert math.isfinite(sigma_ir(var.tolist(), r2.tolist()))


def test_gating_reduces_weight_below_threshold_and_recovers() -> None:
    g = ModelGating(GatingConfig(threshold=0.05, span=0.25, min_weight=0.1, min_samples=50))
    assert g.update("as", -0.5, 10) == 1.0  # too few samples
    assert g.update("as", 0.2, 100) == 1.0
    assert g.update("as", 0.0, 100) == pytest.approx(0.8)
    assert g.update("as", -1.0, 100) == 0.1
    assert g.update("as", 0.06, 100) == 1.0


def test_gating_from_log_end_to_end() -> None:
    rng = np.random.default_rng(2)
    log = InMemoryPredictionLog()
    for i in range(400):
        p = float(rng.uniform(0.05, 0.95))
        y = float(rng.uniform() < p)
        log.record_prediction(i, "good", str(i), p)
        log.record_outcome(i + 1, "good", str(i), y)
        log.record_prediction(i, "bad", str(i), 1.0 - p)
        log.record_outcome(i + 1, "bad", str(i), y)
    w = ModelGating().update_from_log(log)
    assert w["good"] == 1.0
    assert w["bad"] < 0.5


def test_the_trade_journal_speaks_the_same_protocol() -> None:
    import inspect

    journal = pytest.importorskip("mmkit.runtime.journal")
    cls = getattr(journal, "Journal", None)
    if cls is None:
        pytest.skip("mmkit.runtime.journal has no Journal yet")
    for name in ("record_prediction", "record_outcome"):
        mine = list(inspect.signature(getattr(InMemoryPredictionLog, name)).parameters)
        theirs = list(inspect.signature(getattr(cls, name)).parameters)
        assert theirs == mine, name


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 1000),
    st.floats(-1, 1),
    st.floats(0.01, 5),
    st.floats(0, 1),
)
def test_gating_weight_is_bounded(ir: float, n: int, thr: float, span: float, lo: float) -> None:
    g = ModelGating(GatingConfig(threshold=thr, span=span, min_weight=lo, min_samples=50))
    w = g.update("m", ir, n)
    assert lo <= w <= 1.0
    if n >= 50 and not math.isnan(ir) and ir < thr:
        assert w == pytest.approx(max(lo, 1.0 - (thr - ir) / span))
