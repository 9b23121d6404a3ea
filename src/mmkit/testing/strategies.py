"""hypothesis strategies for mmkit events, for our tests, the audit and plugin authors.

``market_events()`` draws realistic-to-hostile market data (books, trades, trade batches,
timers); with ``hostile=True`` it also
draws NaN, inf, zero, negative and huge values, crossed and empty books and timestamps that
go backwards. ``event_sequences()`` draws a time-stamped list of ``(now_ns, event)`` pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from mmkit.core.events import (
    BookSnapshot,
    Event,
    OwnFill,
    PositionSnapshot,
    Timer,
    Trade,
    TradeBatch,
    levels,
)
from mmkit.core.types import Side

HOSTILE_FLOATS = st.sampled_from(
    [float("nan"), float("inf"), float("-inf"), 0.0, -1.0, 1e300, -1e300, 5e-324]
)


def prices(mid: float = 100_000.0, hostile: bool = False) -> st.SearchStrategy[float]:
    sane = st.floats(mid * 0.98, mid * 1.02, allow_nan=False, allow_infinity=False)
    return st.one_of(sane, HOSTILE_FLOATS) if hostile else sane


def sizes(hostile: bool = False) -> st.SearchStrategy[float]:
    sane = st.floats(1e-4, 5.0, allow_nan=False, allow_infinity=False)
    return st.one_of(sane, HOSTILE_FLOATS) if hostile else sane


@st.composite
def book_snapshots(
    draw: Any, ts: int, mid: float = 100_000.0, hostile: bool = False
) -> BookSnapshot:
    n_bid = draw(st.integers(0 if hostile else 1, 5))
    n_ask = draw(st.integers(0 if hostile else 1, 5))
    m = draw(prices(mid, hostile))
    spread = draw(st.floats(0.5, 50.0))
    if hostile and draw(st.booleans()):
        spread = -spread  # crossed
    bid_px = [m - spread / 2 - i for i in range(n_bid)]
    ask_px = [m + spread / 2 + i for i in range(n_ask)]
    bid_sz = [draw(sizes(hostile)) for _ in range(n_bid)]
    ask_sz = [draw(sizes(hostile)) for _ in range(n_ask)]
    return BookSnapshot(
        ts, levels(bid_px), levels(bid_sz), levels(ask_px), levels(ask_sz), local_ts=ts
    )


@st.composite
def market_events(draw: Any, ts: int, mid: float = 100_000.0, hostile: bool = False) -> Event:
    kind = draw(
        st.sampled_from(
            ["book", "trade", "trades", "timer", "fill"]
            if hostile
            else ["book", "book", "trade", "trades", "timer"]
        )
    )
    if kind == "book":
        snap: BookSnapshot = draw(book_snapshots(ts, mid, hostile))
        return snap
    if kind == "trade":
        return Trade(
            ts,
            draw(prices(mid, hostile)),
            draw(sizes(hostile)),
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            local_ts=ts,
        )
    if kind == "trades":  # one feed message of 1-5 trades, received at ts
        m = draw(st.integers(1, 5))
        return TradeBatch(
            np.full(m, ts, dtype=np.int64),
            np.array(draw(st.lists(prices(mid, hostile), min_size=m, max_size=m)), np.float64),
            np.array(draw(st.lists(sizes(hostile), min_size=m, max_size=m)), np.float64),
            np.array(draw(st.lists(st.sampled_from([1, -1]), min_size=m, max_size=m)), np.int8),
            np.full(m, ts, dtype=np.int64),
        )
    if kind == "fill":
        return OwnFill(
            ts,
            draw(st.integers(1, 10**6)),
            None,
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            draw(prices(mid, hostile)),
            draw(sizes(hostile)),
            local_ts=ts,
        )
    return Timer(ts, local_ts=ts)


@st.composite
def event_sequences(
    draw: Any,
    min_size: int = 1,
    max_size: int = 40,
    mid: float = 100_000.0,
    hostile: bool = False,
    start_position: bool = True,
) -> list[tuple[int, Event]]:
    """A list of ``(now_ns, event)``; time advances by 0..2 s (and may go back if hostile)."""
    n = draw(st.integers(min_size, max_size))
    t = 1_000_000_000
    out: list[tuple[int, Event]] = []
    if start_position:
        out.append((t, PositionSnapshot(t, 0.0, open_orders=(), local_ts=t, startup=True)))
    for _ in range(n):
        step = draw(st.integers(0, 2_000_000_000))
        if hostile and draw(st.integers(0, 9)) == 0:
            step = -step
        t = max(0, t + step)
        out.append((t, draw(market_events(t, mid, hostile))))
    return out
