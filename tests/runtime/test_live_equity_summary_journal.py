"""A live run's equity is one figure: the ``mmkit trade`` summary and ``mmkit journal show``
of its journal report the same equity, unrealized PnL and mark.

The summary used to mark the position at the engine's mid when it printed (after the
shutdown's cancels, final sync and settling), while the journal's report ended on the last
periodic snapshot, up to a second and a shutdown earlier: on the loopback emulator the two
differed (``+28.4706`` against ``+28.2710``). Both now end on the snapshot the runner takes
once its shutdown is over (equity = realized + unrealized at that mid - fees).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.runtime.test_trade_e2e import emulator, env, trade

from mmkit.reports.journal_report import report_of

pytestmark = [pytest.mark.slow, pytest.mark.network]

EQUITY = re.compile(r"equity ([+-]?[\d,]+\.\d+) USD")


def row(out: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}\s{{2,}}(.+?)\s*$", out, re.M)
    assert m, f"no row {label!r} in:\n{out}"
    return m.group(1)


def test_live_summary_and_journal_show_report_the_same_equity(tmp_path: Path) -> None:
    with emulator() as url:
        p = trade(url, tmp_path, duration=10)
        out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-3000:]
    (journal,) = sorted(tmp_path.glob("live-*.sqlite"))
    shown = subprocess.run(
        [sys.executable, "-m", "mmkit", "journal", "show", str(journal), "--fills", "0"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    # the first lines of both: "...; N fills, equity +X USD"
    summary_eq = EQUITY.search(out.splitlines()[0])
    journal_eq = EQUITY.search(shown.stdout.splitlines()[0])
    assert summary_eq is not None and journal_eq is not None, (out[:300], shown.stdout[:300])
    assert summary_eq.group(1) == journal_eq.group(1)
    r = report_of(journal)
    assert row(out, "equity (realized + unrealized - fees)") == f"{r.equity_usd:,.4f}"
    assert row(out, "unrealized PnL (position at the mark)") == f"{r.unrealized_usd:,.4f}"
    assert row(out, "mark (the mid at the end of the run)") == f"{r.mark:,.6f}"
    assert row(shown.stdout, "mark (the mid at the last snapshot)") == f"{r.mark:,.6f}"
