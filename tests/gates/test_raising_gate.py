"""A gate whose ``check`` raises (or returns something that is not a decision) counts as
closed: the engine halts (cancels every resting order, places nothing), reports the fault with
the gate's name, and the halt is an emergency exactly when the gate declares the kill-switch
role. The engine is the same object in trade, paper and backtest, so this holds in all three.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.audit.harness import FakeVenue, ScriptedQuoter, VenueLoop, book
from mmkit.audit.invariants.execution import INSTRUMENT, ladder
from mmkit.components import Estimates, GateDecision, View
from mmkit.core.actions import Cancel, CancelAll, Modify, Place
from mmkit.core.events import Event
from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.engine import Engine
from mmkit.execution.smart_executor import SmartExecutor


class FlakyGate:
    """Open until ``broken`` is set; then ``check`` raises or returns ``garbage``."""

    def __init__(self, provides: frozenset[str] = frozenset(), garbage: Any = None) -> None:
        self.provides = provides
        self.broken = False
        self.garbage = garbage

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if not self.broken:
            return None
        if self.garbage is not None:
            return self.garbage  # type: ignore[no-any-return]
        raise KeyError("mid")


class Faults:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.closed: list[GateDecision] = []

    def on_fault(self, component: str, message: str, now_ns: int) -> None:
        self.seen.append((component, message))

    def on_gate_closed(self, decision: GateDecision, now_ns: int) -> None:
        self.closed.append(decision)

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **kw: None


def _rig(gate: FlakyGate) -> tuple[Engine, FakeVenue, VenueLoop, Faults]:
    obs = Faults()
    engine = Engine(
        instrument=INSTRUMENT,
        max_position=3.0,
        gates=[("flaky", gate)],
        quoter=("scripted", ScriptedQuoter(ladder(99, 101, 2))),
        executor=("smart", SmartExecutor(instrument=INSTRUMENT)),
        observer=obs,
    )
    venue = FakeVenue(INSTRUMENT)
    loop = VenueLoop(engine, venue, now_ns=NS_PER_S, step_ns=100 * NS_PER_MS)
    for _ in range(20):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    return engine, venue, loop, obs


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    garbage=st.sampled_from([None, True, "closed", 1.0]),
    kill_switch=st.booleans(),
    steps=st.integers(1, 30),
)
def test_a_raising_gate_halts_like_a_closed_one(
    garbage: Any, kill_switch: bool, steps: int
) -> None:
    gate = FlakyGate(frozenset({"kill_switch"}) if kill_switch else frozenset(), garbage)
    engine, venue, loop, obs = _rig(gate)
    assert venue.open_orders(), "the rig quoted nothing while the gate was open"
    gate.broken = True
    mark = len(loop.sent)
    for _ in range(steps):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    loop.step()
    after = [a for _, a in loop.sent[mark:]]
    assert not [a for a in after if isinstance(a, Place | Modify)], "placed behind a faulty gate"
    assert not venue.open_orders(), "a faulty gate left orders resting"
    assert "flaky" in engine.closed and engine.closed["flaky"].reason == "GateFault"
    assert any(c == "gate flaky" for c, _ in obs.seen), obs.seen
    assert engine.fault_log.by_component["gate flaky"] >= 1
    assert [a for a in after if isinstance(a, Cancel | CancelAll)], "nothing was cancelled"
    assert engine.closed["flaky"].emergency is kill_switch
    assert obs.closed and obs.closed[-1].gate == "flaky"


def test_the_gate_reopens_when_check_recovers() -> None:
    gate = FlakyGate()
    engine, venue, loop, _obs = _rig(gate)
    gate.broken = True
    loop.market(book(99.5, 100.5, loop.now))
    loop.step()
    assert "flaky" in engine.closed
    gate.broken = False
    for _ in range(10):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    assert "flaky" not in engine.closed
    assert venue.open_orders(), "quoting did not resume once check() stopped raising"


@pytest.mark.parametrize("declared", [["kill_switch"], ("kill_switch",), {"kill_switch"}])
def test_kill_switch_role_read_from_roles_or_provides(declared: Any) -> None:
    from mmkit.engine import _is_kill_switch

    class G:
        roles = declared

    class P:
        provides = declared

    class N:
        provides = "kill_switch"  # a bare string is not a collection of roles

    assert _is_kill_switch(G()) and _is_kill_switch(P()) and not _is_kill_switch(N())
