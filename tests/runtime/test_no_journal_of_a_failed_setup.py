"""A run whose set-up fails after its journal is made (a configuration the engine refuses:
``[engine] twins = "require"`` with a quoter that has no twin) leaves no journal. Before, a
half-made one stayed in the journal directory (its SQLite side files too), and ``journal
show`` read it as a run that NEVER QUOTED."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.cli.helpers import run_cli

from mmkit.runtime.journal import Journal, discarded_on_failure, new_run_path


def test_a_refused_configuration_leaves_no_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cold: list[list[str]]
) -> None:
    jdir = tmp_path / "runs"
    args = ["--plugin", "tests.foundation.toy_plugin", "trade", "--journal-dir", str(jdir)]
    args += ["--no-dashboard", "--set", "engine.twins=require"]
    args += ["--set", "components.quoter=toy_quoter"]
    code, _out, err = run_cli(args, capsys)
    assert code == 2, err
    assert "needs a compiled twin" in err and "toy_quoter" in err
    assert not [p.name for p in jdir.glob("*.sqlite*")]


def test_discard_removes_the_journal_and_its_side_files(tmp_path: Path) -> None:
    j = Journal(new_run_path(tmp_path, "paper"))
    j.set_meta("mode", "paper")
    path = j.path
    with pytest.raises(RuntimeError, match="set-up"), discarded_on_failure(j):
        raise RuntimeError("set-up failed")
    assert not list(tmp_path.iterdir())
    assert not path.exists()


def test_a_set_up_that_succeeds_keeps_its_journal(tmp_path: Path) -> None:
    j = Journal(new_run_path(tmp_path, "paper"))
    with discarded_on_failure(j):
        j.set_meta("mode", "paper")
    j.close()
    meta = dict(sqlite3.connect(j.path).execute("SELECT key, value FROM meta"))
    assert meta["mode"] == "paper"
    with discarded_on_failure(None):  # no journal (--no-journal): nothing to do
        pass
