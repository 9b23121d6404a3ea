"""``mmkit trade`` (paper) as a user runs it (issue 16): a kill-switch trip is the summary's
first line and exit status 3, ``journal show`` lists it with the gate timeline, and a default
start leaves warmup on market data alone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mmkit.cli.trade_cmd import EXIT_KILL_SWITCH

pytestmark = pytest.mark.slow

NS = 1_000_000_000


def mmkit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env["MMKIT_LOAD_ENTRYPOINTS"] = "0"
    return subprocess.run(
        [sys.executable, "-m", "mmkit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def paper(tmp_path: Path, *sets: str) -> subprocess.CompletedProcess[str]:
    args = ["trade", "--speed", "0", "--duration", "180", "--no-dashboard"]
    args += ["--journal-dir", str(tmp_path)]
    for s in sets:
        args += ["--set", s]
    return mmkit(*args)


def journal_of(out: str) -> Path:
    line = next(ln for ln in out.splitlines() if ln.startswith("journal: "))
    return Path(line.split(": ", 1)[1])


def test_a_kill_switch_trip_is_the_first_line_and_the_exit_status(tmp_path: Path) -> None:
    res = paper(tmp_path, "gates.kill_switch.max_drawdown_usd=0.01")
    assert res.returncode == EXIT_KILL_SWITCH, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    # line 1: what happened (the shared report headline); line 2: the trip in full
    first, second, third = res.stdout.splitlines()[:3]
    assert first.startswith("HALTED by kill switch at ") and "MaxDrawdown" in first
    assert second.startswith("KILL SWITCH TRIPPED at ") and "limit: 0.01" in second
    assert third.startswith("halted ") and "kill_switch" in third
    assert "KILL SWITCH TRIPPED" in res.stderr  # the log line (error level) on the console
    show = mmkit("journal", "show", str(journal_of(res.stdout)))
    assert show.returncode == 0, show.stderr
    head, head2 = show.stdout.splitlines()[:2]
    assert head.startswith("HALTED by kill switch at ") and "MaxDrawdown" in head
    assert head2.startswith("KILL SWITCH TRIPPED at ")
    # the trip time agrees between the summary and the journal
    assert first.split(" s (")[0] == head.split(" s (")[0]
    assert "still closed at end" in show.stdout
    assert "warmup" in show.stdout and "reopened" not in head


def test_a_default_start_leaves_warmup_on_market_data_and_exits_0(tmp_path: Path) -> None:
    res = paper(tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert lines[0].startswith("OK: quoted ") and "ended by ready" in lines[0]
    assert lines[1] == "kill switch: not tripped"
    assert lines[2].startswith("halted ") and "warmup" in lines[2]
    assert "gate warmup reopened after" in res.stderr
    db = sqlite3.connect(journal_of(res.stdout))
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    first = int(meta["first_event_ns"])
    warm = db.execute("SELECT MIN(ts) FROM estimates WHERE warmed_up = 1").fetchone()[0]
    opened = db.execute(
        "SELECT MIN(ts) FROM gate_events WHERE gate = 'warmup' AND state = 'opened'"
    ).fetchone()[0]
    timed_out = db.execute(
        "SELECT COUNT(*) FROM estimates WHERE extras LIKE '%\"warmup.timed_out\": 1.0%'"
    ).fetchone()[0]
    fills = db.execute("SELECT COUNT(*) FROM fills WHERE ts <= ?", (opened,)).fetchone()[0]
    db.close()
    assert warm is not None and opened is not None
    assert (opened - first) / NS < 120  # simulated seconds; the timeout is 300
    assert timed_out == 0
    assert fills == 0  # readiness came from market data alone
