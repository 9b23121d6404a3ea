"""Cross-cutting invariants: reference components pass, broken ones fail with a readable
counterexample, and the adversarial stream player is total."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings

from mmkit.audit.invariant import AuditTarget
from mmkit.audit.invariants.engine import INVARIANTS
from mmkit.audit.results import Status
from mmkit.audit.runner import RunContext, audit_targets, run_check
from mmkit.audit.streams import Step, StreamPlayer, describe_action, describe_event, streams
from mmkit.core.actions import Place, action_problem
from mmkit.core.types import Side
from mmkit.plugin_manager import PluginHost

from .conftest import settings_for

NO_NONFINITE = next(i for i in INVARIANTS if i.id == "engine.no_nonfinite_output")
REQUEST_IDS = next(i for i in INVARIANTS if i.id == "engine.request_ids_increasing")


def _target(host: PluginHost, kind: str, name: str) -> AuditTarget:
    key = {"estimator": "components.estimators", "gate": "components.gates"}.get(kind)
    sets = [f'{key}=["{name}"]'] if key else [f"components.{kind}={name}"]
    (t,) = [t for t in audit_targets(host, settings_for(host, *sets)) if t.kind == kind]
    return t


@pytest.mark.parametrize("kind", ["estimator", "gate", "quoter", "executor"])
def test_reference_components_pass(host: PluginHost, kind: str) -> None:
    res = run_check(NO_NONFINITE, _target(host, kind, "audit_reference"), RunContext(examples=25))
    assert res.status is Status.PASS, res.message + "\n" + res.counterexample


def test_reference_executor_request_ids_pass(host: PluginHost) -> None:
    t = _target(host, "executor", "audit_reference")
    assert run_check(REQUEST_IDS, t, RunContext(examples=25)).status is Status.PASS


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("quoter", "broken_nan_quoter", "published a BUY quote (level 0) with price nan"),
        ("estimator", "broken_kappa", "published estimate kappa = "),
    ],
)
def test_broken_components_fail_with_an_event_sequence(
    host: PluginHost, kind: str, name: str, expected: str
) -> None:
    res = run_check(NO_NONFINITE, _target(host, kind, name), RunContext(examples=40))
    assert res.status is Status.FAIL
    assert expected in res.message
    assert "Event sequence (local time since start):" in res.counterexample
    assert "!! " in res.counterexample  # the step where it went wrong is marked


def test_the_engine_guard_is_not_counted(host: PluginHost) -> None:
    """The engine refuses a NaN ladder on its own; the audit must still see the raw one."""
    from mmkit.audit.invariants.engine import build_audit_engine

    engine, rec, _switch = build_audit_engine(_target(host, "quoter", "broken_nan_quoter"))
    player = StreamPlayer()
    for now, ev in player.opening():
        out = engine.on_event(ev, now)
        assert all(action_problem(a) is None for a in out)  # guarded...
    assert any(math.isnan(q.px) for lad in rec.ladders for q in lad.bids)  # ...but recorded


def test_a_raising_executor_fails(host: PluginHost) -> None:
    """The engine does not catch executor exceptions: raising on a venue answer is a FAIL."""
    from mmkit.audit.reference import ReferenceExecutor

    class Raising(ReferenceExecutor):
        def on_event(self, event: Any, view: Any, now_ns: int) -> list[Any]:
            if type(event).__name__ == "ActionResult":
                raise KeyError(event.request_id)
            return []

    t = _target(host, "executor", "audit_reference")
    t.spec = replace(t.spec, name="raising", factory=lambda ctx: Raising())
    res = run_check(NO_NONFINITE, t, RunContext(examples=40))
    assert res.status is Status.FAIL
    assert "raised KeyError" in res.message


def test_halt_paths_are_driven(host: PluginHost) -> None:
    """``halt`` steps close the reference gate: a bad cancel on halt is found."""
    from mmkit.audit.reference import ReferenceExecutor
    from mmkit.core.actions import Cancel

    class BadHalt(ReferenceExecutor):
        def halt(self, decision: Any, view: Any, now_ns: int) -> list[Any]:
            return [Cancel(self._id(), None, None, emergency=decision.emergency)]

    t = _target(host, "executor", "audit_reference")
    t.spec = replace(t.spec, name="bad_halt", factory=lambda ctx: BadHalt())
    res = run_check(NO_NONFINITE, t, RunContext(examples=50))
    assert res.status is Status.FAIL
    assert "cancel names neither a cloid nor an oid" in res.message
    assert "(gate closes:" in res.counterexample


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(stream=streams())
def test_stream_player_is_total_and_describable(stream: list[Step]) -> None:
    player = StreamPlayer()
    events = [ev for _, ev in player.opening()]
    player.observe([Place(1, "0x" + "0" * 31 + "1", *_side_px_sz())])
    for step in stream:
        ev = player.event(step)
        assert ev.ts >= 0
        assert describe_event(ev, player.now_ns)
        events.append(ev)
    assert len(events) == len(stream) + 2
    assert player.now_ns >= 1_000_000_000
    assert repr(stream[0]).startswith("Step(")


def _side_px_sz() -> tuple[Side, float, float]:
    return Side.BUY, 100.0, 1.0


def test_describe_action_names_what_it_does() -> None:
    from mmkit.core.types import Side

    a = Place(3, "0x" + "0" * 31 + "3", Side.SELL, 101.5, 0.25)
    assert describe_action(a) == "PLACE req=3 SELL 0.25 @ 101.5"


@pytest.mark.slow
@pytest.mark.parametrize("examples", [10, 25, 50, 100])
def test_a_nan_kappa_is_found_at_every_budget(host: PluginHost, examples: int) -> None:
    """Each stream draws one hostile family, so rare values (a NaN trade price) are common."""
    res = run_check(
        NO_NONFINITE, _target(host, "estimator", "broken_kappa"), RunContext(examples=examples)
    )
    assert res.status is Status.FAIL, f"not found with {examples} examples"
