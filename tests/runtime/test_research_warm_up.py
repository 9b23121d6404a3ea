"""The research commands (``backtest``, ``calibrate``, ``sweep``) compile their cold kernel
groups before they run, with the progress display on stderr; a warm cache shows nothing.

No real cold compile happens here: the warm-up's worker processes are fakes that end at
once (the real ``Popen`` is kept for anything else), and the stamps live in a temporary
directory so the test decides what is cold."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from mmkit.runtime import precompile


def _host(*sources: str) -> Any:
    info = {f"p{i}": SimpleNamespace(module=f"mod{i}", source=s) for i, s in enumerate(sources)}
    return SimpleNamespace(info=info)


def _settings(venue: str = "sim") -> Any:
    merged = {"components": {"venue": venue}}
    return SimpleNamespace(components=SimpleNamespace(venue=venue), merged_full=lambda: merged)


# -- the helper -------------------------------------------------------------------------------


@given(
    command=st.sampled_from(sorted(precompile.COMMAND_GROUPS)),
    venue=st.sampled_from(["sim", "hyperliquid", "toy"]),
    show=st.booleans(),
    sources=st.lists(st.sampled_from(["builtin", "entrypoint", "module"]), max_size=4),
)
def test_the_helper_asks_for_the_commands_groups_with_the_runs_config_and_plugins(
    command: str, venue: str, show: bool, sources: list[str]
) -> None:
    calls: list[dict[str, Any]] = []

    def fake(merged: dict[str, Any], **kw: Any) -> float:
        calls.append({"merged": merged, **kw})
        return 1.5

    stream = io.StringIO()
    settings = _settings(venue)
    spent = precompile.warm_up_for_command(
        command, settings, _host(*sources), show=show, stream=stream, warm=fake
    )
    assert spent == 1.5 and len(calls) == 1
    call = calls[0]
    assert call["merged"] == {"components": {"venue": venue}}
    # backtest and sweep drive the simulated exchange: its group only when it is the venue
    want = {
        "trade": {"venue", "market", "twins", "quoter"},
        "backtest": {"venue", "market", "twins", "quoter"},
        "sweep": {"venue", "market", "twins", "quoter"},
    }.get(command, {"market", "twins"})
    if venue != "sim":
        want -= {"venue"}
    assert set(call["groups"]) == want and len(call["groups"]) == len(want)
    assert call["stream"] is (stream if show else None)
    assert call["plugins"] == [f"mod{i}" for i, s in enumerate(sources) if s != "builtin"]


@pytest.mark.parametrize(("venue", "sim_group"), [("hyperliquid", False), ("sim", True)])
def test_the_venue_traded_on_decides_the_exchange_group(venue: str, sim_group: bool) -> None:
    """Live trading with ``--url`` over a config that names ``sim``: the run trades on the
    live venue, so the simulated exchange's kernels are not compiled for it."""
    seen: list[Any] = []
    precompile.warm_up_for_command(
        "trade",
        _settings("sim"),
        _host(),
        warm=lambda m, **kw: seen.append(kw["groups"]),
        venue=venue,
    )
    assert ("venue" in seen[0]) is sim_group and "twins" in seen[0]


def test_the_display_goes_to_stderr_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    seen: list[Any] = []
    precompile.warm_up_for_command(
        "backtest", _settings(), _host(), warm=lambda m, **kw: seen.append(kw["stream"])
    )
    assert seen == [err]


def test_an_unknown_command_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'journal'.*backtest"):
        precompile.warm_up_for_command("journal", _settings(), _host(), warm=lambda m, **k: None)


def test_cold_groups_compile_once_with_a_progress_report_then_nothing(
    cold: list[list[str]],
) -> None:
    first, second = io.StringIO(), io.StringIO()
    assert precompile.warm_up_for_command("calibrate", _settings(), _host(), stream=first)
    assert [c[3] for c in cold] == ["market", "twins"]
    lines = first.getvalue().splitlines()
    assert len(lines) == 2 and "market, twins" in lines[0] and "expected ~" in lines[0]
    assert precompile.cold_groups() == ["venue", "quoter"]  # calibrate quotes nothing
    assert precompile.warm_up_for_command("calibrate", _settings(), _host(), stream=second) is None
    assert second.getvalue() == "" and len(cold) == 2  # one worker per group, none the second time


# -- the commands -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mmkit.core.types import Instrument
    from mmkit.data.params import SyntheticParams
    from mmkit.data.store import write_store
    from mmkit.data.synthetic import generate_chunks, resolve, store_meta

    p = resolve(
        SyntheticParams(duration_s=30.0, seed=7, tick=0.1, lot=0.001, A=3.0), Instrument(), 7
    )
    path = tmp_path_factory.mktemp("warm") / "syn.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    return path


def _invoke(args: list[str]) -> Any:
    from mmkit.cli.main import build_app

    args = ["--no-entrypoints", *args]
    return CliRunner().invoke(build_app(args), args)


SETS = ["--set", "estimators.warmup.max_warmup_secs=5", "--set", "instrument.tick=0.1"]


def test_backtest_json_cold_then_warm(store: Path, cold: list[list[str]]) -> None:
    res = _invoke(["backtest", str(store), "--json", "--duration", "20", *SETS])
    assert res.exit_code == 0, res.output
    assert sorted(c[3] for c in cold) == ["market", "quoter", "twins", "venue"]
    json.loads(res.stdout)  # stdout is the JSON report and nothing else
    progress = [ln for ln in res.stderr.splitlines() if "compil" in ln]
    assert len(progress) == 2  # off a terminal: a start line and an end line
    assert "venue, market, twins, quoter" in progress[0] and "expected ~" in progress[0]
    assert precompile.cold_groups() == []
    again = _invoke(["backtest", str(store), "--json", "--duration", "20", *SETS])
    assert again.exit_code == 0, again.output
    assert len(cold) == 4  # warm: no worker started (the first run started four)
    assert "compil" not in again.stderr
    first, second = json.loads(res.stdout), json.loads(again.stdout)
    first.pop("timing"), second.pop("timing")  # wall-clock seconds differ run to run
    assert first == second  # the warm-up changes nothing in what the run computes


def test_calibrate_warms_the_estimators_and_no_progress_keeps_it_quiet(
    store: Path, cold: list[list[str]], tmp_path: Path
) -> None:
    out = tmp_path / "cal.toml"
    res = _invoke(["calibrate", str(store), "-o", str(out), "--no-progress", *SETS])
    assert res.exit_code == 0, res.output
    assert [c[3] for c in cold] == ["market", "twins"]
    assert "compil" not in res.stderr and "compil" not in res.stdout
    assert precompile.cold_groups() == ["venue", "quoter"]


def test_calibrate_without_the_engine_compiles_nothing_ahead(
    store: Path, cold: list[list[str]], tmp_path: Path
) -> None:
    res = _invoke(["calibrate", str(store), "-o", str(tmp_path / "c.toml"), "--no-engine", *SETS])
    assert res.exit_code == 0, res.output
    assert cold == []


class _Stop(Exception):
    """Raised by the fake cluster: the test has seen what it needs."""


@pytest.mark.parametrize("scheduler", [None, "tcp://127.0.0.1:1"])
def test_sweep_warms_before_its_local_cluster_starts(
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scheduler: str | None,
) -> None:
    order: list[str] = []

    def fake_warm(merged: dict[str, Any], **kw: Any) -> float:
        order.append("warm:" + ",".join(kw["groups"]))
        assert kw["stream"] is not None
        return 0.0

    @contextlib.contextmanager
    def fake_cluster(sched: str | None, workers: int | None) -> Iterator[None]:
        order.append("cluster")
        raise _Stop
        yield  # pragma: no cover

    monkeypatch.setattr(precompile, "warm_up", fake_warm)
    monkeypatch.setattr("mmkit.sweep.cluster.dask_client", fake_cluster)
    grid = tmp_path / "sweep.toml"
    key = '"gates.kill_switch.max_drawdown_usd"'
    grid.write_text(f'[sweep]\ncadence = "timer"\n[grid]\n{key} = [10.0, 1000.0]\n')
    args = ["sweep", str(store), "--grid", str(grid), *SETS]
    if scheduler:
        args += ["--scheduler", scheduler]
    res = _invoke(args)
    assert isinstance(res.exception, _Stop), res.output
    # an existing scheduler's workers may be elsewhere: no local warm-up for them
    assert order == (["cluster"] if scheduler else ["warm:venue,market,twins,quoter", "cluster"])


@pytest.mark.parametrize("command", ["backtest", "calibrate", "sweep"])
@pytest.mark.parametrize("bad", ["missing", "empty", "directory"])
def test_bad_data_is_said_before_anything_compiles(
    command: str, bad: str, tmp_path: Path, cold: list[list[str]]
) -> None:
    """A first run on a missing, empty or directory DATA argument tells so at once: no
    worker starts compiling (seconds, on a cold cache) before the error."""
    data = tmp_path / "input.parquet"
    if bad == "empty":
        data.write_bytes(b"")
    elif bad == "directory":
        data.mkdir()
    args = [command, str(data)]
    if command == "sweep":
        grid = tmp_path / "sweep.toml"
        grid.write_text('[grid]\n"quoters.glft.gamma" = [10.0, 50.0]\n')
        args += ["--grid", str(grid)]
    if command == "calibrate":
        args += ["--out", str(tmp_path / "out")]
    from mmkit.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main(["--no-entrypoints", *args])
    text = err.getvalue()
    assert exit_.value.code == 2, text
    assert text.startswith("error: ") and "input.parquet" in text, text
    assert cold == [] and "compil" not in text


def test_a_live_session_without_a_key_is_refused_before_anything_compiles(
    tmp_path: Path, cold: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mmkit trade --venue hyperliquid`` with no signing key: the refusal comes at once,
    not after a cold cache's kernel warm-up (the venue is built, not connected, first)."""
    from mmkit.cli.main import main

    monkeypatch.delenv("MMKIT_PRIVATE_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    args = ["--no-entrypoints", "trade", "--venue", "hyperliquid", "--no-journal"]
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main([*args, "--duration", "1", "--no-dashboard"])
    text = err.getvalue()
    assert exit_.value.code == 2, text
    assert "MMKIT_PRIVATE_KEY" in text, text
    assert cold == [] and "compil" not in text
