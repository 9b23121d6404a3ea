"""Adversarial event streams for driving a whole engine, and readable event descriptions.

A stream is drawn as a list of :class:`Step` (plain numbers, so hypothesis shrinks them
well) and played by a :class:`StreamPlayer`, which turns each step into an event at the
current time. The player also plays a minimal venue: an ``ack`` step answers an order action
the engine sent (usually the oldest, sometimes a later one: reordered answers) with an
outcome drawn from the whole set (resting, filled, rejected for any
:class:`~mmkit.core.outcomes.RejectReason`, unknown, a cancel refused or unknown), a ``dup``
step delivers the last answer again (duplicated), and ``fill`` / ``order`` steps refer to
orders the engine really placed, so executors are driven through their real order
life-cycles, not only through noise. An UNKNOWN answer is never benign: an order whose
place or cancel came back UNKNOWN may still rest, and may still fill.

Every event kind the engine delivers appears: books (snapshots and deltas, crossed,
one-sided and with both sides empty), trades and trade batches, BBOs, own fills, order
updates, action results, position snapshots, timers and feed status (disconnects, gaps).
Hostile values: NaN, +-inf, zero, negative and huge prices and sizes; exchange timestamps
that go backwards (late answers); and time jumps up to twice the longest window, cooldown or
timeout in the component's own parameters (:func:`time_horizon_s`, at least an hour), so
that every window expires and every cooldown ends inside a stream; and ``halt`` steps, on
which a driver with a switchable gate closes or reopens it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from hypothesis import strategies as st

from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place
from mmkit.core.events import (
    BBO,
    ActionResult,
    BookDelta,
    BookSnapshot,
    Event,
    FeedStatus,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Timer,
    Trade,
    TradeBatch,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import NS_PER_S, Side

STEP_KINDS: tuple[str, ...] = (
    "book",
    "book",
    "book",
    "delta",
    "trade",
    "trade",
    "trades",
    "bbo",
    "timer",
    "timer",
    "ack",
    "ack",
    "ack",
    "dup",
    "fill",
    "order",
    "position",
    "feed",
    "feed",
    "feed",
    "halt",
)
HOSTILE_VALUES: tuple[float, ...] = (math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300, 5e-324)
#: outcomes an ``ack`` step may give an order action, indexed by ``Step.pick``
ACK_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.RESTING,
    Outcome.RESTING,
    Outcome.FILLED,
    Outcome.REJECTED,
    Outcome.REJECTED,
    Outcome.UNKNOWN,
)
#: every reason a venue may give a rejection (indexed by ``Step.pick // len(ACK_OUTCOMES)``)
REJECT_REASONS: tuple[RejectReason, ...] = tuple(
    r for r in RejectReason if r is not RejectReason.NONE
)
#: shortest horizon of the time jumps, seconds: an hour of simulated time at least
MIN_HORIZON_S = 3600.0
#: longest horizon considered, seconds (30 days: a parameter of 1e300 s is not a horizon)
MAX_HORIZON_S = 30 * 86_400.0
_UNIT_SUFFIXES: tuple[tuple[str, float], ...] = (("_ns", 1e-9), ("_ms", 1e-3), ("_s", 1.0))


def time_horizon_s(params: Any, floor_s: float = MIN_HORIZON_S) -> float:
    """The longest window, cooldown, timeout or interval in ``params``, seconds.

    Reads every numeric field of ``params`` (a dataclass, nested dataclasses and mappings
    included) whose name carries a time unit (``_s``, ``_ms``, ``_ns``) and returns the
    largest, at least ``floor_s`` and at most :data:`MAX_HORIZON_S`. Streams jump up to
    twice this, so that every window of the component expires and every cooldown ends.
    """
    best = floor_s
    seen: set[int] = set()

    def walk(obj: Any, depth: int) -> None:
        nonlocal best
        if depth > 4 or id(obj) in seen:
            return
        seen.add(id(obj))
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            items = [(f.name, getattr(obj, f.name, None)) for f in dataclasses.fields(obj)]
        elif isinstance(obj, dict):
            items = [(str(k), v) for k, v in obj.items()]
        else:
            return
        for name, value in items:
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                for suffix, scale in _UNIT_SUFFIXES:
                    if name.endswith(suffix):
                        secs = float(value) * scale
                        if math.isfinite(secs) and secs > best:
                            best = min(secs, MAX_HORIZON_S)
                        break
            else:
                walk(value, depth + 1)

    walk(params, 0)
    return best


@dataclass(frozen=True)
class Step:
    """One step of a stream. ``dt_s``: local clock advance; ``skew_s``: exchange timestamp
    offset from local time (negative = reordered/late); ``values``: prices then sizes;
    ``pick``: which order / outcome / side the step refers to."""

    kind: str
    dt_s: float
    skew_s: float = 0.0
    values: tuple[float, ...] = ()
    pick: int = 0

    def __repr__(self) -> str:
        vals = ", ".join(_num(v) for v in self.values)
        return (
            f"Step({self.kind}, +{self.dt_s:g}s, skew={self.skew_s:g}s, [{vals}], pick={self.pick})"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # hypothesis's pretty printer
        p.text(repr(self))


def _num(v: float) -> str:
    return f"{v:.6g}" if math.isfinite(v) else repr(v)


#: each stream draws one family of hostile values, so that every family shows up often
#: (a stream mixing them all would rarely hit the one value that breaks a component)
HOSTILE_FAMILIES: tuple[tuple[float, ...], ...] = (
    (math.nan,),
    (math.inf, -math.inf, 1e300),
    (0.0, -1.0, 5e-324),
    HOSTILE_VALUES,
)


@lru_cache(maxsize=32)
def _numbers(mid: float, pool: tuple[float, ...]) -> st.SearchStrategy[float]:
    sane = st.floats(mid * 0.97, mid * 1.03, allow_nan=False, allow_infinity=False)
    return st.one_of(sane, sane, st.sampled_from(pool)) if pool else sane


@lru_cache(maxsize=8)
def _sizes(pool: tuple[float, ...]) -> st.SearchStrategy[float]:
    sane = st.floats(1e-4, 3.0, allow_nan=False, allow_infinity=False)
    return st.one_of(sane, sane, st.sampled_from(pool)) if pool else sane


_KINDS = st.sampled_from(STEP_KINDS)
_DTS = st.one_of(st.sampled_from([0.0, 0.001, 0.1, 1.0]), st.floats(0.0, 5.0), st.just(45.0))
_SKEWS = st.sampled_from([0.0, 0.0, 0.0, -0.5, -30.0])
_LEVELS = st.integers(0, 4)
_PICKS = st.integers(0, 255)
_ROWS = st.integers(1, 6)


@lru_cache(maxsize=32)
def _dts(horizon_s: float) -> st.SearchStrategy[float]:
    """Clock advances: mostly short, one step in eight a jump up to ``2 * horizon_s``
    (window edges included: half, exactly, just past and twice the horizon)."""
    jump = st.one_of(
        st.floats(1.0, 2.0 * horizon_s),
        st.sampled_from([0.5 * horizon_s, horizon_s, 1.01 * horizon_s, 2.0 * horizon_s]),
    )
    return st.one_of(*([_DTS] * 7), jump)


@st.composite
def steps(
    draw: Any,
    mid: float = 100_000.0,
    pool: tuple[float, ...] = HOSTILE_VALUES,
    horizon_s: float = MIN_HORIZON_S,
) -> Step:
    """One step; numbers are sane or (one time in three) drawn from ``pool``; the clock
    jumps (one step in eight) up to twice ``horizon_s``."""
    kind = draw(_KINDS)
    dt = draw(_dts(float(horizon_s)))
    skew = draw(_SKEWS) if pool else 0.0
    if kind in ("book", "delta"):
        n = 2 * draw(_LEVELS)
    elif kind == "trades":  # a trade batch of 1 to 6 rows
        n = draw(_ROWS)
    else:
        n = 2
    pxs = draw(st.lists(_numbers(mid, pool), min_size=n, max_size=n))
    szs = draw(st.lists(_sizes(pool), min_size=n, max_size=n))
    pick = draw(_PICKS)
    return Step(kind, float(dt), float(skew), tuple(pxs + szs), pick)


def _min_len(max_steps: int) -> int:
    """Shortest stream: a third of the longest. Left to itself hypothesis draws lists of a
    handful of steps, too short for anything that takes a sequence (a second reconnect, a
    retry after an UNKNOWN answer) to happen."""
    return max(1, max_steps // 3)


@st.composite
def _hostile_stream(draw: Any, mid: float, max_steps: int, horizon_s: float) -> list[Step]:
    pool = draw(st.sampled_from(HOSTILE_FAMILIES))
    out: list[Step] = draw(
        st.lists(steps(mid, pool, horizon_s), min_size=_min_len(max_steps), max_size=max_steps)
    )
    return out


def streams(
    mid: float = 100_000.0,
    hostile: bool = True,
    max_steps: int = 30,
    horizon_s: float = MIN_HORIZON_S,
) -> st.SearchStrategy[list[Step]]:
    """Lists of steps; hostile streams each pick one family of hostile values; time jumps
    reach twice ``horizon_s`` (pass :func:`time_horizon_s` of the component's params).

    The player opens every stream with a sane book so that quoting gets a chance to happen.
    """
    if not hostile:
        return st.lists(steps(mid, (), horizon_s), min_size=_min_len(max_steps), max_size=max_steps)
    return _hostile_stream(mid, max_steps, horizon_s)


@dataclass
class _Order:
    cloid: str | None
    oid: int
    side: Side
    px: float
    sz: float


#: what the player's venue knows of a client order id: sent and unanswered, resting, of
#: unknown fate (an UNKNOWN answer: it may rest), or gone (filled, cancelled, rejected)
CLOID_PENDING, CLOID_LIVE, CLOID_UNKNOWN, CLOID_GONE = "pending", "live", "unknown", "gone"
_CLOID_IN_USE = frozenset({CLOID_PENDING, CLOID_LIVE, CLOID_UNKNOWN})


@dataclass
class StreamPlayer:
    """Turns steps into events and plays a minimal venue for the engine's order actions.

    ``cloid_problems`` lists every PLACE that reused the client order id of an order that
    was still sent-and-unanswered, resting or of unknown fate (the venue would take it for
    the same order, or refuse it as a duplicate)."""

    mid: float = 100_000.0
    now_ns: int = NS_PER_S
    pending: list[Action] = field(default_factory=list)
    resting: list[_Order] = field(default_factory=list)
    next_oid: int = 1000
    cloids: dict[str, str] = field(default_factory=dict)
    cloid_problems: list[str] = field(default_factory=list)
    last_result: ActionResult | None = None
    #: feeds currently disconnected: a ``feed`` step toggles its stream, so that a stream
    #: sees disconnects followed by reconnects (and second reconnects), not random noise
    feeds_down: set[str] = field(default_factory=set)

    def opening(self) -> list[tuple[int, Event]]:
        """A startup position snapshot and a sane two-sided book."""
        t = self.now_ns
        m = self.mid
        book = BookSnapshot(
            t,
            _arr([m - 1.0, m - 2.0]),
            _arr([1.0, 2.0]),
            _arr([m + 1.0, m + 2.0]),
            _arr([1.0, 2.0]),
            local_ts=t,
        )
        return [(t, PositionSnapshot(t, 0.0, open_orders=(), local_ts=t, startup=True)), (t, book)]

    def observe(self, actions: list[Action]) -> None:
        """Remember the engine's order actions so that ``ack`` steps can answer them."""
        for a in actions:
            if isinstance(a, Place):
                state = self.cloids.get(a.cloid)
                if state in _CLOID_IN_USE:
                    self.cloid_problems.append(
                        f"PLACE req={a.request_id} reuses cloid {a.cloid} of an order "
                        f"that is still {state}"
                    )
                self.cloids[a.cloid] = CLOID_PENDING
        self.pending.extend(
            a for a in actions if isinstance(a, Place | Modify | Cancel | CancelAll)
        )

    def _gone(self, cloid: str | None) -> None:
        if cloid is not None and cloid in self.cloids:
            self.cloids[cloid] = CLOID_GONE

    def event(self, step: Step) -> Event:
        self.now_ns += max(0, int(step.dt_s * NS_PER_S))
        now = self.now_ns
        ts = max(0, now + int(step.skew_s * NS_PER_S))
        v = step.values
        half = len(v) // 2
        pxs, szs = v[:half], v[half:]
        k = step.kind
        side = Side.BUY if step.pick % 2 == 0 else Side.SELL
        if k == "book":
            n = len(pxs) // 2
            return BookSnapshot(
                ts,
                _arr(sorted(pxs[:n], reverse=True)),
                _arr(szs[:n]),
                _arr(sorted(pxs[n:])),
                _arr(szs[n:]),
                local_ts=now,
            )
        if k == "delta":
            n = len(pxs) // 2
            return BookDelta(
                ts, _arr(pxs[:n]), _arr(szs[:n]), _arr(pxs[n:]), _arr(szs[n:]), local_ts=now
            )
        if k == "trade":
            return Trade(ts, pxs[0], szs[0], side, local_ts=now)
        if k == "trades":  # one feed message: every row received now, 1 ms apart on ts
            m = len(pxs)
            return TradeBatch(
                np.array([ts + i * 1_000_000 for i in range(m)], dtype=np.int64),
                _arr(pxs),
                _arr(szs),
                np.array([1 if (step.pick + i) % 2 == 0 else -1 for i in range(m)], np.int8),
                np.full(m, now, dtype=np.int64),
            )
        if k == "bbo":
            return BBO(ts, pxs[0], szs[0], pxs[1], szs[1], local_ts=now)
        if k == "ack" and self.pending:
            # usually the oldest action is answered; one time in four a later one (reordered)
            i = step.pick % len(self.pending) if step.pick % 4 == 3 else 0
            self.last_result = self._ack(self.pending.pop(i), step, ts, now)
            return self.last_result
        if k == "dup" and self.last_result is not None:  # the same answer delivered again
            return dataclasses.replace(self.last_result, local_ts=now)
        if k == "fill" and self.resting:
            o = self.resting[step.pick % len(self.resting)]
            sz = szs[0] if not math.isfinite(szs[0]) or szs[0] <= 0 else min(szs[0], o.sz)
            if math.isfinite(sz) and sz > 0 and sz >= o.sz:
                self.resting.remove(o)
                self._gone(o.cloid)
            elif math.isfinite(sz) and sz > 0:
                o.sz -= sz
            px = o.px if step.pick % 3 else pxs[0]
            return OwnFill(ts, o.oid, o.cloid, o.side, px, sz, local_ts=now)
        if k == "fill":
            return OwnFill(ts, 0, None, side, pxs[0], szs[0], local_ts=now)
        if k == "order" and self.resting:
            o = self.resting.pop(step.pick % len(self.resting))
            self._gone(o.cloid)
            status = (
                OrderStatus.CANCELED,
                OrderStatus.FILLED,
                OrderStatus.OTHER_CANCELED,
                OrderStatus.REJECTED,
            )[step.pick % 4]
            return OrderUpdate(ts, o.oid, o.cloid, status, o.side, o.px, 0.0, o.sz, local_ts=now)
        if k == "order":  # an update about an order we do not know (another session's)
            return OrderUpdate(
                ts,
                1 + step.pick,
                None,
                OrderStatus.OPEN,
                side,
                pxs[0],
                szs[0],
                szs[0],
                local_ts=now,
            )
        if k == "position":
            pos = szs[0] * (1 if step.pick % 2 else -1) if step.pick % 4 else 0.0
            orders = tuple(_open(o) for o in self.resting) if step.pick % 3 == 0 else None
            return PositionSnapshot(ts, pos, open_orders=orders, local_ts=now)
        if k == "halt":  # the driver toggles its switchable gate; the engine sees a timer
            return Timer(ts, name="halt", local_ts=now)
        if k == "feed":
            down = sorted(self.feeds_down)
            if down and step.pick % 4 != 0:  # mostly, a feed that is down comes back
                stream, connected = down[step.pick % len(down)], True
            else:
                stream = ("book", "book", "book", "trades", "user")[(step.pick // 6) % 5]
                connected = stream in self.feeds_down
            if connected:
                self.feeds_down.discard(stream)
            else:
                self.feeds_down.add(stream)
            # a reconnect may come with a gap (messages were lost while down)
            gap = connected and step.pick % 2 == 0
            return FeedStatus(ts, stream, connected=connected, gap=gap, local_ts=now)
        return Timer(ts, local_ts=now)

    def _ack(self, a: Action, step: Step, ts: int, now: int) -> ActionResult:
        n = len(ACK_OUTCOMES)
        outcome = ACK_OUTCOMES[step.pick % n]
        reason = REJECT_REASONS[(step.pick // n) % len(REJECT_REASONS)]
        if isinstance(a, Place | Modify):
            oid = None
            if outcome is Outcome.RESTING:
                self.next_oid += 1
                oid = self.next_oid
                if isinstance(a, Modify):
                    self.resting = [o for o in self.resting if o.cloid != a.cloid]
                self.resting.append(_Order(a.cloid, oid, a.side, a.px, a.sz))
                self.cloids[a.cloid] = CLOID_LIVE
            elif outcome is Outcome.UNKNOWN:
                # the venue may have taken it: it rests (a fill or an update may follow)
                self.next_oid += 1
                if not any(o.cloid == a.cloid for o in self.resting):
                    self.resting.append(_Order(a.cloid, self.next_oid, a.side, a.px, a.sz))
                self.cloids[a.cloid] = CLOID_UNKNOWN
            elif isinstance(a, Place) or outcome is Outcome.FILLED or reason.order_is_gone:
                # a rejected place never rested; a modify whose target is gone (or that
                # filled at once) leaves nothing of the old order resting
                self.resting = [o for o in self.resting if o.cloid != a.cloid]
                self._gone(a.cloid)
            # else: a modify refused for another reason leaves the old order resting
            filled = a.sz if outcome is Outcome.FILLED else 0.0
            if outcome is Outcome.FILLED:
                self.next_oid += 1
                oid = self.next_oid
            return ActionResult(
                ts,
                a.request_id,
                a.cloid,
                oid,
                outcome,
                reason if outcome is Outcome.REJECTED else RejectReason.NONE,
                filled_sz=filled,
                avg_px=a.px if filled else 0.0,
                local_ts=now,
            )
        if isinstance(a, Cancel):
            hit = [o for o in self.resting if o.cloid == a.cloid or o.oid == a.oid]
            if outcome is Outcome.UNKNOWN:
                # not benign: the order may still rest (and fill); its fate is unknown
                for o in hit:
                    self.cloids[o.cloid or ""] = CLOID_UNKNOWN
                return ActionResult(ts, a.request_id, a.cloid, a.oid, Outcome.UNKNOWN, local_ts=now)
            if outcome is Outcome.REJECTED and reason is not RejectReason.ORDER_GONE and hit:
                # refused for another reason (rate limit, server, ...): the order still rests
                return ActionResult(
                    ts, a.request_id, a.cloid, a.oid, Outcome.REJECTED, reason, local_ts=now
                )
            self.resting = [o for o in self.resting if o not in hit]
            for o in hit:
                self._gone(o.cloid)
            out = Outcome.CANCELED if hit and outcome is not Outcome.REJECTED else Outcome.REJECTED
            return ActionResult(
                ts,
                a.request_id,
                a.cloid,
                a.oid,
                out,
                RejectReason.ORDER_GONE if out is Outcome.REJECTED else RejectReason.NONE,
                local_ts=now,
            )
        if outcome is Outcome.UNKNOWN:  # a cancel-all of unknown fate: everything may rest
            for o in self.resting:
                self.cloids[o.cloid or ""] = CLOID_UNKNOWN
            return ActionResult(ts, a.request_id, None, None, Outcome.UNKNOWN, local_ts=now)
        for o in self.resting:
            self._gone(o.cloid)
        self.resting.clear()
        return ActionResult(ts, a.request_id, None, None, Outcome.CANCELED, local_ts=now)


def _arr(values: Any) -> Any:
    return np.asarray(list(values), dtype=np.float64)


def _open(o: _Order) -> Any:
    from mmkit.core.events import OpenOrder

    return OpenOrder(o.oid, o.cloid, o.side, o.px, o.sz, o.sz)


# -- readable descriptions ------------------------------------------------------------------


def _levels(px: Any, sz: Any) -> str:
    pairs = [f"{_num(float(p))}x{_num(float(s))}" for p, s in zip(px, sz, strict=False)]
    return " ".join(pairs) if pairs else "(empty)"


def describe_event(ev: Event, now_ns: int, t0_ns: int = NS_PER_S) -> str:
    """One line: local time since ``t0_ns``, exchange-time skew, kind and its numbers."""
    t = (now_ns - t0_ns) / NS_PER_S
    skew = (ev.ts - now_ns) / NS_PER_S
    head = f"t={t:+.3f}s" + (f" (ts {skew:+.3f}s)" if skew else "")
    if isinstance(ev, BookSnapshot | BookDelta):
        name = "BOOK" if isinstance(ev, BookSnapshot) else "DELTA"
        bids, asks = _levels(ev.bid_px, ev.bid_sz), _levels(ev.ask_px, ev.ask_sz)
        return f"{head} {name} bids {bids} | asks {asks}"
    if isinstance(ev, Trade):
        return f"{head} TRADE {ev.side.name} {_num(ev.sz)} @ {_num(ev.px)}"
    if isinstance(ev, TradeBatch):
        rows = ", ".join(f"{tr.side.name} {_num(tr.sz)} @ {_num(tr.px)}" for tr, _ in ev.trades())
        return f"{head} TRADES {rows}"
    if isinstance(ev, BBO):
        return (
            f"{head} BBO {_num(ev.bid_px)}x{_num(ev.bid_sz)} | {_num(ev.ask_px)}x{_num(ev.ask_sz)}"
        )
    if isinstance(ev, OwnFill):
        return f"{head} OWN_FILL oid={ev.oid} {ev.side.name} {_num(ev.sz)} @ {_num(ev.px)}"
    if isinstance(ev, OrderUpdate):
        what = f"{ev.status.name} {ev.side.name} {_num(ev.sz)} @ {_num(ev.px)}"
        return f"{head} ORDER oid={ev.oid} {what}"
    if isinstance(ev, ActionResult):
        why = "" if ev.reason is RejectReason.NONE else f" ({ev.reason.value})"
        return f"{head} RESULT req={ev.request_id} oid={ev.oid} {ev.outcome.value}{why}"
    if isinstance(ev, PositionSnapshot):
        n = "-" if ev.open_orders is None else str(len(ev.open_orders))
        return f"{head} POSITION {_num(ev.position)} (open orders: {n})"
    if isinstance(ev, FeedStatus):
        state = "connected" if ev.connected else "DISCONNECTED"
        return f"{head} FEED {ev.stream} {state}" + (" gap" if ev.gap else "")
    return f"{head} TIMER {getattr(ev, 'name', '')}".rstrip()


def describe_action(a: Action) -> str:
    if isinstance(a, Place | Modify):
        name = "PLACE" if isinstance(a, Place) else "MODIFY"
        return f"{name} req={a.request_id} {a.side.name} {_num(a.sz)} @ {_num(a.px)}"
    if isinstance(a, Cancel):
        return f"CANCEL req={a.request_id} oid={a.oid}" + (" (emergency)" if a.emergency else "")
    if isinstance(a, CancelAll):
        return f"CANCEL_ALL req={a.request_id} {a.reason}" + (" (emergency)" if a.emergency else "")
    return f"{type(a).__name__.upper()} req={a.request_id}"
