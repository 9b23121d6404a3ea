"""Sweep files parse strictly; a sweep runs on a 2-worker local Dask cluster and ranks runs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.types import Instrument
from mmkit.data.params import SyntheticParams
from mmkit.data.store import write_store
from mmkit.data.synthetic import generate_chunks, resolve, store_meta
from mmkit.errors import ConfigError
from mmkit.sweep.grid import nested, parse_sweep
from mmkit.sweep.run import make_tasks, rank, run_local

SETS = ("estimators.warmup.max_warmup_secs=5", "instrument.tick=0.1")


def test_grid_expands_every_combination() -> None:
    spec = parse_sweep({"grid": {"a.b.c": [1, 2, 3], "a.b.d": ["x", "y"]}}, "t")
    combos = spec.combinations()
    assert len(combos) == 6
    assert {"a.b.c": 3, "a.b.d": "y"} in combos


def test_random_search_is_seeded_and_in_range() -> None:
    data = {
        "sweep": {"mode": "random", "samples": 30, "seed": 4},
        "random": {"x.y.g": {"low": 1.0, "high": 100.0, "log": True}, "x.y.n": [1, 2]},
    }
    a = parse_sweep(data, "t").combinations()
    assert a == parse_sweep(data, "t").combinations()
    assert all(1.0 <= c["x.y.g"] <= 100.0 and c["x.y.n"] in (1, 2) for c in a)


@pytest.mark.parametrize(
    "bad",
    [
        {"grid": {}},
        {"grid": {"a.b": 3}},
        {"sweep": {"mode": "nope"}, "grid": {"a.b": [1]}},
        {"sweep": {"metric": "luck"}, "grid": {"a.b": [1]}},
        {"sweep": {"bogus": 1}, "grid": {"a.b": [1]}},
        {"extra": {}, "grid": {"a.b": [1]}},
        {"sweep": {"mode": "random"}, "random": {"a.b": {"low": 2, "high": 1}}},
        {"sweep": {"mode": "random"}, "random": {"a.b": {"low": 0, "high": 1, "log": True}}},
    ],
)
def test_bad_sweep_files_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse_sweep(bad, "sweep.toml")


def test_removed_kernel_cadence_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_sweep({"sweep": {"cadence": "kernel"}, "grid": {"a.b": [1]}}, "sweep.toml")
    (problem,) = exc.value.problems
    assert problem.startswith("sweep.toml: [sweep] cadence 'kernel' was removed")
    assert "use 'timer'" in problem
    ok = parse_sweep({"sweep": {"cadence": "event"}, "grid": {"a.b": [1]}}, "t")
    assert ok.cadence == "event"


_values = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.booleans())
_tables = st.dictionaries(
    st.text(max_size=8),
    st.one_of(
        _values,
        st.lists(_values, max_size=3),
        st.dictionaries(st.text(max_size=5), _values, max_size=3),
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["sweep", "grid", "random", "other"]), _tables, max_size=3))
def test_parser_raises_only_config_errors(data: dict[str, Any]) -> None:
    try:
        spec = parse_sweep(data, "fuzz.toml")
        spec.combinations()
    except ConfigError:
        pass


def test_bad_combination_is_refused_before_running(tmp_path: Path) -> None:
    spec = parse_sweep({"grid": {"quoters.glft.gamma": [-1.0]}}, "t")
    with pytest.raises(ConfigError, match="gamma") as exc:
        make_tasks(spec, [tmp_path / "x.parquet"], sets=SETS)
    # said to come from the grid (it was "command line option for quoters.glft.gamma")
    text = "\n".join(exc.value.problems)
    assert "the sweep grid's value for quoters.glft.gamma" in text
    assert "command line option" not in text


def test_rank_orders_by_metric_and_sign() -> None:
    rows = [
        {"index": i, "params": {}, "report": {"equity": e, "max_drawdown": d}}
        for i, (e, d) in enumerate([(1.0, 3.0), (5.0, 1.0), (None, 0.5)])
    ]
    spec = parse_sweep({"grid": {"a.b": [1]}}, "t")
    assert [r["index"] for r in rank(spec, rows)] == [1, 0, 2]
    spec = parse_sweep({"sweep": {"metric": "-max_drawdown"}, "grid": {"a.b": [1]}}, "t")
    assert [r["index"] for r in rank(spec, rows)] == [2, 1, 0]
    assert nested({"a.b.c": 1, "a.d": 2}) == {"a": {"b": {"c": 1}, "d": 2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = resolve(
        SyntheticParams(duration_s=180.0, seed=5, tick=0.1, lot=0.001, A=3.0), Instrument(), 5
    )
    path = tmp_path_factory.mktemp("sw") / "syn.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    return path


@pytest.mark.slow
def test_sweep_on_two_local_dask_workers_matches_serial(store: Path) -> None:
    pytest.importorskip("dask.distributed")
    from mmkit.sweep.cluster import dask_client
    from mmkit.sweep.run import run_sweep

    spec = parse_sweep(
        {
            "sweep": {"cadence": "timer", "duration_s": 120},
            "grid": {"quoters.glft.gamma": [10.0, 100.0], "quoters.glft.levels": [1, 2]},
        },
        "t",
    )
    tasks = make_tasks(spec, [store], sets=SETS)
    with dask_client(None, workers=2) as client:
        info = client.scheduler_info()
        assert len(info["workers"]) == 2
        assert all("127.0.0.1" in w for w in info["workers"])
        res = run_sweep(spec, tasks, client)
    serial = run_local(spec, tasks)
    assert [r["index"] for r in res.rows] == [r["index"] for r in serial.rows]
    assert [r["report"]["equity"] for r in res.rows] == [r["report"]["equity"] for r in serial.rows]
    best = res.best_overlay()
    assert set(best["quoters"]["glft"]) == {"gamma", "levels"}
    tomllib.loads(__import__("tomli_w").dumps(best))


@pytest.mark.slow
def test_existing_scheduler_is_used_unchanged(store: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    from mmkit.sweep.cluster import dask_client
    from mmkit.sweep.run import run_sweep

    spec = parse_sweep(
        {
            "sweep": {"cadence": "timer", "duration_s": 60},
            "grid": {"quoters.glft.gamma": [1.0, 9.0]},
        },
        "t",
    )
    tasks = make_tasks(spec, [store], sets=SETS)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        with dask_client(cluster.scheduler_address) as client:
            res = run_sweep(spec, tasks, client)
        assert len(cluster.scheduler.workers) == 1  # still running: not shut down by the sweep
    assert sorted(r["index"] for r in res.rows) == [0, 1]


def test_sweep_runs_read_and_keep_the_converted_market(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timer sweep's runs share one converted market through mmkit's cache, unless
    --no-market-cache; the figures are the same either way."""
    from mmkit.data import market_cache

    monkeypatch.setenv("MMKIT_CACHE_DIR", str(tmp_path / "cache"))
    spec = parse_sweep(
        {"sweep": {"cadence": "timer", "duration_s": 60}, "grid": {"quoters.glft.gamma": [1, 9]}},
        "t",
    )
    on = run_local(spec, make_tasks(spec, [store], sets=SETS))
    assert [e.sources for e in market_cache.entries()] == [(str(store.resolve()),)]
    hits = [r["report"]["timing"]["market_from_cache"] for r in on.rows]
    assert sorted(hits) == [0.0, 1.0]  # the first run converted, the second read it
    market_cache.clear()
    off = run_local(spec, make_tasks(spec, [store], sets=SETS, market_cache=False))
    assert market_cache.entries() == []

    def figures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r["report"].items() if k != "timing"} for r in rows]

    assert figures(on.rows) == figures(off.rows)


@pytest.mark.slow
def test_a_local_sweep_converts_the_market_once_before_its_runs(
    store: Path, tmp_path: Path
) -> None:
    """`mmkit sweep` on a local cluster fills the cache before the runs, so every run reads
    the market from it (none of the first wave converts it); --no-market-cache none."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("dask.distributed")
    grid = tmp_path / "g.toml"
    grid.write_text(
        '[sweep]\ncadence = "timer"\nduration_s = 30\n\n[grid]\n"quoters.glft.gamma" = [1, 9]\n'
    )
    env = {**os.environ, "MMKIT_CACHE_DIR": str(tmp_path / "cache")}

    def sweep(*extra: str) -> list[float]:
        out = tmp_path / "best.toml"
        cmd = [sys.executable, "-m", "mmkit", "sweep", str(store), "--grid", str(grid)]
        cmd += ["--workers", "1", "--out", str(out), *[f"--set={s}" for s in SETS], *extra]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        assert p.returncode == 0, p.stderr[-2000:]
        rows = json.loads(out.with_suffix(".results.json").read_text())["rows"]
        return [r["report"]["timing"]["market_from_cache"] for r in rows]

    assert sweep("--no-market-cache") == [0.0, 0.0]
    assert not (tmp_path / "cache" / "markets").exists()
    assert sweep() == [1.0, 1.0]
