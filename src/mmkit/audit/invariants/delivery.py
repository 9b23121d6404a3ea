"""What the engine delivers: a component's ``ignores`` declaration is true.

An estimator or gate may declare the event kinds it does not use (``ignores``, see
:class:`mmkit.components.DeclaresIgnores`), and the engine then never delivers those events
to it. That saves a call per timer, order update and action result for every component
that only reads market data, but a false declaration would starve a component silently:
a kill switch that never hears its rejections, a skew that never sees its fills. The
engine trusts the declaration; this invariant checks it.

Two fresh copies of the component are driven through the audit's adversarial streams
(after the busy and the jumpy market; every kind of event the engine delivers, hostile
numbers, clock jumps), each led by one event of a kind that is not market data repeated
up to 40 times, with bursts of repeated events and own fills that are liquidations
(:func:`bursts`), after fixed probes (:func:`probes`, among them two minutes of a top of
book that moves between depth snapshots: :func:`top_of_book_session`). One copy gets every
event, the other only the events of kinds it does not ignore, exactly as the engine routes
them. After every step both are asked what the engine would ask (an estimator's
``estimate``, a gate's ``check`` over a market and a portfolio that follow every event),
and the answers must be identical. When the component has a compiled twin that declares
other kinds than its reference, the twin is checked the same way (the engine runs the twin
under ``[engine] twins``); a twin that declares the same kinds acts as its reference on
every stream, the filtered ones included (``twins.*``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable
from typing import Any

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, NotApplicable, Severity
from mmkit.core.types import NS_PER_S

SECTION = "9. Whole System"
#: how a failure calls the two copies
_NAMES = ("fed every event:", "fed as the engine routes:")


def _subjects(target: AuditTarget) -> list[tuple[str, Callable[[], Any]]]:
    """What the engine may run for ``target`` that declares ignored kinds: the component and,
    when it has one, its compiled twin, as ``(label, factory)``. A declaration the engine
    would refuse FAILs here."""
    from mmkit.components import ignored_kinds, ignores_problem
    from mmkit.twins import TwinError, make_twin, twin_method

    def plain() -> Any:
        return target.build()

    def twin() -> Any:
        t = make_twin(target.kind, target.build())
        force = getattr(t, "use_kernels_always", None)
        if callable(force):  # a twin that runs its reference where that is cheaper
            force()
        return t

    found: list[tuple[str, Callable[[], Any], Any]] = [("the component", plain, target.build())]
    if twin_method(found[0][2]) is not None:
        # a twin that cannot run: the engine runs the Python code (twins.* report it)
        with contextlib.suppress(TwinError):
            found.append(("its compiled twin", twin, twin()))
    declared = []
    for label, _, comp in found:
        problem = ignores_problem(comp)
        if problem is not None:
            raise AssertionError(f"{label}: the engine refuses its declaration: {problem}")
        declared.append(ignored_kinds(comp))
    # a twin declaring what its reference declares needs no run of its own: it acts as the
    # reference on any stream (``twins.*``), the filtered ones included
    return [
        (label, build)
        for i, (label, build, _) in enumerate(found)
        if declared[i] and (i == 0 or declared[i] != declared[0])
    ]


def bursts(horizon_s: float) -> Any:
    """hypothesis strategy: ops that reach a component's counts and latches. A lead of one
    op of a kind that is not market data (an own fill, a result, an order update, a
    position, a feed status, a timer; each kind as likely) repeated 1 to 40 times, 0 to 1 s
    apart, then the audit's adversarial ops (:func:`~mmkit.audit.invariants.estimators.
    adversarial_ops`) with up to three of their ops repeated the same way. Ops drawn one by
    one (hypothesis favours short runs) rarely reach a count's limit (the kill switch's
    rejections in a window) before a latch (the same kill switch tripped by a hostile fill)
    hides every later difference."""
    from hypothesis import strategies as st

    from mmkit.audit.invariants.estimators import adversarial_ops
    from mmkit.core.events import OrderStatus
    from mmkit.core.outcomes import Outcome, RejectReason

    gaps = st.sampled_from([0, 1_000_000, 100_000_000, NS_PER_S])
    times = st.one_of(st.integers(1, 4), st.integers(5, 40))  # a few, or past a limit
    lead_op = st.one_of(
        st.tuples(st.just("fill"), st.floats(-0.01, 0.01), st.floats(1e-3, 0.5), st.booleans()),
        st.tuples(  # a rejection first: hypothesis leans to a list's first members
            st.just("result"),
            st.sampled_from([Outcome.REJECTED, *(o for o in Outcome if o is not Outcome.REJECTED)]),
            st.sampled_from(list(RejectReason)),
        ),
        st.tuples(
            st.just("order"),
            st.sampled_from(list(OrderStatus)),
            st.floats(50.0, 150.0),
            st.floats(1e-3, 1.0),
        ),
        st.tuples(st.just("position"), st.floats(-1.0, 1.0)),
        st.tuples(
            st.just("feed"), st.booleans(), st.booleans(), st.sampled_from(["book", "trades"])
        ),
        st.tuples(st.just("timer")),
    )

    @st.composite
    def draw_ops(draw: Any) -> list[tuple[int, tuple[Any, ...]]]:
        op = draw(lead_op)
        ops: list[tuple[int, tuple[Any, ...]]] = [(draw(gaps), op)] * draw(times)
        ops += draw(adversarial_ops(horizon_s))
        for _ in range(draw(st.integers(0, 3))):
            i = draw(st.integers(0, len(ops) - 1))
            ops[i + 1 : i + 1] = [(draw(gaps), ops[i][1])] * draw(times)
        return ops

    return draw_ops()


def probes() -> list[tuple[list[tuple[int, tuple[Any, ...]]], list[bool]]]:
    """Fixed streams tried before the drawn ones, as ``(ops, liquidations)``: one kind of
    event that is not market data, 40 times 10 ms apart (results of every outcome, an
    order update of every status, a timer, positions, feed statuses; a rejection of each
    class; own fills on each side of the mid), one own fill that is a liquidation, and
    :func:`top_of_book_session`: every count and latch a component keeps on those kinds,
    and every model that learns from its fills' outcomes with the top of book as an input,
    is reached at least once whatever hypothesis draws (its random draws favour short runs
    and a list's first members)."""
    from mmkit.core.events import OrderStatus
    from mmkit.core.outcomes import Outcome, RejectReason

    # a rejection of each class (what the kill switch counts by), and one that is not one
    first_of: dict[Any, RejectReason] = {}
    for r in RejectReason:
        first_of.setdefault((r.rejection_class, r.counts_as_rejection), r)
    ops: list[tuple[Any, ...]] = [("result", Outcome.REJECTED, r) for r in first_of.values()]
    ops += [("result", o, RejectReason.OTHER) for o in Outcome if o is not Outcome.REJECTED]
    ops += [("order", st_, 100.0, 0.1) for st_ in OrderStatus]
    ops += [("timer",), ("position", 0.5), ("position", 50.0)]
    ops += [
        ("feed", up, gap, s)
        for up in (False, True)
        for gap in (False, True)
        for s in ("book", "trades")
    ]
    ops += [("fill", side * 1e-4, 0.1, side > 0) for side in (1, -1)]  # passive fills
    out = [([(10_000_000, op)] * 40, [False]) for op in ops]
    out.append(([(1, ("fill", 0.0, 0.1, True))], [True]))
    out.append((top_of_book_session(), [False]))
    return out


def top_of_book_session(seconds: int = 60) -> list[tuple[int, tuple[Any, ...]]]:
    """A fixed market in which the top of book moves between depth snapshots, as on a real
    feed: a top of book every 250 ms wandering around the sane mid (its spread and its
    sizes, so its imbalance, changing), a depth snapshot every 5 s (which moves the sane
    mid) and a trade every second, with a one-sided flow for ten seconds at a time. For the
    first ``seconds``, a passive own fill every 2 s on alternating sides and a flat
    position from the venue every 10 s; for the next ``seconds``, no fill and a position of
    0.015 held (0.3 of the default limit).

    What it reaches that drawn streams do not: models that learn from outcomes seconds
    later with the top of book as an input (the adverse-selection classifier's features and
    markouts; the RL skew agent's rewards, marked to market while it holds a position).
    Drawn prices rarely make a valid top of book near the mid, and drawn streams rarely
    last the seconds such an outcome takes: without this stream, a copy of those components
    that ignores the top of book published the same estimates as a copy fed every event."""
    ops: list[tuple[int, tuple[Any, ...]]] = []
    step = NS_PER_S // 4
    for i in range(8 * seconds):
        trading = i < 4 * seconds
        drift = 3e-4 * math.sin(i / 7.0)
        half = 1e-4 * (1 + i % 3)
        ops.append((step, ("top", drift - half, drift + half, 1.0 + i % 5, 1.0 + (3 * i) % 7)))
        if i % 4 == 0:
            buy = (i // 40) % 2 == 0
            ops.append((0, ("trade", drift, 0.05 + 0.01 * (i % 3), buy)))
        if trading and i % 8 == 2:
            buy = (i // 8) % 2 == 0
            ops.append((0, ("fill", drift - half if buy else drift + half, 0.05, buy)))
        if i % 20 == 19:
            ops.append((0, ("book", 1.0 + 2e-4 * math.cos(i / 3.0))))
        if i % 40 == 0:
            ops.append((0, ("position", 0.0 if trading else 0.015)))
    return ops


def lead_lag_session(seconds: int = 75) -> list[tuple[int, tuple[Any, ...]]]:
    """A fixed market in which another venue leads: every 130 ms our top of book, 30 ms
    later a leader's top of book (:data:`~mmkit.audit.invariants.estimators.LEADER`), and a
    timer 60 ms after that (the engine's quoting cycle, whose estimate samples too), both
    tops at a seeded random walk around the sane mid, ours three cycles behind, for
    ``seconds``; then the leader disconnects for 2 s, comes back for 10 s, and goes silent
    for 8 s while our top of book goes on. A cycle longer than the lead-lag model's 100 ms
    grid makes each of the three events, in turn, the one that crosses a grid point.

    What it reaches that drawn streams do not: a lead-lag model's grid sampling, its
    significance test on enough returns (300 samples by default: 30 s) and a significant
    lead, so a published shift; then the feed's gating (disconnected, back, stale).
    Drawn streams carry no leader stream."""
    import random

    from mmkit.audit.invariants.estimators import LEADER

    rng = random.Random(20261206)
    ops: list[tuple[int, tuple[Any, ...]]] = []
    ms = NS_PER_S // 1000
    cycle = 130  # ms
    walk = [0.0] * 4
    half = 5e-5
    for i in range((seconds + 20) * 1000 // cycle):
        walk.append(max(-0.01, min(0.01, walk[-1] + rng.gauss(0.0, 2e-4))))
        lead, fol = walk[-1], walk[-4]
        t = i * cycle - seconds * 1000  # ms after the lead's first part
        ops.append((40 * ms, ("top", fol - half, fol + half, 1.0, 1.0)))
        if t < 0 or 2000 <= t < 12000:
            ops.append((30 * ms, ("leader", lead - half, lead + half)))
        elif 0 <= t < cycle:
            ops.append((30 * ms, ("feed", False, False, LEADER)))
        ops.append((60 * ms, ("timer",)))
    return ops


def _kind_names(kinds: frozenset[Any]) -> str:
    return ", ".join(sorted(k.name for k in kinds))


def check_ignored_kinds(target: AuditTarget, ctx: AuditContext) -> None:
    """A component that declares ``ignores`` is unchanged by events of those kinds: a copy
    fed every event of adversarial streams and a copy fed only the kinds it does not ignore
    publish identical estimates (estimator) or decide identically (gate) after every step.
    NOT_APPLICABLE without a declaration (the engine then delivers every event)."""
    from hypothesis import example, given, note
    from hypothesis import strategies as st

    from mmkit.audit.invariants.estimators import (
        _horizon,
        _note,
        _settings,
        busy_market,
        feed,
        stream_events,
    )
    from mmkit.audit.invariants.gates import _view, follow
    from mmkit.audit.invariants.twins import jumpy_market
    from mmkit.components import Estimates, ignored_kinds, withheld_kinds
    from mmkit.core.events import OwnFill
    from mmkit.core.market import MarketState
    from mmkit.twins.compare import decision_diff, estimates_diff

    subjects = _subjects(target)
    if not subjects:
        raise NotApplicable("declares no ignored kinds: the engine delivers it every event")
    is_gate = target.kind == "gate"

    def compare(ops: list[tuple[int, tuple[Any, ...]]], warm: list[bool], liq: list[bool]) -> None:
        _note(ops)
        for label, build in subjects:
            full, deaf = build(), build()
            ignored = ignored_kinds(deaf)
            kept_from = withheld_kinds(ignored)
            views = [_view(MarketState()), _view(MarketState())]
            out = [Estimates(), Estimates()]
            withheld: list[str] = []
            events = stream_events(ops, busy_market() + jumpy_market())
            fills = 0
            for step, (where, now, ev, _) in enumerate(events):
                if type(ev) is OwnFill:  # some fills are liquidations (drawn in ``liq``)
                    if liq[fills % len(liq)]:
                        ev = dataclasses.replace(ev, liquidation=True)
                        where += " (a liquidation)"
                    fills += 1
                follow(views, ev, now)  # the engine's market and portfolio follow every event
                feed(full, ev, now)
                if ev.kind in kept_from:
                    withheld.append(f"{where} ({ev.kind.name})")
                else:
                    feed(deaf, ev, now)
                if is_gate:
                    est = Estimates(warmed_up=warm[step % len(warm)])
                    d_full = full.check(views[0], est, now)
                    d_deaf = deaf.check(views[1], est.copy(), now)
                    diff = decision_diff(d_full, d_deaf, names=_NAMES)
                else:
                    full.estimate(out[0], now)
                    deaf.estimate(out[1], now)
                    diff = "; ".join(estimates_diff(out[0], out[1], names=_NAMES))
                if diff:
                    note("events withheld from the second copy: " + "; ".join(withheld[-8:]))
                    what = "decides" if is_gate else "publishes"
                    raise AssertionError(
                        f"after {where}: {label}, which declares it ignores "
                        f"{_kind_names(ignored)}, {what} differently when the engine "
                        f"withholds those events ({len(withheld)} so far) than when it is "
                        f"fed them: {diff}"
                    )

    @_settings(ctx)
    @given(
        bursts(_horizon(target)),
        st.lists(st.booleans(), min_size=1, max_size=8),
        st.lists(st.booleans(), min_size=1, max_size=4),
        st.just(False),
    )
    def run(
        ops: list[tuple[int, tuple[Any, ...]]], warm: list[bool], liq: list[bool], probe: bool
    ) -> None:
        if probe:  # hypothesis counts the drawn examples, not the explicit ones
            ctx.count_example()
        compare(ops, warm, liq)

    for ops_, liq_ in probes():  # tried first, whatever hypothesis draws
        run = example(ops_, [False], liq_, True)(run)
    run()


INVARIANTS: list[Invariant] = [
    Invariant(
        id="delivery.ignored_kinds",
        title="a component is unchanged by the event kinds it declares it ignores",
        section=SECTION,
        severity=Severity.CRITICAL,
        kinds=("estimator", "gate"),
        check=check_ignored_kinds,
        description=check_ignored_kinds.__doc__ or "",
        # half the drawn examples: the fixed probes (:func:`probes`) run first whatever the
        # budget, and they reach the counts and latches that random draws rarely do
        weight=0.5,
    ),
]

__all__ = ["INVARIANTS", "check_ignored_kinds"]
