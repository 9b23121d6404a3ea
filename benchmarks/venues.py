"""Venue benchmarks: simulated-exchange throughput and the emulator's order round trip.

Run: ``python benchmarks/venues.py`` (prints figures; never asserts on time).

Section 1 (simulated exchange): the USD-M BTC capture ``../shared/data/binance-usdm/
btcusdt_20240808.gz`` is loaded with mmkit's Binance loader, converted once to market arrays
(level changes + trades), then replayed through the matching kernels with a warm numba cache:
market only, and with a two-sided quote modified every 100 ms. Target: >= 10 million
events/s. Section 2 runs ``benchmarks/emulator.py``: the mmkit client's order round trip
against the loopback emulator (median and p99).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim._kernels_book import best_ask_px, best_bid_px
from mmkit.venues.sim._kernels_orders import enqueue
from mmkit.venues.sim._kernels_replay import advance

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
BTC = DATA / "binance-usdm" / "btcusdt_20240808.gz"
RUNS = 5


def _median_time(fn: Any, runs: int = RUNS) -> tuple[float, float]:
    """Median wall time and median CPU time of ``runs`` calls (the machine may be shared)."""
    wall = []
    cpu = []
    for _ in range(runs):
        t0 = time.perf_counter()
        c0 = time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(wall), statistics.median(cpu)


def _rate(label: str, n: int, times: tuple[float, float], extra: str = "") -> None:
    wall, cpu = times
    print(
        f"sim: {label:<28}: wall {wall * 1e3:6.1f} ms = {n / wall / 1e6:5.1f} M events/s, "
        f"cpu {cpu * 1e3:6.1f} ms = {n / cpu / 1e6:5.1f} M events/s{extra}"
    )


# =========================================================================================
# Section 1: simulated exchange throughput
# =========================================================================================


def _load_records() -> dict[str, np.ndarray]:
    from mmkit.data.loaders import make_loader
    from mmkit.data.schema import concat_chunks

    loader = make_loader("binance", [BTC])
    return concat_chunks(list(loader.chunks()))


@njit(cache=True)
def quote_at_best(st, ts, kind, side, px, sz, ref, every_ns, offset, size):  # type: ignore[no-untyped-def]
    """A numba quoter on the step API: every ``every_ns`` keep one bid and one ask
    ``offset`` ticks behind the best prices (place when gone, modify when the price moved).

    Returns (fills, actions sent)."""
    n = ts.shape[0]
    tick = st.sf[lay.SF_TICK]
    live = np.zeros(2, np.bool_)
    busy = np.zeros(2, np.bool_)
    cur = np.zeros(2)
    fills = 0
    req = 0
    i = 0
    t = ts[0] + every_ns
    while i < n:
        i, ok = advance(st, ts, kind, side, px, sz, ref, i, t)
        ri = st.ri
        for r in range(st.si[lay.SI_NREC]):
            typ = ri[r, lay.RI_TYPE]
            c = ri[r, lay.RI_CID]
            if c < 0:
                continue
            if typ == lay.REC_RESULT:
                busy[c] = False
                live[c] = ri[r, lay.RI_CODE] == lay.OUT_RESTING
            elif typ == lay.REC_FILL:
                fills += 1
            elif typ == lay.REC_ORDER and ri[r, lay.RI_CODE] == lay.ST_FILLED:
                live[c] = False
        st.si[lay.SI_NREC] = 0
        if not ok:
            continue
        bb = best_bid_px(st.si, st.sf)
        ba = best_ask_px(st.si, st.sf)
        if bb == bb and ba == ba:
            for c in range(2):
                s = 1 - 2 * c
                target = (bb - offset * tick) if s == 1 else (ba + offset * tick)
                if busy[c] or (live[c] and target == cur[c]):
                    continue
                kind_a = lay.A_MODIFY if live[c] else lay.A_PLACE
                req += 1
                enqueue(st, kind_a, t, req, -1, c, s, lay.TIF_ALO, False, target, size)
                busy[c] = True
                cur[c] = target
        t += every_ns
    return fills, req


def bench_sim() -> None:
    from mmkit.venues.sim.arrays import ActionArrays
    from mmkit.venues.sim.convert import market_from_records
    from mmkit.venues.sim.replay import grid_for, replay
    from mmkit.venues.sim.state import MatchConfig, SimState, new_state

    if not BTC.exists():
        print(f"sim: {BTC} not found; skipped")
        return
    tick = 0.1
    t0 = time.perf_counter()
    records = _load_records()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    market = market_from_records(records, tick)
    t_conv = time.perf_counter() - t0
    cfg = MatchConfig(
        tick=tick,
        entry_latency_ns=25_000_000,
        response_latency_ns=25_000_000,
        min_notional=10.0,
        lot=0.001,
        seed=7,
    )
    n = len(market)
    print(
        f"sim: capture {BTC.name}: loaded {len(records['ts']):,} records in {t_load:.2f} s, "
        f"converted to {n:,} market events in {t_conv * 1e3:.0f} ms"
    )

    base, nt = grid_for(market, ActionArrays.empty(), tick)
    quoter = quote_at_best
    m = market

    def quoted() -> tuple[int, int, SimState]:
        st = new_state(cfg, base, nt)
        fills, reqs = quoter(st, m.ts, m.kind, m.side, m.px, m.sz, m.ref, 100_000_000, 0, 0.002)
        return fills, reqs, st

    t0 = time.perf_counter()
    replay(market, None, cfg)
    quoted()
    print(f"sim: first call (numba cache load or compile): {time.perf_counter() - t0:.2f} s")

    print(f"sim: medians of {RUNS} runs, warm cache; target >= 10 M events/s")
    _rate("replay, market only", n, _median_time(lambda: replay(market, None, cfg)))
    fills, reqs, st = quoted()
    _rate(
        "quoting at best every 100ms",
        n,
        _median_time(quoted),
        f"\n     ({reqs:,} actions, {fills:,} fills, position {st.sf[lay.SF_POSITION]:+.3f} BTC, "
        f"fees {st.sf[lay.SF_FEES]:.4f} USD)",
    )
    bench_sim_venue(records, tick)


def bench_sim_venue(records: dict[str, np.ndarray], tick: float) -> None:
    """The event-driven layer (SimVenue) on the same capture: core events in, events out."""
    from mmkit.core.actions import Place, make_cloid
    from mmkit.core.events import BBO
    from mmkit.core.types import Instrument, Side
    from mmkit.data.adapter import events_of_chunk
    from mmkit.venues.sim.params import SimParams
    from mmkit.venues.sim.venue import SimVenue

    events = [e for e in events_of_chunk(records) if not isinstance(e, BBO)]
    inst = Instrument(coin="BTC", tick=tick, sz_decimals=3)

    def run() -> int:
        v = SimVenue(SimParams(), inst, seed=1)
        out = 0
        req = 0
        last = -(10**19)
        for e in events:
            v.on_market(e, e.ts)
            if e.ts - last >= 100_000_000 and v.best_bid == v.best_bid:
                last = e.ts
                req += 2
                v.submit(
                    [
                        Place(req, make_cloid(req), Side.BUY, v.best_bid, 0.002),
                        Place(req + 1, make_cloid(req + 1), Side.SELL, v.best_ask, 0.002),
                    ],
                    e.ts,
                )
            out += len(v.drain(e.ts))
        return out

    run()
    wall, cpu = _median_time(run, 3)
    n = len(events)
    print(
        f"sim: SimVenue (Python layer, {n:,} core events, 2 places/100ms): "
        f"wall {wall:.2f} s = {n / wall / 1e3:.0f} k events/s, cpu {n / cpu / 1e3:.0f} k/s"
    )


# =========================================================================================
# Section 2: loopback emulator order round trip (the script benchmarks/emulator.py)
# =========================================================================================


def bench_emulator() -> None:
    import asyncio
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent / "emulator.py"
    spec = importlib.util.spec_from_file_location("mmkit_bench_emulator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    asyncio.run(module.main())


def main() -> int:
    bench_sim()
    bench_emulator()
    return 0


if __name__ == "__main__":
    sys.exit(main())
