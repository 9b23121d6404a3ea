"""Venue invariants (seed report §4, Exchange State Synchronization).

The executor, the reconciler and the kill switch trust what the venue tells them: that every
order action is answered once, that a post-only order never trades as taker, that an order
never fills beyond its size and that the position the venue reports is the sum of the fills
it reported. A simulated venue that breaks one of these makes every backtest, paper run and
executor audit built on it wrong, so the configured venue is held to them directly.

Each check drives the **simulated side** of the configured venue (``target.build()``, a
:class:`mmkit.components.Venue`: ``on_market``/``submit``/``drain``) with a hypothesis-drawn
stream: book snapshots with both sides, trades sweeping 1-6 ticks through both sides of the
touch, post-only (ALO) and GTC orders behind, at and through the touch, modifies, cancels
(of known and unknown orders), cancel-alls and position syncs, with venue time advancing
between steps (0-2 s) and
*settling* points where the stream drains :data:`ANSWER_BOUND_NS` ahead, asks for the
position (``SyncState``) and drains again. A venue with no simulated side (live only) is
NOT_APPLICABLE: it declares nothing that can be driven offline (its live side is exercised by
the live tests against the emulator).

Prices sit on the instrument's tick around 1000 ticks (within ±5 %: inside any simulated
book's price grid); sizes are multiples of the lot, each order worth more than the
instrument's minimum value, so that what the venue refuses it refuses for the reason under
test, not for a malformed order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, NotApplicable, Severity
from mmkit.core.actions import (
    ORDER_ACTIONS,
    Action,
    Cancel,
    CancelAll,
    Modify,
    Place,
    SyncState,
    make_cloid,
)
from mmkit.core.events import (
    ActionResult,
    BookSnapshot,
    Event,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
    levels,
)
from mmkit.core.outcomes import Outcome
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side, Tif
from mmkit.registry import VenueSide

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from mmkit.components import Venue

SECTION_SYNC = "4. Exchange State Synchronization"
#: every order action must be answered (``ActionResult.local_ts``) within this much venue time
#: of its submission: far beyond any configured latency (the sim's are capped at 60 s each way)
ANSWER_BOUND_NS = 120 * NS_PER_S
#: venue time of the stream's opening book, ns
OPEN_NS = 1_000 * NS_PER_S
#: the opening mid, in ticks: prices stay within ±50 ticks of it (±5 %)
BASE_TICKS = 1_000
#: price levels of each side of a stream's book snapshots
LEVELS_PER_SIDE = 3
#: relative slack of size and position comparisons (float sums of lot multiples)
REL_TOL = 1e-9


@dataclass(frozen=True)
class Grid:
    """Where prices and sizes of a stream sit, from the audited instrument."""

    tick: float  # USD
    unit: float  # coins: the size of one unit (a lot multiple worth > min notional)
    sz_decimals: int

    @classmethod
    def of(cls, inst: Instrument) -> Grid:
        """A unit worth 1.2x the minimum order value at the lowest price a stream uses."""
        low_px = (BASE_TICKS - 60) * inst.tick
        lots = max(1, math.ceil(1.2 * inst.min_notional / low_px / inst.lot))
        return cls(inst.tick, round(lots * inst.lot, inst.sz_decimals), inst.sz_decimals)

    def px(self, ticks: int) -> float:
        """The price ``ticks`` from the opening mid's grid origin (USD, on the tick)."""
        return round((BASE_TICKS + ticks) * self.tick, 10)

    def sz(self, units: int) -> float:
        return round(units * self.unit, self.sz_decimals)


@dataclass(frozen=True)
class Step:
    """One step of a venue stream: wait ``dt_ms`` of venue time, then do ``what``.

    ``px`` is in ticks: for ``book`` the best bid from the grid origin (the ask is ``n`` ticks
    above), for ``trade`` how far two prints go through the touch (a SELL under the best
    bid and a BUY over the best ask, ``side`` first), for ``place``/``modify`` the
    distance behind the touch on the order's own side (``0`` joins the best bid or ask,
    negative values cross the book: ``-1`` prices at the opposite best, ``-2`` a tick through
    it; a post-only order there must not take). ``n`` is a size in units of
    :attr:`Grid.unit` (book: the spread in ticks); ``pick`` chooses an earlier order (modify,
    cancel: 0 the latest; odd: by oid when known) or, for ``book``, the top levels' size in
    units (each deeper level one unit more).
    """

    what: str  # book | trade | place | modify | cancel | cancel_all | sync | settle
    dt_ms: int = 0
    px: int = 0
    n: int = 1
    side: Side = Side.BUY
    tif: Tif = Tif.ALO
    pick: int = 0


@dataclass(frozen=True)
class Round:
    """One round of a stream: maybe a new book, one action, then trades through the touch."""

    book: Step | None
    action: Step
    trade: Step

    def steps(self) -> list[Step]:
        return [s for s in (self.book, self.action, self.trade) if s is not None]


def streams(max_rounds: int = 16) -> SearchStrategy[list[Round]]:
    """Hypothesis strategy of venue streams: rounds of (maybe a new book, one action, trades
    sweeping through both sides of the touch), so that orders rest, fill, get modified and
    cancelled in most examples even at small example counts."""
    from hypothesis import strategies as st

    dt = st.one_of(st.just(0), st.integers(0, 2_000))
    sides = st.sampled_from((Side.BUY, Side.SELL))
    book = st.builds(
        Step,
        what=st.just("book"),
        dt_ms=dt,
        px=st.integers(-15, 15),
        n=st.integers(1, 4),
        pick=st.integers(1, 4),
    )
    trade = st.builds(
        Step,
        what=st.just("trade"),
        dt_ms=dt,
        px=st.integers(1, 6),
        n=st.integers(1, 6),
        side=sides,
    )
    tifs = st.sampled_from((Tif.ALO, Tif.GTC))
    place = st.builds(
        Step,
        what=st.just("place"),
        dt_ms=dt,
        px=st.integers(0, 4),
        n=st.integers(1, 4),
        side=sides,
        tif=tifs,
    )
    # an order at or through the opposite best: a post-only one must be refused, a GTC one
    # takes liquidity (a taker fill)
    cross = st.builds(
        Step,
        what=st.just("place"),
        dt_ms=dt,
        px=st.integers(-2, -1),
        n=st.integers(1, 4),
        side=sides,
        tif=tifs,
    )
    modify = st.builds(
        Step,
        what=st.just("modify"),
        dt_ms=dt,
        px=st.integers(-3, 6),
        n=st.integers(1, 4),
        pick=st.integers(0, 7),
    )
    cancel = st.builds(Step, what=st.just("cancel"), dt_ms=dt, pick=st.integers(0, 7))
    other = st.builds(Step, what=st.sampled_from(("cancel_all", "sync", "settle")), dt_ms=dt)
    action = st.one_of(place, cross, place, modify, cancel, other)
    return st.lists(
        st.builds(Round, st.none() | book, action, trade), min_size=2, max_size=max_rounds
    )


@dataclass
class Tape:
    """Everything one stream sent and got, in venue time (ns)."""

    sent: list[tuple[int, Action]] = field(default_factory=list)  # (submitted at, action)
    got: list[tuple[int, Event]] = field(default_factory=list)  # (drained at, event)
    #: settling points: (SyncState request id, drained-events count when it was answered)
    settled: list[tuple[int, int]] = field(default_factory=list)
    #: market events fed, in feed order: (feed position, venue time, event)
    market: list[tuple[int, int, Event]] = field(default_factory=list)
    #: feed position of each action (request id -> position in the same count as ``market``)
    seq_of: dict[int, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def results(self) -> list[ActionResult]:
        return [e for _, e in self.got if isinstance(e, ActionResult)]

    def fills(self) -> list[OwnFill]:
        return [e for _, e in self.got if isinstance(e, OwnFill)]


def _rel(t: int) -> str:
    return f"t=+{(t - OPEN_NS) / NS_PER_S:.3f}s"


def _show(a: Action | Event) -> str:
    if isinstance(a, Place | Modify):
        what = "PLACE" if isinstance(a, Place) else f"MODIFY oid={a.oid}"
        return f"{what} req={a.request_id} {a.tif.value} {a.side.name} {a.sz:g} @ {a.px:g}"
    if isinstance(a, Cancel):
        cloid = ".." + a.cloid[-4:] if a.cloid else None
        return f"CANCEL req={a.request_id} oid={a.oid} cloid={cloid}"
    if isinstance(a, CancelAll):
        return f"CANCEL_ALL req={a.request_id}"
    if isinstance(a, SyncState):
        return f"SYNC req={a.request_id}"
    if isinstance(a, ActionResult):
        extra = f" reason={a.reason.value}" if a.reason.value != "none" else ""
        filled = f" filled {a.filled_sz:g} @ {a.avg_px:g}" if a.filled_sz else ""
        return f"RESULT req={a.request_id} {a.outcome.value} oid={a.oid}{extra}{filled}"
    if isinstance(a, OwnFill):
        role = "taker" if a.crossed else "maker"
        return f"FILL oid={a.oid} {a.side.name} {a.sz:g} @ {a.px:g} ({role})"
    if isinstance(a, PositionSnapshot):
        return f"POSITION {a.position:g}"
    if isinstance(a, OrderUpdate):
        return f"ORDER oid={a.oid} {a.status.name} {a.side.name} {a.sz:g}/{a.orig_sz:g} @ {a.px:g}"
    if isinstance(a, BookSnapshot):
        return f"BOOK {float(a.bid_px[0]):g} | {float(a.ask_px[0]):g}"
    if isinstance(a, Trade):
        return f"TRADE {a.side.name} {a.sz:g} @ {a.px:g}"
    return type(a).__name__


class _Driver:
    """Runs one stream against one venue and records the :class:`Tape`."""

    def __init__(self, venue: Venue, grid: Grid) -> None:
        self.venue = venue
        self.grid = grid
        self.tape = Tape()
        self.now = OPEN_NS
        self.req = 0
        self.bid, self.ask = -1, 1  # the touch last shown, ticks from the origin
        self.orders: list[tuple[str, Side]] = []  # (cloid, side) of every place, in order
        self.oid_of: dict[str, int] = {}  # cloid -> latest oid an answer named

    def run(self, rounds: list[Round]) -> Tape:
        self._book(-1, 2, 2)
        for s in (s for r in rounds for s in r.steps()):
            self.now += s.dt_ms * NS_PER_MS
            self._step(s)
            self._drain(self.now)
        self._settle()
        return self.tape

    # -- steps -----------------------------------------------------------------------------
    def _step(self, s: Step) -> None:
        g = self.grid
        if s.what == "book":
            self._book(s.px, s.n, s.pick)
        elif s.what == "trade":
            # the market swings through both sides of the touch: a SELL prints s.px ticks
            # under the best bid, a BUY s.px ticks over the best ask (``side`` goes first)
            for side in (s.side, s.side.opposite):
                ticks = self.bid - s.px if side is Side.SELL else self.ask + s.px
                self._feed(Trade(self.now, g.px(ticks), g.sz(s.n), side, local_ts=self.now))
        elif s.what == "place":
            self.req += 1
            cloid = make_cloid(self.req)
            self.orders.append((cloid, s.side))
            px = g.px(self._behind(s.side, s.px))
            self._submit(Place(self.req, cloid, s.side, px, g.sz(s.n), s.tif))
        elif s.what == "modify":
            self.req += 1
            cloid, side = self._pick(s.pick)
            px = g.px(self._behind(side, s.px))
            oid = self.oid_of.get(cloid)
            self._submit(Modify(self.req, cloid, oid, side, px, g.sz(s.n), Tif.ALO))
        elif s.what == "cancel":
            self.req += 1
            cloid, _ = self._pick(s.pick)
            oid = self.oid_of.get(cloid)
            by_oid = s.pick % 2 == 1 and oid is not None
            self._submit(Cancel(self.req, None if by_oid else cloid, oid if by_oid else None))
        elif s.what == "cancel_all":
            self.req += 1
            self._submit(CancelAll(self.req, "audit"))
        elif s.what == "sync":
            self.req += 1
            self._submit(SyncState(self.req, "audit"))
        elif s.what == "settle":
            self._settle()

    def _book(self, bid: int, spread: int, units: int) -> None:
        g = self.grid
        self.bid, self.ask = bid, bid + spread
        bids = [g.px(bid - i) for i in range(LEVELS_PER_SIDE)]
        asks = [g.px(bid + spread + i) for i in range(LEVELS_PER_SIDE)]
        szs = [g.sz(units + i) for i in range(LEVELS_PER_SIDE)]
        self._feed(
            BookSnapshot(
                self.now, levels(bids), levels(szs), levels(asks), levels(szs), local_ts=self.now
            )
        )

    def _feed(self, ev: Event) -> None:
        self.tape.log.append(f"{_rel(self.now)} {_show(ev)}")
        self.tape.market.append((len(self.tape.market) + len(self.tape.seq_of), self.now, ev))
        self.venue.on_market(ev, self.now)

    def _behind(self, side: Side, ticks: int) -> int:
        """The price ``ticks`` behind the touch on ``side``; negative: ``-1`` at the opposite
        best, ``-2`` a tick through it, and so on (an order that crosses the book)."""
        if ticks >= 0:
            return self.bid - ticks if side is Side.BUY else self.ask + ticks
        through = -ticks - 1
        return self.ask + through if side is Side.BUY else self.bid - through

    def _pick(self, pick: int) -> tuple[str, Side]:
        """An earlier order, or (with none yet) one the venue has never seen."""
        if not self.orders:
            return make_cloid(10**9 + pick), Side.BUY
        return self.orders[-1 - pick % len(self.orders)]  # 0: the latest

    def _submit(self, a: Action) -> None:
        self.tape.log.append(f"{_rel(self.now)} -> {_show(a)}")
        self.tape.sent.append((self.now, a))
        self.tape.seq_of[a.request_id] = len(self.tape.market) + len(self.tape.seq_of)
        self.venue.submit([a], self.now)

    def _drain(self, at: int) -> None:
        for ev in self.venue.drain(at):
            self.tape.got.append((at, ev))
            self.tape.log.append(f"{_rel(at)}   <- {_show(ev)}")
            if isinstance(ev, ActionResult) and ev.oid is not None and ev.cloid is not None:
                self.oid_of[ev.cloid] = ev.oid

    def _settle(self) -> None:
        """Let every answer in, ask for the position, let that answer in."""
        self.now += ANSWER_BOUND_NS
        self._drain(self.now)
        self.req += 1
        self._submit(SyncState(self.req, "audit: settle", orders=False))
        self.now += ANSWER_BOUND_NS
        self._drain(self.now)
        self.tape.settled.append((self.req, len(self.tape.got)))


# -- the properties (a list of problems; empty when the tape is fine) -----------------------


def _order_actions(tape: Tape) -> dict[int, tuple[int, Action]]:
    return {a.request_id: (t, a) for t, a in tape.sent if isinstance(a, ORDER_ACTIONS)}


def _orders_by_oid(tape: Tape) -> dict[int, Place | Modify]:
    """oid -> the Place/Modify that created it (from the answers naming the oid)."""
    sent = {a.request_id: a for _, a in tape.sent if isinstance(a, Place | Modify)}
    out: dict[int, Place | Modify] = {}
    for r in tape.results():
        a = sent.get(r.request_id)
        if a is not None and r.oid is not None:
            out.setdefault(r.oid, a)
    return out


def _orders_by_cloid(tape: Tape) -> dict[str, list[Place | Modify]]:
    out: dict[str, list[Place | Modify]] = {}
    for _, a in tape.sent:
        if isinstance(a, Place | Modify):
            out.setdefault(a.cloid, []).append(a)
    return out


def answered_once(tape: Tape) -> list[str]:
    """Every order action has exactly one ActionResult, no later than the bound."""
    problems: list[str] = []
    sent = _order_actions(tape)
    answers: dict[int, list[ActionResult]] = {}
    all_ids = {a.request_id for _, a in tape.sent}
    for r in tape.results():
        if r.request_id not in all_ids:
            problems.append(f"an ActionResult for request {r.request_id}, which was never sent")
        answers.setdefault(r.request_id, []).append(r)
    bound_s = ANSWER_BOUND_NS / NS_PER_S
    for req, (t, a) in sent.items():
        got = answers.get(req, [])
        if not got:
            problems.append(
                f"{_show(a)} (sent at {_rel(t)}) got no ActionResult within {bound_s:g} s"
            )
        elif len(got) > 1:
            outs = ", ".join(r.outcome.value for r in got)
            problems.append(f"{_show(a)} (sent at {_rel(t)}) got {len(got)} ActionResults: {outs}")
        elif got[0].local_ts >= 0 and got[0].local_ts - t > ANSWER_BOUND_NS:
            late = (got[0].local_ts - t) / NS_PER_S
            problems.append(
                f"{_show(a)} (sent at {_rel(t)}) answered {late:g} s later (> {bound_s:g} s)"
            )
    return problems


def _book_when_applied(tape: Tape, req: int, ts: int) -> BookSnapshot | None:
    """The book a venue had when it applied request ``req`` at venue time ``ts``, where that
    is certain: the last market event before it was a snapshot, nothing was fed at ``ts``
    after the request, and no order that may take liquidity (not post-only) was applied
    since the snapshot. None when it is not certain."""
    seq = tape.seq_of.get(req)
    if seq is None:
        return None
    last: tuple[int, Event] | None = None
    for s, t, ev in tape.market:
        if t < ts or (t == ts and s < seq):
            last = (s, ev)
        elif t == ts:
            return None  # fed at the same venue time, after the order: order unknown
        else:
            break
    if last is None or not isinstance(last[1], BookSnapshot):
        return None
    snap_seq, snap = last[0], last[1]
    answered = {r.request_id: r for r in tape.results()}
    for _, a in tape.sent:
        if not isinstance(a, Place | Modify) or a.tif is Tif.ALO:
            continue
        a_seq = tape.seq_of.get(a.request_id, -1)
        r = answered.get(a.request_id)
        if a_seq < seq and (a_seq > snap_seq or r is None or r.ts >= snap.ts):
            return None  # it may have taken the snapshot's liquidity first
    return snap


def _crosses(a: Place | Modify, book: BookSnapshot) -> bool:
    """Whether ``a`` would trade against ``book`` (at or through its opposite best)."""
    if a.side is Side.BUY:
        return bool(book.ask_px.size) and a.px >= float(book.ask_px.min())
    return bool(book.bid_px.size) and a.px <= float(book.bid_px.max())


def post_only_never_takes(tape: Tape) -> list[str]:
    """A post-only (ALO) order is never filled as taker: no crossed fill, no fill away from its
    own price, no fill reported in its ActionResult; and one that would cross the book the
    venue had when it applied it (where that book is certain) is refused, not rested."""
    problems: list[str] = []
    by_oid = _orders_by_oid(tape)
    by_cloid = _orders_by_cloid(tape)
    sent = {a.request_id: a for _, a in tape.sent if isinstance(a, Place | Modify)}
    for r in tape.results():
        a = sent.get(r.request_id)
        if a is None or a.tif is not Tif.ALO:
            continue
        if r.filled_sz > 0:
            problems.append(f"{_show(a)} was answered {_show(r)}: a post-only order took liquidity")
        elif r.outcome is Outcome.RESTING:
            book = _book_when_applied(tape, r.request_id, r.ts)
            if book is not None and _crosses(a, book):
                problems.append(
                    f"{_show(a)} was answered {_show(r)} on the book {_show(book)}: a post-only "
                    "order that crosses must be refused, not rested"
                )
    for f in tape.fills():
        order = by_oid.get(f.oid)
        if order is not None:
            candidates: list[Place | Modify] = [order]
        else:
            candidates = by_cloid.get(f.cloid, []) if f.cloid is not None else []
        if not candidates or any(c.tif is not Tif.ALO for c in candidates):
            continue
        if f.crossed:
            problems.append(f"{_show(f)} of post-only {_show(candidates[-1])}: filled as taker")
        elif not any(math.isclose(f.px, c.px, rel_tol=REL_TOL) for c in candidates):
            problems.append(
                f"{_show(f)} of post-only {_show(candidates[-1])}: a resting order fills at its "
                "own price; this one traded at another (it took liquidity)"
            )
    return problems


def never_overfilled(tape: Tape) -> list[str]:
    """No order fills beyond its size: the fills of an oid sum to at most the size it was
    placed (or modified) with; fills of an unanswered oid are bounded per cloid."""
    problems: list[str] = []
    by_oid = _orders_by_oid(tape)
    by_cloid = _orders_by_cloid(tape)
    sent = {a.request_id: a for _, a in tape.sent if isinstance(a, Place | Modify)}
    for r in tape.results():
        a = sent.get(r.request_id)
        if a is not None and r.filled_sz > a.sz * (1 + REL_TOL):
            problems.append(f"{_show(a)} was answered {_show(r)}: more than its size")
    per_oid: dict[int, float] = {}
    per_cloid: dict[str, float] = {}
    for f in tape.fills():
        if f.oid in by_oid:
            per_oid[f.oid] = per_oid.get(f.oid, 0.0) + f.sz
        elif f.cloid is not None and f.cloid in by_cloid:
            per_cloid[f.cloid] = per_cloid.get(f.cloid, 0.0) + f.sz
        else:
            problems.append(f"{_show(f)} cloid={f.cloid}: a fill of an order never placed")
    for oid, total in per_oid.items():
        a = by_oid[oid]
        if total > a.sz * (1 + REL_TOL):
            problems.append(f"oid {oid} ({_show(a)}) filled {total:g} in all: more than its size")
    for cloid, total in per_cloid.items():
        cap = sum(a.sz for a in by_cloid[cloid])
        if total > cap * (1 + REL_TOL):
            problems.append(
                f"cloid ..{cloid[-4:]} filled {total:g} in all (no answer named the oid): more "
                f"than every size it was placed or modified with ({cap:g})"
            )
    return problems


def position_matches_fills(tape: Tape) -> list[str]:
    """Once every answer is in, the position a SyncState reports is the signed sum of the
    fills the venue reported so far."""
    problems: list[str] = []
    for req, count in tape.settled:
        got = tape.got[:count]
        snaps = [e for _, e in got if isinstance(e, PositionSnapshot)]
        fills = [e for _, e in got if isinstance(e, OwnFill)]
        signed = math.fsum(f.sz * int(f.side) for f in fills)
        gross = math.fsum(f.sz for f in fills)
        if not snaps:
            problems.append(
                f"SYNC req={req} got no PositionSnapshot within {ANSWER_BOUND_NS / NS_PER_S:g} s"
            )
            continue
        pos = snaps[-1].position
        if not (math.isfinite(pos) and abs(pos - signed) <= REL_TOL * max(1.0, gross)):
            problems.append(
                f"SYNC req={req}: the venue reports position {pos:g}, its {len(fills)} fills "
                f"sum to {signed:g}"
            )
    return problems


Property = Callable[[Tape], list[str]]


def drive(venue: Venue, rounds: list[Round], instrument: Instrument) -> Tape:
    """Run ``rounds`` against ``venue`` (a fresh simulated venue) and record the tape."""
    return _Driver(venue, Grid.of(instrument)).run(rounds)


def venue_check(
    prop: Property, max_rounds: int = 12
) -> Callable[[AuditTarget, AuditContext], None]:
    """An invariant check holding the configured venue's simulated side to ``prop``."""

    def check(target: AuditTarget, ctx: AuditContext) -> None:
        from hypothesis import given, note

        if not target.spec.has_side(VenueSide.SIMULATED):
            sides = target.spec.describe_sides() or "no"
            raise NotApplicable(f"{sides}-only venue: no simulated side to drive offline")

        @ctx.settings()
        @given(streams(max_rounds))
        def run(rounds: list[Round]) -> None:
            tape = drive(target.build(), rounds, target.instrument)
            problems = prop(tape)
            if problems:
                for line in tape.log:
                    note(line)
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                raise AssertionError(f"venue {target.name!r}: {problems[0]}{more}")

        run()

    return check


def _inv(id_: str, title: str, severity: Severity, prop: Property, description: str) -> Invariant:
    return Invariant(
        id=id_,
        title=title,
        section=SECTION_SYNC,
        severity=severity,
        kinds=("venue",),
        check=venue_check(prop),
        description=description,
        weight=0.5,
    )


INVARIANTS = [
    _inv(
        "venues.answers_every_action_once",
        "The venue answers every order action exactly once, within a bounded time",
        Severity.CRITICAL,
        answered_once,
        "Every Place, Modify, Cancel (of a known or an unknown order) and CancelAll gets exactly "
        "one ActionResult echoing its request id, no later than 120 s of venue time after it "
        "was sent; no answer names a request never sent. An executor waits on that answer "
        "before it reuses a level or frees budget.",
    ),
    _inv(
        "venues.post_only_never_takes",
        "A post-only (ALO) order never fills as taker",
        Severity.HIGH,
        post_only_never_takes,
        "An ALO order that would cross the book is refused, or rests if it does not cross: "
        "none of its fills is crossed or priced away from its own limit, its ActionResult "
        "reports no immediate fill, and it is not rested when it crosses the book the venue "
        "had when it applied it (checked where that book is certain: the last market event "
        "was a snapshot). Maker fees and adverse-selection estimates assume it.",
    ),
    _inv(
        "venues.no_overfill",
        "No order fills beyond its size",
        Severity.CRITICAL,
        never_overfilled,
        "The OwnFills of an order id sum to at most the size it was placed or modified with "
        "(per client order id when no answer named the oid); no fill names an order never "
        "placed; no ActionResult reports more filled than asked.",
    ),
    _inv(
        "venues.position_is_sum_of_fills",
        "The venue's position equals the signed sum of its own fills",
        Severity.CRITICAL,
        position_matches_fills,
        "Once every answer is in (120 s of venue time without market events), the "
        "PositionSnapshot answering a SyncState equals the signed sum of the OwnFills the "
        "venue reported; reconciliation adopts the venue's position, so a venue whose "
        "position and fills disagree moves equity that never traded.",
    ),
]
