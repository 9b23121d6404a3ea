"""The warmup estimator and gate twins agree exactly with the reference components.

Streams: the audit's adversarial ops (books, trades, batches whole and row by row, fills,
timers, feed/order/position events, hostile numbers, time going back and gaps) after its
busy market, with the kappa extras the estimate reads changed at every step (absent, NaN,
ints, numpy floats, strings) and hostile parameters. After every step both the reference
and the twin estimate; their public attributes, rejections, published Estimates, log lines
and gate decisions are compared exactly (:func:`mmkit.estimators.warmup_twin.outputs_differ`).
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.audit.invariants.estimators import adversarial_ops, drive_twins
from mmkit.components import Estimates, GateDecision
from mmkit.core.events import BBO, Timer, Trade, TradeBatch
from mmkit.core.types import NS_PER_S, Side
from mmkit.estimators import _kernels_warmup_twin as kern
from mmkit.estimators.params import WarmupParams
from mmkit.estimators.warmup import WarmupEstimator, WarmupGate
from mmkit.estimators.warmup_twin import (
    WarmupEstimatorTwin,
    WarmupGateTwin,
    decisions_differ,
    outputs_differ,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
_KAPPA_KEYS = (
    "kappa.book_confidence",
    "kappa.robust_confidence",
    "kappa.graduated",
    "kappa.own_n",
)

# -- strategies ---------------------------------------------------------------------------

_extra_value = st.one_of(
    st.sampled_from([0.0, 0.3, 0.5, 1.0, math.nan, -1.0, math.inf]),
    st.floats(allow_nan=True),
    st.integers(-2, 3),
    st.just(np.float64(0.7)),
    st.booleans(),
)
#: the kappa extras at one step: a key absent or a value (a string, rarely)
_extras = st.dictionaries(
    st.sampled_from(_KAPPA_KEYS),
    st.one_of(_extra_value, _extra_value, _extra_value, st.just("x")),
    max_size=4,
)


@st.composite
def _params(draw: st.DrawFn) -> WarmupParams:
    """Sane and hostile parameters (built directly, so unvalidated: 0, NaN, inf, ints,
    values beyond int64)."""
    return WarmupParams(
        bucket_size=draw(
            st.one_of(
                st.sampled_from([0.0, 0.0, 0.5, 1e-3, 5e-324, math.nan, -1.0, math.inf]),
                st.floats(0.01, 10.0),
            )
        ),
        bucket_notional=draw(
            st.sampled_from([2000.0, 2000.0, 50.0, 1e-300, math.nan, 0.0, 7, 10**30])
        ),
        min_buckets=draw(st.one_of(st.integers(0, 40), st.sampled_from([2**63, 0]))),
        min_trades=draw(st.one_of(st.integers(0, 400), st.sampled_from([2**70, 3]))),
        require_kappa_graduation=draw(st.booleans()),
        require_kappa_market_fit=draw(st.booleans()),
        max_warmup_secs=draw(
            st.one_of(
                st.sampled_from([300.0, 5.0, 20.0, 60.0, math.inf, math.nan, 1e-9]),
                st.integers(1, 100),
            )
        ),
        log_interval_s=draw(st.sampled_from([30.0, 1.0, 1e-9, 1e300, math.inf, math.nan, 7])),
    )


# -- the side-by-side driver ---------------------------------------------------------------


class _Pair:
    """Feeds every event to a reference component and its twin."""

    def __init__(self, ref: Any, twin: Any) -> None:
        self.ref, self.twin = ref, twin

    def on_event(self, ev: Any, now: int) -> None:
        self.ref.on_event(ev, now)
        self.twin.on_event(ev, now)

    def on_trades(self, batch: TradeBatch, now: int) -> None:
        self.ref.on_trades(batch, now)
        self.twin.on_trades(batch, now)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))


@pytest.fixture
def warmup_log() -> Iterator[_Records]:
    logger = logging.getLogger("mmkit.estimators.warmup")
    h = _Records()
    old = logger.level
    logger.addHandler(h)
    logger.setLevel(logging.DEBUG)
    try:
        yield h
    finally:
        logger.removeHandler(h)
        logger.setLevel(old)


def _call(fn: Callable[[], Any]) -> tuple[str, Any]:
    """``fn()``'s result, or the type of what it raised (the twin must raise alike)."""
    try:
        return ("ok", fn())
    except Exception as e:
        return ("raised", type(e).__name__)


class _Side:
    """One reference/twin pair, with the Estimates each publishes into (reused, as the
    engine reuses its Estimates) and a gate pair reading them."""

    def __init__(self, ref: WarmupEstimator, twin: WarmupEstimator) -> None:
        self.ref, self.twin = ref, twin
        self.out_ref, self.out_twin = Estimates(), Estimates()
        self.gate_ref, self.gate_twin = WarmupGate("wu"), WarmupGateTwin("wu")

    def step(self, where: str, now: int, extras: dict[str, Any], log: _Records) -> None:
        for out in (self.out_ref, self.out_twin):
            for k in _KAPPA_KEYS:
                out.extras.pop(k, None)
            out.extras.update(extras)
        log.lines.clear()
        r = _call(lambda: self.ref.estimate(self.out_ref, now))
        lines_ref = list(log.lines)
        log.lines.clear()
        t = _call(lambda: self.twin.estimate(self.out_twin, now))
        lines_twin = list(log.lines)
        assert r == t, f"after {where}: estimate {r} != {t}"
        assert lines_ref == lines_twin, f"after {where}: logs {lines_ref} != {lines_twin}"
        diff = outputs_differ(self.ref, self.twin, self.out_ref, self.out_twin)
        assert not diff, f"after {where}: " + "; ".join(diff)
        dr = self.gate_ref.check(None, self.out_ref, now)  # type: ignore[arg-type]
        dt = self.gate_twin.check(None, self.out_twin, now)  # type: ignore[arg-type]
        gdiff = decisions_differ(dr, dt)
        assert not gdiff, f"after {where}: gate " + "; ".join(gdiff)


def run_side_by_side(
    p: WarmupParams,
    ops: list[tuple[int, tuple[Any, ...]]],
    extras: list[dict[str, Any]],
    log: _Records,
    twin_cls: type[WarmupEstimator] = WarmupEstimatorTwin,
) -> None:
    """The busy market then ``ops`` to two reference/twin pairs (batches whole to one, row
    by row to the other), comparing after every step (AssertionError on a difference)."""
    batched = _Side(WarmupEstimator(p), twin_cls(p))
    rows = _Side(WarmupEstimator(p), twin_cls(p))
    step = [0]

    def after(where: str, now: int) -> None:
        ex = extras[step[0] % len(extras)] if extras else {}
        step[0] += 1
        batched.step(where + " [batched]", now, ex, log)
        rows.step(where + " [rows]", now, ex, log)

    drive_twins(_Pair(batched.ref, batched.twin), _Pair(rows.ref, rows.twin), ops, after)


# -- equivalence on hypothesis streams --------------------------------------------------


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(p=_params(), ops=adversarial_ops(120.0), extras=st.lists(_extras, max_size=8))
def test_twin_equals_reference_on_adversarial_streams(
    p: WarmupParams,
    ops: list[tuple[int, tuple[Any, ...]]],
    extras: list[dict[str, Any]],
    warmup_log: _Records,
) -> None:
    run_side_by_side(p, ops, extras, warmup_log)


@pytest.mark.slow
@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=adversarial_ops(600.0), extras=st.lists(_extras, max_size=8))
def test_twin_equals_reference_default_params_long(
    ops: list[tuple[int, tuple[Any, ...]]],
    extras: list[dict[str, Any]],
    warmup_log: _Records,
) -> None:
    run_side_by_side(WarmupParams(), ops, extras, warmup_log)


def test_default_market_reaches_each_ending(warmup_log: _Records) -> None:
    """The fixed busy market takes the pairs through ready, timeout and waiver endings
    (so the stream tests do compare the finishing branches), equal at every step."""
    conf = {"kappa.book_confidence": 0.0}
    fitted = {"kappa.book_confidence": 0.8, "kappa.graduated": 1.0, "kappa.own_n": 7.0}
    cases = [
        (WarmupParams(min_buckets=2, min_trades=20), [conf] * 10 + [fitted], "ready"),
        (WarmupParams(min_buckets=10**6, max_warmup_secs=8.0), [conf], "timeout"),
        (
            WarmupParams(require_kappa_graduation=True, max_warmup_secs=20.0),
            [{"kappa.book_confidence": 1.0, "kappa.graduated": 0.0, "kappa.own_n": 2.0}],
            "timeout",
        ),
        (WarmupParams(min_buckets=1, min_trades=1, require_kappa_graduation=True), [{}], "ready"),
    ]
    for p, extras, ending in cases:
        warmup_log.lines.clear()
        ref, twin = WarmupEstimator(p), WarmupEstimatorTwin(p)
        side = _Side(ref, twin)
        step = [0]

        def after(
            where: str, now: int, side: _Side = side, extras: Any = extras, step: list[int] = step
        ) -> None:
            side.step(where, now, extras[min(step[0], len(extras) - 1)], warmup_log)
            step[0] += 1

        drive_twins(_Pair(ref, twin), _Pair(WarmupEstimator(p), WarmupEstimator(p)), [], after)
        assert twin.ended_by == ref.ended_by == ending, p
        assert twin.trades_at_end == ref.trades_at_end > 0


def test_extreme_times_and_overflowing_counts(warmup_log: _Records) -> None:
    """Engine times near the int64 limits, a difference above 2**53 ns, a bucket count
    above int64 and one Python's int() refuses: the twin takes the reference's path."""
    ops: list[tuple[Any, ...]] = [
        ("bbo", -(2**62), 100.0),
        ("trade", -(2**62) + 5, 1e300, 1e5),  # notional 1e305: buckets above int64
        ("est", 2**62),
        ("est", -(2**63)),
        ("trade", 2**63 - 1, 100.0, 1.0),
        ("est", 2**63 - 1),
        ("est", 0),
        ("est", 10**18),
    ]
    for bucket_size in (0.0, 5e-324):  # 5e-324: volume // 5e-324 is inf -> int() raises
        p = WarmupParams(bucket_size=bucket_size, min_buckets=5, max_warmup_secs=1e12)
        side = _Side(WarmupEstimator(p), WarmupEstimatorTwin(p))
        for k, op in enumerate(ops):
            if op[0] == "bbo":
                ev: Any = BBO(op[1], op[2], 1.0, op[2] + 1.0, 1.0)
                side.ref.on_event(ev, op[1])
                side.twin.on_event(ev, op[1])
            elif op[0] == "trade":
                tr = Trade(op[1], op[2], op[3], Side.BUY)
                side.ref.on_event(tr, op[1])
                side.twin.on_event(tr, op[1])
            else:
                side.step(f"op {k}", op[1], {"kappa.book_confidence": 1.0}, warmup_log)


def test_before_market_data_and_the_log_interval(warmup_log: _Records) -> None:
    """Estimates before any market data (timers and account events do not start the
    clock), the "waiting" line every log_interval_s, then the clock started by a BBO."""
    from mmkit.core.events import PositionSnapshot

    p = WarmupParams(min_trades=3, log_interval_s=10.0, max_warmup_secs=35.0)
    side = _Side(WarmupEstimator(p), WarmupEstimatorTwin(p))
    t0 = 1_000 * NS_PER_S
    seen_lines = 0
    for k in range(120):
        now = t0 + k * NS_PER_S // 2
        if k == 3:
            ev: Any = Timer(now)
        elif k == 5:
            ev = PositionSnapshot(now, 1.0, local_ts=now)
        elif k == 40:
            ev = BBO(now, 100.0, 1.0, 100.5, 1.0)
        elif k in (50, 51):
            ev = Trade(now, 100.0, 0.5, Side.SELL)
        else:
            ev = Timer(now)
        side.ref.on_event(ev, now)
        side.twin.on_event(ev, now)
        side.step(f"step {k}", now, {"kappa.robust_confidence": 0.4}, warmup_log)
        seen_lines += len(warmup_log.lines)
        if k == 39:
            assert side.twin.first_ns == -1 and "first market data" in side.twin.waiting
    assert side.twin.first_ns == side.ref.first_ns == t0 + 20 * NS_PER_S
    assert side.twin.ended_by == "timeout"
    assert seen_lines >= 4  # waiting lines (every 10 s), met lines, the timeout warning


def test_odd_event_types_take_the_reference_path(warmup_log: _Records) -> None:
    """Prices that are ints or numpy floats, a Trade subclass, a float32 batch and a
    non-contiguous batch: same outputs (the kernels only ever see float64 / int64)."""

    class MyTrade(Trade):
        pass

    p = WarmupParams(min_buckets=1, min_trades=4)
    side = _Side(WarmupEstimator(p), WarmupEstimatorTwin(p))
    t0 = 10 * NS_PER_S
    evs: list[Any] = [
        Timer(t0),
        Trade(t0, 100, 2, Side.SELL),
        Trade(t0, np.float64(100.5), 1.0, Side.BUY),
        Trade(t0, 100.0, "1.5", Side.BUY),  # type: ignore[arg-type]
        Trade(t0, None, 1.0, Side.BUY),  # type: ignore[arg-type]
        MyTrade(t0 + 1, 101.0, 3.0, Side.BUY),
        MyTrade(t0 + 2, math.nan, 3.0, Side.BUY),
    ]
    for k, ev in enumerate(evs):
        side.ref.on_event(ev, ev.ts)
        side.twin.on_event(ev, ev.ts)
        side.step(f"event {k}", ev.ts, {}, warmup_log)
    wide = np.array([[1.0, 0.0], [math.nan, 0.0], [2.0, 0.0]])[:, 0]  # a strided view
    batches = [
        TradeBatch(
            np.array([1, 2, 3], np.int64),
            np.array([100.0, -1.0, 101.0], np.float32),
            np.array([1.0, 1.0, 1.0], np.float32),
            np.array([1, -1, 1], np.int8),
            np.array([t0 + 5, t0 + 6, t0 + 7], np.int64),
        ),
        TradeBatch(
            np.array([1, 2, 3], np.int64),
            np.array([100.0, 100.0, 101.0]),
            wide,
            np.array([1, -1, 1], np.int8),
            np.array([t0 + 8, t0 + 8, t0 + 9], np.int64),
        ),
    ]
    for k, b in enumerate(batches):
        side.ref.on_trades(b, b.local_ts)
        side.twin.on_trades(b, b.local_ts)
        side.step(f"batch {k}", b.local_ts, {"kappa.book_confidence": 0.2}, warmup_log)
    # None, NaN (a Trade subclass), -1 (float32 batch), NaN size (strided batch); "1.5"
    # is a valid size for positive()
    assert side.twin.rejections.total == side.ref.rejections.total == 4


# -- the kernels' exact helpers against Python itself -----------------------------------

_any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 5e-324, 1e308, 2.0**63, -(2.0**63), 2.0**53 + 1]),
)


@given(_any_float, _any_float)
def test_py_floordiv_is_pythons(vx: float, wx: float) -> None:
    if wx == 0.0:
        return
    want = vx // wx
    got = kern.py_floordiv(vx, wx)
    assert (got == want and math.copysign(1, got) == math.copysign(1, want)) or (
        want != want and got != got
    ), (vx, wx, got, want)


@given(st.integers(-(2**63), 2**63 - 1), _any_float)
def test_int_ge_float_is_pythons(d: int, x: float) -> None:
    assert kern.int_ge_float(d, x) == (d >= x)


@given(
    st.one_of(st.integers(-(2**70), 2**70), st.integers(-(2**54), 2**54)).map(float),
    st.integers(-(2**63), 2**63 - 1),
)
def test_integral_lt_int_is_pythons(q: float, m: int) -> None:
    assert kern.integral_lt_int(q, m) == (int(q) < m)


@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1))
def test_sub_fits_is_int64_range(a: int, b: int) -> None:
    assert kern.sub_fits(a, b) == (-(2**63) <= a - b <= 2**63 - 1)


@given(st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_text_key_rounds_as_format(x: float, y: float) -> None:
    """The kernel rebuilds the waiting text when np.rint of the remaining seconds changes:
    equal keys must mean equal "%.0f" texts (else the twin would show a stale text)."""
    if np.rint(x) == np.rint(y):
        assert f"{x:.0f}" == f"{y:.0f}" or {f"{x:.0f}", f"{y:.0f}"} == {"0", "-0"}


# -- a broken twin is caught --------------------------------------------------------------


class _UlpNotional(WarmupEstimatorTwin):
    """Broken by one ulp: a batch's notional sum nudged up."""

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        super().on_trades(batch, now_ns)
        self.f[kern.F_NOTIONAL] = math.nextafter(self.f[kern.F_NOTIONAL], math.inf)


class _LateTimeout(WarmupEstimatorTwin):
    """Broken in one branch: the timeout is taken one second late."""

    def __init__(self, p: WarmupParams) -> None:
        super().__init__(p)
        self.f[kern.F_MAX_WARMUP_S] += 1.0


class _StaleText(WarmupEstimatorTwin):
    """Broken text cache: never rebuilds the waiting text after the first one."""

    def _text(self, out: Estimates, code: int) -> str:
        return self.waiting if self.waiting != "first market data" else super()._text(out, code)


@pytest.mark.parametrize("broken", [_UlpNotional, _LateTimeout, _StaleText])
def test_broken_twin_is_caught(broken: type[WarmupEstimatorTwin], warmup_log: _Records) -> None:
    p = WarmupParams(min_buckets=10**6, max_warmup_secs=15.0)
    with pytest.raises(AssertionError):
        run_side_by_side(p, [], [{"kappa.book_confidence": 0.5}], warmup_log, broken)
    # and the unbroken twin passes the same stream
    run_side_by_side(p, [], [{"kappa.book_confidence": 0.5}], warmup_log)


def test_gate_twin_reuses_its_decision_only_while_the_text_holds() -> None:
    gate = WarmupGateTwin("g")
    est = Estimates()
    est.warmup_waiting = "market trades 1/50"
    a = gate.check(None, est, 0)  # type: ignore[arg-type]
    b = gate.check(None, est, 1)  # type: ignore[arg-type]
    assert a is b and isinstance(a, GateDecision) and a.detail == {"waiting": est.warmup_waiting}
    est.warmup_waiting = ""
    c = gate.check(None, est, 2)  # type: ignore[arg-type]
    assert c is not None and str(c.detail["waiting"]).startswith("warmup (no warmup")
    est.warmed_up = True
    assert gate.check(None, est, 3) is None  # type: ignore[arg-type]


# -- twin() and imports -------------------------------------------------------------------


def test_twin_methods_build_fresh_twins() -> None:
    p = WarmupParams(min_trades=7, bucket_size=0.25)
    ref = WarmupEstimator(p)
    ref.on_event(Trade(5, 100.0, 1.0, Side.BUY), 5)
    t = ref.twin()
    assert type(t) is WarmupEstimatorTwin and t.p is p and t.trades == 0 and t.first_ns == -1
    assert type(t.twin()) is WarmupEstimatorTwin
    g = WarmupGate("named").twin()
    assert type(g) is WarmupGateTwin and g.name == "named"


def test_reference_import_does_not_load_the_kernels() -> None:
    code = (
        "import sys, mmkit.estimators.warmup as w; w.WarmupEstimator; "
        "print('mmkit.estimators._kernels_warmup_twin' in sys.modules, 'numba' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split()[0] == "False"


# -- the real capture ---------------------------------------------------------------------


@pytest.mark.slow
def test_twin_equals_reference_on_binance_capture(warmup_log: _Records) -> None:
    """Every trade of the USD-M BTC capture, in batches of one receive time, the estimate
    every 100 ms of the capture's clock: equal at every estimate, and warmup ends."""
    path = SHARED_DATA / "binance-usdm" / "btcusdt_20240808.gz"
    if not path.is_file():
        pytest.skip("../shared/data is not available")
    from mmkit.data.market_stream import open_records

    cols: dict[str, list[np.ndarray]] = {"kind": [], "px": [], "sz": [], "local_ts": []}
    for chunk in open_records(path).chunks:
        for name, parts in cols.items():
            parts.append(np.asarray(chunk[name]))
    kind = np.concatenate(cols["kind"])
    trade = kind == 3
    px = np.concatenate(cols["px"])[trade].astype(np.float64)
    sz = np.concatenate(cols["sz"])[trade].astype(np.float64)
    recv = np.maximum.accumulate(np.concatenate(cols["local_ts"])[trade].astype(np.int64))
    assert len(px) > 1000
    p = WarmupParams()  # the defaults: 30 buckets of 2000 USD, 50 trades, a kappa fit
    side = _Side(WarmupEstimator(p), WarmupEstimatorTwin(p))
    cuts = np.flatnonzero(np.diff(recv)) + 1
    next_est = int(recv[0])
    for k, (a, b) in enumerate(zip(np.r_[0, cuts], np.r_[cuts, len(recv)], strict=True)):
        batch = TradeBatch(
            recv[a:b].copy(),
            px[a:b].copy(),
            sz[a:b].copy(),
            np.ones(b - a, np.int8),
            recv[a:b].copy(),
        )
        side.ref.on_trades(batch, batch.local_ts)
        side.twin.on_trades(batch, batch.local_ts)
        if batch.local_ts >= next_est:
            next_est = batch.local_ts + NS_PER_S // 10
            fit = {"kappa.book_confidence": 0.9 if k > 200 else 0.0}
            side.step(f"batch {k}", batch.local_ts, fit, warmup_log)
    assert side.twin.ended_by == side.ref.ended_by == "ready"
    assert side.twin.notional == side.ref.notional > 1e6


def test_copied_and_pickled_twins_go_on_alike(warmup_log: _Records) -> None:
    """A twin mid-warmup, deep-copied and pickled (sweeps and workers copy components),
    goes on exactly as the reference: the arrays travel with it."""
    import copy
    import pickle

    p = WarmupParams(min_buckets=2, min_trades=30)
    ref, twin = WarmupEstimator(p), WarmupEstimatorTwin(p)
    t0 = 50 * NS_PER_S
    for k in range(20):
        tr = Trade(t0 + k, 100.0 + k, 0.5, Side.BUY)
        ref.on_event(tr, t0 + k)
        twin.on_event(tr, t0 + k)
    for other in (copy.deepcopy(twin), pickle.loads(pickle.dumps(twin))):
        r2 = copy.deepcopy(ref)
        side = _Side(r2, other)
        for k in range(30):
            now = t0 + 100 + k * NS_PER_S
            tr = Trade(now, 101.0, 2.0, Side.SELL)
            r2.on_event(tr, now)
            other.on_event(tr, now)
            side.step(f"trade {k}", now, {"kappa.book_confidence": 1.0}, warmup_log)
        assert other.ended_by == r2.ended_by == "ready"
    assert twin.trades == 20 and not twin.warmed_up  # the original did not move
