"""Small, obviously correct components the audit plugs into the slots it is not auditing.

A cross-cutting invariant drives a whole :class:`mmkit.engine.Engine`: the component under
audit takes its own slot and these fill the others, so that a finding can only come from the
component under audit. They are deliberately simple:

* :class:`ReferenceEstimator` publishes the config defaults, marked warmed up;
* :class:`PermissiveGate` never closes; :class:`SwitchableGate` closes and opens when told;
* :class:`ReferenceQuoter` quotes one level a side, a fixed relative half-spread around the
  mid, on the instrument's tick and lot grid, sized so that a full fill keeps the position
  within ``max_position``, and nothing when the book gives no finite mid;
* :class:`ReferenceExecutor` cancels what rests and places the ladder afresh, and cancels
  everything on halt. It is correct for the engine's purposes (finite, well-formed actions
  with increasing request ids) but is no production executor: it has no rate limits, budget
  or MODIFY, so the ``execution.*`` invariants are not meant for it.

The module is also a plugin: ``mmkit --plugin mmkit.audit.reference ...`` registers them as
``audit_reference`` components of each kind (used by the audit's own tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates, GateDecision, GateRole, Ladder, Quote, View
from mmkit.core.actions import Action, Cancel, CancelAll, Place, make_cloid
from mmkit.core.events import Event
from mmkit.core.types import Instrument, Side, Tif
from mmkit.params import param

REFERENCE_NAME = "audit_reference"


class ReferenceEstimator:
    """Publishes nothing new: the engine's defaults stand, and warmup is declared done."""

    publishes = frozenset({"warmed_up", "warmup_waiting"})

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.warmed_up = True
        out.warmup_waiting = ""


class PermissiveGate:
    """A gate that never closes."""

    roles = frozenset({GateRole.OTHER})

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return None


class SwitchableGate:
    """A gate the audit closes and opens at will (halt paths of executors get exercised)."""

    roles = frozenset({GateRole.OTHER})

    def __init__(self) -> None:
        self.closed: GateDecision | None = None

    def toggle(self, emergency: bool) -> GateDecision | None:
        """Close (as a kill switch when ``emergency``) if open, else open; the new state."""
        if self.closed is None:
            reason = "KillSwitch" if emergency else "AuditHalt"
            self.closed = GateDecision("audit", reason, emergency=emergency)
        else:
            self.closed = None
        return self.closed

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return self.closed


@dataclass(frozen=True)
class ReferenceQuoterParams:
    half_spread: float = param(5e-4, gt=0, lt=0.5, help="relative half-spread around the mid")


class ReferenceQuoter:
    """One level a side around a finite mid, on the tick and lot grid; otherwise nothing."""

    def __init__(
        self, instrument: Instrument, order_size: float, half_spread: float = 5e-4
    ) -> None:
        self.instrument = instrument
        self.half_spread = half_spread
        lot = instrument.lot
        self.size = max(lot, round(math.floor(order_size / lot) * lot, instrument.sz_decimals))

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        bid, ask = view.market.best_bid, view.market.best_ask
        if not (math.isfinite(bid) and math.isfinite(ask) and 0.0 < bid < ask):
            return Ladder()
        mid = 0.5 * (bid + ask)
        tick = self.instrument.tick
        bid_px = math.floor(mid * (1.0 - self.half_spread) / tick) * tick
        ask_px = math.ceil(mid * (1.0 + self.half_spread) / tick) * tick
        if not (math.isfinite(bid_px) and math.isfinite(ask_px) and 0.0 < bid_px < ask_px):
            return Ladder()
        pos = view.position if math.isfinite(view.position) else 0.0
        bid_sz = self._room(view.max_position - pos, bid_px)
        ask_sz = self._room(view.max_position + pos, ask_px)
        bids = (Quote(Side.BUY, bid_px, bid_sz),) if bid_sz > 0.0 else ()
        asks = (Quote(Side.SELL, ask_px, ask_sz),) if ask_sz > 0.0 else ()
        return Ladder(bids, asks)

    def _room(self, room: float, px: float) -> float:
        """The order size at ``px``: at least the venue's minimum order value (rounded up to
        the lot), cut to what keeps the position within limits, on the lot grid; 0 (no quote)
        when the room left is below one minimum-value order."""
        inst = self.instrument
        lot = inst.lot
        least = math.ceil(inst.min_notional / px / lot - 1e-9) * lot
        sz = math.floor(min(max(self.size, least), room) / lot + 1e-9) * lot
        if sz < lot or sz < least - 1e-12:
            return 0.0
        return round(sz, inst.sz_decimals)


class ReferenceExecutor:
    """Cancel what rests, place the ladder; cancel everything on halt. Tracks nothing else."""

    def __init__(self) -> None:
        self._next_id = 1
        self._resting: dict[str, Place] = {}

    def _id(self) -> int:
        n = self._next_id
        self._next_id += 1
        return n

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        return []

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        wanted = [(q.side, q.px, q.sz) for q in (*ladder.bids, *ladder.asks)]
        if sorted(wanted) == sorted((p.side, p.px, p.sz) for p in self._resting.values()):
            return []
        actions: list[Action] = [Cancel(self._id(), cloid, None) for cloid in self._resting]
        self._resting.clear()
        for q in (*ladder.bids, *ladder.asks):
            rid = self._id()
            place = Place(rid, make_cloid(rid), q.side, q.px, q.sz, Tif.ALO, level=q.level)
            self._resting[place.cloid] = place
            actions.append(place)
        return actions

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        if not self._resting:
            return []
        self._resting.clear()
        return [CancelAll(self._id(), decision.reason, emergency=decision.emergency)]


# -- factories and registration (``--plugin mmkit.audit.reference``) -----------------------


def build_estimator(ctx: Any) -> ReferenceEstimator:
    return ReferenceEstimator()


def build_gate(ctx: Any) -> PermissiveGate:
    return PermissiveGate()


def build_quoter(ctx: Any) -> ReferenceQuoter:
    half = getattr(ctx.params, "half_spread", 5e-4)
    return ReferenceQuoter(ctx.instrument, ctx.risk.order_size, half)


def build_executor(ctx: Any) -> ReferenceExecutor:
    return ReferenceExecutor()


@hookimpl
def register_estimators(register: Any) -> None:
    register(REFERENCE_NAME, build_estimator, description="audit reference: publishes defaults")


@hookimpl
def register_gates(register: Any) -> None:
    register(REFERENCE_NAME, build_gate, description="audit reference: never closes")


@hookimpl
def register_quoters(register: Any) -> None:
    register(
        REFERENCE_NAME,
        build_quoter,
        params=ReferenceQuoterParams,
        description="audit reference: one level a side around the mid",
    )


@hookimpl
def register_executors(register: Any) -> None:
    register(REFERENCE_NAME, build_executor, description="audit reference: cancel and place")
