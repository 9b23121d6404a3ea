"""Where the whole ``mmkit backtest`` process spends its time (issue 20's whole-process
ratio against hftbacktest counts all of it).

    python benchmarks/startup.py [--runs 5]

The command is the one ``benchmarks/backtest.py`` times (GLFT every 100 ms on the USD-M BTC
capture, ``--cadence timer``, built-in plugins, warm numba cache, bytecode caches on). Each
run is a fresh process that stamps the phases of the real command: the interpreter's start,
importing the CLI, importing the backtest's modules, loading the plugins, the rest of the
command's set-up (config, the kernel warm-up's stamp check), building the engine (numba's
start, loading the cached kernels), the data load, the run, the report and its output, and
the exit. The market comes from mmkit's converted-market cache (a cache of this script's
own, filled by the untimed first run), as in ``benchmarks/backtest.py``. Beside them: the
floor every numba program pays (importing numpy and numba and starting numba's CPU
target, in a process that does nothing else; numba's BLAS probe answered without importing
scipy, as the mmkit command does), so that what mmkit itself adds shows.

Medians of ``--runs``; figures only, nothing asserted.
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import figure

PHASES = (
    ("interpreter start", "launch", "start"),
    ("import the CLI (typer, pluggy, mmkit core)", "start", "cli"),
    ("import the backtest's modules (numba among them)", "cli", "mods"),
    ("load the plugins, build the commands", "app0", "app1"),
    ("config, kernel stamps, the rest of the set-up", "app1", "build0"),
    ("build the engine (numba start, cached kernels)", "build0", "build1"),
    ("load the market data", "build1", "load1"),
    ("the run (timer cadence, every 100 ms)", "load1", "run1"),
    ("report and output", "run1", "main1"),
    ("exit", "main1", "end"),
)


def _child(store: str, config: str, stamps: str) -> None:
    """One instrumented ``mmkit backtest`` (the body of ``mmkit.cli.launch.run``)."""
    t: dict[str, float] = {"start": time.time()}
    from mmkit.runtime.heap import pause_startup
    from mmkit.runtime.lazy_blas import defer_blas_probe

    defer_blas_probe()
    pause_startup()
    import mmkit.cli.main as cli

    t["cli"] = time.time()
    from numba.core import caching

    import mmkit.backtest.loops as loops
    import mmkit.backtest.runner as runner

    t["mods"] = time.time()

    loads: list[float] = []
    load = caching.Cache.load_overload

    def timed_load(self: Any, sig: Any, ctx: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return load(self, sig, ctx)
        finally:
            loads.append(time.perf_counter() - t0)

    caching.Cache.load_overload = timed_load  # type: ignore[method-assign]

    def stamp(mod: Any, name: str, before: str, after: str) -> None:
        fn = getattr(mod, name)

        def wrapped(*a: Any, **k: Any) -> Any:
            t[before] = time.time()
            try:
                return fn(*a, **k)
            finally:
                t[after] = time.time()

        setattr(mod, name, wrapped)

    stamp(cli, "build_app", "app0", "app1")
    stamp(runner, "build_engine", "build0", "build1")
    stamp(runner, "load_market", "load0", "load1")
    stamp(loops, "run_timer", "run0", "run1")
    argv = ["--no-entrypoints", "backtest", store, "--config", config]
    argv += ["--cadence", "timer", "--requote-ms", "100", "--json"]
    code: object = 0
    try:
        cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    t["main1"] = time.time()
    t["loads"] = float(len(loads))
    t["first_load_s"] = loads[0] if loads else 0.0
    t["other_loads_s"] = sum(loads[1:])
    Path(stamps).write_text(json.dumps(t))
    from mmkit.cli.launch import quick_exit

    quick_exit(code)


def _floor_child() -> None:
    """What every numba program pays before its own code: numpy and numba imported, numba's
    CPU target started (without importing scipy's linear algebra for numba's BLAS probe, as
    the mmkit command starts it: see mmkit.runtime.lazy_blas). A backtest whose market
    comes from the converted-market cache does not import pyarrow (it did before the cache,
    and the floor counted it then)."""
    from mmkit.runtime.lazy_blas import defer_blas_probe

    defer_blas_probe()
    import numba  # noqa: F401
    from numba.core.registry import cpu_target

    cpu_target.target_context.refresh()
    os._exit(0)


def _env(work: Path) -> dict[str, str]:
    # bytecode caches on, as for an installed package (see backtest.py's installed_env); the
    # converted-market cache of this run's own
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "MMKIT_CACHE_DIR": str(work / "cache")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", nargs=3, metavar=("STORE", "CONFIG", "STAMPS"))
    ap.add_argument("--floor", action="store_true")
    a = ap.parse_args()
    if a.floor:
        _floor_child()
    if a.child:
        _child(*a.child)
        return
    import backtest as bt

    if not bt.BTC.exists():
        print(f"startup: {bt.BTC} not found; skipped")
        return
    from mmkit.data.loaders import convert

    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        store = work / "btc.parquet"
        convert([bt.BTC], store)
        cfg = bt.variant_config(work, "timer")
        stamps = work / "stamps.json"
        me = [sys.executable, __file__]
        child = [*me, "--child", str(store), str(cfg), str(stamps)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": _env(work)}
        subprocess.run(child, check=True, **quiet)  # type: ignore[call-overload]  # warm-up
        rows: list[dict[str, float]] = []
        floors: list[float] = []
        for _ in range(a.runs):
            launch = time.time()
            subprocess.run(child, check=True, **quiet)  # type: ignore[call-overload]
            end = time.time()
            t = json.loads(stamps.read_text())
            t["launch"], t["end"] = launch, end
            rows.append(t)
            t0 = time.perf_counter()
            subprocess.run([*me, "--floor"], check=True, **quiet)  # type: ignore[call-overload]
            floors.append(time.perf_counter() - t0)
    whole = statistics.median(r["end"] - r["launch"] for r in rows)
    print(f"mmkit backtest, whole process and its phases, median of {a.runs}:")
    figure("whole process", whole, "s")
    for label, a0, a1 in PHASES:
        figure(f"  {label}", statistics.median(r[a1] - r[a0] for r in rows), "s")
    figure(
        "    of the engine build: numba's start (first kernel load)",
        statistics.median(r["first_load_s"] for r in rows),
        "s",
    )
    n = int(statistics.median(r["loads"] for r in rows))
    figure(
        f"    of the engine build: the other {n - 1} cached kernels",
        statistics.median(r["other_loads_s"] for r in rows),
        "s",
    )
    floor = statistics.median(floors)
    figure("floor: numpy + numba imported, numba started (no BLAS import)", floor, "s")
    figure("mmkit's own (whole process - floor)", whole - floor, "s")


if __name__ == "__main__":
    main()
