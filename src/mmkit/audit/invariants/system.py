"""Whole-system invariants: the configured plugin set, assembled, against a faulty venue.

Component invariants check each estimator, gate, quoter and executor in an engine whose other
slots hold the audit's reference components. The defects that lose money often live where
components meet (a closed data-quality gate whose cancels the executor's budget refuses; a
position snapshot that races a fill and trips the kill switch on a loss that never
happened; quoting that never resumes after a 429). The invariants of kind ``"system"`` check
the set a config actually runs:

* the runner calls each of them **once**, with a :class:`SystemTarget` (the settings, the
  plugin host and the configured components);
* every check builds the configured estimators, gates, quoter and executor exactly as
  :mod:`mmkit.assembly` does, into a real :class:`~mmkit.engine.Engine`, and steps it against
  the harness venue (:class:`~mmkit.audit.harness.FakeVenue`, here with a user stream that can
  lag: :class:`LaggingVenue`) through a :class:`~mmkit.audit.harness.VenueLoop` in simulated
  time, 100 ms a step;
* a market stream is generated around a mid chosen so that one order of ``risk.order_size``
  is worth four times the instrument's minimum notional; faults are drawn by hypothesis:
  silent feed (nothing arrives), frozen book (trades still flow, the book stops), crossed
  book, both sides empty, ``FeedStatus`` down then up with a gap, HTTP 429 with and without
  ``Retry-After``, the venue's IP weight at its limit, the execution budget exhausted, late
  fills, a position snapshot racing a fill, a venue restart (events lost, orders gone);
* every property is checked **after every step**; a failure prints the event log with times
  relative to the start of the run (``+12.300 s``).

The configured set is warmed up once per audit run (a healthy market until an order rests,
at most :data:`WARMUP_LIMIT_S`) and every hypothesis example starts from a deep copy of
that warm system, which keeps the section's cost to a few seconds.

Bounds (simulated time; the venue answers after 1 ms):

* :data:`HALT_BOUND_S`: a crossed or empty book or a feed reported down closes a gate within
  1 s; :data:`STALE_HALT_BOUND_S`: a silent or frozen feed closes one within 35 s (the seed
  report's 30 s staleness limit plus one 5 s book-age period);
* :data:`CANCEL_BOUND_S`: once a gate has halted quoting, nothing of ours rests on the venue
  2 s later, whatever the budget, 429 backoff or IP state;
* :data:`RESUME_BOUND_S`: after a recoverable fault clears, an order rests again within 10 s
  (:data:`RESTART_RESUME_BOUND_S`, 30 s, after a venue restart), unless a kill switch latched.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmkit.audit.harness import FakeVenue, VenueLoop, book
from mmkit.audit.invariant import (
    AuditContext,
    AuditTarget,
    Concern,
    Invariant,
    NotApplicable,
    Severity,
    Unaudited,
)
from mmkit.components import GateDecision, GateMode
from mmkit.core.actions import Action, CancelAll, Modify, Place
from mmkit.core.events import (
    BookSnapshot,
    Event,
    FeedStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
    levels,
)
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side
from mmkit.engine import Engine
from mmkit.execution.rate_limit import ip_weight
from mmkit.registry import ComponentSpec
from mmkit.rounding import price_step

SECTION = "9. Whole System"
KIND = "system"

#: simulated time of one step (a Timer every step, market data every step while healthy)
STEP_NS = 100 * NS_PER_MS
#: where simulated time starts (the log prints times relative to it)
START_NS = 1_000 * NS_PER_S
#: the warm-up: a healthy market until an order rests, at most this long (the default
#: warmup estimator gives up waiting after 300 s)
WARMUP_LIMIT_S = 600.0
#: a crossed or empty book, or a feed reported down, closes some gate within this
HALT_BOUND_S = 1.0
#: a silent feed or a frozen book closes some gate within this
STALE_HALT_BOUND_S = 35.0
#: once a gate halts quoting, nothing of ours rests on the venue this much later
CANCEL_BOUND_S = 2.0
#: after a recoverable fault clears, an order rests again within this
RESUME_BOUND_S = 10.0
#: ... and within this after a venue restart (a fresh start-up sync first)
RESTART_RESUME_BOUND_S = 30.0
#: the kill-switch check's jump through hours of simulated time
COARSE_NS = 300 * NS_PER_S
#: float slack of position sums (contracts)
EPS = 1e-9

#: market-stream faults: ``(name, closes within)``
FEED_FAULTS: dict[str, float] = {
    "silent": STALE_HALT_BOUND_S,
    "frozen": STALE_HALT_BOUND_S,
    "crossed": HALT_BOUND_S,
    "empty": HALT_BOUND_S,
    "down": HALT_BOUND_S,
}
#: execution pressure present when a feed fault starts
PRESSURES: tuple[str, ...] = ("none", "budget", "429", "ip")


# --------------------------------------------------------------------------------------
# the target: the whole configured set
# --------------------------------------------------------------------------------------
def _roles(component: object) -> frozenset[str]:
    """A gate's declared roles as strings (``roles``, else the older ``provides``)."""
    declared: Any = getattr(component, "roles", None)
    if declared is None:
        declared = getattr(component, "provides", None) or ()
    try:
        return frozenset(str(r) for r in declared)
    except TypeError:
        return frozenset()


@dataclass
class SystemTarget(AuditTarget):
    """The configured plugin set as one audit target (kind ``"system"``).

    ``spec`` describes the set (for reports); ``settings`` and ``host`` are what
    :mod:`mmkit.assembly` builds an engine from. :meth:`build` returns a fresh
    :class:`~mmkit.engine.Engine` of the configured components.
    """

    settings: Any = None
    host: Any = None
    _warm: dict[int, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, host: Any, settings: Any) -> SystemTarget:
        c = settings.components
        desc = (
            f"estimators {', '.join(c.estimators) or '(none)'}; gates "
            f"{', '.join(c.gates) or '(none)'}; quoter {c.quoter}; executor {c.executor}"
        )
        spec = ComponentSpec(
            kind=KIND,
            name="configured_set",
            factory=None,
            params=type(None),
            description=desc,
            plugin="mmkit",
            distribution="mmkit",
        )
        return cls(
            spec=spec,
            params=None,
            instrument=settings.instrument,
            risk=settings.risk,
            seed=settings.engine.seed,
            settings=settings,
            host=host,
        )

    @property
    def components(self) -> list[tuple[str, str]]:
        """The configured ``(kind, name)`` pairs, in pipeline order."""
        return list(self.settings.selected())

    def build(self, params: Any | None = None, **risk_overrides: Any) -> Engine:
        """A fresh engine of the configured components, each its compiled twin or its
        Python code by ``[engine] twins`` exactly as a run builds it (as
        :func:`mmkit.assembly.build_engine` without its plugin-error check: the runner has
        done that, or was told not to)."""
        from mmkit.assembly import build_parts, engine_of

        return engine_of(build_parts(self.host.registry, self.settings), self.settings)


def system_target(target: AuditTarget) -> SystemTarget:
    if not isinstance(target, SystemTarget):
        raise NotApplicable("a whole-system invariant runs on the configured set only")
    return target


# --------------------------------------------------------------------------------------
# the venue and the rig
# --------------------------------------------------------------------------------------
class LaggingVenue(FakeVenue):
    """The harness venue with a user stream that can lag: fills and order updates are
    delivered ``fill_delay_ns`` late (in order: a smaller delay never overtakes).
    ``last_refusal_ns`` is when the venue last refused a request with HTTP 429 (a knob or
    its IP limit): nothing can be cancelled while the venue refuses, so the cancel bound
    counts from the later of the halt and that refusal."""

    def __init__(self, instrument: Instrument, *, seed: int = 0) -> None:
        super().__init__(instrument, seed=seed)
        self.fill_delay_ns = 0
        self._user_due = 0
        self.last_refusal_ns = -1

    def _ip_admit(self, a: Action, now_ns: int) -> bool:
        ok = super()._ip_admit(a, now_ns)
        if not ok:
            self.last_refusal_ns = now_ns
        return ok

    def _emit(self, ev: Event, now_ns: int, extra_ns: int = 0, *, lossy: bool = True) -> None:
        if isinstance(ev, OwnFill | OrderUpdate) and lossy and self.connected:
            due = max(now_ns + self.latency_ns + extra_ns + self.fill_delay_ns, self._user_due)
            self._user_due = due
            extra_ns = due - now_ns - self.latency_ns
        super()._emit(ev, now_ns, extra_ns, lossy=lossy)


def _summary(actions: Sequence[Action]) -> str:
    counts: dict[str, int] = {}
    for a in actions:
        counts[type(a).__name__] = counts.get(type(a).__name__, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


@dataclass
class _Violation:
    now: int
    text: str


class _Watch:
    """Wraps the engine for the loop: records gate transitions and any PLACE or MODIFY the
    engine returns while some gate has halted quoting (mode HALT)."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    def on_event(self, ev: Event, now_ns: int) -> list[Action]:
        eng = self.rig.engine
        before = dict(eng.closed)
        actions = eng.on_event(ev, now_ns)
        rig = self.rig
        for name, d in eng.closed.items():
            if name not in before or before[name].reason != d.reason:
                rig.note(now_ns, f"gate {name} closed: {d.describe()}")
        for name in before:
            if name not in eng.closed:
                rig.note(now_ns, f"gate {name} opened")
        halted = [n for n, d in eng.closed.items() if d.mode is GateMode.HALT]
        if actions:
            rig.note(now_ns, "-> " + _summary(actions))
            placed = [a for a in actions if isinstance(a, Place | Modify)]
            if halted and placed:
                rig.placed_while_halted.append(
                    _Violation(
                        now_ns,
                        f"{type(placed[0]).__name__} {placed[0].side.name} "
                        f"{placed[0].sz:g} @ {placed[0].px:g} sent while gate(s) "
                        f"{', '.join(halted)} had halted quoting",
                    )
                )
        return actions


class Rig:
    """The configured set in an engine, wired to a :class:`LaggingVenue`, stepping a
    generated market in simulated time."""

    def __init__(self, target: SystemTarget, seed: int) -> None:
        self.engine: Engine = target.build()
        inst = target.instrument
        self.instrument = inst
        self.max_position = float(target.risk.max_position)
        self.venue = LaggingVenue(inst, seed=seed)
        #: the venue's IP weight limit per rolling minute (the ``ip`` pressure lowers it)
        self.ip_limit = self.venue.ip_limit
        self.loop = VenueLoop(_Watch(self), self.venue, now_ns=START_NS, step_ns=STEP_NS)
        self.tick = float(inst.tick)
        # one order of order_size is worth 4x the minimum notional at this mid
        raw = max(100.0, 4.0 * inst.min_notional / max(target.risk.order_size, 1e-12))
        self.mid = round(raw / self.tick) * self.tick + self.tick / 2
        #: instrument ticks per step of the venue's valid prices at this mid (5 significant
        #: figures: BTC at 20,000 with a 0.1 tick quotes whole dollars, 10 ticks)
        self.price_step_ticks = max(1, round(price_step(self.mid, inst.sz_decimals) / self.tick))
        self.mode = "ok"
        self.rng = random.Random(seed)
        self.log: list[str] = []
        self.placed_while_halted: list[_Violation] = []
        self.steps = 0

    # -- time and logging ---------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.loop.now

    def rel(self, now_ns: int | None = None) -> str:
        t = (self.loop.now if now_ns is None else now_ns) - START_NS
        return f"+{t / NS_PER_S:.3f} s"

    def note(self, now_ns: int, text: str) -> None:
        self.log.append(f"{self.rel(now_ns)}  {text}")

    def story(self, last: int = 80) -> str:
        lines = self.log[-last:]
        head = [f"... ({len(self.log) - last} earlier lines)"] if len(self.log) > last else []
        return "Run log (simulated time since the start):\n" + "\n".join(head + lines)

    # -- components -----------------------------------------------------------------------
    @property
    def executor(self) -> Any:
        return self.engine.executor

    def gates(self) -> list[tuple[str, object]]:
        return [(n, c) for k, n, c in self.engine.components() if k == "gate"]

    def gates_with_role(self, role: str) -> list[str]:
        return [n for n, g in self.gates() if role in _roles(g)]

    def halted(self) -> dict[str, GateDecision]:
        return {n: d for n, d in self.engine.closed.items() if d.mode is GateMode.HALT}

    # -- the market -----------------------------------------------------------------------
    def _book(self) -> BookSnapshot:
        t, m = self.tick, self.mid
        bp = levels([m - t / 2 - i * t for i in range(5)])
        ap = levels([m + t / 2 + i * t for i in range(5)])
        sz = levels([0.5 + 0.1 * i for i in range(5)])
        return BookSnapshot(self.now, bp, sz, ap, sz, local_ts=self.now)

    def _trade(self) -> Trade:
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        k = self.rng.randint(0, 4)
        px = self.mid + self.tick / 2 + k * self.tick
        if side is Side.SELL:
            px = self.mid - self.tick / 2 - k * self.tick
        sz = self.rng.choice((0.01, 0.05, 0.1))
        return Trade(self.now, px, sz, side, local_ts=self.now)

    def set_feed(self, mode: str) -> None:
        """Switch the market stream (``ok`` or one of :data:`FEED_FAULTS`)."""
        if mode == self.mode:
            return
        self.note(self.now, f"feed: {self.mode} -> {mode}")
        if mode == "down":
            for stream in ("book", "trades"):
                self.deliver(FeedStatus(self.now, stream, False, local_ts=self.now))
        if self.mode == "down":
            for stream in ("book", "trades"):
                self.deliver(FeedStatus(self.now, stream, True, gap=True, local_ts=self.now))
        self.mode = mode

    def market(self) -> None:
        """This step's market data, by feed mode."""
        mode, loop = self.mode, self.loop
        if mode == "ok":
            loop.market(self._book())
            if self.steps % 2 == 0:
                loop.market(self._trade())
        elif mode == "frozen":
            if self.steps % 2 == 0:
                loop.market(self._trade())
        elif mode == "crossed":
            loop.market(book(self.mid + self.tick, self.mid - self.tick, self.now))
        elif mode == "empty":
            loop.market(book(math.nan, math.nan, self.now))
        # silent, down: nothing arrives

    def deliver(self, ev: Event) -> list[Action]:
        """Hand ``ev`` to the engine now (not through the venue) and submit its actions."""
        actions = self.loop.engine.on_event(ev, self.now)
        if actions:
            self.loop.sent.extend((self.now, a) for a in actions)
            self.venue.submit(actions, self.now)
        return actions

    def step(self, dt_ns: int = STEP_NS) -> None:
        self.market()
        self.loop.step(dt_ns)
        self.steps += 1

    def move(self, ticks: int) -> None:
        self.mid += ticks * self.tick
        self.note(self.now, f"mid moves {ticks:+d} ticks to {self.mid:g}")

    # -- faults on the execution side -----------------------------------------------------
    def pressure(self, kind: str, k: int) -> None:
        v = self.venue
        if kind == "budget":
            exhaust = getattr(self.executor, "exhaust_budget", None)
            if not callable(exhaust):
                raise Unaudited(
                    "the configured executor has no exhaust_budget(): a halt with the "
                    "budget spent cannot be checked",
                    missing=("exhaust_budget",),
                )
            exhaust()
            self.note(self.now, "execution budget exhausted")
        elif kind == "429":
            retry = (None, 2.0, 30.0)[k % 3]
            n = 1 + k % 5
            v.rate_limit_next(n, retry_after_s=retry)
            self.note(
                self.now,
                f"venue answers the next {n} request(s) HTTP 429"
                + (f" (Retry-After {retry:g} s)" if retry else ""),
            )
        elif kind == "ip":
            headroom = 2 * ip_weight(CancelAll(0, reason="")) + k % 3
            v.ip_limit = v.ip_used(self.now) + headroom
            self.note(self.now, f"venue IP weight at its limit ({headroom} weight left a minute)")

    def relieve(self) -> None:
        """Every execution-side fault off (the venue's IP limit restored; no 429 queued)."""
        v = self.venue
        v.ip_limit = self.ip_limit
        v.knobs.rate_limit.clear()


def warm_rig(target: SystemTarget) -> Rig:
    """The configured set after a healthy market until an order rests (built once per
    target and seed; callers get a deep copy)."""
    seed = target.seed
    if seed not in target._warm:
        rig = Rig(target, seed)
        limit = int(WARMUP_LIMIT_S * NS_PER_S / STEP_NS)
        for _ in range(limit):
            rig.step()
            if rig.venue.open_orders():
                break
        else:
            target._warm[seed] = None
            raise Concern(
                f"the configured set never rested an order on a healthy market in "
                f"{WARMUP_LIMIT_S:g} s of simulated time: nothing for the system invariants to "
                f"check (gates closed: {', '.join(rig.engine.closed) or 'none'})"
            )
        for _ in range(20):  # let the first ladder settle
            rig.step()
        rig.note(rig.now, f"warm: {len(rig.venue.open_orders())} orders rest; checks start")
        target._warm[seed] = rig
    base = target._warm[seed]
    if base is None:
        raise Concern("the configured set never rested an order on a healthy market")
    out: Rig = copy.deepcopy(base)
    return out


def fail(rig: Rig, message: str) -> None:
    from hypothesis import note

    rig.note(rig.now, "!! " + message)
    note(rig.story())
    raise AssertionError(f"at {rig.rel()}: {message}")


# --------------------------------------------------------------------------------------
# 1 + 2: a faulty feed halts, cancels within a bound, places nothing
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Episode:
    """A feed fault of ``seconds`` after ``lead`` healthy steps, with ``pressure`` on the
    execution side from its start (``k`` picks the pressure's variant)."""

    fault: str
    pressure: str
    lead: int
    seconds: float
    k: int


def episodes() -> Any:
    from hypothesis import strategies as st

    one = st.builds(
        Episode,
        fault=st.sampled_from(sorted(FEED_FAULTS)),
        pressure=st.sampled_from(PRESSURES),
        lead=st.integers(0, 30),
        seconds=st.sampled_from([0.5, 2.0, 5.0, 8.0, 40.0]),
        k=st.integers(0, 11),
    )
    return st.lists(one, min_size=1, max_size=3)


class HaltWatch:
    """After every step: a faulty feed closes some gate within its bound; once a gate halts
    quoting, nothing of ours rests :data:`CANCEL_BOUND_S` later."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.fault_start: int | None = None
        self.fault: str = ""
        self.halt_start: int | None = None
        self.halt_reason = ""

    def check(self) -> None:
        rig = self.rig
        now = rig.now
        halted = rig.halted()
        if halted and self.halt_start is None:
            self.halt_start = now
            self.halt_reason = "; ".join(d.describe() for d in halted.values())
        elif not halted:
            self.halt_start = None
        if self.fault_start is not None and not halted:
            bound = FEED_FAULTS[self.fault]
            if now - self.fault_start > bound * NS_PER_S:
                dq = rig.gates_with_role("data_quality")
                fail(
                    rig,
                    f"the feed went {self.fault} at {rig.rel(self.fault_start)} and no gate had "
                    f"halted quoting {bound:g} s later ("
                    + (
                        f"data-quality gate(s): {', '.join(dq)}"
                        if dq
                        else "no configured gate declares the data-quality role"
                    )
                    + f"); {len(rig.venue.open_orders())} order(s) rest",
                )
        if self.halt_start is None:
            return
        since = max(self.halt_start, rig.venue.last_refusal_ns)
        if now - since >= CANCEL_BOUND_S * NS_PER_S:
            left = rig.venue.open_orders()
            if left:
                shown = ", ".join(f"{o.side.name} {o.sz:g} @ {o.px:g}" for o in left[:4])
                refused = (
                    f", the venue's last 429 at {rig.rel(rig.venue.last_refusal_ns)}"
                    if since > self.halt_start
                    else ""
                )
                fail(
                    rig,
                    f"quoting halted at {rig.rel(self.halt_start)} ({self.halt_reason}"
                    f"{refused}) and {(now - since) / NS_PER_S:.1f} s later {len(left)} "
                    f"order(s) still rest on the venue: {shown} (bound {CANCEL_BOUND_S:g} s)",
                )


def play_episodes(
    rig: Rig, eps: Sequence[Episode], after_step: Callable[[], None], *, bounds: bool = True
) -> None:
    """Play ``eps`` then 3 healthy seconds; after every step check the halt and cancel
    bounds (:class:`HaltWatch`, unless ``bounds`` is false) and call ``after_step``."""
    watch = HaltWatch(rig)

    def step() -> None:
        rig.step()
        if bounds:
            watch.check()
        after_step()

    for ep in eps:
        for _ in range(ep.lead):
            step()
        rig.set_feed(ep.fault)
        rig.pressure(ep.pressure, ep.k)
        watch.fault_start, watch.fault = rig.now, ep.fault
        for _ in range(max(1, int(ep.seconds * NS_PER_S / STEP_NS))):
            step()
        rig.set_feed("ok")
        rig.relieve()
        watch.fault_start = None
    for _ in range(int(3 * NS_PER_S / STEP_NS)):
        step()


def _needs_budget_knob(rig: Rig) -> None:
    if not callable(getattr(rig.executor, "exhaust_budget", None)):
        raise Unaudited(
            "the configured executor has no exhaust_budget(): a halt with the budget spent "
            "cannot be checked",
            missing=("exhaust_budget",),
        )


def check_halt_cancels(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note

    st_ = system_target(target)
    _needs_budget_knob(warm_rig(st_))

    @ctx.settings()
    @given(episodes())
    def run(eps: list[Episode]) -> None:
        note(f"episodes: {eps}")
        rig = warm_rig(st_)
        play_episodes(rig, eps, lambda: None)

    run()


def check_no_place_while_halted(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note

    st_ = system_target(target)
    _needs_budget_knob(warm_rig(st_))

    @ctx.settings()
    @given(episodes())
    def run(eps: list[Episode]) -> None:
        note(f"episodes: {eps}")
        rig = warm_rig(st_)

        def after() -> None:
            if rig.placed_while_halted:
                v = rig.placed_while_halted[0]
                fail(rig, v.text)

        # the halt and cancel bounds are system.halt_cancels_within_bound's findings
        play_episodes(rig, eps, after, bounds=False)

    run()


# --------------------------------------------------------------------------------------
# 3: a stale position snapshot never overrides a newer fill, never moves equity
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Race:
    """A snapshot taken ``before`` steps (at least one: a snapshot at venue time ``T`` holds
    the fills with ``ts <= T``) ahead of one of our fills (``frac`` of order
    ``pick``), delivered ``after`` steps after it, ``copies`` times, with or without the
    open orders it saw."""

    before: int
    after: int
    pick: int
    frac: float
    with_orders: bool
    copies: int


def check_stale_snapshot(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note
    from hypothesis import strategies as st

    st_ = system_target(target)
    warm_rig(st_)

    races = st.builds(
        Race,
        before=st.integers(1, 30),
        after=st.integers(1, 40),
        pick=st.integers(0, 20),
        frac=st.sampled_from([0.5, 1.0]),
        with_orders=st.booleans(),
        copies=st.integers(1, 2),
    )

    @ctx.settings()
    @given(st.lists(races, min_size=1, max_size=3))
    def run(rs: list[Race]) -> None:
        note(f"races: {rs}")
        rig = warm_rig(st_)
        eng, v = rig.engine, rig.venue
        for r in rs:
            taken = rig.now
            snap = PositionSnapshot(
                taken,
                v.position,
                v.entry_px,
                tuple(v.open_orders()) if r.with_orders else None,
                local_ts=taken,
            )
            rig.note(taken, f"venue state taken for a snapshot: position {v.position:g}")
            for _ in range(r.before):
                rig.step()
            orders = v.open_orders()
            if not orders:
                rig.step()
                continue
            o = orders[r.pick % len(orders)]
            got = v.fill_order(oid=o.oid, sz=o.sz * r.frac, now_ns=rig.now)
            rig.note(rig.now, f"venue fills our {o.side.name} {got:g} @ {o.px:g} (oid {o.oid})")
            for _ in range(r.after):
                rig.step()
            for _ in range(r.copies):
                mark = eng.market.mid
                pos, eq = eng.portfolio.position, eng.portfolio.equity(mark)
                closed = set(eng.closed)
                rig.note(
                    rig.now,
                    f"stale snapshot (taken {rig.rel(taken)}, position {snap.position:g}) "
                    f"arrives; we hold {pos:g}",
                )
                rig.deliver(snap)
                pos2, eq2 = eng.portfolio.position, eng.portfolio.equity(mark)
                if abs(pos2 - pos) > EPS:
                    fail(
                        rig,
                        f"a snapshot taken at {rig.rel(taken)} (before our fill) moved the "
                        f"position {pos:g} -> {pos2:g}: it overrode a newer fill",
                    )
                if not (abs(eq2 - eq) <= 1e-9 * max(1.0, abs(eq))):
                    fail(
                        rig,
                        f"a stale snapshot moved equity at mark {mark:g}: {eq:.6f} -> "
                        f"{eq2:.6f} USD",
                    )
                newly = set(eng.closed) - closed
                if newly:
                    fail(rig, f"a stale snapshot closed gate(s) {', '.join(sorted(newly))}")
                rig.step()
        # a genuine sync later: our position agrees with the venue's
        for _ in range(int(25 * NS_PER_S / STEP_NS)):
            rig.step()
        if abs(eng.portfolio.position - v.position) > 0.5 * rig.instrument.lot:
            fail(
                rig,
                f"25 s after the last race our position is {eng.portfolio.position:g}, "
                f"the venue's {v.position:g}",
            )

    run()


# --------------------------------------------------------------------------------------
# 4: position + resting same-side orders <= max_position, with late fills
# --------------------------------------------------------------------------------------
OPS4: tuple[str, ...] = (
    "hit_bids",
    "lift_asks",
    "sweep_down",
    "sweep_up",
    "lag",
    "lose_acks",
    "late_acks",
    "wait",
)


def check_position_limit(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note
    from hypothesis import strategies as st

    st_ = system_target(target)
    warm_rig(st_)
    ops = st.lists(st.tuples(st.sampled_from(OPS4), st.integers(0, 7)), min_size=4, max_size=25)

    @ctx.settings()
    @given(ops, st.sampled_from([Side.BUY, Side.SELL]), st.sampled_from([0.0, 0.6, 0.8, 0.9]))
    def run(seq: list[tuple[str, int]], bias: Side, preload: float) -> None:
        note(f"ops: {seq}; pushed side {bias.name}; start at {preload:g} x max_position")
        rig = warm_rig(st_)
        v, lim = rig.venue, rig.max_position
        if preload:
            # a position near the limit to start from (a fill of an order we do not know),
            # then time to trim the ladder before the checks start
            sz = round(preload * lim / rig.instrument.lot) * rig.instrument.lot
            v.external_fill(bias, sz, rig.mid, now_ns=rig.now)
            rig.note(rig.now, f"start: the venue gives us a {bias.name} position of {sz:g}")
            for _ in range(int(CANCEL_BOUND_S * NS_PER_S / STEP_NS)):
                rig.step()
        for side in (Side.BUY, Side.SELL):
            v.take_exposure_peak(side)
            v.take_exposure_peak(side)

        def step() -> None:
            rig.step()
            for side in (Side.BUY, Side.SELL):
                peak = v.take_exposure_peak(side)
                if peak > lim + EPS:
                    fail(
                        rig,
                        f"{side.name} position + resting {side.name} orders reached {peak:g} "
                        f"(max_position {lim:g}; position now {v.position:g}, resting "
                        f"{v.resting_size(side):g})",
                    )

        for op, k in seq:
            if op in ("hit_bids", "lift_asks"):
                side = Side.BUY if op == "hit_bids" else Side.SELL
                if k % 4 == 0:
                    side = bias
                mine = [o for o in v.open_orders() if o.side is side]
                if mine:
                    best = max(mine, key=lambda o: float(side) * o.px)
                    aggressor = Side.SELL if side is Side.BUY else Side.BUY
                    sz = best.sz * (1 + k % 3)
                    rig.note(rig.now, f"market {aggressor.name} {sz:g} @ {best.px:g}")
                    rig.loop.market(Trade(rig.now, best.px, sz, aggressor, local_ts=rig.now))
                for _ in range(1 + k):
                    step()
            elif op in ("sweep_down", "sweep_up"):
                ticks = (2 + k) * (-1 if op == "sweep_down" else 1)
                if k % 2 == 0:
                    ticks = (2 + k) * (-1 if bias is Side.BUY else 1)
                rig.move(ticks)
                for _ in range(3):
                    step()
                rig.move(-ticks)
                for _ in range(3):
                    step()
            elif op == "lose_acks":
                applied = k % 2 == 0
                v.lose_next_acks(1 + k % 3, applied=applied)
                rig.note(
                    rig.now,
                    f"the next {1 + k % 3} answer(s) are lost (request "
                    + ("applied)" if applied else "not applied)"),
                )
                rig.move((1 + k % 3) * (1 if k % 4 < 2 else -1))
                for _ in range(2):
                    step()
            elif op == "late_acks":
                n = 1 + k % 3
                if k % 2:
                    v.drop_next_acks(n)
                    rig.note(rig.now, f"the next {n} answer(s) never come (requests applied)")
                else:
                    v.delay_next_acks(n, (200 + 400 * k) * NS_PER_MS)
                    rig.note(rig.now, f"the next {n} answer(s) come {200 + 400 * k} ms late")
                rig.move((1 + k % 3) * (1 if k % 4 < 2 else -1))
                for _ in range(2):
                    step()
            elif op == "lag":
                v.fill_delay_ns = (0, 200, 1000, 3000)[k % 4] * NS_PER_MS
                rig.note(rig.now, f"our fills now arrive {v.fill_delay_ns // NS_PER_MS} ms late")
                step()
            else:
                for _ in range(5 * (1 + k)):
                    step()

    run()


# --------------------------------------------------------------------------------------
# 5: a latched kill switch stays latched
# --------------------------------------------------------------------------------------
def check_kill_switch_latched(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note
    from hypothesis import strategies as st

    st_ = system_target(target)
    rig0 = warm_rig(st_)
    kills = rig0.gates_with_role("kill_switch")
    if not kills:
        raise NotApplicable("no configured gate declares the kill-switch role")

    @ctx.settings()
    @given(
        trigger=st.sampled_from(["liquidation", "position"]),
        hours=st.integers(1, 26),
        recover=st.booleans(),
        flaps=st.lists(st.integers(0, 400), max_size=3),
    )
    def run(trigger: str, hours: int, recover: bool, flaps: list[int]) -> None:
        note(f"trigger={trigger} hours={hours} recover={recover} flaps={flaps}")
        rig = warm_rig(st_)
        v, eng = rig.venue, rig.engine
        size = 2.0 * rig.max_position if trigger == "position" else 0.5 * rig.max_position
        v.external_fill(
            Side.BUY, size, rig.mid, liquidation=trigger == "liquidation", now_ns=rig.now
        )
        rig.note(rig.now, f"{trigger}: a {size:g} BUY we never placed")
        for _ in range(int(5 * NS_PER_S / STEP_NS)):
            rig.step()
            if any(k in eng.closed for k in kills):
                break
        tripped = [k for k in kills if k in eng.closed]
        if not tripped:
            fail(rig, f"no kill switch ({', '.join(kills)}) latched within 5 s of a {trigger}")
        name = tripped[0]
        rig.note(rig.now, f"kill switch {name} latched: {eng.closed[name].describe()}")
        if recover:  # the position flattened and the market healthy: no reason to stay
            v.external_fill(Side.SELL, size, rig.mid, now_ns=rig.now)
            rig.note(rig.now, "position flattened by a venue-side fill")
        # hours in jumps of COARSE_NS, each followed by a fresh, healthy step (so the data
        # gates see good data every jump: only the latch keeps quoting halted)
        total = int(hours * 3600 * NS_PER_S / COARSE_NS)
        flap_at = {f % max(1, total) for f in flaps}
        for i in range(total):
            if i in flap_at:
                rig.set_feed("down")
                rig.step()
                rig.set_feed("ok")
            rig.step(COARSE_NS - STEP_NS)
            rig.step()
            if name not in eng.closed:
                fail(
                    rig,
                    f"kill switch {name} latched and then reopened "
                    f"{(i + 1) * COARSE_NS / NS_PER_S / 3600:.2f} h later without a reset",
                )
            if rig.placed_while_halted and eng.closed[name].mode is GateMode.HALT:
                x = rig.placed_while_halted[0]
                fail(rig, f"at {rig.rel(x.now)} with the kill switch latched: {x.text}")

    run()


# --------------------------------------------------------------------------------------
# 6: quoting resumes after a recoverable fault clears
# --------------------------------------------------------------------------------------
RECOVERABLE: tuple[str, ...] = (*sorted(FEED_FAULTS), "429_storm", "restart")


def check_quoting_resumes(target: AuditTarget, ctx: AuditContext) -> None:
    from hypothesis import given, note
    from hypothesis import strategies as st

    st_ = system_target(target)
    warm_rig(st_)

    @ctx.settings()
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(RECOVERABLE),
                st.sampled_from([1.0, 5.0, 20.0, 45.0]),
                st.integers(0, 11),
            ),
            min_size=1,
            max_size=3,
        )
    )
    def run(faults: list[tuple[str, float, int]]) -> None:
        note(f"faults: {faults}")
        rig = warm_rig(st_)
        v, eng = rig.venue, rig.engine
        kills = rig.gates_with_role("kill_switch")
        for fault, seconds, k in faults:
            bound = RESUME_BOUND_S
            n = max(1, int(seconds * NS_PER_S / STEP_NS))
            if fault in FEED_FAULTS:
                rig.set_feed(fault)
                for _ in range(n):
                    rig.step()
                rig.set_feed("ok")
                cleared = rig.now
            elif fault == "429_storm":
                retry = (None, 2.0, 10.0)[k % 3]
                rig.note(
                    rig.now,
                    f"429 storm for {seconds:g} s: every request refused"
                    + (f" (Retry-After {retry:g} s)" if retry else ""),
                )
                for _ in range(n):
                    if not v.knobs.rate_limit:
                        v.rate_limit_next(1, retry_after_s=retry)
                    rig.step()
                v.knobs.rate_limit.clear()
                cleared = max(rig.now, v.last_refusal_ns + int((retry or 0.0) * NS_PER_S))
                rig.note(cleared, "the 429 storm is over (and the last Retry-After)")
                while rig.now < cleared:
                    rig.step()
            else:  # a venue restart: our events lost, every order gone, then back
                bound = RESTART_RESUME_BOUND_S
                v.disconnect()
                v.drop_pending()
                for o in v.open_orders():
                    v.cancel_order_externally(o.oid, rig.now)
                rig.note(rig.now, "venue restarts: disconnected, events lost, orders gone")
                for _ in range(n):
                    rig.step()
                v.reconnect()
                cleared = rig.now
                rig.note(cleared, "venue back")
            # the market has moved meanwhile: resuming means new orders at the new prices (a
            # move of several valid price steps, so the quotes cannot round to the old ones)
            sign = 1 if k % 4 < 2 else -1
            rig.move((4 + 4 * (k % 2)) * rig.price_step_ticks * sign)
            deadline = cleared + int(bound * NS_PER_S)
            while not [o for o in v.open_orders() if o.ts >= cleared]:
                if any(kk in eng.closed for kk in kills):
                    rig.note(rig.now, "a kill switch latched: quoting need not resume")
                    return
                if rig.now >= deadline:
                    closed = "; ".join(d.describe() for d in eng.closed.values()) or "none"
                    old = len(v.open_orders())
                    fail(
                        rig,
                        f"{fault} cleared at {rig.rel(cleared)} and the mid moved; {bound:g} s "
                        f"later no order placed since rests on the venue ({old} older order(s) "
                        f"rest; gates closed: {closed})",
                    )
                rig.step()
            rig.note(
                rig.now,
                f"quoting resumed {(rig.now - cleared) / NS_PER_S:.1f} s after the fault cleared",
            )
            for _ in range(10):
                rig.step()

    run()


# --------------------------------------------------------------------------------------
def _inv(
    id_: str,
    title: str,
    severity: Severity,
    check: Callable[[AuditTarget, AuditContext], None],
    description: str,
    weight: float,
) -> Invariant:
    return Invariant(
        id=id_,
        title=title,
        section=SECTION,
        severity=severity,
        kinds=(KIND,),
        check=check,
        description=description,
        weight=weight,
    )


INVARIANTS: list[Invariant] = [
    _inv(
        "system.halt_cancels_within_bound",
        "a faulty feed halts quoting and every order is cancelled within 2 s, whatever the "
        "budget, 429 backoff or IP state",
        Severity.CRITICAL,
        check_halt_cancels,
        "The configured set against the harness venue: a silent feed or frozen book must "
        f"close some gate within {STALE_HALT_BOUND_S:g} s, a crossed or empty book or a feed "
        f"reported down within {HALT_BOUND_S:g} s; once a gate halts quoting nothing of ours "
        f"rests on the venue {CANCEL_BOUND_S:g} s later, with the execution budget exhausted, "
        "the venue answering HTTP 429 (with and without Retry-After) or its IP weight at the "
        "limit. Checked after every 100 ms step.",
        0.08,
    ),
    _inv(
        "system.no_place_while_halted",
        "nothing is placed while any gate has halted quoting",
        Severity.CRITICAL,
        check_no_place_while_halted,
        "Over the same feed faults and execution pressure, no PLACE or MODIFY leaves the "
        "engine in a cycle where some gate (mode halt) is closed.",
        0.08,
    ),
    _inv(
        "system.stale_snapshot_ignored",
        "a stale position snapshot never overrides a newer fill and never moves equity",
        Severity.CRITICAL,
        check_stale_snapshot,
        "A venue snapshot taken before one of our fills arrives after it (with and without "
        "the open orders it saw, once or twice): the position and the equity at the same mark "
        "are unchanged and no gate closes on it; a genuine sync later agrees with the venue.",
        0.1,
    ),
    _inv(
        "system.position_limit_with_pending",
        "position + resting same-side orders <= max_position at every step, with late fills",
        Severity.CRITICAL,
        check_position_limit,
        "Market trades and sweeps fill our orders (pushing one side), our fills arrive up to "
        "3 s late, answers are lost (applied or not), late or never sent while the ladder "
        "moves; after every "
        "step the venue's signed position plus our resting orders on "
        "that side never exceed risk.max_position.",
        0.08,
    ),
    _inv(
        "system.kill_switch_stays_latched",
        "a latched kill switch stays latched (hours of simulated time)",
        Severity.CRITICAL,
        check_kill_switch_latched,
        "A liquidation or a position of twice max_position latches the kill switch; then 1 to "
        "26 hours (across a UTC midnight) of healthy market, flattened position and feed "
        "flaps: it stays closed and nothing is placed.",
        0.05,
    ),
    _inv(
        "system.quoting_resumes",
        "quoting resumes after a recoverable fault clears",
        Severity.HIGH,
        check_quoting_resumes,
        "After a silent, frozen, crossed, empty or down feed, an HTTP 429 storm (its "
        "Retry-After honoured) or a venue restart clears and the mid has moved 4 or 8 steps "
        "of the venue's valid prices (ticks, or whole dollars for BTC near 20,000), "
        "an order placed after the clearing rests within "
        f"{RESUME_BOUND_S:g} s ({RESTART_RESUME_BOUND_S:g} s after a restart), unless a kill "
        "switch latched.",
        0.08,
    ),
]

__all__ = ["INVARIANTS", "KIND", "SECTION", "LaggingVenue", "Rig", "SystemTarget", "warm_rig"]
