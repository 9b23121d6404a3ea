"""``mmkit trade`` arms its dead-man's switch against an emulator started with its default
account options (``--funding seen``, no ``--account``), the key read from a 0600 key file.

The emulator only knows an account in that mode once its address was used in a query or a
subscription, as a venue knows a funded account; a client that signs ``scheduleCancel``
before reading its account was refused with ``User or API Wallet 0x... does not exist.``
for the switch's 60 s retry period. The live venue now reads the account before it arms.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.runtime.test_trade_e2e import FAST, emulator, state

from mmkit.testing.soak import KEY

pytestmark = [pytest.mark.slow, pytest.mark.network]


def trade_with_key_file(url: str, tmp_path: Path, duration: float) -> tuple[str, str]:
    """Run ``mmkit trade --venue hyperliquid --url URL`` to its end, the key in a key file
    (no key in the environment); its stdout and stderr."""
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY)
    key_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env["MMKIT_LOAD_ENTRYPOINTS"] = "0"
    args = [
        sys.executable, "-m", "mmkit", "trade", "--venue", "hyperliquid", "--url", url,
        "--duration", str(duration), "--no-dashboard", "--journal-dir", str(tmp_path),
        "--set", f"venue.key_file='{key_file}'",
    ]  # fmt: skip
    for s in FAST:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout, p.stderr


def test_switch_is_armed_and_renewed_with_the_default_account_options(tmp_path: Path) -> None:
    # the venue's $1M volume gate off, every other emulator option at its default
    with emulator("--schedule-cancel-min-volume", "0", fund=False) as url:
        out, err = trade_with_key_file(url, tmp_path, duration=14)
        assert state(url)["open_orders"] == []
    assert "does not exist" not in err, err[-3000:]
    assert "dead-man's switch NOT armed" not in err
    (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
    meta = dict(sqlite3.connect(journal).execute("SELECT key, value FROM meta"))
    # armed at start, renewed every 5 s while trading, cleared at the clean stop
    m = re.fullmatch(r"cleared at a clean stop \(armed and renewed (\d+) times\)", meta["deadman"])
    assert m is not None, meta["deadman"]
    assert int(m.group(1)) >= 2
    assert "cleared at a clean stop" in out


def test_fully_default_emulator_refuses_only_for_volume(tmp_path: Path) -> None:
    """With every emulator default the venue's volume gate is what keeps the switch off (as
    on the venue for a fresh account), never an unknown account."""
    with emulator(fund=False) as url:
        out, err = trade_with_key_file(url, tmp_path, duration=6)
    assert "does not exist" not in out + err
    line = next(ln for ln in out.splitlines() if ln.startswith("dead-man's switch"))
    assert "refused: Cannot set scheduled cancel time until enough volume traded" in line
