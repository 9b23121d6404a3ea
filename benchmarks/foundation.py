"""Foundation figures: cold start of ``mmkit --help`` and the empty engine's per-event cost.

python benchmarks/foundation.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import figure, median_ns_per_call


def cold_start(runs: int = 10) -> float:
    env = dict(os.environ)
    times = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mmkit", "--help"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])  # first run warms the OS file cache


def empty_engine_per_event() -> float:
    import numpy as np

    from mmkit.components import EMPTY_LADDER, Estimates, GateDecision, Ladder, View
    from mmkit.core.actions import Action
    from mmkit.core.events import BookSnapshot, Event
    from mmkit.core.types import Instrument
    from mmkit.engine import Engine

    class NullQuoter:
        def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
            return EMPTY_LADDER

    class NullExecutor:
        def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
            return []

        def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
            return []

        def halt(self, d: GateDecision, view: View, now_ns: int) -> list[Action]:
            return []

    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        quoter=("null", NullQuoter()),
        executor=("null", NullExecutor()),
    )
    a = np.asarray([1.0])
    ev = BookSnapshot(1, a, a, a + 1, a)
    on_event = eng.on_event
    return median_ns_per_call(lambda: on_event(ev, 1), 200_000)


if __name__ == "__main__":
    print("mmkit foundation benchmarks")
    figure("cold start `mmkit --help` (median of 10)", cold_start() * 1000, "ms", "<= 300 ms")
    figure(
        "empty engine pipeline per event (median of 7)",
        empty_engine_per_event() / 1000,
        "µs",
        "<= 2 µs",
    )
