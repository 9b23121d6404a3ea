"""The book's own age limit in the data-quality gate: a frozen book is noticed while trades
keep flowing; the synthetic market and a quiet-but-alive feed never trip it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.components import Estimates, View
from mmkit.core.events import (
    BBO,
    BookDelta,
    BookSnapshot,
    Event,
    FeedStatus,
    Trade,
    TradeBatch,
    levels,
)
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side
from mmkit.gates import reasons
from mmkit.gates.data_quality import DataQualityGate
from mmkit.gates.params import DataQualityParams

T0 = 1_000 * NS_PER_S


def snap(ts: int = T0, stream: str = "book") -> BookSnapshot:
    return BookSnapshot(
        ts, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0]), stream=stream
    )


def view(m: MarketState) -> View:
    return View(Instrument(), m, Portfolio(0.0, True), 1.0)


def feed(g: DataQualityGate, m: MarketState, ev: Event, now: int) -> None:
    m.apply(ev, now)
    g.on_event(ev, now)


def test_market_state_tracks_the_book_time_of_snapshots_and_deltas_only() -> None:
    m = MarketState()
    assert m.book_update_ns == -1
    m.apply(snap(), T0)
    assert m.book_update_ns == T0
    m.apply(Trade(T0 + 1, 100.5, 1.0, Side.BUY), T0 + 5)
    m.apply(BBO(T0 + 2, 100.0, 1.0, 101.0, 1.0), T0 + 6)
    m.apply(FeedStatus(T0 + 3, "market", connected=True), T0 + 7)
    assert m.book_update_ns == T0
    d = BookDelta(T0 + 4, levels([100.0]), levels([2.0]), levels([]), levels([]))
    m.apply(d, T0 + 8)
    assert m.book_update_ns == T0 + 8
    m.apply(snap(stream="sim"), T0 + 9)  # whatever the book stream is called
    assert m.book_update_ns == T0 + 9


@given(
    st.integers(5_001, 29_000),  # book age, ms: past the book limit, inside the data limit
    st.lists(st.integers(1, 999), min_size=1, max_size=30),  # gaps between trades, ms
)
def test_a_frozen_book_closes_the_gate_while_trades_flow(age_ms: int, gaps: list[int]) -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(), T0)
    t = T0
    now = T0 + age_ms * NS_PER_MS
    # trades keep arriving until "now": the freshest stream is always fresh
    step = max(1, (now - T0) // (len(gaps) + 1))
    for k, gap in enumerate(gaps):
        t = min(now, T0 + (k + 1) * step + gap * NS_PER_MS)
        feed(g, m, Trade(t, 100.5, 0.1, Side.SELL), t)
    feed(g, m, Trade(now, 100.5, 0.1, Side.BUY), now)
    d = g.check(view(m), Estimates(), now)
    assert d is not None and d.reason == reasons.STALE
    assert d.detail["stream"] == "book"
    assert d.detail["age_ms"] == pytest.approx(age_ms)
    assert d.detail["threshold_ms"] == 5_000


def test_the_old_freshest_stream_rule_alone_misses_it() -> None:
    """The same frozen book with the book limit off: the gate stays open (what the issue
    measured: 329 orders priced off a dead book)."""
    g, m = DataQualityGate(DataQualityParams(max_book_age_ms=0)), MarketState()
    feed(g, m, snap(), T0)
    now = T0 + 20 * NS_PER_S
    feed(g, m, Trade(now, 100.5, 0.1, Side.BUY), now)
    assert g.check(view(m), Estimates(), now) is None


@given(st.integers(0, 5_000))
def test_a_book_within_its_limit_keeps_the_gate_open(age_ms: int) -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(), T0)
    now = T0 + age_ms * NS_PER_MS
    feed(g, m, Trade(now, 100.5, 0.1, Side.BUY), now)
    assert g.check(view(m), Estimates(), now) is None


@given(st.floats(100.0, 20_000.0), st.integers(1, 60_000))
def test_the_limit_is_configurable(limit_ms: float, age_ms: int) -> None:
    g = DataQualityGate(DataQualityParams(max_book_age_ms=limit_ms))
    m = MarketState()
    feed(g, m, snap(), T0)
    now = T0 + age_ms * NS_PER_MS
    feed(g, m, Trade(now, 100.5, 0.1, Side.BUY), now)
    d = g.check(view(m), Estimates(), now)
    if age_ms > limit_ms:
        assert d is not None and d.detail["stream"] == "book"
    else:
        assert d is None


def test_everything_silent_reports_the_streams_threshold_first() -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(), T0)
    d = g.check(view(m), Estimates(), T0 + 31 * NS_PER_S)
    assert d is not None and d.detail["threshold_ms"] == 30_000


def test_named_streams_still_each_must_be_fresh() -> None:
    g = DataQualityGate(DataQualityParams(streams=["book", "trades"]))
    m = MarketState()
    feed(g, m, snap(), T0)
    feed(g, m, Trade(T0, 100.5, 1.0, Side.BUY), T0)
    later = T0 + 3 * NS_PER_S
    feed(g, m, snap(later), later)
    assert g.check(view(m), Estimates(), later) is None
    d = g.check(view(m), Estimates(), T0 + 31 * NS_PER_S)
    assert d is not None and d.detail["stream"] == "trades"


def test_the_synthetic_market_never_trips_the_book_limit() -> None:
    """A backtest on the synthetic market (books every 0.5 s) is never halted by it."""
    from mmkit.data.adapter import events_from_chunks
    from mmkit.data.params import SyntheticParams
    from mmkit.data.synthetic import generate_chunks, resolve

    p = resolve(
        SyntheticParams(duration_s=120.0, seed=7, tick=0.1, lot=0.001, A=3.0, chunk_s=60.0),
        Instrument(),
        7,
    )
    g, m = DataQualityGate(), MarketState()
    closed_book = 0
    checks = 0
    for chunk in generate_chunks(p):
        for ev in events_from_chunks(iter([chunk])):
            if isinstance(ev, TradeBatch):
                now = int(ev.columns()[4][-1])
                m.apply(ev, now)
                g.on_trades(ev, now)
            else:
                now = ev.local_ts if ev.local_ts >= 0 else ev.ts
                feed(g, m, ev, now)
            d = g.check(view(m), Estimates(), now)
            checks += 1
            if d is not None and d.detail.get("stream") == "book":
                closed_book += 1
    assert checks > 100
    assert closed_book == 0
    assert math.isfinite(m.mid)
