"""Twin equivalence (issue 20, seed report §8 numerical stability): a component's compiled
twin (see :mod:`mmkit.twins`) gives exactly its Python reference's outputs.

For every configured component that offers a twin, hypothesis streams drive the reference
and the twin side by side, each the way the engine drives it, and after every step the
outputs are compared exactly (or within the twin module's stated ``TWIN_TOLERANCE``):

* estimators: the audit's adversarial event streams after the busy market (books, deltas,
  trades, trade batches, own fills, feed faults, order updates, results, snapshots, timers,
  hostile numbers and clock jumps); the :class:`~mmkit.components.Estimates` each publishes
  and the rejections each records;
* gates: the same streams over a shared market and a portfolio that books the own fills; the
  decision (gate, reason, detail, mode, emergency) of ``check``;
* quoters: sequences of quoting scenarios (books, positions near the limits, hostile
  estimates) given to one quoter after the other, so that caches are exercised; the ladders,
  or the same exception;
* executors: identical engines on identical fake venues driven through requotes, fills,
  partial fills, external cancels, lost and delayed acks, disconnects, rejections and
  failed modifies; every action sent, in order, and the orders resting at the venue.

After its streams, each of the four reads the code of the kernels the twin runs and its
reference does not (:func:`mmkit.twins.exactness.read_twin`): a ``pow`` with a constant
operand (a literal or a global number: LLVM makes ``0.5 ** x`` an ``exp2``), a kernel
compiled with fast-math, and, for kernels outside mmkit's own (which the test suite reads on
a cold compile), the LLVM IR of every signature the streams compiled: fast-math flags, fused
multiply-adds, ``exp2`` / ``exp10`` / ``powi``, NaN-blind min / max, vector math calls. Any
of these FAILs: such a twin differs from its reference by an ulp on some inputs, which a
random stream finds only by luck.

A component without a twin is NOT_APPLICABLE (it runs its Python code). A ``twin()`` that
raises or returns something that is not a component of the kind FAILs: the engine would
quietly run the reference in its place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, NotApplicable, Severity
from mmkit.core.types import NS_PER_S
from mmkit.twins import TwinError, make_twin, twin_method
from mmkit.twins.compare import (
    actions_diff,
    decision_diff,
    estimates_diff,
    ladder_diff,
    same,
    tolerance_of,
)

SECTION = "8. Numerical Stability"


def build_pair(target: AuditTarget) -> tuple[Any, Any]:
    """A fresh reference and a fresh twin of ``target`` (its ``twin()`` of another fresh
    build, so that the two share no state); NOT_APPLICABLE without a twin."""
    ref = target.build()
    if twin_method(ref) is None:
        raise NotApplicable("no compiled twin: the component runs its Python code")
    try:
        twin = make_twin(target.kind, target.build())
    except TwinError as exc:
        raise AssertionError(f"the twin cannot run: {exc}") from None
    force = getattr(twin, "use_kernels_always", None)
    if callable(force):  # a twin that runs its reference where that is cheaper: its kernels
        force()
    return ref, twin


def check_exact_code(target: AuditTarget) -> None:
    """FAIL when the twin's own kernels hold code that rounds unlike Python (run after the
    streams, so that the signatures they compiled are read)."""
    from mmkit.twins.exactness import read_twin

    ref, twin = build_pair(target)
    try:
        read = read_twin(twin, ref)
    except Exception as exc:  # a twin's code the walk cannot follow: not shown exact
        raise AssertionError(
            f"the twin's kernels could not be read for arithmetic that rounds unlike Python: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if read.hazards:
        shown = "\n".join(f"- {h}" for h in read.hazards[:8])
        more = f"\n... and {len(read.hazards) - 8} more" if len(read.hazards) > 8 else ""
        raise AssertionError(
            "the twin's kernels hold code that can round unlike its Python reference "
            f"(equal on the drawn streams, but not on every input; {read.summary()}); "
            f"the code that shows it:\n{shown}{more}"
        )


def _rejected(component: Any) -> int:
    r = getattr(component, "rejections", None)
    total = getattr(r, "total", None)
    return int(total) if isinstance(total, int) else 0


def jumpy_market() -> list[tuple[int, tuple[Any, ...]]]:
    """Ops after the busy market: the mid jumps by 30 %, 40 %, 100 % and 50 % with trades
    and a trade batch on each side of every jump, a second apart (the branches a twin is
    most tempted to simplify: clamps, caps, cascade floors, outlier rejection)."""
    ops: list[tuple[int, tuple[Any, ...]]] = []
    for factor in (1.3, 0.6, 2.0, 0.5, 1.0):
        ops.append((NS_PER_S, ("book", factor)))
        ops.append((NS_PER_S // 10, ("trade", 0.0, 0.5, True)))
        rows = [(1e-3 * (k - 2), 0.2, k % 2 == 0, 0) for k in range(5)]
        ops.append((NS_PER_S // 10, ("trades", rows, 10_000_000)))
    return ops


def drive_pair(
    ref: Any,
    twin: Any,
    ops: list[tuple[int, tuple[Any, ...]]],
    after: Callable[[str, int], None],
    on_event: Callable[[Any, int], None] | None = None,
) -> None:
    """Feed the busy market then ``ops`` to both components, each as the engine would (a
    trade batch whole to ``on_trades`` when the component has it, else row by row); call
    ``on_event(event, now)`` first (to move a shared market) and ``after(where, now)`` after
    each step."""
    from mmkit.audit.invariants.estimators import busy_market, feed, stream_events

    for where, now, ev, _ in stream_events(ops, busy_market() + jumpy_market()):
        if on_event is not None:
            on_event(ev, now)
        feed(ref, ev, now)
        feed(twin, ev, now)
        after(where, now)


def check_estimator_twin(target: AuditTarget, ctx: AuditContext) -> None:
    """The estimator's twin publishes exactly the reference's estimates (every field and
    extra) and records the same rejections, after every step of adversarial streams, then
    of two fixed markets: a top of book moving between depth snapshots with fills of its
    own (which models that learn from their fills' outcomes need), and another venue's top
    of book leading ours (which a lead-lag model needs to sample, test and publish).
    Then the kernels the twin runs and its reference does not are read for code that
    rounds unlike Python (see the module's notes)."""
    from hypothesis import given

    from mmkit.audit.invariants.delivery import lead_lag_session, top_of_book_session
    from mmkit.audit.invariants.estimators import _horizon, _note, _settings, adversarial_ops
    from mmkit.components import Estimates

    build_pair(target)  # NOT_APPLICABLE before hypothesis starts

    def compare(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        ref, twin = build_pair(target)
        tol = tolerance_of(twin)
        out_r, out_t = Estimates(), Estimates()

        def after(where: str, now: int) -> None:
            ref.estimate(out_r, now)
            twin.estimate(out_t, now)
            diff = estimates_diff(out_r, out_t, tol)
            assert not diff, f"after {where}, twin differs: " + "; ".join(diff)
            nr, nt = _rejected(ref), _rejected(twin)
            assert nr == nt, f"after {where}: reference rejected {nr} events, twin {nt}"

        drive_pair(ref, twin, ops, after)

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        _note(ops)
        compare(ops)

    run()
    # after the drawn streams, so that a twin wrong on any of them is shown a shrunk one
    for session, what in (
        (
            top_of_book_session,
            "a top of book moving between depth snapshots, fills of our own, then a position held",
        ),
        (
            lead_lag_session,
            "another venue's top of book leading ours, then disconnected, back and silent",
        ),
    ):
        ctx.count_example()
        try:
            compare(session())
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\nthe stream: the busy and the jumpy market, then "
                f"mmkit.audit.invariants.delivery.{session.__name__}() ({what})"
            ) from None
    check_exact_code(target)


def check_gate_twin(target: AuditTarget, ctx: AuditContext) -> None:
    """The gate's twin decides exactly as the reference (open, or the same gate, reason,
    detail, mode and emergency flag) after every step of adversarial streams, over a market
    that follows the stream and a portfolio that books its own fills.
    Then the kernels the twin runs and its reference does not are read for code that
    rounds unlike Python (see the module's notes)."""
    from hypothesis import given
    from hypothesis import strategies as st

    from mmkit.audit.invariants.estimators import _horizon, _note, _settings, adversarial_ops
    from mmkit.audit.invariants.gates import _view, follow
    from mmkit.components import Estimates
    from mmkit.core.market import MarketState

    build_pair(target)

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)), st.lists(st.booleans(), min_size=1, max_size=8))
    def run(ops: list[tuple[int, tuple[Any, ...]]], warm: list[bool]) -> None:
        _note(ops)
        ref, twin = build_pair(target)
        tol = tolerance_of(twin)
        # one market and one portfolio per side: a component that prices or books
        # something when it reads the view must not do it for the other one
        views = [_view(MarketState()), _view(MarketState())]
        step = [0]

        def on_event(ev: Any, now: int) -> None:
            follow(views, ev, now)

        def after(where: str, now: int) -> None:
            est = Estimates(warmed_up=warm[step[0] % len(warm)])
            step[0] += 1
            d_r = ref.check(views[0], est, now)
            d_t = twin.check(views[1], est.copy(), now)
            diff = decision_diff(d_r, d_t, tol)
            assert not diff, f"after {where}, twin decides differently: {diff}"
            e_r, e_t = views[0].portfolio.equity(100.0), views[1].portfolio.equity(100.0)
            assert same(e_r, e_t, tol), f"after {where}: the view's equity {e_r!r} != {e_t!r}"

        drive_pair(ref, twin, ops, after, on_event)

    run()
    check_exact_code(target)


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:  # compared: the twin must raise as the reference does
        return "raised", f"{type(exc).__name__}: {exc}"


def check_quoter_twin(target: AuditTarget, ctx: AuditContext) -> None:
    """The quoter's twin quotes exactly the reference's ladder (every level's side, price,
    size and index), or raises as it does, over sequences of quoting scenarios given to one
    quoter after the other (state and caches carried between them).
    Then the kernels the twin runs and its reference does not are read for code that
    rounds unlike Python (see the module's notes)."""
    from hypothesis import given, note
    from hypothesis import strategies as st

    from mmkit.audit.invariants.quoting import _settings, make_estimates, make_view, scenarios

    build_pair(target)

    @_settings(ctx)
    @given(st.lists(scenarios(target), min_size=1, max_size=6))
    def run(seq: list[Any]) -> None:
        ref, twin = build_pair(target)
        tol = tolerance_of(twin)
        now = 0
        prev: list[Any] = [None, None]
        # each scenario twice in a row (fresh views, same inputs): the second quote is where
        # a quoter hands back its previous ladder object
        for i, sc in enumerate(x for drawn in seq for x in (drawn, drawn)):
            note(f"scenario {i}: {sc!r}")
            now = max(now, sc.now_ns)
            views = [
                make_view(
                    target.instrument,
                    sc.bids,
                    sc.asks,
                    sc.position,
                    target.risk.max_position,
                    last_trade=sc.last_trade,
                )
                for _ in range(2)
            ]
            kr, lr = _outcome(functools.partial(ref.quote, views[0], make_estimates(sc.est), now))
            kt, lt = _outcome(functools.partial(twin.quote, views[1], make_estimates(sc.est), now))
            assert kr == kt, f"scenario {i}: reference {kr} ({lr!r}), twin {kt} ({lt!r})"
            if kr == "raised":
                assert lr == lt, f"scenario {i}: reference raised {lr}, twin raised {lt}"
                continue
            diff = ladder_diff(lr, lt, tol)
            assert not diff, f"scenario {i}: twin quotes differently: {diff}"
            # the engine and the executor skip work on a ladder object they have seen:
            # the twin must hand back its previous ladder exactly when the reference does
            again_r, again_t = lr is prev[0], lt is prev[1]
            assert again_r == again_t, (
                f"scenario {i}: the reference {'returned' if again_r else 'did not return'} "
                f"its previous ladder object, the twin {'did' if again_t else 'did not'}"
            )
            prev = [lr, lt]

    run()
    check_exact_code(target)


#: what the executor comparison drives: the execution faults of
#: :func:`mmkit.audit.invariants.execution.apply_op` (requotes twice as often), then halts
#: (emergency or not) and reopenings
def executor_ops() -> tuple[str, ...]:
    from mmkit.audit.invariants.execution import OPS

    return ("requote", *OPS, "halt", "open")


def check_executor_twin(target: AuditTarget, ctx: AuditContext) -> None:
    """The executor's twin sends exactly the reference's actions (type, order, cloids,
    prices, sizes) and leaves the same orders resting, in identical engines on identical
    fake venues driven through requotes, fills, venue faults and halts.
    Then the kernels the twin runs and its reference does not are read for code that
    rounds unlike Python (see the module's notes)."""
    from hypothesis import given, note
    from hypothesis import strategies as st

    from mmkit.audit.invariants.execution import apply_op, make_rig
    from mmkit.audit.invariants.quoting import _settings

    build_pair(target)

    @_settings(ctx)
    @given(
        st.lists(
            st.tuples(st.sampled_from(executor_ops()), st.integers(0, 11)), min_size=1, max_size=14
        )
    )
    def run(ops: list[tuple[str, int]]) -> None:
        note(f"ops: {ops}")
        ref, twin = build_pair(target)
        tol = tolerance_of(twin)
        rigs = [make_rig(target, executor=ref), make_rig(target, executor=twin)]
        for rig in rigs:
            rig.settle(1.0)
        for i, (op, k) in enumerate(ops):
            for rig in rigs:
                if op == "halt":
                    rig.gate.close("Audit", emergency=k % 2 == 0)
                    rig.settle(0.5)
                elif op == "open":
                    rig.gate.open()
                    rig.settle(0.5)
                else:
                    apply_op(rig, op, k)
            sent = [rig.sent_since(0) for rig in rigs]
            diff = actions_diff(sent[0], sent[1], tol)
            assert not diff, f"after op {i} ({op}, {k}): twin acts differently: {diff}"
            rest = [sorted((o.side, o.px, o.sz) for o in rig.venue.open_orders()) for rig in rigs]
            assert rest[0] == rest[1], (
                f"after op {i} ({op}, {k}): resting orders differ: reference {rest[0]} "
                f"!= twin {rest[1]}"
            )

    run()
    check_exact_code(target)


def check_system_twins(target: AuditTarget, ctx: AuditContext) -> None:
    """The configured set as it runs (each component its twin where it has one) and the
    same set with every component's Python reference, in lockstep on identical venues
    through feed faults and execution pressure: after every step they have sent the same
    actions and hold the same estimates. A twin equal to its reference alone but not in
    the composition (an estimate read by a gate or quoter that the component test does not
    reach) fails here."""
    import dataclasses

    from hypothesis import given, note

    from mmkit.audit.invariants.system import (
        STEP_NS,
        Episode,
        episodes,
        system_target,
        warm_rig,
    )

    st_ = system_target(target)
    s = st_.settings
    if s.engine.twins == "off":
        raise NotApplicable("[engine] twins = 'off': the configured set runs its Python code")
    if not any(c.compiled for c in st_.build().twin_choices):
        raise NotApplicable("no configured component has a compiled twin")
    off = dataclasses.replace(s, engine=dataclasses.replace(s.engine, twins="off"))
    ref_target = dataclasses.replace(st_, settings=off, _warm={})

    def compare(rigs: list[Any], where: str) -> None:
        sent = [[a for _, a in r.loop.sent] for r in rigs]
        diff = actions_diff(sent[1], sent[0])
        if diff:
            note(rigs[0].story())
            raise AssertionError(f"{where}: the twins act differently: {diff}")
        ediff = estimates_diff(rigs[1].engine.estimates, rigs[0].engine.estimates)
        assert not ediff, f"{where}: the twins' estimates differ: " + "; ".join(ediff)

    compare([warm_rig(st_), warm_rig(ref_target)], "after the warm-up")

    @ctx.settings()
    @given(episodes())
    def run(eps: list[Episode]) -> None:
        note(f"episodes: {eps}")
        rigs = [warm_rig(st_), warm_rig(ref_target)]
        for n, ep in enumerate(eps):
            steps = [None] * ep.lead
            for r in rigs:
                for _ in steps:
                    r.step()
            compare(rigs, f"episode {n} lead")
            for r in rigs:
                r.set_feed(ep.fault)
                r.pressure(ep.pressure, ep.k)
            for i in range(max(1, int(ep.seconds * NS_PER_S / STEP_NS))):
                for r in rigs:
                    r.step()
                compare(rigs, f"episode {n} ({ep.fault}, {ep.pressure}) step {i}")
            for r in rigs:
                r.set_feed("ok")
                r.relieve()
        for i in range(int(3 * NS_PER_S / STEP_NS)):
            for r in rigs:
                r.step()
            compare(rigs, f"healthy step {i} after the episodes")

    run()


def _inv(id_: str, kind: str, title: str, check: Any, cost: float = 1.0) -> Invariant:
    return Invariant(
        id=id_,
        title=title,
        section=SECTION,
        severity=Severity.CRITICAL,
        kinds=(kind,),
        check=check,
        description=check.__doc__ or "",
        weight=0.5,
        cost=cost,
    )


INVARIANTS: list[Invariant] = [
    _inv(
        "twins.estimator_equivalence",
        "estimator",
        "a compiled estimator twin publishes exactly its reference's estimates",
        check_estimator_twin,
    ),
    _inv(
        "twins.gate_equivalence",
        "gate",
        "a compiled gate twin decides exactly as its reference",
        check_gate_twin,
    ),
    _inv(
        "twins.quoter_equivalence",
        "quoter",
        "a compiled quoter twin quotes exactly its reference's ladder",
        check_quoter_twin,
    ),
    _inv(
        "twins.system_equivalence",
        "system",
        "the configured set with its twins acts exactly as with its Python references",
        check_system_twins,
        cost=10.0,  # two whole engines in lockstep: ~1/6 of the default set's audit
    ),
    _inv(
        "twins.executor_equivalence",
        "executor",
        "a compiled executor twin sends exactly its reference's actions",
        check_executor_twin,
    ),
]

__all__ = ["INVARIANTS", "build_pair", "drive_pair"]
