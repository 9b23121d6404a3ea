"""The ``mmkit`` process's exit (:mod:`mmkit.cli.launch`): without the interpreter's
teardown, yet with the exit status, output and files of an ordinary exit. The oracle is
Python itself: the same ``SystemExit`` raised by a plain interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmkit.cli.launch import exit_status

_CODES = ["None", "0", "1", "2", "70", "130", "255", "256", "-1", "True", "False", "'bye'"]


def _py(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("code", _CODES)
def test_the_exit_status_is_pythons(code: str) -> None:
    plain = _py(f"raise SystemExit({code})")
    quick = _py(f"from mmkit.cli.launch import quick_exit\nquick_exit({code})")
    assert (quick.returncode, quick.stdout, quick.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )
    assert exit_status(eval(code)) % 256 == plain.returncode % 256


def test_exit_hooks_run_and_buffered_output_arrives_whole(tmp_path: Path) -> None:
    """atexit hooks (logging's among them) run before the exit; a large write still in
    Python's buffers reaches the pipe."""
    code = (
        "import atexit, logging, sys\n"
        "from mmkit.cli.launch import quick_exit\n"
        "logging.basicConfig(filename=sys.argv[1], level=logging.INFO)\n"
        "logging.getLogger('t').info('logged before exit')\n"
        "atexit.register(lambda: print('hook ran', file=sys.stderr))\n"
        "sys.stdout.write('x' * 300_000)\n"
        "quick_exit(3)\n"
    )
    path = tmp_path / "run.log"
    out = _py(code, str(path))
    assert out.returncode == 3
    assert out.stdout == "x" * 300_000
    assert "hook ran" in out.stderr
    assert "logged before exit" in path.read_text()


def test_a_live_thread_gets_the_ordinary_exit() -> None:
    """With a non-daemon thread still running, the process waits for it as Python does
    (its output arrives), instead of ending it mid-way."""
    code = (
        "import threading, time\n"
        "from mmkit.cli.launch import quick_exit\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    print('thread done', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "quick_exit(0)\n"
    )
    out = _py(code)
    assert out.returncode == 0 and out.stdout == "thread done\n"


def test_the_command_line_exits_as_before(tmp_path: Path) -> None:
    """``python -m mmkit``: the version, a usage error (exit 2, its message), a command's
    JSON on stdout, whole."""
    mm = [sys.executable, "-m", "mmkit", "--no-entrypoints"]
    v = subprocess.run([*mm, "--version"], capture_output=True, text=True, timeout=120)
    assert v.returncode == 0 and v.stdout.startswith("mmkit ")
    bad = subprocess.run([*mm, "no-such-command"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no-such-command" in bad.stderr
    ok = subprocess.run([*mm, "plugins", "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0
    assert json.loads(ok.stdout)
    err = subprocess.run(
        [*mm, "backtest", str(tmp_path / "missing.parquet")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert err.returncode == 2 and err.stderr.startswith("error: ")
