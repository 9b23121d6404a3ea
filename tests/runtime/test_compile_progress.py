"""The progress display of a cold first run's kernel compile, driven by a fake clock on a
string stream: a live line on a terminal, exactly two lines off one, nothing when warm."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.runtime import precompile
from mmkit.runtime.progress import ERASE_EOL, CompileProgress


class FakeClock:
    """Monotonic seconds that only move when the test (or a fake process) moves them."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress(stream: io.StringIO, clock: FakeClock, **kw: Any) -> CompileProgress:
    kw.setdefault("expected_s", 12.0)
    kw.setdefault("basis", "2 cores; measured on a 2-core machine")
    return CompileProgress(stream, ["venue", "market"], clock=clock, **kw)


def test_off_a_terminal_exactly_one_line_at_start_and_one_at_the_end() -> None:
    clock, out = FakeClock(), io.StringIO()
    p = _progress(out, clock)
    assert not p.live  # StringIO is not a terminal
    p.start()
    for _ in range(50):
        clock.advance(0.3)
        p.update()
    p.group_done("market", True)
    clock.advance(2.5)
    p.group_done("venue", True)
    p.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and out.getvalue().endswith("\n")
    assert "\r" not in out.getvalue() and ERASE_EOL not in out.getvalue()
    assert "venue, market" in lines[0] and "expected ~12 s" in lines[0]
    assert "2 cores" in lines[0]
    # the end line reports what the fake clock measured: market at 15 s, venue at 17.5 s
    assert "in 17.5 s" in lines[1]
    assert "venue 17.5 s" in lines[1] and "market 15.0 s" in lines[1]
    assert "failed" not in lines[1].lower()


def test_on_a_terminal_one_live_line_rewritten_at_the_refresh_rate() -> None:
    clock, out = FakeClock(), TtyStream()
    p = _progress(out, clock, refresh_s=0.5, columns=300)
    assert p.live
    p.start()
    draws = out.getvalue().count("\r")
    assert draws == 1 and "compiling (first run) 0 s of ~12 s |" in out.getvalue()
    clock.advance(0.2)
    p.update()  # too soon: nothing drawn
    assert out.getvalue().count("\r") == draws
    clock.advance(0.3)
    p.update()
    assert out.getvalue().count("\r") == draws + 1
    clock.advance(4.5)
    p.update()
    assert "run) 5 s of ~12 s | venue compiling, market compiling" in out.getvalue()
    p.group_done("market", True)  # a group ending redraws at once
    assert out.getvalue().count("\r") == draws + 3
    assert (
        out.getvalue()
        .rsplit("\r", 1)[1]
        .startswith(
            "mmkit: compiling (first run) 5 s of ~12 s | venue compiling, market done 5.0 s"
        )
    )
    assert "\n" not in out.getvalue()  # one line, rewritten in place
    clock.advance(3.0)
    p.group_done("venue", True)
    line = p.finish()
    text = out.getvalue()
    assert text.endswith(line + ERASE_EOL + "\n") and text.count("\n") == 1
    assert "in 8.0 s (venue 8.0 s, market 5.0 s; expected ~12 s)" in line


def test_the_live_line_says_when_it_runs_past_the_expected_time() -> None:
    clock, out = FakeClock(), TtyStream()
    p = _progress(out, clock, expected_s=10.0, columns=300)
    p.start()
    clock.advance(9.0)
    assert "9 s of ~10 s |" in p.live_line()
    clock.advance(2.5)  # within the estimate's margin (2 s or 20 %): not yet an overrun
    assert "12 s of ~10 s |" in p.live_line()
    clock.advance(-2.5)
    clock.advance(6.0)
    assert "15 s, expected ~10 s (busy machine?) |" in p.live_line()
    assert "of ~10 s" not in p.live_line()


def test_a_failed_group_is_named_with_its_reason() -> None:
    clock, out = FakeClock(), io.StringIO()
    p = _progress(out, clock)
    p.start()
    clock.advance(3.0)
    p.group_done("venue", False, "TypingError: boom")
    p.group_done("market", True)
    assert p.finish() == out.getvalue().splitlines()[-1]
    end = out.getvalue().splitlines()[-1]
    assert "venue failed" in end and "market 3.0 s" in end
    assert "Failed: venue: TypingError: boom" in end


def test_a_group_that_never_reported_is_not_counted_as_done() -> None:
    clock, out = FakeClock(), io.StringIO()
    p = _progress(out, clock)
    p.start()
    p.group_done("venue", True)
    end = p.finish()
    assert "market failed" in end and "did not finish" in end


def test_unknown_group_and_empty_group_list_are_errors() -> None:
    clock, out = FakeClock(), io.StringIO()
    p = _progress(out, clock)
    with pytest.raises(ValueError, match="nope"):
        p.group_done("nope", True)
    with pytest.raises(ValueError, match="at least one group"):
        CompileProgress(out, [], expected_s=1.0, basis="x")


def test_a_broken_stream_does_not_break_the_run() -> None:
    out = TtyStream()
    out.close()
    p = CompileProgress(out, ["venue"], expected_s=1.0, basis="x", live=True, clock=FakeClock())
    p.start()
    p.update()
    p.group_done("venue", True)
    assert "venue" in p.finish()


@given(
    columns=st.integers(20, 200),
    elapsed=st.floats(0.0, 1e5, allow_nan=False),
    expected=st.floats(0.0, 1e4, allow_nan=False),
    names=st.lists(
        st.text("abcdefghij_", min_size=1, max_size=30), min_size=1, max_size=4, unique=True
    ),
)
def test_every_live_draw_fits_the_terminal_and_is_one_line(
    columns: int, elapsed: float, expected: float, names: list[str]
) -> None:
    """A line as wide as the terminal would wrap, and ``\\r`` cannot rewrite a wrapped line."""
    clock, out = FakeClock(), TtyStream()
    p = CompileProgress(out, names, expected_s=expected, basis="b", clock=clock, columns=columns)
    p.start()
    clock.advance(elapsed)
    p.group_done(names[0], True)
    for draw in out.getvalue().split("\r")[1:]:
        assert draw.endswith(ERASE_EOL) and "\n" not in draw
        assert len(draw) - len(ERASE_EOL) < columns


# -- expected time --------------------------------------------------------------------------


def test_expected_time_on_two_cores_is_the_longer_group() -> None:
    m, s = precompile.MEASURED_CPU_S, precompile.WORKER_START_S
    two = precompile.expected_wall_s(["venue", "market"], cores=2)
    assert two == pytest.approx(max(m["venue"], m["market"]) + s)
    one = precompile.expected_wall_s(["venue", "market"], cores=1)
    assert one == pytest.approx(m["venue"] + m["market"] + 2 * s)
    assert precompile.expected_wall_s(["market"], cores=8) == pytest.approx(m["market"] + s)


@given(
    cores=st.integers(1, 64),
    groups=st.lists(st.sampled_from(sorted(precompile.GROUPS)), min_size=1, unique=True),
)
def test_expected_time_is_between_the_longest_group_and_the_serial_sum(
    cores: int, groups: list[str]
) -> None:
    costs = [precompile.MEASURED_CPU_S[g] + precompile.WORKER_START_S for g in groups]
    got = precompile.expected_wall_s(groups, cores=cores)
    assert max(costs) - 1e-9 <= got <= sum(costs) + 1e-9
    assert precompile.expected_wall_s(groups, cores=cores + 1) <= got + 1e-9


def test_every_group_has_a_measured_compile_time() -> None:
    assert set(precompile.MEASURED_CPU_S) == set(precompile.GROUPS)
    assert all(v > 0 for v in precompile.MEASURED_CPU_S.values())


# -- warm_up drives the display ---------------------------------------------------------------


class FakeProc:
    """A worker that ends ``after_s`` fake seconds after it started, with ``rc``."""

    def __init__(self, clock: FakeClock, after_s: float, rc: int, stderr: str, fh: Any) -> None:
        self.clock = clock
        self.end = clock() + after_s
        self.rc = rc
        self.returncode: int | None = None
        self.killed = False
        fh.write(stderr.encode())

    def poll(self) -> int | None:
        if self.returncode is None and self.clock() >= self.end:
            self.returncode = self.rc
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is not None:
            return self.rc if self.returncode is None else self.returncode
        if timeout is None or self.killed:
            self.clock.t = max(self.clock.t, self.end)
            return self.poll() or 0
        step = min(timeout, self.end - self.clock())
        self.clock.advance(step)
        if self.poll() is None:
            raise subprocess.TimeoutExpired("fake", timeout)
        return self.returncode or 0

    def kill(self) -> None:
        self.killed = True
        self.returncode = -9


def _fake_workers(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, plan: dict[str, tuple[float, int, str]]
) -> list[str]:
    started: list[str] = []

    def popen(cmd: list[str], **kw: Any) -> FakeProc:
        group = cmd[3]
        started.append(group)
        after, rc, err = plan[group]
        return FakeProc(clock, after, rc, err, kw["stderr"])

    monkeypatch.setattr(subprocess, "Popen", popen)
    return started


@pytest.fixture
def stamps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    return tmp_path


def _groups(**given: tuple[float, int, str]) -> dict[str, tuple[float, int, str]]:
    """(seconds, exit status, stderr) of a fake worker for every group: ``given``'s, and a
    one-second success for the others."""
    return {g: given.get(g, (1.0, 0, "")) for g in precompile.GROUPS}


def test_warm_up_reports_each_group_and_stamps_only_the_successful_ones(
    stamps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, out = FakeClock(), io.StringIO()
    started = _fake_workers(
        monkeypatch,
        clock,
        _groups(
            venue=(9.0, 0, ""),
            market=(4.0, 1, "numba noise\nTypingError: no market\n"),
            twins=(3.0, 0, ""),
        ),
    )
    spent = precompile.warm_up({}, stream=out, clock=clock)
    assert started == ["venue", "market", "twins", "quoter"]
    assert spent == pytest.approx(9.0, abs=precompile._POLL_S + 1e-9)
    assert precompile.cold_groups() == ["market"]  # the failed group stays cold
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # off a terminal
    assert "expected ~" in lines[0]
    assert "venue 9.0 s" in lines[1] and "market failed" in lines[1]
    assert "TypingError: no market" in lines[1]


def test_warm_up_on_a_terminal_shows_the_groups_finishing(
    stamps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, out = FakeClock(), TtyStream()
    _fake_workers(
        monkeypatch,
        clock,
        _groups(venue=(6.0, 0, ""), market=(2.0, 0, ""), twins=(3.0, 0, "")),
    )
    precompile.warm_up({}, stream=out, clock=clock)
    draws = out.getvalue().split("\r")[1:]
    assert len(draws) > 10  # the line was refreshed while the fake workers ran
    assert any("market done 2.0 s" in d and "venue compiling" in d for d in draws)
    elapsed = [int(m) for d in draws for m in re.findall(r"run\) (\d+) s of", d)]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 5  # the clock only moves forward
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1
    assert precompile.cold_groups() == []


def test_warm_up_kills_a_worker_past_the_timeout(
    stamps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, out = FakeClock(), io.StringIO()
    _fake_workers(
        monkeypatch,
        clock,
        _groups(venue=(1e6, 0, "")),
    )
    spent = precompile.warm_up({}, stream=out, clock=clock, timeout_s=30.0)
    assert spent is not None and 30.0 <= spent < 31.0
    assert precompile.cold_groups() == ["venue"]
    assert "timed out after 30 s" in out.getvalue()


def test_a_warm_cache_shows_nothing(stamps: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for g in precompile.GROUPS:
        assert precompile.write_stamp(g)

    def no_workers(*a: Any, **k: Any) -> None:
        raise AssertionError("a warm cache starts no worker")

    monkeypatch.setattr(subprocess, "Popen", no_workers)
    out = TtyStream()
    assert precompile.warm_up({}, stream=out, clock=FakeClock()) is None
    assert out.getvalue() == ""


# -- the workers load the run's plugins ---------------------------------------------------------


def test_warm_up_hands_the_runs_plugins_to_every_worker(
    stamps: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    def popen(cmd: list[str], **kw: Any) -> FakeProc:
        seen.append(cmd)
        return FakeProc(FakeClock(), 0.0, 0, "", kw["stderr"])

    monkeypatch.setattr(subprocess, "Popen", popen)
    precompile.warm_up({}, stream=None, clock=FakeClock(), plugins=["pkg_a", "pkg_b.mod"])
    assert sorted(c[3] for c in seen) == ["market", "quoter", "twins", "venue"]
    assert all(c[5:] == ["pkg_a", "pkg_b.mod"] for c in seen)


def test_a_worker_reads_a_config_with_a_plugins_table_only_with_that_plugin(
    tmp_path: Path,
) -> None:
    """The run's merged configuration holds a table for every plugin it loaded (an installed
    venue plugin's ``[venues.toy]``): a worker without that plugin failed on it, and every
    cold run then compiled lazily, silently."""
    pytest.importorskip("mmkit_toy_venue")
    import tomli_w

    from mmkit.config.loader import load_settings
    from mmkit.errors import ConfigError
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False, extra_modules=["mmkit_toy_venue"])
    merged = load_settings(None, host.registry, env={}).merged_full()
    assert "toy" in merged["venues"]
    cfg = tmp_path / "config.toml"
    cfg.write_text(tomli_w.dumps(merged), encoding="utf-8")
    with pytest.raises(ConfigError, match="toy"):
        precompile._settings(cfg)
    _, settings = precompile._settings(cfg, ["mmkit_toy_venue"])
    assert settings.components.venue == "sim"
