"""Market-data benchmarks: conversion, store reads, synthetic generation, streaming memory.

    python benchmarks/data.py [--runs 3] [--events 10000000]

Prints the median of ``--runs`` runs of each figure (targets from issue 7: store reads
>= 20 million events/s; streaming a 10-million-event file in <= 1 GB RSS). The conversion
figure needs ``<repo>/../shared/data`` and is skipped without it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
USDM = REPO.parent / "shared" / "data" / "binance-usdm" / "btcusdt_20240808.gz"


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_conversion(runs: int, tmp: Path) -> None:
    from mmkit.data.loaders import convert

    if not USDM.is_file():
        print("conversion (USD-M BTC capture): skipped, ../shared/data not available")
        return
    meta = convert([USDM], tmp / "usdm.parquet")
    lines = meta.stats["input_records"]
    t = median_time(lambda: convert([USDM], tmp / "usdm.parquet"), runs)
    print(
        f"conversion (USD-M BTC capture): {lines:,} lines in {t:.2f} s = "
        f"{lines / t:,.0f} lines/s ({meta.rows:,} records)"
    )


def synthetic_params(duration_s: float, seed: int = 1):  # type: ignore[no-untyped-def]
    from mmkit.data.params import SyntheticParams
    from mmkit.data.synthetic import resolve

    return resolve(SyntheticParams(duration_s=duration_s, seed=seed, chunk_s=3600.0))


def bench_synthetic(runs: int) -> None:
    from mmkit.data.schema import FLAG_END
    from mmkit.data.synthetic import generate_chunks

    p = synthetic_params(86_400.0)
    list(generate_chunks(synthetic_params(10.0)))  # compile / load the numba cache
    counts: list[tuple[int, int]] = []

    def run() -> None:
        rows = events = 0
        for c in generate_chunks(p):
            rows += len(c["ts"])
            events += int(((c["flags"] & FLAG_END) != 0).sum())
        counts.append((rows, events))

    t = median_time(run, runs)
    rows, events = counts[-1]
    print(
        f"synthetic generation (1 simulated day): {events:,} events / {rows:,} records "
        f"in {t:.2f} s = {events / t:,.0f} events/s ({rows / t:,.0f} records/s)"
    )


def write_big_store(path: Path, n_events: int) -> tuple[int, int]:
    """A synthetic store with at least ``n_events`` events (no book snapshots: one record
    per event, so events == records; also the snapshot-heavy default is measured)."""
    # BBO and trades only (snapshots rarely): A=40/s/side + BBO changes ~ 50 events/s
    from dataclasses import replace

    from mmkit.data.schema import FLAG_END
    from mmkit.data.store import write_store
    from mmkit.data.synthetic import generate_chunks, store_meta

    p = replace(synthetic_params(1.0), A=40.0, snapshot_interval_s=3600.0, step_ms=20.0)
    per_s = 2 * 40.0 + 25.0
    p = replace(p, duration_s=n_events / per_s * 1.05)
    rows = events = 0

    def chunks():  # type: ignore[no-untyped-def]
        nonlocal rows, events
        for c in generate_chunks(p):
            rows += len(c["ts"])
            events += int(((c["flags"] & FLAG_END) != 0).sum())
            yield c

    write_store(path, chunks(), store_meta(p))
    return rows, events


def bench_read(runs: int, path: Path, rows: int, events: int) -> None:
    from mmkit.data.store import iter_chunks

    def read() -> None:
        for c in iter_chunks(path):
            c["px"].sum()  # touch the data

    read()
    t = median_time(read, runs)
    print(
        f"store read into numpy ({path.stat().st_size / 1e6:,.0f} MB file): "
        f"{events:,} events / {rows:,} records in {t:.2f} s = {events / t / 1e6:,.1f} M events/s "
        f"({rows / t / 1e6:,.1f} M records/s)  [target >= 20 M/s]"
    )


# VmHWM (the process's own peak RSS) rather than ru_maxrss, which Linux carries over from
# the parent across fork + exec.
_STREAM_CHILD = r"""
import sys, time
def hwm_kb():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM"))
import numpy, pyarrow.parquet
from mmkit.data.store import iter_chunks
from mmkit.data.adapter import count_kinds
base = hwm_kb()
t0 = time.perf_counter()
total = 0.0
rows = 0
for c in iter_chunks(sys.argv[1]):
    total += float(c["sz"].sum())
    rows += len(c["ts"])
print(rows, base, hwm_kb(), time.perf_counter() - t0)
"""


def bench_stream_memory(path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _STREAM_CHILD, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    rows, base_kb, peak_kb, secs = int(out[0]), int(out[1]), int(out[2]), float(out[3])
    print(
        f"peak RSS streaming {rows:,} records: {peak_kb / 1024:,.0f} MB "
        f"(interpreter + imports {base_kb / 1024:,.0f} MB; {secs:.2f} s)  [target <= 1 GB]"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=10_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_conversion(args.runs, tmp)
        bench_synthetic(args.runs)
        big = tmp / "big.parquet"
        rows, events = write_big_store(big, args.events)
        bench_read(args.runs, big, rows, events)
        bench_stream_memory(big)


if __name__ == "__main__":
    main()
