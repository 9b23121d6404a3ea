"""The data-quality gate: one test per reason, and the open case."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.components import Estimates, GateMode, View
from mmkit.core.events import BookDelta, BookSnapshot, FeedStatus, Trade, levels
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side
from mmkit.gates import reasons
from mmkit.gates.data_quality import DataQualityGate
from mmkit.gates.params import DataQualityParams

T0 = 1_000 * NS_PER_S


def snap(bid: float, ask: float, ts: int = T0, seq: int = -1) -> BookSnapshot:
    bp = levels([bid]) if math.isfinite(bid) else levels([])
    ap = levels([ask]) if math.isfinite(ask) else levels([])
    return BookSnapshot(ts, bp, levels([1.0] * bp.size), ap, levels([1.0] * ap.size), seq=seq)


def view(m: MarketState, known: bool = True) -> View:
    return View(Instrument(), m, Portfolio(0.0, known), 1.0)


def feed(gate: DataQualityGate, m: MarketState, ev: object, now: int) -> None:
    m.apply(ev, now)  # type: ignore[arg-type]
    gate.on_event(ev, now)  # type: ignore[arg-type]


def test_open_on_healthy_market() -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(100, 101), T0)
    assert g.check(view(m), Estimates(), T0 + NS_PER_S) is None


def test_no_data() -> None:
    d = DataQualityGate().check(view(MarketState()), Estimates(), T0)
    assert d is not None and d.reason == reasons.NO_DATA and d.mode is GateMode.HALT


def test_required_stream_never_seen_is_no_data() -> None:
    g, m = DataQualityGate(DataQualityParams(streams=["book", "trades"])), MarketState()
    feed(g, m, snap(100, 101), T0)
    d = g.check(view(m), Estimates(), T0)
    assert d is not None and d.reason == reasons.NO_DATA and d.detail["stream"] == "trades"


@given(st.integers(30_001, 10**7))
def test_stale_carries_age_and_threshold(age_ms: int) -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(100, 101), T0)
    d = g.check(view(m), Estimates(), T0 + age_ms * NS_PER_MS)
    assert d is not None and d.reason == reasons.STALE
    assert d.detail["age_ms"] == pytest.approx(age_ms)
    assert d.detail["threshold_ms"] == 30_000
    assert "Stale {" in d.describe()


def test_not_stale_at_threshold() -> None:
    # the book's own, shorter age limit is off here: this is the streams' threshold
    g, m = DataQualityGate(DataQualityParams(max_book_age_ms=0)), MarketState()
    feed(g, m, snap(100, 101), T0)
    assert g.check(view(m), Estimates(), T0 + 30_000 * NS_PER_MS) is None


def test_stale_per_stream() -> None:
    g = DataQualityGate(DataQualityParams(streams=["book", "trades"]))
    m = MarketState()
    feed(g, m, snap(100, 101), T0)
    feed(g, m, Trade(T0, 100.5, 1.0, Side.BUY), T0)
    later = T0 + 31 * NS_PER_S
    feed(g, m, snap(100, 101, later), later)  # the book is fresh, trades are not
    d = g.check(view(m), Estimates(), later)
    assert d is not None and d.reason == reasons.STALE and d.detail["stream"] == "trades"


@given(st.floats(1.0, 1e6), st.floats(0.0, 0.5))
def test_crossed_carries_bid_and_ask(bid: float, frac: float) -> None:
    below = bid * frac
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(bid, bid - below), T0)
    d = g.check(view(m), Estimates(), T0)
    assert d is not None and d.reason == reasons.CROSSED
    assert d.detail["bid"] == bid and d.detail["ask"] == bid - below


@pytest.mark.parametrize(
    ("bid", "ask", "side"),
    [(math.nan, 101.0, "bid"), (100.0, math.nan, "ask"), (math.nan, math.nan, "bid")],
)
def test_empty_book(bid: float, ask: float, side: str) -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(bid, ask), T0)
    d = g.check(view(m), Estimates(), T0)
    assert d is not None and d.reason == reasons.EMPTY_BOOK and d.detail["side"] == side


def test_timestamp_regression_holds_then_reopens() -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(100, 101, T0), T0)
    feed(g, m, snap(100, 101, T0 - NS_PER_S), T0 + NS_PER_MS)
    d = g.check(view(m), Estimates(), T0 + 2 * NS_PER_MS)
    assert d is not None and d.reason == reasons.TIMESTAMP_REGRESSION
    assert g.check(view(m), Estimates(), T0 + 2 * NS_PER_S) is None


def test_interleaved_streams_are_not_a_regression() -> None:
    """Binance sends depth, trades and book tickers on separate streams whose exchange
    times interleave: only a stream running backwards against itself is a regression."""
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(100, 101, T0), T0)
    feed(g, m, Trade(T0 - NS_PER_MS, 100.5, 1.0, Side.BUY, local_ts=T0), T0)
    feed(g, m, snap(100, 101, T0 + 1), T0 + 1)
    assert g.check(view(m), Estimates(), T0 + 2) is None
    feed(g, m, Trade(T0 - 2 * NS_PER_MS, 100.5, 1.0, Side.BUY, local_ts=T0), T0 + 3)
    d = g.check(view(m), Estimates(), T0 + 4)
    assert d is not None and d.reason == reasons.TIMESTAMP_REGRESSION


def test_sequence_gap_until_snapshot() -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(100, 101, T0, seq=10), T0)
    gap = BookDelta(
        T0 + 1, levels([100.0]), levels([2.0]), levels([]), levels([]), seq=15, prev_seq=12
    )
    feed(g, m, gap, T0 + 1)
    d = g.check(view(m), Estimates(), T0 + 1)
    assert d is not None and d.reason == reasons.SEQUENCE_GAP
    feed(g, m, snap(100, 101, T0 + 2, seq=20), T0 + 2)
    assert g.check(view(m), Estimates(), T0 + 2) is None


def test_feed_disconnected() -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(100, 101), T0)
    feed(g, m, FeedStatus(T0, "book", connected=False), T0)
    d = g.check(view(m), Estimates(), T0)
    assert d is not None and d.reason == reasons.FEED_DISCONNECTED


def test_position_unknown() -> None:
    g, m = DataQualityGate(), MarketState()
    feed(g, m, snap(100, 101), T0)
    d = g.check(view(m, known=False), Estimates(), T0)
    assert d is not None and d.reason == reasons.POSITION_UNKNOWN
    g2 = DataQualityGate(DataQualityParams(check_position_known=False))
    assert g2.check(view(m, known=False), Estimates(), T0) is None


def test_emergency_flag_from_params() -> None:
    d = DataQualityGate(DataQualityParams(emergency=True)).check(
        view(MarketState()), Estimates(), T0
    )
    assert d is not None and d.emergency


def test_every_reason_is_exercised() -> None:
    assert set(reasons.DATA_QUALITY_REASONS) == {
        reasons.NO_DATA,
        reasons.FEED_DISCONNECTED,
        reasons.STALE,
        reasons.SEQUENCE_GAP,
        reasons.TIMESTAMP_REGRESSION,
        reasons.EMPTY_BOOK,
        reasons.CROSSED,
        reasons.POSITION_UNKNOWN,
    }
