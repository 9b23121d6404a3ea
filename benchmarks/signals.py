"""Signal benchmarks (issue 11): per-update cost of each signal estimator and the lead-lag
significance test time.

Per-update cost = one ``on_event`` + one ``estimate`` per event, on the synthetic streams of
:mod:`mmkit.signals.synthetic` (lead-lag: two venues at 100 ms, the periodic test amortised;
adverse selection: the toxic-flow market; RL agent: BBO + occasional fills). Medians of
several runs, in process CPU time (robust to other processes on a shared machine); never
asserts on time.

    python benchmarks/signals.py
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import figure

from mmkit.components import Estimates
from mmkit.core.events import BBO, OwnFill
from mmkit.core.types import Side
from mmkit.signals.adverse_selection import AdverseSelectionEstimator
from mmkit.signals.lead_lag import LeadLagEstimator, analyse
from mmkit.signals.lead_lag_twin import LeadLagTwin
from mmkit.signals.params import (
    AdverseSelectionParams,
    LeadLagParams,
    RlSkewParams,
)
from mmkit.signals.rl_skew import RlSkewAgent
from mmkit.signals.synthetic import lead_lag_events, lead_lag_mids, toxic_flow_events

RUNS = 5


def per_update_us(make: Any, events: list[Any]) -> float:
    samples = []
    for _ in range(RUNS):
        est = make()
        out = Estimates()
        t0 = time.process_time_ns()
        for ev in events:
            est.on_event(ev, ev.ts)
            est.estimate(out, ev.ts)
        samples.append((time.process_time_ns() - t0) / len(events) / 1e3)
    return statistics.median(samples)


def median_update_us(makes: list[Any], events: list[Any]) -> list[float]:
    """For each of ``makes``, the median over events of one ``on_event`` + ``estimate``
    (the median of ``RUNS`` runs' medians; the makers' runs interleaved, round by round, so
    that a slow phase of the machine falls on all of them): the significance tests, one
    every ``test_interval_s``, fall outside the median, so it is the per-event cost of a
    signal that is live."""
    samples: list[list[float]] = [[] for _ in makes]
    clock = time.perf_counter_ns
    for _ in range(RUNS):
        for k, make in enumerate(makes):
            est = make()
            out = Estimates()
            each = []
            for ev in events:
                t0 = clock()
                est.on_event(ev, ev.ts)
                est.estimate(out, ev.ts)
                each.append(clock() - t0)
            samples[k].append(statistics.median(each) / 1e3)
    return [statistics.median(s) for s in samples]


def rl_events(n: int) -> list[Any]:
    rng = np.random.default_rng(0)
    evs: list[Any] = []
    mid = 100.0
    for i in range(n):
        t = (i + 1) * 100_000_000
        mid *= 1 + rng.normal(0, 1e-4)
        evs.append(BBO(t, mid - 0.01, 1.0, mid + 0.01, 1.0))
        if i % 20 == 0:
            evs.append(OwnFill(t, i, None, Side.BUY if i % 40 else Side.SELL, mid, 0.1))
    return evs


def main() -> None:
    logging.getLogger("mmkit.signals").setLevel(logging.ERROR)  # gated-off warnings
    # warm numba's cache / JIT outside the timings
    x, y = (np.diff(np.log(m)) for m in lead_lag_mids(0, 400, 2))
    analyse(x, y, n_permutations=19, alpha=0.1)

    ll_events = list(lead_lag_events(1, 6000, 5))
    figure(
        "lead_lag: on_event + estimate per event (5 s tests amortised)",
        per_update_us(lambda: LeadLagEstimator(LeadLagParams(channel=""), 1), ll_events),
        "µs",
    )
    figure(
        "lead_lag: same, one test per run (the update alone)",
        per_update_us(
            lambda: LeadLagEstimator(LeadLagParams(channel="", test_interval_s=1e6), 1),
            ll_events,
        ),
        "µs",
    )
    figure(
        "lead_lag twin: same, one test per run (the update alone)",
        per_update_us(
            lambda: LeadLagTwin(LeadLagParams(channel="", test_interval_s=1e6), 1),
            ll_events,
        ),
        "µs",
    )
    makers: list[Any] = [
        lambda: LeadLagEstimator(LeadLagParams(channel=""), 1),
        lambda: LeadLagTwin(LeadLagParams(channel=""), 1),
    ]
    for name, us in zip(("reference", "twin"), median_update_us(makers, ll_events), strict=True):
        figure(
            f"lead_lag {name}: median on_event + estimate, a significant lead (tests aside)",
            us,
            "µs",
        )
    tox = toxic_flow_events(0, 2000)
    figure(
        "adverse_selection: on_event + estimate per event",
        per_update_us(lambda: AdverseSelectionEstimator(AdverseSelectionParams()), tox),
        "µs",
    )
    rl = rl_events(20000)
    figure(
        "rl_skew: on_event + estimate per event",
        per_update_us(lambda: RlSkewAgent(RlSkewParams(), 1.0, 0), rl),
        "µs",
    )
    for n, perms in ((3000, 200), (3000, 1000), (20000, 200)):
        x, y = (np.diff(np.log(m)) for m in lead_lag_mids(3, n + 1, 4))
        times = []
        for r in range(RUNS):
            t0 = time.process_time()
            analyse(x, y, min_lag=1, max_lag=20, n_permutations=perms, seed=r)
            times.append(time.process_time() - t0)
        figure(
            f"lead-lag significance test: {n} returns, 20 lags, {perms} perms",
            statistics.median(times) * 1e3,
            "ms",
        )


if __name__ == "__main__":
    main()
