"""Turn store records into :mod:`mmkit.core.events` events for the Python engine.

Rows are grouped into events by :data:`~mmkit.data.schema.FLAG_END`; an event cut by a chunk
boundary is carried over to the next chunk. Gap records become
:class:`~mmkit.core.events.FeedStatus` with ``gap=True``; order-level records (LOBSTER) have
no core event and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.core.events import BBO, BookDelta, BookSnapshot, Event, FeedStatus, OwnFill, Trade
from mmkit.core.types import Side
from mmkit.data.schema import (
    FLAG_CONNECTED,
    FLAG_CROSSED,
    FLAG_END,
    FLAG_LIQUIDATION,
    Chunk,
    GapReason,
    RecordKind,
    chunk_len,
    concat_chunks,
    slice_chunk,
)


def _levels(chunk: Chunk, a: int, b: int) -> tuple[npt.NDArray[np.float64], ...]:
    side = chunk["side"][a:b]
    px = chunk["px"][a:b]
    sz = chunk["sz"][a:b]
    bid = side == 1
    ask = side == -1
    return (
        np.ascontiguousarray(px[bid]),
        np.ascontiguousarray(sz[bid]),
        np.ascontiguousarray(px[ask]),
        np.ascontiguousarray(sz[ask]),
    )


def _gap_detail(aux: int) -> str:
    try:
        return GapReason(aux).name.lower()
    except ValueError:
        return f"reason {aux}"


def events_of_chunk(chunk: Chunk, stream_prefix: str = "") -> Iterator[Event]:
    """Events of a chunk that starts at an event boundary and ends with an END row."""
    ends = np.flatnonzero(chunk["flags"] & FLAG_END)
    kinds = chunk["kind"].tolist()
    ts = chunk["ts"].tolist()
    lts = chunk["local_ts"].tolist()
    side = chunk["side"].tolist()
    px = chunk["px"].tolist()
    sz = chunk["sz"].tolist()
    val = chunk["val"].tolist()
    seq = chunk["seq"].tolist()
    aux = chunk["aux"].tolist()
    flags = chunk["flags"].tolist()
    book_stream = stream_prefix + "book"
    start = 0
    for end in ends.tolist():
        i = end
        k = kinds[i]
        if k == RecordKind.TRADE:
            yield Trade(
                ts[i],
                px[i],
                sz[i],
                Side.BUY if side[i] > 0 else Side.SELL,
                local_ts=lts[i],
                tid=seq[i],
                stream=stream_prefix + "trades",
            )
        elif k == RecordKind.BOOK_DELTA:
            bp, bs, ap, as_ = _levels(chunk, start, end + 1)
            yield BookDelta(
                ts[i],
                bp,
                bs,
                ap,
                as_,
                local_ts=lts[i],
                seq=seq[i],
                prev_seq=aux[i],
                stream=book_stream,
            )
        elif k == RecordKind.BOOK_SNAPSHOT:
            bp, bs, ap, as_ = _levels(chunk, start, end + 1)
            yield BookSnapshot(
                ts[i], bp, bs, ap, as_, local_ts=lts[i], seq=seq[i], stream=book_stream
            )
        elif k == RecordKind.BBO:
            bid_i, ask_i = (start, i) if side[start] > 0 else (i, start)
            yield BBO(
                ts[i],
                px[bid_i],
                sz[bid_i],
                px[ask_i],
                sz[ask_i],
                local_ts=lts[i],
                seq=seq[i],
                stream=stream_prefix + "bbo",
            )
        elif k == RecordKind.OWN_FILL:
            yield OwnFill(
                ts[i],
                aux[i],
                None,
                Side.BUY if side[i] > 0 else Side.SELL,
                px[i],
                sz[i],
                fee=0.0 if val[i] != val[i] else val[i],
                tid=seq[i],
                crossed=bool(flags[i] & FLAG_CROSSED),
                local_ts=lts[i],
                liquidation=bool(flags[i] & FLAG_LIQUIDATION),
            )
        elif k == RecordKind.GAP:
            yield FeedStatus(
                ts[i],
                book_stream,
                connected=bool(flags[i] & FLAG_CONNECTED),
                gap=True,
                detail=_gap_detail(aux[i]),
                local_ts=lts[i],
            )
        start = end + 1


def events_from_chunks(chunks: Iterable[Chunk], stream_prefix: str = "") -> Iterator[Event]:
    """Events of a stream of chunks (event boundaries may fall anywhere)."""
    carry: Chunk | None = None
    for raw in chunks:
        chunk = raw if carry is None else concat_chunks([carry, raw])
        carry = None
        n = chunk_len(chunk)
        if n == 0:
            continue
        ends = np.flatnonzero(chunk["flags"] & FLAG_END)
        last = int(ends[-1]) + 1 if len(ends) else 0
        if last < n:
            carry = {k: v.copy() for k, v in slice_chunk(chunk, last).items()}
        if last:
            yield from events_of_chunk(slice_chunk(chunk, 0, last), stream_prefix)
    # rows after the last END row are an unfinished event: dropped (the writer never
    # produces them; a producer that died mid-event marks its end with a gap anyway)


def count_kinds(chunks: Iterable[Chunk]) -> dict[str, Any]:
    """Events per kind (END rows), total rows and the span of ``ts``/``local_ts``."""
    counts = np.zeros(256, dtype=np.int64)
    rows = 0
    first = last = -1
    for c in chunks:
        n = chunk_len(c)
        if n == 0:
            continue
        rows += n
        ends = (c["flags"] & FLAG_END) != 0
        counts += np.bincount(c["kind"][ends], minlength=256)
        if first < 0:
            first = int(c["local_ts"][0])
        last = int(c["local_ts"][-1])
    by_kind = {RecordKind(k).name.lower(): int(counts[k]) for k in RecordKind if counts[k]}
    return {"rows": rows, "events": by_kind, "first_local_ts": first, "last_local_ts": last}
