"""Visible state (issue 16): every gate closure and reopening with its times, reason and
duration in ``journal show`` and its JSON, kill-switch trips, the time spent halted, one log
line per transition, and clear errors for files that are not journals."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.cli.main import main
from mmkit.cli.trade_cmd import EXIT_KILL_SWITCH, headline_lines
from mmkit.components import GateDecision, GateMode
from mmkit.errors import MmkitError
from mmkit.runtime.gate_timeline import (
    REASON_CHANGED,
    REOPENED,
    STILL_CLOSED,
    GateRow,
    build_timeline,
    union_length,
    utc_text,
)
from mmkit.runtime.journal import Journal, summarize
from mmkit.runtime.observer import RunObserver

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # 2023-11-14 22:13:20 UTC

KILL = GateDecision(
    "kill_switch",
    "MaxDrawdown",
    {"peak": 5.0, "equity": 4.0, "limit": 0.5},
    mode=GateMode.HALT,
    emergency=True,
)


def _observed_run(path: Path) -> RunObserver:
    """A run told through the real observer and journal: warmup 0-30 s, a stale book 40-42.5 s
    whose reason changes at 41 s, a reduce-only gate 50-55 s, the kill switch at 60 s, the
    engine's shutdown at 100 s; the run's events span 0-100 s."""
    j = Journal(path)
    obs = RunObserver(j)
    obs.on_gate_closed(GateDecision("warmup", "Warmup", {"waiting": "trades 0/50"}), T0)
    obs.on_gate_opened("warmup", T0 + 30 * NS)
    obs.on_gate_closed(GateDecision("data_quality", "Stale", {"age_ms": 3100.0}), T0 + 40 * NS)
    obs.on_gate_closed(GateDecision("data_quality", "Crossed"), T0 + 41 * NS)
    obs.on_gate_opened("data_quality", T0 + 42 * NS + NS // 2)
    ro = GateDecision("inventory", "Skew", mode=GateMode.REDUCE_ONLY)
    obs.on_gate_closed(ro, T0 + 50 * NS)
    obs.on_gate_opened("inventory", T0 + 55 * NS)
    obs.on_gate_closed(KILL, T0 + 60 * NS)
    shutdown = GateDecision("engine", "Shutdown", mode=GateMode.HALT, emergency=True)
    obs.on_gate_closed(shutdown, T0 + 100 * NS)
    j.set_meta("first_event_ns", str(T0))
    j.set_meta("last_event_ns", str(T0 + 100 * NS))
    j.close()
    return obs


def test_the_journal_lists_every_closure_with_times_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    _observed_run(path)
    tl = summarize(path).timeline
    assert tl is not None
    got = [(e.gate, e.reason, e.closed_s, e.end_s, e.duration_s, e.ended_by) for e in tl.episodes]
    assert got == [
        ("warmup", "Warmup", 0.0, 30.0, 30.0, REOPENED),
        ("data_quality", "Stale", 40.0, 41.0, 1.0, REASON_CHANGED),
        ("data_quality", "Crossed", 41.0, 42.5, 1.5, REOPENED),
        ("inventory", "Skew", 50.0, 55.0, 5.0, REOPENED),
        ("kill_switch", "MaxDrawdown", 60.0, 100.0, 40.0, STILL_CLOSED),
        ("engine", "Shutdown", 100.0, 100.0, 0.0, STILL_CLOSED),
    ]
    assert tl.episodes[0].closed_utc == "2023-11-14 22:13:20.000"
    assert tl.episodes[2].end_utc == "2023-11-14 22:14:02.500"
    assert '"age_ms": 3100.0' in tl.episodes[1].detail
    assert [(e.gate, e.reason, e.closed_s) for e in tl.kill_trips] == [
        ("kill_switch", "MaxDrawdown", 60.0)
    ]
    # halted: warmup 30 + data quality 2.5 + kill switch 40 (reduce-only is not a halt)
    assert tl.halted_s == pytest.approx(72.5)
    assert tl.run_s == 100.0


def test_journal_show_prints_the_timeline_and_the_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.sqlite"
    _observed_run(path)
    with pytest.raises(SystemExit) as exc:
        main(["--no-entrypoints", "journal", "show", str(path)])
    assert exc.value.code in (0, None)
    out = capsys.readouterr().out
    # line 1 is the shared report headline, line 2 each trip in full
    assert out.splitlines()[0].startswith("HALTED by kill switch at 60.0 s (MaxDrawdown)")
    first = out.splitlines()[1]
    assert first.startswith("KILL SWITCH TRIPPED at 60.0 s (2023-11-14 22:14:20.000 UTC)")
    assert "MaxDrawdown" in first and '"limit": 0.5' in first
    assert "halted 72.5 s of 100.0 s (72%)" in out
    assert "still closed at end" in out
    assert "41.000 (reason changed)" in out
    assert "kill_switch (KILL SWITCH)" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("data_quality ")]
    assert any("Stale" in r and "40.000" in r and "1.000" in r for r in rows), rows


def test_journal_show_json_has_the_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.sqlite"
    _observed_run(path)
    with pytest.raises(SystemExit):
        main(["--no-entrypoints", "journal", "show", "--json", str(path)])
    d = json.loads(capsys.readouterr().out)
    eps = d["timeline"]["episodes"]
    assert len(eps) == 6
    warm = eps[0]
    assert warm["gate"] == "warmup" and warm["closed_s"] == 0.0 and warm["duration_s"] == 30.0
    assert warm["end_utc"] == "2023-11-14 22:13:50.000" and warm["ended_by"] == "reopened"
    kills = d["timeline"]["kill_trips"]
    assert [k["reason"] for k in kills] == ["MaxDrawdown"]
    assert d["timeline"]["halted_s"] == pytest.approx(72.5)


def test_observer_logs_each_transition_once_and_reports_halts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mmkit.run"):
        obs = _observed_run(tmp_path / "run.sqlite")
    msgs = [r.getMessage() for r in caplog.records]
    reopened = [m for m in msgs if "reopened" in m]
    assert reopened == [
        "gate warmup reopened after 30.0 s (was: Warmup {waiting: trades 0/50})",
        "gate data_quality reopened after 2.5 s (was: Crossed)",
        "gate inventory reopened after 5.0 s (was: Skew)",
    ]
    # closings and reopenings alike reach the console (warning and up)
    assert all(r.levelno >= logging.WARNING for r in caplog.records if "gate" in r.getMessage())
    trips = [r for r in caplog.records if "KILL SWITCH TRIPPED" in r.getMessage()]
    assert len(trips) == 1 and trips[0].levelno == logging.ERROR
    rep = obs.halt_report(T0, T0 + 100 * NS)
    assert rep.halted_s == pytest.approx(72.5)
    assert rep.closed_s == {
        "warmup": 30.0,
        "data_quality": 2.5,
        "inventory": 5.0,
        "kill_switch": 40.0,
        "engine": 0.0,
    }
    lines = headline_lines(rep)
    assert lines[0] == (
        "KILL SWITCH TRIPPED at 60.0 s: MaxDrawdown {peak: 5.0, equity: 4.0, limit: 0.5} "
        f"(gate kill_switch; exit status {EXIT_KILL_SWITCH})"
    )
    assert lines[1].startswith("halted 72.5 s of 100.0 s (72%); gates closed: kill_switch 40.0 s")


def test_a_run_without_a_trip_says_so() -> None:
    obs = RunObserver(None)
    obs.on_gate_closed(GateDecision("warmup", "Warmup"), T0)
    obs.on_gate_opened("warmup", T0 + 10 * NS)
    lines = headline_lines(obs.halt_report(T0, T0 + 40 * NS))
    assert lines == [
        "kill switch: not tripped",
        "halted 10.0 s of 40.0 s (25%); gates closed: warmup 10.0 s",
    ]
    # a run without any gate of the kill-switch role does not claim one stayed quiet
    assert headline_lines(obs.halt_report(T0, T0 + 40 * NS), kill_switch=False)[0] == (
        "kill switch: none configured (no gate declares the kill-switch role)"
    )


def test_the_engine_names_its_kill_switch_gates() -> None:
    """What the summary asks: the default set has one, a set without gates none."""
    from mmkit.assembly import build_engine
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={})
    assert build_engine(s, host).kill_switch_gates == {"kill_switch"}
    s = load_settings(None, host.registry, env={}, sets=["components.gates=[]"])
    assert build_engine(s, host).kill_switch_gates == frozenset()


def test_an_old_journal_without_the_emergency_column_still_shows_trips(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE gate_events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, gate TEXT "
        "NOT NULL, state TEXT NOT NULL, reason TEXT, detail TEXT, mode TEXT);"
    )
    for t in (
        "actions",
        "action_results",
        "order_updates",
        "fills",
        "positions",
        "divergences",
        "estimates",
        "faults",
        "predictions",
        "outcomes",
    ):
        db.execute(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, ts INTEGER)")
    db.executescript(
        "ALTER TABLE fills ADD COLUMN px REAL; ALTER TABLE fills ADD COLUMN sz REAL;"
        "ALTER TABLE positions ADD COLUMN position REAL; ALTER TABLE positions ADD COLUMN "
        "realized REAL; ALTER TABLE positions ADD COLUMN fees REAL;"
        "ALTER TABLE faults ADD COLUMN component TEXT; ALTER TABLE faults ADD COLUMN message TEXT;"
    )
    db.execute(
        "INSERT INTO gate_events VALUES (1, ?, 'risk', 'closed', 'DailyLoss', '{}', 'halt')",
        (T0 + 5 * NS,),
    )
    db.execute("INSERT INTO estimates (ts) VALUES (?)", (T0,))
    db.execute("INSERT INTO estimates (ts) VALUES (?)", (T0 + 9 * NS,))
    db.commit()
    db.close()
    tl = summarize(path).timeline
    assert tl is not None
    assert [(e.gate, e.closed_s, e.duration_s) for e in tl.kill_trips] == [("risk", 5.0, 4.0)]


@pytest.mark.parametrize("case", ["missing", "directory", "garbage", "empty_sqlite", "bad_ts"])
def test_journal_show_bad_input_is_a_clear_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.sqlite"
    if case == "directory":
        path.mkdir()
    elif case == "garbage":
        path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 3000)
    elif case == "empty_sqlite":
        sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    elif case == "bad_ts":
        _observed_run(path)
        db = sqlite3.connect(path)
        db.execute("UPDATE gate_events SET ts = 'yesterday' WHERE id = 2")
        db.commit()
        db.close()
    capsys.readouterr()  # what building the file logged
    with pytest.raises(SystemExit) as exc:
        main(["--no-entrypoints", "journal", "show", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err, err
    assert "Traceback" not in err and "internal error" not in err
    if case == "directory":
        assert "is a directory" in err
    with pytest.raises(MmkitError):
        summarize(path)


# -- the pure timeline --------------------------------------------------------------------

_GATES = ("a", "b", "kill_switch")
_REASONS = ("R1", "R2", "MaxDrawdown")


@st.composite
def transitions(draw: st.DrawFn) -> tuple[list[GateRow], int]:
    """Rows as an engine emits them: per gate, ``closed`` when it closes or its reason
    changes, ``opened`` only while closed; times non-decreasing."""
    rows: list[GateRow] = []
    state: dict[str, str | None] = dict.fromkeys(_GATES)
    t = T0
    for _ in range(draw(st.integers(0, 30))):
        t += draw(st.integers(0, 5 * NS))
        g = draw(st.sampled_from(_GATES))
        if state[g] is not None and draw(st.booleans()):
            rows.append(GateRow(t, g, "opened"))
            state[g] = None
        else:
            reason = draw(st.sampled_from([r for r in _REASONS if r != state[g]]))
            mode = draw(st.sampled_from(["halt", "reduce_only"]))
            rows.append(GateRow(t, g, "closed", reason, "", mode, g == "kill_switch"))
            state[g] = reason
    return rows, t + draw(st.integers(0, 10 * NS))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(transitions())
def test_timeline_invariants(case: tuple[list[GateRow], int]) -> None:
    rows, end = case
    tl = build_timeline(rows, T0, end)
    closed_rows = [r for r in rows if r.state == "closed"]
    assert len(tl.episodes) == len(closed_rows)  # each closed row is one closure
    assert [e.closed_ns for e in tl.episodes] == sorted(e.closed_ns for e in tl.episodes)
    for e in tl.episodes:
        assert 0.0 <= e.duration_s == (e.end_ns - e.closed_ns) / NS
        assert e.closed_ns <= e.end_ns <= end
        assert e.kill_switch == (e.gate == "kill_switch")
    for g in _GATES:
        still = [e for e in tl.episodes if e.gate == g and e.ended_by == STILL_CLOSED]
        last = [r for r in rows if r.gate == g][-1:]
        assert len(still) == (1 if last and last[0].state == "closed" else 0)
    assert 0.0 <= tl.halted_s <= tl.run_s
    assert tl.run_s == (end - T0) / NS


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=12))
def test_union_length_counts_overlaps_once(ivs: list[tuple[int, int]]) -> None:
    covered = {x for a, b in ivs for x in range(a, b)}
    assert union_length(ivs) == len(covered)


def test_utc_text_only_for_wall_clock_times() -> None:
    assert utc_text(T0) == "2023-11-14 22:13:20.000"
    assert utc_text(12_345) == ""  # a monotonic or simulated clock near zero
    assert utc_text(2**63 - 1) == ""


_cell = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.sampled_from(["closed", "opened", "halt", "reduce_only", "99", "-5"]),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(_cell, _cell, _cell, _cell, _cell, st.one_of(st.none(), _cell)), max_size=6),
    st.one_of(st.none(), _cell),
)
def test_any_gate_rows_give_a_timeline_or_a_clear_error(
    rows: list[tuple[object, ...]], first: object
) -> None:
    """Whatever a damaged journal holds in ``gate_events`` (and its span meta), ``summarize``
    returns a timeline or raises :class:`MmkitError`, never anything else."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.sqlite"
        Journal(path).close()
        db = sqlite3.connect(path)
        for ts, gate, state, reason, mode, em in rows:
            try:
                db.execute(
                    "INSERT INTO gate_events (ts, gate, state, reason, detail, mode, emergency) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (ts, gate, state, reason, "{}", mode, em),
                )
            except sqlite3.IntegrityError:  # the schema itself refuses it (NaN is NULL)
                continue
        if first is not None:
            db.execute("INSERT INTO meta VALUES ('first_event_ns', ?)", (first,))
        db.commit()
        db.close()
        try:
            tl = summarize(path).timeline
        except MmkitError as exc:
            assert str(path) in str(exc)
            return
        assert tl is not None
        assert all(e.duration_s >= 0 for e in tl.episodes)
        assert 0.0 <= tl.halted_s <= tl.run_s
