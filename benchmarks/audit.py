"""How long ``mmkit audit`` takes: the default set under ``--strict`` against the target
(<= 60 s on 2 cores), the time per invariant section, and the time per component for
third-party components audited alone (``mmkit audit --component KIND:NAME``).

    python benchmarks/audit.py [--runs 3] [--examples N] [--skip-default]

Every run is a fresh ``mmkit`` process (start-up and imports included), timed from outside
(wall seconds, ``time.perf_counter``); the per-section and per-check seconds come from the
JSON report's ``duration_s`` (``--timings``). Figures are medians over ``--runs``. Nothing is
asserted: the script prints figures (``nox -s bench`` runs it with the other benchmarks).

Third-party components, each audited alone with the invariants of its kind:

* ``quoter:avellaneda_stoikov`` from ``plugins/mmkit-avellaneda-stoikov`` (loaded with
  ``--plugin mmkit_avellaneda_stoikov``; skipped with a note when it is not installed);
* ``estimator:toy_est`` from ``tests/foundation/toy_plugin.py`` (``--plugin
  tests.foundation.toy_plugin``, the repository root on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: the issue's target for ``mmkit audit --strict`` on the default set (seconds, 2 cores)
TARGET_S = 60.0
TARGET_CORES = 2
#: (label, plugin module to load, --component value, module that must be importable)
THIRD_PARTY: tuple[tuple[str, str, str, str], ...] = (
    (
        "mmkit-avellaneda-stoikov quoter",
        "mmkit_avellaneda_stoikov",
        "quoter:avellaneda_stoikov",
        "mmkit_avellaneda_stoikov",
    ),
    ("toy plugin estimator", "tests.foundation.toy_plugin", "estimator:toy_est", ""),
)


def run_audit(audit_args: list[str], plugins: list[str], examples: int | None) -> Run:
    """One ``mmkit --no-entrypoints [--plugin P].. audit --timings --out F ARGS`` process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        cmd = [sys.executable, "-m", "mmkit", "--no-entrypoints"]
        for p in plugins:
            cmd += ["--plugin", p]
        cmd += ["audit", "--timings", "--out", str(out), *audit_args]
        if examples:
            cmd += ["--examples", str(examples)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
        env["PYTHONPATH"] = os.pathsep.join(x for x in (str(REPO), env.get("PYTHONPATH")) if x)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1) or not out.exists():
            sys.exit(f"{' '.join(cmd[2:])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return Run(wall, json.loads(out.read_text(encoding="utf-8")))


class Run:
    """One audit process: its wall time (s) and its JSON report."""

    def __init__(self, wall: float, report: dict[str, Any]) -> None:
        self.wall = wall
        self.report = report

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.report.get("results", []))

    def seconds_by(self, key: str) -> dict[str, float]:
        """Summed check seconds per value of a result field (``section``, ``invariant``)."""
        out: dict[str, float] = defaultdict(float)
        for r in self.results:
            out[str(r.get(key, "?"))] += float(r.get("duration_s", 0.0) or 0.0)
        return dict(out)

    def counts(self) -> str:
        c = self.report.get("counts", {})
        return ", ".join(f"{k} {v}" for k, v in c.items() if v) if isinstance(c, dict) else str(c)


def median_by(runs: list[Run], key: str) -> dict[str, float]:
    """Per value of ``key``, the median over runs of its summed seconds."""
    per: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for k, v in run.seconds_by(key).items():
            per[k].append(v)
    return {k: statistics.median(v) for k, v in per.items()}


def wall_line(runs: list[Run]) -> str:
    walls = [r.wall for r in runs]
    return (
        f"median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}, "
        f"{len(walls)} runs)"
    )


def _reports_agree(a: Run, b: Run) -> bool:
    """The two runs' reports are the same but for the check times."""

    def strip(report: dict[str, Any]) -> dict[str, Any]:
        out = dict(report)
        out["results"] = [
            {k: v for k, v in r.items() if k != "duration_s"} for r in report.get("results", [])
        ]
        return out

    return strip(a.report) == strip(b.report)


def default_set(runs_n: int, examples: int | None) -> None:
    # interleaved, so that a phase of the machine weighs on both alike
    runs: list[Run] = []
    alone: list[Run] = []
    for _ in range(runs_n):
        runs.append(run_audit(["--strict"], [], examples))
        alone.append(run_audit(["--strict", "--jobs", "1"], [], examples))
    last = runs[-1].report
    wall = statistics.median(r.wall for r in runs)
    wall_alone = statistics.median(r.wall for r in alone)
    cores = os.cpu_count() or 0
    print("mmkit --no-entrypoints audit --strict (default plugin set)")
    print(f"  examples per invariant: {last.get('examples')} (scaled by each invariant's weight)")
    print(f"  outcome: {last.get('overall')} ({runs[-1].counts()})")
    print(f"  wall time, one worker per core (the default): {wall_line(runs)}")
    print(f"  wall time, --jobs 1 (in one process):        {wall_line(alone)}")
    print(f"  speed-up of the workers: {wall_alone / wall:.2f}x on {cores} cores")
    same = all(_reports_agree(r, alone[0]) for r in [*runs, *alone])
    print(f"  reports of every run identical but for the check times: {'yes' if same else 'NO'}")
    print(
        f"  target: <= {TARGET_S:.0f} s on {TARGET_CORES} cores; ratio {wall / TARGET_S:.2f} "
        f"(this machine: {cores} cores, shared)"
    )
    sections = median_by(runs, "section")
    checks = sum(sections.values())
    print("  time per invariant section (check seconds, summed over the workers; total")
    print(f"  {checks:.2f} s):")
    width = max((len(s) for s in sections), default=10)
    for sec, secs in sorted(sections.items(), key=lambda kv: -kv[1]):
        share = secs / checks if checks > 0 else 0.0
        print(f"    {sec.ljust(width)}  {secs:8.2f} s  {share:6.1%}")
    invariants = median_by(runs, "invariant")
    print("  slowest invariants (check seconds, all components):")
    for inv, secs in sorted(invariants.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {inv.ljust(width)}  {secs:8.2f} s")


def third_party(runs_n: int, examples: int | None) -> None:
    print("third-party components audited alone (mmkit audit --component KIND:NAME)")
    for label, plugin, component, needs in THIRD_PARTY:
        if needs and importlib.util.find_spec(needs) is None:
            print(f"  {component} ({label}): not installed (pip install -e plugins/...); skipped")
            continue
        runs = [
            run_audit(["--strict", "--component", component], [plugin], examples)
            for _ in range(runs_n)
        ]
        checks = statistics.median(sum(r.seconds_by("invariant").values()) for r in runs)
        n = len(runs[-1].results)
        print(f"  {component} ({label}): {runs[-1].report.get('overall')}, {n} results")
        print(f"    {runs[-1].counts()}")
        print(f"    wall time {wall_line(runs)}; check time {checks:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median); default 3")
    ap.add_argument("--examples", type=int, default=None, help="default: mmkit's own default")
    ap.add_argument("--skip-default", action="store_true", help="only the third-party components")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    if not args.skip_default:
        default_set(args.runs, args.examples)
        print()
    third_party(args.runs, args.examples)


if __name__ == "__main__":
    main()
