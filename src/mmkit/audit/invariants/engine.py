"""Cross-cutting invariants: properties of whatever component sits in an engine slot.

Each check builds a whole :class:`mmkit.engine.Engine` with the component under audit in its
own slot and the audit's reference components (:mod:`mmkit.audit.reference`) in the others,
then plays hypothesis-drawn adversarial streams (:mod:`mmkit.audit.streams`) through it.

The engine refuses non-finite output on its own, so the checks also look at the component's
*raw* output (the quoter's ladder before the engine's guard, the executor's actions before the
engine filters them, the estimates an estimator publishes): a broken component fails the
audit even though the engine would have protected the venue from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, Severity

SECTION_NUMERICS = "8. Numerical Stability"
SECTION_SYNC = "4. Exchange State Synchronization"
#: estimate fields that feed quotes and must stay finite (``toxicity`` is NaN when unknown)
FINITE_ESTIMATES: tuple[str, ...] = (
    "kappa",
    "kappa_confidence",
    "A",
    "sigma",
    "sigma_confidence",
    "drift",
    "fair_value_shift",
    "skew_shift",
    "size_scale",
    "spread_scale",
)


@dataclass
class _Recorder:
    """Raw outputs of the quoter and executor slots, before the engine's guard."""

    ladders: list[Any] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)
    #: the stream player (its venue's view of client order ids), set by :func:`drive`
    player: Any = None


class _RecordingQuoter:
    def __init__(self, inner: Any, rec: _Recorder) -> None:
        self.inner = inner
        self.rec = rec

    def quote(self, view: Any, est: Any, now_ns: int) -> Any:
        ladder = self.inner.quote(view, est, now_ns)
        self.rec.ladders.append(ladder)
        return ladder


class _RecordingExecutor:
    def __init__(self, inner: Any, rec: _Recorder) -> None:
        self.inner = inner
        self.rec = rec

    def _keep(self, actions: Any) -> Any:
        self.rec.actions.extend(actions)
        return actions

    def on_event(self, event: Any, view: Any, now_ns: int) -> Any:
        return self._keep(self.inner.on_event(event, view, now_ns))

    def reconcile(self, ladder: Any, view: Any, now_ns: int) -> Any:
        return self._keep(self.inner.reconcile(ladder, view, now_ns))

    def halt(self, decision: Any, view: Any, now_ns: int) -> Any:
        return self._keep(self.inner.halt(decision, view, now_ns))


def build_audit_engine(target: AuditTarget) -> tuple[Any, _Recorder, Any]:
    """An engine with ``target`` in its slot and reference components elsewhere.

    Returns ``(engine, recorder, switch)``: ``switch`` is the reference gate the driver closes
    and opens on ``halt`` steps (None when a gate is under audit).
    """
    from mmkit.audit import reference as ref
    from mmkit.engine import Engine

    comp = target.build()
    kind = target.kind
    rec = _Recorder()
    switch = None if kind == "gate" else ref.SwitchableGate()
    quoter = (
        comp if kind == "quoter" else ref.ReferenceQuoter(target.instrument, target.risk.order_size)
    )
    executor = comp if kind == "executor" else ref.ReferenceExecutor()
    engine = Engine(
        instrument=target.instrument,
        max_position=target.risk.max_position,
        estimators=[
            (
                target.name if kind == "estimator" else "reference",
                comp if kind == "estimator" else ref.ReferenceEstimator(),
            )
        ],
        gates=[(target.name, comp)] if switch is None else [("reference", switch)],
        quoter=(
            target.name if kind == "quoter" else "reference",
            _RecordingQuoter(quoter, rec),
        ),
        executor=(
            target.name if kind == "executor" else "reference",
            _RecordingExecutor(executor, rec),
        ),
    )
    return engine, rec, switch


Probe = Callable[[Any, _Recorder, list[str]], "str | None"]


def new_fault(engine: Any, seen: int, component: str | None = None) -> str | None:
    """The first fault (not a rejected input) the engine recorded after its first ``seen``
    fault-log entries, as ``"<component> faulted: <message>"``; None when there is none.
    With ``component`` (``"<kind> <name>"``, the engine's label), only that component's.

    A component that raises (on an empty book, a feed status, anything the engine
    delivers) is caught by the engine, reported and counted as a fault; to the audit any
    such fault is a failure of the component it names. Faults of ``venue`` (malformed input
    the engine itself refused) are the stream's hostility, not a component's."""
    from mmkit.faults import FaultCategory

    entries = list(engine.fault_log.entries.values())
    for e in entries[seen:]:
        if e.category is not FaultCategory.FAULT or e.component == "venue":
            continue
        if component is None or e.component == component:
            return f"{e.component} faulted: {e.message}"
    return None


def drive(target: AuditTarget, ctx: AuditContext, probe: Probe, max_steps: int = 30) -> None:
    """Play adversarial streams through an audit engine; ``probe`` names the first problem."""
    from hypothesis import given, note

    from mmkit.audit.streams import (
        StreamPlayer,
        describe_action,
        describe_event,
        streams,
        time_horizon_s,
    )

    horizon = time_horizon_s(target.params)

    @ctx.settings()
    @given(stream=streams(max_steps=max_steps, horizon_s=horizon))
    def run(stream: list[Any]) -> None:
        engine, rec, switch = build_audit_engine(target)
        player = StreamPlayer()
        rec.player = player
        # faults are held against the component under audit only: a reference component
        # upset by extreme but finite output is the reference's limit, not a finding
        label = f"{target.kind} {target.name}"
        log: list[str] = []

        def play(now: int, ev: Any) -> None:
            log.append(describe_event(ev, now))
            n_ladders, n_actions = len(rec.ladders), len(rec.actions)
            n_faults = len(engine.fault_log.entries)
            out = engine.on_event(ev, now)
            player.observe(out)
            log.extend("    -> " + describe_action(a) for a in rec.actions[n_actions:])
            problem = (
                probe(engine, rec, log)
                if (
                    len(rec.ladders) > n_ladders
                    or len(rec.actions) > n_actions
                    or target.kind == "estimator"
                )
                else None
            ) or new_fault(engine, n_faults, label)
            if problem is not None:
                log.append("    !! " + problem)
                note("Event sequence (local time since start):\n" + "\n".join(log))
                raise AssertionError(f"{target.kind} {target.name!r}: {problem}")

        try:
            for now, ev in player.opening():
                play(now, ev)
            for step in stream:
                ev = player.event(step)
                if step.kind == "halt" and switch is not None:
                    closed = switch.toggle(emergency=step.pick % 2 == 1)
                    log.append("    (gate " + (f"closes: {closed.reason})" if closed else "opens)"))
                play(player.now_ns, ev)
        except AssertionError:
            raise
        except Exception as exc:  # any exception out of the engine is a finding with its events
            note("Event sequence (local time since start):\n" + "\n".join(log))
            raise AssertionError(
                f"{target.kind} {target.name!r} raised {type(exc).__name__}: {exc}"
            ) from exc

    run()


# -- invariant: no NaN or inf reaches a quote or an order action ------------------------------


def _ladder_problem(ladder: Any) -> str | None:
    for q in (*ladder.bids, *ladder.asks):
        if not (math.isfinite(q.px) and q.px > 0.0):
            return f"published a {q.side.name} quote (level {q.level}) with price {q.px!r}"
        if not (math.isfinite(q.sz) and q.sz > 0.0):
            return f"published a {q.side.name} quote (level {q.level}) with size {q.sz!r}"
    return None


def _finite_probe(engine: Any, rec: _Recorder, log: list[str]) -> str | None:
    from mmkit.core.actions import action_problem

    est = engine.estimates
    for name in FINITE_ESTIMATES:
        v = getattr(est, name)
        if not math.isfinite(v):
            return f"published estimate {name} = {v!r}"
    while rec.ladders:
        why = _ladder_problem(rec.ladders.pop(0))
        if why is not None:
            return why
    for a in rec.actions:
        why = action_problem(a)
        if why is not None:
            return f"emitted {type(a).__name__} with {why}"
    rec.actions.clear()
    return None


def check_no_nonfinite_output(target: AuditTarget, ctx: AuditContext) -> None:
    drive(target, ctx, _finite_probe)


# -- invariant: request ids unique and increasing -------------------------------------------


def check_request_ids(target: AuditTarget, ctx: AuditContext) -> None:
    """Request ids unique and increasing over the whole run; no PLACE reuses the client
    order id of an order still unanswered, resting or of unknown fate (a retry after an
    UNKNOWN answer, a replacement after a refused cancel)."""

    def probe(engine: Any, rec: _Recorder, log: list[str]) -> str | None:
        last = -1
        for a in rec.actions:
            rid = getattr(a, "request_id", None)
            if not isinstance(rid, int) or rid <= last:
                return (
                    f"{type(a).__name__} has request_id {rid!r} after {last} "
                    "(must be unique and increasing)"
                )
            last = rid
        if rec.player is not None and rec.player.cloid_problems:
            return str(rec.player.cloid_problems[0])
        return None

    drive(target, ctx, probe)


INVARIANTS: list[Invariant] = [
    Invariant(
        id="engine.no_nonfinite_output",
        title="No NaN or inf ever reaches a quote or an order action",
        section=SECTION_NUMERICS,
        severity=Severity.CRITICAL,
        kinds=("estimator", "gate", "quoter", "executor"),
        check=check_no_nonfinite_output,
        description=(
            "The component runs in an engine with reference components in the other slots and "
            "is fed adversarial streams (NaN/inf/zero/negative/huge prices and sizes, crossed "
            "and empty books, reordered timestamps, silences, feed gaps, rejected, unknown and "
            "filled order outcomes). Its raw output must be finite: estimates that feed quotes "
            "(kappa, A, sigma, drift, shifts, scales), every quote price and size, and every "
            "order action (checked with action_problem). The engine's own guard is not "
            "counted: a component whose output it would refuse fails. Any fault the engine "
            "records for a component (an estimator, gate or quoter that raised on any event "
            "it delivers, feed status and empty books included) fails, naming it; an executor "
            "that raises fails too (the engine does not catch executor exceptions). Time "
            "jumps reach twice the longest window, cooldown or timeout in the component's "
            "params (at least an hour)."
        ),
    ),
    Invariant(
        id="engine.request_ids_increasing",
        title="Every action carries a unique, increasing request id; cloids are never reused "
        "while their order may live",
        section=SECTION_SYNC,
        severity=Severity.HIGH,
        kinds=("executor",),
        check=check_request_ids,
        description=(
            "Venue results are matched to actions by request_id; a reused or decreasing id "
            "makes a result answer the wrong action. A PLACE must not reuse the client order "
            "id of an order that is unanswered, resting or of unknown fate (after an UNKNOWN "
            "answer to its place or cancel). Checked over adversarial streams with "
            "acknowledgements (reordered, duplicated, late), rejections for every reason and "
            "unknown outcomes."
        ),
    ),
]
