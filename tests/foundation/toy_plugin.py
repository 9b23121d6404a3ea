"""A small, correct plugin used by the foundation tests (loaded with --plugin / MMKIT_PLUGINS).

It registers one component of each engine kind with deterministic, simple behaviour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates, GateDecision, Ladder, Quote, View
from mmkit.core.actions import Action, Cancel, CancelAll, Place, make_cloid
from mmkit.core.events import Event, EventKind
from mmkit.core.types import Side
from mmkit.params import param
from mmkit.registry import BuildContext


@dataclass(frozen=True)
class ToyQuoterParams:
    half_spread_bps: float = param(5.0, gt=0, le=10_000, help="half spread in bps")
    levels: int = param(1, ge=1, le=10, help="levels per side")


class MidEstimator:
    def __init__(self) -> None:
        self.n = 0

    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is EventKind.TRADE:
            self.n += 1

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.extras["toy.trades"] = float(self.n)


class BookGate:
    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if view.market.is_crossed_or_empty:
            return GateDecision("toy_gate", "CrossedOrEmpty")
        return None


class SpreadQuoter:
    def __init__(self, p: ToyQuoterParams, size: float) -> None:
        self.p = p
        self.size = size

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        if not math.isfinite(mid) or mid <= 0:
            return Ladder()
        h = self.p.half_spread_bps * 1e-4
        bids = tuple(
            Quote(Side.BUY, round(mid * (1 - h * (i + 1)), 1), self.size, i)
            for i in range(self.p.levels)
        )
        asks = tuple(
            Quote(Side.SELL, round(mid * (1 + h * (i + 1)), 1), self.size, i)
            for i in range(self.p.levels)
        )
        return Ladder(bids, asks)


class CancelReplaceExecutor:
    """Cancel everything and place the ladder whenever it changes (no tolerance)."""

    def __init__(self) -> None:
        self.rid = 0
        self.live: dict[str, tuple[Side, float, float]] = {}
        self.halted = False

    def _next(self) -> int:
        self.rid += 1
        return self.rid

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        return []

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        self.halted = False
        want = {(q.side, q.px, q.sz) for q in (*ladder.bids, *ladder.asks)}
        if want == set(self.live.values()):
            return []
        out: list[Action] = [Cancel(self._next(), c, None) for c in sorted(self.live)]
        self.live.clear()
        for side, px, sz in sorted(want):
            rid = self._next()
            cloid = make_cloid(rid)
            self.live[cloid] = (side, px, sz)
            out.append(Place(rid, cloid, side, px, sz))
        return out

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        if self.halted and not self.live:
            return []
        self.halted = True
        self.live.clear()
        return [CancelAll(self._next(), decision.reason, decision.emergency)]


@hookimpl
def register_estimators(register: Any) -> None:
    register("toy_est", lambda ctx: MidEstimator(), description="counts trades")


@hookimpl
def register_gates(register: Any) -> None:
    register("toy_gate", lambda ctx: BookGate())


@hookimpl
def register_quoters(register: Any) -> None:
    def build(ctx: BuildContext[ToyQuoterParams]) -> SpreadQuoter:
        return SpreadQuoter(ctx.params, ctx.risk.order_size)

    register("toy_quoter", build, params=ToyQuoterParams)


@hookimpl
def register_executors(register: Any) -> None:
    register("toy_exec", lambda ctx: CancelReplaceExecutor())


class NullVenue:
    def on_market(self, event: Event, now_ns: int) -> None:
        return None

    def submit(self, actions: Any, now_ns: int) -> None:
        return None

    def drain(self, now_ns: int) -> list[Event]:
        return []


class NullFeed:
    def events(self) -> Any:
        return iter(())


@hookimpl
def register_venues(register: Any) -> None:
    register("toy_venue", lambda ctx: NullVenue())


@hookimpl
def register_feeds(register: Any) -> None:
    register("toy_feed", lambda ctx: NullFeed())


TOY_SETS = [
    "components.venue='toy_venue'",
    "components.feed='toy_feed'",
    "components.estimators=['toy_est']",
    "components.gates=['toy_gate']",
    "components.quoter='toy_quoter'",
    "components.executor='toy_exec'",
]
