"""``mmkit trade --url`` against the loopback emulator, as a user runs it (subprocesses).

Every scenario must end with no orphaned order on the venue, the journal's final position
equal to the emulator's, every emulator fill in the journal, and no order placed or modified
while a halting gate was closed. A ``kill -9`` mid-run followed by a restart must end the
same way (startup sync adopts or cancels the dead run's orders).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mmkit.testing.soak import ADDRESS, KEY
from mmkit.testing.soak import FAST as SOAK_FAST

pytestmark = [pytest.mark.slow, pytest.mark.network]

# the soak harness's throwaway key, its address and the short-warmup settings
FAST = list(SOAK_FAST)


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    e["MMKIT_PRIVATE_KEY"] = KEY
    e["MMKIT_LOAD_ENTRYPOINTS"] = "0"
    return e


@contextmanager
def emulator(*extra: str, fund: bool = True) -> Iterator[str]:
    """``mmkit venue emulate`` on a free port; ``fund``: the throwaway key's account is
    listed with ``--account`` (else it exists only as the default ``--funding seen`` allows)."""
    account = ["--account", ADDRESS] if fund else []
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mmkit",
            "venue",
            "emulate",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *account,
            "--speed",
            "5",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env(),
    )
    url = ""
    assert p.stdout is not None
    deadline = time.monotonic() + 180  # a cold numba cache compiles first
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if "emulator on http://" in line:
            url = line.split(" on ", 1)[1].split()[0]
            break
    try:
        assert url, "emulator did not start"
        yield url
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def state(url: str) -> dict[str, object]:
    req = urllib.request.Request(
        url + "/_control", data=json.dumps({"state": True}).encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["response"]["accounts"][ADDRESS]  # type: ignore[no-any-return]


def trade(
    url: str, journal_dir: Path, duration: float, extra: list[str] | None = None
) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        "-m",
        "mmkit",
        "trade",
        "--url",
        url,
        "--duration",
        str(duration),
        "--no-dashboard",
        "--journal-dir",
        str(journal_dir),
    ]
    for s in FAST:
        args += ["--set", s]
    args += extra or []
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env()
    )


def journal_facts(path: Path) -> dict[str, object]:
    db = sqlite3.connect(path)
    try:
        fills = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
        last_venue = db.execute(
            "SELECT position FROM positions WHERE source LIKE 'venue%' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        gates = db.execute("SELECT ts, gate, state, mode FROM gate_events ORDER BY id").fetchall()
        acts = db.execute(
            "SELECT ts, kind FROM actions WHERE kind IN ('place', 'modify') ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    # a halting gate is closed from its 'closed' row to its next 'opened' row
    closed: dict[str, int] = {}
    windows: list[tuple[int, int, str]] = []
    for ts, gate, st, mode in gates:
        if st == "closed" and mode == "halt":
            closed.setdefault(gate, ts)
        elif st == "opened" and gate in closed:
            windows.append((closed.pop(gate), ts, gate))
    windows += [(t0, 1 << 62, g) for g, t0 in closed.items()]
    placed_while_closed = [(ts, k, g) for ts, k in acts for t0, t1, g in windows if t0 < ts < t1]
    return {
        "fills": fills,
        "position": None if last_venue is None else last_venue[0],
        "placed_while_closed": placed_while_closed,
        "halt_windows": len(windows),
    }


def check_end_state(url: str, journals: list[Path]) -> None:
    emu = state(url)
    facts = [journal_facts(j) for j in journals]
    assert emu["open_orders"] == [], f"orphaned orders left on the venue: {emu['open_orders']}"
    assert facts[-1]["position"] is not None
    assert abs(float(facts[-1]["position"]) - float(emu["position"])) < 1e-9  # type: ignore[arg-type]
    assert sum(int(f["fills"]) for f in facts) == emu["fills"]  # type: ignore[call-overload]
    for f in facts:
        assert f["placed_while_closed"] == [], f["placed_while_closed"]


@pytest.mark.parametrize(
    "scenario",
    ["ws_drop@3", "restart@3", "http_5xx@3", "stale_book@3", "crossed_book@3", "fill_race@3"],
)
def test_trade_url_survives_fault(scenario: str, tmp_path: Path) -> None:
    with emulator("--scenario", scenario) as url:
        p = trade(url, tmp_path, duration=9)
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
        assert "mmkit trade: summary" in out and "journal:" in out
        (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
        check_end_state(url, [journal])


def test_kill_9_then_restart_ends_clean(tmp_path: Path) -> None:
    with emulator() as url:
        first = trade(url, tmp_path, duration=60)  # both runs share the journal directory
        deadline = time.monotonic() + 180  # a cold numba cache compiles first
        while time.monotonic() < deadline:  # wait until it has orders resting
            if state(url)["open_orders"]:
                break
            time.sleep(0.2)
        assert state(url)["open_orders"], "the first run never quoted"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert state(url)["open_orders"], "orders of the killed run should still rest"
        second = trade(url, tmp_path, duration=6)
        _, err = second.communicate(timeout=180)
        assert second.returncode == 0, err[-3000:]
        journals = sorted(tmp_path.glob("live-*.sqlite"))  # named by start time
        assert len(journals) == 2
        check_end_state(url, journals)


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    with emulator() as url:
        p = trade(url, tmp_path, duration=120)
        deadline = time.monotonic() + 180  # a cold numba cache compiles first
        while time.monotonic() < deadline and not state(url)["open_orders"]:
            time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-3000:]
        assert "stopped by" in out and "signal SIGINT" in out
        (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
        check_end_state(url, [journal])
