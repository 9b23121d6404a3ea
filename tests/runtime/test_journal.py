"""The journal: durability of fills, idempotence, redaction, and its summary."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.components import Estimates
from mmkit.core.actions import Cancel, CancelAll, Place, make_cloid
from mmkit.core.events import ActionResult, OwnFill
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Side
from mmkit.errors import MmkitError
from mmkit.redact import MASK, redact, register_secret
from mmkit.runtime.journal import Journal, summarize

KEY = "0x" + "ab" * 32


def fill(i: int, px: float = 100.0) -> OwnFill:
    return OwnFill(ts=i, oid=i, cloid=make_cloid(i), side=Side.BUY, px=px, sz=0.1, fee=0.01, tid=i)


def test_fill_is_durable_before_flush(tmp_path: Path) -> None:
    j = Journal(tmp_path / "r.sqlite", flush_every=10_000)
    j.action(1, Place(1, make_cloid(1), Side.BUY, 100.0, 0.1))  # pending, uncommitted row
    assert j.fill(fill(1))
    # a second connection (another process after a crash) already sees the fill
    with sqlite3.connect(tmp_path / "r.sqlite") as other:
        assert other.execute("SELECT COUNT(*) FROM fills").fetchone()[0] == 1
    j.close()


def test_fill_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite"
    code = (
        "import os, signal\n"
        "from mmkit.runtime.journal import Journal\n"
        "from mmkit.core.events import OwnFill\n"
        "from mmkit.core.types import Side\n"
        f"j = Journal({str(path)!r}, flush_every=10**9)\n"
        "for i in range(50):\n"
        "    j.fill(OwnFill(i, i, None, Side.SELL, 10.0, 1.0, tid=i))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == -9
    assert summarize(path).counts["fills"] == 50


def test_duplicate_fill_is_recorded_once(tmp_path: Path) -> None:
    j = Journal(tmp_path / "d.sqlite")
    assert j.fill(fill(3))
    assert not j.fill(fill(3))
    j.close()
    assert summarize(tmp_path / "d.sqlite").counts["fills"] == 1


def test_secrets_never_reach_the_journal(tmp_path: Path) -> None:
    register_secret(KEY)
    j = Journal(tmp_path / "s.sqlite")
    j.set_meta("config", f"key = {KEY}")
    j.fault(1, "venue", f"signing failed with {KEY[2:].upper()}")
    j.note(2, "info", f"loaded {KEY}")
    j.action_result(
        ActionResult(3, 1, None, None, Outcome.REJECTED, RejectReason.SIGNATURE, f"bad {KEY}")
    )
    j.close()
    raw = (tmp_path / "s.sqlite").read_bytes()
    for wal in tmp_path.glob("s.sqlite*"):
        raw += wal.read_bytes()
    assert KEY[2:].encode() not in raw.lower()
    assert MASK.encode() in raw


def test_summary(tmp_path: Path) -> None:
    j = Journal(tmp_path / "x.sqlite")
    j.set_meta("mode", "paper")
    j.fill(fill(1))
    j.action(1, Cancel(2, make_cloid(1), None))
    j.action(1, CancelAll(3, "Stale", emergency=True))
    j.gate(1, "data_quality", "closed", "Stale", {"age_ms": 31000.0}, "halt")
    j.position(2, 0.1, "local", realized=1.0, fees=0.01, mid=math.nan)
    j.estimates(2, Estimates())
    j.divergence(3, 0.1, 0.2)
    j.record_prediction(4, "as", "k", 0.3)
    j.record_prediction(4, "as", "k", math.nan)  # ignored, never a NaN row
    j.record_outcome(9, "as", "k", 1.0)
    j.close()
    s = summarize(tmp_path / "x.sqlite")
    assert s.meta["mode"] == "paper"
    assert s.counts["fills"] == 1 and s.counts["actions"] == 2 and s.counts["predictions"] == 1
    assert s.position == 0.1 and s.realized == 1.0 and s.divergences == 1
    assert s.gate_closures == [("data_quality", "Stale", 1)]


def test_summary_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(MmkitError, match="no such journal"):
        summarize(tmp_path / "nope.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(MmkitError, match="not an mmkit journal"):
        summarize(bad)


@given(st.text(alphabet="0123456789abcdefABCDEFx ", max_size=200))
def test_redact_masks_every_64_hex_run(text: str) -> None:
    out = redact(text)
    import re

    assert not re.search(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])", out)


def test_run_names_sort_by_start_time(tmp_path: Path) -> None:
    from mmkit.runtime.journal import new_run_path

    names = []
    for _ in range(5):
        p = new_run_path(tmp_path, "live")
        p.touch()
        names.append(p.name)
    assert names == sorted(names) and len(set(names)) == 5


def test_resume_point_after_a_killed_run(tmp_path: Path) -> None:
    from mmkit.runtime.journal import RESUME_MARGIN_NS, new_run_path, resume_point

    assert resume_point(tmp_path, "live", {"coin": "BTC"}) is None
    other = Journal(new_run_path(tmp_path, "live"))
    other.set_meta("coin", "ETH")  # another instrument: never a resume point for BTC
    other.close()
    j = Journal(new_run_path(tmp_path, "live"))
    j.set_meta("coin", "BTC")
    base = 10_000_000_000_000
    for i in range(5):
        j.fill(OwnFill(base + i * 1_000_000_000, i, None, Side.BUY, 100.0, 0.1, tid=100 + i))
    j.position(base + 4_500_000_000, 0.5, "local")  # batched: not yet committed
    # no close(): the process died. Fills are durable; the uncommitted row is lost, so the
    # resume point is the last fill
    since, tids = resume_point(tmp_path, "live", {"coin": "BTC"})  # type: ignore[misc]
    assert since == base + 4_000_000_000 - RESUME_MARGIN_NS
    assert tids == {100, 101, 102, 103, 104}
    assert resume_point(tmp_path, "live", {"coin": "SOL"}) is None
