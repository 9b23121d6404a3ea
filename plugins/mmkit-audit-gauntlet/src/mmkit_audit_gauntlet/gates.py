"""Gates of the gauntlet: data-quality gates, kill switches and a gap gate.

A gate returns ``None`` when open and a :class:`~mmkit.components.GateDecision` when
closed (``GateMode.HALT``: the executor cancels everything and places nothing). Each
class's docstring says what it does; the ``BUG:`` comment marks its one conditional defect
(``BUGS.md`` has the table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmkit.components import Estimates, GateDecision, GateRole, View
from mmkit.core.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Event,
    FeedStatus,
    OwnFill,
    PositionSnapshot,
    Timer,
    Trade,
)
from mmkit.faults import Rejections
from mmkit.params import param

NS = 1_000_000_000
DAY_NS = 86_400 * NS


def _is_book(event: Event) -> bool:
    return isinstance(event, BookSnapshot | BookDelta | BBO)


# ---------------------------------------------------------------------------------------
# g_trade_fresh_dq: staleness judged by the freshest of book and trades
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeFreshParams:
    max_age_s: float = param(30.0, gt=0, help="close when market data is older than this (s)")


class TradeFreshDataQuality:
    """Data-quality gate (seed §3): closed with no data, with data older than ``max_age_s``,
    and on a crossed or empty book. "Data" is the book or the trade tape, whichever moved
    last: a busy tape proves the connection is alive."""

    roles = frozenset({GateRole.DATA_QUALITY})

    def __init__(self, p: TradeFreshParams) -> None:
        self.max_age_ns = int(p.max_age_s * NS)
        self.rejections = Rejections()
        self._book_ns = -1
        self._trade_ns = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        if _is_book(event):
            self._book_ns = max(self._book_ns, now_ns)
        elif isinstance(event, Trade):
            self._trade_ns = max(self._trade_ns, now_ns)

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if self._book_ns < 0:
            return GateDecision("g_trade_fresh_dq", "NoDataReceived")
        if not view.portfolio.position_known:
            return GateDecision("g_trade_fresh_dq", "UnknownPosition")
        # BUG: the age is that of the freshest stream, so a frozen book passes for fresh
        # while trades keep printing
        age = now_ns - max(self._book_ns, self._trade_ns)
        if age > self.max_age_ns:
            return GateDecision("g_trade_fresh_dq", "StaleData", {"age_ms": age // 1_000_000})
        if view.market.is_crossed_or_empty:
            return GateDecision("g_trade_fresh_dq", "CrossedBook")
        return None


# ---------------------------------------------------------------------------------------
# g_nan_book_dq: crossed check that NaN slips through
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NanBookParams:
    max_age_s: float = param(30.0, gt=0, help="close when the book is older than this (s)")


class NanBookDataQuality:
    """Data-quality gate (seed §3 and §8): closed with no book yet, with a book older than
    ``max_age_s``, and when ``best_bid >= best_ask`` (the seed's ``is_crossed``, which it
    says also covers an empty book)."""

    roles = frozenset({GateRole.DATA_QUALITY})

    def __init__(self, p: NanBookParams) -> None:
        self.max_age_ns = int(p.max_age_s * NS)
        self.rejections = Rejections()
        self._book_ns = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        if _is_book(event):
            self._book_ns = max(self._book_ns, now_ns)

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if self._book_ns < 0:
            return GateDecision("g_nan_book_dq", "NoDataReceived")
        if not view.portfolio.position_known:
            return GateDecision("g_nan_book_dq", "UnknownPosition")
        age = now_ns - self._book_ns
        if age > self.max_age_ns:
            return GateDecision("g_nan_book_dq", "StaleData", {"age_ms": age // 1_000_000})
        bid, ask = view.market.best_bid, view.market.best_ask
        # BUG: in the Rust original an empty side reads 0.0; here it is NaN, and every
        # comparison with NaN is False, so a one-sided or empty book leaves the gate open
        if bid >= ask:
            return GateDecision("g_nan_book_dq", "CrossedBook", {"bid": bid, "ask": ask})
        return None


# ---------------------------------------------------------------------------------------
# g_heartbeat_dq: timers refresh the staleness clock
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeartbeatParams:
    max_age_s: float = param(30.0, gt=0, help="close when nothing was heard for this long (s)")


class HeartbeatDataQuality:
    """Data-quality gate: closed before the first event, after ``max_age_s`` of silence,
    and on a crossed or empty book. Any event that proves the pipeline is alive (market
    data, timers) counts as "heard"."""

    roles = frozenset({GateRole.DATA_QUALITY})

    def __init__(self, p: HeartbeatParams) -> None:
        self.max_age_ns = int(p.max_age_s * NS)
        self.rejections = Rejections()
        self._heard_ns = -1
        self._book_seen = False

    def on_event(self, event: Event, now_ns: int) -> None:
        if _is_book(event):
            self._book_seen = True
            self._heard_ns = max(self._heard_ns, now_ns)
        elif isinstance(event, Trade | Timer) and self._book_seen:
            # BUG: the engine's own timer is not market data: a silent feed with a timer
            # ticking never looks stale (once a first book was seen)
            self._heard_ns = max(self._heard_ns, now_ns)

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if self._heard_ns < 0:
            return GateDecision("g_heartbeat_dq", "NoDataReceived")
        if not view.portfolio.position_known:
            return GateDecision("g_heartbeat_dq", "UnknownPosition")
        if now_ns - self._heard_ns > self.max_age_ns:
            return GateDecision("g_heartbeat_dq", "StaleData")
        if view.market.is_crossed_or_empty:
            return GateDecision("g_heartbeat_dq", "CrossedBook")
        return None


# ---------------------------------------------------------------------------------------
# g_midnight_kill: drawdown kill switch whose latch resets at 00:00 UTC
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MidnightKillParams:
    max_drawdown_usd: float = param(100.0, gt=0, help="trip when equity falls this far (USD)")


class MidnightKill:
    """Kill switch: trips (emergency HALT, latched) when equity marked at mid falls more
    than ``max_drawdown_usd`` below its peak. As a *daily* loss limit, a new UTC day starts
    a fresh peak."""

    roles = frozenset({GateRole.KILL_SWITCH})

    def __init__(self, p: MidnightKillParams) -> None:
        self.limit = p.max_drawdown_usd
        self.rejections = Rejections()
        self.tripped: GateDecision | None = None
        self._peak = -math.inf
        self._day = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        day = now_ns // DAY_NS
        if day != self._day:
            self._day = day
            self._peak = -math.inf
            # BUG: the daily reset also clears the latch: a trip at 23:59 is forgotten at
            # 00:00 UTC and quoting resumes on its own
            self.tripped = None
        if self.tripped is not None:
            return self.tripped
        mark = view.market.mid
        if not math.isfinite(mark):
            mark = view.market.last_trade_px
        equity = view.portfolio.equity(mark)
        if not math.isfinite(equity):
            self.tripped = GateDecision("g_midnight_kill", "PnLUnavailable", emergency=True)
            return self.tripped
        self._peak = max(self._peak, equity)
        dd = self._peak - equity
        if dd > self.limit:
            self.tripped = GateDecision(
                "g_midnight_kill", "MaxDrawdown", {"drawdown_usd": round(dd, 2)}, emergency=True
            )
        return self.tripped


# ---------------------------------------------------------------------------------------
# g_sync_kill: kill switch that re-arms when a position snapshot agrees
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncKillParams:
    max_drawdown_usd: float = param(100.0, gt=0, help="trip when equity falls this far (USD)")
    tolerance: float = param(1e-9, ge=0, help="position difference ignored (coins)")


class SyncKill:
    """Kill switch: trips (emergency HALT, latched) on a drawdown beyond
    ``max_drawdown_usd`` or when the venue's position differs from the sum of our fills
    (a position change without a fill)."""

    roles = frozenset({GateRole.KILL_SWITCH})

    def __init__(self, p: SyncKillParams) -> None:
        self.p = p
        self.rejections = Rejections()
        self.tripped: GateDecision | None = None
        self._fills_pos = 0.0
        self._peak = -math.inf
        self._synced = False

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, OwnFill):
            if math.isfinite(event.sz):
                self._fills_pos += float(int(event.side)) * event.sz
        elif isinstance(event, PositionSnapshot):
            if not math.isfinite(event.position):
                self.rejections.reject("PositionSnapshot", "position not finite", None, now_ns)
                return
            if not self._synced:  # first snapshot: the starting position
                self._fills_pos = event.position
                self._synced = True
                return
            if abs(event.position - self._fills_pos) > self.p.tolerance:
                self.tripped = GateDecision(
                    "g_sync_kill",
                    "PositionChangeWithoutFill",
                    {"venue": event.position, "fills": self._fills_pos},
                    emergency=True,
                )
            elif self.tripped is not None:
                # BUG: "the venue agrees with us again, so it was a glitch": any agreeing
                # snapshot re-opens the latch, drawdown trips included
                self.tripped = None
                self._peak = -math.inf

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if self.tripped is not None:
            return self.tripped
        mark = view.market.mid
        if not math.isfinite(mark):
            mark = view.market.last_trade_px
        equity = view.portfolio.equity(mark)
        if not math.isfinite(equity):
            self.tripped = GateDecision("g_sync_kill", "PnLUnavailable", emergency=True)
            return self.tripped
        self._peak = max(self._peak, equity)
        if self._peak - equity > self.p.max_drawdown_usd:
            self.tripped = GateDecision(
                "g_sync_kill",
                "MaxDrawdown",
                {"drawdown_usd": round(self._peak - equity, 2)},
                emergency=True,
            )
        return self.tripped


# ---------------------------------------------------------------------------------------
# g_gap_gate: sequence-gap gate that raises on a gap of a stream it never saw
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GapGateParams:
    settle_s: float = param(2.0, ge=0, help="stay closed this long after a healing snapshot (s)")


class GapGate:
    """Not a seed role: closed after a feed gap (a ``FeedStatus`` with ``gap`` or a
    disconnect, or a book delta whose ``prev_seq`` does not follow) until a full book
    snapshot heals it, plus ``settle_s`` seconds."""

    roles = frozenset({GateRole.OTHER})

    def __init__(self, p: GapGateParams) -> None:
        self.settle_ns = int(p.settle_s * NS)
        self.rejections = Rejections()
        self._streams: dict[str, dict[str, int]] = {}
        self._open_at = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, BookSnapshot):
            st = self._streams.setdefault(event.stream, {"seq": -1, "gaps": 0})
            st["seq"] = event.seq
            if st["gaps"]:
                st["gaps"] = 0
                self._open_at = now_ns + self.settle_ns
        elif isinstance(event, BookDelta):
            st = self._streams.setdefault(event.stream, {"seq": -1, "gaps": 0})
            if event.prev_seq >= 0 and st["seq"] >= 0 and event.prev_seq != st["seq"]:
                st["gaps"] += 1
            st["seq"] = event.seq
        elif isinstance(event, FeedStatus) and (event.gap or not event.connected):
            # BUG: a gap on a stream that never delivered a book (the trade stream, or a
            # disconnect before the first snapshot) raises KeyError
            self._streams[event.stream]["gaps"] += 1

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if any(st["gaps"] for st in self._streams.values()):
            return GateDecision("g_gap_gate", "SequenceGap")
        if now_ns < self._open_at:
            return GateDecision("g_gap_gate", "Settling")
        return None


# ---------------------------------------------------------------------------------------
# Correct but unusual: stricter than needed (should PASS)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrictParams:
    max_book_age_s: float = param(5.0, gt=0, help="close when the book is older than this (s)")
    max_trade_age_s: float = param(30.0, gt=0, help="close when no trade for this long (s)")
    reconnect_hold_s: float = param(10.0, ge=0, help="stay closed this long after a reconnect (s)")


class StrictDataQuality:
    """Data-quality gate, stricter than the seed asks: closed with no book, a book older
    than ``max_book_age_s`` (5 s, not 30 s), no trade for ``max_trade_age_s``, any
    crossed, one-sided or empty book, any non-finite estimate, any disconnected feed, and
    for ``reconnect_hold_s`` after a reconnect."""

    roles = frozenset({GateRole.DATA_QUALITY})

    def __init__(self, p: StrictParams) -> None:
        self.p = p
        self.rejections = Rejections()
        self._book_ns = -1
        self._trade_ns = -1
        self._down: set[str] = set()
        self._hold_until = -1

    def on_event(self, event: Event, now_ns: int) -> None:
        if _is_book(event):
            self._book_ns = max(self._book_ns, now_ns)
        elif isinstance(event, Trade):
            self._trade_ns = max(self._trade_ns, now_ns)
        elif isinstance(event, FeedStatus):
            if event.connected and not event.gap:
                if event.stream in self._down:
                    self._down.discard(event.stream)
                    self._hold_until = max(
                        self._hold_until, now_ns + int(self.p.reconnect_hold_s * NS)
                    )
            else:
                self._down.add(event.stream)

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        name = "g_strict_dq"
        if self._book_ns < 0:
            return GateDecision(name, "NoDataReceived")
        if not view.portfolio.position_known:
            return GateDecision(name, "UnknownPosition")
        if now_ns - self._book_ns > int(self.p.max_book_age_s * NS):
            return GateDecision(name, "StaleData")
        if self._trade_ns < 0 or now_ns - self._trade_ns > int(self.p.max_trade_age_s * NS):
            return GateDecision(name, "NoTrades")
        m = view.market
        if not (m.best_bid > 0 and m.best_ask > m.best_bid and math.isfinite(m.best_ask)):
            return GateDecision(name, "CrossedBook")
        if self._down:
            return GateDecision(name, "FeedDown", {"streams": ",".join(sorted(self._down))})
        if now_ns < self._hold_until:
            return GateDecision(name, "Reconnected")
        vals = (est.kappa, est.sigma, est.A, est.spread_scale, est.size_scale)
        if not all(math.isfinite(v) for v in vals):
            return GateDecision(name, "NonFiniteEstimate")
        return None
