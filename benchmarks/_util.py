"""Shared helpers for benchmark scripts: timing loops and figure printing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ns_per_call(fn: Callable[[], object], calls: int, runs: int = 7) -> float:
    """Median over ``runs`` of the mean time per call of ``calls`` calls, in ns."""
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter_ns() - t0) / calls)
    return statistics.median(samples)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


def figure(name: str, value: float, unit: str, target: str = "") -> None:
    tgt = f"   (target {target})" if target else ""
    print(f"{name:<58} {value:>12.3f} {unit}{tgt}")


def machine_speed_line() -> str:
    """How fast this machine runs plain Python now: the least of five timings of a
    1M-iteration loop (a shared or throttled machine shows here before it shows in the
    figures; ~0.05 s on the quiet 2-core development machine)."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        acc = 0
        for i in range(1_000_000):
            acc += i
        best = min(best, time.perf_counter() - t0)
    return f"(machine speed: a 1M-iteration Python loop took {best:.3f} s; ~0.05 s when idle)"
