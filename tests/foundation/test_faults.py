"""Faults are reported, not counted (:mod:`mmkit.faults`).

* bad input to a built-in estimator or signal is rejected with a structured reason that the
  engine reports through its fault path (observer ``on_fault``), naming the component;
* a component bug (an exception) is not swallowed by the component: the engine reports it
  with the component's name, type and message, counts it per component, and keeps running;
* the run's fault log holds each distinct message once, with how many times it happened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.foundation.toy_plugin import (
    BookGate,
    CancelReplaceExecutor,
    MidEstimator,
    SpreadQuoter,
    ToyQuoterParams,
)

from mmkit.components import Estimates
from mmkit.core.events import BBO, BookSnapshot, Event, OwnFill, Timer, Trade, TradeBatch
from mmkit.core.types import Instrument, Side
from mmkit.engine import Engine
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.params import KappaParams, SigmaParams, WarmupParams
from mmkit.estimators.sigma_estimator import SigmaEstimator
from mmkit.estimators.warmup import WarmupEstimator
from mmkit.faults import FaultCategory, FaultLog, Rejections
from mmkit.signals.adverse_selection import AdverseSelectionEstimator
from mmkit.signals.lead_lag import LeadLagEstimator
from mmkit.signals.params import AdverseSelectionParams, LeadLagParams

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
BAD = [math.nan, math.inf, -math.inf, 0.0, -1.0]


class FaultRecorder:
    """An engine observer that keeps the faults and the rejected input it is told about."""

    def __init__(self) -> None:
        self.faults: list[tuple[str, str]] = []
        self.rejected: list[tuple[str, str]] = []

    def on_fault(self, component: str, message: str, now_ns: int) -> None:
        self.faults.append((component, message))

    def on_rejected(self, component: str, message: str, now_ns: int) -> None:
        self.rejected.append((component, message))

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **kw: None


def _a(*v: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(v, dtype=np.float64)


def _book(ts: int, mid: float = 100_000.0, half: float = 1.0) -> BookSnapshot:
    """Two levels a side, ``half`` from the mid (a negative ``half`` crosses the book)."""
    a = _a
    return BookSnapshot(
        ts, a(mid - half, mid - 2 * half), a(1.0, 2.0), a(mid + half, mid + 2 * half), a(1.0, 2.0)
    )


def _engine(estimators: list[tuple[str, Any]], observer: Any) -> Engine:
    return Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[*estimators, ("toy_est", MidEstimator())],
        gates=[("toy_gate", BookGate())],
        quoter=("toy_quoter", SpreadQuoter(ToyQuoterParams(), 0.01)),
        executor=("toy_exec", CancelReplaceExecutor()),
        observer=observer,
    )


def _builtins() -> list[tuple[str, Any]]:
    return [
        ("kappa", KappaOrchestrator(KappaParams())),
        ("sigma", SigmaEstimator(SigmaParams(), seed=1)),
        ("warmup", WarmupEstimator(WarmupParams())),
        ("adverse", AdverseSelectionEstimator(AdverseSelectionParams())),
        ("lead_lag", LeadLagEstimator(LeadLagParams(channel=""), seed=0)),
    ]


# -- the records ----------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["r1", "r2"]), st.integers(1, 5)),
        max_size=30,
    )
)
def test_fault_log_counts_everything_and_keeps_each_message_once(
    ops: list[tuple[str, str, int]],
) -> None:
    log = FaultLog()
    news = []
    for comp, msg, n in ops:
        news.append(log.add(comp, msg, 0, FaultCategory.REJECTED, n))
    distinct = list(dict.fromkeys((c, m) for c, m, _ in ops))
    assert list(log.entries) == distinct  # in order of first occurrence, each once
    assert sum(news) == len(distinct)
    for comp in "abc":
        assert log.by_component[comp] == sum(n for c, _, n in ops if c == comp)
    for (c, m), e in log.entries.items():
        assert e.count == sum(n for c2, m2, n in ops if (c2, m2) == (c, m))
        assert (f"(x{e.count})" in e.describe()) is (e.count > 1)
    assert len(log.summary()) == len(distinct)


def test_rejections_pass_every_rejection_to_the_listener_with_its_first_example() -> None:
    rej = Rejections()
    heard: list[tuple[str, int, str, int]] = []
    rej.reject("TRADE", "bad price", math.nan, 5)  # before an engine listens: kept anyway
    rej.attach(lambda r, n, ex, now: heard.append((r.message, n, ex, now)))
    rej.reject("TRADE", "bad price", -1.0, 6, count=3)
    rej.reject("TRADE", "bad price", 0, 7, count=0)  # nothing rejected: nothing recorded
    assert rej.total == 4 and rej.count("bad price") == 4 and rej.count("other") == 0
    assert rej.examples == {next(iter(rej.counts)): "nan"}
    assert heard == [("rejected TRADE: bad price", 3, "-1.0", 6)]


# -- bugs are faults, reported with the component's name -------------------------------------


class BrokenEstimator:
    """An estimator with a refactoring bug: its update raises ``TypeError``."""

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, Trade):
            raise TypeError("update() takes 2 positional arguments but 3 were given")

    def estimate(self, out: Estimates, now_ns: int) -> None:
        return None


def test_a_broken_estimator_is_reported_as_a_fault_with_its_name_not_counted() -> None:
    obs = FaultRecorder()
    eng = _engine([("broken", BrokenEstimator())], obs)
    assert eng.on_event(_book(T0), T0)  # quotes
    for i in range(1, 4):
        eng.on_event(Trade(T0 + i, 100_000.0, 1.0, Side.BUY), T0 + i)
    msg = "on_event raised TypeError: update() takes 2 positional arguments but 3 were given"
    assert obs.faults == [("estimator broken", msg)] * 3  # every occurrence reported
    assert eng.faults == 3 and eng.rejected_events == 0
    assert eng.fault_log.by_component == {"estimator broken": 3}
    assert eng.fault_log.summary() == [f"estimator broken: {msg} (x3)"]  # once, with a count
    assert eng.on_event(_book(T0 + 10), T0 + 10) is not None  # the engine keeps running


# -- bad input is rejected, reported once per distinct reason, estimates stay finite ---------


def _malformed() -> st.SearchStrategy[tuple[str, tuple[Any, ...]]]:
    bad = st.sampled_from(BAD)
    good = st.floats(99_990.0, 100_010.0)
    return st.one_of(
        st.tuples(st.just("trade"), st.one_of(st.tuples(bad, good), st.tuples(good, bad))),
        st.tuples(st.just("bbo"), st.one_of(st.tuples(bad, good), st.tuples(good, bad))),
        st.tuples(st.just("crossed"), st.tuples(st.floats(1.0, 50.0))),
        st.tuples(st.just("empty_book"), st.tuples(st.booleans())),
        st.tuples(st.just("fill"), st.tuples(bad)),
        st.tuples(st.just("batch"), st.tuples(st.integers(1, 4), bad)),
        st.tuples(st.just("late"), st.tuples(st.integers(1, 10**9))),
    )


def _event(op: tuple[str, tuple[Any, ...]], t: int) -> tuple[Event, int, dict[str, int]]:
    """The malformed event for ``op`` at ``t``, the time it is handled at, and how many
    rejections each component must record for it (component -> count)."""
    kind, a = op
    if kind == "trade":
        px, sz = a
        return Trade(t, px, sz, Side.BUY), t, {"kappa": 1, "sigma": 1, "warmup": 1}
    if kind == "bbo":
        bid, ask = a
        return BBO(t, bid, 1.0, ask, 1.0), t, {"kappa": 1, "sigma": 1, "lead_lag": 1}
    if kind == "crossed":
        return _book(t, half=-a[0]), t, {"kappa": 1, "sigma": 1, "lead_lag": 1}
    if kind == "empty_book":
        z = np.zeros(0, dtype=np.float64)
        one = np.ones(1, dtype=np.float64)
        px = np.full(1, 100_000.0)
        ev = BookSnapshot(t, z, z, px, one) if a[0] else BookSnapshot(t, px, one, z, z)
        return ev, t, {"kappa": 1, "sigma": 1, "lead_lag": 1}
    if kind == "fill":
        return OwnFill(t, 7, None, Side.BUY, a[0], 1.0), t, {"kappa": 1, "adverse": 1}
    if kind == "batch":
        n, px = a
        rows = [Trade(t, px, 1.0, Side.SELL) for _ in range(n)]
        return TradeBatch.of(rows, recv=[t] * n), t, {"kappa": n, "sigma": n, "warmup": n}
    # an event older than the last one handled, half a second before ``t`` (the engine is
    # told an earlier time)
    back = t - NS // 2 - a[0]
    return Trade(back, 100_000.0, 1.0, Side.BUY), back, {"sigma": 1}


_FIELDS = (
    *("kappa", "kappa_confidence", "A", "sigma", "sigma_confidence", "drift"),
    *("fair_value_shift", "skew_shift", "size_scale", "spread_scale", "toxicity"),
)


def _numbers(est: Estimates) -> dict[str, float]:
    out = {k: float(getattr(est, k)) for k in _FIELDS}
    out.update({"extras." + k: v for k, v in est.extras.items()})
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(_malformed(), min_size=1, max_size=12), st.integers(2, 40))
def test_malformed_events_are_rejected_reported_and_leave_estimates_finite(
    ops: list[tuple[str, tuple[Any, ...]]], sane: int
) -> None:
    obs = FaultRecorder()
    comps = _builtins()
    eng = _engine(comps, obs)
    t = T0
    for i in range(sane):  # a sane market first: books and trades
        t += NS // 4
        eng.on_event(_book(t, 100_000.0 + (i % 3)), t)
        t += NS // 4
        eng.on_event(Trade(t, 100_000.0, 0.5, Side.BUY if i % 2 else Side.SELL), t)
    eng.on_event(Timer(t + 1), t + 1)
    t += 1
    for op in ops:
        t += NS // 2
        before = _numbers(eng.estimates)
        counts = {name: c.rejections.total for name, c in comps}
        total = eng.rejected_events
        ev, now, expected = _event(op, t)
        eng.on_event(ev, now)  # never raises out of the engine
        eng.on_event(Timer(t), t)  # a quoting cycle: estimate with what was rejected
        bugs = [
            e
            for e in eng.fault_log.entries.values()
            if e.category is FaultCategory.FAULT and e.component != "venue"
        ]  # the engine itself refuses a malformed fill, as the venue's fault
        assert not bugs, bugs  # bad data is not a bug
        for name, c in comps:
            assert c.rejections.total - counts[name] == expected.get(name, 0), (name, op)
        assert eng.rejected_events - total == sum(expected.values())
        after = _numbers(eng.estimates)
        grew_bad = {
            k
            for k, v in after.items()
            if not math.isfinite(v) and math.isfinite(before.get(k, 0.0))
        }
        assert not grew_bad, (op, grew_bad)
    # every component's rejections reached the observer, named, once per distinct reason
    for name, c in comps:
        label = f"estimator {name}"
        reported = [m for comp, m in obs.rejected if comp == label]
        assert sorted({m.split(" (first:")[0] for m in reported}) == sorted(
            r.message for r in c.rejections.counts
        )
        assert len(reported) == len(c.rejections.counts)  # no repeats
        assert eng.fault_log.by_component.get(label, 0) == c.rejections.total
    assert eng.rejected_events == sum(c.rejections.total for _n, c in comps)


class SwallowingKappa(KappaOrchestrator):
    """The behaviour this replaces: bad input and bugs alike vanish into a counter."""

    def on_event(self, event: Event, now_ns: int) -> None:
        try:
            if getattr(event, "px", 1.0) != getattr(event, "px", 1.0):
                raise ValueError("nan")
            super().on_event(event, now_ns)
        except Exception:
            self.bad_events = getattr(self, "bad_events", 0) + 1


def test_a_swallowing_estimator_fails_the_reporting_check() -> None:
    """The check above can fail: an estimator that counts instead of reporting leaves the
    engine with nothing to report."""
    obs = FaultRecorder()
    k = SwallowingKappa(KappaParams())
    eng = _engine([("kappa", k)], obs)
    eng.on_event(_book(T0), T0)
    eng.on_event(Trade(T0 + 1, math.nan, 1.0, Side.BUY), T0 + 1)
    assert k.rejections.total == 0 and obs.faults == obs.rejected == []
    with pytest.raises(AssertionError):
        assert eng.rejected_events == 1, "the bad trade was neither rejected nor reported"


_entry = st.tuples(
    st.sampled_from(["estimator a", "gate b", "quoter c"]),
    st.sampled_from(["boom", "bad ladder", "no valid touch"]),
    st.sampled_from(list(FaultCategory)),
    st.integers(1, 5),
)


@given(st.lists(_entry, max_size=20))
def test_the_fault_headline_counts_faults_proper_by_component(
    adds: list[tuple[str, str, FaultCategory, int]],
) -> None:
    """The report's fault line: every fault proper counted, by component, most first;
    rejected input left out; no line without a fault."""
    log = FaultLog()
    per: dict[str, int] = {}
    for comp, msg, cat, n in adds:
        log.add(comp, f"{cat.value} {msg}", 0, cat, n)
        if cat is FaultCategory.FAULT:
            per[comp] = per.get(comp, 0) + n
    line = log.headline()
    if not per:
        assert line is None
        return
    assert line is not None
    who = ", ".join(f"{c} {n:,}" for c, n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])))
    assert line.startswith(f"COMPONENT FAULTS: {sum(per.values()):,} ({who}): ")
