"""No trace of the signing key in any log line, journal row, config dump or error message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.runtime.test_trade_e2e import FAST, emulator

from mmkit.testing.soak import ADDRESS, KEY

pytestmark = [pytest.mark.slow, pytest.mark.network]

FORMS = [KEY, KEY[2:], KEY[2:].upper(), KEY[2:].lower()]


def leaks(blob: bytes) -> list[str]:
    low = blob.lower()
    return [f for f in FORMS if f.lower().encode() in low]


def mmkit(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env.update({"MMKIT_PRIVATE_KEY": KEY, "MMKIT_LOAD_ENTRYPOINTS": "0", **(env_extra or {})})
    return subprocess.run(
        [sys.executable, "-m", "mmkit", *args], capture_output=True, text=True, env=env, timeout=240
    )


def test_a_live_run_leaves_no_trace_of_the_key(tmp_path: Path) -> None:
    outputs: list[str] = []
    sets = [a for s in FAST for a in ("--set", s)]
    with emulator() as url:
        r = mmkit(
            "trade",
            "--url",
            url,
            "--duration",
            "5",
            "--no-dashboard",
            "--log-json",
            "--journal-dir",
            str(tmp_path),
            *sets,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        outputs += [r.stdout, r.stderr]
    for args in (
        ["config", "show", "--set", f"venue.account='{ADDRESS}'"],
        ["config", "show", "--json", "--sources"],
        ["config", "validate", "--set", f"venue.private_key='{KEY}'"],  # refused
        [
            "trade",
            "--url",
            "http://127.0.0.1:9",
            "--duration",
            "1",
            "--no-dashboard",
            "--journal-dir",
            str(tmp_path / "refused"),
            "--set",
            f"venue.secret_key='{KEY}'",
        ],
    ):
        r = mmkit(*args)
        outputs += [r.stdout, r.stderr]
    assert "private keys are never read from config" in "".join(outputs)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in files) and any(p.name == "mmkit.log" for p in files)
    log_text = (tmp_path / "mmkit.log").read_text()
    assert log_text.count("\n") > 5  # the run did log
    for p in files:
        assert leaks(p.read_bytes()) == [], f"key found in {p}"
    for text in outputs:
        assert leaks(text.encode()) == [], text[-500:]


def test_a_key_file_with_loose_permissions_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    key_file.chmod(0o644)
    r = mmkit(
        "trade",
        "--url",
        "http://127.0.0.1:9",
        "--duration",
        "1",
        "--no-dashboard",
        "--no-journal",
        "--set",
        f"venue.key_file='{key_file}'",
        "--set",
        "venue.key_env=''",
        env_extra={"MMKIT_PRIVATE_KEY": ""},
    )
    assert r.returncode != 0
    assert "0600" in r.stderr or "600" in r.stderr
    assert "Traceback" not in r.stderr and leaks((r.stdout + r.stderr).encode()) == []
