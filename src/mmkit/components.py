"""The component contracts: what estimators, gates, quoters and executors implement.

These are :class:`typing.Protocol` classes, so a plugin author's class needs no mmkit base
class and ``mypy --strict`` checks it structurally. They are also ``runtime_checkable``: the
plugin manager rejects, with a message naming the plugin, a factory that returns an object
missing a method.

Units, used by every built-in component and expected of plugins:

* prices are in quote currency (USD); **depths** (distance of a quote from mid) are
  **relative to mid** (a fraction: 1 bp = 1e-4), so that ``kappa`` is per unit of relative
  depth (the seed report's prior of 2000 means ``exp(-2000 * 1e-4) = 0.82`` at 1 bp);
* ``sigma`` is the volatility of the relative mid per square-root second;
* times are integer nanoseconds; the engine passes ``now_ns`` in and never reads a clock.

Optional lifecycle methods, called by the runners when a component has them:

* ``attach_prediction_log(log)``: the run's :class:`mmkit.prediction.prediction_log.PredictionLog`
  (the journal), for models whose predictions and outcomes feed the calibration loop;
* ``save()``: persist learned state (called at the end of a run);
* ``close()``: release resources (called last).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from mmkit.core.actions import Action
from mmkit.core.events import Event
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import Instrument, Side

# --------------------------------------------------------------------------------------
# Data passed between components
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Estimates:
    """The parameters estimators publish for gates and quoters, refreshed every cycle.

    The engine owns one instance, initialised from config defaults; each estimator writes
    the fields it is responsible for in :meth:`Estimator.estimate`. ``extras`` carries values
    that have no field of their own (plugins use namespaced keys, e.g. ``"myplugin.alpha"``).
    """

    kappa: float = 2000.0
    kappa_confidence: float = 0.0
    A: float = 1.0  # fill intensity at zero depth, per second
    sigma: float = 1e-4  # relative volatility per sqrt(second)
    sigma_confidence: float = 0.0
    warmed_up: bool = False
    warmup_waiting: str = ""  # what warmup still waits for, human readable
    cascade: bool = False
    drift: float = 0.0  # relative drift per second (optional GLFT term)
    fair_value_shift: float = 0.0  # relative shift of fair value (lead-lag)
    skew_shift: float = 0.0  # relative extra skew (RL agent; bounded by the agent)
    size_scale: float = 1.0  # multiplicative size adjustment
    spread_scale: float = 1.0  # multiplicative spread widening (>= 1 widens)
    toxicity: float = math.nan  # predicted probability a fill is toxic
    extras: dict[str, float] = field(default_factory=dict)

    def copy(self) -> Estimates:
        c = Estimates()
        for name in self.__slots__:
            setattr(c, name, getattr(self, name))
        c.extras = dict(self.extras)
        return c


@dataclass(frozen=True, slots=True)
class Quote:
    side: Side
    px: float
    sz: float
    level: int = 0


@dataclass(frozen=True, slots=True)
class Ladder:
    """Desired quotes: bids best (highest) first, asks best (lowest) first."""

    bids: tuple[Quote, ...] = ()
    asks: tuple[Quote, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.bids and not self.asks

    def side(self, side: Side) -> tuple[Quote, ...]:
        return self.bids if side is Side.BUY else self.asks

    def without_side(self, side: Side) -> Ladder:
        return Ladder((), self.asks) if side is Side.BUY else Ladder(self.bids, ())


EMPTY_LADDER = Ladder()


class GateMode(StrEnum):
    HALT = "halt"  # cancel every resting order, place nothing
    REDUCE_ONLY = "reduce_only"  # only quotes that shrink the position


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Why a gate is closed. ``reason`` is a stable code (``"Stale"``, ``"Crossed"``, ...)."""

    gate: str
    reason: str
    detail: Mapping[str, float | str] = field(default_factory=dict)
    mode: GateMode = GateMode.HALT
    emergency: bool = False  # kill switch: cancels may use the emergency budget reserve

    def describe(self) -> str:
        if not self.detail:
            return self.reason
        inner = ", ".join(f"{k}: {v}" for k, v in self.detail.items())
        return f"{self.reason} {{{inner}}}"


@dataclass(slots=True)
class View:
    """What gates, quoters and executors see of the world (read-only by convention)."""

    instrument: Instrument
    market: MarketState
    portfolio: Portfolio
    max_position: float

    @property
    def position(self) -> float:
        return self.portfolio.position

    @property
    def mid(self) -> float:
        return self.market.mid


# --------------------------------------------------------------------------------------
# Component protocols
# --------------------------------------------------------------------------------------


@runtime_checkable
class Estimator(Protocol):
    """Consumes events, publishes parameters into :class:`Estimates`.

    Must never raise on bad input (NaN, inf, negative, out-of-order timestamps): skip it.

    Optional: ``on_trades(batch: TradeBatch, now_ns: int) -> None`` takes a whole
    :class:`~mmkit.core.events.TradeBatch` (``now_ns`` is its last row's ``recv``). It must
    leave the estimator exactly as ``on_event`` with each row would (audit invariant
    ``estimators.batch_equivalence``); without it, the engine delivers the rows one by one.
    """

    def on_event(self, event: Event, now_ns: int) -> None: ...

    def estimate(self, out: Estimates, now_ns: int) -> None: ...


@runtime_checkable
class Gate(Protocol):
    """Decides whether quoting may proceed. ``check`` returns None when the gate is open.

    Optional: ``on_trades(batch, now_ns)``, as for :class:`Estimator` (audit invariant
    ``gates.batch_equivalence``).
    """

    def on_event(self, event: Event, now_ns: int) -> None: ...

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None: ...


@runtime_checkable
class Quoter(Protocol):
    """Turns estimates and the market into a desired ladder (venue-valid prices and sizes)."""

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder: ...


@runtime_checkable
class Executor(Protocol):
    """Turns the desired ladder into venue actions and tracks orders through their life.

    ``on_event`` sees every event (fills, order updates, action results, position
    snapshots, timers) and may answer with actions (a PLACE after a failed MODIFY, a
    position sync). ``halt`` is called while a gate is closed: it must cancel every resting
    order (idempotently) and place nothing.

    Optional: ``on_trades(batch: TradeBatch, view: View, now_ns: int) -> list[Action]``
    takes a whole trade batch (``now_ns``: its last row's ``recv``); the actions it returns
    are sent after the batch. Without it, the engine delivers the rows one by one.
    """

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]: ...

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]: ...

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]: ...


@runtime_checkable
class Venue(Protocol):
    """A synchronous venue (simulated exchange, paper): actions in, events out.

    The runner calls ``on_market`` with each market event, ``submit`` with the engine's
    actions and ``drain`` for every event the venue has due by ``now_ns`` (acknowledgements,
    fills, order updates, position snapshots), in time order. Live venues are asynchronous
    and adapt to the same event stream in the live runner.
    """

    def on_market(self, event: Event, now_ns: int) -> None: ...  # a TradeBatch: its rows

    def submit(self, actions: Sequence[Action], now_ns: int) -> None: ...

    def drain(self, now_ns: int) -> list[Event]: ...


@runtime_checkable
class Feed(Protocol):
    """A source of time-ordered market events (replayed capture or synthetic market)."""

    def events(self) -> Any: ...


COMPONENT_PROTOCOLS: dict[str, type] = {
    "estimator": Estimator,
    "gate": Gate,
    "quoter": Quoter,
    "executor": Executor,
    "venue": Venue,
    "feed": Feed,
}

__all__ = [
    "COMPONENT_PROTOCOLS",
    "EMPTY_LADDER",
    "Estimates",
    "Estimator",
    "Executor",
    "Feed",
    "Gate",
    "GateDecision",
    "GateMode",
    "Ladder",
    "Quote",
    "Quoter",
    "Venue",
    "View",
]
