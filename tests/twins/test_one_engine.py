"""One engine: with the compiled twins (``[engine] twins = "auto"``) and with every
component's Python reference (``"off"``) a backtest reports the same figures, on the
synthetic market and on the real USD-M BTC capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmkit.backtest.runner import BacktestOptions, BacktestResult, run_backtest
from mmkit.config.loader import load_settings
from mmkit.plugin_manager import PluginHost

CAPTURE = Path("binance-usdm") / "btcusdt_20240808.gz"


def _run(store: Path, mode: str, opts: BacktestOptions, *sets: str) -> BacktestResult:
    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={}, sets=[*sets, f"engine.twins='{mode}'"])
    return run_backtest(s, host, [store], opts)


def _figures(r: BacktestResult) -> dict[str, Any]:
    """The report without its timings and without the line that says what ran."""
    js: dict[str, Any] = r.report.to_json(timing=False)
    run = js.get("run")
    if isinstance(run, dict):
        run["notes"] = [n for n in run.get("notes", []) if not n.startswith("components:")]
    return js


def _assert_same(twins: BacktestResult, ref: BacktestResult) -> None:
    choices = twins.session.engine.twin_choices
    assert choices and all(c.compiled for c in choices), [c.describe() for c in choices]
    assert not any(c.compiled for c in ref.session.engine.twin_choices)
    notes = twins.report.run.notes if twins.report.run is not None else []
    assert f"components: {len(choices)} of {len(choices)} compiled twins" in notes
    assert twins.report.fills > 0, twins.report.to_markdown()
    assert _figures(twins) == _figures(ref)
    for key in ("equity", "position", "mid"):
        if key in twins.path:
            assert np.array_equal(twins.path[key], ref.path[key], equal_nan=True), key
    assert [(f.ts, f.px, f.sz) for f in twins.fills] == [(f.ts, f.px, f.sz) for f in ref.fills]


@pytest.mark.parametrize("cadence", ["timer", "event"])
def test_twins_and_references_report_the_same_backtest(synthetic_store: Path, cadence: str) -> None:
    opts = BacktestOptions(cadence=cadence, duration_s=240.0)  # type: ignore[arg-type]
    sets = ("estimators.warmup.max_warmup_secs=5", "instrument.tick=0.1", "engine.seed=5")
    _assert_same(
        _run(synthetic_store, "auto", opts, *sets), _run(synthetic_store, "off", opts, *sets)
    )


def test_the_signals_twins_report_the_same_backtest(synthetic_store: Path) -> None:
    """The adverse-selection classifier and the RL skew agent added to the default set
    (their twins, with a trained classifier: its toxicity widens the spread): the same
    report, path and fills as their references."""
    opts = BacktestOptions(cadence="event", duration_s=240.0)
    sets = (
        "estimators.warmup.max_warmup_secs=5",
        "instrument.tick=0.1",
        "engine.seed=5",
        "components.estimators=['kappa','sigma','warmup','adverse_selection','rl_skew']",
        "estimators.adverse_selection.threshold=0.2",
    )
    twins = _run(synthetic_store, "auto", opts, *sets)
    _assert_same(twins, _run(synthetic_store, "off", opts, *sets))
    adverse: Any = next(e for n, e in twins.session.engine._estimators if n == "adverse_selection")
    assert adverse.outcomes > 0 and np.abs(adverse.model.w).max() > 0.0


@pytest.mark.slow
def test_the_usdm_capture_reports_the_same_with_twins_and_references(
    shared_data: Path, tmp_path: Path
) -> None:
    """The whole 345 s USD-M BTC capture, requoting every 100 ms as the benchmark does."""
    from mmkit.data.loaders import convert

    capture = shared_data / CAPTURE
    if not capture.is_file():
        pytest.skip(f"{capture} is not available")
    store = tmp_path / "btc.parquet"
    convert([capture], store)
    opts = BacktestOptions(cadence="timer", requote_ms=100.0)
    sets = (
        "instrument.tick=0.1",
        "instrument.sz_decimals=3",
        "estimators.warmup.max_warmup_secs=30",
    )
    twins, ref = _run(store, "auto", opts, *sets), _run(store, "off", opts, *sets)
    _assert_same(twins, ref)
    assert twins.report.fills > 50  # a real run: it quoted and traded through the capture
