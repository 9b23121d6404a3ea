"""``mmkit trade`` figures: tick-to-actions latency of the full default pipeline and paper
throughput.

    python benchmarks/trade.py [--duration 1800]

Targets (issue 20): median <= 10 µs and p99 <= 50 µs on both with the default set, which
runs the built-in components' compiled twins (``[engine] twins = "auto"``); the same
figures with every component's Python reference (``twins = "off"``) are printed beside
them (issue 8's targets for those: 20 / 100 µs). A third line, with no target, runs the
executor twin with its orders as objects (``SmartExecutorTwin.use_table(False)``; by
default the twin keeps them in its order table from two levels a side: step 1 of the
compiled loop in docs/twins.md). Latency is the time of
``Engine.on_event`` for each market event (estimators -> gates ->
quoter -> executor, actions out), measured with the default plugin set on the synthetic
market and on the USD-M BTC capture (``../shared/data/binance-usdm``); venue answers are fed
back as in a real run. Each mode's line "engine time over every event" is the sum of
``Engine.on_event`` over all of a run's events, the venue's answers and the timers
included (the median of the runs): work moved from the market events onto the answers
shows there, not in the latency. Throughput is the whole paper loop (feed, simulated
exchange, engine, journal) in market events per wall second. For the default set, the
last run's tail is broken down: the events at or above its p99 by kind and actions sent,
and those groups' medians (docs/twins.md, "What the tail is made of"). Two more lines
without targets run the default set on the synthetic market with 4 and 64 MB of other
memory touched before each event (``--evict-mb``): the figures above are of warm caches,
as events fed back to back keep them; a live session does other work between events.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import figure, percentile

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO.parent / "shared" / "data" / "binance-usdm" / "btcusdt_20240808.gz"


def settings_for(feed: str, duration: float, extra: list[str] | None = None):  # type: ignore[no-untyped-def]
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    sets = [f"components.feed='{feed}'", f"trade.duration_s={duration}", *(extra or [])]
    return host, load_settings(None, host.registry, env={}, sets=sets)


#: the default estimators and two of the signal estimators (the classifier and the agent)
SIGNALS_SET = ("kappa", "sigma", "warmup", "adverse_selection", "rl_skew")


def use_order_table(eng, on: bool) -> None:  # type: ignore[no-untyped-def]
    """The executor twin's orders in its order table (``on``) or as objects, whatever its
    ladders (step 1 of the compiled loop in docs/twins.md; by default the twin chooses by
    its first ladder's size)."""
    eng.executor.use_table(on)


def latency(
    feed: str,
    duration: float,
    extra: list[str] | None = None,
    table: bool | None = None,
    kinds: list[tuple[str, int]] | None = None,
    evict_mb: int = 0,
    engine_ms: list[float] | None = None,
) -> tuple[list[float], int]:
    """Each market event's tick-to-actions time (µs) and the run's fills; ``kinds``, when
    given, gets each event's class name and the number of actions it sent. ``evict_mb``:
    before each market event (untimed), a write to every cache line of that many MB of
    other memory, as the work between two events of a live session would push the engine
    out of the caches. ``engine_ms``, when given, gets the run's sum of ``on_event`` over
    every event (market data, the venue's answers, timers), in ms."""
    import numpy as np

    from mmkit.assembly import build_component, build_engine
    from mmkit.core.events import Timer
    from mmkit.core.types import NS_PER_MS
    from mmkit.runtime.paper import event_time

    scratch = np.zeros(evict_mb * (1 << 20) // 8) if evict_mb > 0 else None

    host, s = settings_for(feed, duration, extra)
    eng = build_engine(s, host)
    if table is not None:
        use_order_table(eng, table)
    venue = build_component(host.registry, s, "venue", s.components.venue)
    feed_obj = build_component(host.registry, s, "feed", s.components.feed)
    samples: list[float] = []
    t0 = None
    timer_ns = s.engine.timer_ms * NS_PER_MS
    next_timer = 0
    clock = time.perf_counter_ns
    on_event = eng.on_event
    other_ns = 0  # the answers' and timers' time

    def feed_back(ev: Any, t: int) -> None:
        nonlocal other_ns
        c = clock()
        acts = on_event(ev, t)
        other_ns += clock() - c
        venue.submit(acts, t)

    for ev in feed_obj.events():
        t = event_time(ev)
        if t0 is None:
            t0 = t
            feed_back(Timer(t, "startup"), t)
            next_timer = t + timer_ns
        if t - t0 > duration * 1e9:
            break
        while next_timer <= t:
            for r in venue.drain(next_timer):
                feed_back(r, next_timer)
            feed_back(Timer(next_timer), next_timer)
            next_timer += timer_ns
        for r in venue.drain(t):
            feed_back(r, t)
        venue.on_market(ev, t)
        if scratch is not None:  # one write per 64-byte cache line
            scratch[::8] += 1.0
        c0 = clock()
        acts = on_event(ev, t)
        samples.append((clock() - c0) / 1000.0)
        if kinds is not None:
            kinds.append((type(ev).__name__, len(acts)))
        venue.submit(acts, t)
    if engine_ms is not None:
        engine_ms.append(other_ns / 1e6 + sum(samples) / 1e3)
    return samples, eng.portfolio.fill_count


def runs_of(
    runs: int, feed: str, duration: float, sets: list[str], **kw: Any
) -> tuple[list[float], list[float], list[float], int]:
    """``runs`` latency runs: their medians, their p99s, the last run's samples and fills
    (``kw``: :func:`latency`'s options)."""
    meds, p99s = [], []
    samples: list[float] = []
    fills = 0
    for _ in range(runs):
        samples, fills = latency(feed, duration, sets, **kw)
        meds.append(statistics.median(samples))
        p99s.append(percentile(samples, 99))
    return meds, p99s, samples, fills


def _sent(n: int) -> str:
    """An event's group by the actions it sent."""
    if n == 0:
        return "sending nothing"
    if n < 5:
        return "sending 1-4"
    return "sending 5-9" if n < 10 else "sending 10+"


def tail_report(samples: list[float], kinds: list[tuple[str, int]]) -> None:
    """What set the run's p99: the events at or above it by kind and actions sent, and each
    such group's median over the whole run."""
    p99 = percentile(samples, 99)
    groups: dict[str, list[float]] = {}
    at_tail: dict[str, int] = {}
    for us, (kind, n) in zip(samples, kinds, strict=True):
        key = f"{kind} {_sent(n)}"
        groups.setdefault(key, []).append(us)
        if us >= p99:
            at_tail[key] = at_tail.get(key, 0) + 1
    n_tail = sum(at_tail.values())
    top = sorted(at_tail.items(), key=lambda kv: -kv[1])[:4]
    print(
        f"    the last run's tail, {n_tail} events at or above its p99 ({p99:.0f} µs): "
        + ", ".join(f"{k} {v}" for k, v in top)
    )
    big = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:6]
    print(
        "    its medians by event (µs, count): "
        + "; ".join(f"{k} {statistics.median(v):.1f} ({len(v):,})" for k, v in big)
    )


def throughput(feed: str, duration: float, extra: list[str] | None = None) -> tuple[float, int]:
    from mmkit.runtime.paper_run import run_paper

    host, s = settings_for(feed, duration, extra)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = run_paper(
            s, host, journal_dir=Path(d), speed=None, duration_s=duration, dashboard=False
        )
        wall = time.perf_counter() - t0
    return out.session.stats.market_events / wall, out.session.stats.market_events


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=1800.0, help="simulated seconds (synthetic)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--evict-mb",
        type=int,
        default=(4, 64),
        nargs="*",
        help="for each N, a line of the default set on the synthetic market with N MB of "
        "other memory touched before each market event (caches no longer warm)",
    )
    args = ap.parse_args()
    # the runs' own warnings (gates closing, rate-limit warnings) are not figures
    logging.getLogger("mmkit").setLevel(logging.ERROR)
    print("mmkit trade benchmarks (default plugin set, warm numba cache)")
    latency("synthetic", 60.0)  # warm-up: numba cache load / compile
    cases = [("synthetic market", "synthetic", args.duration, [])]
    if CAPTURE.is_file():
        cases.append(
            (
                "USD-M BTC capture",
                "binance_capture",
                345.0,
                [
                    f"feeds.binance_capture.path=['{CAPTURE}']",
                    # the capture is 345 s: quote from priors after 20 s rather than 300 s,
                    # so that the figures are of the quoting pipeline, not of a closed gate
                    "estimators.warmup.max_warmup_secs=20",
                    "instrument.tick=0.1",
                    "instrument.sz_decimals=3",
                ],
            )
        )
    else:
        print(f"(capture {CAPTURE} not found: skipping it)")
    modes = (
        ("twins", "auto", "<= 10 µs", "<= 50 µs", None),
        ("python", "off", "<= 20 µs", "<= 100 µs", None),
        # the executor twin with its orders as objects (the default: its order table from
        # two levels a side): no target
        ("twins, orders as objects", "auto", "", "", False),
    )
    for label, feed, dur, extra in cases:
        for how, mode, t_med, t_p99, table in modes:  # table None: the twin's choice
            kinds: list[tuple[str, int]] = []  # every run's events, appended in turn
            engine_ms: list[float] = []  # each run's engine time over every event
            sets = [*extra, f"engine.twins='{mode}'"]
            meds, p99s, samples, fills = runs_of(
                args.runs, feed, dur, sets, table=table, kinds=kinds, engine_ms=engine_ms
            )
            figure(
                f"tick-to-actions median, {label}, {how} ({len(samples):,} events)",
                statistics.median(meds),
                "µs",
                t_med,
            )
            figure(f"tick-to-actions p99, {label}, {how}", statistics.median(p99s), "µs", t_p99)
            spread = ", ".join(f"{m:.1f} / {p:.0f}" for m, p in zip(meds, p99s, strict=True))
            print(f"    each run's median / p99 (µs): {spread}")
            figure(
                f"engine time over every event (answers and timers too), {label}, {how}",
                statistics.median(engine_ms),
                "ms",
            )
            print("    each run's (ms): " + ", ".join(f"{x:.1f}" for x in engine_ms))
            if mode == "auto" and table is None:  # the default set: what its tail is made of
                tail_report(samples, kinds[len(kinds) - len(samples) :])  # the last run
        for mb in [m for m in args.evict_mb if m > 0 and feed == "synthetic"]:
            # no target: how the default set's latency depends on warm caches
            sets = [*extra, "engine.twins='auto'"]
            meds, p99s, _, _ = runs_of(args.runs, feed, dur, sets, evict_mb=mb)
            how = f"twins, {mb} MB of other memory touched before each event"
            figure(f"tick-to-actions median, {label}, {how}", statistics.median(meds), "µs")
            figure(f"tick-to-actions p99, {label}, {how}", statistics.median(p99s), "µs")
        if feed == "synthetic":
            # no target: the default set with two of the signal estimators, which have twins
            # too (docs/twins.md, "The signal estimators' twins"), against their references
            signals = [*extra, f"components.estimators={list(SIGNALS_SET)!r}"]
            for how, mode in (("twins", "auto"), ("python", "off")):
                engine_ms = []
                sets = [*signals, f"engine.twins='{mode}'"]
                meds, p99s, _, n_fills = runs_of(args.runs, feed, dur, sets, engine_ms=engine_ms)
                what = f"{label}, default set + adverse_selection + rl_skew, {how}"
                figure(f"tick-to-actions median, {what}", statistics.median(meds), "µs")
                figure(f"tick-to-actions p99, {what}", statistics.median(p99s), "µs")
                figure(
                    f"engine time over every event, {what} ({n_fills} fills)",
                    statistics.median(engine_ms),
                    "ms",
                )
        rates = [throughput(feed, dur, extra)[0] for _ in range(args.runs)]
        figure(
            f"paper throughput, {label} (journal on, {fills} fills)",
            statistics.median(rates),
            "events/s",
        )


if __name__ == "__main__":
    main()
