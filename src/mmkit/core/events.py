"""Typed events: everything the engine reacts to.

An event carries two timestamps in integer nanoseconds: ``ts`` (the exchange's clock, or the
simulated clock) and ``local_ts`` (when it reached us; equal to ``ts`` for generated data).
The engine never reads the wall clock; the runner passes ``now_ns`` alongside each event.

Book sides are numpy ``float64`` arrays, bids best (highest) first and asks best (lowest)
first, so that numba kernels can read them without conversion.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from mmkit.core.frozen import quick_init
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Side

FloatArray: TypeAlias = npt.NDArray[np.float64]

_EMPTY: FloatArray = np.empty(0, dtype=np.float64)
_EMPTY.setflags(write=False)


def empty_levels() -> FloatArray:
    """A shared read-only empty level array."""
    return _EMPTY


class EventKind(IntEnum):
    BOOK_SNAPSHOT = 1
    BOOK_DELTA = 2
    TRADE = 3
    BBO = 4
    OWN_FILL = 5
    ORDER_UPDATE = 6
    ACTION_RESULT = 7
    POSITION_SNAPSHOT = 8
    TIMER = 9
    FEED_STATUS = 10
    TRADE_BATCH = 11

    #: a market-data kind (book, trade, top of book, trade batch): set on each member
    #: below, a plain attribute (read several times per event; a property cost 3x as much)
    is_market_data: bool


_MARKET_DATA = frozenset(
    {
        EventKind.BOOK_SNAPSHOT,
        EventKind.BOOK_DELTA,
        EventKind.TRADE,
        EventKind.BBO,
        EventKind.TRADE_BATCH,
    }
)
for _kind in EventKind:
    _kind.is_market_data = _kind in _MARKET_DATA


class Kinds:
    """The members of :class:`EventKind` as plain class attributes, for the hot paths.

    On Python 3.11 every attribute read of an Enum class (``EventKind.BBO``) goes through
    the slot hook that ``EnumType.__getattr__`` installs: ~65 ns, against ~9 ns for a plain
    class's attribute (Python 3.12 dropped that ``__getattr__``). The engine, the market
    state and the session compare an event's kind with a dozen of them per event. Same
    objects: ``Kinds.BBO is EventKind.BBO`` (a test checks every member).
    """

    BOOK_SNAPSHOT: Final = EventKind.BOOK_SNAPSHOT
    BOOK_DELTA: Final = EventKind.BOOK_DELTA
    TRADE: Final = EventKind.TRADE
    BBO: Final = EventKind.BBO
    OWN_FILL: Final = EventKind.OWN_FILL
    ORDER_UPDATE: Final = EventKind.ORDER_UPDATE
    ACTION_RESULT: Final = EventKind.ACTION_RESULT
    POSITION_SNAPSHOT: Final = EventKind.POSITION_SNAPSHOT
    TIMER: Final = EventKind.TIMER
    FEED_STATUS: Final = EventKind.FEED_STATUS
    TRADE_BATCH: Final = EventKind.TRADE_BATCH


@quick_init
@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A full L2 book (replace, never diff). Hyperliquid's ``l2Book`` is always one of these."""

    kind: ClassVar[EventKind] = EventKind.BOOK_SNAPSHOT
    ts: int
    bid_px: FloatArray
    bid_sz: FloatArray
    ask_px: FloatArray
    ask_sz: FloatArray
    local_ts: int = -1
    seq: int = -1
    stream: str = "book"


@quick_init
@dataclass(frozen=True, slots=True)
class BookDelta:
    """Changed levels of an L2 book; size 0 deletes a level.

    ``seq``/``prev_seq`` are the feed's sequence numbers where it has them (Binance ``u`` and
    ``pu``); -1 when it has none. A gap is ``prev_seq != last applied seq``.
    """

    kind: ClassVar[EventKind] = EventKind.BOOK_DELTA
    ts: int
    bid_px: FloatArray
    bid_sz: FloatArray
    ask_px: FloatArray
    ask_sz: FloatArray
    local_ts: int = -1
    seq: int = -1
    prev_seq: int = -1
    stream: str = "book"


@quick_init
@dataclass(frozen=True, slots=True)
class Trade:
    """A market trade. ``side`` is the aggressor's side."""

    kind: ClassVar[EventKind] = EventKind.TRADE
    ts: int
    px: float
    sz: float
    side: Side
    local_ts: int = -1
    tid: int = -1
    stream: str = "trades"


#: rows up to which a trade batch checks its columns as Python lists (and keeps them)
_SMALL_BATCH = 16


@quick_init
@dataclass(frozen=True, slots=True, eq=False)
class TradeBatch:
    """Market trades delivered together, as columns: the trades of one feed message, or
    those a backtest step covers.

    Row ``k`` is the trade ``Trade(ts[k], px[k], sz[k], Side(side[k]), local_ts=recv[k],
    stream=stream)`` received at ``recv[k]`` on the engine's clock; ``recv`` never
    decreases. ``ts`` and ``local_ts`` (the fields every event has) are those of the last
    row. Columns are numpy arrays (int64 times, float64 prices and sizes, int8 sides of +1 /
    -1). The constructor refuses an empty batch, columns of different lengths, receive times
    that go back and sides other than +1 / -1; prices and sizes are not checked, as for
    :class:`Trade`: components guard against NaN and non-positive numbers.

    Components never receive a batch through ``on_event``. A component that has an
    ``on_trades`` method gets the whole batch there; the engine hands every other component
    the rows one by one as :class:`Trade` events (:meth:`trades`), each with ``now_ns =
    recv[k]``. ``on_trades`` must leave the component as those calls would; the audit's
    ``batch_equivalence`` invariants check it. With event-driven requotes, a batch triggers
    one requote (after its last row), where its rows one by one would trigger one each.
    """

    kind: ClassVar[EventKind] = EventKind.TRADE_BATCH
    times: npt.NDArray[np.int64]
    px: FloatArray
    sz: FloatArray
    side: npt.NDArray[np.int8]
    recv: npt.NDArray[np.int64]
    stream: str = "trades"
    #: the columns as Python lists, built on first use (:meth:`columns`): per-row loops
    #: over a few trades are faster on lists than on tiny numpy arrays, and a batch that
    #: only reaches array code (the compiled twins) never pays for them
    _cols: tuple[list[int], list[float], list[float], list[int], list[int]] | None = field(
        init=False, repr=False, default=None
    )

    def __post_init__(self) -> None:
        times, px, sz, side, recv = self.times, self.px, self.sz, self.side, self.recv
        n = len(times)
        if n == 0:
            raise ValueError("a trade batch has at least one trade")
        lens = (n, len(px), len(sz), len(side), len(recv))
        if any(m != n for m in lens):
            raise ValueError(
                "trade batch columns differ in length: "
                + ", ".join(
                    f"{name} {m}"
                    for name, m in zip(("times", "px", "sz", "side", "recv"), lens, strict=True)
                )
            )
        if n <= _SMALL_BATCH:  # lists now (a few rows: cheaper than numpy's checks)
            cols = self.columns()
            backwards = not all(a <= b for a, b in itertools.pairwise(cols[4]))
            bad_side = not all(d == 1 or d == -1 for d in cols[3])
        else:
            backwards = bool((recv[1:] < recv[:-1]).any())
            bad_side = not bool(((side == 1) | (side == -1)).all())
        if backwards:
            raise ValueError("trade batch receive times go backwards")
        if bad_side:
            raise ValueError("trade batch sides are +1 (buy) or -1 (sell)")

    @classmethod
    def checked_by_caller(
        cls,
        times: npt.NDArray[np.int64],
        px: FloatArray,
        sz: FloatArray,
        side: npt.NDArray[np.int8],
        recv: npt.NDArray[np.int64],
        stream: str = "trades",
    ) -> TradeBatch:
        """A batch whose columns the caller guarantees: equal non-zero lengths, ``recv``
        never decreasing, sides +1 / -1 (the backtest's loop: sides checked when the market
        was loaded, receive times made monotone). Nothing is checked here."""
        b = object.__new__(cls)
        set_times, set_px, set_sz, set_side, set_recv, set_stream, set_cols = _BATCH_SETTERS
        set_times(b, times)
        set_px(b, px)
        set_sz(b, sz)
        set_side(b, side)
        set_recv(b, recv)
        set_stream(b, stream)
        set_cols(b, None)
        return b

    def last(self) -> tuple[int, float, float, int, int]:
        """The last row ``(ts, px, sz, side, recv)`` as Python numbers."""
        cols = self._cols
        if cols is not None:
            return cols[0][-1], cols[1][-1], cols[2][-1], cols[3][-1], cols[4][-1]
        return (
            int(self.times[-1]),
            float(self.px[-1]),
            float(self.sz[-1]),
            int(self.side[-1]),
            int(self.recv[-1]),
        )

    def times_for_scan(self) -> list[int] | npt.NDArray[np.int64]:
        """The exchange times, as the cheaper form to scan in Python: the list when the
        batch already holds its lists (a few rows), else the array."""
        cols = self._cols
        return cols[0] if cols is not None else self.times

    def columns(self) -> tuple[list[int], list[float], list[float], list[int], list[int]]:
        """``(times, px, sz, side, recv)`` as lists."""
        cols = self._cols
        if cols is None:
            cols = (
                self.times.tolist(),
                self.px.tolist(),
                self.sz.tolist(),
                self.side.tolist(),
                self.recv.tolist(),
            )
            object.__setattr__(self, "_cols", cols)
        return cols

    @classmethod
    def of(cls, trades: list[Trade], recv: list[int] | None = None) -> TradeBatch:
        """A batch of ``trades``, received at ``recv`` (default: each trade's ``local_ts``,
        or its ``ts`` when that is -1). Every trade must be of one stream."""
        if not trades:
            raise ValueError("a trade batch has at least one trade")
        streams = {t.stream for t in trades}
        if len(streams) > 1:
            raise ValueError(f"a trade batch holds one stream, not {sorted(streams)}")
        if recv is None:
            recv = [t.local_ts if t.local_ts >= 0 else t.ts for t in trades]
        return cls(
            np.array([t.ts for t in trades], dtype=np.int64),
            np.array([t.px for t in trades], dtype=np.float64),
            np.array([t.sz for t in trades], dtype=np.float64),
            np.array([int(t.side) for t in trades], dtype=np.int8),
            np.array(recv, dtype=np.int64),
            trades[0].stream,
        )

    def __len__(self) -> int:
        return len(self.times)

    @property
    def ts(self) -> int:
        return int(self.times[-1])

    @property
    def local_ts(self) -> int:
        return int(self.recv[-1])

    def trades(self) -> list[tuple[Trade, int]]:
        """The rows as ``(Trade, now_ns)`` pairs, in order."""
        st = self.stream
        return [
            (Trade(t, p, s, Side(d), r, stream=st), r)
            for t, p, s, d, r in zip(*self.columns(), strict=True)
        ]


#: the slots' setters of :class:`TradeBatch`, in ``checked_by_caller``'s order (it stores
#: through them, as :func:`~mmkit.core.frozen.quick_init` does: ~0.2 µs a field less)
_BATCH_SETTERS = tuple(
    vars(TradeBatch)[name].__set__
    for name in ("times", "px", "sz", "side", "recv", "stream", "_cols")
)
assert len(dataclasses.fields(TradeBatch)) == len(_BATCH_SETTERS), "a TradeBatch field unset"


@quick_init
@dataclass(frozen=True, slots=True)
class BBO:
    kind: ClassVar[EventKind] = EventKind.BBO
    ts: int
    bid_px: float
    bid_sz: float
    ask_px: float
    ask_sz: float
    local_ts: int = -1
    seq: int = -1
    stream: str = "bbo"


@quick_init
@dataclass(frozen=True, slots=True)
class OwnFill:
    """A fill of one of our orders. ``fee`` is positive when paid, negative for a rebate."""

    kind: ClassVar[EventKind] = EventKind.OWN_FILL
    ts: int
    oid: int
    cloid: str | None
    side: Side
    px: float
    sz: float
    fee: float = 0.0
    tid: int = -1
    crossed: bool = False  # True if we were the taker
    local_ts: int = -1
    liquidation: bool = False


class OrderStatus(IntEnum):
    OPEN = 1
    FILLED = 2
    CANCELED = 3
    REJECTED = 4
    OTHER_CANCELED = 5  # margin / reduce-only / self-trade / scheduled ... cancels


@quick_init
@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A venue's word on one order (Hyperliquid ``orderUpdates``). ``sz`` is the remaining size."""

    kind: ClassVar[EventKind] = EventKind.ORDER_UPDATE
    ts: int
    oid: int
    cloid: str | None
    status: OrderStatus
    side: Side
    px: float
    sz: float
    orig_sz: float
    local_ts: int = -1
    raw_status: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class ActionResult:
    """The venue's answer to one order action we sent (place, modify or cancel).

    ``request_id`` is the ``id`` of the action it answers. ``outcome`` UNKNOWN means the
    transport failed and the executor must resolve the order's fate by query.
    """

    kind: ClassVar[EventKind] = EventKind.ACTION_RESULT
    ts: int
    request_id: int
    cloid: str | None
    oid: int | None
    outcome: Outcome
    reason: RejectReason = RejectReason.NONE
    message: str = ""
    filled_sz: float = 0.0
    avg_px: float = 0.0
    local_ts: int = -1


@quick_init
@dataclass(frozen=True, slots=True)
class OpenOrder:
    oid: int
    cloid: str | None
    side: Side
    px: float
    sz: float
    orig_sz: float
    ts: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """The venue's authoritative state: position and (when fetched) resting orders.

    ``ts`` is the venue time of the state (Hyperliquid ``clearinghouseState.time``, ns): the
    snapshot holds exactly our fills with ``ts`` no later than it. ``entry_px`` is the
    venue's average entry price of the position (USD; 0 when flat or not given) and
    ``account_value`` the account's value (USD; NaN when not given). ``open_orders`` is
    ``None`` when only the position was fetched.
    """

    kind: ClassVar[EventKind] = EventKind.POSITION_SNAPSHOT
    ts: int
    position: float
    entry_px: float = 0.0
    open_orders: tuple[OpenOrder, ...] | None = None
    local_ts: int = -1
    startup: bool = False
    account_value: float = float("nan")


@quick_init
@dataclass(frozen=True, slots=True)
class Timer:
    kind: ClassVar[EventKind] = EventKind.TIMER
    ts: int
    name: str = "tick"
    local_ts: int = -1


@quick_init
@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Connection state of a feed: a disconnect or resubscription marks a possible gap."""

    kind: ClassVar[EventKind] = EventKind.FEED_STATUS
    ts: int
    stream: str
    connected: bool
    gap: bool = False
    detail: str = ""
    local_ts: int = -1


Event: TypeAlias = (
    BookSnapshot
    | BookDelta
    | Trade
    | TradeBatch
    | BBO
    | OwnFill
    | OrderUpdate
    | ActionResult
    | PositionSnapshot
    | Timer
    | FeedStatus
)

ALL_EVENT_TYPES: tuple[type, ...] = (
    BookSnapshot,
    BookDelta,
    Trade,
    TradeBatch,
    BBO,
    OwnFill,
    OrderUpdate,
    ActionResult,
    PositionSnapshot,
    Timer,
    FeedStatus,
)


def levels(values: list[float] | tuple[float, ...]) -> FloatArray:
    """Build a level array from a Python sequence (tests and loaders use this)."""
    if not values:
        return _EMPTY
    return np.asarray(values, dtype=np.float64)


__all__ = [
    "ALL_EVENT_TYPES",
    "BBO",
    "ActionResult",
    "BookDelta",
    "BookSnapshot",
    "Event",
    "EventKind",
    "FeedStatus",
    "FloatArray",
    "OpenOrder",
    "OrderStatus",
    "OrderUpdate",
    "OwnFill",
    "PositionSnapshot",
    "Timer",
    "Trade",
    "TradeBatch",
    "empty_levels",
    "levels",
]
