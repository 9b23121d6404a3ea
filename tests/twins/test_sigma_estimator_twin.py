"""The compiled sigma estimator twin against the reference, exactly (issue 20).

Both are driven side by side with the same events (the audit's busy market and adversarial
streams, trade batches whole and row by row, open-interest readings), under hypothesis-drawn
parameters; after every step every output is compared exactly (``outputs_differ``: estimates
with extras, rejections, cascade state and log lines, bipower scales, particles). A twin
broken by one ulp or in one branch is caught by the same comparison.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmkit.estimators._kernels_sigma_estimator_twin as kern
from mmkit.audit.invariants.estimators import _event_of, adversarial_ops, busy_market
from mmkit.components import Estimates
from mmkit.core.events import EventKind, Trade, TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.estimators.params import SigmaParams
from mmkit.estimators.sigma_estimator import SigmaEstimator
from mmkit.estimators.sigma_estimator_twin import SigmaEstimatorTwin, outputs_differ

LOGGER = "mmkit.estimators.sigma_estimator"
START = 1_700_000_000 * NS_PER_S


@dataclass
class OpenInterest:
    """A non-market event carrying an open-interest reading (as a feed that has one)."""

    ts: int
    open_interest: Any
    kind: ClassVar[EventKind] = EventKind.TIMER


class _Logs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname}: {record.getMessage()}")


@pytest.fixture
def logs() -> Iterator[_Logs]:
    h = _Logs()
    lg = logging.getLogger(LOGGER)
    lg.addHandler(h)
    old = lg.level
    lg.setLevel(logging.DEBUG)
    yield h
    lg.removeHandler(h)
    lg.setLevel(old)


class Pair:
    """A reference and a twin fed the same events, compared after every step."""

    def __init__(self, p: SigmaParams, seed: int, logs: _Logs, twin_cls: type = SigmaEstimatorTwin):
        self.ref = SigmaEstimator(p, seed)
        self.twin: SigmaEstimator = twin_cls(p, seed)
        self.out_r, self.out_t = Estimates(), Estimates()
        self.logs = logs
        self.steps = 0

    def both(self, call: Any, where: str) -> None:
        """``call(component)`` on each, then compare (log lines included)."""
        self.logs.lines.clear()
        call(self.ref)
        ref_lines = list(self.logs.lines)
        self.logs.lines.clear()
        call(self.twin)
        diff = outputs_differ(self.ref, self.twin)
        if ref_lines != self.logs.lines:
            diff.append(f"logs: {ref_lines!r} != {self.logs.lines!r}")
        self.steps += 1
        assert not diff, f"after {where}: " + "; ".join(diff[:6])

    def estimate(self, now: int, where: str) -> None:
        self.ref.estimate(self.out_r, now)
        self.twin.estimate(self.out_t, now)
        diff = outputs_differ(self.ref, self.twin, self.out_r, self.out_t)
        assert not diff, f"estimate after {where}: " + "; ".join(diff[:6])

    def drive(
        self,
        ops: list[tuple[int, tuple[Any, ...]]],
        batched: bool,
        busy: bool = True,
        start: int = START,
    ) -> int:
        """The busy market (unless not ``busy``) then ``ops``, from ``start``: trade batches
        whole (``on_trades``) or row by row (``on_event``) to both, anything else to both;
        an estimate after every op. Returns the last op's time."""
        now = start
        mid = [100.0]
        for n, (step, op) in enumerate((busy_market() if busy else []) + ops):
            now = max(0, now + step)
            where = f"op {n} ({op[0]})"
            if op[0] == "oi":
                ev = OpenInterest(now, op[1])
                self.both(lambda c, ev=ev, t=now: c.on_event(ev, t), where)
            elif op[0] == "oi_direct":
                self.both(lambda c, x=op[1], t=now: c.on_open_interest(x, t), where)
            elif op[0] == "trades":
                ev = _event_of(op, now, mid)
                if batched:
                    self.both(lambda c, ev=ev: c.on_trades(ev, ev.local_ts), where)
                else:
                    for k, (tr, t) in enumerate(ev.trades()):
                        self.both(lambda c, tr=tr, t=t: c.on_event(tr, t), f"{where} row {k}")
            else:
                ev = _event_of(op, now, mid)
                self.both(lambda c, ev=ev, t=now: c.on_event(ev, t), where)
            self.estimate(now, where)
        return now


def params() -> Any:
    """Parameters that take the estimator through warmup, gaps, jumps, bursts and the
    cascade floor's hold and decay within a short stream."""
    return st.builds(
        SigmaParams,
        default_sigma=st.sampled_from([1e-4, 3e-4, 1e-3]),
        max_sigma_mult=st.sampled_from([1.0, 3.0, 10.0]),
        min_sigma_mult=st.sampled_from([0.01, 0.5, 1.0]),
        sample_interval_s=st.sampled_from([0.05, 0.3, 1.0, 2.5]),
        max_gap_intervals=st.sampled_from([1, 5, 300]),
        n_particles=st.sampled_from([8, 9, 33]),
        resample_ess=st.sampled_from([0.5, 0.99, 1.0]),
        warmup_returns=st.sampled_from([1, 3, 30]),
        bipower_half_lives=st.sampled_from([[30.0, 300.0, 1800.0], [1e-9], [0.5]]),
        pf_weight=st.sampled_from([0.0, 0.7, 1.0]),
        cascade_jump_k=st.sampled_from([0.5, 3.0, 8.0]),
        cascade_burst_window_s=st.sampled_from([0.1, 2.0]),
        cascade_burst_factor=st.sampled_from([1.5, 20.0]),
        cascade_burst_min_trades=st.sampled_from([1, 5, 100]),
        cascade_oi_drop=st.sampled_from([0.01, 0.5]),
        cascade_hold_s=st.sampled_from([0.0, 1.0, 60.0]),
        cascade_decay_half_life_s=st.sampled_from([0.5, 60.0]),
    )


def ops_with_oi() -> Any:
    """The audit's adversarial ops with open-interest readings (sane and hostile) mixed in."""
    oi_value = st.one_of(
        st.floats(1e3, 2e3), st.sampled_from([math.nan, math.inf, -1.0, 0.0, "x", None])
    )
    oi = st.tuples(st.integers(0, 5 * NS_PER_S), st.tuples(st.just("oi"), oi_value))
    direct = st.tuples(
        st.integers(-NS_PER_S, 5 * NS_PER_S),
        st.tuples(st.just("oi_direct"), st.one_of(st.floats(1e3, 2e3), st.just(math.nan))),
    )
    return st.tuples(
        adversarial_ops(3600.0), st.lists(st.one_of(oi, direct), max_size=10), st.randoms()
    ).map(lambda t: _shuffle_in(t[0], t[1], t[2]))


def _shuffle_in(ops: list[Any], extra: list[Any], rnd: Any) -> list[Any]:
    out = list(ops)
    for e in extra:
        out.insert(rnd.randint(0, len(out)), e)
    return out


@pytest.mark.slow
@settings(max_examples=25)
@given(p=params(), seed=st.integers(0, 2**32), ops=ops_with_oi(), batched=st.booleans())
def test_twin_equals_reference_on_adversarial_streams(
    p: SigmaParams, seed: int, ops: list[Any], batched: bool
) -> None:
    h = _Logs()
    lg = logging.getLogger(LOGGER)
    lg.addHandler(h)
    try:
        Pair(p, seed, h).drive(ops, batched)
    finally:
        lg.removeHandler(h)


@settings(max_examples=15)
@given(ops=adversarial_ops(600.0), batched=st.booleans())
def test_twin_equals_reference_default_params(ops: list[Any], batched: bool) -> None:
    h = _Logs()
    lg = logging.getLogger(LOGGER)
    lg.addHandler(h)
    try:
        Pair(SigmaParams(), 7, h).drive(ops, batched)
    finally:
        lg.removeHandler(h)


def _book_walk(n: int, dt_ns: int, seed: int) -> list[tuple[int, tuple[Any, ...]]]:
    """``n`` book ops ``dt_ns`` apart, the mid a random walk with a few jumps."""
    rng = np.random.default_rng(seed)
    moves = np.exp(rng.normal(0.0, 3e-4, n))
    moves[rng.integers(0, n, 4)] = 1.03
    return [(dt_ns, ("book", float(m))) for m in moves]


@pytest.mark.parametrize("batched", [False, True])
def test_random_blocks_across_many_returns(logs: _Logs, batched: bool) -> None:
    """More than two blocks of 256 filter steps: the twin draws each block into its arrays
    from the same generator, in the same order, and stays equal through the switches."""
    p = SigmaParams(sample_interval_s=0.1, n_particles=9, warmup_returns=5)
    pair = Pair(p, 11, logs)
    pair.drive(_book_walk(700, NS_PER_S // 10, 1), batched)
    assert pair.ref.pf.steps > 2 * kern.BLOCK
    assert pair.twin.pf.steps == pair.ref.pf.steps
    assert pair.ref.cascade.triggers > 0  # the jumps of the walk were seen by both


@pytest.mark.parametrize("batched", [False, True])
def test_burst_window_grows_past_its_capacity(logs: _Logs, batched: bool) -> None:
    """A burst of 3000 trades inside one window outgrows the ring (1024) twice, in one
    batch or row by row; the window, the baseline and the trigger stay the reference's."""
    p = SigmaParams(cascade_burst_window_s=30.0, cascade_burst_min_trades=10)
    rows = [(1e-4 * (k % 7 - 3), 0.1, k % 2 == 0, 0) for k in range(3000)]
    ops: list[tuple[int, tuple[Any, ...]]] = [(NS_PER_S, ("trades", rows, 1_000_000))]
    pair = Pair(p, 2, logs)
    pair.drive(ops, batched)
    assert len(pair.twin.burst._times) > 1024
    assert list(pair.twin.burst._times) == list(pair.ref.burst._times)


def test_cascade_logs_once_per_transition(logs: _Logs) -> None:
    """Open-interest drops and jumps: one warning per transition into the hold, with the
    reference's words (reason, floor, hold)."""
    p = SigmaParams(cascade_hold_s=1.0, cascade_oi_drop=0.05)
    pair = Pair(p, 5, logs)
    ops: list[tuple[int, tuple[Any, ...]]] = [
        (NS_PER_S, ("oi", 1000.0)),
        (NS_PER_S, ("oi", 900.0)),  # -10%: trigger
        (NS_PER_S // 2, ("oi", 800.0)),  # within the hold: no new line
        (5 * NS_PER_S, ("oi", 700.0)),  # after the hold: a new line
        (NS_PER_S, ("book", 1.05)),  # a jump
    ]
    pair.drive(ops, batched=True)
    assert pair.twin.cascade.last_reason == pair.ref.cascade.last_reason
    assert pair.twin.cascade.triggers == pair.ref.cascade.triggers >= 3


@settings(max_examples=200)
@given(a=st.floats(allow_nan=True), b=st.floats(allow_nan=True))
def test_kernel_max_min_are_pythons(a: float, b: float) -> None:
    """The kernels' max / min (the kappa twin's, which the sigma kernels import) keep
    Python's argument order semantics (NaN cases)."""
    from mmkit.estimators._kernels_kappa_orchestrator_twin import _pmax, _pmin

    for got, want in ((_pmax(a, b), max(a, b)), (_pmin(a, b), min(a, b))):
        assert got == want or (got != got and want != want)
        assert math.copysign(1.0, got) == math.copysign(1.0, want)


def test_twin_method_and_lazy_import() -> None:
    p = SigmaParams(n_particles=12, default_sigma=2e-4)
    ref = SigmaEstimator(p, seed=9)
    tw = ref.twin()
    assert type(tw) is SigmaEstimatorTwin and tw.p is p
    assert np.array_equal(tw.pf.h, ref.pf.h)  # same seed: same initial particles
    assert tw.sigma_cap() == ref.sigma_cap()
    code = (
        "import sys, mmkit.estimators.sigma_estimator as m; "
        "print(any('_twin' in k for k in sys.modules))"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "False"


# -- a broken twin is caught ------------------------------------------------------------


class OneUlpTwin(SigmaEstimatorTwin):
    """Publishes sigma one ulp high."""

    def estimate(self, out: Estimates, now_ns: int) -> None:
        super().estimate(out, now_ns)
        out.sigma = math.nextafter(out.sigma, math.inf)


class NoLateTwin(SigmaEstimatorTwin):
    """Wrong in one branch: batch rows older than the clock are not reported."""

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        keep = batch.recv >= self._now
        if not keep.any():
            return
        sub = TradeBatch(
            batch.times[keep], batch.px[keep], batch.sz[keep], batch.side[keep], batch.recv[keep]
        )
        super().on_trades(sub, now_ns)


class SilentTwin(SigmaEstimatorTwin):
    """Wrong in one branch: no log line on a cascade transition."""

    def _flags(self, st: int) -> None:
        super()._flags(st & ~kern.ST_LOG)


@pytest.mark.parametrize("broken", [OneUlpTwin, NoLateTwin, SilentTwin])
def test_broken_twin_is_caught(logs: _Logs, broken: type) -> None:
    pair = Pair(SigmaParams(), 3, logs, twin_cls=broken)
    with pytest.raises(AssertionError, match="after"):
        pair.drive([], batched=True)


def test_comparison_sees_each_particle() -> None:
    """``outputs_differ`` reports a particle one ulp off, and nothing for equal twins."""
    ref = SigmaEstimator(SigmaParams(n_particles=10), seed=1)
    tw = ref.twin()
    assert outputs_differ(ref, tw) == []
    tw.pf.h[4] = math.nextafter(float(tw.pf.h[4]), math.inf)
    assert any(d.startswith("pf.h[4]") for d in outputs_differ(ref, tw))


# -- the real capture ------------------------------------------------------------------


def _capture_events(path: Path, limit: int) -> Iterator[Any]:
    """The capture's events, consecutive trades grouped into one batch (as a feed does)."""
    from mmkit.data.replay import ReplayFeed

    trades: list[Trade] = []
    for n, ev in enumerate(ReplayFeed([str(path)]).events()):
        if n >= limit:
            break
        if isinstance(ev, Trade):
            trades.append(ev)
            continue
        if trades:
            yield TradeBatch.of(trades)
            trades = []
        yield ev
    if trades:
        yield TradeBatch.of(trades)


@pytest.mark.slow
def test_twin_equals_reference_on_usdm_capture(shared_data: Path, logs: _Logs) -> None:
    """The USD-M BTC capture (BBO, deltas, trade batches): equal after every event."""
    path = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    p = SigmaParams(sample_interval_s=0.25, cascade_jump_k=4.0)
    pair = Pair(p, 1, logs)
    now = 0
    for n, ev in enumerate(_capture_events(path, 40_000)):
        now = max(now, ev.local_ts if ev.local_ts >= 0 else ev.ts)
        if ev.kind is EventKind.TRADE_BATCH:
            pair.both(lambda c, ev=ev: c.on_trades(ev, ev.local_ts), f"event {n}")
        else:
            pair.both(lambda c, ev=ev, t=now: c.on_event(ev, t), f"event {n}")
        pair.estimate(now, f"event {n}")
    assert pair.ref.returns > 100
    assert pair.out_t.sigma == pair.out_r.sigma


@settings(max_examples=150)
@given(
    hold_s=st.sampled_from([0.0, 1.0, 60.0]),
    hl_s=st.floats(0.01, 1e4),
    ages=st.lists(st.integers(0, 10**16), min_size=1, max_size=8),
)
def test_cascade_floor_decay_is_the_references(hold_s: float, hl_s: float, ages: list[int]) -> None:
    """The floor held then decaying (``pow(0.5, t / half_life)``, libm's pow as Python's,
    not a rewrite of it) at arbitrary ages, published in sigma and in the extras."""
    p = SigmaParams(cascade_hold_s=hold_s, cascade_decay_half_life_s=hl_s, max_sigma_mult=100.0)
    ref, tw = SigmaEstimator(p, 1), SigmaEstimatorTwin(p, 1)
    out_r, out_t = Estimates(), Estimates()
    for c in (ref, tw):
        c.on_open_interest(1000.0, START)
        c.on_open_interest(500.0, START)
    for age in sorted(ages):
        ref.estimate(out_r, START + age)
        tw.estimate(out_t, START + age)
        assert out_r.extras["sigma.cascade_floor"] == ref.cascade.value(START + age)
        diff = outputs_differ(ref, tw, out_r, out_t)
        assert not diff, f"age {age} ns: {diff}"


def _bipower_mean(values: list[float], py_sum: int) -> float:
    """The kernel's bipower average over ``values``, with the ``sum`` flavour given."""
    n_f, n_i, off = kern.layout(8, len(values))
    f = np.zeros(n_f)
    ii = np.zeros(n_i, dtype=np.int64)
    ii[kern.I_OFF_VARS], ii[kern.I_NSC], ii[kern.I_PY_SUM] = off["vars"], len(values), py_sum
    f[off["vars"] : off["vars"] + len(values)] = values
    return float(kern._bp_variance(f, ii))


@settings(max_examples=300)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=5))
def test_bipower_average_is_builtin_sum(values: list[float]) -> None:
    """The kernel's average of the scales is ``sum(vars) / len(vars)`` of the interpreter
    it runs under (the reference's ``MultiScaleBipower.variance``), bit for bit: the same
    number with the same sign (a zero's too). Not a NaN's sign: IEEE 754 does not specify
    it for a NaN result (NaN + -NaN may give either), and twins compare NaN equal to NaN."""
    got = _bipower_mean(values, 1 if sys.version_info >= (3, 12) else 0)
    want = sum(values) / len(values)
    assert got == want or (got != got and want != want)
    if want == want:
        assert math.copysign(1.0, got) == math.copysign(1.0, want)


def test_bipower_average_compensated_flavour() -> None:
    """Python 3.12's compensated ``sum`` keeps what the plain one loses (checked against
    ``math.fsum``, exact here); the plain flavour loses it."""
    values = [1e16, 1.0, -1e16]
    assert _bipower_mean(values, 1) == math.fsum(values) / 3 == 1.0 / 3
    assert _bipower_mean(values, 0) == 0.0


def test_a_deep_copy_is_an_independent_twin(logs: _Logs) -> None:
    """``copy.deepcopy`` (the audit's system invariants copy whole engines) gives a twin
    whose views sit on its own buffer: it goes on exactly as the reference, and feeding
    it leaves the original untouched."""
    import copy

    p = SigmaParams(sample_interval_s=0.1, n_particles=9, cascade_burst_window_s=30.0)
    ops = _book_walk(300, NS_PER_S // 10, 4)
    rows = [(1e-4 * (k % 7 - 3), 0.1, k % 2 == 0, 0) for k in range(1500)]
    first = Pair(p, 3, logs)
    now = first.drive(ops[:150], batched=True)
    copied = Pair(p, 3, logs)
    copied.ref = copy.deepcopy(first.ref)
    copied.twin = copy.deepcopy(first.twin)
    before = first.twin._s.buf.view(np.int64).copy()  # type: ignore[attr-defined]
    later = [*ops[150:], (NS_PER_S, ("trades", rows, 100_000))]  # grows the ring too
    copied.drive(later, batched=True, busy=False, start=now)
    assert copied.ref.rejections.total == first.ref.rejections.total  # nothing came late
    assert np.array_equal(first.twin._s.buf.view(np.int64), before)  # type: ignore[attr-defined]
    assert copied.twin.pf.steps == copied.ref.pf.steps > first.twin.pf.steps
    assert len(copied.twin.burst._times) > 1024 >= len(first.twin.burst._times)


@settings(max_examples=500)
@given(
    st.one_of(
        st.integers(0, 2**63 - 1),
        st.integers(2**53 - 10**6, 2**53 + 10**6),
        st.integers(0, 2**63 // 10**9 - 1).map(lambda q: q * 10**9 + 500_000_000),  # ties
    )
)
def test_ns_to_seconds_rounds_as_python(a: int) -> None:
    """Time differences become seconds exactly as Python's ``int / int`` (the reference's
    ``(now - start) / NS_PER_S``), beyond 2**53 ns too."""
    assert kern.ns_to_s(a) == a / NS_PER_S
