"""Estimator benchmarks (issue 3): particle-filter step, full update per book event, compile.

Prints medians of several runs, as process CPU time (robust to other processes on a shared
machine) and wall time; never asserts on time. Targets: PF step with 100 particles
<= 5 µs median; kappa + sigma + warmup update per book event <= 10 µs median (both after
numba's cache is warm); numba compile time on a cold cache (a fresh NUMBA_CACHE_DIR in a
subprocess).

    python benchmarks/estimators.py
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

NS = 1_000_000_000
T0 = 1_700_000_000 * NS

COLD_SNIPPET = """
import time, numpy as np
t = time.perf_counter()
from mmkit.estimators import _kernels_pf, _kernels_kappa
from mmkit.estimators.particle_filter import ParticleFilter, SVModel
from mmkit.estimators.robust_kappa import log_exponential_offset
pf = ParticleFilter(SVModel(mu=-18.0, phi=0.99, vol_of_vol=0.1, d_mu=2.0, p01=0.002, p10=0.02))
pf.step(1e-4)
log_exponential_offset(4.0)
a = np.ones(10)
_kernels_kappa.book_depth_regression(a * 99, a, a * 101, a, 100.0, 0.01, 4)
print(time.perf_counter() - t)
"""


def cold_compile_s() -> float:
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        out = subprocess.run(
            [sys.executable, "-c", COLD_SNIPPET],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return float(out.stdout.strip().splitlines()[-1])


def _clocks() -> tuple[int, int]:
    return time.process_time_ns(), time.perf_counter_ns()


def bench_pf_step(runs: int = 7, steps: int = 20_000) -> tuple[list[float], list[float]]:
    from mmkit.estimators.params import SigmaParams
    from mmkit.estimators.particle_filter import ParticleFilter
    from mmkit.estimators.sigma_estimator import sv_model

    model = sv_model(SigmaParams())
    r = np.random.default_rng(0).normal(0, 1e-4, steps).tolist()
    cpu, wall = [], []
    for run in range(runs):
        pf = ParticleFilter(model, 100, 0.5, seed=run)
        pf.step(1e-4)
        c0, w0 = _clocks()
        for x in r:
            pf.step(x)
        c1, w1 = _clocks()
        cpu.append((c1 - c0) / steps / 1e3)
        wall.append((w1 - w0) / steps / 1e3)
    return cpu, wall


def _book_events(n: int) -> list[tuple[int, object]]:
    from mmkit.core.events import BookSnapshot, Trade
    from mmkit.core.types import Side

    rng = np.random.default_rng(1)
    mid = 60_000.0
    evs: list[tuple[int, object]] = []
    for i in range(n):
        t = T0 + i * NS // 10  # 10 book events per second
        mid *= math.exp(1e-4 * math.sqrt(0.1) * rng.standard_normal())
        d = (0.5 + np.arange(20)) * 1e-5 * mid
        sz = 2.0 * np.exp(-1500.0 * d / mid) * (1 + 0.2 * rng.random(20))
        evs.append((t, BookSnapshot(t, mid - d, sz, mid + d, sz[::-1].copy())))
        if i % 5 == 0:
            evs.append((t, Trade(t, mid + 0.5e-5 * mid, 0.1, Side.BUY)))
    return evs


def bench_full_update(runs: int = 7, n: int = 20_000) -> tuple[list[float], list[float]]:
    """kappa + sigma + warmup: on_event then estimate, per book event (trades included)."""
    from mmkit.components import Estimates
    from mmkit.core.events import EventKind
    from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
    from mmkit.estimators.params import KappaParams, SigmaParams, WarmupParams
    from mmkit.estimators.sigma_estimator import SigmaEstimator
    from mmkit.estimators.warmup import WarmupEstimator

    evs = _book_events(n)
    n_book = sum(1 for _t, e in evs if e.kind is EventKind.BOOK_SNAPSHOT)  # type: ignore[attr-defined]
    cpu, wall = [], []
    for run in range(runs):
        ests = [
            KappaOrchestrator(KappaParams()),
            SigmaEstimator(SigmaParams(), seed=run),
            WarmupEstimator(WarmupParams()),
        ]
        out = Estimates()
        for e in ests:  # warm every path once
            e.on_event(evs[0][1], evs[0][0])  # type: ignore[attr-defined]
            e.estimate(out, evs[0][0])  # type: ignore[attr-defined]
        c0, w0 = _clocks()
        for now, ev in evs:
            for e in ests:
                e.on_event(ev, now)  # type: ignore[attr-defined]
            for e in ests:
                e.estimate(out, now)  # type: ignore[attr-defined]
        c1, w1 = _clocks()
        cpu.append((c1 - c0) / n_book / 1e3)
        wall.append((w1 - w0) / n_book / 1e3)
    return cpu, wall


def _fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):7.2f}"


def main() -> None:
    import logging

    logging.disable(logging.WARNING)  # the benchmark streams have no fills: warmup times out
    cold = [cold_compile_s() for _ in range(3)]
    pf_cpu, pf_wall = bench_pf_step()
    full_cpu, full_wall = bench_full_update()
    print("estimators benchmark: median of 7 runs, numba cache warm (CPU time | wall time)")
    print(
        f"  particle filter step, 100 particles : {_fmt(pf_cpu)} µs | {_fmt(pf_wall)} µs"
        "   (target <= 5 µs)"
    )
    print(
        f"  kappa+sigma+warmup per book event   : {_fmt(full_cpu)} µs | {_fmt(full_wall)} µs"
        "   (target <= 10 µs; includes the trades between book events)"
    )
    print(
        f"  numba compile + load, cold cache    : {statistics.median(cold):7.2f} s"
        f"   (median of 3 fresh NUMBA_CACHE_DIRs: {', '.join(f'{x:.2f}' for x in cold)})"
    )
    print(f"  load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
