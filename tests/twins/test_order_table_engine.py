"""The executor twin with its orders in the order table (``use_table``, step 1 of the
compiled loop in docs/twins.md), wired as a run wires it, sends the very actions the
default engine (the orders as the reference's objects) sends, event after event, on the
synthetic market through the simulated exchange."""

from __future__ import annotations

from typing import Any

import pytest

from mmkit.assembly import build_component, build_engine
from mmkit.config.loader import load_settings
from mmkit.core.events import Timer
from mmkit.core.types import NS_PER_MS
from mmkit.execution.order_table import TableOrder
from mmkit.execution.smart_executor_twin import SmartExecutorTwin, outputs_differ
from mmkit.plugin_manager import PluginHost
from mmkit.runtime.paper import event_time


class Run:
    """One engine, its simulated exchange and the synthetic feed, stepped by hand."""

    def __init__(self, table: bool, duration_s: float) -> None:
        host = PluginHost(load_entrypoints=False)
        s = load_settings(
            None,
            host.registry,
            env={},
            sets=["components.feed='synthetic'", f"trade.duration_s={duration_s}"],
        )
        self.engine = build_engine(s, host)
        self.executor: Any = self.engine.executor
        assert isinstance(self.executor, SmartExecutorTwin)
        self.executor.use_table(table)
        self.venue: Any = build_component(host.registry, s, "venue", s.components.venue)
        self.events = build_component(host.registry, s, "feed", s.components.feed).events()
        self.timer_ns = s.engine.timer_ms * NS_PER_MS
        self.duration_ns = int(duration_s * 1e9)

    def stream(self) -> Any:
        """Each engine call's actions (what, when, the actions), as the paper loop makes
        them: venue answers and timers before each market event."""
        on, venue = self.engine.on_event, self.venue
        t0 = next_timer = None
        for ev in self.events:
            t = event_time(ev)
            if t0 is None:
                t0 = t
                acts = on(Timer(t, "startup"), t)
                venue.submit(acts, t)
                yield "startup", t, acts
                next_timer = t + self.timer_ns
            if t - t0 > self.duration_ns:
                return
            assert next_timer is not None
            while next_timer <= t:
                for r in venue.drain(next_timer):
                    acts = on(r, next_timer)
                    venue.submit(acts, next_timer)
                    yield type(r).__name__, next_timer, acts
                acts = on(Timer(next_timer), next_timer)
                venue.submit(acts, next_timer)
                yield "timer", next_timer, acts
                next_timer += self.timer_ns
            for r in venue.drain(t):
                acts = on(r, t)
                venue.submit(acts, t)
                yield type(r).__name__, t, acts
            venue.on_market(ev, t)
            acts = on(ev, t)
            venue.submit(acts, t)
            yield type(ev).__name__, t, acts


def test_the_table_engine_sends_what_the_default_engine_sends() -> None:
    ref, tab = Run(table=False, duration_s=300.0), Run(table=True, duration_s=300.0)
    sent = 0
    for (what, t, ra), (_, _, ta) in zip(ref.stream(), tab.stream(), strict=True):
        diff = outputs_differ(ref.executor, tab.executor, ra, ta)
        assert not diff, f"after {what} at {t}: " + "; ".join(diff[:6])
        sent += len(ra)
    assert sent > 500, sent  # a busy run: places, modifies and cancels of every kind
    assert ref.engine.portfolio.fill_count == tab.engine.portfolio.fill_count > 10
    assert tab.executor.twin_fallbacks == 0
    # every value the executor wrote fitted its row: no order spilled out of the table
    assert tab.executor.table is not None and tab.executor.table.spills == 0
    orders = list(tab.executor.orders.by_cloid.values())
    assert orders and all(type(o) is TableOrder for o in orders)
    c = tab.executor.counters
    assert c["modifies"] > 0 and c["places"] > 0 and c["cancels"] > 0, c


@pytest.mark.parametrize("table", [True, False], ids=["table", "objects"])
def test_the_audits_executor_streams_hold_with_and_without_the_table(
    monkeypatch: pytest.MonkeyPatch, table: bool
) -> None:
    """``twins.executor_equivalence`` (requotes, fills, venue faults, halts on fake venues)
    with the twin's orders in the table and as the reference's objects (the default, which
    the audit builds): PASS either way, and the table path is what reconciled exactly when
    the table is on."""
    from mmkit.audit.invariants import twins as audit_twins
    from mmkit.audit.results import Status
    from mmkit.audit.runner import RunContext, component_targets, run_check

    build = audit_twins.build_pair

    def as_drawn(target: Any) -> tuple[Any, Any]:
        ref, twin = build(target)
        if isinstance(twin, SmartExecutorTwin):
            assert twin.table is None  # the audit builds the default: no table
            twin.use_table(table)
        return ref, twin

    monkeypatch.setattr(audit_twins, "build_pair", as_drawn)
    counted = {"table": 0}
    rows = SmartExecutorTwin._reconcile_rows

    def spy(self: SmartExecutorTwin, *args: Any) -> Any:
        out = rows(self, *args)
        counted["table"] += out is not None
        return out

    monkeypatch.setattr(SmartExecutorTwin, "_reconcile_rows", spy)
    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={})
    (target,) = component_targets(host, s, ["executor:smart"])
    inv = next(i for i in audit_twins.INVARIANTS if i.id == "twins.executor_equivalence")
    r = run_check(inv, target, RunContext(examples=200, seed=0))
    assert r.status is Status.PASS, r.message
    if table:
        assert counted["table"] > 100, counted
    else:
        assert counted["table"] == 0, counted
