"""The ``mmkit trade`` summary tells what the engine did (first line, time quoting, fills per
side, markouts, rejections by reason, stats with their window), from mmkit.reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.cli.main import main
from mmkit.cli.trade_cmd import EXIT_FAULTED, EXIT_KILL_SWITCH, exit_status
from mmkit.faults import FaultCategory, FaultLog
from mmkit.runtime.observer import HaltReport, KillTrip

BASE = ["--speed", "0", "--no-journal", "--no-dashboard", "--duration", "150"]
#: a run that completes: on this busy market (tick 0.1, 480 fills in 150 s) the engine's
#: drawdown passes the default kill-switch limit of 100 USD since the rate tracker weighs
#: requests as the venue does (batches) and no longer throttles the requotes early; the
#: tests of the summary rows need a run that is not halted (the halted summary has its own)
SETS = [
    "estimators.warmup.max_warmup_secs=5",
    "instrument.tick=0.1",
    "gates.kill_switch.max_drawdown_usd=1000",
]


def _trade(store: Path, capsys: pytest.CaptureFixture[str], *sets: str) -> tuple[int, str]:
    args = ["--no-entrypoints", "trade", "--data", str(store), *BASE]
    for s in [*SETS, *sets]:
        args += ["--set", s]
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code) if isinstance(exc.code, int) else 1
    out, _err = capsys.readouterr()
    return code, out


def _row(out: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}\s{{2,}}(.+?)\s*$", out, re.M)
    assert m, f"no row {label!r} in:\n{out}"
    return m.group(1)


def test_trade_summary_rows(small_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _trade(small_store, capsys)
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith("OK: quoted "), out
    fills = int(_row(out, "fills").replace(",", ""))
    m = re.fullmatch(r"([\d,]+) \(([\d,]+) / ([\d,]+)\)", _row(out, "fills (bid / ask)"))
    assert m is not None
    total, bid, ask = (int(g.replace(",", "")) for g in m.groups())
    assert total == fills == bid + ask and fills > 0
    assert "after warmup; sampled every 1 s" in _row(out, "time quoting (both sides resting)")
    assert "Sharpe (daily, from 60 s windows)" in out
    assert "markout 60s (bp; USD total; fills)" in out
    # the breakdown adds up to the rejection count
    rej = int(_row(out, "rejections").replace(",", ""))
    by = _row(out, "rejections by reason")
    counts = [int(x.replace(",", "")) for x in re.findall(r" ([\d,]+)(?:,|$)", by)]
    assert sum(counts) == rej or (rej == 0 and by == "none")
    # equity decomposition adds up to the equity row
    parts = [
        float(_row(out, f"{k} (USD)").replace(",", ""))
        for k in ("realized_trading_usd", "fees_net_usd", "unrealized_inventory_usd")
    ]
    assert sum(parts) == pytest.approx(
        float(_row(out, "equity (realized + unrealized - fees)").replace(",", "")), abs=2e-4
    )


def test_trade_summary_first_line_says_kill_switch(
    small_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _trade(small_store, capsys, "gates.kill_switch.max_drawdown_usd=0.2")
    assert code == EXIT_KILL_SWITCH, out
    lines = out.splitlines()
    assert lines[0].startswith("HALTED by kill switch at "), out
    assert lines[1].startswith("KILL SWITCH TRIPPED at ")
    assert "(warmup and end-of-run shutdown excluded)" in lines[2]
    assert _row(out, "verdict") == "halted"
    assert _row(out, "kill-switch trips") == "1"


def test_the_summary_and_the_journal_account_the_run_alike(
    small_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The session's summary and ``mmkit journal show`` of its journal read the time spent
    quoting from the same records (the venue's order updates): the same first line. The
    summary used to sample the resting orders every 100 ms and missed the moments between
    two samples (100% against the journal's 99% on the README's first run)."""
    from mmkit.reports.journal_report import report_of

    args = ["--no-entrypoints", "trade", "--data", str(small_store), "--speed", "0"]
    args += ["--no-dashboard", "--duration", "150", "--journal-dir", str(tmp_path)]
    for s in SETS:
        args += ["--set", s]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    out, _err = capsys.readouterr()
    journal = next(tmp_path.glob("*.sqlite"))
    account = report_of(journal).account
    assert out.splitlines()[0] == account.headline
    assert "quoted" in account.headline


@given(
    trips=st.integers(0, 2),
    faults=st.lists(st.tuples(st.sampled_from(["kappa", "glft", "flaky"]), st.integers(1, 50))),
    rejected=st.lists(st.tuples(st.sampled_from(["kappa", "data_quality"]), st.integers(1, 50))),
)
def test_the_exit_status_says_what_the_summary_says_first(
    trips: int, faults: list[tuple[str, int]], rejected: list[tuple[str, int]]
) -> None:
    """3 after a kill-switch trip whatever else happened, 5 when components faulted, 0 for
    a clean run; rejected input (a component refusing bad data) is not a fault."""
    log = FaultLog()
    for i, (who, n) in enumerate(faults):
        log.add(who, f"raised #{i}", i, FaultCategory.FAULT, n)
    for i, (who, n) in enumerate(rejected):
        log.add(who, f"refused #{i}", i, FaultCategory.REJECTED, n)
    report = HaltReport(
        start_ns=0,
        run_s=10.0,
        halted_s=0.0,
        closed_s={},
        kill_trips=[KillTrip(i, "kill_switch", "drawdown", "drawdown 5%") for i in range(trips)],
    )
    want = EXIT_KILL_SWITCH if trips else (EXIT_FAULTED if faults else 0)
    assert exit_status(report, log) == want
    assert exit_status(report, None) == (EXIT_KILL_SWITCH if trips else 0)
