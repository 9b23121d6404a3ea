"""``mmkit trade`` in paper mode as a user runs it: summary, journal, --data, metrics, signals."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mmkit.cli.trade_cmd import EXIT_FAULTED

pytestmark = pytest.mark.slow

SHORT_WARMUP = ["--set", "estimators.warmup.max_warmup_secs=20"]


def mmkit(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env["MMKIT_LOAD_ENTRYPOINTS"] = "0"
    return subprocess.Popen(
        [sys.executable, "-m", "mmkit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(p: subprocess.Popen[str], timeout: float = 240) -> str:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    return out


def paper_run(journal_dir: Path, *extra: str, plugin: str = "") -> subprocess.Popen[str]:
    """A 180 s paper run at full speed on the embedded default, with a short warmup (and
    the module ``plugin`` loaded as a plugin)."""
    args = ("--speed", "0", "--duration", "180", "--no-dashboard", "--journal-dir")
    first = ("--plugin", plugin) if plugin else ()
    return mmkit(*first, "trade", *args, str(journal_dir), *extra, *SHORT_WARMUP)


def journal_of(out: str) -> Path:
    line = next(ln for ln in out.splitlines() if ln.startswith("journal: "))
    return Path(line.split(": ", 1)[1])


def test_paper_run_to_summary_and_journal(tmp_path: Path) -> None:
    out = finish(paper_run(tmp_path))
    assert "mmkit trade: summary" in out and re.search(r"^stopped by +duration$", out, re.M)
    # every run says what ran: the default set, compiled
    assert re.search(r"^components +8 of 8 compiled twins$", out, re.M), out
    fills = int(next(ln for ln in out.splitlines() if ln.startswith("fills")).split()[-1])
    assert fills > 0
    show = finish(mmkit("journal", "show", str(journal_of(out))))
    assert "fills" in show and "final position" in show
    assert (tmp_path / "mmkit.log").is_file()


def test_paper_run_with_every_signal_estimator_runs_compiled_without_fault(
    tmp_path: Path,
) -> None:
    """The default set and the three signal estimators under ``engine.twins = 'require'``:
    every component runs its compiled twin, and the run ends without a fault (the RL
    agent's end-of-run save, with no state_path configured, used to raise one)."""
    estimators = '["kappa","sigma","warmup","lead_lag","adverse_selection","rl_skew"]'
    p = paper_run(
        tmp_path, "--set", f"components.estimators={estimators}", "--set", "engine.twins=require"
    )
    out, err = p.communicate(timeout=240)
    assert p.returncode == 0, err[-3000:]
    assert re.search(r"^components +11 of 11 compiled twins$", out, re.M), out
    assert "fault" not in err, err[-3000:]
    assert re.search(r"^faults refused +0$", out, re.M), out


def test_a_run_with_component_faults_says_so_in_its_first_lines(tmp_path: Path) -> None:
    """A component that raises now and then: the summary's first lines say how many faults
    halted quoting cycles, and whose, before the tables (before, only the log and a row
    far down the summary did), and the verdict is FAULTED, not OK (before, a run that
    still quoted most of the time read "OK"), and it exits with status 5 (it exited 0, as a
    clean run)."""
    p = paper_run(
        tmp_path,
        "--set",
        'components.estimators=["kappa","sigma","warmup","flaky"]',
        plugin="tests.runtime.flaky_plugin",
    )
    out, err = p.communicate(timeout=240)
    assert p.returncode == EXIT_FAULTED == 5, err[-3000:]
    head = out.splitlines()[:3]
    faults = int(re.search(r"^faults refused +([\d,]+)$", out, re.M).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert faults > 0
    said = f"COMPONENT FAULTS: {faults:,} (estimator flaky {faults:,})"
    verdict = f"FAULTED: {faults:,} component faults; quoted "
    assert head[0].startswith(verdict) and head[1].startswith(said), head
    # and so does the journal's summary: its verdict, then the faults
    show = finish(mmkit("journal", "show", str(journal_of(out))))
    assert show.splitlines()[0].startswith(verdict), show[:600]
    assert show.splitlines()[1].startswith(said), show[:600]


def test_paper_on_a_recorded_capture(tmp_path: Path, shared_data: Path) -> None:
    capture = shared_data / "hyperliquid" / "btcusd_20250126.gz"
    out = finish(
        mmkit(
            "trade",
            "--data",
            str(capture),
            "--speed",
            "0",
            "--no-dashboard",
            "--journal-dir",
            str(tmp_path),
            "--set",
            "estimators.warmup.max_warmup_secs=5",
        )
    )
    assert "replay feed" in out and "feed ended" in out
    # 46 l2Book snapshots + 34 live trades: the 30 trades of the subscription's replay
    # (up to ~49 s old, see the data README) are not fresh market events
    assert re.search(r"^market events +80$", out, re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_endpoint_serves_live_figures(tmp_path: Path) -> None:
    port = free_port()
    p = mmkit(
        "trade",
        "--speed",
        "30",
        "--duration",
        "400",
        "--no-dashboard",
        "--journal-dir",
        str(tmp_path),
        "--metrics-port",
        str(port),
        *SHORT_WARMUP,
    )
    body = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "mmkit_quote_updates_total" not in body:
        time.sleep(0.5)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                body = r.read().decode()
        except OSError:
            continue
        if 'mmkit_value{name="kappa"}' not in body or "mmkit_quote_updates_total 0.0" in body:
            body = ""
    p.send_signal(signal.SIGINT)
    finish(p)
    assert "mmkit_quote_updates_total" in body and 'mmkit_value{name="kappa"}' in body
    assert 'mmkit_value{name="executor.ip_used"}' in body


def placed_an_order(journal_dir: Path) -> bool:
    import sqlite3

    for path in journal_dir.glob("paper-*.sqlite"):
        try:
            with sqlite3.connect(path) as db:
                if db.execute("SELECT COUNT(*) FROM actions WHERE kind='place'").fetchone()[0]:
                    return True
        except sqlite3.Error:
            pass
    return False


def test_sigint_runs_the_kill_switch_and_exits_0(tmp_path: Path) -> None:
    p = mmkit(
        "trade",
        "--speed",
        "20",
        "--duration",
        "3000",
        "--no-dashboard",
        "--journal-dir",
        str(tmp_path),
        *SHORT_WARMUP,
    )
    deadline = time.monotonic() + 180  # a cold numba cache compiles first
    while time.monotonic() < deadline and not placed_an_order(tmp_path):
        time.sleep(0.5)
    time.sleep(1.0)  # let the orders rest
    p.send_signal(signal.SIGINT)
    out = finish(p)
    assert "signal SIGINT" in out
    import sqlite3

    db = sqlite3.connect(journal_of(out))
    kinds = [k for (k,) in db.execute("SELECT kind FROM actions ORDER BY id")]
    last_place = max(i for i, k in enumerate(kinds) if k == "place")
    after = kinds[last_place + 1 :]
    assert "cancel_all" in after  # the kill switch cancelled what was resting
    assert after[-1] == "sync_state"  # then the final position sync
    assert db.execute("SELECT value FROM meta WHERE key='stopped_by'").fetchone()[0] == (
        "signal SIGINT"
    )


def test_paper_on_a_capture_adopts_its_tick(shared_data: Path) -> None:
    from mmkit.cli.trade_cmd import instrument_of_data

    usdm = instrument_of_data(shared_data / "binance-usdm" / "btcusdt_20240808.gz")
    assert usdm["instrument.tick"] == pytest.approx(0.1)
    assert usdm["instrument.sz_decimals"] == 3
