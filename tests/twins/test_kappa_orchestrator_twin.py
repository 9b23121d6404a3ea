"""The compiled kappa orchestrator twin against its Python reference, step by step.

The audit's streams (:func:`busy_market` then :func:`adversarial_ops`: books sane and
hostile, BBOs, trades and own fills with NaN / inf / negative / zero / huge prices and
sizes, trade batches, timers, feed, order, result and position events, zero, backward and
huge time steps) drive a :class:`KappaOrchestrator` and its :class:`KappaOrchestratorTwin`
side by side, trade batches whole (``on_trades``) or row by row (``on_event``), under default
parameters and under small ones that run the trade buffer's capacity cut, every fit interval,
the own-fill window and the stagnation alert inside a stream. After every event and every
``estimate`` :func:`outputs_differ` must be empty (estimates and extras to the bit, the audit
contract methods, the book and robust sources, the rejections) and both must have logged the
same lines. A twin broken in one branch or by one ulp must be caught by the same comparison.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.audit.invariants.estimators import _event_of, adversarial_ops, busy_market
from mmkit.components import Estimates
from mmkit.core.events import TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.estimators import _kernels_kappa_orchestrator_twin as kk
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
from mmkit.estimators.kappa_orchestrator_twin import KappaOrchestratorTwin, outputs_differ
from mmkit.estimators.params import KappaParams
from mmkit.twins import make_twin

DEFAULT = KappaParams()
#: small windows and buffers, so that a 60-op stream runs every limit of the component
SMALL = replace(
    DEFAULT,
    window_s=30.0,
    warmup_fills=2,
    robust_max_trades=16,
    robust_min_trades=3,
    robust_fit_interval_s=0.0,
    book_fit_interval_s=0.7,
    stagnation_s=5.0,
    stagnation_confidence=0.2,
    prior_strength=1.0,
)
#: a clamp and cap that let the blend move (and a prior weight that can be the only source)
WIDE = replace(
    DEFAULT,
    kappa_floor=1e-3,
    kappa_cap=1e300,
    warmup_robust_cap_mult=1e6,
    prior_weight=1.0,
    ewma_alpha=0.0,
    robust_fit_interval_s=2.5,
    robust_max_trades=64,
    window_s=120.5,
)
#: kappas near the float limit: the weighted sum of the blend overflows (its exact-sum branch)
HUGE = replace(
    DEFAULT,
    prior_kappa=1.5e308,
    prior_weight=1.0,
    kappa_floor=1.0,
    kappa_cap=1.7e308,
    warmup_robust_cap_mult=1.0,
    warmup_fills=1,
    robust_fit_interval_s=0.0,
)
PARAMS = {"default": DEFAULT, "small": SMALL, "wide": WIDE, "huge": HUGE}
LOGGER = "mmkit.estimators.kappa_orchestrator"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


def _deliver(c: Any, ev: Any, op: tuple[Any, ...], now: int, whole: bool) -> None:
    if op[0] == "trades":
        if whole:
            c.on_trades(ev, ev.local_ts)
        else:
            for tr, t in ev.trades():
                c.on_event(tr, t)
    else:
        c.on_event(ev, now)


def run_pair(
    ops: list[tuple[int, tuple[Any, ...]]],
    params: KappaParams,
    whole: bool,
    fresh_out: frozenset[int] = frozenset(),
    skip_estimate: frozenset[int] = frozenset(),
    twin_cls: type[KappaOrchestratorTwin] = KappaOrchestratorTwin,
) -> str | None:
    """Drive a reference and a twin with the busy market then ``ops``; the first
    difference (where, and what), or None. ``fresh_out``: steps at which both get a new
    ``Estimates`` to write into; ``skip_estimate``: steps without an ``estimate``."""
    ref, twin = KappaOrchestrator(params), twin_cls(params)
    out_r, out_t = Estimates(), Estimates()
    handler = _Lines()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        now = 1_700_000_000 * NS_PER_S
        mid = [100.0]
        prefix = busy_market()
        for k, (step, op) in enumerate(prefix + ops):
            where = f"busy-market op {k}" if k < len(prefix) else f"op {k - len(prefix)}"
            where += f" ({op[0]})"
            now = max(0, now + step)
            ev = _event_of(op, now, mid)
            logs = []
            for c in (ref, twin):
                n0 = len(handler.lines)
                _deliver(c, ev, op, now, whole)
                logs.append(handler.lines[n0:])
            diff = outputs_differ(ref, twin, deep=True)
            if logs[0] != logs[1]:
                diff.append(f"log lines {logs[0]} != {logs[1]}")
            if diff:
                return f"after the event of {where}: " + "; ".join(diff)
            j = k - len(prefix)
            if j in skip_estimate:
                continue
            if j in fresh_out:
                out_r, out_t = Estimates(), Estimates()
            logs = []
            for c, out in ((ref, out_r), (twin, out_t)):
                n0 = len(handler.lines)
                c.estimate(out, now)
                logs.append(handler.lines[n0:])
            diff = outputs_differ(ref, twin, out_r, out_t, deep=True)
            if logs[0] != logs[1]:
                diff.append(f"log lines {logs[0]} != {logs[1]}")
            if diff:
                return f"after estimate at {where}: " + "; ".join(diff)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return None


def _horizon(p: KappaParams) -> float:
    from mmkit.audit.streams import time_horizon_s

    return time_horizon_s(p)


def _fill_heavy() -> Any:
    """Ops rich in own fills near the mid, trades and timers (graduation, own-fill expiry,
    stagnation) with steps of up to a window."""
    step = st.one_of(st.integers(0, 3 * NS_PER_S), st.integers(0, 40 * NS_PER_S))
    op = st.one_of(
        st.tuples(st.just("fill"), st.floats(-0.01, 0.01), st.floats(0.01, 2.0), st.booleans()),
        st.tuples(st.just("trade"), st.floats(-0.01, 0.01), st.floats(0.01, 2.0), st.booleans()),
        st.tuples(st.just("book"), st.floats(0.99, 1.01)),
        st.tuples(st.just("timer")),
    )
    return st.lists(st.tuples(step, op), max_size=60)


_SETTINGS = settings(
    max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@_SETTINGS
@given(
    name=st.sampled_from(sorted(PARAMS)),
    whole=st.booleans(),
    data=st.data(),
)
def test_twin_equals_reference_on_adversarial_streams(name: str, whole: bool, data: Any) -> None:
    p = PARAMS[name]
    ops = data.draw(adversarial_ops(_horizon(p)), label="ops")
    fresh = data.draw(st.frozensets(st.integers(0, 60), max_size=4), label="fresh_out")
    skip = data.draw(st.frozensets(st.integers(0, 60), max_size=8), label="skip_estimate")
    problem = run_pair(ops, p, whole, fresh, skip)
    assert problem is None, problem


@_SETTINGS
@given(name=st.sampled_from(sorted(PARAMS)), whole=st.booleans(), ops=_fill_heavy())
def test_twin_equals_reference_on_own_fill_streams(
    name: str, whole: bool, ops: list[tuple[int, tuple[Any, ...]]]
) -> None:
    problem = run_pair(ops, PARAMS[name], whole)
    assert problem is None, problem


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(PARAMS)), whole=st.booleans(), data=st.data())
def test_twin_equals_reference_long(name: str, whole: bool, data: Any) -> None:
    p = PARAMS[name]
    ops = data.draw(st.one_of(adversarial_ops(_horizon(p)), _fill_heavy()), label="ops")
    fresh = data.draw(st.frozensets(st.integers(0, 60), max_size=4), label="fresh_out")
    problem = run_pair(ops, p, whole, fresh)
    assert problem is None, problem


def test_stagnation_and_capacity_are_reached() -> None:
    """The small parameters do take the stream through the alert, the capacity cut, own-fill
    graduation and expiry (so the comparisons above are not over idle components)."""
    ops: list[tuple[int, tuple[Any, ...]]] = [
        (NS_PER_S, ("fill", 0.001, 1.0, True)),
        (NS_PER_S, ("fill", -0.002, 1.0, False)),
        (NS_PER_S, ("timer",)),
        (40 * NS_PER_S, ("timer",)),
        (10 * NS_PER_S, ("timer",)),
    ]
    twin = KappaOrchestratorTwin(SMALL)
    seen_grad = seen_alert = False
    problem = run_pair(ops, SMALL, True)
    assert problem is None, problem
    # replay on the twin alone to observe its states
    now = 1_700_000_000 * NS_PER_S
    mid = [100.0]
    out = Estimates()
    for step, op in busy_market() + ops:
        now = max(0, now + step)
        ev = _event_of(op, now, mid)
        _deliver(twin, ev, op, now, True)
        twin.estimate(out, now)
        seen_grad |= twin.has_exited_warmup
        seen_alert |= twin.stagnation_alert
    assert twin.robust.capacity_cut_ns > 0  # 16 trades held of hundreds
    assert seen_grad and twin.observation_count == 0  # graduated, then the fills expired
    assert seen_alert and twin.stagnation_episodes >= 1
    assert out.extras["kappa.stagnation_alert"] == 1.0


@given(
    kb=st.floats(1.5e308, 1.7e308),
    kr=st.floats(1.5e308, 1.7e308),
    cb=st.floats(0.7, 1.0),
    cr=st.floats(0.7, 1.0),
)
def test_blend_overflow_branch(kb: float, kr: float, cb: float, cr: float) -> None:
    """Book and robust kappas near the float limit (out of reach of real data: written into
    both components' source state) overflow the blend's weighted sum; both take the
    exact-sum branch and agree."""
    p = replace(DEFAULT, kappa_cap=1.7e308, warmup_robust_cap_mult=1e306)
    assert math.isinf(cb * kb + cr * kr)  # the branch under test
    ref, twin = KappaOrchestrator(p), KappaOrchestratorTwin(p)
    ref.book.kappa, ref.book.confidence = kb, cb
    ref.robust.kappa, ref.robust.confidence = kr, cr
    twin._f[kk.F_BK_KAPPA], twin._f[kk.F_BK_CONF] = kb, cb
    twin._f[kk.F_RB_KAPPA], twin._f[kk.F_RB_CONF] = kr, cr
    out_r, out_t = Estimates(), Estimates()
    ref.estimate(out_r, NS_PER_S)
    twin.estimate(out_t, NS_PER_S)
    assert outputs_differ(ref, twin, out_r, out_t) == []
    assert lo_hi(ref.kappa_sources(), ref.blended_kappa())


def lo_hi(sources: list[tuple[str, float, float]], blend: float) -> bool:
    """The blend is within its sources (the convex combination held through the overflow)."""
    ks = [k for _n, k, _c in sources]
    return min(ks) <= blend <= max(ks)


def test_twin_from_reference_and_make_twin() -> None:
    ref = KappaOrchestrator(SMALL)
    twin = make_twin("estimator", ref)
    assert type(twin) is KappaOrchestratorTwin
    assert twin.p is ref.p
    assert outputs_differ(ref, twin) == []


# -- the kernels' exact helpers against Python ----------------------------------------------


@given(st.lists(st.floats(0.0, 1e300), max_size=40))
def test_fsum_kernel_equals_math_fsum(xs: list[float]) -> None:
    """The in-kernel exact sum (own-fill free, used on blend overflow) is math.fsum's."""
    got = kk.fsum_of(np.asarray(xs, dtype=np.float64), np.zeros(kk.N_SCRATCH))
    assert got == math.fsum(xs)


@given(
    st.lists(
        st.one_of(st.floats(-1e6, 1e6), st.floats(1e-300, 1e-290), st.floats(-1e300, 1e300)),
        max_size=12,
    )
)
def test_fsum_kernel_equals_math_fsum_signed(xs: list[float]) -> None:
    try:
        want = math.fsum(xs)
    except OverflowError:
        return
    got = kk.fsum_of(np.asarray(xs, dtype=np.float64), np.zeros(kk.N_SCRATCH))
    assert got == want or (got != got and want != want)


@given(
    st.integers(-(2**63), 2**63 - 1),
    st.one_of(st.floats(), st.integers(-(2**63), 2**63 - 1).map(float)),
)
def test_int_gt_float_is_pythons_comparison(a: int, b: float) -> None:
    assert kk._int_gt_float(a, b) == (a > b)


# -- a broken twin is caught ------------------------------------------------------------------


class OneUlpTwin(KappaOrchestratorTwin):
    """Publishes a kappa one ulp above the right one."""

    def estimate(self, out: Estimates, now_ns: int) -> None:
        super().estimate(out, now_ns)
        out.kappa = math.nextafter(out.kappa, math.inf)


class NoCapacityCutTwin(KappaOrchestratorTwin):
    """Forgets the capacity cut once the buffer drops a trade (the intensity branch)."""

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        super().on_trades(batch, now_ns)
        self._i[kk.I_RB_CUT] = -(2**62)


class FirstDepthOneUlpTwin(KappaOrchestratorTwin):
    """Stores the first held trade's log depth one ulp off (seen only by the deep check
    until a refit reads it)."""

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        super().on_trades(batch, now_ns)
        j = kk.F_RING + int(self._i[kk.I_RB_HEAD])
        self._f[j] = math.nextafter(self._f[j], math.inf)


class NoOwnExpiryTwin(KappaOrchestratorTwin):
    """Keeps own fills past the window (the rare Python branch of estimate)."""

    def estimate(self, out: Estimates, now_ns: int) -> None:
        self._i[kk.I_OWN_OLDEST] = kk.NO_TIME
        super().estimate(out, now_ns)


@pytest.mark.parametrize(
    "broken", [OneUlpTwin, NoCapacityCutTwin, NoOwnExpiryTwin, FirstDepthOneUlpTwin]
)
def test_a_broken_twin_is_caught(broken: type[KappaOrchestratorTwin]) -> None:
    ops: list[tuple[int, tuple[Any, ...]]] = [
        (NS_PER_S, ("fill", 0.001, 1.0, True)),
        (NS_PER_S, ("fill", -0.002, 1.0, False)),
        (NS_PER_S, ("timer",)),
        (40 * NS_PER_S, ("timer",)),
    ]
    problem = run_pair(ops, SMALL, True, twin_cls=broken)
    assert problem is not None
    assert run_pair(ops, SMALL, True) is None  # the correct twin agrees on the same stream


# -- the real capture -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("whole", [True, False])
def test_twin_equals_reference_on_the_usdm_capture(shared_data: Path, whole: bool) -> None:
    """The USD-M BTC capture (21,313 trades in 345 s: the 4096-trade buffer drops trades,
    the robust fit runs every second on a full buffer), with a 100 ms timer as the engine
    runs it, a snapshot of the rebuilt book (20 levels a side) at each timer, runs of trades
    as batches (``whole``) or one by one, and an own fill at the last trade's price every
    2,000 events (graduation): the twin's estimates, sources and intensity equal the
    reference's at every timer."""
    from mmkit.calibrate.engine_state import _events
    from mmkit.core.events import BookSnapshot, OwnFill, Timer, Trade
    from mmkit.core.market import MarketState
    from mmkit.core.types import Side

    capture = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    if not capture.exists():
        pytest.skip(f"{capture} not available")
    ref, twin = KappaOrchestrator(DEFAULT), KappaOrchestratorTwin(DEFAULT)
    out_r, out_t = Estimates(), Estimates()
    market = MarketState()
    run: list[Trade] = []
    run_t: list[int] = []
    counts = {"timers": 0, "batches": 0, "fills": 0}

    def both(ev: Any, now: int) -> None:
        ref.on_event(ev, now)
        twin.on_event(ev, now)

    def flush() -> None:
        if not run:
            return
        if whole:
            batch = TradeBatch.of(run, run_t)
            ref.on_trades(batch, batch.local_ts)
            twin.on_trades(batch, batch.local_ts)
            counts["batches"] += 1
        else:
            for tr, tt in zip(run, run_t, strict=True):
                both(tr, tt)
        run.clear()
        run_t.clear()

    next_timer, last = -1, -(2**62)
    for n, ev in enumerate(_events([capture], "auto", 0.0), start=1):
        t = max(ev.local_ts if ev.local_ts >= 0 else ev.ts, last)
        if next_timer < 0:
            next_timer = t
        if ev.kind.name != "TRADE" or next_timer <= t:
            flush()
        while next_timer <= t:
            nb, na = min(20, len(market.bid_px)), min(20, len(market.ask_px))
            snap = BookSnapshot(
                next_timer,
                market.bid_px[:nb].copy(),
                market.bid_sz[:nb].copy(),
                market.ask_px[:na].copy(),
                market.ask_sz[:na].copy(),
            )
            both(snap, next_timer)
            both(Timer(next_timer, local_ts=next_timer), next_timer)
            ref.estimate(out_r, next_timer)
            twin.estimate(out_t, next_timer)
            diff = outputs_differ(ref, twin, out_r, out_t)
            assert not diff, f"at timer {counts['timers']}: " + "; ".join(diff)
            counts["timers"] += 1
            next_timer += 100_000_000
        market.apply(ev, t)
        e: Any = ev
        if ev.kind.name == "TRADE":
            run.append(e)
            run_t.append(t)
        else:
            both(ev, t)
        if n % 2000 == 0 and market.last_trade_px == market.last_trade_px:
            flush()
            both(OwnFill(t, 1, None, Side.BUY, market.last_trade_px, 0.001), t)
            counts["fills"] += 1
        last = t
    flush()
    assert counts["timers"] > 3000 and ref.has_exited_warmup
    assert ref.book.fits > 3000  # the book source fitted at (nearly) every snapshot
    assert ref.robust.capacity_cut_ns > 0  # the buffer was the limit
    assert (counts["batches"] > 1000) == whole
    assert outputs_differ(ref, twin, out_r, out_t, deep=True) == []
