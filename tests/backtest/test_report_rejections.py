"""A backtest's report names the input its components rejected and the faults they had,
each distinct message once with its count: before, only stderr said so (as errors)."""

from __future__ import annotations

from pathlib import Path

from tests.backtest.helpers import quick_settings

from mmkit.backtest.runner import BacktestOptions, run_backtest
from mmkit.config.loader import load_settings
from mmkit.data.schema import RecordBuilder, RecordKind
from mmkit.data.store import StoreMeta, write_store
from mmkit.plugin_manager import PluginHost

NS = 1_000_000_000


def _store(tmp_path: Path) -> Path:
    """A book with no bids for its first 2 s (every snapshot of it is unusable), then 30 s
    of a two-sided book with trades."""
    b = RecordBuilder()
    t = 1_700_000_000 * NS
    b.add_book(RecordKind.BOOK_SNAPSHOT, t, t, [], [(100.1, 2.0), (100.2, 2.0)], seq=1)
    t += 2 * NS
    bids, asks = [(99.9, 2.0), (99.8, 2.0)], [(100.1, 2.0), (100.2, 2.0)]
    b.add_book(RecordKind.BOOK_SNAPSHOT, t, t, bids, asks, seq=2)
    for k in range(300):
        t += NS // 10
        b.add(RecordKind.TRADE, t, t, 1 if k % 2 else -1, 100.1 if k % 2 else 99.9, 0.01, seq=k)
    out = tmp_path / "m.parquet"
    write_store(out, [b.take()], StoreMeta(coin="X", tick=0.1))
    return out


def test_rejected_input_is_in_the_report(tmp_path: Path) -> None:
    host, s = quick_settings()
    opts = BacktestOptions(cadence="timer", requote_ms=100.0)
    res = run_backtest(s, host, [_store(tmp_path)], opts)
    notes = res.report.to_json()["run"]["notes"]
    entries = list(res.session.engine.fault_log.entries.values())
    assert res.session.engine.rejected_events > 0 and entries
    rejected = [n for n in notes if n.startswith("input rejected - ")]
    # one note per distinct message, with the engine's own count
    assert rejected == [f"input rejected - {e.describe()}" for e in entries]
    assert any("estimator kappa: rejected BOOK_SNAPSHOT: no valid touch" in n for n in rejected)
    assert not any(n.startswith("component fault") for n in notes)
    # rejected input alone is no fault: the report's first line says nothing of faults
    assert "COMPONENT FAULTS" not in res.report.headline


def test_faults_are_in_the_reports_first_line(tmp_path: Path) -> None:
    """A component that raises now and then: the report's first line says how many faults
    halted quoting cycles, and whose (before, only a note further down did)."""
    host = PluginHost(load_entrypoints=False, extra_modules=["tests.runtime.flaky_plugin"])
    s = load_settings(
        None,
        host.registry,
        env={},
        sets=[
            "estimators.warmup.max_warmup_secs=5",
            "instrument.tick=0.1",
            'components.estimators=["kappa","sigma","warmup","flaky"]',
        ],
    )
    res = run_backtest(s, host, [_store(tmp_path)], BacktestOptions(cadence="timer"))
    n = res.session.engine.faults
    assert n > 0
    title = res.report.to_markdown().splitlines()[0]
    assert title.startswith("# mmkit backtest: ")
    assert (
        f"; COMPONENT FAULTS: {n:,} (estimator flaky {n:,}): a quoting cycle after a component "
        "raised or was refused is halted; each distinct fault is in the log"
    ) in title, title
    assert res.report.to_json()["run"]["headline"] == title.removeprefix("# mmkit backtest: ")
    assert res.report.to_json()["run"]["component_faults"] == n
