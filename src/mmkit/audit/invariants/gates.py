"""Gate invariants (seed report §3, §7).

A gate declares what it is for with a ``provides`` attribute (a set of strings):
``"data_quality"`` gates are held to the data-quality invariant, ``"kill_switch"`` gates to
the kill-switch one; any other gate is skipped (a warmup gate need not close on a crossed
book). Both checks drive the gate directly through ``check`` and then through an
:class:`~mmkit.engine.Engine` with the ``smart`` executor and the fake venue.
"""

from __future__ import annotations

import math
from typing import Any

from mmkit.audit.harness import FakeVenue, ScriptedQuoter, VenueLoop, book
from mmkit.audit.invariant import AuditContext, AuditTarget, Concern, Invariant, Severity, Skip
from mmkit.components import Estimates, GateDecision, TradeBatchConsumer, View
from mmkit.core.actions import Modify, Place
from mmkit.core.events import BookSnapshot, levels
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.engine import Engine

SECTION_STALENESS = "3. Data Staleness Handling"
SECTION_BUDGET = "7. Execution Budget Protection"
MAX_DATA_AGE_MS = 30_000
BAD_MARKETS = ("no_data", "stale", "crossed", "empty_bid", "empty_ask")


def _provides(gate: Any, what: str) -> bool:
    return what in set(getattr(gate, "provides", ()) or ())


def _view(market: MarketState, position_known: bool = True, max_position: float = 3.0) -> View:
    from mmkit.audit.invariants.execution import INSTRUMENT

    return View(INSTRUMENT, market, Portfolio(0.0, position_known), max_position)


def _snapshot(bid: float, ask: float, ts: int) -> BookSnapshot:
    return book(bid, ask, ts)


def bad_market(kind: str, now_ns: int, age_ms: int, bid: float, spread: float) -> MarketState:
    """A market state exhibiting ``kind`` at ``now_ns``."""
    m = MarketState()
    if kind == "no_data":
        return m
    t = now_ns - age_ms * NS_PER_MS if kind == "stale" else now_ns
    if kind == "crossed":
        ev = _snapshot(bid, bid - spread, t)  # ask <= bid
    elif kind == "empty_bid":
        ev = BookSnapshot(t, levels([]), levels([]), levels([bid + spread]), levels([1.0]))
    elif kind == "empty_ask":
        ev = BookSnapshot(t, levels([bid]), levels([1.0]), levels([]), levels([]))
    else:
        ev = _snapshot(bid, bid + spread, t)
    m.apply(ev, t)
    return m


def check_data_quality(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note
    from hypothesis import strategies as st

    if not _provides(target.build(), "data_quality"):
        raise Skip("not a data-quality gate (no 'data_quality' in provides)")
    now0 = 10_000 * NS_PER_S

    healthy = target.build()
    healthy_market = bad_market("fresh", now0, 0, 100.0, 1.0)
    healthy.on_event(_snapshot(100.0, 101.0, now0), now0)
    if healthy.check(_view(healthy_market), Estimates(), now0) is not None:
        raise Concern("the gate is closed on a fresh, uncrossed book with a known position")

    @ctx.settings()
    @given(
        st.sampled_from(BAD_MARKETS),
        st.integers(MAX_DATA_AGE_MS + 1, 3_600_000),
        st.floats(1.0, 1e5),
        st.floats(0.0, 10.0),
    )
    def run(kind: str, age_ms: int, bid: float, spread: float) -> None:
        note(f"market={kind} age_ms={age_ms} bid={bid} spread={spread}")
        gate = target.build()
        market = bad_market(kind, now0, age_ms, bid, spread)
        d: GateDecision | None = gate.check(_view(market), Estimates(), now0)
        assert d is not None, f"gate open on a {kind} market"
        assert d.reason, "a closed gate must say why (reason)"

    run()
    for kind in ("stale", "crossed", "empty_ask"):
        _through_engine(target, kind)


def _through_engine(target: AuditTarget, kind: str) -> None:
    """Quote on a healthy market, then make it bad: every order is cancelled, none placed."""
    from mmkit.audit.invariants.execution import INSTRUMENT, ladder
    from mmkit.execution.smart_executor import SmartExecutor

    gate = target.build()
    quoter = ScriptedQuoter(ladder(99, 101, 2))
    engine = Engine(
        instrument=INSTRUMENT,
        max_position=3.0,
        gates=[(target.name, gate)],
        quoter=("scripted", quoter),
        executor=("smart", SmartExecutor(instrument=INSTRUMENT)),
    )
    venue = FakeVenue(INSTRUMENT)
    loop = VenueLoop(engine, venue, now_ns=NS_PER_S, step_ns=100 * NS_PER_MS)
    for _ in range(20):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    if not venue.open_orders():
        raise Concern("nothing was quoted on a healthy market through the engine")
    t0 = loop.now
    if kind == "stale":
        steps = (MAX_DATA_AGE_MS + 2_000) // 100
        for _ in range(steps):
            loop.step()
    else:
        bad = book(101.0, 100.0, loop.now) if kind == "crossed" else book(99.5, math.nan, loop.now)
        for _ in range(10):
            loop.market(bad)
            loop.step()
    placed = [a for t, a in loop.sent if t > t0 and isinstance(a, Place | Modify)]
    left = venue.open_orders()
    assert not left, f"{kind} market through an engine: orders still rest {left}"
    assert not placed or kind == "stale", f"{kind} market: orders placed {placed[:2]}"
    if kind == "stale":
        t_stale = t0 + MAX_DATA_AGE_MS * NS_PER_MS + 200 * NS_PER_MS
        late = [a for t, a in loop.sent if t > t_stale and isinstance(a, Place | Modify)]
        assert not late, f"stale market: orders placed after the gate closed {late[:2]}"


def check_kill_switch(target: AuditTarget, ctx: AuditContext) -> None:
    """A kill switch fires when PnL cannot be computed, and stays tripped (latches)."""
    from hypothesis import given, note
    from hypothesis import strategies as st

    if not _provides(target.build(), "kill_switch"):
        raise Skip("not a kill switch (no 'kill_switch' in provides)")
    now0 = 10_000 * NS_PER_S

    @ctx.settings()
    @given(
        st.sampled_from(["nan_cash", "inf_cash", "raises"]),
        st.floats(0.01, 1.0),
        st.integers(1, 20),
    )
    def run(failure: str, pos: float, later: int) -> None:
        note(f"pnl failure={failure} position={pos}")
        gate = target.build()
        market = bad_market("fresh", now0, 0, 100.0, 1.0)
        pf: Portfolio = _BrokenPnl(pos) if failure == "raises" else Portfolio(pos, True)
        if failure == "nan_cash":
            pf.cash = math.nan
        elif failure == "inf_cash":
            pf.cash = -math.inf
        view = View(_view(market).instrument, market, pf, 3.0)
        d = gate.check(view, Estimates(), now0)
        assert d is not None, f"kill switch silent while PnL fails ({failure})"
        assert d.emergency, "a kill-switch decision must be an emergency"
        healthy = View(view.instrument, market, Portfolio(0.0, True), 3.0)
        for i in range(later):
            t = now0 + (i + 1) * NS_PER_S
            market.apply(_snapshot(100.0, 101.0, t), t)
            assert gate.check(healthy, Estimates(), t) is not None, "the kill switch un-latched"

    run()


class _BrokenPnl(Portfolio):
    """A portfolio whose equity computation raises."""

    def equity(self, mark: float) -> float:
        raise ZeroDivisionError("pnl engine failure")


def _decision_diff(a: GateDecision | None, b: GateDecision | None) -> str:
    from mmkit.audit.invariants.estimators import same_value

    if a is None or b is None:
        return "" if a is b else f"{a!r} != {b!r}"
    same = (
        (a.reason, a.mode, a.emergency) == (b.reason, b.mode, b.emergency)
        and set(a.detail) == set(b.detail)
        and all(same_value(a.detail[k], b.detail[k]) for k in a.detail)
    )
    return "" if same else f"{a!r} != {b!r}"


def check_batch_equivalence(target: AuditTarget, ctx: AuditContext) -> None:
    """A gate with ``on_trades`` decides, after every step, exactly as a twin fed the same
    trades one by one through ``on_event``."""
    from hypothesis import given, note

    from mmkit.audit.invariants.estimators import _settings, adversarial_ops, drive_twins

    if not isinstance(target.build(), TradeBatchConsumer):
        raise Skip("no on_trades: the engine delivers trade batches row by row")

    @_settings(ctx)
    @given(adversarial_ops())
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        note(f"events: {ops!r}")
        batched, rows = target.build(), target.build()
        market = MarketState()
        view = _view(market)
        est = Estimates(warmed_up=True)

        def after(where: str, now: int) -> None:
            diff = _decision_diff(batched.check(view, est, now), rows.check(view, est, now))
            assert not diff, f"after {where}, batch vs rows: {diff}"

        drive_twins(batched, rows, ops, after, market)

    run()


INVARIANTS: list[Invariant] = [
    Invariant(
        id="gates.data_quality_closes",
        title="no data, stale (> 30 s), crossed or empty book closes the quote gate",
        section=SECTION_STALENESS,
        severity=Severity.CRITICAL,
        kinds=("gate",),
        check=check_data_quality,
        description="The gate closes on every bad market, and through an engine a closed "
        "gate cancels every resting order and places nothing.",
        weight=1.0,
    ),
    Invariant(
        id="gates.kill_switch_latches",
        title="the kill switch fires when PnL fails and stays tripped",
        section=SECTION_BUDGET,
        severity=Severity.CRITICAL,
        kinds=("gate",),
        check=check_kill_switch,
        description="A NaN or raising PnL trips the switch (it never silences it); once "
        "tripped it stays tripped on a healthy market until reset.",
        weight=0.5,
    ),
    Invariant(
        id="gates.batch_equivalence",
        title="a trade batch leaves the gate's decision as its trades one by one",
        section="8. Numerical Stability",
        severity=Severity.HIGH,
        kinds=("gate",),
        check=check_batch_equivalence,
        description="A gate with on_trades decides, after every step of an adversarial "
        "stream, exactly as a twin fed the batch's trades one by one.",
        weight=0.3,
    ),
]

__all__ = ["INVARIANTS"]
