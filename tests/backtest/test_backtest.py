"""Backtests: same seed => identical reports; a market-crossing quoter is rejected; model MC."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.backtest.cadence import check_cadence
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


def test_removed_kernel_cadence_is_refused_with_the_reason(
    host: PluginHost,
    synthetic_store: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``kernel`` was a separate simplified strategy (now ``benchmarks/_fast_glft.py``): the
    runner and the CLI refuse it, say why and what to use, and build no engine."""
    import mmkit.backtest.runner as runner

    def no_engine(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an engine was built for a refused cadence")

    monkeypatch.setattr(runner, "build_engine", no_engine)
    opts = BacktestOptions(cadence="kernel")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"'kernel' was removed.*bypassed.*use 'timer'"):
        run_backtest(_settings(host), host, [synthetic_store], opts)
    with pytest.raises(SystemExit) as exc:
        main(["--no-entrypoints", "backtest", str(synthetic_store), "--cadence", "kernel"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--cadence 'kernel' was removed" in err and "Traceback" not in err


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.sampled_from(["event", "timer", "kernel", "Timer", ""]), st.text(max_size=8)))
def test_check_cadence_accepts_exactly_event_and_timer(value: str) -> None:
    if value in ("event", "timer"):
        assert check_cadence(value, "--cadence") == value
        return
    with pytest.raises(ConfigError) as exc:
        check_cadence(value, "[sweep] cadence")
    (problem,) = exc.value.problems
    assert problem.startswith(f"[sweep] cadence {value!r}")  # names where the value came from
    assert ("was removed" in problem) == (value == "kernel")
    assert "choose event or timer" in problem or value == "kernel"


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
