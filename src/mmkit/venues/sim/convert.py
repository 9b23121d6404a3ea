"""Market arrays from the event store's records (``mmkit.data``) or from core events."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from mmkit.core.events import BookDelta, BookSnapshot, Event, Trade
from mmkit.errors import ConfigError, DataError
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim._kernels_convert import records_to_events
from mmkit.venues.sim.arrays import MarketArrays
from mmkit.venues.sim.state import roi_grid

TimeAxis = Literal["exchange", "local"]


def _time_axis(records: Mapping[str, npt.NDArray[Any]], axis: TimeAxis) -> npt.NDArray[np.int64]:
    if axis == "local":
        t = np.asarray(records["local_ts"], dtype=np.int64)
        if t.size and np.any(np.diff(t) < 0):
            raise DataError("market records: local_ts goes backwards; use the exchange time axis")
        return t
    t = np.asarray(records["ts"], dtype=np.int64)
    # exchange stamps of interleaved streams regress slightly: keep the feed's order and
    # clamp each stamp to the latest seen (the matching engine needs a monotone clock)
    return np.maximum.accumulate(t) if t.size else t


Grid = tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64]]


def new_grid(book_px: npt.NDArray[np.float64], tick: float, price_range: float) -> Grid:
    """An empty book grid (levels, int state, float state) around the given book prices."""
    return empty_grid(*roi_grid(book_px, tick, price_range), tick)


def empty_grid(lo: int, nt: int, tick: float) -> Grid:
    """An empty book grid over ticks ``lo .. lo + nt - 1``."""
    grid = np.zeros((2, nt), dtype=np.float64)
    si = np.zeros(lay.SI_SIZE, dtype=np.int64)
    si[lay.SI_BASE], si[lay.SI_NT], si[lay.SI_BB], si[lay.SI_BA] = lo, nt, -1, nt
    sf = np.zeros(lay.SF_SIZE, dtype=np.float64)
    sf[lay.SF_TICK], sf[lay.SF_INV_TICK] = tick, 1.0 / tick
    return grid, si, sf


def widen_grid(
    grid: npt.NDArray[np.float64], si: npt.NDArray[np.int64], lo: int, nt: int
) -> npt.NDArray[np.float64]:
    """The book of ``grid`` (its state in ``si``) on a wider grid, over ticks ``lo .. lo +
    nt - 1`` (which must contain the old ones): the levels stay at their prices, ``si``'s
    base, width and best columns are moved to the new grid."""
    base, n = int(si[lay.SI_BASE]), int(si[lay.SI_NT])
    off = base - lo
    if off < 0 or off + n > nt:
        raise ValueError(f"grid {lo}+{nt} does not contain {base}+{n}")
    wide = np.zeros((2, nt), dtype=np.float64)
    wide[:, off : off + n] = grid
    bb, ba = int(si[lay.SI_BB]), int(si[lay.SI_BA])
    si[lay.SI_BASE], si[lay.SI_NT] = lo, nt
    si[lay.SI_BB] = bb + off if bb >= 0 else -1
    si[lay.SI_BA] = ba + off if ba < n else nt
    return wide


def convert_records(
    ts: npt.NDArray[np.int64],
    kind: npt.NDArray[np.int64],
    side: npt.NDArray[np.int64],
    flags: npt.NDArray[np.int64],
    px: npt.NDArray[np.float64],
    sz: npt.NDArray[np.float64],
    grid: npt.NDArray[np.float64],
    si: npt.NDArray[np.int64],
    sf: npt.NDArray[np.float64],
) -> MarketArrays:
    """Records to market arrays on a grid whose book state carries over between calls."""
    cap = len(kind) + 4096
    outs: list[tuple[npt.NDArray[Any], ...]] = []
    i = 0
    while i < len(kind):
        o = (
            np.empty(cap, np.int64),
            np.empty(cap, np.int8),
            np.empty(cap, np.int8),
            np.empty(cap, np.float64),
            np.empty(cap, np.float64),
        )
        i2, w = records_to_events(ts, kind, side, flags, px, sz, grid, si, sf, i, *o, 0)
        outs.append(tuple(a[:w] for a in o))
        if i2 == i and w == 0:
            cap *= 4  # one snapshot larger than the buffer
        i = int(i2)
    cols = [np.concatenate([p[c] for p in outs]) for c in range(5)]
    return MarketArrays.build(*cols, source="market records")


def market_from_records(
    records: Mapping[str, npt.NDArray[Any]],
    tick: float,
    *,
    time_axis: TimeAxis = "exchange",
    price_range: float = 0.2,
) -> MarketArrays:
    """Convert event-store records (``mmkit.data.schema`` columns) to market arrays.

    Snapshots become the level changes that turn the previous book into them; deltas and
    trades are kept; BBOs and gaps are dropped. Levels beyond ``+-price_range`` of the
    median price are dropped (stale far orders). ``time_axis`` picks exchange time (clamped
    to be monotone) or the recorder's local time.
    """
    if not (math.isfinite(tick) and tick > 0):
        raise ConfigError([f"market conversion: tick {tick!r} must be finite and > 0"])
    kind = np.ascontiguousarray(records["kind"], dtype=np.int64)
    side = np.ascontiguousarray(records["side"], dtype=np.int64)
    flags = np.ascontiguousarray(records["flags"], dtype=np.int64)
    px = np.ascontiguousarray(records["px"], dtype=np.float64)
    sz = np.ascontiguousarray(records["sz"], dtype=np.float64)
    ts = np.ascontiguousarray(_time_axis(records, time_axis))
    book = np.isin(kind, (1, 2, 3)) & np.isfinite(px) & (px > 0)
    if not book.any():
        return MarketArrays.build(*([np.zeros(0)] * 5))
    grid, si, sf = new_grid(px[book], tick, price_range)
    m = convert_records(ts, kind, side, flags, px, sz, grid, si, sf)
    m.check_tick(tick, source="market records")
    return m


def market_from_events(events: Iterable[Event], tick: float) -> MarketArrays:
    """Market arrays from core events (tests, synthetic feeds); other events are skipped."""
    ts: list[int] = []
    kind: list[int] = []
    side: list[int] = []
    px: list[float] = []
    sz: list[float] = []
    flags: list[int] = []
    for ev in events:
        if isinstance(ev, Trade):
            ts.append(ev.ts)
            kind.append(3)
            side.append(int(ev.side))
            px.append(ev.px)
            sz.append(ev.sz)
            flags.append(1)
        elif isinstance(ev, BookSnapshot | BookDelta):
            k = 1 if isinstance(ev, BookSnapshot) else 2
            rows = [(1, p, s) for p, s in zip(ev.bid_px.tolist(), ev.bid_sz.tolist(), strict=True)]
            rows += [
                (-1, p, s) for p, s in zip(ev.ask_px.tolist(), ev.ask_sz.tolist(), strict=True)
            ]
            if not rows:
                rows = [(0, math.nan, 0.0)]
            for n, (s, p, q) in enumerate(rows):
                ts.append(ev.ts)
                kind.append(k)
                side.append(s)
                px.append(p)
                sz.append(q)
                flags.append(1 if n == len(rows) - 1 else 0)
    rec = {
        "ts": np.array(ts, np.int64),
        "local_ts": np.array(ts, np.int64),
        "kind": np.array(kind, np.int64),
        "side": np.array(side, np.int64),
        "flags": np.array(flags, np.int64),
        "px": np.array(px, np.float64),
        "sz": np.array(sz, np.float64),
    }
    return market_from_records(rec, tick)


def market_from_order_records(
    records: Mapping[str, npt.NDArray[Any]], tick: float, *, price_range: float = 0.2
) -> MarketArrays:
    """Order-level (L3) market arrays from event-store records of an order-level source.

    The first book snapshot gives the initial levels (its orders count as older than any
    message); then each order message becomes ``EV_L3_ADD`` (type 1), ``EV_L3_CANCEL``
    (types 2 and 3) or ``EV_L3_EXEC`` (type 4), with ``ref`` the index of the order's add
    event (-1 when it predates the data), so the matching engine keeps an exact FIFO queue.
    Hidden executions (type 5), halts and the derived book/trade records are not used.
    """
    kind = np.asarray(records["kind"])
    snap = np.flatnonzero(kind == 1)
    if snap.size:
        end = snap[0]
        flags = np.asarray(records["flags"])
        while end < len(kind) - 1 and not flags[end] & 1:
            end += 1
        first = np.arange(snap[0], end + 1)
        first = first[np.isin(np.asarray(records["side"])[first], (1, -1))]
    else:
        first = np.zeros(0, dtype=np.int64)
    msg_type = np.asarray(records["val"])
    rows = np.flatnonzero((kind == 11) & np.isin(msg_type, (1.0, 2.0, 3.0, 4.0)))
    typ = msg_type[rows].astype(np.int64)
    ev_kind = np.where(
        typ == 1, lay.EV_L3_ADD, np.where(typ == 4, lay.EV_L3_EXEC, lay.EV_L3_CANCEL)
    )
    n0 = first.size
    out_index = n0 + np.arange(rows.size, dtype=np.int64)
    oid = np.asarray(records["aux"])[rows].astype(np.int64)
    ref = np.full(rows.size, -1, dtype=np.int64)
    adds = typ == 1
    ref[adds] = out_index[adds]
    if adds.any():
        order = np.argsort(oid[adds], kind="stable")
        add_oid = oid[adds][order]
        add_idx = out_index[adds][order]
        pos = np.searchsorted(add_oid, oid)
        pos_c = np.minimum(pos, add_oid.size - 1)
        hit = (~adds) & (add_oid[pos_c] == oid) & (add_idx[pos_c] < out_index)
        ref[hit] = add_idx[pos_c][hit]
    ts_all = np.asarray(records["ts"], dtype=np.int64)
    px_all = np.asarray(records["px"], dtype=np.float64)
    sz_all = np.asarray(records["sz"], dtype=np.float64)
    side_all = np.asarray(records["side"], dtype=np.int64)
    ts = np.concatenate((ts_all[first], ts_all[rows]))
    m = MarketArrays.build(
        np.maximum.accumulate(ts) if ts.size else ts,
        np.concatenate((np.full(n0, lay.EV_DEPTH), ev_kind)),
        np.concatenate((side_all[first], side_all[rows])),
        np.concatenate((px_all[first], px_all[rows])),
        np.concatenate((sz_all[first], sz_all[rows])),
        np.concatenate((np.full(n0, -1, dtype=np.int64), ref)),
        source="order records",
    )
    m.check_tick(tick, source="order records")
    _ = price_range  # the replay's grid applies the region of interest
    return m
