"""``kill -9`` of ``mmkit trade`` leaves no order trading: the dead-man's switch it armed
makes the venue (the loopback emulator, volume threshold 0) cancel them within its horizon;
a clean stop clears it and journals what it was."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest
from tests.runtime.test_trade_e2e import emulator, state, trade

pytestmark = [pytest.mark.slow, pytest.mark.network]


def wait_for_orders(url: str) -> None:
    deadline = time.monotonic() + 180  # a cold numba cache compiles first
    while time.monotonic() < deadline and not state(url)["open_orders"]:
        time.sleep(0.2)
    assert state(url)["open_orders"], "the run never quoted"


def test_kill_9_orders_are_cancelled_by_the_venue(tmp_path: Path) -> None:
    with emulator("--schedule-cancel-min-volume", "0") as url:
        p = trade(url, tmp_path, duration=120)
        wait_for_orders(url)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        assert state(url)["open_orders"], "orders rest right after the kill"
        # the switch was armed <= 15 s ahead and renewed every 5 s: the venue cancels them
        # within the horizon; the bound below only keeps a broken switch from hanging the test
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and state(url)["open_orders"]:
            time.sleep(0.5)
        assert not state(url)["open_orders"], "the venue never cancelled the dead run's orders"


def test_clean_stop_clears_the_switch_and_journals_it(tmp_path: Path) -> None:
    with emulator("--schedule-cancel-min-volume", "0") as url:
        p = trade(url, tmp_path, duration=120)
        wait_for_orders(url)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-3000:]
        assert "dead-man's switch" in out and "cleared at a clean stop" in out
        (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
        db = sqlite3.connect(journal)
        meta = dict(db.execute("SELECT key, value FROM meta"))
        assert meta["stopped_by"] == "signal SIGINT"
        assert meta["deadman"].startswith("cleared at a clean stop")
        assert meta["shutdown_skipped"] == "none"
