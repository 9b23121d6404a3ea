"""Sweeps of real backtests: a run the kill switch halts is listed but not ranked, and on the
USD-M BTC capture a gamma sweep gives one distinct row per gamma (none of them halted)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmkit.core.types import Instrument
from mmkit.data.params import SyntheticParams
from mmkit.data.store import write_store
from mmkit.data.synthetic import generate_chunks, resolve, store_meta
from mmkit.sweep.grid import parse_sweep
from mmkit.sweep.run import make_tasks, run_local

SETS = ("estimators.warmup.max_warmup_secs=5", "instrument.tick=0.1")
TINY = 0.001  # USD of drawdown: the first adverse tick after the first fill trips the switch


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = resolve(
        SyntheticParams(duration_s=90.0, seed=5, tick=0.1, lot=0.001, A=3.0), Instrument(), 5
    )
    path = tmp_path_factory.mktemp("halt") / "syn.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    return path


def test_the_halted_run_is_not_ranked_even_with_the_smallest_drawdown(store: Path) -> None:
    spec = parse_sweep(
        {
            "sweep": {"cadence": "timer", "duration_s": 60, "metric": "-max_drawdown"},
            "grid": {"gates.kill_switch.max_drawdown_usd": [TINY, 1000.0]},
        },
        "t",
    )
    res = run_local(spec, make_tasks(spec, [store], sets=SETS))
    by = {r["params"]["gates.kill_switch.max_drawdown_usd"]: r for r in res.rows}
    halted, ran = by[TINY], by[1000.0]
    # the halted run stopped trading early: its drawdown is at most the tiny limit plus one
    # move, smaller than the full run's, so ranking by -max_drawdown alone would pick it
    assert halted["report"]["max_drawdown"] < ran["report"]["max_drawdown"]
    assert halted["outcome"]["verdict"] == "halted"
    assert halted["outcome"]["kill_switch_trips"] >= 1
    assert halted["rank"] is None
    assert halted["unranked"].startswith("halted: kill switch tripped at ")
    assert "MaxDrawdown" in halted["unranked"]
    assert halted["outcome"]["headline"].startswith("HALTED")
    assert ran["rank"] == 1 and ran["outcome"]["verdict"] == "ok"
    assert ran["outcome"]["quoting_frac"] is not None and ran["outcome"]["quoting_frac"] > 0.5
    assert res.best is ran
    assert res.best_overlay() == {"gates": {"kill_switch": {"max_drawdown_usd": 1000.0}}}
    # the same facts as the engine kept them (the worker's fallback for older reports)
    assert halted["engine"]["kill_switch_trips"][0]["reason"] == "MaxDrawdown"
    assert ran["engine"]["kill_switch_trips"] == []


@pytest.mark.slow
def test_cli_on_a_local_dask_cluster_lists_the_halted_run_and_writes_the_other(
    store: Path, tmp_path: Path
) -> None:
    pytest.importorskip("dask.distributed")
    from mmkit.cli.main import build_app

    grid = tmp_path / "sweep.toml"
    grid.write_text(
        '[sweep]\ncadence = "timer"\nduration_s = 60\n'
        f'[grid]\n"gates.kill_switch.max_drawdown_usd" = [{TINY}, 1000.0]\n'
    )
    out = tmp_path / "best.toml"
    args = ["--no-entrypoints", "sweep", str(store), "--grid", str(grid), "--workers", "1"]
    args += ["-o", str(out), *(x for s in SETS for x in ("--set", s))]
    res = CliRunner().invoke(build_app(args), args)
    assert res.exit_code == 0, res.output
    assert "2 runs ranked by equity (1 ranked, 1 not ranked)" in res.output
    assert "not ranked: 1 of 2 runs: 1 halted" in res.output
    halted_line = next(ln for ln in res.output.splitlines() if ln.startswith("- "))
    assert "halted" in halted_line and "not ranked: halted: kill switch tripped" in halted_line
    assert tomllib.loads(out.read_text()) == {
        "gates": {"kill_switch": {"max_drawdown_usd": 1000.0}}
    }
    saved = json.loads(out.with_suffix(".results.json").read_text())
    assert saved["ranked"] == 1
    assert [r["outcome"]["verdict"] for r in saved["rows"]] == ["ok", "halted"]


@pytest.mark.slow
def test_gamma_sweep_on_the_usdm_btc_capture_gives_three_distinct_rows(
    shared_data: Path, tmp_path: Path
) -> None:
    pytest.importorskip("dask.distributed")
    from mmkit.cli.main import build_app

    data = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    if not data.is_file():
        pytest.skip(f"{data} is not available")
    grid = tmp_path / "sweep.toml"
    grid.write_text(
        '[sweep]\ncadence = "timer"\n[grid]\n"quoters.glft.gamma" = [10.0, 50.0, 100.0]\n'
    )
    out = tmp_path / "best.toml"
    args = ["--no-entrypoints", "sweep", str(data), "--grid", str(grid), "--workers", "2"]
    args += ["--set", "estimators.warmup.max_warmup_secs=30", "-o", str(out)]
    res = CliRunner().invoke(build_app(args), args)
    assert res.exit_code == 0, res.output
    rows = json.loads(out.with_suffix(".results.json").read_text())["rows"]
    assert sorted(r["params"]["quoters.glft.gamma"] for r in rows) == [10.0, 50.0, 100.0]
    for r in rows:  # every run traded: none halted, each quoted most of the time after warmup
        assert r["outcome"]["verdict"] == "ok", r["outcome"]["headline"]
        assert r["outcome"]["kill_switch_trips"] == 0
        assert r["rank"] is not None
    # three different rows: the objective and the fills differ from one gamma to the next
    assert len({r["report"]["equity"] for r in rows}) == 3
    assert len({r["report"]["fills"] for r in rows}) == 3
    assert not any(r["tie"] for r in rows)
    best = tomllib.loads(out.read_text())["quoters"]["glft"]["gamma"]
    assert best == max(rows, key=lambda r: r["report"]["equity"])["params"]["quoters.glft.gamma"]
