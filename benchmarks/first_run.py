"""A new user's first run, timed: fresh copy of the source, ``pip install``, first ``mmkit
trade`` (cold numba cache) to its summary, split into install, compile and run.

    python benchmarks/first_run.py [--source DIR] [--runs N] [--skip-install] [--kernels]

* **source**: the working tree of ``--source`` (default: this checkout) is copied into a
  temporary directory, the files git would clone (tracked and untracked-but-not-ignored,
  so uncommitted work is measured too; ``git clone`` would only give HEAD);
* **install**: the README's line in the copy, ``python3 -m venv .venv && .venv/bin/pip
  install -q -e .``, timed once. ``--skip-install`` reuses an existing environment instead
  (``--python``, default this interpreter) with the copy first on ``PYTHONPATH``;
* **compile**: the README's ``mmkit trade`` with an empty ``NUMBA_CACHE_DIR``: the time of the
  parallel kernel compile before the run, as its progress display reports it on stderr;
* **run**: the rest of that command's wall time, from start to the summary (start-up,
  the run itself at the default 100x clock, the summary);
* then the same command again with the cache now warm (what every later run costs).

Compile and run are the medians of ``--runs`` cold runs, each with a new empty cache. The
target (issue 19) is compile <= 15 s on 2 cores. Wall times depend on what else the machine
runs: the load average is printed, and the CPU seconds of each run (the command and its
worker processes) with it, which a busy machine inflates much less.

``--kernels`` also prints the compile time of each kernel: each precompile group's worker
code runs in a fresh process on an empty cache while numba's compile events are recorded
(inclusive times, the kernels a kernel calls included; library functions summed per caller).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_COMPILE_S = 15.0
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q -e ."
COMPILED = re.compile(r"compiled numba kernels in ([0-9.]+) s")


@dataclass
class RunFigures:
    wall_s: float
    cpu_s: float
    compile_s: float  # 0 when the cache was warm (no compile reported)
    exit_code: int

    @property
    def run_s(self) -> float:
        return self.wall_s - self.compile_s


def copy_tree(source: Path, dest: Path) -> int:
    """Copy the files ``git clone`` of ``source``'s working tree would hold (tracked, plus
    untracked files git does not ignore); returns how many. Without git: everything but
    virtual environments, caches and git's own directory."""
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(source),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            check=True,
            capture_output=True,
        ).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", ".nox", ".mypy_cache", ".ruff_cache", "runs"}
        names = [
            p.relative_to(source).as_posix()
            for p in source.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(source).parts)
        ]
    n = 0
    for name in names:
        src = source / name
        if not src.is_file():  # tracked but deleted in the working tree
            continue
        dst = dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        n += 1
    return n


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_trade(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[RunFigures, str]:
    """One ``mmkit trade``: wall and CPU time, the compile time its stderr reports, and the
    stderr text."""
    cpu0 = children_cpu_s()
    t0 = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    cpu = children_cpu_s() - cpu0
    if proc.returncode not in (0, 3):  # 3: the kill switch tripped, still a summary
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SystemExit(f"first_run: `{' '.join(cmd)}` failed ({proc.returncode}):\n{tail}")
    if "summary" not in proc.stdout:
        raise SystemExit(f"first_run: no summary in the output of `{' '.join(cmd)}`")
    m = COMPILED.search(proc.stderr)
    return RunFigures(wall, cpu, float(m.group(1)) if m else 0.0, proc.returncode), proc.stderr


# -- per-kernel compile times ---------------------------------------------------------------


def profile_worker(group: str) -> None:
    """In a fresh process with an empty ``NUMBA_CACHE_DIR``: run the precompile worker of
    ``group`` and print one JSON line per compiled function (top level and callees)."""
    from numba.core import event

    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost
    from mmkit.runtime import precompile

    rows: list[dict[str, object]] = []
    stack: list[tuple[str, float]] = []

    class Recorder(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            f = ev.data["dispatcher"].py_func
            stack.append((f"{f.__module__}:{f.__qualname__}", time.perf_counter()))

        def on_end(self, ev: event.Event) -> None:
            name, t0 = stack.pop()
            caller = stack[-1][0] if stack else ""
            rows.append(
                {
                    "name": name,
                    "caller": caller,
                    "depth": len(stack),
                    "s": time.perf_counter() - t0,
                    "sig": str(ev.data.get("args")),
                }
            )

    host = PluginHost(load_entrypoints=False)
    cfg = Path(os.environ["NUMBA_CACHE_DIR"]) / "config.toml"
    import tomli_w

    cfg.write_text(tomli_w.dumps(load_settings(None, host.registry, env={}).merged_full()))
    event.register("numba:compile", Recorder())  # type: ignore[no-untyped-call]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    precompile.main([group, str(cfg)])
    print(
        json.dumps(
            {
                "group": group,
                "wall_s": time.perf_counter() - t0,
                "cpu_s": time.process_time() - cpu0,
            }
        )
    )
    for row in rows:
        print(json.dumps(row))


def precompile_groups() -> Sequence[str]:
    """The precompile groups of ``mmkit trade`` (every group a cold first run compiles)."""
    from mmkit.runtime.precompile import COMMAND_GROUPS

    return COMMAND_GROUPS["trade"]


def kernels_report(python: str, env: dict[str, str], groups: Sequence[str]) -> None:
    for group in groups:
        with tempfile.TemporaryDirectory(prefix="mmkit-kernels-") as cache:
            out = subprocess.run(
                [python, str(Path(__file__).resolve()), "--profile-worker", group],
                env={**env, "NUMBA_CACHE_DIR": cache},
                capture_output=True,
                text=True,
            )
        if out.returncode != 0:
            tail = "\n".join(out.stderr.strip().splitlines()[-10:])
            raise SystemExit(f"first_run: profiling group {group} failed:\n{tail}")
        lines = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
        head, rows = lines[0], lines[1:]
        print(
            f"\ngroup {group}: worker compile {head['wall_s']:.1f} s wall, "
            f"{head['cpu_s']:.1f} s CPU (numba's import included)"
        )
        own: dict[str, list[dict[str, object]]] = {}
        for r in rows:
            if str(r["name"]).startswith("mmkit."):
                own.setdefault(str(r["name"]), []).append(r)
        lib: dict[str, float] = {}
        for r in rows:
            if not str(r["name"]).startswith("mmkit.") and int(str(r["depth"])) >= 0:
                key = str(r["caller"]) or "(top)"
                if str(r["caller"]).startswith("mmkit."):
                    lib[key] = lib.get(key, 0.0) + float(str(r["s"]))
        print(f"  {'kernel':<58} {'compiles':>8} {'seconds':>8}  (inclusive)")
        for name, rs in sorted(own.items(), key=lambda kv: -sum(float(str(r["s"])) for r in kv[1])):
            total = sum(float(str(r["s"])) for r in rs)
            top = " (called from Python)" if any(int(str(r["depth"])) == 0 for r in rs) else ""
            if total >= 0.05 or len(rs) > 1:
                print(f"  {name:<58} {len(rs):>8} {total:>8.2f}{top}")
        if lib:
            big = sorted(lib.items(), key=lambda kv: -kv[1])[:5]
            print(
                "  numba library code compiled for: "
                + ", ".join(f"{k.split(':')[1]} {v:.2f} s" for k, v in big)
            )


# -- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--source", type=Path, default=REPO, help="checkout to copy (default: this one)"
    )
    ap.add_argument("--runs", type=int, default=3, help="cold runs (median of compile and run)")
    ap.add_argument("--skip-install", action="store_true", help="reuse --python's environment")
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter with mmkit's dependencies, for --skip-install",
    )
    ap.add_argument("--kernels", action="store_true", help="also print per-kernel compile times")
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary copy (its path is printed)"
    )
    ap.add_argument("--profile-worker", metavar="GROUP", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.profile_worker:
        profile_worker(args.profile_worker)
        return 0
    if args.runs < 1:
        ap.error(f"--runs must be >= 1 (got {args.runs})")
    source = args.source.resolve()
    if not (source / "pyproject.toml").is_file():
        ap.error(f"--source {source} is not an mmkit checkout (no pyproject.toml)")

    work = Path(tempfile.mkdtemp(prefix="mmkit-first-run-"))
    try:
        clone = work / "mmkit"
        n = copy_tree(source, clone)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"first run of mmkit: {n} files of {source} copied to {clone}")
        print(
            f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f} at the start "
            "(wall times grow with the load; CPU seconds much less)"
        )
        env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
        if args.skip_install:
            python = args.python
            env["PYTHONPATH"] = str(clone / "src")
            install_s = None
            print(f"install  skipped (--skip-install): {python} with PYTHONPATH={clone / 'src'}")
        else:
            t0 = time.perf_counter()
            subprocess.run(INSTALL, shell=True, cwd=clone, check=True)
            install_s = time.perf_counter() - t0
            python = str(clone / ".venv" / "bin" / "python")
            print(f"install  {install_s:7.1f} s   ({INSTALL})")
        cmd = [python, "-c", "from mmkit.cli.main import main; main()", "trade"]
        cold: list[RunFigures] = []
        for i in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="mmkit-cache-") as cache:
                fig, err = run_trade(cmd, clone, {**env, "NUMBA_CACHE_DIR": cache})
                if i == 0:
                    warm, _ = run_trade(cmd, clone, {**env, "NUMBA_CACHE_DIR": cache})
            if fig.compile_s == 0.0:  # an mmkit without the progress line, or a failed warm-up
                fig.compile_s = max(0.0, fig.wall_s - warm.wall_s)
                tail = "\n".join(err.strip().splitlines()[-3:])
                print(
                    "  (no compile reported on stderr: compile taken as this cold run's wall "
                    f"minus the warm run's; stderr ended with:\n{tail})"
                )
            cold.append(fig)
            print(
                f"  cold run {i + 1}: compile {fig.compile_s:5.1f} s, run {fig.run_s:5.1f} s, "
                f"wall {fig.wall_s:5.1f} s, CPU {fig.cpu_s:5.1f} s, "
                f"load {os.getloadavg()[0]:.1f}"
            )
        comp = statistics.median(f.compile_s for f in cold)
        run = statistics.median(f.run_s for f in cold)
        verdict = "met" if comp <= TARGET_COMPILE_S else "NOT met"
        m = f"median of {len(cold)}"
        print(
            f"compile  {comp:7.1f} s   ({m}; target <= {TARGET_COMPILE_S:.0f} s on 2 cores: "
            f"{verdict} on this machine's {cores} cores)"
        )
        print(f"run      {run:7.1f} s   ({m}; start-up, the default 600 s at 100x, summary)")
        first = (install_s or 0.0) + comp + run
        what = "install + compile + run" if install_s is not None else "compile + run"
        print(f"total    {first:7.1f} s   (fresh copy to first summary: {what})")
        print(
            f"warm     {warm.wall_s:7.1f} s   (the same command again: compile "
            f"{warm.compile_s:.1f} s, CPU {warm.cpu_s:.1f} s)"
        )
        if args.kernels:
            kernels_report(python, env, list(precompile_groups()))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
