"""``mmkit journal compare``: the figures side by side are each run's own report figures,
and the differences are computed from them; the JSON keeps full precision."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest
from tests.runtime.journal_builder import Spec, build, run_cli

from mmkit.reports.journal_compare import METRICS

QUOTES = [(1.5, 1, 1, "open", 99.5), (1.6, 2, -1, "open", 100.5)]
A = Spec(fills=[(12.5, 1, 100.0, 0.5, 0.01), (20.2, -1, 100.3, 0.3, -0.002)], quotes=QUOTES)
B = Spec(
    fills=[(12.5, 1, 100.0, 0.5, 0.01), (20.2, -1, 100.3, 0.5, 0.01), (40.0, 1, 99.0, 0.1, 0.0)],
    gates=[("kill_switch", "MaxDrawdown", 80, None, "halt", True)],
    rejections={"post_only_would_cross": 4},
    quotes=QUOTES,
)


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return build(tmp_path / "a.sqlite", A), build(tmp_path / "b.sqlite", B)


def test_json_rows_are_each_runs_report(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = runs
    code, out, _ = run_cli(capsys, "compare", "--json", str(a), str(b))
    assert code == 0
    d = json.loads(out)
    assert d["runs"] == [str(a), str(b)]
    rows = {r["key"]: r for r in d["rows"]}
    assert [m.key for m in METRICS] == [r["key"] for r in d["rows"]]
    shows = []
    for p in (a, b):
        _, text, _ = run_cli(capsys, "show", "--json", str(p))
        shows.append(json.loads(text)["report"])
    checked = {
        "fills": ("fills", "fills"),
        "volume_usd": ("fills", "volume_usd"),
        "sharpe": ("stats", "sharpe"),
        "equity_usd": ("pnl", "equity_usd"),
        "rejections": ("rejections",),
        "verdict": ("run", "verdict"),
    }
    for key, where in checked.items():
        vals = []
        for rep in shows:
            v = rep
            for k in where:
                v = v[k]
            vals.append(v)
        assert rows[key]["values"] == vals, key
    # differences are run 2 - run 1, from values checked against sqlite here
    db_a, db_b = sqlite3.connect(a), sqlite3.connect(b)
    vol = [db.execute("SELECT SUM(px * sz) FROM fills").fetchone()[0] for db in (db_a, db_b)]
    db_a.close()
    db_b.close()
    assert rows["volume_usd"]["values"] == pytest.approx(vol, rel=1e-12)
    assert rows["volume_usd"]["diff_vs_first"][0] == pytest.approx(vol[1] - vol[0], rel=1e-12)
    assert rows["fills"]["diff_vs_first"] == [1.0]
    assert rows["kill_trips"]["values"] == [0, 1]
    assert rows["verdict"]["values"] == ["ok", "halted"]
    assert rows["verdict"]["diff_vs_first"] == [None]


def test_table_has_a_column_per_run_and_the_differences(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = runs
    code, out, _ = run_cli(capsys, "compare", str(a), str(b), str(a))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"run 1: {a}" and lines[1].startswith("  OK: ")
    assert lines[2] == f"run 2: {b}" and lines[3].startswith("  HALTED by kill switch at 80.0 s")
    head = next(ln for ln in lines if ln.startswith("figure"))
    assert "run 2 - run 1" in head and "run 3 - run 1" in head
    fills = next(ln for ln in lines if ln.startswith("fills  ")).split()
    assert fills[1:] == ["2", "3", "2", "+1", "="]
    rej = next(ln for ln in lines if ln.startswith("rejections")).split()
    assert rej[1:] == ["0", "4", "0", "+4", "="]


def test_needs_two_readable_runs(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = runs
    code, _, err = run_cli(capsys, "compare", str(a))
    assert code == 2 and "at least two" in err
    missing = tmp_path / "nope.sqlite"
    code, _, err = run_cli(capsys, "compare", str(a), str(missing))
    assert code == 2 and str(missing) in err and "Traceback" not in err


def test_nan_figures_are_null_in_json_and_na_in_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = build(tmp_path / "a.sqlite", Spec())  # no fills: no spread captured, no markouts
    b = build(tmp_path / "b.sqlite", Spec(fills=[(5.0, 1, 100.0, 1.0, 0.0)]))
    _, out, _ = run_cli(capsys, "compare", "--json", str(a), str(b))
    rows = {r["key"]: r for r in json.loads(out)["rows"]}
    assert rows["spread_captured_bp"]["values"][0] is None
    assert rows["spread_captured_bp"]["diff_vs_first"] == [None]
    assert math.isfinite(rows["spread_captured_bp"]["values"][1])
    _, text, _ = run_cli(capsys, "compare", str(a), str(b))
    line = next(ln for ln in text.splitlines() if ln.startswith("spread captured"))
    assert line.split()[3] == "n/a"


def test_component_faults_are_compared_and_make_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose journal holds faults proper reads ``faulted``, with their count beside
    the clean run's; rejected input is not counted (the journal's own rows are the oracle)."""
    from mmkit.runtime.journal import Journal

    a = build(tmp_path / "a.sqlite", A)
    f = build(tmp_path / "f.sqlite", A)
    j = Journal(f)
    for k in range(3):
        j.fault(1_000 + k, "estimator flaky", "estimate raised RuntimeError: every 25th")
    j.fault(2_000, "estimator kappa", "rejected TRADE: price not finite", kind="rejected")
    j.close()
    db = sqlite3.connect(f)
    want = db.execute("SELECT COUNT(*) FROM faults WHERE kind = 'fault'").fetchone()[0]
    db.close()
    code, out, _ = run_cli(capsys, "compare", "--json", str(a), str(f))
    assert code == 0
    rows = {r["key"]: r for r in json.loads(out)["rows"]}
    assert rows["component_faults"]["values"] == [0, want] == [0, 3]
    assert rows["verdict"]["values"] == ["ok", "faulted"]
