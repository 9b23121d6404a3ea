"""The backtest report says what the engine did: verdict and headline first, the gate and
kill-switch timeline, time quoting measured from the venue, and the plot's drawn series."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mmkit.backtest.runner import BacktestOptions, BacktestResult, plot_series, run_backtest
from mmkit.cli.main import main
from mmkit.config.loader import Settings, load_settings
from mmkit.core.types import NS_PER_S, Side
from mmkit.plugin_manager import PluginHost
from mmkit.reports.stats import equity_stats

from . import crossing_plugin

FAST = ["estimators.warmup.max_warmup_secs=5", "instrument.tick=0.1"]
KILL = "gates.kill_switch.max_drawdown_usd=0.2"


@pytest.fixture
def host() -> PluginHost:
    h = PluginHost(load_entrypoints=False)
    h.register_plugin(crossing_plugin, "crossing_plugin")
    return h


def _settings(host: PluginHost, *sets: str) -> Settings:
    return load_settings(None, host.registry, env={}, sets=[*FAST, *sets])


def _run(host: PluginHost, store: Path, *sets: str, duration: float = 180.0) -> BacktestResult:
    opts = BacktestOptions(cadence="timer", duration_s=duration)
    return run_backtest(_settings(host, *sets), host, [store], opts)


@pytest.fixture(scope="module")
def kill_run(synthetic_store: Path) -> BacktestResult:
    h = PluginHost(load_entrypoints=False)
    return _run(h, synthetic_store, KILL)


def test_kill_switch_trip_is_in_the_first_line_json_and_plot(kill_run: BacktestResult) -> None:
    r = kill_run.report
    obs_trips = kill_run.session.observer.kill_trips  # the observer's own record
    assert obs_trips, "the crafted drawdown limit must trip the kill switch"
    start = r.run.start_ns if r.run is not None else -1
    trip_s = (obs_trips[0].ts - start) / NS_PER_S
    first = r.to_markdown().splitlines()[0]
    assert first.startswith("# mmkit backtest: HALTED by kill switch at")
    assert f"{trip_s:,.1f} s (MaxDrawdown)" in first
    js = json.loads(json.dumps(r.to_json()))
    run = js["run"]
    assert run["verdict"] == "halted"
    assert run["headline"] in first
    assert [t["t_s"] for t in run["kill_switch_trips"]] == pytest.approx([trip_s])
    assert run["kill_switch_trips"][0]["gate"] == obs_trips[0].gate
    # the switch latches: halted from the trip to the end of the data, and no quoting after it
    assert run["halted_s"] == pytest.approx(run["run_s"] - trip_s, abs=0.2)
    assert run["quoting_s"] <= trip_s - run["warmup_s"] + 1e-9
    # the sampled path confirms: nothing rests at the venue a second after the trip
    ts = (kill_run.path["ts"] - start) / NS_PER_S
    after = ts > trip_s + 1.0
    assert after.any()
    assert np.all(np.isnan(kill_run.path["bid"][after]) & np.isnan(kill_run.path["ask"][after]))
    # the plot draws the trip at its time and the halt from it to the end
    s = plot_series(kill_run)
    assert s["kill_trips"] == pytest.approx([trip_s])
    assert [a for a, _b in s["kill_spans"]] == pytest.approx([trip_s])
    assert s["kill_spans"][0][1] == pytest.approx(run["run_s"], abs=0.2)
    assert "HALTED" in s["headline"]


def test_plot_fill_markers_are_the_fills(kill_run: BacktestResult) -> None:
    s = plot_series(kill_run)
    fills = kill_run.fills
    assert len(fills) == kill_run.report.fills > 0
    buys = [f for f in fills if f.side is Side.BUY]
    sells = [f for f in fills if f.side is Side.SELL]
    assert s["fills_buy"]["px"].tolist() == [f.px for f in buys]
    assert s["fills_sell"]["px"].tolist() == [f.px for f in sells]
    assert s["fills_buy"]["t_s"].size == kill_run.report.fill_stats.fills_bid  # type: ignore[union-attr]
    # markers sit on the time axis of the path (within the run)
    t_all = np.concatenate((s["fills_buy"]["t_s"], s["fills_sell"]["t_s"]))
    assert t_all.min() >= 0 and t_all.max() <= s["t_s"][-1] + 1e-9
    # the equity drawn is the sampled path's
    assert np.array_equal(s["equity"], kill_run.path["equity"])


def test_plot_renders(kill_run: BacktestResult, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from mmkit.reports.backtest_plot import render

    out = render(plot_series(kill_run), tmp_path / "b.png")
    assert out.stat().st_size > 1000


def test_resting_quotes_sit_around_the_mid(kill_run: BacktestResult) -> None:
    """Post-only quotes rest on their own side of the market: bid below the mid, ask above."""
    p = kill_run.path
    bid_ok = np.isfinite(p["bid"])
    ask_ok = np.isfinite(p["ask"])
    assert bid_ok.any() and ask_ok.any()
    assert np.all(p["bid"][bid_ok] < p["mid"][bid_ok] + 0.1)
    assert np.all(p["ask"][ask_ok] > p["mid"][ask_ok] - 0.1)


def test_a_run_whose_component_faulted_is_faulted_not_ok(synthetic_store: Path) -> None:
    """The run above with an estimator that raises at every 25th estimate: it still quotes
    most of the time, but its verdict is ``faulted`` and its first line says so (before, it
    read "OK"); a sweep does not rank it."""
    from mmkit.sweep.outcome import outcome_of

    h = PluginHost(load_entrypoints=False, extra_modules=["tests.runtime.flaky_plugin"])
    sets = ['components.estimators=["kappa","sigma","warmup","flaky"]']
    res = _run(h, synthetic_store, *sets, duration=120.0)
    n = res.session.engine.fault_log.counts()["estimator flaky"]
    assert n > 0
    r = res.report
    assert r.run is not None and r.run.verdict == "faulted" and r.run.component_faults == n
    assert r.run.quoting_frac > 0.5  # it quoted: only the faults make it not ok
    title = r.to_markdown().splitlines()[0]
    assert title.startswith(f"# mmkit backtest: FAULTED: {n:,} component faults; quoted "), title
    assert f"COMPONENT FAULTS: {n:,} (estimator flaky {n:,})" in title
    out = outcome_of(r.to_json())
    assert out.verdict == "faulted" and out.excluded.startswith("faulted: ")


def test_ok_run_headline_and_shutdown_not_counted(host: PluginHost, synthetic_store: Path) -> None:
    res = _run(host, synthetic_store, duration=120.0)
    r = res.report
    assert r.run is not None and r.run.verdict == "ok"
    assert r.to_markdown().splitlines()[0].startswith("# mmkit backtest: OK: quoted ")
    # the observer's own halted time includes the warmup and the end-of-run shutdown ...
    hr = res.session.halt_report()
    assert hr.closed_s.get("engine", 0.0) > 0.0
    # ... the report's does not: shutdown is not a halt, warmup is reported apart
    assert r.run.halted_s < hr.halted_s
    assert all(c.gate != "engine" for c in r.run.gate_closures)
    assert r.run.warmup_ended_by in ("ready", "timeout")
    assert r.run.warmup_s == pytest.approx(r.run.run_s - r.run.post_warmup_s)
    assert 0.5 < r.run.quoting_frac <= 1.0
    # equity decomposition adds up, and the stats state their window
    pnl = r.pnl
    assert pnl["realized_trading_usd"] + pnl["fees_net_usd"] + pnl[
        "unrealized_inventory_usd"
    ] == pytest.approx(pnl["equity_usd"])
    assert r.stats is not None and r.stats.window_s == 60.0
    assert r.stats.n_windows < 30 and " of 60 s" in r.stats.caveat  # too few windows: said
    ind = equity_stats(res.path["ts"], res.path["equity"], window_s=60.0)
    assert r.stats.max_drawdown_usd == ind.max_drawdown_usd
    md = r.to_markdown()
    assert "| Sharpe (daily, from 60 s windows) |" in md
    assert "## gate and kill-switch timeline" in md


def test_never_quoting_run_says_so(host: PluginHost, synthetic_store: Path) -> None:
    res = _run(host, synthetic_store, "components.quoter=crossing", duration=60.0)
    r = res.report
    assert r.run is not None
    assert r.run.verdict == "never_quoted", r.run.headline
    assert r.to_markdown().splitlines()[0].startswith("# mmkit backtest: NEVER QUOTED")
    assert r.run.quoting_s == 0.0
    assert r.rejections_by_reason.get("post_only_would_cross", 0) > 0


def test_warmup_that_never_ends_says_so(host: PluginHost, synthetic_store: Path) -> None:
    res = _run(
        host,
        synthetic_store,
        "estimators.warmup.max_warmup_secs=100000",
        "estimators.warmup.min_trades=1000000000",
        duration=30.0,
    )
    r = res.report
    assert r.run is not None
    assert r.run.verdict == "warmup_only"
    assert r.run.warmup_ended_by == "never"
    assert r.run.warmup_data_frac == 1.0
    assert r.orders_sent == 0
    assert "WARMUP ONLY" in r.to_markdown().splitlines()[0]


def test_cli_json_and_first_line(synthetic_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = ["--no-entrypoints", "backtest", str(synthetic_store), "--cadence", "timer"]
    args += ["--duration", "90", "--set", KILL, "--out", str(out)]
    for s in FAST:
        args += ["--set", s]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code in (0, None)
    rep = json.loads((out / "report.json").read_text())
    assert rep["run"]["verdict"] == "halted"
    assert rep["run"]["kill_switch_trips"]
    assert rep["fills"] == rep["fill_stats"]["fills"]  # the old count key stays an int
    assert set(rep["fill_stats"]["markouts_bp"]) == {"1s", "5s", "30s", "60s"}
    assert "sharpe_daily" in rep["stats"] and "caveat" in rep["stats"]
    assert rep["rejections_by_reason"] == rep["rejection_reasons"]
    first = (out / "report.md").read_text().splitlines()[0]
    assert first == "# mmkit backtest: " + rep["run"]["headline"]
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in rep["run"].values())


@pytest.mark.slow
def test_usdm_btc_quotes_most_of_the_post_warmup_time(shared_data: Path) -> None:
    """Default settings plus a 30 s warmup on the USD-M BTC capture: both sides rest at the
    venue for more than 80% of the time after warmup, and nothing halts the run."""
    data = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    if not data.is_file():
        pytest.skip(f"{data} is not available")
    h = PluginHost(load_entrypoints=False)
    s = load_settings(None, h.registry, env={}, sets=["estimators.warmup.max_warmup_secs=30"])
    res = run_backtest(s, h, [data], BacktestOptions())
    run = res.report.run
    assert run is not None
    assert run.verdict == "ok", run.headline
    assert run.warmup_s <= 30.0 + 1.0
    assert run.post_warmup_s > 300.0  # the 345 s capture is not eaten by warmup
    assert run.quoting_frac > 0.8, run.headline
    assert not run.kill_switch_trips


def test_without_warmup_estimator_the_report_says_so(
    host: PluginHost, synthetic_store: Path
) -> None:
    res = _run(
        host,
        synthetic_store,
        'components.estimators=["kappa","sigma"]',
        'components.gates=["kill_switch"]',
        duration=60.0,
    )
    run = res.report.run
    assert run is not None
    assert run.warmup_ended_by == "none" and run.warmup_s == 0.0
    assert "no warmup estimator" in run.headline
    assert run.post_warmup_s == pytest.approx(run.run_s)
