"""Live-mode options of ``mmkit trade`` as a user runs them: ``--metrics-port`` (scraped over
loopback), ``--duration`` bounding start-up against a venue that is not there, a double
Ctrl-C that still finishes (journaled ``stopped_by = signal SIGINT``), and the paper clock's
``trade.duration_s`` set for a live run (said, and not taken as a stop)."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.runtime.test_trade_e2e import FAST, emulator, env, state, trade

pytestmark = [pytest.mark.slow, pytest.mark.network]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_duration_bounds_start_up_against_an_absent_venue(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    p = trade(url, tmp_path, duration=3)
    _out, err = p.communicate(timeout=120)
    assert p.returncode != 0
    assert "Traceback" not in err
    assert "did not finish starting within --duration" in err
    (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
    meta = dict(sqlite3.connect(journal).execute("SELECT key, value FROM meta"))
    assert meta["stopped_by"].startswith("start-up:")


def test_metrics_port_serves_in_live_mode_and_double_ctrl_c_finishes(tmp_path: Path) -> None:
    port = free_port()
    with emulator() as url:
        p = trade(url, tmp_path, duration=120, extra=["--metrics-port", str(port)])
        deadline = time.monotonic() + 180  # a cold numba cache compiles first
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    body = r.read().decode()
                if 'name="live_halt_epoch"' in body and state(url)["open_orders"]:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert "mmkit_actions_total" in body
        assert 'mmkit_value{name="live_dropped_not_sent"}' in body
        p.send_signal(signal.SIGINT)
        time.sleep(0.05)
        p.send_signal(signal.SIGINT)  # the second Ctrl-C: finish sooner, never skip silently
        _out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
        db = sqlite3.connect(journal)
        meta = dict(db.execute("SELECT key, value FROM meta"))
        assert meta["stopped_by"] == "signal SIGINT"
        assert meta["shutdown_skipped"]  # "none", or exactly what it skipped
        kinds = [k for (k,) in db.execute("SELECT kind FROM actions ORDER BY id")]
        assert "cancel_all" in kinds and kinds[-1] == "sync_state"
        assert not state(url)["open_orders"]


def test_the_paper_duration_key_is_named_and_does_not_stop_a_live_run(tmp_path: Path) -> None:
    """``--set trade.duration_s=2`` on a live run: the key is the paper run's simulated time,
    so the command says, before anything connects, that this run goes on until stopped (or
    ``--duration``), and it is still quoting long after 2 s; Ctrl-C ends it normally. (The
    key at its default, as `mmkit config init` writes it, is no sign of intent: nothing is
    said then; tests/cli/test_live_duration_note.py.)"""
    with emulator() as url:
        args = [sys.executable, "-m", "mmkit", "trade", "--url", url, "--no-dashboard"]
        args += ["--journal-dir", str(tmp_path), "--set", "trade.duration_s=2"]
        for s in FAST:
            args += ["--set", s]
        t0 = time.monotonic()
        p = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env()
        )
        deadline = t0 + 180  # a cold numba cache compiles first
        while time.monotonic() < deadline and p.poll() is None:
            if state(url)["open_orders"] and time.monotonic() - t0 > 6:
                break
            time.sleep(0.3)
        assert p.poll() is None, p.communicate()[1][-3000:]  # quoting, well past 2 s
        p.send_signal(signal.SIGINT)
        _out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-3000:]
        assert "note: trade.duration_s (set in command line --set trade.duration_s)" in err
        assert "goes on until stopped" in err
        (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
        meta = dict(sqlite3.connect(journal).execute("SELECT key, value FROM meta"))
        assert meta["stopped_by"] == "signal SIGINT"
