"""A run reports its faults: through the observer to the journal, each distinct message once
in the journal summary, and a per-component summary when the session closes."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
from tests.foundation.toy_plugin import (
    BookGate,
    CancelReplaceExecutor,
    MidEstimator,
    SpreadQuoter,
    ToyQuoterParams,
)

from mmkit.core.events import BookSnapshot, Timer, Trade
from mmkit.core.types import Instrument, Side
from mmkit.engine import Engine
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.params import KappaParams
from mmkit.runtime.journal import Journal, summarize
from mmkit.runtime.observer import RunObserver
from mmkit.runtime.session import Session

from .test_fault_log_limit import more_of

NS = 1_000_000_000
T0 = 1_700_000_000 * NS


class FailingSave(MidEstimator):
    """Learned state that cannot be saved (a bug in ``save``)."""

    def save(self) -> None:
        raise KeyError("state")


def _book(ts: int) -> BookSnapshot:
    a = np.asarray
    return BookSnapshot(ts, a([99_999.0]), a([1.0]), a([100_001.0]), a([1.0]))


def _session(tmp_path: Path) -> tuple[Session, Journal]:
    journal = Journal(tmp_path / "run.sqlite")
    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[("kappa", KappaOrchestrator(KappaParams())), ("saver", FailingSave())],
        gates=[("toy_gate", BookGate())],
        quoter=("toy_quoter", SpreadQuoter(ToyQuoterParams(), 0.01)),
        executor=("toy_exec", CancelReplaceExecutor()),
        observer=None,
    )
    obs = RunObserver(journal)
    eng.observer = obs
    return Session(eng, obs, journal), journal


def test_rejections_and_a_failing_save_reach_the_journal_once_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session, journal = _session(tmp_path)
    session.dispatch(_book(T0), T0)
    for i in range(1, 6):  # five trades with a NaN price: rejected by kappa, reported once
        session.dispatch(Trade(T0 + i, math.nan, 1.0, Side.BUY), T0 + i)
    with caplog.at_level(logging.WARNING, logger="mmkit.run"):
        session.close()
    journal.close()
    eng = session.engine
    assert eng.rejected_events == 5 and eng.faults == 1
    assert eng.fault_log.by_component == {"estimator kappa": 5, "estimator saver": 1}
    s = summarize(tmp_path / "run.sqlite")
    assert s.faults == [
        (
            "estimator kappa",
            "rejected TRADE: price or size not a finite positive number (first: (nan, 1.0))",
        ),
        ("estimator saver", "save raised KeyError: 'state'"),
    ]
    assert "estimator kappa 5, estimator saver 1" in caplog.text
    # the journal keeps which are faults proper: its headline counts only the failing save,
    # as the engine's own fault log does
    assert s.fault_counts == [("estimator saver", 1)]
    assert s.fault_headline() == eng.fault_log.headline()
    assert (s.fault_headline() or "").startswith("COMPONENT FAULTS: 1 (estimator saver 1): ")
    assert (
        "rejected estimator kappa: rejected TRADE: price or size not a finite positive"
        " number (x5)" in caplog.text
    )


def test_the_journal_summary_shows_a_recurring_fault_once_with_its_count(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    for i in range(3):
        journal.fault(T0 + i, "quoter q", "quote raised ZeroDivisionError: kappa was 0")
    journal.fault(T0 + 9, "gate g", "check raised KeyError: 'mid'")
    journal.fault(T0 + 10, "quoter q", "quote raised ZeroDivisionError: kappa was 0")
    journal.close()
    assert summarize(tmp_path / "j.sqlite").faults == [
        ("quoter q", "quote raised ZeroDivisionError: kappa was 0 (x4)"),
        ("gate g", "check raised KeyError: 'mid'"),
    ]


def test_rejected_input_is_a_warning_and_a_fault_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A component that cannot use its input (bad data) is not a bug: the observer logs it
    as a warning in those words; a component that raised is logged as an error."""
    session, journal = _session(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="mmkit.run"):
        session.dispatch(_book(T0), T0)
        session.dispatch(Trade(T0 + 1, math.nan, 1.0, Side.BUY), T0 + 1)
        session.close()  # the failing save: a fault
    journal.close()
    levels = {r.getMessage(): r.levelno for r in caplog.records if r.levelno >= logging.WARNING}
    rejected = [m for m in levels if m.startswith("estimator kappa rejected input: ")]
    assert len(rejected) == 1 and levels[rejected[0]] == logging.WARNING
    assert levels["fault in estimator saver: save raised KeyError: 'state'"] == logging.ERROR
    assert not any(m.startswith("fault in estimator kappa") for m in levels)
    # both still reach the journal, as before
    assert [c for c, _ in summarize(tmp_path / "run.sqlite").faults] == [
        "estimator kappa",
        "estimator saver",
    ]


def test_an_older_journal_without_fault_kinds_reads_without_a_fault_headline(
    tmp_path: Path,
) -> None:
    """A journal written before faults had a kind (schema 2): its faults are listed as
    before, but which were bugs is unknown, so no headline counts them; a run appending to
    it brings the column in."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    journal = Journal(path)
    journal.fault(T0, "quoter q", "quote raised ZeroDivisionError: kappa was 0")
    journal.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE faults DROP COLUMN kind")
    db.commit()
    db.close()
    s = summarize(path)
    assert s.faults == [("quoter q", "quote raised ZeroDivisionError: kappa was 0")]
    assert s.fault_counts == [] and s.fault_headline() is None
    journal = Journal(path)  # appending migrates it
    journal.fault(T0 + 1, "quoter q", "quote raised ZeroDivisionError: kappa was 0")
    journal.close()
    assert summarize(path).fault_counts == [("quoter q", 1)]


class RaisingGate:
    """A gate whose check always raises the same error (the newcomer's plugin)."""

    def on_event(self, ev: object, now_ns: int) -> None:
        return None

    def check(self, view: object, est: object, now_ns: int) -> None:
        raise ValueError("gate exploded")


def test_a_gate_raising_every_cycle_logs_a_line_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path / "run.sqlite")
    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[("mid", MidEstimator())],
        gates=[("faultgate", RaisingGate())],
        quoter=("toy_quoter", SpreadQuoter(ToyQuoterParams(), 0.01)),
        executor=("toy_exec", CancelReplaceExecutor()),
    )
    obs = RunObserver(journal)
    eng.observer = obs
    session = Session(eng, obs, journal)
    session.dispatch(_book(T0), T0)
    with caplog.at_level(logging.ERROR, logger="mmkit.run"):
        for k in range(1, 3001):  # 300 s of timers every 100 ms: 3,000 faulting cycles
            t = T0 + k * NS // 10
            session.dispatch(Timer(t), t)
    journal.close()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fault in gate")]
    assert lines[0] == "fault in gate faultgate: check raised ValueError: gate exploded"
    assert 4 <= len(lines) <= 6  # the first, then one a minute (it was 3,001 lines)
    counted = sum(more_of(ln) for ln in lines[1:])
    assert 1 + counted <= eng.faults == 3001
    # nothing is lost where faults are counted: the engine, and the journal (every one)
    assert dict(summarize(tmp_path / "run.sqlite").fault_counts) == {"gate faultgate": 3001}
