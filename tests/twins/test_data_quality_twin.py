"""The data-quality gate's compiled twin decides exactly as the Python gate (issue 20).

The reference :class:`DataQualityGate` is the oracle: hypothesis streams (the audit's
adversarial ops after its busy market, trade batches whole and row by row, feed faults,
position flips) drive it and :class:`DataQualityGateTwin` side by side, and after every
step both are checked at the step's time and at the edges of every threshold (data age,
book age, regression hold: one ns before, at, after); decisions (reason, detail, mode,
emergency) and state must be identical. A twin broken by one ns or in one branch fails the
same comparison. The real Binance capture replays through both.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st

from mmkit.audit.invariants.estimators import _event_of, adversarial_ops, busy_market
from mmkit.components import Estimates, View
from mmkit.core.batching import stream_regressions
from mmkit.core.events import BookSnapshot, Event, FeedStatus, Trade, TradeBatch, levels
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, NS_PER_S, Instrument, Side
from mmkit.gates import _kernels_data_quality_twin as dqk
from mmkit.gates import reasons
from mmkit.gates.data_quality import DataQualityGate
from mmkit.gates.data_quality_twin import (
    DataQualityGateTwin,
    decisions_differ,
    outputs_differ,
    state_differ,
)
from mmkit.gates.params import DataQualityParams

T0 = 1_700_000_000 * NS_PER_S

params_st = st.builds(
    DataQualityParams,
    max_data_age_ms=st.sampled_from([1.0, 500.0, 5_000.0, 30_000.0, 0.5, 1e300]),
    max_book_age_ms=st.sampled_from([0.0, 1.0, 600.0, 5_000.0, 2.5]),
    streams=st.sampled_from([[], ["book"], ["trades"], ["trades", "book"], ["nope", "book"]]),
    regression_hold_ms=st.sampled_from([0.0, 1.0, 1_000.0, 20_000.0, 1e-7]),
    check_position_known=st.booleans(),
    emergency=st.booleans(),
)

#: how the two gates get trade batches: (reference, twin), "whole" to on_trades, "rows"
#: to on_event one row at a time (the engine's two deliveries)
DELIVERIES = [("whole", "whole"), ("rows", "rows"), ("whole", "rows"), ("rows", "whole")]


def _view(m: MarketState, known: bool = True) -> View:
    return View(Instrument(), m, Portfolio(0.0, known), 1.0)


def _deliver(gate: DataQualityGate, ev: Any, now: int, how: str) -> None:
    if isinstance(ev, TradeBatch):
        if how == "whole":
            gate.on_trades(ev, ev.local_ts)
        else:
            for tr, t in ev.trades():
                gate.on_event(tr, t)
    else:
        gate.on_event(ev, now)


def _edges(ref: DataQualityGate, m: MarketState, now: int) -> list[int]:
    """Times worth checking after a step: now, and one ns either side of every threshold
    the gate is about to cross (data age from each stream, book age, regression hold)."""
    out = [now]
    marks = [(t, ref._threshold_ns) for t in m.last_update.values()]
    marks.append((m.book_update_ns, ref._book_threshold_ns))
    marks.append((ref._last_regression_ns, ref._hold_ns))
    for t, width in marks:
        if t >= 0 and abs(width) < 1 << 62:
            out += [t + width - 1, t + width, t + width + 1]
    return out


def drive(
    ref: DataQualityGate,
    twin: DataQualityGate,
    ops: list[tuple[int, tuple[Any, ...]]],
    delivery: tuple[str, str],
    known: list[bool],
    *,
    edges: bool = True,
) -> None:
    """Feed both gates the busy market then ``ops`` (the market state first, as the engine
    does), and assert identical outputs after every step."""
    market = MarketState()
    view = _view(market)
    est = Estimates(warmed_up=True)
    now = T0
    mid = [100.0]
    for i, (step, op) in enumerate(busy_market() + ops):
        now = max(0, now + step)
        ev = _event_of(op, now, mid)
        market.apply(ev, now)
        _deliver(ref, ev, now, delivery[0])
        _deliver(twin, ev, now, delivery[1])
        view.portfolio.position_known = known[i % len(known)]
        for t in _edges(ref, market, now) if edges else [now]:
            diff = outputs_differ(ref, twin, view, est, t)
            assert not diff, f"step {i} ({op[0]}), checked at now{t - now:+d} ns: {diff}"


# -- the twin matches the reference ----------------------------------------------------
def _stream_test(max_examples: int) -> Callable[[], None]:
    """The twin-equals-reference property over ``max_examples`` adversarial streams (one
    body for the quick test and the slow one)."""

    @settings(max_examples=max_examples, suppress_health_check=[HealthCheck.too_slow])
    @given(
        params_st,
        adversarial_ops(40.0),
        st.sampled_from(DELIVERIES),
        st.lists(st.booleans(), min_size=1, max_size=5),
    )
    def run(
        params: DataQualityParams,
        ops: list[tuple[int, tuple[Any, ...]]],
        delivery: tuple[str, str],
        known: list[bool],
    ) -> None:
        note(f"params={params} delivery={delivery} known={known}")
        ref = DataQualityGate(params, name="dq")
        drive(ref, ref.twin(), ops, delivery, known)

    return run


test_twin_equals_reference_on_adversarial_streams = _stream_test(25)
test_twin_equals_reference_on_many_streams = pytest.mark.slow(_stream_test(300))


def test_every_kernel_answer_is_reached_and_equal() -> None:
    """A scripted stream through each closing reason (and the open gate): the twin reports
    each exactly as the reference, so no branch of the twin goes untested by chance."""
    p = DataQualityParams(streams=[], regression_hold_ms=1_000.0)
    ref, twin = DataQualityGate(p), DataQualityGateTwin(p)
    m = MarketState()
    seen: set[str] = set()

    def step(ev: Event | None, now: int, known: bool = True, at: int | None = None) -> None:
        if ev is not None:
            m.apply(ev, now)
            _deliver(ref, ev, now, "whole")
            _deliver(twin, ev, now, "whole")
        v = _view(m, known)
        t = now if at is None else at
        diff = outputs_differ(ref, twin, v, Estimates(), t)
        assert not diff, diff
        d = ref.check(v, Estimates(), t)
        seen.add("open" if d is None else d.reason)

    def book(bid: float, ask: float, t: int) -> BookSnapshot:
        bp = levels([bid]) if math.isfinite(bid) else levels([])
        ap = levels([ask]) if math.isfinite(ask) else levels([])
        return BookSnapshot(t, bp, levels([1.0] * bp.size), ap, levels([1.0] * ap.size))

    t = T0
    step(None, t)  # NoData
    step(book(100, 101, t), t)  # open
    step(Trade(t, 100.5, 0.1, Side.BUY), t)
    step(FeedStatus(t, "trades", connected=False), t)  # FeedDisconnected
    step(FeedStatus(t, "trades", connected=True), t)  # SequenceGap (until a snapshot)
    step(book(100, 101, t), t)
    step(None, t, known=False)  # PositionUnknown
    step(None, t, at=t + 6 * NS_PER_S)  # Stale book
    step(None, t, at=t + 31 * NS_PER_S)  # Stale streams
    step(book(101, 100, t + 1), t + 1)  # Crossed
    step(book(math.nan, 100, t + 2), t + 2)  # EmptyBook bid
    step(book(100, math.nan, t + 3), t + 3)  # EmptyBook ask
    step(book(100, 101, t + 4), t + 4)
    step(Trade(t - NS_PER_S, 100.5, 0.1, Side.BUY), t + 5)  # a regression: held
    step(None, t + 5, at=t + 5 + NS_PER_S)  # the hold's end: open
    want = {
        "open",
        reasons.NO_DATA,
        reasons.FEED_DISCONNECTED,
        reasons.POSITION_UNKNOWN,
        reasons.STALE,
        reasons.CROSSED,
        reasons.EMPTY_BOOK,
        reasons.TIMESTAMP_REGRESSION,
        reasons.SEQUENCE_GAP,
    }
    assert want <= seen, want - seen


def test_configured_streams_name_the_same_stream() -> None:
    """With ``streams`` set, a missing stream and the first stale one are named as the
    reference names them."""
    p = DataQualityParams(streams=["trades", "book", "bbo"], max_book_age_ms=0.0)
    ref, twin = DataQualityGate(p), DataQualityGateTwin(p)
    m = MarketState()
    stream: list[tuple[Event, int]] = [
        (BookSnapshot(T0, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0])), T0),
        (Trade(T0, 100.5, 0.1, Side.SELL), T0 + NS_PER_S),
    ]
    for ev, now in stream:
        m.apply(ev, now)
        ref.on_event(ev, now)
        twin.on_event(ev, now)
    v = _view(m)
    for at in (T0, T0 + 30 * NS_PER_S, T0 + 30 * NS_PER_S + 1, T0 + 40 * NS_PER_S):
        assert not outputs_differ(ref, twin, v, Estimates(), at)
    d = twin.check(v, Estimates(), T0)
    assert d is not None and dict(d.detail) == {"stream": "bbo"}
    m.apply(BBO_EVENT, T0)
    d = twin.check(v, Estimates(), T0 + 30 * NS_PER_S + 1)
    assert d is not None and d.reason == reasons.STALE and d.detail["stream"] == "book"
    assert not outputs_differ(ref, twin, v, Estimates(), T0 + 30 * NS_PER_S + 1)


def _bbo() -> Any:
    from mmkit.core.events import BBO

    return BBO(T0, 100.0, 1.0, 101.0, 1.0)


BBO_EVENT = _bbo()


# -- the state array and its edges -------------------------------------------------------
def test_many_streams_grow_the_state_and_read_back() -> None:
    """More streams than the first allocation holds: the array grows, every stream keeps
    its latest time, and ``_last_md_ts`` reads as the reference's dict."""
    ref, twin = DataQualityGate(), DataQualityGateTwin()
    for k in range(40):
        ev = Trade(T0 + k, 100.0, 1.0, Side.BUY, stream=f"s{k % 13}")
        back = Trade(T0 - k, 100.0, 1.0, Side.BUY, stream=f"s{(k * 7) % 13}")
        for g in (ref, twin):
            g.on_event(ev, T0 + 2 * k)
            g.on_event(back, T0 + 2 * k + 1)
    assert not state_differ(ref, twin)
    assert twin._s.shape[0] >= dqk.BASE + dqk.STREAM_CELLS * 13
    assert twin._regressions == ref._regressions > 0


def test_a_stream_first_seen_going_back_is_not_kept() -> None:
    """A stream whose first time is below -1 counts a regression and is not kept (the
    reference's ``dict.get(stream, -1)``)."""
    ref, twin = DataQualityGate(), DataQualityGateTwin()
    for g in (ref, twin):
        g.on_event(Trade(-5, 1.0, 1.0, Side.BUY), 3)
    assert ref._last_md_ts == twin._last_md_ts == {}
    assert ref._regressions == twin._regressions == 1
    assert not state_differ(ref, twin)


@given(
    st.integers(-3, 50),
    st.lists(st.integers(-3, 50), min_size=1, max_size=30),
)
def test_batch_kernel_counts_as_stream_regressions(last: int, times: list[int]) -> None:
    """The batch kernel against :func:`mmkit.core.batching.stream_regressions` (the
    reference's bookkeeping, written separately): count, last regressing row, latest."""
    s = np.zeros(dqk.BASE + dqk.STREAM_CELLS, np.int64)
    s[dqk.BASE] = last
    s[dqk.LAST_REGRESSION] = -1
    recv = np.arange(len(times), dtype=np.int64) * 10 + 7
    n = dqk.on_trade_batch(s, 0, np.asarray(times, np.int64), recv)
    count, last_row, latest = stream_regressions(last, times)
    assert n == count == s[dqk.REGRESSIONS]
    assert s[dqk.LAST_REGRESSION] == (recv[last_row] if count else -1)
    if count < len(times):
        assert s[dqk.BASE] == latest and s[dqk.BASE + 1] == 1
    else:
        assert s[dqk.BASE] == last and s[dqk.BASE + 1] == 0


@given(
    st.sampled_from([-(1 << 63), -(1 << 62), -1, 0, 1, (1 << 62) - 1, 1 << 62, (1 << 63) - 1]),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.integers(-(1 << 63), (1 << 63) - 1),
)
def test_times_at_the_int64_edges_decide_as_the_reference(now: int, t: int, book: int) -> None:
    """Times near or at the int64 edges (where a difference would overflow) are decided by
    the reference's arbitrary-precision code: the same decision, no wrap-around."""
    ref, twin = DataQualityGate(), DataQualityGateTwin()
    m = MarketState()
    m.apply(BookSnapshot(0, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0])), 0)
    m.last_update["book"] = t
    m.book_update_ns = book
    diff = outputs_differ(ref, twin, _view(m), Estimates(), now)
    assert not diff, diff


def test_times_beyond_int64_are_refused_by_name() -> None:
    twin = DataQualityGateTwin(name="dq")
    with pytest.raises(ValueError, match=r"gate 'dq'.*event ts=.*int64"):
        twin.on_event(Trade(1 << 64, 1.0, 1.0, Side.BUY), 0)
    with pytest.raises(ValueError, match=r"now_ns=1\.5"):
        twin.on_event(Trade(1, 1.0, 1.0, Side.BUY), 1.5)  # type: ignore[arg-type]
    m = MarketState()
    m.apply(BookSnapshot(0, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0])), 0)
    with pytest.raises(ValueError, match=r"now_ns=.*int64"):
        twin.check(_view(m), Estimates(), 1 << 64)


def test_whole_float_times_decide_as_the_reference() -> None:
    """A time given as a whole float (a caller's slip, not a feed's) is taken at its value."""
    ref, twin = DataQualityGate(), DataQualityGateTwin()
    m = MarketState()
    m.apply(BookSnapshot(0, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0])), 0)
    for now in (0.0, 6e9, 31e9):
        assert not outputs_differ(ref, twin, _view(m), Estimates(), now)  # type: ignore[arg-type]


# -- the comparison catches a broken twin -------------------------------------------------
class _HoldOneNsLong(DataQualityGateTwin):
    """Wrong by one ns: stays closed one ns longer after a timestamp regression."""

    def __init__(self, params: DataQualityParams | None = None, name: str = "dq") -> None:
        super().__init__(params, name)
        self._s[dqk.HOLD] += 1


class _AskCalledBid(DataQualityGateTwin):
    """Wrong in one branch: an empty ask side is reported as the bid side."""

    def _decision(self, code: int, view: View, est: Estimates, now_ns: int) -> Any:
        if code == dqk.EMPTY_ASK:
            code = dqk.EMPTY_BID
        return super()._decision(code, view, est, now_ns)


@pytest.mark.parametrize("broken", [_HoldOneNsLong, _AskCalledBid])
def test_a_broken_twin_is_caught(broken: type[DataQualityGateTwin]) -> None:
    """The hypothesis comparison fails on a twin that is wrong by one ns or in one branch
    (no shrinking: finding it is what counts; the explicit example makes the one-branch
    case certain whatever the random draw)."""
    params = DataQualityParams()

    @settings(max_examples=200, phases=[Phase.explicit, Phase.generate], database=None)
    @given(adversarial_ops(40.0), st.sampled_from(DELIVERIES))
    @example([(0, ("raw_book", [100.0], [], [1.0]))], ("whole", "whole"))  # bid-only book
    def run(ops: list[tuple[int, tuple[Any, ...]]], delivery: tuple[str, str]) -> None:
        drive(DataQualityGate(params, "dq"), broken(params, "dq"), ops, delivery, [True])

    with pytest.raises(AssertionError, match="step"):
        run()


def test_the_comparison_sees_every_field() -> None:
    """``decisions_differ`` names each field that differs, NaN equals NaN, and types
    count (``1`` is not ``1.0``)."""
    from mmkit.components import GateDecision, GateMode

    a = GateDecision("g", "Stale", {"age_ms": math.nan, "stream": "book"})
    assert (
        decisions_differ(a, GateDecision("g", "Stale", {"age_ms": math.nan, "stream": "book"}))
        == []
    )
    for b, field in [
        (None, "decision"),
        (GateDecision("h", "Stale", dict(a.detail)), "gate"),
        (GateDecision("g", "Crossed", dict(a.detail)), "reason"),
        (GateDecision("g", "Stale", dict(a.detail), mode=GateMode.REDUCE_ONLY), "mode"),
        (GateDecision("g", "Stale", dict(a.detail), emergency=True), "emergency"),
        (GateDecision("g", "Stale", {"age_ms": 1.0, "stream": "book"}), "detail['age_ms']"),
        (GateDecision("g", "Stale", {"stream": "book", "age_ms": math.nan}), "detail keys"),
        (GateDecision("g", "Stale", {"age_ms": math.nan, "stream": 1}), "detail['stream']"),
    ]:
        diff = decisions_differ(a, b)
        assert diff and diff[0].startswith(field), (field, diff)


# -- the twin() method ---------------------------------------------------------------------
def test_twin_method_gives_a_fresh_twin_with_the_same_parameters() -> None:
    p = DataQualityParams(max_data_age_ms=700.0, streams=["book"], emergency=True)
    ref = DataQualityGate(p, name="dq2")
    ref.on_event(Trade(T0, 1.0, 1.0, Side.BUY), T0)
    twin = ref.twin()
    assert type(twin) is DataQualityGateTwin
    assert twin.params == p and twin.name == "dq2"
    assert twin._last_md_ts == {} and twin._regressions == 0
    assert not state_differ(DataQualityGate(p, name="dq2"), twin)
    assert type(twin.twin()) is DataQualityGateTwin


def test_importing_the_reference_does_not_import_the_kernels() -> None:
    code = (
        "import sys, mmkit.gates.data_quality;"
        "assert 'mmkit.gates._kernels_data_quality_twin' not in sys.modules;"
        "assert 'numba' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- a real capture ------------------------------------------------------------------------
@pytest.mark.slow
def test_real_binance_capture_decides_identically(shared_data: Path) -> None:
    """The Binance USD-M BTC capture (94k events: depth deltas, trades, book tickers),
    checked after every event at its receive time and 6 s later (book stale): identical
    decisions and state, and the gate both opens and closes on it."""
    from mmkit.data.replay import ReplayFeed

    path = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    p = DataQualityParams(regression_hold_ms=200.0)
    ref, twin = DataQualityGate(p), DataQualityGateTwin(p)
    m = MarketState()
    v = _view(m)
    est = Estimates()
    reasons_seen: dict[str, int] = {}
    for i, ev in enumerate(ReplayFeed([str(path)], "binance").events()):
        now = ev.local_ts if ev.local_ts >= 0 else ev.ts
        m.apply(ev, now)
        _deliver(ref, ev, now, "whole")
        _deliver(twin, ev, now, "whole")
        for at in (now, now + 6 * NS_PER_S) if i % 50 == 0 else (now,):
            d_ref = ref.check(v, est, at)
            d_twin = twin.check(v, est, at)
            diff = decisions_differ(d_ref, d_twin) + state_differ(ref, twin)
            assert not diff, f"event {i} at +{(at - now) / NS_PER_MS} ms: {diff}"
            key = "open" if d_ref is None else d_ref.reason
            reasons_seen[key] = reasons_seen.get(key, 0) + 1
    assert reasons_seen.get("open", 0) > 1000, reasons_seen
    assert reasons_seen.get(reasons.STALE, 0) > 100, reasons_seen


# -- through the engine ----------------------------------------------------------------------
def _engine(gate: DataQualityGate) -> Any:
    from mmkit.audit.harness import ScriptedQuoter
    from mmkit.audit.invariants.execution import INSTRUMENT, ladder
    from mmkit.engine import Engine
    from mmkit.execution.smart_executor import SmartExecutor

    return Engine(
        instrument=INSTRUMENT,
        max_position=3.0,
        gates=[("dq", gate)],
        quoter=("scripted", ScriptedQuoter(ladder(99, 101, 2))),
        executor=("smart", SmartExecutor(instrument=INSTRUMENT)),
    )


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(params_st, adversarial_ops(40.0))
def test_engines_with_reference_and_twin_act_identically(
    params: DataQualityParams, ops: list[tuple[int, tuple[Any, ...]]]
) -> None:
    """Two engines, one with the reference gate and one with its twin, fed the same
    events (the engine hands batches whole to ``on_trades``): the same actions after every
    event, and the same closed gates with the same decisions."""
    a, b = _engine(DataQualityGate(params, "dq")), _engine(DataQualityGateTwin(params, "dq"))
    now = T0
    mid = [100.0]
    for i, (step, op) in enumerate(busy_market() + ops):
        now = max(0, now + step)
        ev = _event_of(op, now, mid)
        at = ev.local_ts if isinstance(ev, TradeBatch) else now
        acts_a, acts_b = a.on_event(ev, at), b.on_event(ev, at)
        assert acts_a == acts_b, f"step {i} ({op[0]}): {acts_a} != {acts_b}"
        assert list(a.closed) == list(b.closed), f"step {i}"
        for name in a.closed:
            diff = decisions_differ(a.closed[name], b.closed[name])
            assert not diff, f"step {i} ({op[0]}): {diff}"
    assert a.faults == b.faults


@pytest.mark.parametrize(
    "invariant", ["gates.fail_safe", "gates.data_quality_closes", "gates.batch_equivalence"]
)
def test_the_gate_invariants_pass_on_the_twin(invariant: str) -> None:
    """The audit's own gate invariants hold the twin as they hold the reference."""
    from mmkit.audit.invariant import AuditContext, AuditTarget
    from mmkit.audit.invariants.execution import INSTRUMENT
    from mmkit.audit.invariants.gates import INVARIANTS
    from mmkit.registry import BuildContext, ComponentSpec, RiskLimits

    def build(ctx: BuildContext[Any]) -> DataQualityGateTwin:
        return DataQualityGateTwin(ctx.params, name=ctx.name)

    spec = ComponentSpec("gate", "dq_twin", build, DataQualityParams, "test", "tests")
    tgt = AuditTarget(spec, DataQualityParams(), INSTRUMENT, RiskLimits(max_position=3.0))
    by_id = {inv.id: inv for inv in INVARIANTS}
    by_id[invariant].check(tgt, AuditContext(examples=15, seed=0))


@pytest.mark.parametrize("field", ["best_bid", "best_ask", "pending_gap"])
def test_a_market_field_of_another_type_fails_as_the_reference_does(field: str) -> None:
    """A field the kernel cannot take (None): the reference's code decides, so the twin
    raises exactly when, and as, the reference does (here: stale first, then not)."""
    ref, twin = DataQualityGate(), DataQualityGateTwin()
    m = MarketState()
    m.apply(BookSnapshot(T0, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0])), T0)
    setattr(m, field, None)
    for at in (T0 + 40 * NS_PER_S, T0):
        assert not outputs_differ(ref, twin, _view(m), Estimates(), at)


def test_a_pickled_or_copied_twin_carries_on_identically() -> None:
    """A twin pickled (a sweep's worker) or deep-copied (the audit's rigs) mid-stream
    keeps its state and decides as the reference from there on."""
    import copy
    import pickle

    ref, twin = DataQualityGate(), DataQualityGateTwin()
    m = MarketState()
    first: list[tuple[Event, int]] = [
        (BookSnapshot(T0, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0])), T0),
        (Trade(T0, 100.5, 0.1, Side.BUY), T0),
        (Trade(T0 - NS_PER_S, 100.5, 0.1, Side.BUY), T0 + 1),
    ]
    for ev, now in first:
        m.apply(ev, now)
        ref.on_event(ev, now)
        twin.on_event(ev, now)
    for other in (pickle.loads(pickle.dumps(twin)), copy.deepcopy(twin)):
        assert not state_differ(ref, other)
        r = copy.deepcopy(ref)
        for at in (T0 + 2, T0 + NS_PER_S + 1, T0 + 6 * NS_PER_S):
            assert not outputs_differ(r, other, _view(m), Estimates(), at)


@pytest.mark.parametrize("check_position", [False, True])
def test_the_portfolio_is_read_only_when_the_reference_reads_it(check_position: bool) -> None:
    """A portfolio without ``position_known``: ignored unless ``check_position_known``
    (then both gates raise the same AttributeError)."""
    p = DataQualityParams(check_position_known=check_position)
    ref, twin = DataQualityGate(p), DataQualityGateTwin(p)
    m = MarketState()
    m.apply(BookSnapshot(T0, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0])), T0)
    v = View(Instrument(), m, object(), 1.0)  # type: ignore[arg-type]
    for at in (T0 + 40 * NS_PER_S, T0):  # stale (decided before the portfolio), then not
        assert not outputs_differ(ref, twin, v, Estimates(), at)
    assert twin.check(v, Estimates(), T0 + 40 * NS_PER_S) is not None
    if not check_position:
        assert twin.check(v, Estimates(), T0) is None
    else:
        with pytest.raises(AttributeError):
            twin.check(v, Estimates(), T0)
