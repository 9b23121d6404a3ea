"""Executor invariants (seed report §4, §5, §7), run against the fake venue.

Each check builds the executor under audit with ``target.build()`` and puts it in an
:class:`~mmkit.engine.Engine` with a scripted quoter and a switchable gate, wired to
:class:`~mmkit.audit.harness.FakeVenue` by a :class:`~mmkit.audit.harness.VenueLoop`.
They are generic over any executor; checks that need to look inside it use the audit
contract :class:`~mmkit.components.AuditableExecutor` (``open_orders()``,
``budget_state()``, ``exhaust_budget()``) and are UNAUDITED, naming what is missing, for an
executor without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmkit.audit.applicability import require
from mmkit.audit.harness import FakeVenue, ScriptedQuoter, SwitchGate, VenueLoop, book
from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, Severity
from mmkit.components import AuditableExecutor, Ladder, Quote, missing_members
from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place
from mmkit.core.events import Event, OrderUpdate, OwnFill, Trade
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side
from mmkit.engine import Engine
from mmkit.execution.backoff import rejection_backoff_s
from mmkit.execution.position_sync import CONFIRM_AGE_S
from mmkit.execution.reconciler import floor_lot
from mmkit.venues.faults import MODIFY_FAILURES

SECTION_SYNC = "4. Exchange State Synchronization"
SECTION_RECOVERY = "5. Recovery from Desync"
SECTION_BUDGET = "7. Execution Budget Protection"

#: the audit's market: mid 100, tick 1, $10 minimum (0.1 coin), sizes of 0.2
INSTRUMENT = Instrument(coin="AUDIT", asset=0, sz_decimals=3, max_decimals=6, tick=1.0)
MAX_POSITION = 3.0
SIZE = 0.2
IP_LIMIT = 1200
EPS = 1e-9


def ladder(bid: float, ask: float, n: int = 2, sz: float = SIZE) -> Ladder:
    return Ladder(
        tuple(Quote(Side.BUY, bid - i, sz, i) for i in range(n)),
        tuple(Quote(Side.SELL, ask + i, sz, i) for i in range(n)),
    )


@dataclass
class Rig:
    """One executor in an engine, wired to a fake venue."""

    executor: Any
    engine: Engine
    quoter: ScriptedQuoter
    gate: SwitchGate
    venue: FakeVenue
    loop: VenueLoop
    log: list[str] = field(default_factory=list)

    def quote(self, lad: Ladder, bid: float = 99.5, ask: float = 100.5) -> None:
        self.quoter.ladder = lad
        self.loop.market(book(bid, ask, self.loop.now))

    def settle(self, seconds: float = 1.0, dt_ms: int = 50) -> None:
        steps = max(1, int(seconds * 1000 / dt_ms))
        for _ in range(steps):
            self.loop.step(dt_ms * NS_PER_MS)
            if self.loop.now % NS_PER_S < dt_ms * NS_PER_MS:  # fresh data once a second
                self.loop.market(book(self.venue.bid, self.venue.ask, self.loop.now))

    def mark(self) -> int:
        """A bookmark in the sent-actions log (see :meth:`sent_since`)."""
        return len(self.loop.sent)

    def sent_since(self, mark: int) -> list[Action]:
        return [a for _, a in self.loop.sent[mark:]]


def make_rig(
    target: AuditTarget,
    venue: FakeVenue | None = None,
    now_ns: int = NS_PER_S,
    max_position: float = MAX_POSITION,
    executor: Any = None,
) -> Rig:
    """An engine with ``executor`` (a fresh build of ``target`` by default), a scripted
    quoter and a switch gate, wired to ``venue`` (a fresh seeded fake venue by default)."""
    executor = target.build() if executor is None else executor
    quoter = ScriptedQuoter()
    gate = SwitchGate()
    engine = Engine(
        instrument=INSTRUMENT,
        max_position=max_position,
        gates=[("switch", gate)],
        quoter=("scripted", quoter),
        executor=(target.name, executor),
    )
    v = venue if venue is not None else FakeVenue(INSTRUMENT, seed=target.seed)
    loop = VenueLoop(engine, v, now_ns=now_ns, step_ns=50 * NS_PER_MS)
    return Rig(executor, engine, quoter, gate, v, loop)


def side_prices(venue: FakeVenue, side: Side) -> list[float]:
    return sorted((o.px for o in venue.open_orders() if o.side is side), reverse=side is Side.BUY)


def exposure(venue: FakeVenue, side: Side) -> float:
    """Worst case of one side: signed position plus everything resting on that side."""
    return float(side) * venue.position + venue.resting_size(side)


def assert_resting_within(venue: FakeVenue, lads: list[Ladder], what: str) -> None:
    """Per side, the size resting on the venue (whatever the executor was told: an order
    answered UNKNOWN that in fact rests counts) is at most the largest desired side of
    ``lads`` plus one level of it: more is a double exposure (an order forgotten and placed
    again)."""
    for side in (Side.BUY, Side.SELL):
        want = max(sum(q.sz for q in lad.side(side)) for lad in lads)
        level = max((q.sz for lad in lads for q in lad.side(side)), default=0.0)
        have = venue.resting_size(side)
        assert have <= want + level + EPS, (
            f"{what}: {have:g} rests on the {side.name} side of the venue, the desired ladder "
            f"asks for {want:g} (+ one level {level:g}): orders "
            f"{[(o.oid, o.px, o.sz) for o in venue.open_orders() if o.side is side]}"
        )


def assert_no_faults(rig: Rig) -> None:
    """No fault in the engine's log (an action it refused, a component that raised)."""
    from mmkit.audit.invariants.engine import new_fault

    fault = new_fault(rig.engine, 0)
    assert fault is None, fault


# --------------------------------------------------------------------------------------
# MODIFY -> PLACE fallback
# --------------------------------------------------------------------------------------
#: every way the harness venue can make a MODIFY fail (``FakeVenue.fail_next_modify``)
FAILURES: tuple[str, ...] = MODIFY_FAILURES
#: how the executor hears of a failed modify's target: its user stream delivers the
#: venue's order update / fill before the answer, or that stream lost them (a websocket
#: drop) and the answer (``MODIFY_TARGET_CANCELED`` / ``MODIFY_PLACE_FAILED``) is its only word
STREAMS = ("delivered", "lost")
#: seconds within which a level whose target's fate the stream lost must rest again: one
#: position-sync interval (10 s) and its answer
LOST_FILL_BOUND_S = 12.0


class QuietStreamVenue(FakeVenue):
    """The fake venue whose user stream (order updates, own fills) is dropped while
    ``muted``; answers to requests still arrive."""

    muted: bool = False

    def _emit(self, ev: Event, now_ns: int, extra_ns: int = 0, *, lossy: bool = True) -> None:
        if self.muted and lossy and isinstance(ev, OrderUpdate | OwnFill):
            return
        super()._emit(ev, now_ns, extra_ns, lossy=lossy)


def assert_books_match(rig: Rig, what: str) -> None:
    """The executor books no order the venue does not have, and misses none it has (by
    oid), when it implements ``open_orders()``."""
    if missing_members(rig.executor, AuditableExecutor):
        return
    local = sorted(o.oid for o in rig.executor.open_orders())
    venue = sorted(o.oid for o in rig.venue.open_orders())
    ghosts = sorted(set(local) - set(venue))
    assert local == venue, (
        f"{what}: the executor books open orders {local}, the venue has {venue}"
        + (f" (booked but not on the venue: {ghosts})" if ghosts else "")
    )


def run_modify_fallback(
    target: AuditTarget, kind: str, side: Side, n: int, shift: int, stream: str = "delivered"
) -> None:
    rig = make_rig(target, venue=QuietStreamVenue(INSTRUMENT, seed=target.seed))
    venue = rig.venue
    assert isinstance(venue, QuietStreamVenue)
    rig.quote(ladder(99, 101, n))
    rig.settle(1.0)
    venue.fail_next_modify(kind)
    sgn = -1 if side is Side.BUY else 1
    bid = 99 + (sgn * shift if side is Side.BUY else 0)
    ask = 101 + (sgn * shift if side is Side.SELL else 0)
    want = ladder(bid, ask, n)
    t0 = rig.mark()
    venue.muted = stream == "lost"
    rig.quote(want)
    for _ in range(20):  # until the modify is out (its venue-side news dropped when lost)
        if any(isinstance(a, Modify) for a in rig.sent_since(t0)):
            break
        rig.loop.step()
    venue.muted = False
    rig.settle(1.5)
    what = f"after a {kind} modify failure (user stream {stream})"
    assert_books_match(rig, what)  # a ghost: booked as resting, gone from the venue
    if stream == "lost":
        # a fill the stream lost is seen by the next position sync (seed section 4: every
        # 10 s); until then an executor may hold the level back (its exposure is unknown)
        rig.settle(LOST_FILL_BOUND_S, dt_ms=100)
    for s in (Side.BUY, Side.SELL):
        desired = sorted((q.px for q in want.side(s)), reverse=s is Side.BUY)
        have = side_prices(rig.venue, s)
        assert have == desired, (
            f"{what} the {s.name} side rests at {have}, desired {desired}"
            " (a desired level was left empty or doubled)"
        )
        assert exposure(rig.venue, s) <= MAX_POSITION + EPS, f"{s.name} worst case over limit"
    assert_books_match(rig, f"{what}, settled")
    assert_no_faults(rig)


def check_modify_fallback(target: AuditTarget, ctx: AuditContext) -> None:
    """Each drawn failure (every kind the harness offers) is run twice: with the target's
    fate on the user stream, and with only the modify's answer telling it. 1.5 s later the
    executor books no order the venue does not have (no ghost); the desired levels rest
    by then, or within one position sync (``LOST_FILL_BOUND_S``) when the stream was lost."""
    from hypothesis import given, note
    from hypothesis import strategies as st

    @ctx.settings()
    @given(
        st.sampled_from(FAILURES),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 3),
        st.integers(1, 3),
    )
    def run(kind: str, side: Side, n: int, shift: int) -> None:
        for stream in STREAMS:
            note(f"failure={kind} side={side.name} levels={n} shift={shift} stream={stream}")
            run_modify_fallback(target, kind, side, n, shift, stream)

    run()


# --------------------------------------------------------------------------------------
# exchange authority after random faults
# --------------------------------------------------------------------------------------
OPS = (
    "requote",
    "fill",
    "partial",
    "cancel_ext",
    "lose_ack",
    "delay",
    "disconnect",
    "external",
    "reject",
    "modify_fail",
)


def apply_op(rig: Rig, op: str, k: int) -> None:
    v = rig.venue
    orders = v.open_orders()
    if op == "requote":
        rig.quote(ladder(99 - k % 3, 101 + k % 2, 1 + k % 3))
    elif op in ("fill", "partial") and orders:
        o = orders[k % len(orders)]
        v.fill_order(oid=o.oid, sz=None if op == "fill" else o.sz / 2, now_ns=rig.loop.now)
    elif op == "cancel_ext" and orders:
        v.cancel_order_externally(orders[k % len(orders)].oid, rig.loop.now)
    elif op == "lose_ack":
        v.lose_next_acks(1 + k % 2, applied=k % 2 == 0)
    elif op == "delay":
        v.delay_next_acks(2, (1 + k % 5) * 100 * NS_PER_MS)
    elif op == "disconnect":
        v.disconnect()
        rig.quote(ladder(98, 102, 2))
        rig.settle(0.3)
        v.reconnect()
    elif op == "external":
        v.external_fill(
            Side.BUY if k % 2 else Side.SELL, 0.1, 100.0, emit=k % 3 != 0, now_ns=rig.loop.now
        )
    elif op == "reject":
        v.reject_next(1)
    elif op == "modify_fail":
        v.fail_next_modify(FAILURES[k % 3])
        rig.quote(ladder(97 + k % 2, 102, 2))
    rig.settle(0.5)


#: seconds after the last fault by which the venue's state must be ours. A position change
#: the venue never reported (an external fill whose events were lost) is first seen by the
#: next timer sync (<= ``SYNC_INTERVAL_S``) and adopted only when a snapshot at least
#: ``CONFIRM_AGE_S`` of venue time later still shows it (seed §5: a fill merely in flight
#: must not be adopted); the confirming syncs go out every ``SYNC_MIN_INTERVAL_S``, so the
#: confirming one is ``ceil(5 / 2) * 2 = 6`` s after the first: <= 16 s, plus the answer's
#: latency and the loop's step; 2 s of margin. Asserting at 12 s (before the position could
#: have been adopted by design) FAILed a correct executor.
SYNC_INTERVAL_S = 10.0
SYNC_MIN_INTERVAL_S = 2.0
AUTHORITY_SETTLE_S = (
    SYNC_INTERVAL_S + math.ceil(CONFIRM_AGE_S / SYNC_MIN_INTERVAL_S) * SYNC_MIN_INTERVAL_S + 2.0
)


def assert_authority(rig: Rig) -> None:
    """After a settled sync the executor's open orders and position equal the venue's."""
    rig.settle(AUTHORITY_SETTLE_S, dt_ms=100)  # past the timer sync and its confirmation
    local = sorted(o.oid for o in rig.executor.open_orders())
    venue = sorted(o.oid for o in rig.venue.open_orders())
    assert local == venue, f"local open orders {local} != venue's {venue}"
    pos = rig.engine.portfolio.position
    assert abs(pos - rig.venue.position) <= EPS, f"local position {pos} != {rig.venue.position}"


def check_exchange_authority(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note
    from hypothesis import strategies as st

    require(target.build(), AuditableExecutor, "local state == the venue's")

    @ctx.settings()
    @given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 11)), min_size=1, max_size=6))
    def run(ops: list[tuple[str, int]]) -> None:
        note(f"ops={ops}")
        rig = make_rig(target)
        rig.quote(ladder(99, 101, 2))
        rig.settle(1.0)
        for op, k in ops:
            apply_op(rig, op, k)
        assert_authority(rig)

    run()


# --------------------------------------------------------------------------------------
# rolling IP weight
# --------------------------------------------------------------------------------------
def run_ip_weight(
    target: AuditTarget, seconds: float, step_ms: int, n: int, one_order: bool = False
) -> None:
    """Requote every ``step_ms`` for ``seconds``: a ladder of ``n`` levels a side that moves
    every step, or (``one_order``) a single bid that moves every step, starting 20 s before
    a minute boundary of the venue's clock (idle until then). The venue charges per request
    as the venue client sends them (its batches), so the single bid makes every submission
    one request of one order, and the burst straddles a minute boundary: the stream where a
    limiter that counts wrongly (a fixed calendar-minute window, say) shows at the venue,
    whatever it counts per action."""
    rig = make_rig(target)
    rig.settle(0.5)
    v = rig.venue
    if one_order:
        minute = 60 * NS_PER_S
        boundary = (rig.loop.now // minute + 1) * minute
        if boundary - rig.loop.now < 25 * NS_PER_S:
            boundary += minute
        while rig.loop.now < boundary - 20 * NS_PER_S:
            rig.loop.step(NS_PER_S)
    for i in range(int(seconds * 1000 / step_ms)):
        c = 100 + (i % 7) - 3
        if one_order:  # well below a still book: it never fills, only moves
            rig.quote(Ladder((Quote(Side.BUY, c - 10, SIZE, 0),), ()), bid=99.5, ask=100.5)
        else:
            rig.quote(ladder(c - 1, c + 1, n), bid=c - 0.5, ask=c + 0.5)
        rig.loop.step(step_ms * NS_PER_MS)
        assert v.ip_rejections == 0 and v.ip_peak <= IP_LIMIT, (
            f"after {i * step_ms / 1000:.1f} s the rolling IP weight reached {v.ip_peak} "
            f"(limit {IP_LIMIT}/min) and the venue answered {v.ip_rejections} with HTTP 429"
        )


def check_ip_weight(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import example, given, note
    from hypothesis import strategies as st

    @ctx.settings(max_examples=max(1, min(ctx.examples, 3)))
    @given(st.sampled_from([20, 50, 100]), st.integers(1, 3), st.booleans())
    @example(20, 1, True)  # always: one request of one order every 20 ms (50 a second)
    def run(step_ms: int, n: int, one_order: bool) -> None:
        shape = "one bid" if one_order else f"{n} levels a side"
        note(f"requote every {step_ms} ms, {shape}, for 75 s")
        run_ip_weight(target, 75.0, step_ms, n, one_order)

    run()


# --------------------------------------------------------------------------------------
# rejection backoff
# --------------------------------------------------------------------------------------
def run_rejection_backoff(target: AuditTarget, side: Side, seconds: float = 400.0) -> None:
    rig = make_rig(target)
    rig.venue.reject_side(side)
    rig.quote(ladder(99, 101, 1))
    step_ms = 250
    for _ in range(int(seconds * 1000 / step_ms)):
        rig.loop.step(step_ms * NS_PER_MS)
        if rig.loop.now % NS_PER_S < step_ms * NS_PER_MS:
            rig.loop.market(book(99.5, 100.5, rig.loop.now))
    attempts = [t for t, a in rig.loop.sent if isinstance(a, Place | Modify) and a.side is side]
    tol = step_ms * NS_PER_MS + NS_PER_MS
    for k in range(1, len(attempts)):
        wait = rejection_backoff_s(k, 3, 5.0, 2.0, 120.0)
        gap = attempts[k] - attempts[k - 1]
        assert gap + tol >= wait * NS_PER_S, (
            f"{side.name} attempt {k + 1} came {gap / NS_PER_S:.2f} s after rejection {k}; "
            f"the backoff is {wait:g} s"
        )


def check_rejection_backoff(target: AuditTarget, ctx: AuditContext) -> None:
    for side in (Side.BUY, Side.SELL):
        run_rejection_backoff(target, side)
        ctx.count_example()  # a fixed scenario per side: the report counts what ran


# --------------------------------------------------------------------------------------
# emergency reserve
# --------------------------------------------------------------------------------------
def run_emergency_reserve(target: AuditTarget, n: int) -> None:
    rig = make_rig(target)
    require(rig.executor, AuditableExecutor, "the emergency reserve")
    rig.quote(ladder(99, 101, n))
    rig.settle(1.0)
    before = sorted(o.oid for o in rig.venue.open_orders())
    assert before, "the executor quoted nothing on a healthy market"
    rig.executor.exhaust_budget()
    state = rig.executor.budget_state()
    assert state.tokens <= state.reserve + EPS, (
        f"exhaust_budget() left {state.tokens} tokens above the reserve {state.reserve}"
    )
    t0 = rig.mark()
    rig.quote(ladder(97, 103, n))
    rig.settle(2.0)
    normal = [a for a in rig.sent_since(t0) if isinstance(a, Place | Modify | Cancel | CancelAll)]
    assert not normal, f"with the budget exhausted, normal updates still went out: {normal[:3]}"
    after = sorted(o.oid for o in rig.venue.open_orders())
    assert after == before, f"budget exhaustion changed resting orders {before} -> {after}"
    rig.gate.close("KillSwitch", emergency=True)
    rig.settle(1.0)
    left = rig.venue.open_orders()
    assert not left, f"kill-switch cancels did not go out with an empty budget: {left}"


def check_emergency_reserve(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    require(target.build(), AuditableExecutor, "the emergency reserve")

    @ctx.settings(max_examples=max(1, min(ctx.examples, 5)))
    @given(st.integers(1, 3))
    def run(n: int) -> None:
        run_emergency_reserve(target, n)

    run()


# --------------------------------------------------------------------------------------
# a closed gate: cancel everything, place nothing
# --------------------------------------------------------------------------------------
#: the budget states a halt is drawn in: untouched, and down to its emergency reserve
#: (``exhaust_budget()``, the audit contract). A halt cancels every order in both, whether
#: it is an emergency (kill switch) or not (data quality, warmup, ...): the live-trading
#: defect was a data-quality halt that could not cancel with the budget at its reserve.
BUDGETS = ("full", "reserve")


def run_halt(target: AuditTarget, n: int, emergency: bool, fail: str, budget: str = "full") -> None:
    rig = make_rig(target)
    rig.quote(ladder(99, 101, n))
    rig.settle(1.0)
    if fail:
        rig.venue.fail_next_modify(fail)
        rig.quote(ladder(98, 102, n))
        rig.loop.step()  # the modify is in flight when the gate closes
    if budget == "reserve":
        require(rig.executor, AuditableExecutor, "a halt with the budget at its reserve")
        rig.executor.exhaust_budget()
    rig.gate.close("DataQuality" if not emergency else "KillSwitch", emergency=emergency)
    t0 = rig.mark()
    rig.quote(ladder(97, 103, n))
    rig.settle(2.0)
    mode = f"{'emergency' if emergency else 'non-emergency'} halt, budget {budget}"
    placed = [a for a in rig.sent_since(t0) if isinstance(a, Place | Modify)]
    assert not placed, f"{mode}: orders placed while a gate was closed: {placed[:3]}"
    left = rig.venue.open_orders()
    assert not left, f"{mode}: a closed gate left orders resting: {left}"
    assert_no_faults(rig)


def check_halt(target: AuditTarget, ctx: AuditContext) -> None:
    """Every drawn ladder and in-flight modify failure is halted in the whole grid of
    budget state x halt mode (emergency or not). An executor without the audit contract is
    checked with its budget untouched, then UNAUDITED for the reserve cases."""
    from hypothesis import given, note
    from hypothesis import strategies as st

    auditable = not missing_members(target.build(), AuditableExecutor)
    budgets = BUDGETS if auditable else ("full",)

    @ctx.settings(max_examples=max(1, min(ctx.examples, 10)))
    @given(st.integers(1, 3), st.sampled_from(("", *FAILURES)))
    def run(n: int, fail: str) -> None:
        for budget in budgets:
            for emergency in (False, True):
                note(
                    f"levels={n} in-flight modify failure={fail or 'none'} budget={budget} "
                    f"emergency={emergency}"
                )
                run_halt(target, n, emergency, fail, budget)

    run()
    if not auditable:
        require(target.build(), AuditableExecutor, "a halt with the budget at its reserve")


# --------------------------------------------------------------------------------------
# the stateful machine: every fault at once, every property after every step
# --------------------------------------------------------------------------------------
SIDES = (Side.BUY, Side.SELL)


def expected_prices(lad: Ladder, side: Side, position: float) -> list[float]:
    """The desired prices of a side that fit within the position limit (greedy, best first)."""
    room = MAX_POSITION - float(side) * position
    out = []
    for q in lad.side(side):
        t = floor_lot(min(q.sz, room), INSTRUMENT.lot) if room > 0 else 0.0
        if t > 0 and t * q.px >= INSTRUMENT.min_notional:
            out.append(q.px)
            room -= t
    return out


def machine_class(target: AuditTarget) -> type[Any]:
    """A hypothesis ``RuleBasedStateMachine`` driving ``target``'s executor against the fake
    venue with random ladders, market moves (fills through orders), trades (partial fills),
    direct partial fills, rejections, modify failures, lost / unanswered / delayed /
    reordered acknowledgements, disconnects, restarts with orders resting, external fills
    and cancels, gate closures and an exhausted budget. After every step: worst-case
    exposure never rises above max position, what rests on the venue (orders answered
    UNKNOWN included) stays within the desired ladder + one level (:func:`assert_resting_within`;
    places answered UNKNOWN with their order updates lost are a rule of their own, also run
    once per level count before the machine by :func:`check_stateful`), no order fills
    beyond its size, the rolling IP
    weight stays <= 1,200 with no 429, nothing is placed while the gate is closed. At settle
    points (faults stopped, a position sync done): local open orders and position equal
    the venue's and every desired level rests at its price. A kill-switch halt with the
    budget exhausted cancels everything.

    Built lazily so that importing this module does not import hypothesis.
    """
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        initialize,
        invariant,
        precondition,
        rule,
    )

    class ExecutorMachine(RuleBasedStateMachine):
        #: the executor under test
        target: AuditTarget

        def __init__(self) -> None:
            super().__init__()
            self.venue = QuietStreamVenue(INSTRUMENT, seed=0)
            self.rig: Rig = make_rig(self.target, venue=self.venue)
            self.exhausted = False
            self.lad = ladder(99, 101, 2)
            self.closed_mark: int | None = None
            self.prev_exposure = dict.fromkeys(SIDES, 0.0)
            self.external = False
            self.restarts = 0
            self.max_sz = 0.0
            self.prev_lad: Ladder | None = None

        @initialize()
        def start(self) -> None:
            self.rig.quote(self.lad)
            self.rig.settle(1.0)

        # -- the market and the ladder ------------------------------------------------------
        @rule(
            bid=st.integers(95, 99),
            ask=st.integers(101, 105),
            n=st.integers(1, 3),
            sz=st.sampled_from([0.2, 0.3, 0.5]),
        )
        def set_ladder(self, bid: int, ask: int, n: int, sz: float) -> None:
            self.lad = ladder(bid, ask, n, sz)
            self.rig.quote(self.lad, self._bid(), self._ask())
            self.rig.settle(0.2)

        @rule(mid=st.integers(94, 106))
        def market_move(self, mid: int) -> None:
            self.rig.quote(self.lad, mid - 0.5, mid + 0.5)  # may fill through our orders
            self.rig.settle(0.2)

        @rule(
            side=st.sampled_from(SIDES),
            px=st.integers(95, 105),
            sz=st.sampled_from([0.05, 0.1, 0.3]),
        )
        def trade(self, side: Side, px: int, sz: float) -> None:
            self.rig.loop.market(Trade(self.rig.loop.now, float(px), sz, side))
            self.rig.settle(0.2)

        @rule(k=st.integers(0, 20), frac=st.sampled_from([0.25, 0.5, 1.0]))
        def fill_one(self, k: int, frac: float) -> None:
            orders = self.venue.open_orders()
            if orders:
                o = orders[k % len(orders)]
                self.venue.fill_order(oid=o.oid, sz=o.sz * frac, now_ns=self.rig.loop.now)
            self.rig.settle(0.2)

        # -- faults -------------------------------------------------------------------------
        @rule(n=st.integers(1, 4))
        def reject(self, n: int) -> None:
            self.venue.reject_next(n)
            self.set_ladder(98, 102, 2, 0.2)

        @rule(kind=st.sampled_from(FAILURES), shift=st.integers(1, 3))
        def modify_failure(self, kind: str, shift: int) -> None:
            self.venue.fail_next_modify(kind)
            self.lad = ladder(99 - shift, 101 + shift, len(self.lad.bids) or 2)
            self.rig.quote(self.lad, self._bid(), self._ask())
            self.rig.settle(0.3)

        @rule(n=st.integers(1, 3), applied=st.booleans())
        def lose_acks(self, n: int, applied: bool) -> None:
            self.venue.lose_next_acks(n, applied)
            self.set_ladder(97, 103, 2, 0.2)

        @precondition(lambda self: not self.exhausted)
        @rule(n=st.integers(1, 3), emergency=st.booleans())
        def unknown_places_then_halt(self, n: int, emergency: bool) -> None:
            self.closed_mark = None
            self.lad = run_unknown_places(
                self.rig, self.venue, n, emergency, self._bid(), self._ask()
            )
            self.closed_mark = self.rig.mark()

        @rule(n=st.integers(1, 3))
        def drop_acks(self, n: int) -> None:
            self.venue.drop_next_acks(n)
            self.set_ladder(99, 102, 2, 0.3)

        @rule(n=st.integers(1, 4), ms=st.integers(50, 2000))
        def delay_acks(self, n: int, ms: int) -> None:
            self.venue.delay_next_acks(n, ms * 1_000_000)
            self.set_ladder(98, 101, 3, 0.2)

        @rule()
        def toggle_reorder(self) -> None:
            self.venue.reorder = not self.venue.reorder
            self.rig.settle(0.2)

        @rule(seconds=st.sampled_from([0.2, 1.0, 3.0]))
        def disconnect(self, seconds: float) -> None:
            self.venue.disconnect()
            self.set_ladder(96, 104, 2, 0.3)
            self.rig.settle(seconds)
            self.venue.reconnect()
            self.rig.settle(0.2)

        # a fresh process cannot know its predecessor's IP window: a crash loop of dozens of
        # restarts a minute would draw 429s (handled by backoff) — keep restarts realistic
        @precondition(lambda self: self.restarts < 3)
        @rule()
        def restart_executor(self) -> None:
            self.venue.drop_pending()
            self.rig = make_rig(self.target, venue=self.venue, now_ns=self.rig.loop.now)
            self.exhausted = False
            self.restarts += 1
            if self.closed_mark is not None:
                self.rig.gate.close("Test")
                self.closed_mark = self.rig.mark()
            self.rig.quote(self.lad, self._bid(), self._ask())
            self.rig.settle(0.5)

        @rule(k=st.integers(0, 20))
        def cancel_external(self, k: int) -> None:
            orders = self.venue.open_orders()
            if orders:
                self.venue.cancel_order_externally(orders[k % len(orders)].oid, self.rig.loop.now)
            self.rig.settle(0.2)

        @rule(side=st.sampled_from(SIDES), emit=st.booleans())
        def external_fill(self, side: Side, emit: bool) -> None:
            self.venue.external_fill(side, 0.1, 100.0, emit=emit, now_ns=self.rig.loop.now)
            self.external = True
            self.rig.settle(0.2)

        @rule(emergency=st.booleans())
        def close_gate(self, emergency: bool) -> None:
            self.rig.gate.close("Test", emergency=emergency)
            self.closed_mark = self.rig.mark()
            self.rig.settle(0.5)

        @precondition(lambda self: self.closed_mark is not None)
        @rule()
        def open_gate(self) -> None:
            self.rig.gate.open()
            self.closed_mark = None
            self.rig.settle(0.3)

        @rule()
        def kill_switch_with_empty_budget(self) -> None:
            ex = self.rig.executor
            ex.exhaust_budget()
            self.rig.gate.close("KillSwitch", emergency=True)
            self.closed_mark = self.rig.mark()
            self.rig.settle(2.0)  # a lost answer is retried every 250 ms
            left = self.venue.open_orders()
            assert not left, f"kill-switch cancels with an empty budget left {left}"
            budget = getattr(ex, "budget", None)
            if budget is not None and hasattr(budget, "tokens") and hasattr(budget, "capacity"):
                budget.tokens = budget.capacity  # refilled (as fills would)
            else:
                self.exhausted = True  # no way to refill it: stop expecting quotes

        @rule(seconds=st.sampled_from([0.5, 2.0, 6.0]))
        def wait(self, seconds: float) -> None:
            self.rig.settle(seconds)

        # -- the settled checks -------------------------------------------------------------
        @rule()
        def settle_and_check(self) -> None:
            v = self.venue
            v.knobs = type(v.knobs)()
            v.reorder = False
            v.reconnect()
            self.rig.quote(self.lad, 99.5, 100.5)
            self.rig.settle(12.0, dt_ms=100)  # a position sync happens in here
            expect_levels = self.closed_mark is None and not self.exhausted
            # a rejection backoff may hold a side for up to 120 s; a divergence is adopted
            # once a later sync confirms it (engine.divergence_min_age_s, 5 s, after it was
            # first seen), so the position may need one more sync than the orders
            for _ in range(15):
                if (not expect_levels or self._levels_ok()) and self._position_ok():
                    break
                self.rig.quote(self.lad, 99.5, 100.5)
                self.rig.settle(10.0, dt_ms=100)
            self.rig.quote(self.lad, 99.5, 100.5)
            self.rig.settle(1.0)
            local = sorted(o.oid for o in self.rig.executor.open_orders())
            venue = sorted(o.oid for o in v.open_orders())
            assert local == venue, f"local open orders {local} != venue's {venue}"
            pos = self.rig.engine.portfolio.position
            assert abs(pos - v.position) <= EPS, f"local position {pos} != venue's {v.position}"
            if expect_levels:
                for side in SIDES:
                    want = expected_prices(self.lad, side, v.position)
                    have = side_prices(v, side)
                    assert have == want, f"{side.name} rests at {have}, desired {want}"

        def _position_ok(self) -> bool:
            return abs(self.rig.engine.portfolio.position - self.venue.position) <= EPS

        def _levels_ok(self) -> bool:
            v = self.venue
            return all(side_prices(v, s) == expected_prices(self.lad, s, v.position) for s in SIDES)

        # -- after every step -----------------------------------------------------------------
        @invariant()
        def exposure_within_limit(self) -> None:
            for side in SIDES:
                peak = self.venue.take_exposure_peak(side)
                if not self.external:
                    assert peak <= max(MAX_POSITION, self.prev_exposure[side]) + EPS, (
                        f"{side.name} worst case {peak} rose above {MAX_POSITION}"
                    )
                self.prev_exposure[side] = exposure(self.venue, side)
            self.external = False

        @invariant()
        def resting_within_ladder(self) -> None:
            # what rests on the venue (orders answered UNKNOWN included) is at most the
            # desired ladder (this step's or the one it replaced, still being cancelled) and
            # one level more; an exhausted budget may leave an old ladder resting
            lads = [self.lad] if self.prev_lad is None else [self.lad, self.prev_lad]
            self.prev_lad = self.lad
            if not self.exhausted:
                assert_resting_within(self.venue, lads, "after this step")

        @invariant()
        def no_overfill(self) -> None:
            self.max_sz = max([self.max_sz, *(q.sz for q in self.lad.bids + self.lad.asks)])
            for cloid, filled in self.venue.filled_by_cloid.items():
                assert filled <= self.max_sz + EPS, f"order {cloid} filled {filled} > {self.max_sz}"

        @invariant()
        def no_component_faults(self) -> None:
            # the engine catches and counts what a component does wrong (an action it
            # refuses, a raising quoter or gate); any such fault is a failure of the executor
            # here (the other slots are the audit's own scripted components)
            from mmkit.audit.invariants.engine import new_fault

            fault = new_fault(self.rig.engine, 0)
            assert fault is None, fault

        @invariant()
        def ip_weight_within_limit(self) -> None:
            assert self.venue.ip_peak <= 1200
            assert self.venue.ip_rejections == 0

        @invariant()
        def nothing_placed_while_closed(self) -> None:
            if self.closed_mark is not None:
                bad = [
                    a
                    for a in self.rig.sent_since(self.closed_mark)
                    if isinstance(a, Place | Modify)
                ]
                assert not bad, f"placed while the gate was closed: {bad[:2]}"

        def _bid(self) -> float:
            return self.venue.bid if self.venue.bid == self.venue.bid else 99.5

        def _ask(self) -> float:
            return self.venue.ask if self.venue.ask == self.venue.ask else 100.5

    ExecutorMachine.target = target
    return ExecutorMachine


def run_unknown_places(
    rig: Rig,
    venue: QuietStreamVenue,
    n: int,
    emergency: bool,
    bid: float = 99.5,
    ask: float = 100.5,
) -> Ladder:
    """Flat (a halt), then ``n`` levels a side placed with every answer lost (UNKNOWN,
    applied: they rest) and their order updates lost with them; what rests must stay within
    the ladder (+ one level), and a halt must then cancel it all. Returns the ladder; the
    gate is left closed."""
    rig.gate.close("Flat", emergency=emergency)
    rig.settle(1.0)
    flat = venue.open_orders()
    assert not flat, f"a halt (emergency={emergency}) left {flat} resting"
    rig.gate.open()
    venue.lose_next_acks(2 * n, applied=True)
    lad = ladder(99, 101, n)
    # a timeout seldom comes alone: the user stream drops their order updates too, so only
    # a query (or a later snapshot) can tell that they rest
    venue.muted = True
    rig.quote(lad, bid, ask)
    rig.loop.step()
    venue.muted = False
    rig.settle(0.2)
    # they count: an executor that takes them for "not placed" places them again
    assert_resting_within(venue, [lad], f"after {2 * n} UNKNOWN places")
    # and a halt cancels them, even when they are all there is
    rig.gate.close("Test", emergency=emergency)
    t0 = rig.mark()
    rig.settle(3.0)
    placed = [a for a in rig.sent_since(t0) if isinstance(a, Place | Modify)]
    assert not placed, f"placed while the gate was closed: {placed[:2]}"
    left = venue.open_orders()
    assert not left, f"a halt after {2 * n} places answered UNKNOWN (applied) left {left} resting"
    return lad


def check_stateful(target: AuditTarget, ctx: AuditContext) -> None:
    """The fixed UNKNOWN-place scenario (every level count, both halt modes: it must not
    depend on the machine drawing its rule), then the state machine."""
    from hypothesis.stateful import run_state_machine_as_test

    require(target.build(), AuditableExecutor, "the stateful safety machine")
    for n in (1, 2, 3):
        for emergency in (False, True):
            venue = QuietStreamVenue(INSTRUMENT, seed=target.seed)
            rig = make_rig(target, venue=venue)
            rig.quote(ladder(99, 101, 2))
            rig.settle(1.0)
            run_unknown_places(rig, venue, n, emergency)
            ctx.count_example()
    run_state_machine_as_test(machine_class(target), settings=ctx.settings(stateful_step_count=20))


def _inv(
    id_: str,
    title: str,
    section: str,
    severity: Severity,
    check: Callable[[AuditTarget, AuditContext], None],
    description: str,
    weight: float,
) -> Invariant:
    return Invariant(
        id=id_,
        title=title,
        section=section,
        severity=severity,
        kinds=("executor",),
        check=check,
        description=description,
        weight=weight,
    )


INVARIANTS: list[Invariant] = [
    _inv(
        "execution.modify_place_fallback",
        "a failed MODIFY never leaves a desired level empty",
        SECTION_SYNC,
        Severity.CRITICAL,
        check_modify_fallback,
        "After 'Cannot modify canceled or filled order' or 'Error placing new order during "
        "modify' (every failure the fake venue offers, with the target's fate on the user "
        "stream or lost from it), the level is quoted again with a PLACE within a bound; no "
        "level doubled, no overfill, no order booked that the venue does not have.",
        0.5,
    ),
    _inv(
        "execution.halt_cancels_all",
        "a closed gate cancels every order and places none",
        "3. Data Staleness Handling",
        Severity.CRITICAL,
        check_halt,
        "While any gate is closed the executor cancels every resting order (also one whose "
        "modify was in flight) and sends no PLACE or MODIFY, whether the halt is an "
        "emergency or not and whatever the budget (full, or down to its reserve).",
        1.0,
    ),
    _inv(
        "execution.exchange_authority",
        "after reconciliation local state equals the venue's",
        SECTION_RECOVERY,
        Severity.HIGH,
        check_exchange_authority,
        "Random fills, cancels, lost/delayed acks, disconnects and external fills; after a "
        "settled position sync the executor's open orders and position equal the venue's.",
        0.2,
    ),
    _inv(
        "execution.stateful_safety",
        "every fault at once: exposure, overfill, IP weight, gate, authority, levels",
        SECTION_RECOVERY,
        Severity.CRITICAL,
        check_stateful,
        "A rule-based state machine against the fake venue (fills, partial fills, rejections, "
        "modify failures, lost/delayed/reordered acks, disconnects, restarts, external fills, "
        "gate closures, an exhausted budget) checks every property after every step; what "
        "rests on the venue (orders answered UNKNOWN included) stays within the desired "
        "ladder + one level.",
        0.3,
    ),
    _inv(
        "execution.ip_weight_limit",
        "rolling IP weight stays <= 1,200 per minute",
        SECTION_BUDGET,
        Severity.HIGH,
        check_ip_weight,
        "Requoting as fast as the engine asks never pushes the rolling-minute IP weight over "
        "1,200 and never draws an HTTP 429. The venue charges per request as the venue client "
        "sends a submission (its batches); the streams move ladders every 20-100 ms and "
        "always include a single order moved every 20 ms in a burst across a minute boundary "
        "(one request each), which a fixed-window limiter does not survive.",
        1.0,
    ),
    _inv(
        "execution.rejection_backoff",
        "3 rejections -> 5 s backoff, doubling to 120 s",
        SECTION_BUDGET,
        Severity.MEDIUM,
        check_rejection_backoff,
        "With every order on a side rejected, attempt k+1 waits at least the backoff after "
        "rejection k: 0 before the 3rd, then 5, 10, 20, ... capped at 120 s.",
        1.0,
    ),
    _inv(
        "execution.emergency_reserve",
        "kill-switch cancels go out with an exhausted budget",
        SECTION_BUDGET,
        Severity.CRITICAL,
        check_emergency_reserve,
        "With the budget exhausted normal updates are skipped and resting orders are left "
        "alone; an emergency halt still cancels every order.",
        1.0,
    ),
]

__all__ = ["INVARIANTS", "Rig", "ladder", "make_rig"]
