"""Gate invariants (seed report §3, §7).

A gate declares the roles it fills in a ``roles`` class attribute (a set of
:class:`~mmkit.components.GateRole`; the older ``provides`` strings are still read):
``DATA_QUALITY`` gates are held to the data-quality invariant, ``KILL_SWITCH`` gates to the
kill-switch one, and a gate whose declared roles exclude one is NOT_APPLICABLE for it (a
warmup gate need not close on a crossed book); a gate declaring no roles is UNAUDITED for
them. Every gate, whatever its roles, is held to ``gates.fail_safe`` (its ``check`` never
raises and never returns garbage on hostile views, estimates and times) and, when it takes
trade batches, to ``gates.batch_equivalence``. The role checks drive the gate directly
through ``check`` and then through an :class:`~mmkit.engine.Engine` with the ``smart``
executor and the fake venue.
"""

from __future__ import annotations

import math
from typing import Any

from mmkit.audit.applicability import require_role
from mmkit.audit.harness import FakeVenue, ScriptedQuoter, VenueLoop, book
from mmkit.audit.invariant import (
    AuditContext,
    AuditTarget,
    Concern,
    Invariant,
    NotApplicable,
    Severity,
)
from mmkit.audit.notes import describe_ops, rel_time
from mmkit.components import Estimates, GateDecision, GateMode, GateRole, TradeBatchConsumer, View
from mmkit.core.actions import Modify, Place
from mmkit.core.events import BookSnapshot, levels
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.engine import Engine

SECTION_STALENESS = "3. Data Staleness Handling"
SECTION_BUDGET = "7. Execution Budget Protection"
MAX_DATA_AGE_MS = 30_000
#: shortest horizon (seconds) over which a tripped kill switch must stay latched is twice this
KILL_SWITCH_FLOOR_S = 4 * 3600.0
BAD_MARKETS = (
    "no_data",
    "stale",
    "stale_book_live_trades",
    "crossed",
    "empty_bid",
    "empty_ask",
    "empty",
)


def _view(market: MarketState, position_known: bool = True, max_position: float = 3.0) -> View:
    from mmkit.audit.invariants.execution import INSTRUMENT

    return View(INSTRUMENT, market, Portfolio(0.0, position_known), max_position)


def follow(views: list[View], ev: Any, now: int) -> None:
    """Move each view's market and portfolio with ``ev`` as the engine does for every event
    (an own fill that is not malformed booked into the portfolio)."""
    from mmkit.core.events import EventKind, OwnFill
    from mmkit.core.portfolio import fill_problem

    for v in views:
        v.market.apply(ev, now)
        if isinstance(ev, OwnFill) and ev.kind is EventKind.OWN_FILL and not fill_problem(ev):
            v.portfolio.apply_fill(ev)


def _snapshot(bid: float, ask: float, ts: int) -> BookSnapshot:
    return book(bid, ask, ts)


def bad_events(kind: str, now_ns: int, age_ms: int, bid: float, spread: float) -> list[Any]:
    """The events (each with its receive time, ``(t, event)``) that make a market exhibit
    ``kind`` at ``now_ns``: ``stale`` books ``age_ms`` old, ``stale_book_live_trades`` the
    same frozen book while market trades keep arriving up to ``now_ns`` (the book is stale
    whatever the trades say), crossed, one-sided and both-sides-empty books."""
    from mmkit.core.events import Trade
    from mmkit.core.types import Side

    if kind == "no_data":
        return []
    stale = kind in ("stale", "stale_book_live_trades")
    t = now_ns - age_ms * NS_PER_MS if stale else now_ns
    if kind == "crossed":
        ev = _snapshot(bid, bid - spread, t)  # ask <= bid
    elif kind == "empty_bid":
        ev = BookSnapshot(t, levels([]), levels([]), levels([bid + spread]), levels([1.0]))
    elif kind == "empty_ask":
        ev = BookSnapshot(t, levels([bid]), levels([1.0]), levels([]), levels([]))
    elif kind == "empty":  # both sides empty (seed report §8): no mid at all
        ev = BookSnapshot(t, levels([]), levels([]), levels([]), levels([]))
    else:
        ev = _snapshot(bid, bid + spread, t)
    out: list[Any] = [(t, ev)]
    if kind == "stale_book_live_trades":  # a trade every second for the last 10 s
        for k in range(10, -1, -1):
            tt = now_ns - k * NS_PER_S
            side = Side.BUY if k % 2 else Side.SELL
            out.append((tt, Trade(tt, bid + spread / 2, 0.1, side, local_ts=tt)))
    return out


def bad_market(kind: str, now_ns: int, age_ms: int, bid: float, spread: float) -> MarketState:
    """A market state exhibiting ``kind`` at ``now_ns`` (see :func:`bad_events`)."""
    m = MarketState()
    for t, ev in bad_events(kind, now_ns, age_ms, bid, spread):
        m.apply(ev, t)
    return m


def check_data_quality(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note
    from hypothesis import strategies as st

    require_role(target, GateRole.DATA_QUALITY, "the data-quality invariant")
    now0 = 10_000 * NS_PER_S

    # safety first: closing more often than the seed asks (a stricter gate) is never unsafe,
    # never closing when it must is; usefulness (it opens at all) is judged afterwards
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
        market = MarketState()
        for t, ev in bad_events(kind, now0, age_ms, bid, spread):
            market.apply(ev, t)  # the engine's order: the market state, then the gate
            gate.on_event(ev, t)
        d: GateDecision | None = gate.check(_view(market), Estimates(), now0)
        assert d is not None, f"gate open on a {kind} market"
        assert d.reason, "a closed gate must say why (reason)"

    run()
    if not _opens_on_healthy_stream(target, now0):
        raise Concern(
            "the gate never opens: closed after 60 s of a fully healthy stream (a fresh, "
            "uncrossed two-sided book and a market trade every second, feeds connected, a "
            "known position, default estimates)"
        )
    for kind in ("stale", "crossed", "empty_ask"):
        _through_engine(target, kind)


#: length of the healthy stream a data-quality gate must open on, seconds: longer than any
#: sensible hold after start-up or a reconnect, shorter than the seed's 30 s staleness
#: bound between two events
HEALTHY_STREAM_S = 60


def healthy_events(now_ns: int, seconds: int = HEALTHY_STREAM_S) -> list[tuple[int, Any]]:
    """``(t, event)`` of a fully healthy market ending at ``now_ns``: every feed connected at
    the start, then each second a fresh two-sided book (bid 100, ask 101) and a market trade
    inside it (alternating sides)."""
    from mmkit.core.events import FeedStatus, Trade
    from mmkit.core.types import Side

    t0 = now_ns - seconds * NS_PER_S
    out: list[tuple[int, Any]] = [
        (t0, FeedStatus(t0, stream, connected=True, local_ts=t0))
        for stream in ("book", "trades", "user")
    ]
    for k in range(seconds + 1):
        t = t0 + k * NS_PER_S
        out.append((t, _snapshot(100.0, 101.0, t)))
        side = Side.BUY if k % 2 else Side.SELL
        out.append((t, Trade(t, 100.5, 0.1, side, local_ts=t)))
    return out


def _opens_on_healthy_stream(target: AuditTarget, now_ns: int) -> bool:
    """Whether the gate is open after :func:`healthy_events` (market state first, then the
    gate, as the engine does)."""
    gate = target.build()
    market = MarketState()
    for t, ev in healthy_events(now_ns):
        market.apply(ev, t)
        gate.on_event(ev, t)
    return gate.check(_view(market), Estimates(), now_ns) is None


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
    from mmkit.core.events import Trade
    from mmkit.core.types import Side

    for i in range(20):  # a healthy market: a fresh book and a market trade inside it
        loop.market(book(99.5, 100.5, loop.now))
        side = Side.BUY if i % 2 else Side.SELL
        loop.market(Trade(loop.now, 100.0, 0.1, side, local_ts=loop.now))
        loop.step()
    if not venue.open_orders():
        raise Concern("nothing was quoted through the engine on a healthy market (books, trades)")
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
    from mmkit.audit.invariants.engine import new_fault

    fault = new_fault(engine, 0)
    assert fault is None, f"{kind} market through an engine: {fault}"
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

    require_role(target, GateRole.KILL_SWITCH, "the kill-switch invariant")
    from mmkit.audit.streams import time_horizon_s

    now0 = 10_000 * NS_PER_S
    #: checks look up to twice the longest window / cooldown in the gate's params, and at
    #: least 8 hours past the trip: a latch has no expiry, so any horizon is fair and the
    #: checks are cheap (a handful of ``check`` calls)
    far_s = 2.0 * time_horizon_s(target.params, floor_s=KILL_SWITCH_FLOOR_S)

    @ctx.settings()
    @given(
        st.sampled_from(["nan_cash", "inf_cash", "raises"]),
        st.floats(0.01, 1.0),
        st.lists(
            st.one_of(st.floats(1.0, far_s), st.sampled_from([far_s / 2, far_s])),
            min_size=1,
            max_size=8,
        ),
    )
    def run(failure: str, pos: float, offsets_s: list[float]) -> None:
        note(f"pnl failure={failure} position={pos} checked at +{sorted(offsets_s)} s")
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
        # a healthy market (fresh books, a known PnL) from just after the trip to hours past
        # it, past every cooldown of the gate: a kill switch stays tripped until reset
        t = now0
        marks = sorted(offsets_s)
        for k, off in enumerate(marks):
            target_t = now0 + int(off * NS_PER_S)
            step = max(NS_PER_S, (target_t - t) // 4)
            while t < target_t:  # a few fresh books on the way (the gate sees time pass)
                t = min(target_t, t + step)
                market.apply(_snapshot(100.0, 101.0, t), t)
                gate.on_event(_snapshot(100.0, 101.0, t), t)
            d_later = gate.check(healthy, Estimates(), t)
            assert d_later is not None, (
                f"the kill switch un-latched {(t - now0) / NS_PER_S:.0f} s after it tripped "
                f"(check {k + 1} of {len(marks)})"
            )

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

    from mmkit.audit.invariants.estimators import (
        _horizon,
        _settings,
        adversarial_ops,
        drive_twins,
    )

    if not isinstance(target.build(), TradeBatchConsumer):
        raise NotApplicable("no on_trades: the engine delivers trade batches row by row")

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)))
    def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        note(describe_ops(ops))  # times since the stream's start, fields named
        batched, rows = target.build(), target.build()
        market = MarketState()
        view = _view(market)
        est = Estimates(warmed_up=True)

        def after(where: str, now: int) -> None:
            diff = _decision_diff(batched.check(view, est, now), rows.check(view, est, now))
            assert not diff, f"after {where}, batch vs rows: {diff}"

        drive_twins(batched, rows, ops, after, market)

    run()


def _hostile_market(kind: str, now_ns: int, age_s: float, px: float) -> MarketState:
    """A market state for :func:`check_fail_safe`: the bad markets of the data-quality
    check, plus both sides empty, non-finite prices and a book stamped in the future."""
    if kind in BAD_MARKETS or kind == "fresh":
        return bad_market(kind, now_ns, int(age_s * 1000), px, 1.0)
    m = MarketState()
    if kind == "empty_both":
        ev = BookSnapshot(now_ns, levels([]), levels([]), levels([]), levels([]))
    elif kind == "nan_prices":
        nan, inf, one = levels([math.nan]), levels([math.inf]), levels([1.0])
        ev = BookSnapshot(now_ns, nan, one, inf, one)
    else:  # "future": stamped after now (a clock that went back)
        t = now_ns + int(age_s * NS_PER_S)
        ev = _snapshot(px, px + 1.0, t)
    m.apply(ev, now_ns)
    return m


def _frame(exc: BaseException) -> str:
    """``file:line in function`` where ``exc`` was raised (the innermost frame)."""
    import traceback

    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return "unknown frame"
    f = tb[-1]
    return f"{f.filename}:{f.lineno} in {f.name}"


def check_fail_safe(target: AuditTarget, ctx: AuditContext) -> None:
    """Every gate, whatever its roles: ``on_event`` and ``check`` never raise on hostile
    input (empty or crossed books, non-finite prices, NaN estimates and positions, time
    jumps of hours forward and back), and ``check`` returns None or a :class:`GateDecision`
    with a reason and a :class:`GateMode`. A raising gate fails with the frame it raised in
    (the engine treats a raising gate as closed, but a gate that raises cannot say why)."""
    from hypothesis import given, note
    from hypothesis import strategies as st

    from mmkit.audit.invariants.estimators import (
        _event_of,
        _horizon,
        _settings,
        adversarial_ops,
        feed,
    )

    hostile = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e308, -1e308])
    num = st.one_of(hostile, st.floats(-1e6, 1e6))
    estimates = st.builds(
        Estimates,
        kappa=num,
        kappa_confidence=num,
        A=num,
        sigma=num,
        sigma_confidence=num,
        warmed_up=st.booleans(),
        cascade=st.booleans(),
        drift=num,
        fair_value_shift=num,
        skew_shift=num,
        size_scale=num,
        spread_scale=num,
        toxicity=num,
        extras=st.dictionaries(st.sampled_from(["x.a", "kappa.book", "sigma.max"]), num),
    )
    markets = st.sampled_from([*BAD_MARKETS, "fresh", "empty_both", "nan_prices", "future"])
    hour = 3600 * NS_PER_S
    jumps = st.one_of(
        st.sampled_from([0, 1, -NS_PER_S, 2 * hour, 48 * hour, -hour, 10**15]),
        st.integers(-hour, 4 * hour),
    )
    step = st.tuples(
        markets,
        st.floats(0.0, 7200.0),
        st.floats(1e-3, 1e6),
        num,
        st.booleans(),
        num,
        estimates,
        jumps,
    )

    def call(what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise AssertionError(
                f"{what} raised {type(exc).__name__}: {exc} (at {_frame(exc)})"
            ) from exc

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)), st.lists(step, min_size=1, max_size=8))
    def run(ops: list[tuple[int, tuple[Any, ...]]], steps: list[tuple[Any, ...]]) -> None:
        note(describe_ops(ops))  # times since the stream's start, fields named
        gate = target.build()
        now = 10_000 * NS_PER_S
        mid = [100.0]
        for dt, op in ops:
            now = max(0, now + dt)
            ev = _event_of(op, now, mid)
            call(f"on_event({type(ev).__name__})", feed, gate, ev, now)
        for i, (kind, age_s, px, pos, known, maxpos, est, jump) in enumerate(steps):
            now = max(0, now + jump)
            market = _hostile_market(kind, now, age_s, px)
            pf = Portfolio(pos, known)
            view = View(_view(market).instrument, market, pf, maxpos)
            note(
                f"check {i}: market={kind} age={age_s:.0f}s px={px} position={pos} "
                f"known={known} max_position={maxpos} t={rel_time(now - 10_000 * NS_PER_S)} "
                f"estimates={est}"
            )
            d = call("check()", gate.check, view, est, now)
            assert d is None or isinstance(d, GateDecision), (
                f"check() returned {d!r}: a gate returns None or a GateDecision"
            )
            if d is not None:
                assert isinstance(d.reason, str) and d.reason, f"closed without a reason: {d!r}"
                assert isinstance(d.mode, GateMode), f"mode {d.mode!r} is not a GateMode"

    run()


INVARIANTS: list[Invariant] = [
    Invariant(
        id="gates.fail_safe",
        title="every gate: check() never raises or returns garbage on hostile input",
        section="8. Numerical Stability",
        severity=Severity.CRITICAL,
        kinds=("gate",),
        check=check_fail_safe,
        description="Whatever its roles, a gate fed hostile events and checked on empty, "
        "crossed, stale or non-finite books, NaN estimates and positions and time jumps of "
        "hours never raises and answers None or a GateDecision with a reason.",
        weight=0.5,
    ),
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
