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

Optional contracts: a component may also implement any of the small protocols at the end
of this module (:data:`OPTIONAL_CONTRACTS` lists them with the kinds they apply to). They
are detected once, when the engine is built (``isinstance`` against the protocol, never a
``getattr`` on the hot path); a component that has an attribute of such a name that is not
a method taking the documented arguments is refused at build time, with an error naming
its plugin (:func:`optional_contract_problem`):

* :class:`TradeBatchConsumer` (estimators, gates): ``on_trades(batch, now_ns)`` takes a whole
  trade batch instead of its rows one by one;
* :class:`BatchExecutor` (executors): ``on_trades(batch, view, now_ns) -> list[Action]``;
* :class:`PredictionLogging`: ``attach_prediction_log(log)`` receives the run's journal
  when a session starts, for models whose predictions and outcomes feed the calibration loop;
* :class:`Persistent`: ``save()`` persists learned state at the end of a run;
* :class:`Closeable`: ``close()`` releases resources, called last (after every ``save``).

Declared event interests: an estimator or gate may declare the event kinds it does not use
(``ignores``, :class:`DeclaresIgnores`); the engine then does not deliver them to it, and the
audit (``delivery.ignored_kinds``) checks that they really change nothing.

Audit contracts (``mmkit audit``; see the section of that name below): an estimator declares
the fields it writes (``publishes``, :class:`DeclaresPublishes`) and, by what it publishes,
implements :class:`SigmaCapped`, :class:`OwnFillPosterior`, :class:`KappaSources` or
:class:`BoundedSkew`; a gate declares its ``roles`` (:class:`GateRole`); an executor
implements :class:`AuditableExecutor`. A component lacking one is UNAUDITED (never skipped)
for the invariants that need it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import repeat
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mmkit.core.actions import Action
from mmkit.core.events import Event, EventKind, TradeBatch
from mmkit.core.frozen import quick_init
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import Instrument, Side

if TYPE_CHECKING:
    from mmkit.prediction.prediction_log import PredictionLog

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


@quick_init
@dataclass(frozen=True, slots=True)
class Quote:
    side: Side
    px: float
    sz: float
    level: int = 0


#: One side of a ladder as numbers: ``(px0, sz0, px1, sz1, ...)``, best level first.
Levels = tuple[float, ...]


def side_quotes(side: Side, levels: Levels) -> tuple[Quote, ...]:
    """The quotes of one side's :data:`Levels` (level ``i`` is the ``i``-th best)."""
    # map over the columns (no generator frame resumed per quote: ~0.1 µs a quote)
    return tuple(map(Quote, repeat(side), levels[0::2], levels[1::2], range(len(levels) >> 1)))


def quote_levels(quotes: Sequence[Quote]) -> Levels:
    """The :data:`Levels` of a side's quotes (their prices and sizes, in order)."""
    out: list[float] = []
    for q in quotes:
        out += (q.px, q.sz)
    return tuple(out)


@quick_init
@dataclass(frozen=True, slots=True)
class Ladder:
    """Desired quotes: bids best (highest) first, asks best (lowest) first.

    A quoter builds one from its quotes (``Ladder(bids, asks)``) or, when it has the
    numbers only, from its sides' :data:`Levels` (:meth:`from_levels`): such a ladder makes
    its ``Quote`` objects when ``bids`` or ``asks`` is first read, and consumers that only
    need the numbers (the engine's check, the built-in executor's diff) read
    :meth:`levels` instead, so that a requote builds no quote object at all. Both kinds are
    the same class and compare, hash, copy and pickle by their quotes.
    """

    bids: tuple[Quote, ...] = ()
    asks: tuple[Quote, ...] = ()
    #: the sides' numbers (bid levels, ask levels) of a ladder made by :meth:`from_levels`
    #: (its quotes, once made, are made from them); None for a ladder made from quotes. Not
    #: an argument and never compared: ``dataclasses.replace`` gives a ladder of quotes.
    _levels: tuple[Levels, Levels] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    #: whether the maker of this ladder has already verified, exactly, what the engine's
    #: :func:`~mmkit.engine.ladder_problem` verifies (every price and size finite and
    #: positive, the best bid below the best ask), so that the engine skips its own
    #: check: set by :meth:`from_levels` (``checked``) only. The built-in GLFT twin
    #: passes its kernel's verdict (:func:`mmkit.quoting._kernels_glft_quoter_twin.
    #: levels_fine`, which the tests hold to ``ladder_problem``). Never compared, not an
    #: argument: a ladder made from quotes, or by ``dataclasses.replace``, is unchecked.
    #: The engine still checks every action against the venue's rules, whatever this says.
    _checked: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def from_levels(cls, bids: Levels, asks: Levels, *, checked: bool = False) -> Ladder:
        """A ladder of these sides' numbers, its quotes made when first read (an odd last
        number, a price without a size, is no level and is dropped). ``checked``: see
        :attr:`_checked` (a quoter that has not verified its numbers leaves it False)."""
        if len(bids) & 1:
            bids = bids[:-1]
        if len(asks) & 1:
            asks = asks[:-1]
        lad = object.__new__(cls)
        _set_ladder_levels(lad, (bids, asks))
        _set_ladder_checked(lad, checked is True)
        return lad

    if not TYPE_CHECKING:  # hidden from type checkers: any other name is still an error

        def __getattr__(self, name: str) -> Any:
            # only reached for a slot not set: the quotes of a ladder made from its levels
            if name == "bids" or name == "asks":
                bids, asks = _get_ladder_levels(self)  # AttributeError when unset too
                _set_ladder_bids(self, side_quotes(Side.BUY, bids))
                _set_ladder_asks(self, side_quotes(Side.SELL, asks))
                return _get_ladder_bids(self) if name == "bids" else _get_ladder_asks(self)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def levels(self) -> tuple[Levels, Levels]:
        """The (bid, ask) :data:`Levels`: the very numbers of the quotes, read without
        making quote objects from a ladder made by :meth:`from_levels` (worked out from
        the quotes, each call, for a ladder made from them)."""
        lv = self._levels
        if lv is None:
            return quote_levels(self.bids), quote_levels(self.asks)
        return lv

    @property
    def empty(self) -> bool:
        lv = self._levels
        if lv is None:
            return not self.bids and not self.asks
        return not lv[0] and not lv[1]

    def side(self, side: Side) -> tuple[Quote, ...]:
        return self.bids if side is Side.BUY else self.asks


# the slots' own descriptors (a frozen dataclass refuses ``setattr``)
_slot: dict[str, Any] = dict(vars(Ladder))
_get_ladder_levels = _slot["_levels"].__get__
_set_ladder_levels = _slot["_levels"].__set__
_set_ladder_checked = _slot["_checked"].__set__
_get_ladder_bids = _slot["bids"].__get__
_set_ladder_bids = _slot["bids"].__set__
_get_ladder_asks = _slot["asks"].__get__
_set_ladder_asks = _slot["asks"].__set__
del _slot

EMPTY_LADDER = Ladder()


class GateMode(StrEnum):
    HALT = "halt"  # cancel every resting order, place nothing
    REDUCE_ONLY = "reduce_only"  # only quotes that shrink the position


@quick_init
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

    Must never raise on bad input (NaN, inf, negative, out-of-order timestamps): skip it,
    and say why in a ``rejections`` attribute (:class:`mmkit.faults.Rejections`), which the
    engine reports as the component's. Do not catch your own bugs: an exception reaches the
    engine, which reports it as a fault of the component (see :mod:`mmkit.faults`).

    Optional: ``on_trades(batch: TradeBatch, now_ns: int) -> None`` takes a whole
    :class:`~mmkit.core.events.TradeBatch` (``now_ns`` is its last row's ``recv``). It must
    leave the estimator exactly as ``on_event`` with each row would (audit invariant
    ``estimators.batch_equivalence``); without it, the engine delivers the rows one by one.

    Audit contract: a class attribute ``publishes`` (a frozenset of the :class:`Estimates`
    fields and ``extras`` keys it writes, ``"myplugin.*"`` for a prefix; see
    :class:`DeclaresPublishes`), and by what it publishes :class:`SigmaCapped` (sigma),
    :class:`OwnFillPosterior` / :class:`KappaSources` (kappa from own fills / blended) and
    :class:`BoundedSkew` (skew_shift). Without them ``mmkit audit`` reports UNAUDITED.
    """

    def on_event(self, event: Event, now_ns: int) -> None: ...

    def estimate(self, out: Estimates, now_ns: int) -> None: ...


@runtime_checkable
class Gate(Protocol):
    """Decides whether quoting may proceed. ``check`` returns None when the gate is open.

    Optional: ``on_trades(batch, now_ns)``, as for :class:`Estimator` (audit invariant
    ``gates.batch_equivalence``).

    Audit contract: a class attribute ``roles``, a frozenset of :class:`GateRole` (data
    quality, kill switch, warmup, other; see :class:`DeclaresRoles`). Every gate is audited
    for fail-safety (``gates.fail_safe``); role invariants apply by declared role, and a
    gate without ``roles`` is UNAUDITED for them.
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

    Audit contract: :class:`AuditableExecutor` (``open_orders()``, ``budget_state()``,
    ``exhaust_budget()``); without it the execution invariants that look inside an executor
    are UNAUDITED.
    """

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]: ...

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]: ...

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]: ...


@runtime_checkable
class Venue(Protocol):
    """A simulated venue (the *simulated* side of a venue plugin): actions in, events out.

    Used by ``mmkit backtest`` and paper ``mmkit trade``. The runner calls ``on_market``
    with each market event (a :class:`~mmkit.core.events.TradeBatch` stands for its rows),
    ``submit`` with the engine's actions and ``drain`` for every event the venue has due by
    ``now_ns`` (action results, fills, order updates, position snapshots), in time order.
    Every submitted action must be answered by exactly one
    :class:`~mmkit.core.events.ActionResult` carrying its ``request_id``.

    Clock and units: ``now_ns`` is simulated time in integer ns, passed in (never read a
    clock); prices in quote currency, sizes in coin units. The factory's
    ``ctx.instrument`` is the instrument of the market being simulated: in a backtest its
    ``tick`` is the recorded data's price tick, which may differ from the grid the engine
    was configured to quote on.
    """

    def on_market(self, event: Event, now_ns: int) -> None: ...  # a TradeBatch: its rows

    def submit(self, actions: Sequence[Action], now_ns: int) -> None: ...

    def drain(self, now_ns: int) -> list[Event]: ...


@runtime_checkable
class BulkReplayVenue(Venue, Protocol):
    """Optional for a simulated venue: what ``mmkit backtest --cadence timer`` needs.

    ``run_market(market, i, t_end)`` applies the columnar market rows ``i..`` stamped
    ``<= t_end`` ns (a :class:`mmkit.venues.sim.arrays.MarketArrays`) and returns the index
    of the first row not applied; ``book_snapshot(ts, depth)`` is the simulated book's best
    ``depth`` levels per side as a :class:`~mmkit.core.events.BookSnapshot`. A venue without
    them runs with the default event cadence only.
    """

    def run_market(self, market: Any, i: int, t_end: int) -> int: ...

    def book_snapshot(self, ts: int, depth: int = 20) -> Event: ...


#: where a live venue pushes events (stamped by the live runner on arrival)
EventSink = Callable[[Event], None]


@runtime_checkable
class AsyncVenue(Protocol):
    """A live venue (the *live* side of a venue plugin): talks to an exchange over the network.

    Used by the live runner (``mmkit trade`` live). ``start(sink)`` connects, subscribes and
    from then on pushes every event (market data, fills, order updates, action results,
    position snapshots) to ``sink``; ``submit(actions)`` sends actions, whose results come
    back through the sink (exactly one :class:`~mmkit.core.events.ActionResult` per action,
    ``UNKNOWN`` when the outcome cannot be known); ``close()`` stops everything. The factory
    gets the engine's clock in ``ctx.live.clock_ns`` (ns): stamp ``local_ts`` with it.
    """

    async def start(self, sink: EventSink) -> None: ...

    async def submit(self, actions: Sequence[Action]) -> None: ...

    async def close(self) -> None: ...


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

# --------------------------------------------------------------------------------------
# Optional contracts (detected once at build time)
# --------------------------------------------------------------------------------------


@runtime_checkable
class TradeBatchConsumer(Protocol):
    """An estimator or gate that takes a whole :class:`~mmkit.core.events.TradeBatch`.

    The engine calls ``on_trades(batch, now_ns)`` once per batch (``now_ns``: its last
    row's ``recv``) instead of ``on_event`` with each row. It must leave the component
    exactly as the rows one by one would (audit invariants ``estimators.batch_equivalence``
    and ``gates.batch_equivalence``).
    """

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None: ...


@runtime_checkable
class BatchExecutor(Protocol):
    """An executor that takes a whole trade batch: the engine calls ``on_trades(batch,
    view, now_ns)`` once per batch instead of ``on_event`` with each row, and sends the
    actions it returns after the batch."""

    def on_trades(self, batch: TradeBatch, view: View, now_ns: int) -> list[Action]: ...


@runtime_checkable
class PredictionLogging(Protocol):
    """A component whose predictions and outcomes feed the calibration loop: when a session
    with a journal starts, the runner calls ``attach_prediction_log(log)`` once with the
    run's :class:`~mmkit.prediction.prediction_log.PredictionLog` (the journal)."""

    def attach_prediction_log(self, log: PredictionLog) -> None: ...


@runtime_checkable
class Persistent(Protocol):
    """A component with learned state: the runner calls ``save()`` at the end of a run
    (paper, live, backtest sessions), before any ``close``. A failure is logged with the
    component's name and does not stop the other components' saves."""

    def save(self) -> None: ...


@runtime_checkable
class Closeable(Protocol):
    """A component holding resources (files, sockets, threads): the runner calls
    ``close()`` last, after every ``save``. A failure is logged, never raised."""

    def close(self) -> None: ...


#: the kinds the engine holds (the lifecycle contracts apply to each of them)
_PIPELINE_KINDS = frozenset({"estimator", "gate", "quoter", "executor"})

#: each optional contract: (its method, the protocol, the kinds it applies to, the number
#: of positional arguments the engine or runner passes). ``on_trades`` has one shape for
#: estimators and gates and another for executors.
OPTIONAL_CONTRACTS: tuple[tuple[str, type, frozenset[str], int], ...] = (
    ("on_trades", TradeBatchConsumer, frozenset({"estimator", "gate"}), 2),
    ("on_trades", BatchExecutor, frozenset({"executor"}), 3),
    ("attach_prediction_log", PredictionLogging, _PIPELINE_KINDS, 1),
    ("save", Persistent, _PIPELINE_KINDS, 0),
    ("close", Closeable, _PIPELINE_KINDS, 0),
)


# --------------------------------------------------------------------------------------
# Declared event interests (honoured by the engine, proven by the audit)
# --------------------------------------------------------------------------------------

#: the kinds an ``ignores`` declaration may name: every event kind but TRADE_BATCH (a batch
#: is its trades: a component that ignores TRADE gets no batch either)
DECLARABLE_KINDS: frozenset[EventKind] = frozenset(EventKind) - {EventKind.TRADE_BATCH}
#: what a component that uses market data only declares: every kind that is not market data
NOT_MARKET_DATA: frozenset[EventKind] = frozenset(
    k for k in DECLARABLE_KINDS if not k.is_market_data
)


@runtime_checkable
class DeclaresIgnores(Protocol):
    """An estimator or gate that does not use some kinds of event: ``ignores`` (a class
    attribute, a frozenset of :class:`~mmkit.core.events.EventKind`).

    The engine does not deliver events of those kinds to it (``on_event`` is not called;
    ignoring ``TRADE`` also skips trade batches, ``on_trades`` included), so a component
    that only needs market data does not pay a call for every timer, order update and
    action result. The declaration is a promise the engine trusts and the audit checks:
    ``delivery.ignored_kinds`` feeds one copy of the component every event of adversarial
    streams and another copy only the kinds it does not ignore, and FAILs when their
    estimates (estimator) or decisions (gate) ever differ. Without ``ignores`` the component
    gets every event. A declaration that is not a set of event kinds, or that names
    ``TRADE_BATCH``, is refused when the engine is built (:func:`ignores_problem`).
    """

    ignores: frozenset[EventKind]


def ignores_problem(component: object) -> str | None:
    """Why ``component``'s ``ignores`` declaration is unusable, or None (also when it has
    none): it must be a set or frozenset of :class:`~mmkit.core.events.EventKind` members
    (not their names or numbers) other than ``TRADE_BATCH``."""
    try:
        declared = getattr(component, "ignores", None)
    except Exception as exc:  # a property that raises: as broken as a wrong value
        return f"reading 'ignores' raised {type(exc).__name__}: {exc}"
    if declared is None:
        return None
    if not isinstance(declared, (set, frozenset)):
        return (
            f"'ignores' is a {type(declared).__name__}, not a frozenset of EventKind "
            "(the event kinds the component does not use)"
        )
    for k in declared:
        if not isinstance(k, EventKind):
            return (
                f"'ignores' holds {k!r} ({type(k).__name__}), not an EventKind member: "
                "write EventKind.TIMER, not its name or number"
            )
        if k is EventKind.TRADE_BATCH:
            return (
                "'ignores' names TRADE_BATCH: a trade batch is its trades, declare TRADE "
                "to skip both"
            )
    return None


def ignored_kinds(component: object) -> frozenset[EventKind]:
    """The event kinds the engine does not deliver to ``component`` (empty without a
    declaration). Raises :class:`TypeError` for a declaration :func:`ignores_problem`
    refuses."""
    problem = ignores_problem(component)
    if problem is not None:
        raise TypeError(problem)
    declared = getattr(component, "ignores", None)
    return frozenset(declared) if declared else frozenset()


def withheld_kinds(ignored: frozenset[EventKind]) -> frozenset[EventKind]:
    """The kinds of event the engine keeps from a component that ignores ``ignored``: those,
    and trade batches when it ignores trades (a batch goes where its trades go)."""
    if EventKind.TRADE in ignored:
        return ignored | {EventKind.TRADE_BATCH}
    return ignored


def optional_contract_problem(kind: str, component: object) -> str | None:
    """Why ``component`` (of ``kind``) breaks an optional contract it seems to implement, or
    None: an attribute named like a contract's method must be a callable that accepts the
    arguments the engine or runner passes (checked with :func:`inspect.signature` when the
    callable has one). Components without the attribute simply do not take part."""
    for method, proto, kinds, nargs in OPTIONAL_CONTRACTS:
        if kind not in kinds:
            continue
        try:
            fn = getattr(component, method)
        except AttributeError:
            continue
        except Exception as exc:  # a property that raises: as broken as a wrong method
            return f"reading optional method {method!r} raised {type(exc).__name__}: {exc}"
        name = proto.__name__
        if not callable(fn):
            return (
                f"has an attribute {method!r} of type {type(fn).__name__}, which is not a "
                f"method: the optional contract {name} needs {method}() taking {nargs} "
                "argument(s)"
            )
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue  # a builtin without a signature: trusted
        try:
            sig.bind(*([None] * nargs))
        except TypeError as exc:
            return (
                f"{method}{sig} does not fit the optional contract {name}, which calls it "
                f"with {nargs} positional argument(s): {exc}"
            )
    return None


# --------------------------------------------------------------------------------------
# Audit contracts (what ``mmkit audit`` needs to check a component of each kind)
# --------------------------------------------------------------------------------------
#
# ``mmkit audit`` applies every invariant of a kind to every component of that kind. Which
# of them are *in scope* is decided by what the component is observed to do (an estimator
# is driven with a short stream and the Estimates fields it writes are recorded) together
# with what it declares (``publishes`` for estimators, ``roles`` for gates): an invariant
# is NOT_APPLICABLE only when that scope excludes it. When an invariant is in scope but the
# component lacks a capability the check needs (one of the protocols below), the result is
# UNAUDITED with the missing members named, and ``mmkit audit --strict`` fails on it unless
# ``[audit.waivers]`` waives it with a reason. Nothing is read with a lenient default.


class GateRole(StrEnum):
    """What a gate is for, declared in its ``roles`` class attribute.

    * ``DATA_QUALITY``: closes on no, stale (> 30 s), crossed or empty book data and unknown
      position (invariant ``gates.data_quality_closes``);
    * ``KILL_SWITCH``: latches on losses and on a PnL that cannot be computed (invariant
      ``gates.kill_switch_latches``);
    * ``WARMUP``: closed until the estimators are warmed up;
    * ``OTHER``: anything else.

    Every gate, whatever its roles, is audited for fail-safety (``gates.fail_safe``: its
    ``check`` never raises on any view, estimates or time) and for batch equivalence.
    """

    DATA_QUALITY = "data_quality"
    KILL_SWITCH = "kill_switch"
    WARMUP = "warmup"
    OTHER = "other"


@runtime_checkable
class DeclaresPublishes(Protocol):
    """An estimator's declaration of what it writes: ``publishes`` (a class attribute).

    Each entry is an :class:`Estimates` field name (``"sigma"``, ``"kappa"``,
    ``"skew_shift"``...) or an ``extras`` key; an entry ending in ``*`` covers every extras
    key with that prefix (``"sigma.*"``). The audit does not trust it: it observes what the
    estimator writes, audits it for the union of observed and declared fields, and fails
    ``estimators.publishes_declared`` when it writes something it did not declare (UNAUDITED
    when ``publishes`` is missing).
    """

    publishes: frozenset[str]


@runtime_checkable
class DeclaresRoles(Protocol):
    """A gate's declaration of the roles it fills: ``roles`` (a class attribute, a set of
    :class:`GateRole`). Role invariants apply by declared role; a gate without ``roles``
    is UNAUDITED for them (the older ``provides`` set of strings is still read)."""

    roles: frozenset[GateRole]


@runtime_checkable
class SigmaCapped(Protocol):
    """Required of an estimator that publishes ``sigma``.

    ``sigma_cap()`` is the finite cap (relative volatility per sqrt(second)) the estimator
    enforces on every path, cascade mode included. ``estimators.sigma_bounded`` and
    ``estimators.cascade_raises_sigma`` assert the published sigma never exceeds it; a cap
    that is not a finite positive number is a FAIL.
    """

    def sigma_cap(self) -> float: ...


@runtime_checkable
class OwnFillPosterior(Protocol):
    """Required of an estimator that publishes ``kappa`` from its own fills (a Gamma
    posterior over kappa, seed report section 1).

    * ``posterior()``: the current (alpha, beta) of the Gamma posterior;
    * ``prior``: the (alpha, beta) it starts from and returns to when every fill expired;
    * ``observation_count``: fills inside the window (a count, never a volume);
    * ``has_exited_warmup``: True from the ``warmup_fills``-th fill on, never reset;
    * ``warmup_fills``: fills needed to leave warmup; ``window_s``: seconds a fill counts.

    Checked by ``estimators.conjugacy_counts``, ``estimators.warmup_graduation`` and
    ``estimators.expiry_to_prior``.
    """

    def posterior(self) -> tuple[float, float]: ...

    @property
    def prior(self) -> tuple[float, float]: ...

    @property
    def observation_count(self) -> int: ...

    @property
    def has_exited_warmup(self) -> bool: ...

    @property
    def warmup_fills(self) -> int: ...

    @property
    def window_s(self) -> float: ...


@runtime_checkable
class KappaSources(Protocol):
    """Required of an estimator whose kappa blends several sources (own fills and market
    trades, or any estimator declaring it): ``kappa_sources()`` lists ``(name, kappa,
    confidence)`` of the sources in the last blend and ``blended_kappa()`` is the raw blend.
    ``estimators.convex_blend`` asserts the blend lies within its sources."""

    def kappa_sources(self) -> list[tuple[str, float, float]]: ...

    def blended_kappa(self) -> float: ...


@runtime_checkable
class BoundedSkew(Protocol):
    """Required of an estimator that publishes ``skew_shift`` (an RL or other skew
    action): ``action_bound_sigma`` (a finite number >= 0) bounds ``|skew_shift| <=
    action_bound_sigma * sigma`` at every retrieval (``signals.bounded_actions``)."""

    action_bound_sigma: float


@dataclass(frozen=True, slots=True)
class BudgetState:
    """An executor's execution budget (seed report section 7), in its own token units:
    ``tokens`` left, ``reserve`` kept for emergency (kill-switch) cancels, ``capacity``."""

    tokens: float
    reserve: float
    capacity: float = math.inf


@runtime_checkable
class AuditableExecutor(Protocol):
    """Required of every executor by the execution invariants.

    * ``open_orders()``: the orders it believes rest on the venue (objects with ``oid``,
      ``side``, ``px``, ``sz``), compared with the venue's after a sync
      (``execution.exchange_authority``, ``execution.stateful_safety``);
    * ``budget_state()``: its :class:`BudgetState`;
    * ``exhaust_budget()``: spend every normal token, keeping the reserve, so the audit can
      check that an exhausted budget skips normal updates and still lets emergency cancels
      out (``execution.emergency_reserve``).
    """

    def open_orders(self) -> Sequence[Any]: ...

    def budget_state(self) -> BudgetState: ...

    def exhaust_budget(self) -> None: ...


#: the audit contracts, by kind (documentation and ``mmkit plugins`` listings)
AUDIT_CONTRACTS: dict[str, tuple[type, ...]] = {
    "estimator": (DeclaresPublishes, SigmaCapped, OwnFillPosterior, KappaSources, BoundedSkew),
    "gate": (DeclaresRoles,),
    "executor": (AuditableExecutor,),
}


def missing_members(component: object, proto: type) -> tuple[str, ...]:
    """The members of protocol ``proto`` that ``component`` lacks, sorted, methods written
    ``name()``: what an UNAUDITED result names. A method that is not callable, or an
    attribute whose read raises, counts as missing."""
    out: list[str] = []
    for name in sorted(_protocol_members(proto)):
        is_method = inspect.isfunction(inspect.getattr_static(proto, name, None))
        label = f"{name}()" if is_method else name
        try:
            value = getattr(component, name)
        except Exception:  # absent, or a property that raises: not usable either
            out.append(label)
            continue
        if is_method and not callable(value):
            out.append(label)
    return tuple(out)


def _protocol_members(proto: type) -> set[str]:
    """Names a protocol class itself declares (annotations, methods, properties)."""
    own = set(vars(proto).get("__annotations__", {}))
    own |= {n for n in vars(proto) if not n.startswith("_")}
    return own


__all__ = [
    "AUDIT_CONTRACTS",
    "COMPONENT_PROTOCOLS",
    "EMPTY_LADDER",
    "OPTIONAL_CONTRACTS",
    "AsyncVenue",
    "AuditableExecutor",
    "BatchExecutor",
    "BoundedSkew",
    "BudgetState",
    "BulkReplayVenue",
    "Closeable",
    "DeclaresPublishes",
    "DeclaresRoles",
    "Estimates",
    "Estimator",
    "EventSink",
    "Executor",
    "Feed",
    "Gate",
    "GateDecision",
    "GateMode",
    "GateRole",
    "KappaSources",
    "Ladder",
    "Levels",
    "OwnFillPosterior",
    "Persistent",
    "PredictionLogging",
    "Quote",
    "Quoter",
    "SigmaCapped",
    "TradeBatchConsumer",
    "Venue",
    "View",
    "missing_members",
    "optional_contract_problem",
    "quote_levels",
    "side_quotes",
]
