"""Adversarial event streams for driving a whole engine, and readable event descriptions.

A stream is drawn as a list of :class:`Step` (plain numbers, so hypothesis shrinks them
well) and played by a :class:`StreamPlayer`, which turns each step into an event at the
current time. The player also plays a minimal venue: an ``ack`` step answers the oldest order
action the engine sent (resting, filled, rejected, cancelled, unknown outcome), and ``fill`` /
``order`` steps refer to orders the engine really placed, so executors are driven through
their real order life-cycles, not only through noise.

Hostile values: NaN, +-inf, zero, negative and huge prices and sizes; crossed, one-sided and
empty books; exchange timestamps that go backwards; long silences (stale data); feed gaps;
and ``halt`` steps, on which a driver with a switchable gate closes or reopens it.
"""

from __future__ import annotations

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
    "fill",
    "order",
    "position",
    "feed",
    "halt",
)
HOSTILE_VALUES: tuple[float, ...] = (math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300, 5e-324)
#: (outcome, reason) an ``ack`` step may give an order action, indexed by ``Step.pick``
ACK_OUTCOMES: tuple[tuple[Outcome, RejectReason], ...] = (
    (Outcome.RESTING, RejectReason.NONE),
    (Outcome.RESTING, RejectReason.NONE),
    (Outcome.FILLED, RejectReason.NONE),
    (Outcome.REJECTED, RejectReason.POST_ONLY_WOULD_CROSS),
    (Outcome.REJECTED, RejectReason.MODIFY_TARGET_CANCELED),
    (Outcome.REJECTED, RejectReason.MODIFY_PLACE_FAILED),
    (Outcome.REJECTED, RejectReason.RATE_LIMITED_IP),
    (Outcome.UNKNOWN, RejectReason.NONE),
)


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
_PICKS = st.integers(0, 15)
_ROWS = st.integers(1, 6)


@st.composite
def steps(draw: Any, mid: float = 100_000.0, pool: tuple[float, ...] = HOSTILE_VALUES) -> Step:
    """One step; numbers are sane or (one time in three) drawn from ``pool``."""
    kind = draw(_KINDS)
    dt = draw(_DTS)
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


@st.composite
def _hostile_stream(draw: Any, mid: float, max_steps: int) -> list[Step]:
    pool = draw(st.sampled_from(HOSTILE_FAMILIES))
    out: list[Step] = draw(st.lists(steps(mid, pool), min_size=1, max_size=max_steps))
    return out


def streams(
    mid: float = 100_000.0, hostile: bool = True, max_steps: int = 30
) -> st.SearchStrategy[list[Step]]:
    """Lists of steps; hostile streams each pick one family of hostile values.

    The player opens every stream with a sane book so that quoting gets a chance to happen.
    """
    if not hostile:
        return st.lists(steps(mid, ()), min_size=1, max_size=max_steps)
    return _hostile_stream(mid, max_steps)


@dataclass
class _Order:
    cloid: str | None
    oid: int
    side: Side
    px: float
    sz: float


@dataclass
class StreamPlayer:
    """Turns steps into events and plays a minimal venue for the engine's order actions."""

    mid: float = 100_000.0
    now_ns: int = NS_PER_S
    pending: list[Action] = field(default_factory=list)
    resting: list[_Order] = field(default_factory=list)
    next_oid: int = 1000

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
        self.pending.extend(
            a for a in actions if isinstance(a, Place | Modify | Cancel | CancelAll)
        )

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
            return self._ack(self.pending.pop(0), step, ts, now)
        if k == "fill" and self.resting:
            o = self.resting[step.pick % len(self.resting)]
            sz = szs[0] if not math.isfinite(szs[0]) or szs[0] <= 0 else min(szs[0], o.sz)
            if math.isfinite(sz) and sz > 0 and sz >= o.sz:
                self.resting.remove(o)
            elif math.isfinite(sz) and sz > 0:
                o.sz -= sz
            px = o.px if step.pick % 3 else pxs[0]
            return OwnFill(ts, o.oid, o.cloid, o.side, px, sz, local_ts=now)
        if k == "fill":
            return OwnFill(ts, 0, None, side, pxs[0], szs[0], local_ts=now)
        if k == "order" and self.resting:
            o = self.resting.pop(step.pick % len(self.resting))
            status = (OrderStatus.CANCELED, OrderStatus.FILLED, OrderStatus.OTHER_CANCELED)[
                step.pick % 3
            ]
            return OrderUpdate(ts, o.oid, o.cloid, status, o.side, o.px, 0.0, o.sz, local_ts=now)
        if k == "position":
            pos = szs[0] * (1 if step.pick % 2 else -1) if step.pick % 4 else 0.0
            orders = tuple(_open(o) for o in self.resting) if step.pick % 3 == 0 else None
            return PositionSnapshot(ts, pos, open_orders=orders, local_ts=now)
        if k == "halt":  # the driver toggles its switchable gate; the engine sees a timer
            return Timer(ts, name="halt", local_ts=now)
        if k == "feed":
            return FeedStatus(
                ts, "book", connected=step.pick % 3 != 0, gap=step.pick % 2 == 0, local_ts=now
            )
        return Timer(ts, local_ts=now)

    def _ack(self, a: Action, step: Step, ts: int, now: int) -> ActionResult:
        outcome, reason = ACK_OUTCOMES[step.pick % len(ACK_OUTCOMES)]
        if isinstance(a, Place | Modify):
            oid = None
            if outcome is Outcome.RESTING:
                self.next_oid += 1
                oid = self.next_oid
                if isinstance(a, Modify):
                    self.resting = [o for o in self.resting if o.cloid != a.cloid]
                self.resting.append(_Order(a.cloid, oid, a.side, a.px, a.sz))
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
            self.resting = [o for o in self.resting if o.cloid != a.cloid and o.oid != a.oid]
            out = Outcome.CANCELED if outcome is not Outcome.REJECTED else Outcome.REJECTED
            return ActionResult(
                ts,
                a.request_id,
                a.cloid,
                a.oid,
                out,
                RejectReason.ORDER_GONE if out is Outcome.REJECTED else RejectReason.NONE,
                local_ts=now,
            )
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
