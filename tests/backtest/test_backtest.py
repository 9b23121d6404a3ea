"""Backtests: same seed => identical reports; a market-crossing quoter is rejected; model MC."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from mmkit.backtest.model_market import ModelOptions, run_model
from mmkit.backtest.runner import BacktestOptions, run_backtest
from mmkit.cli.main import main
from mmkit.config.loader import Settings, load_settings
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost

from . import crossing_plugin

FAST_WARMUP = ["estimators.warmup.max_warmup_secs=5", "instrument.tick=0.1"]


def _settings(host: PluginHost, *sets: str) -> Settings:
    return load_settings(None, host.registry, env={}, sets=[*FAST_WARMUP, *sets])


@pytest.fixture
def host() -> PluginHost:
    h = PluginHost(load_entrypoints=False)
    h.register_plugin(crossing_plugin, "crossing_plugin")
    return h


@pytest.mark.parametrize("cadence", ["timer", "event"])
def test_same_seed_gives_identical_reports(
    host: PluginHost, synthetic_store: Path, cadence: str
) -> None:
    opts = BacktestOptions(cadence=cadence, duration_s=240.0)  # type: ignore[arg-type]
    a = run_backtest(_settings(host, "engine.seed=7"), host, [synthetic_store], opts)
    b = run_backtest(_settings(host, "engine.seed=7"), host, [synthetic_store], opts)
    assert a.report.fills > 0, a.report.to_markdown()
    assert a.report.to_json(timing=False) == b.report.to_json(timing=False)
    assert (a.path["equity"] == b.path["equity"]).all()
    r = a.report
    assert math.isclose(r.equity, r.realized + r.unrealized - r.fees, rel_tol=1e-9, abs_tol=1e-9)
    assert set(r.markouts_bp) == {"1s", "5s", "30s"}
    assert 0 < r.fill_ratio <= 1


def test_trade_batches_give_the_report_of_trades_one_by_one(
    host: PluginHost, synthetic_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer loop hands the engine each step's trades as one batch; the report is the
    one the engine gives when every trade arrives alone."""
    from mmkit.core.events import TradeBatch
    from mmkit.engine import Engine

    opts = BacktestOptions(cadence="timer", duration_s=240.0)
    batched = run_backtest(_settings(host, "engine.seed=3"), host, [synthetic_store], opts)
    on_event = Engine.on_event

    def one_by_one(self: Engine, ev: Any, now_ns: int) -> list[Any]:
        if not isinstance(ev, TradeBatch):
            return on_event(self, ev, now_ns)
        out: list[Any] = []
        for tr, t in ev.trades():
            out += on_event(self, tr, t)
        return out

    monkeypatch.setattr(Engine, "on_event", one_by_one)
    rows = run_backtest(_settings(host, "engine.seed=3"), host, [synthetic_store], opts)
    assert batched.report.fills > 0
    assert batched.report.to_json(timing=False) == rows.report.to_json(timing=False)
    assert (batched.path["equity"] == rows.path["equity"]).all()


def test_crossing_quoter_is_rejected_not_filled(host: PluginHost, synthetic_store: Path) -> None:
    s = _settings(host, "components.quoter=crossing", "components.gates=[]")
    res = run_backtest(s, host, [synthetic_store], BacktestOptions(cadence="timer", duration_s=60))
    r = res.report
    assert r.orders_sent > 0
    assert r.fills == 0
    assert r.rejection_reasons.get("post_only_would_cross", 0) > 0
    assert r.final_position == 0.0


def test_model_market_is_deterministic_and_sane(host: PluginHost) -> None:
    s = _settings(host, "engine.seed=1")
    a = run_model(s, host, ModelOptions(paths=200))
    b = run_model(s, host, ModelOptions(paths=200))
    assert a.to_json() == b.to_json()
    assert a.profit_mean > 0 and a.profit_std > 0
    assert 0 < a.avg_spread < 5
    assert a.quoter_calls < 200 * 200  # vectorised across paths


def test_kernel_fast_path_is_deterministic_and_consistent(
    host: PluginHost, synthetic_store: Path
) -> None:
    opts = BacktestOptions(cadence="kernel", duration_s=300.0)
    a = run_backtest(_settings(host), host, [synthetic_store], opts).report
    b = run_backtest(_settings(host), host, [synthetic_store], opts).report
    assert a.to_json(timing=False) == b.to_json(timing=False)
    assert a.fills > 0 and a.requotes > 0
    assert math.isclose(a.equity, a.realized + a.unrealized - a.fees, rel_tol=1e-6, abs_tol=1e-6)
    assert a.max_abs_position <= 0.05 + 1e-9


def test_kernel_fast_path_refuses_other_quoters(host: PluginHost, synthetic_store: Path) -> None:
    s = _settings(host, "components.quoter=crossing")
    with pytest.raises(ConfigError, match="glft"):
        run_backtest(s, host, [synthetic_store], BacktestOptions(cadence="kernel"))


def test_cli_writes_reports_and_plots(
    synthetic_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "bt"
    args = ["backtest", str(synthetic_store), "--cadence", "timer", "--duration", "120"]
    args += ["--set", "estimators.warmup.max_warmup_secs=5", "--set", "instrument.tick=0.1"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(out), "--plots"])
    assert exc.value.code in (0, None)
    rep = json.loads((out / "report.json").read_text())
    assert rep["mode"] == "timer" and "markouts_bp" in rep
    assert (out / "report.md").read_text().startswith("# mmkit backtest")
    assert (out / "backtest.png").stat().st_size > 1000
    assert (out / "path.csv").read_text().startswith("ts,mid,position,equity\n")
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--market", "model", "--paths", "50", "--json"])
    assert exc.value.code in (0, None)
    assert '"profit_mean"' in capsys.readouterr().out


def test_missing_data_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backtest"])
    assert exc.value.code == 2
    assert "DATA" in capsys.readouterr().err
