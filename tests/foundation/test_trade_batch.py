"""Trade batches: validation, row-by-row equivalence of the market state and the engine's
delivery (whole to ``on_trades``, rows to everyone else)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.assembly import build_engine
from mmkit.audit.invariants.estimators import estimates_diff
from mmkit.components import Estimates, GateDecision, View
from mmkit.config.loader import load_settings
from mmkit.core.actions import Action
from mmkit.core.batching import stream_regressions
from mmkit.core.events import (
    _SMALL_BATCH,
    BookSnapshot,
    Event,
    EventKind,
    Timer,
    Trade,
    TradeBatch,
    levels,
)
from mmkit.core.market import MarketState
from mmkit.core.types import Instrument, Side
from mmkit.engine import Engine
from mmkit.plugin_manager import PluginHost

T0 = 1_700_000_000_000_000_000
MS = 1_000_000

HOSTILE = st.sampled_from([float("nan"), float("inf"), -1.0, 0.0, 1e300, 5e-324])
PX = st.one_of(st.floats(99.0, 101.0), HOSTILE)
SZ = st.one_of(st.floats(1e-3, 5.0), HOSTILE)


@st.composite
def batches(draw: Any, now: int = T0, stream: str = "trades", max_rows: int = 8) -> TradeBatch:
    """1 to ``max_rows`` rows received at or before ``now``; exchange times jitter (and go
    back)."""
    m = draw(st.integers(1, max_rows))
    gaps = draw(st.lists(st.integers(0, 400 * MS), min_size=m, max_size=m))
    recv = list(itertools.accumulate(gaps))
    recv = [now - recv[-1] + r for r in recv]
    skew = draw(st.lists(st.integers(-2_000 * MS, 50 * MS), min_size=m, max_size=m))
    return TradeBatch(
        np.array([max(0, r + s) for r, s in zip(recv, skew, strict=True)], np.int64),
        np.array(draw(st.lists(PX, min_size=m, max_size=m)), np.float64),
        np.array(draw(st.lists(SZ, min_size=m, max_size=m)), np.float64),
        np.array(draw(st.lists(st.sampled_from([1, -1]), min_size=m, max_size=m)), np.int8),
        np.array(recv, np.int64),
        stream,
    )


def _cols(m: int, **over: Any) -> dict[str, Any]:
    cols: dict[str, Any] = {
        "times": np.arange(m, dtype=np.int64),
        "px": np.full(m, 100.0),
        "sz": np.full(m, 1.0),
        "side": np.ones(m, dtype=np.int8),
        "recv": np.arange(m, dtype=np.int64),
    }
    cols.update(over)
    return cols


@pytest.mark.parametrize(
    ("cols", "message"),
    [
        (_cols(0), "at least one trade"),
        (_cols(3, px=np.full(2, 100.0)), "differ in length: times 3, px 2"),
        (_cols(3, recv=np.array([5, 4, 6], np.int64)), "receive times go backwards"),
        (_cols(2, side=np.array([1, 0], np.int8)), r"\+1 \(buy\) or -1 \(sell\)"),
    ],
)
def test_malformed_batches_are_refused_naming_the_problem(
    cols: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TradeBatch(**cols)


def test_of_refuses_mixed_streams_and_empty_lists() -> None:
    a, b = Trade(1, 100.0, 1.0, Side.BUY), Trade(2, 100.0, 1.0, Side.SELL, stream="other")
    with pytest.raises(ValueError, match="one stream"):
        TradeBatch.of([a, b])
    with pytest.raises(ValueError, match="at least one"):
        TradeBatch.of([])


@given(batches())
def test_rows_round_trip(b: TradeBatch) -> None:
    rows = b.trades()
    assert len(rows) == len(b)
    assert [t for _, t in rows] == b.recv.tolist()
    again = TradeBatch.of([tr for tr, _ in rows])
    np.testing.assert_array_equal(again.px, b.px)  # NaN-aware
    assert again.times.tolist() == b.times.tolist()
    assert again.recv.tolist() == b.recv.tolist()  # local_ts carries the receive time
    assert (b.ts, b.local_ts) == (b.times.tolist()[-1], b.recv.tolist()[-1])
    assert b.kind is EventKind.TRADE_BATCH and b.kind.is_market_data


@given(st.integers(-5, 50), st.lists(st.integers(-3, 60), min_size=1, max_size=12))
def test_stream_regressions_count_as_row_by_row(last: int, times: list[int]) -> None:
    count, last_row, latest = 0, -1, last
    for i, t in enumerate(times):  # the model: MarketState / data-quality bookkeeping
        if t < latest:
            count, last_row = count + 1, i
        else:
            latest = t
    assert stream_regressions(last, times) == (count, last_row, latest)


@given(st.integers(-5, 50), st.lists(st.integers(-3, 60), min_size=1, max_size=40))
def test_stream_regressions_of_an_array_are_those_of_its_list(last: int, times: list[int]) -> None:
    """The array path (a backtest's batches) answers as the list path, in Python ints."""
    got = stream_regressions(last, np.array(times, np.int64))
    assert got == stream_regressions(last, times)
    assert all(type(x) is int for x in got)


@given(
    st.integers(1, 3 * _SMALL_BATCH),
    st.data(),
)
def test_the_constructor_checks_every_size_of_batch_alike(m: int, data: Any) -> None:
    """Small batches are checked as lists, larger ones with numpy: both refuse exactly the
    batches whose receive times go back or whose sides are not +1 / -1, and ``columns``,
    ``ts``, ``local_ts`` and ``len`` read the same Python values either way."""
    recv = data.draw(st.lists(st.integers(0, 50), min_size=m, max_size=m))
    side = data.draw(st.lists(st.sampled_from([1, -1, 1, -1, 0, 2]), min_size=m, max_size=m))
    cols = _cols(m, recv=np.array(recv, np.int64), side=np.array(side, np.int8))
    backwards = any(a > b for a, b in itertools.pairwise(recv))
    bad = any(d not in (1, -1) for d in side)
    if backwards or bad:
        with pytest.raises(ValueError, match="go backwards" if backwards else "sides are"):
            TradeBatch(**cols)
        return
    for b in (TradeBatch(**cols), TradeBatch.checked_by_caller(**cols)):
        last = b.last()  # before columns(): read from the arrays for a large batch
        assert [type(x) for x in last] == [int, float, float, int, int]
        assert list(b.times_for_scan()) == times_of(cols)
        assert b.columns() == tuple(c.tolist() for c in cols.values())
        assert last == tuple(c[-1] for c in b.columns()) == b.last()
        assert (b.ts, b.local_ts, len(b)) == (m - 1, recv[-1], m)
        assert type(b.ts) is int and type(b.local_ts) is int


def times_of(cols: dict[str, Any]) -> list[int]:
    return [int(x) for x in cols["times"]]


def _state(m: MarketState) -> dict[str, Any]:
    out = {}
    for name in MarketState.__slots__:
        v = getattr(m, name)
        out[name] = v.tolist() if isinstance(v, np.ndarray) else v
    return out


@settings(max_examples=200)
@given(st.lists(batches(max_rows=40), min_size=1, max_size=4), st.booleans())
def test_market_state_takes_a_batch_as_its_rows(bs: list[TradeBatch], prime: bool) -> None:
    whole, rows = MarketState(), MarketState()
    if prime:  # a stream that already has a latest timestamp
        t = Trade(T0 - 1_000 * MS, 100.0, 1.0, Side.BUY)
        whole.apply(t, T0 - 1_000 * MS)
        rows.apply(t, T0 - 1_000 * MS)
    for b in bs:
        whole.apply(b, b.local_ts)
        for tr, now in b.trades():
            rows.apply(tr, now)
        assert repr(_state(whole)) == repr(_state(rows))  # repr: NaN equal to NaN


class RowRecorder:
    """An estimator (or gate) without on_trades: it sees rows as Trade events."""

    def __init__(self) -> None:
        self.seen: list[tuple[Event, int]] = []

    def on_event(self, event: Event, now_ns: int) -> None:
        self.seen.append((event, now_ns))

    def estimate(self, out: Estimates, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        return None


class BatchRecorder(RowRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[TradeBatch, int]] = []

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        self.batches.append((batch, now_ns))


class RowExecutor:
    def __init__(self) -> None:
        self.seen: list[tuple[Event, int]] = []

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        self.seen.append((event, now_ns))
        return []

    def reconcile(self, ladder: Any, view: View, now_ns: int) -> list[Action]:
        return []

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        return []


class NoQuoter:
    def quote(self, view: View, est: Estimates, now_ns: int) -> Any:
        from mmkit.components import EMPTY_LADDER

        return EMPTY_LADDER


def test_engine_gives_batches_whole_or_row_by_row() -> None:
    rows_est, batch_est, rows_gate = RowRecorder(), BatchRecorder(), RowRecorder()
    ex = RowExecutor()
    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[("rows", rows_est), ("batch", batch_est)],
        gates=[("rows_gate", rows_gate)],
        quoter=("none", NoQuoter()),
        executor=("rows_exec", ex),
        requote_on_market_events=False,
    )
    b = TradeBatch.of(
        [Trade(T0, 100.0, 1.0, Side.BUY), Trade(T0 + 3 * MS, 100.5, 2.0, Side.SELL)],
        recv=[T0 + MS, T0 + 4 * MS],
    )
    assert eng.on_event(b, b.local_ts) == []
    assert batch_est.batches == [(b, T0 + 4 * MS)]
    assert batch_est.seen == []  # never through on_event
    for comp in (rows_est, rows_gate, ex):
        got = []
        for ev, now in comp.seen:
            assert isinstance(ev, Trade)  # the batch reaches row-wise components as its rows
            got.append((ev.ts, ev.px, ev.sz, ev.side, now))
        assert got == [
            (T0, 100.0, 1.0, Side.BUY, T0 + MS),
            (T0 + 3 * MS, 100.5, 2.0, Side.SELL, T0 + 4 * MS),
        ]
    assert eng.market.last_trade_px == 100.5


class Raising(BatchRecorder):
    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        raise RuntimeError("vectorised path broke")


def test_a_raising_on_trades_is_a_fault_not_a_crash() -> None:
    faults: list[str] = []

    class Obs:
        def on_fault(self, component: str, message: str, now_ns: int) -> None:
            faults.append(f"{component}: {message}")

        def __getattr__(self, name: str) -> Any:
            return lambda *a, **k: None

    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[("bad", Raising())],
        quoter=("none", NoQuoter()),
        executor=("rows_exec", RowExecutor()),
        observer=Obs(),
    )
    b = TradeBatch.of([Trade(T0, 100.0, 1.0, Side.BUY)])
    eng.on_event(b, b.local_ts)
    assert faults == ["estimator bad: on_trades raised RuntimeError: vectorised path broke"]
    assert eng.faults == 1


def _book(ts: int, mid: float) -> BookSnapshot:
    return BookSnapshot(
        ts,
        levels([mid - 0.05, mid - 0.1]),
        levels([1.0, 2.0]),
        levels([mid + 0.05, mid + 0.1]),
        levels([1.0, 2.0]),
        local_ts=ts,
    )


def _default_engine() -> Engine:
    host = PluginHost(load_entrypoints=False)
    # timer requotes: with event-driven requotes a batch is one requote, its rows are one each
    sets = ["instrument.tick=0.01", "engine.requote=timer"]
    s = load_settings(None, host.registry, env={}, sets=sets)
    return build_engine(s, host)


@settings(max_examples=25)
@given(st.lists(st.tuples(st.floats(0.995, 1.005), batches()), min_size=1, max_size=12))
def test_builtin_engine_estimates_are_the_same_batched_or_row_by_row(
    steps: list[tuple[float, TradeBatch]],
) -> None:
    batched, rows = _default_engine(), _default_engine()
    now, mid = T0, 100.0
    for i, (move, b) in enumerate(steps):
        now += 500 * MS
        mid *= move
        book = _book(now, mid)
        shift = now - b.local_ts  # the batch arrives just after the book
        b = TradeBatch(b.times + shift, b.px, b.sz, b.side, b.recv + shift)
        for eng in (batched, rows):
            eng.on_event(book, now)
        batched.on_event(b, b.local_ts)
        for tr, t in b.trades():
            rows.on_event(tr, t)
        for eng in (batched, rows):
            eng.on_event(Timer(now, local_ts=now), now)
        diff = estimates_diff(batched.estimates, rows.estimates)
        assert not diff, f"step {i}: {diff}"
        assert batched.last_ladder == rows.last_ladder
