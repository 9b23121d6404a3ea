"""Streams as wide as reality, exceptions that count, and the assertions made whole (issue 18,
structural causes 2 to 4).

Each broken component below has one conditional bug that the audit's *widened* streams or
assertions catch and that the narrower ones it replaced did not: an estimator that raises on a
feed status, a gate that crashes on a book with both sides empty, a kill switch that unlatches
after two hours, a sigma estimator over its cap only in cascade mode, a confidence of 1.5 after
a long silence, an executor that reuses a client order id after an UNKNOWN answer. Every one
is run through the invariant's check directly against an :class:`AuditTarget` and must FAIL;
where the widening is a single switch (the engine-level driver's look at the fault log) the
test also shows that without it the bug passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant
from mmkit.audit.invariants import engine as engine_inv
from mmkit.audit.invariants import estimators as est_inv
from mmkit.audit.invariants import gates as gate_inv
from mmkit.audit.reference import PermissiveGate, ReferenceEstimator, ReferenceExecutor
from mmkit.audit.runner import audit_targets
from mmkit.audit.streams import (
    CLOID_UNKNOWN,
    MIN_HORIZON_S,
    Step,
    StreamPlayer,
    streams,
    time_horizon_s,
)
from mmkit.components import Estimates, GateDecision, GateMode, GateRole, View
from mmkit.core.actions import Action, Cancel, CancelAll, Place, make_cloid
from mmkit.core.events import (
    ActionResult,
    BookSnapshot,
    Event,
    EventKind,
    FeedStatus,
    OwnFill,
)
from mmkit.core.outcomes import Outcome
from mmkit.core.types import NS_PER_S, Side, Tif
from mmkit.plugin_manager import PluginHost

from .conftest import settings_for

CTX = AuditContext(examples=60)


def _inv(invariants: list[Invariant], id_: str) -> Invariant:
    return next(i for i in invariants if i.id == id_)


NO_NONFINITE = _inv(engine_inv.INVARIANTS, "engine.no_nonfinite_output")
REQUEST_IDS = _inv(engine_inv.INVARIANTS, "engine.request_ids_increasing")
CONFIDENCE = _inv(est_inv.INVARIANTS, "estimators.confidence_bounded")
CASCADE = _inv(est_inv.INVARIANTS, "estimators.cascade_raises_sigma")
KILL_SWITCH = _inv(gate_inv.INVARIANTS, "gates.kill_switch_latches")


def _target(host: PluginHost, kind: str, name: str, factory: Any, as_name: str) -> AuditTarget:
    key = {"estimator": "components.estimators", "gate": "components.gates"}.get(kind)
    sets = [f'{key}=["{name}"]'] if key else [f"components.{kind}={name}"]
    (t,) = [t for t in audit_targets(host, settings_for(host, *sets)) if t.kind == kind]
    t.spec = replace(t.spec, name=as_name, factory=factory)
    return t


def _fails(inv: Invariant, target: AuditTarget, ctx: AuditContext = CTX) -> str:
    """Run the check; it must fail with an assertion. Returns the failure message."""
    with pytest.raises(AssertionError) as err:
        inv.check(target, ctx)
    return str(err.value)


# -- every event kind in every stream ---------------------------------------------------------

#: every kind the engine delivers to an estimator's or gate's on_event (trade batches whole
#: to on_trades or row by row)
DELIVERED = frozenset(EventKind)


def test_component_streams_carry_every_event_kind() -> None:
    seen: set[EventKind] = set()
    jumps: list[int] = []

    @settings(max_examples=150, derandomize=True, database=None, deadline=None)
    @given(est_inv.adversarial_ops(horizon_s=5000.0))
    def collect(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
        mid = [100.0]
        for dt, op in ops:
            seen.add(est_inv._event_of(op, 1_700_000_000 * NS_PER_S, mid).kind)
            jumps.append(dt)

    collect()
    assert seen >= DELIVERED, f"never drawn: {sorted(k.name for k in DELIVERED - seen)}"
    assert max(jumps) > 5000 * NS_PER_S, "no time jump past the component's horizon"


def test_engine_streams_carry_every_event_kind_and_hour_long_jumps() -> None:
    seen: set[EventKind] = set()
    longest = [0.0]

    @settings(max_examples=150, derandomize=True, database=None, deadline=None)
    @given(streams(horizon_s=7200.0))
    def collect(stream: list[Step]) -> None:
        player = StreamPlayer()
        for _, ev in player.opening():
            seen.add(ev.kind)
        for i in range(4):  # something for ``ack``, ``fill`` and ``dup`` steps to refer to
            player.observe([Place(i + 1, make_cloid(i + 1), Side.BUY, 99_990.0, 0.1, Tif.ALO)])
        for step in stream:
            seen.add(player.event(step).kind)
            longest[0] = max(longest[0], step.dt_s)

    collect()
    assert seen >= DELIVERED, f"never played: {sorted(k.name for k in DELIVERED - seen)}"
    assert longest[0] > 7200.0, f"longest jump {longest[0]} s is inside the horizon"


def test_streams_play_both_sides_empty_and_crossed_books() -> None:
    kinds: set[str] = set()

    @settings(max_examples=100, derandomize=True, database=None, deadline=None)
    @given(streams())
    def collect(stream: list[Step]) -> None:
        player = StreamPlayer()
        for step in stream:
            ev = player.event(step)
            if isinstance(ev, BookSnapshot):
                b, a = ev.bid_px, ev.ask_px
                if not len(b) and not len(a):
                    kinds.add("empty")
                elif len(b) and len(a) and b[0] >= a[0]:
                    kinds.add("crossed")

    collect()
    assert kinds == {"empty", "crossed"}


# -- time horizons from the component's own params --------------------------------------------


@dataclass
class _Inner:
    cooldown_ms: float = 0.0


@dataclass
class _Params:
    window_s: float = 0.0
    timeout_ns: int = 0
    count: int = 10**9  # no unit: not a time
    flag_s: bool = True  # a bool is not a duration
    inner: _Inner = field(default_factory=_Inner)


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(
    st.floats(0.0, 1e6),
    st.integers(0, 10**15),
    st.floats(0.0, 1e9),
)
def test_time_horizon_is_the_longest_duration_in_the_params(
    window_s: float, timeout_ns: int, cooldown_ms: float
) -> None:
    p = _Params(window_s, timeout_ns, inner=_Inner(cooldown_ms))
    want = max(MIN_HORIZON_S, window_s, timeout_ns / 1e9, cooldown_ms / 1e3)
    assert math.isclose(time_horizon_s(p), min(want, 30 * 86_400.0), rel_tol=1e-12)


def test_time_horizon_ignores_non_finite_and_non_dataclasses() -> None:
    assert time_horizon_s(_Params(window_s=math.inf)) == MIN_HORIZON_S
    assert time_horizon_s(None) == MIN_HORIZON_S
    assert time_horizon_s({"hold_s": 9000.0}) == 9000.0


# -- exceptions count: the engine-level driver reads the fault log ------------------------------


class FeedStatusRaisingEstimator(ReferenceEstimator):
    """Fine on market data; a disconnect notice reaches a code path nobody tested."""

    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is EventKind.FEED_STATUS and not event.connected:  # type: ignore[union-attr]
            raise RuntimeError(f"unexpected feed state for {event.stream}")  # type: ignore[union-attr]


class EmptyBookGate(PermissiveGate):
    """Reads the spread; with both sides empty it divides by a missing level."""

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        m = view.market
        if len(m.bid_px) == 0 and len(m.ask_px) == 0 and m.book_ts >= 0:
            raise IndexError("index 0 is out of bounds for axis 0 with size 0")
        return None


@pytest.mark.parametrize(
    ("kind", "factory", "expected"),
    [
        ("estimator", lambda ctx: FeedStatusRaisingEstimator(), "on_event raised RuntimeError"),
        ("gate", lambda ctx: EmptyBookGate(), "check raised IndexError"),
    ],
)
def test_a_component_fault_fails_the_engine_level_check(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch, kind: str, factory: Any, expected: str
) -> None:
    t = _target(host, kind, "audit_reference", factory, "flaky")
    msg = _fails(NO_NONFINITE, t)
    assert f"{kind} flaky faulted" in msg and expected in msg, msg
    # the engine caught it and the output stayed finite: only the look at the faults finds it
    monkeypatch.setattr(engine_inv, "new_fault", lambda *args: None)
    NO_NONFINITE.check(t, CTX)


def test_reference_components_have_no_faults(host: PluginHost) -> None:
    for kind in ("estimator", "gate"):
        t = _target(
            host,
            kind,
            "audit_reference",
            (lambda ctx: ReferenceEstimator())
            if kind == "estimator"
            else (lambda ctx: PermissiveGate()),
            "fine",
        )
        NO_NONFINITE.check(t, CTX)


def test_new_fault_reads_only_faults_of_components_after_a_mark() -> None:
    from types import SimpleNamespace

    from mmkit.faults import FaultCategory, FaultLog

    log = FaultLog()
    engine = SimpleNamespace(fault_log=log)
    log.add("venue", "malformed fill refused", 1)
    log.add("estimator e", "bad price", 2, FaultCategory.REJECTED)
    assert engine_inv.new_fault(engine, 0) is None  # hostile input, rejected input
    log.add("quoter reference", "quotes cross", 3)
    assert engine_inv.new_fault(engine, 0, "gate g") is None
    log.add("gate g", "check raised KeyError: 'mid'", 4)
    assert (
        engine_inv.new_fault(engine, 0, "gate g") == "gate g faulted: check raised KeyError: 'mid'"
    )
    assert engine_inv.new_fault(engine, 0) == "quoter reference faulted: quotes cross"
    assert engine_inv.new_fault(engine, len(log.entries)) is None


# -- a kill switch looked at far past its trip ------------------------------------------------


class TwoHourKillSwitch:
    """Trips on a PnL that cannot be computed, and quietly resets two hours later."""

    roles = frozenset({GateRole.KILL_SWITCH})
    provides = frozenset({"kill_switch"})

    def __init__(self, hold_s: float = 7200.0) -> None:
        self.hold_ns = int(hold_s * NS_PER_S)
        self.tripped_at: int | None = None

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        try:
            eq = view.portfolio.equity(view.market.mid)
        except Exception:
            eq = math.nan
        if not math.isfinite(eq) and self.tripped_at is None:
            self.tripped_at = now_ns
        if self.tripped_at is not None and now_ns - self.tripped_at < self.hold_ns:
            return GateDecision("two_hour", "PnLUnknown", mode=GateMode.HALT, emergency=True)
        return None


def test_a_kill_switch_that_unlatches_after_two_hours_fails(host: PluginHost) -> None:
    t = _target(host, "gate", "audit_reference", lambda ctx: TwoHourKillSwitch(), "two_hour")
    msg = _fails(KILL_SWITCH, t)
    assert "un-latched" in msg, msg
    # the old check looked at most 20 s past the trip, where this switch is still latched
    from mmkit.core.market import MarketState
    from mmkit.core.portfolio import Portfolio

    ks, t0 = TwoHourKillSwitch(), 10_000 * NS_PER_S
    broken = Portfolio(0.5, True)
    broken.cash = math.nan
    view = View(t.instrument, MarketState(), broken, 3.0)
    assert ks.check(view, Estimates(), t0) is not None
    healthy = View(t.instrument, MarketState(), Portfolio(0.0, True), 3.0)
    assert all(ks.check(healthy, Estimates(), t0 + k * NS_PER_S) for k in range(1, 21))


def test_a_kill_switch_that_stays_latched_passes(host: PluginHost) -> None:
    t = _target(host, "gate", "audit_reference", lambda ctx: TwoHourKillSwitch(1e9), "latched")
    KILL_SWITCH.check(t, CTX)


# -- sigma over its cap only in cascade mode ----------------------------------------------------


def _cascade_overshoot(ctx: Any) -> Any:
    from mmkit.estimators.sigma_estimator import SigmaEstimator

    class CascadeOvershoot(SigmaEstimator):
        """Capped everywhere but in its cascade override, which multiplies past the cap."""

        def estimate(self, out: Estimates, now_ns: int) -> None:
            super().estimate(out, now_ns)
            if out.cascade:
                out.sigma = 1.5 * self.sigma_cap()

    return CascadeOvershoot(ctx.params, ctx.seed)


def test_sigma_over_its_cap_only_in_cascade_mode_fails(host: PluginHost) -> None:
    t = _target(host, "estimator", "sigma", _cascade_overshoot, "cascade_overshoot")
    msg = _fails(CASCADE, t)
    assert "above the cap" in msg, msg


# -- confidences in [0, 1] --------------------------------------------------------------------


class SilenceConfidence(ReferenceEstimator):
    """Confidence grows with the time since the last event (a sign error in a decay): above
    1 only after more than 5000 s of silence."""

    publishes = frozenset({"kappa_confidence", "warmed_up", "warmup_waiting"})

    def __init__(self) -> None:
        self.last = -1
        self.conf = 0.5

    def on_event(self, event: Event, now_ns: int) -> None:
        if self.last >= 0 and now_ns - self.last > 5000 * NS_PER_S:
            self.conf = 0.5 + (now_ns - self.last) / (5000 * NS_PER_S)
        self.last = now_ns

    def estimate(self, out: Estimates, now_ns: int) -> None:
        super().estimate(out, now_ns)
        out.kappa_confidence = self.conf


def test_a_confidence_above_one_fails(host: PluginHost) -> None:
    t = _target(host, "estimator", "audit_reference", lambda ctx: SilenceConfidence(), "conf")
    msg = _fails(CONFIDENCE, t)
    assert "kappa_confidence" in msg and "not a confidence in [0, 1]" in msg, msg


def test_confidence_problem_reads_fields_and_extras() -> None:
    out = Estimates()
    assert est_inv.confidence_problem(out) is None
    out.extras["mine.fit_confidence"] = math.nan
    assert "extras['mine.fit_confidence']" in (est_inv.confidence_problem(out) or "")
    out.extras.clear()
    out.sigma_confidence = -0.01
    assert "sigma_confidence" in (est_inv.confidence_problem(out) or "")


# -- request ids and client order ids across retries and UNKNOWN answers ---------------------


class RetryOnUnknown(ReferenceExecutor):
    """Retries a place whose answer was UNKNOWN; ``fresh_cloid`` decides whether the retry
    gets a new client order id (correct) or reuses the one of the unknown order (broken)."""

    def __init__(self, fresh_cloid: bool) -> None:
        super().__init__()
        self.fresh = fresh_cloid
        self.sent: dict[str, Place] = {}

    def reconcile(self, ladder: Any, view: View, now_ns: int) -> list[Action]:
        out = super().reconcile(ladder, view, now_ns)
        self.sent.update((a.cloid, a) for a in out if isinstance(a, Place))
        return out

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        if isinstance(event, ActionResult) and event.outcome is Outcome.UNKNOWN:
            p = self.sent.get(event.cloid or "")
            if p is not None:
                rid = self._id()
                cloid = make_cloid(rid) if self.fresh else p.cloid
                return [Place(rid, cloid, p.side, p.px, p.sz, Tif.ALO, level=p.level)]
        return []


def test_an_executor_reusing_a_cloid_after_unknown_fails(host: PluginHost) -> None:
    t = _target(host, "executor", "audit_reference", lambda ctx: RetryOnUnknown(False), "retry")
    msg = _fails(REQUEST_IDS, t)
    assert "reuses cloid" in msg and "unknown" in msg, msg


def test_a_retry_with_a_fresh_cloid_passes(host: PluginHost) -> None:
    t = _target(host, "executor", "audit_reference", lambda ctx: RetryOnUnknown(True), "retry")
    REQUEST_IDS.check(t, CTX)


class SessionRestart(ReferenceExecutor):
    """Cancels everything on a feed reconnect (its view may be stale), and starts its
    request ids again at 1 on the second reconnect (a "new session")."""

    def __init__(self, restart: bool = True) -> None:
        super().__init__()
        self.reconnects = 0
        self.restart = restart

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        if isinstance(event, FeedStatus) and event.connected:
            self.reconnects += 1
            if self.reconnects == 2 and self.restart:
                self._next_id = 1
            self._resting.clear()
            return [CancelAll(self._id(), "Reconnect")]
        return []


def test_request_ids_restarting_after_a_second_reconnect_fail(host: PluginHost) -> None:
    t = _target(host, "executor", "audit_reference", lambda ctx: SessionRestart(), "session")
    msg = _fails(REQUEST_IDS, t)
    assert "must be unique and increasing" in msg, msg
    fine = _target(host, "executor", "audit_reference", lambda ctx: SessionRestart(False), "s")
    REQUEST_IDS.check(fine, CTX)


def test_feed_steps_disconnect_then_reconnect() -> None:
    player = StreamPlayer()
    states = []
    for pick in (0, 1, 0, 1):  # down, back up (a down feed comes back), down, up
        ev = player.event(Step("feed", 0.1, pick=pick))
        assert isinstance(ev, FeedStatus)
        states.append((ev.stream, ev.connected))
    assert states == [("book", False), ("book", True), ("book", False), ("book", True)]


# -- the stream player's venue ------------------------------------------------------------------


def _placed(player: StreamPlayer) -> Place:
    p = Place(1, make_cloid(1), Side.BUY, 99_990.0, 0.5, Tif.ALO)
    player.observe([p])
    player.event(Step("ack", 0.1, pick=0))  # RESTING
    assert [o.cloid for o in player.resting] == [p.cloid]
    return p


def test_an_unknown_cancel_is_not_answered_benignly() -> None:
    player = StreamPlayer()
    p = _placed(player)
    player.observe([Cancel(2, p.cloid, None)])
    res = player.event(Step("ack", 0.1, pick=5))  # ACK_OUTCOMES[5] is UNKNOWN
    assert isinstance(res, ActionResult) and res.outcome is Outcome.UNKNOWN
    assert player.cloids[p.cloid] == CLOID_UNKNOWN
    fill = player.event(Step("fill", 0.1, values=(99_990.0, 0.5), pick=0))
    assert isinstance(fill, OwnFill) and fill.cloid == p.cloid  # it was still resting


def test_rejections_come_with_every_reason_and_answers_repeat() -> None:
    from mmkit.core.outcomes import RejectReason

    reasons: set[RejectReason] = set()
    for pick in range(0, 6 * 40, 1):
        player = StreamPlayer()
        player.observe([Place(1, make_cloid(1), Side.SELL, 100_010.0, 0.5, Tif.ALO)])
        res = player.event(Step("ack", 0.0, pick=pick))
        assert isinstance(res, ActionResult)
        if res.outcome is Outcome.REJECTED:
            reasons.add(res.reason)
        dup = player.event(Step("dup", 0.0))
        assert isinstance(dup, ActionResult) and dup.request_id == res.request_id
    assert reasons == set(RejectReason) - {RejectReason.NONE}
