"""The live order path's lanes: emergency cancels never wait behind a normal request, and a
Place/Modify computed before a halt gate closed is never sent after it (NOT_SENT instead).

A scripted fake session stands in for the engine (its Timer events say what to produce and
whether a HALT gate closes) and a fake venue records what reaches it, with the halt state of
that moment, and can hang its normal requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mmkit.components import GateDecision, GateMode
from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place, SyncState, make_cloid
from mmkit.core.events import ActionResult, Event, Timer
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Side
from mmkit.runtime.live import HaltGuard, LiveRunner, Stamp, split_lanes
from mmkit.runtime.session import Session
from mmkit.venues.priority import in_emergency_lane


class FakeEngine:
    """What the runner reads of an engine: ``closed``, ``stopped`` and ``shutdown``."""

    def __init__(self) -> None:
        self.closed: dict[str, GateDecision] = {}
        self.stopped = False
        self.halts = 0  # closings of the halt gate so far
        self.rid = 0
        #: request id -> (halts at production, halted at production)
        self.produced: dict[int, tuple[int, bool]] = {}

    def next_id(self) -> int:
        self.rid += 1
        return self.rid

    @property
    def halted(self) -> bool:
        return bool(self.closed) or self.stopped

    def shutdown(self, now_ns: int) -> list[Action]:
        if not self.stopped:
            self.halts += 1
        self.stopped = True
        return [CancelAll(self.next_id(), "Shutdown", emergency=True)]


@dataclass
class FakeSession:
    engine: FakeEngine = field(default_factory=FakeEngine)
    journal: None = None
    results: list[ActionResult] = field(default_factory=list)
    #: when the runner took the end-of-run snapshot (-1: not yet)
    final_ns: int = -1

    def _order(self, kind: str) -> Action:
        e = self.engine
        rid = e.next_id()
        e.produced[rid] = (e.halts, e.halted)
        if kind == "modify":
            return Modify(rid, make_cloid(rid), 7, Side.BUY, 100.0, 1.0)
        return Place(rid, make_cloid(rid), Side.SELL, 101.0, 1.0)

    def dispatch(self, ev: Event, now_ns: int) -> list[Action]:
        e = self.engine
        if isinstance(ev, ActionResult):
            self.results.append(ev)
            return []
        if not isinstance(ev, Timer):
            return []
        out: list[Action] = []
        for step in ev.name.split("+"):
            if step in ("place", "modify"):
                out.append(self._order(step))
            elif step == "cancel":  # a normal (non-emergency) cancel
                out.append(Cancel(e.next_id(), make_cloid(1), None))
            elif step == "halt":
                if not e.halted:
                    e.halts += 1
                e.closed["dq"] = GateDecision("dq", "Stale", mode=GateMode.HALT)
                out.append(CancelAll(e.next_id(), "Stale", emergency=True))
            elif step == "reduce":  # a reduce-only gate is not a halt
                e.closed["ro"] = GateDecision("ro", "Inventory", mode=GateMode.REDUCE_ONLY)
            elif step == "open":
                e.closed.clear()
        return out

    def record_actions(self, actions: list[Action], now_ns: int) -> None:
        pass

    def sync_request(self, reason: str) -> SyncState:
        return SyncState(-1, reason)

    def final_snapshot(self, now_ns: int) -> None:
        self.final_ns = now_ns


class FakeVenue:
    """Records each submit with the engine's halt state then; ``hang`` holds normal ones."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.sink: Callable[[Event], None] | None = None
        self.sent: list[tuple[Action, bool, int, bool]] = []  # action, halted, halts, lane
        self.hang = asyncio.Event()
        self.hang.set()  # set = not hanging
        self.emergency_hangs = False
        self.started = asyncio.Event()

    async def start(self, sink: Callable[[Event], None]) -> None:
        self.sink = sink
        self.started.set()

    async def submit(self, actions: Sequence[Action]) -> None:
        urgent = in_emergency_lane()
        for a in actions:
            self.sent.append((a, self.engine.halted, self.engine.halts, urgent))
        if urgent:
            if self.emergency_hangs:
                await asyncio.Event().wait()
            return
        await self.hang.wait()

    async def close(self) -> None:
        pass

    def kinds(self) -> list[str]:
        return [type(a).__name__ for a, *_ in self.sent]


def make(
    deadline_s: float = 5.0,
) -> tuple[FakeSession, FakeVenue, LiveRunner]:
    s = FakeSession()
    v = FakeVenue(s.engine)
    r = LiveRunner(
        cast(Session, s),
        v,
        timer_ns=10**12,  # no timer ticks in these tests
        settle_s=0.02,
        emergency_deadline_s=deadline_s,
        final_sync_s=0.5,
    )
    return s, v, r


def emit(v: FakeVenue, name: str) -> None:
    assert v.sink is not None
    v.sink(Timer(0, name))


async def until(cond: Callable[[], bool], steps: int = 2000) -> None:
    """Let the loop run until ``cond`` holds (bounded by a number of turns, not by time)."""
    for _ in range(steps):
        if cond():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


def test_split_lanes_routes_by_the_emergency_flag() -> None:
    acts: list[Action] = [
        Place(1, make_cloid(1), Side.BUY, 1.0, 1.0),
        Cancel(2, make_cloid(1), None, emergency=True),
        Cancel(3, make_cloid(1), None),
        CancelAll(4, "x", emergency=True),
        CancelAll(5, "y"),
        SyncState(6, "z"),
    ]
    urgent, normal = split_lanes(acts)
    assert [a.request_id for a in urgent] == [2, 4]
    assert [a.request_id for a in normal] == [1, 3, 5, 6]


def test_emergency_cancel_overtakes_a_hung_request_and_stale_place_is_not_sent() -> None:
    async def scenario() -> tuple[FakeSession, FakeVenue]:
        s, v, r = make()
        stop = asyncio.Event()
        run = asyncio.create_task(r.run(stop))
        await v.started.wait()
        v.hang.clear()  # the venue stops answering normal requests
        emit(v, "place")  # sent, then hangs
        await until(lambda: v.kinds() == ["Place"])
        emit(v, "place")  # queued behind the hung request
        emit(v, "halt")  # the gate closes: its emergency cancel must go at once
        await until(lambda: "CancelAll" in v.kinds())
        assert v.kinds() == ["Place", "CancelAll"]  # the queued place is still held
        emit(v, "open")  # the gate even reopens before the hung request returns
        await until(lambda: r.queue.empty() and not r.guard.halted)
        v.hang.set()  # the hung request returns: the queued place is dropped, not sent
        await until(lambda: any(x.reason is RejectReason.NOT_SENT for x in s.results))
        stop.set()
        await run
        return s, v

    s, v = asyncio.run(scenario())
    places = [a for a, *_ in v.sent if isinstance(a, Place)]
    assert [p.request_id for p in places] == [1]
    (dropped,) = [x for x in s.results if x.reason is RejectReason.NOT_SENT]
    assert dropped.request_id == 2
    assert dropped.outcome is Outcome.REJECTED
    assert dropped.cloid == make_cloid(2)
    assert "not sent" in dropped.message and "dq (Stale)" in dropped.message
    assert not RejectReason.NOT_SENT.counts_as_rejection
    lanes = {type(a).__name__: lane for a, _, _, lane in v.sent}
    assert lanes["CancelAll"] is True and lanes["Place"] is False


def test_non_emergency_cancels_are_sent_while_halted_and_places_after_reopening() -> None:
    async def scenario() -> FakeVenue:
        s, v, r = make()
        stop = asyncio.Event()
        run = asyncio.create_task(r.run(stop))
        await v.started.wait()
        emit(v, "halt+place")  # a place produced in the dispatch that closed the gate
        emit(v, "cancel")
        emit(v, "reduce+open")  # reopened (a reduce-only gate never drops anything)
        emit(v, "place")
        await until(lambda: v.kinds().count("Place") == 1 and len(s.results) == 1)
        stop.set()
        await run
        return v

    v = asyncio.run(scenario())
    kinds = v.kinds()
    assert kinds[:2] == ["CancelAll", "Cancel"]
    assert kinds.count("Place") == 1
    for a, halted, _, _ in v.sent:
        if isinstance(a, Place | Modify):
            assert not halted


def test_emergency_deadline_turns_a_hung_cancel_into_unknown() -> None:
    async def scenario() -> tuple[FakeSession, LiveRunner]:
        s, v, r = make(deadline_s=0.05)
        v.emergency_hangs = True
        stop = asyncio.Event()
        run = asyncio.create_task(r.run(stop))
        await v.started.wait()
        emit(v, "halt")
        await until(lambda: any(x.outcome is Outcome.UNKNOWN for x in s.results))
        stop.set()
        await run
        return s, r

    s, r = asyncio.run(scenario())
    unknown = [x for x in s.results if x.outcome is Outcome.UNKNOWN]
    assert unknown[0].request_id == 1
    assert "no answer within" in unknown[0].message
    assert r.emergency_timeouts >= 2  # the halt's cancel and the shutdown's
    assert r.shutdown_skipped[0] == "cancel_confirm"  # journaled: sent, never confirmed


def test_shutdown_cancels_do_not_wait_for_a_hung_normal_request() -> None:
    async def scenario() -> tuple[FakeVenue, LiveRunner]:
        _s, v, r = make()
        stop = asyncio.Event()
        run = asyncio.create_task(r.run(stop))
        await v.started.wait()
        v.hang.clear()
        emit(v, "place")
        emit(v, "modify")  # queued behind the hung place
        await until(lambda: v.kinds() == ["Place"])
        stop.set()
        await run
        return v, r

    v, r = asyncio.run(scenario())
    kinds = v.kinds()
    assert "CancelAll" in kinds and "Modify" not in kinds
    assert "normal_lane" in r.shutdown_skipped  # the hung request never finished
    assert "final_sync" in r.shutdown_skipped  # nor did the sync (same hung venue)


# -- the guard, pure ---------------------------------------------------------------------


def test_guard_rules() -> None:
    g = HaltGuard()
    p = Place(1, make_cloid(1), Side.BUY, 1.0, 1.0)
    open0 = g.stamp()
    assert g.admits(p, open0)
    g.observe(True, "dq (Stale)")
    assert not g.admits(p, open0)  # closed now
    g.observe(False)
    assert not g.admits(p, open0)  # a halt happened since it was computed
    assert g.admits(p, g.stamp())
    assert not g.admits(p, Stamp(g.epoch, True))  # computed while halted
    assert g.admits(Cancel(2, make_cloid(1), None), Stamp(0, True))


def test_a_broken_guard_is_caught() -> None:
    """A guard that forgets the epoch (only looks at the current state) lets a place
    computed before a halt out after the gate reopened: the check above would see it."""

    class Forgetful(HaltGuard):
        def admits(self, a: Action, stamp: Stamp) -> bool:
            return not (isinstance(a, Place | Modify) and self.halted)

    g = Forgetful()
    p = Place(1, make_cloid(1), Side.BUY, 1.0, 1.0)
    old = g.stamp()
    g.observe(True)
    g.observe(False)
    assert g.admits(p, old)  # wrong, and HaltGuard says no:
    h = HaltGuard()
    old = h.stamp()
    h.observe(True)
    h.observe(False)
    assert not h.admits(p, old)


STEPS = st.sampled_from(
    ["place", "modify", "cancel", "halt", "open", "halt+place", "place+halt", "hang", "release"]
)


@settings(max_examples=60)
@example([("hang", 0), ("place", 3), ("place", 3), ("halt", 3), ("open", 3), ("release", 3)])
@given(st.lists(st.tuples(STEPS, st.integers(0, 3)), min_size=1, max_size=25))
def test_no_order_reaches_the_venue_while_halted_or_after_a_later_halt(
    ops: list[tuple[str, int]],
) -> None:
    async def scenario() -> tuple[FakeSession, FakeVenue]:
        s, v, r = make()
        stop = asyncio.Event()
        run = asyncio.create_task(r.run(stop))
        await v.started.wait()
        for op, turns in ops:
            if op == "hang":
                v.hang.clear()
            elif op == "release":
                v.hang.set()
            else:
                emit(v, op)
            for _ in range(turns):
                await asyncio.sleep(0)
        v.hang.set()
        await until(lambda: r._normal.empty() and r.queue.empty())
        stop.set()
        await run
        return s, v

    s, v = asyncio.run(scenario())
    sent_ids = set()
    for a, halted_now, halts_now, lane in v.sent:
        if not isinstance(a, Place | Modify):
            continue
        sent_ids.add(a.request_id)
        halts_then, halted_then = s.engine.produced[a.request_id]
        assert not lane
        assert not halted_now, f"{a} reached the venue while halted"
        assert not halted_then, f"{a} was computed while halted"
        assert halts_now == halts_then, f"{a} was sent after a later halt"
    not_sent = {x.request_id for x in s.results if x.reason is RejectReason.NOT_SENT}
    assert not (sent_ids & not_sent)
    # every order the engine produced was either sent or answered NOT_SENT (none lost)
    assert set(s.engine.produced) == sent_ids | not_sent


class NoCatchUp(LiveRunner):
    """A broken runner: sends a place/modify whatever arrived after it was computed."""

    async def _catch_up(self, batch: object) -> None:
        return None


def _fill_behind_a_modify(runner_cls: type[LiveRunner]) -> tuple[FakeSession, FakeVenue]:
    """One of our fills arrives right behind the event that made the engine modify (the
    venue sends the book and our fill as separate messages)."""
    from mmkit.core.events import OwnFill

    async def scenario() -> tuple[FakeSession, FakeVenue]:
        s = FakeSession()
        v = FakeVenue(s.engine)
        r = runner_cls(cast(Session, s), v, timer_ns=10**12, settle_s=0.02, final_sync_s=0.5)
        stop = asyncio.Event()
        run = asyncio.create_task(r.run(stop))
        await v.started.wait()
        assert v.sink is not None
        emit(v, "modify")
        v.sink(OwnFill(0, 7, make_cloid(7), Side.BUY, 100.0, 0.3, tid=99))
        await until(lambda: r.queue.empty() and r._normal.empty())
        await until(lambda: bool(s.results) or bool(v.sent))
        emit(v, "modify")  # nothing behind this one: it goes out
        await until(lambda: any(isinstance(a, Modify) for a, *_ in v.sent))
        stop.set()
        await run
        return s, v

    return asyncio.run(scenario())


def test_a_modify_computed_before_our_fill_arrived_is_not_sent() -> None:
    s, v = _fill_behind_a_modify(LiveRunner)
    modifies = [a.request_id for a, *_ in v.sent if isinstance(a, Modify)]
    assert modifies == [2]  # the first (request 1) was dropped, the second sent
    not_sent = [r for r in s.results if r.reason is RejectReason.NOT_SENT]
    assert [r.request_id for r in not_sent] == [1]
    assert "our fills arrived" in not_sent[0].message


def test_the_catch_up_check_catches_a_runner_without_it() -> None:
    _s, v = _fill_behind_a_modify(NoCatchUp)
    modifies = [a.request_id for a, *_ in v.sent if isinstance(a, Modify)]
    assert modifies[:1] == [1]  # the stale modify reached the venue
