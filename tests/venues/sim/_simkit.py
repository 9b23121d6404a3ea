"""Helpers shared by the simulated-exchange tests."""

from __future__ import annotations

from collections.abc import Sequence

from mmkit.core.actions import Action, make_cloid
from mmkit.core.events import BookDelta, BookSnapshot, Event, Trade, levels
from mmkit.core.types import Instrument, Side
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.venue import SimVenue

INST = Instrument(coin="TEST", tick=1.0, sz_decimals=2, min_notional=0.0)
MS = 1_000_000


def venue(**kw: object) -> SimVenue:
    """A zero-latency venue on a tick-1 instrument unless overridden."""
    base: dict[str, object] = {
        "entry_latency_ms": 0.0,
        "response_latency_ms": 0.0,
        "feed_latency_ms": 0.0,
    }
    base.update(kw)
    return SimVenue(SimParams(**base), INST, seed=1)  # type: ignore[arg-type]


def book(
    ts: int, bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]]
) -> BookSnapshot:
    return BookSnapshot(
        ts,
        levels([p for p, _ in bids]),
        levels([s for _, s in bids]),
        levels([p for p, _ in asks]),
        levels([s for _, s in asks]),
    )


def delta(ts: int, side: Side, px: float, sz: float) -> BookDelta:
    one = levels([px]), levels([sz])
    empty = levels([]), levels([])
    b, a = (one, empty) if side is Side.BUY else (empty, one)
    return BookDelta(ts, b[0], b[1], a[0], a[1])


def trade(ts: int, aggressor: Side, px: float, sz: float) -> Trade:
    return Trade(ts, px, sz, aggressor)


def cl(n: int) -> str:
    return make_cloid(n)


def step(
    v: SimVenue, ts: int, *, market: Event | None = None, actions: Sequence[Action] = ()
) -> list[Event]:
    """Feed one market event and/or send actions at ``ts``; return what is due by ``ts``."""
    if market is not None:
        v.on_market(market, ts)
    if actions:
        v.submit(actions, ts)
    return v.drain(ts)
