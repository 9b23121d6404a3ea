"""Every ``mmkit journal`` command on a file that is not a journal it can read: one error
line naming the file, exit status 2, never a traceback."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.runtime.journal_builder import Spec, build, run_cli

from mmkit.errors import MmkitError
from mmkit.reports.journal_report import report_of
from mmkit.runtime.journal import SCHEMA_VERSION, Journal
from mmkit.runtime.journal_export import export
from mmkit.runtime.journal_read import SQLITE_MAGIC, check_journal, load_run

CASES = {
    "missing": "no such journal file",
    "directory": "is a directory",
    "empty": "empty file",
    "not_sqlite": "not an SQLite file",
    "corrupt_sqlite": "not a readable mmkit journal",
    "other_sqlite": "missing table meta",
    "old_table": "missing table estimates",
    "old_column": "missing fills.fee",
}


def make(case: str, path: Path) -> Path:
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "not_sqlite":
        path.write_bytes(b"ts,px\n1,2\n" * 50)
    elif case == "corrupt_sqlite":
        path.write_bytes(SQLITE_MAGIC + b"\xff" * 3000)
    elif case == "other_sqlite":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (x)")
        db.close()
    elif case in ("old_table", "old_column"):
        build(path, Spec(fills=[(5.0, 1, 100.0, 1.0, 0.01)]))
        db = sqlite3.connect(path)
        if case == "old_table":
            db.execute("DROP TABLE estimates")
        else:
            db.execute("ALTER TABLE fills DROP COLUMN fee")
        db.commit()
        db.close()
    return path


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["show", "show-json", "export", "plot", "compare"])
def test_one_clear_line_exit_2(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = make(case, tmp_path / "bad.sqlite")
    good = build(tmp_path / "good.sqlite", Spec())
    args = {
        "show": ["show", str(bad)],
        "show-json": ["show", "--json", str(bad)],
        "export": ["export", str(bad), "--out", str(tmp_path / "out")],
        "plot": ["plot", str(bad), "--out", str(tmp_path / "p.png")],
        "compare": ["compare", str(good), str(bad)],
    }[command]
    code, out, err = run_cli(capsys, *args)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "internal error" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(bad) in lines[0]
    assert CASES[case] in lines[0], lines[0]
    if case.startswith("old"):
        assert f"this mmkit writes schema {SCHEMA_VERSION}" in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "p.png").exists()


@settings(max_examples=150, deadline=None)
@given(st.booleans(), st.binary(max_size=2048))
def test_any_bytes_are_a_journal_or_a_clear_error(magic: bool, body: bytes) -> None:
    """Whatever a file holds, reading it as a journal either works or raises
    :class:`MmkitError` naming it: never another exception."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.sqlite"
        path.write_bytes((SQLITE_MAGIC if magic else b"") + body)
        for read in (check_journal, load_run, report_of):
            try:
                read(path)
            except MmkitError as exc:
                assert str(path) in str(exc)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["fills", "positions", "action_results", "order_updates"]),
    st.sampled_from(["ts", "px", "sz", "side", "fee", "realized", "mid", "position", "oid"]),
    st.one_of(st.text(max_size=5), st.binary(max_size=3), st.floats(), st.integers()),
)
def test_any_damaged_value_reads_or_is_a_clear_error(table: str, col: str, value: object) -> None:
    """One value of a real-looking journal replaced by anything: every reader works or
    raises :class:`MmkitError` naming the file."""
    with tempfile.TemporaryDirectory() as d:
        path = build(
            Path(d) / "j.sqlite",
            Spec(run_s=10, fills=[(2.0, 1, 100.0, 1.0, 0.01), (3.0, -1, 100.5, 1.0, 0.01)],
                 rejections={"post_only_would_cross": 1},
                 quotes=[(1.0, 1, 1, "open", 99.0), (1.0, 2, -1, "open", 101.0)]),
        )  # fmt: skip
        db = sqlite3.connect(path)
        cols = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        if col not in cols:
            db.close()
            return
        try:
            db.execute(f"UPDATE {table} SET {col} = ? WHERE id = 1", (value,))
        except (sqlite3.IntegrityError, OverflowError):  # the schema itself refuses it
            db.close()
            return
        db.commit()
        db.close()
        for read in (load_run, report_of):
            try:
                read(path)
            except MmkitError as exc:
                assert str(path) in str(exc)
        try:
            export(path, Path(d) / "out", fmt="csv")
        except MmkitError as exc:
            assert str(path) in str(exc)


def test_a_journal_still_being_written_is_readable(tmp_path: Path) -> None:
    """A live run's journal (WAL mode, writer open) reads as it stands."""
    path = tmp_path / "live.sqlite"
    j = Journal(path)
    j.set_meta("coin", "BTC")
    j.position(1_000_000_000, 0.0, "local", realized=0.0, unrealized=0.0, fees=0.0, mid=100.0)
    j.flush()
    try:
        r = report_of(path)
        assert r.coin == "BTC" and r.fills.fills == 0
    finally:
        j.close()
