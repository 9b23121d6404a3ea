"""The canonical record layout of the event store.

Every market-data source (captures, archives, LOBSTER, the synthetic market, the recorder)
is turned into the same flat table of *records*; one record is one row. An event that has
several parts (a book snapshot's levels, a BBO's two sides) is a run of consecutive rows
whose last row carries :data:`FLAG_END`. Every column is a fixed-width number, so a chunk of
records is a handful of numpy arrays that numba kernels walk without Python objects.

Columns (``COLUMNS``), their meaning per record kind:

========  =======  =================================================================
column    dtype    meaning
========  =======  =================================================================
ts        int64    exchange (or simulated) time, ns
local_ts  int64    when the record reached the recorder, ns (= ts for generated data)
kind      uint8    :class:`RecordKind`
side      int8     +1 bid / buy, -1 ask / sell, 0 none (gap, empty book)
flags     uint8    ``FLAG_*`` bits
px        float64  price (level, trade, fill, order); NaN for none
sz        float64  size; 0 on a delta level deletes it
val       float64  kind specific: level order count (books), reference mid (synthetic
                   trades), fee (own fills), LOBSTER message type (orders); NaN if none
seq       int64    feed sequence number (update id, trade id, message number); -1 none
aux       int64    kind specific: previous sequence number (deltas), order id (own fills,
                   orders), :class:`GapReason` (gaps), 1 for an informed order (synthetic
                   trades); -1 none
========  =======  =================================================================

A gap record marks a place where the data is known to be incomplete (sequence break,
disconnect, truncated input, trading halt). Consumers must treat the book as unknown after a
gap until the next snapshot: a gap is never bridged.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 1
META_KEY = "mmkit.data"

Chunk: TypeAlias = dict[str, npt.NDArray[Any]]


class RecordKind(IntEnum):
    BOOK_SNAPSHOT = 1
    BOOK_DELTA = 2
    TRADE = 3
    BBO = 4
    OWN_FILL = 5
    GAP = 10
    ORDER = 11  # order-level message (LOBSTER); not a core event, kept for queue-exact replay


class GapReason(IntEnum):
    SEQUENCE = 1  # an update id did not chain onto the previous one
    DISCONNECT = 2  # the feed's connection dropped
    TRUNCATED = 3  # the input ended in the middle (truncated compressed file)
    HALT = 4  # the venue halted trading
    UNSYNCED = 5  # diffs arrived with no snapshot to apply them to
    RESUBSCRIBED = 6  # connection back; data resumes (book valid again at next snapshot)


FLAG_END = 1  # last row of an event
FLAG_CROSSED = 2  # own fill: we were the taker
FLAG_LIQUIDATION = 4  # own fill: liquidation
FLAG_CONNECTED = 8  # gap record: the feed is connected again
#: trade: replayed history from a subscription's first message (Hyperliquid ``trades``),
#: not a trade seen live; only present when the loader was asked to keep replays
FLAG_REPLAY = 16

COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "int64"),
    ("local_ts", "int64"),
    ("kind", "uint8"),
    ("side", "int8"),
    ("flags", "uint8"),
    ("px", "float64"),
    ("sz", "float64"),
    ("val", "float64"),
    ("seq", "int64"),
    ("aux", "int64"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)
RECORD_DTYPE = np.dtype(list(COLUMNS))


def empty_chunk(n: int = 0) -> Chunk:
    """A chunk of ``n`` zero rows (callers fill it)."""
    return {name: np.zeros(n, dtype=dt) for name, dt in COLUMNS}


def chunk_len(chunk: Chunk) -> int:
    return len(chunk["ts"])


def concat_chunks(parts: list[Chunk]) -> Chunk:
    if not parts:
        return empty_chunk()
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in COLUMN_NAMES}


def slice_chunk(chunk: Chunk, start: int, stop: int | None = None) -> Chunk:
    return {name: arr[start:stop] for name, arr in chunk.items()}


def to_structured(chunk: Chunk) -> npt.NDArray[Any]:
    """The chunk as one numpy structured array (copying)."""
    out = np.empty(chunk_len(chunk), dtype=RECORD_DTYPE)
    for name in COLUMN_NAMES:
        out[name] = chunk[name]
    return out


def from_structured(arr: npt.NDArray[Any]) -> Chunk:
    return {name: np.ascontiguousarray(arr[name]) for name in COLUMN_NAMES}


class RecordBuilder:
    """Accumulates records row by row (loaders) and hands them out as chunks."""

    __slots__ = ("_cols", "chunk_rows")

    def __init__(self, chunk_rows: int = 1 << 18) -> None:
        self.chunk_rows = chunk_rows
        self._cols: list[list[Any]] = [[] for _ in COLUMNS]

    def __len__(self) -> int:
        return len(self._cols[0])

    def add(
        self,
        kind: int,
        ts: int,
        local_ts: int,
        side: int = 0,
        px: float = np.nan,
        sz: float = 0.0,
        *,
        val: float = np.nan,
        seq: int = -1,
        aux: int = -1,
        flags: int = FLAG_END,
    ) -> None:
        c = self._cols
        c[0].append(ts)
        c[1].append(local_ts)
        c[2].append(kind)
        c[3].append(side)
        c[4].append(flags)
        c[5].append(px)
        c[6].append(sz)
        c[7].append(val)
        c[8].append(seq)
        c[9].append(aux)

    def add_book(
        self,
        kind: int,
        ts: int,
        local_ts: int,
        bids: list[tuple[float, float]],
        asks: list[tuple[float, float]],
        *,
        seq: int = -1,
        aux: int = -1,
        bid_n: list[float] | None = None,
        ask_n: list[float] | None = None,
    ) -> None:
        """One book event: bid levels (best first) then ask levels (best first), END on the
        last row; an empty book is a single placeholder row with side 0."""
        n = len(bids) + len(asks)
        if n == 0:
            self.add(kind, ts, local_ts, 0, np.nan, 0.0, seq=seq, aux=aux)
            return
        c = self._cols
        c[0].extend([ts] * n)
        c[1].extend([local_ts] * n)
        c[2].extend([kind] * n)
        c[3].extend([1] * len(bids) + [-1] * len(asks))
        c[4].extend([0] * (n - 1) + [FLAG_END])
        c[5].extend([p for p, _ in bids] + [p for p, _ in asks])
        c[6].extend([s for _, s in bids] + [s for _, s in asks])
        c[7].extend((bid_n or [np.nan] * len(bids)) + (ask_n or [np.nan] * len(asks)))
        c[8].extend([seq] * n)
        c[9].extend([aux] * n)

    def add_gap(
        self, ts: int, local_ts: int, reason: GapReason, *, seq: int = -1, connected: bool = False
    ) -> None:
        self.add(
            RecordKind.GAP,
            ts,
            local_ts,
            0,
            np.nan,
            0.0,
            seq=seq,
            aux=int(reason),
            flags=FLAG_END | (FLAG_CONNECTED if connected else 0),
        )

    def full(self) -> bool:
        return len(self._cols[0]) >= self.chunk_rows

    def take(self) -> Chunk:
        """Everything accumulated so far, as a chunk; the builder is left empty."""
        out: Chunk = {}
        for (name, dt), col in zip(COLUMNS, self._cols, strict=True):
            out[name] = np.array(col, dtype=dt)
        self._cols = [[] for _ in COLUMNS]
        return out
