"""Two engine variants side by side on the same events, alternating event by event: an A/B
of the paper flow that the machine's slow and fast phases cannot tilt.

    python benchmarks/lockstep.py [--feed synthetic|usdm] [--duration S] [--levels N]
                                  [--runs R]

Timing one variant's whole run, then the other's, compares two stretches of time on a
machine whose speed swings by 2-3x from one minute to the next (this sandbox's did on
2026-12-07: the same code's synthetic median 9 to 30 µs). Here both variants run in one
process over one feed: each market event (and the venue answers and timers before it)
goes to one variant's engine, then to the other's, each with its own simulated exchange,
so a phase of the machine falls on both alike; which goes first alternates from one event
to the next, since the second to run an event finds the code and the event warm (with A
always first, two identical sides gave B ~14 % less engine time; alternating, ~1 %).
What each side gets is printed as ``benchmarks/trade.py`` prints it: the tick-to-actions
median, p90 and p99 of the market events, the engine's time on them and on the answers
and timers, and the fills (which must be equal: the two variants are the same strategy).
Absolute figures run higher than ``trade.py``'s (two engines take turns in the caches);
the comparison is the point.

The variants compared are the executor twin's two representations of its orders:
``objects`` (``SmartExecutorTwin.use_table(False)``) and ``table`` (its order table),
whatever the default would choose for the ladders (``docs/twins.md``, step 1).
``--variants table,table`` (or ``objects,objects``) runs two identical sides: the
device's own bias, which should print a ratio near 1 (0.990 and 0.991 on 2026-12-07).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import percentile
from trade import CAPTURE, settings_for

VARIANTS = ("objects", "table")


def run(
    feed: str, duration: float, levels: int | None, variants: tuple[str, str] = VARIANTS
) -> list[dict[str, Any]]:
    """One lockstep run: per side (``variants``: each ``objects`` or ``table``), its market
    events' latencies (µs), its time on the answers and timers (ns) and its fills."""
    from mmkit.assembly import build_component, build_engine
    from mmkit.core.events import Timer
    from mmkit.core.types import NS_PER_MS
    from mmkit.runtime.paper import event_time

    extra = [] if levels is None else [f"quoters.glft.levels={levels}"]
    name = "synthetic"
    if feed == "usdm":
        name = "binance_capture"
        extra += [
            f"feeds.binance_capture.path=['{CAPTURE}']",
            "estimators.warmup.max_warmup_secs=20",  # as benchmarks/trade.py
            "instrument.tick=0.1",
            "instrument.sz_decimals=3",
        ]
    host, s = settings_for(name, duration, extra)
    sides = []
    for v in variants:
        eng = build_engine(s, host)
        eng.executor.use_table(v == "table")
        sides.append((eng, build_component(host.registry, s, "venue", s.components.venue)))
    feed_obj = build_component(host.registry, s, "feed", s.components.feed)
    clock = time.perf_counter_ns
    market: list[list[float]] = [[] for _ in variants]
    other: list[list[float]] = [[] for _ in variants]

    def answer(k: int, ev: Any, t: int) -> None:
        eng, venue = sides[k]
        c = clock()
        acts = eng.on_event(ev, t)
        other[k].append((clock() - c) / 1000.0)
        venue.submit(acts, t)

    timer_ns = s.engine.timer_ms * NS_PER_MS
    t0: int | None = None
    next_timer = 0
    # which side goes first alternates from one market event to the next: the second to
    # run an event finds the code and the event warm (measured 2026-12-07: with A always
    # first, two identical sides gave B ~14 % less engine time)
    orders = ((0, 1), (1, 0))
    for n, ev in enumerate(feed_obj.events()):
        t = event_time(ev)
        first = orders[n & 1]
        if t0 is None:
            t0 = t
            for k in first:
                answer(k, Timer(t, "startup"), t)
            next_timer = t + timer_ns
        if t - t0 > duration * 1e9:
            break
        while next_timer <= t:
            for k in first:
                for r in sides[k][1].drain(next_timer):
                    answer(k, r, next_timer)
                answer(k, Timer(next_timer), next_timer)
            next_timer += timer_ns
        for k in first:
            eng, venue = sides[k]
            for r in venue.drain(t):
                answer(k, r, t)
            venue.on_market(ev, t)
            c = clock()
            acts = eng.on_event(ev, t)
            market[k].append((clock() - c) / 1000.0)
            venue.submit(acts, t)
    if len(other[0]) != len(other[1]):
        raise SystemExit("the two variants got different answers: not the same strategy")
    return [
        {"market": market[k], "other": other[k], "fills": sides[k][0].portfolio.fill_count}
        for k in range(len(variants))
    ]


#: a pair of event times with either above this (µs) is left out of the paired totals: a
#: pause of the machine (or a compile) that fell on one side's event, not the code's cost
OUTLIER_US = 2000.0


def paired(a: list[float], b: list[float]) -> tuple[float, float, int]:
    """The two sides' totals (ms) over the events both timed under ``OUTLIER_US``, and how
    many pairs were left out."""
    ta = tb = 0.0
    out = 0
    for x, y in zip(a, b, strict=True):
        if x > OUTLIER_US or y > OUTLIER_US:
            out += 1
            continue
        ta += x
        tb += y
    return ta / 1e3, tb / 1e3, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feed", choices=("synthetic", "usdm"), default="synthetic")
    ap.add_argument("--duration", type=float, default=600.0, help="simulated seconds")
    ap.add_argument("--levels", type=int, default=None, help="the GLFT ladder's levels a side")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="the two sides, each objects or table (the same twice: the device's own bias)",
    )
    a = ap.parse_args()
    variants = tuple(a.variants.split(","))
    if len(variants) != 2 or not set(variants) <= set(VARIANTS):
        ap.error(f"--variants: two of {', '.join(VARIANTS)}, comma-separated (got {a.variants!r})")
    pair: tuple[str, str] = (variants[0], variants[1])
    names = [f"{v} ({side})" for v, side in zip(pair, "AB", strict=True)]
    if a.feed == "usdm" and not CAPTURE.is_file():
        print(f"(capture {CAPTURE} not found)")
        return
    logging.disable(logging.WARNING)  # the runs' warnings are the same for both sides
    run(a.feed, 60.0, a.levels, pair)  # warm-up: numba cache load
    levels = "default levels" if a.levels is None else f"{a.levels} levels a side"
    print(f"lockstep A/B, {a.feed} market, {a.duration:g} s, {levels}, {a.runs} runs")
    print(
        f"  (engine time: each side's sum over the events both sides timed under "
        f"{OUTLIER_US:g} µs; the pairs left out are counted)"
    )
    ratios: list[float] = []
    for i in range(a.runs):
        va, vb = run(a.feed, a.duration, a.levels, pair)
        ma, mb, m_out = paired(va["market"], vb["market"])
        oa, ob, o_out = paired(va["other"], vb["other"])
        for name, side, m, o in ((names[0], va, ma, oa), (names[1], vb, mb, ob)):
            x = side["market"]
            print(
                f"  run {i + 1} {name:<12}: tick-to-actions median "
                f"{statistics.median(x):6.2f} µs, p90 {percentile(x, 90):6.1f}, "
                f"p99 {percentile(x, 99):6.1f}; engine time market events {m:7.1f} ms + "
                f"answers and timers {o:7.1f} ms = {m + o:7.1f} ms; {side['fills']} fills"
            )
        print(f"  run {i + 1} pairs left out: {m_out} market events, {o_out} answers and timers")
        ratios.append((mb + ob) / (ma + oa))
    print(
        f"  engine time {names[1]} / {names[0]}, each run: "
        + ", ".join(f"{r:.3f}" for r in ratios)
        + f" (median {statistics.median(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
