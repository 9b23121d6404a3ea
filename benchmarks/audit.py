"""Wall time of ``mmkit audit --strict`` on the default plugin set with the default example
counts (target <= 60 s on 2 cores), and examples per second per invariant.

    python benchmarks/audit.py [--runs 3] [--examples N]

Each run is a fresh ``mmkit`` process (start-up and imports included). Prints the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def one_run(examples: int | None) -> tuple[float, dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        cmd = [
            sys.executable,
            "-m",
            "mmkit",
            "--no-entrypoints",
            "audit",
            "--strict",
            "--timings",
            "--out",
            str(out),
        ]
        if examples:
            cmd += ["--examples", str(examples)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            sys.exit(f"mmkit audit failed ({proc.returncode}):\n{proc.stderr}")
        return wall, json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--examples", type=int, default=None, help="default: mmkit's own default")
    args = ap.parse_args()
    walls = []
    rates: dict[str, list[float]] = defaultdict(list)
    report: dict[str, object] = {}
    for _ in range(args.runs):
        wall, report = one_run(args.examples)
        walls.append(wall)
        ex: dict[str, int] = defaultdict(int)
        dur: dict[str, float] = defaultdict(float)
        for r in report["results"]:  # type: ignore[attr-defined]
            if r["status"] in ("PASS", "FAIL", "CONCERN"):
                ex[r["invariant"]] += r["examples"]
                dur[r["invariant"]] += r["duration_s"]
        for inv, n in ex.items():
            if dur[inv] > 0:
                rates[inv].append(n / dur[inv])
    counts = report.get("counts")
    print(
        f"mmkit audit --strict, default plugin set, {report.get('examples')} examples/invariant "
        f"(weighted), {args.runs} runs"
    )
    print(f"  outcome: {report.get('overall')} {counts}")
    print(
        f"  wall time: median {statistics.median(walls):.2f} s "
        f"(min {min(walls):.2f}, max {max(walls):.2f}); target <= 60 s on 2 cores"
    )
    print("  examples per second per invariant (median over runs, all components; the example")
    print("  budget over the time, so checks that cap their own count read high):")
    width = max((len(k) for k in rates), default=10)
    for inv in sorted(rates):
        print(f"    {inv.ljust(width)}  {statistics.median(rates[inv]):10.1f}")


if __name__ == "__main__":
    main()
