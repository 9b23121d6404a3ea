"""The fault soak as figures: one row per fault scenario, and the trader's memory over a long run.

    python benchmarks/soak.py [--scenarios baseline,http_429_storm] [--minutes 10] [--speed 10]
                              [--rss-speed 50] [--no-table] [--no-rss] [--keep DIR]

Part 1 runs every scenario of :mod:`mmkit.testing.soak` (the real ``mmkit trade`` CLI against
``mmkit venue emulate`` over loopback, a fault injected while it quotes) and prints, per
scenario: seconds until quoting resumed after the fault cleared, orphaned orders at exit,
journal position minus venue position, order actions signed while a gate was closed, the
worst fill ratio of a level (cloid) not explained by the in-flight modify race (a failure
above 1), the worst ratio of the levels it does explain (``race ovf``, with how many; reported,
not a failure), false kill-switch trips (plus non-zero exit statuses), fills lost/doubled
against the venue's, and journal equity change minus the venue's account value change (with
the fees it may differ by), then the failed checks with their evidence.

Part 2 runs the trader against the emulator at a high ``--rss-speed`` for ``--minutes`` wall
minutes and prints its resident set size (``VmRSS`` of ``/proc/PID/status``) at start (first
sample once orders rest), peak and end, sampled every few seconds; the emulator's too.

Benchmarks print figures; they never assert.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import figure

from mmkit.testing import soak

RSS_SAMPLE_S = 5.0


def table(names: list[str], speed: float, root: Path) -> None:
    results = []
    for name in names:
        t0 = time.monotonic()
        r = soak.run_scenario(soak.SCENARIOS[name], root / name, speed=speed)
        results.append(r)
        print(f"  {name}: {time.monotonic() - t0:.0f} s wall", file=sys.stderr, flush=True)
    print(soak.format_table(results))
    print()
    for r in results:
        for f in r.failures():
            print(f"{r.scenario}: {f}")
        for n in r.notes:
            print(f"{r.scenario}: note: {n}")


def rss_run(minutes: float, speed: float, root: Path) -> None:
    import signal
    import subprocess

    root.mkdir(parents=True, exist_ok=True)
    duration = minutes * 60.0
    with soak.emulator_process(speed) as (url, emu_pid):
        proc = soak.start_trade(url, root, duration + soak.START_TIMEOUT_S)
        trader: list[int] = []
        emulator: list[int] = []
        deadline = time.monotonic() + soak.START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if soak.open_orders_now(url) > 0:
                break
            time.sleep(0.5)
        end = time.monotonic() + duration
        while time.monotonic() < end and proc.poll() is None:
            for pid, out in ((proc.pid, trader), (emu_pid, emulator)):
                kb = soak.rss_kb(pid)
                if kb is not None:
                    out.append(kb)
            time.sleep(RSS_SAMPLE_S)
        state = soak.control(url, {"state": True})["accounts"].get(soak.ADDRESS, {})
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(timeout=15)
    print(f"\nRSS over {minutes:g} min at emulator speed {speed:g} ({len(trader)} samples)")
    for who, xs in (("mmkit trade", trader), ("mmkit venue emulate", emulator)):
        if xs:
            figure(f"{who} RSS start", xs[0] / 1024, "MiB")
            figure(f"{who} RSS peak", max(xs) / 1024, "MiB")
            figure(f"{who} RSS end", xs[-1] / 1024, "MiB")
    figure("venue fills during the run", float(state.get("fills", 0)), "fills")
    figure("trade exit status", float(code if code is not None else -1), "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", default=",".join(soak.SCENARIOS))
    ap.add_argument("--speed", type=float, default=soak.DEFAULT_SPEED)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rss-speed", type=float, default=50.0)
    ap.add_argument("--no-table", action="store_true")
    ap.add_argument("--no-rss", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep journals here")
    a = ap.parse_args()
    names = [n.strip() for n in a.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in soak.SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; known: {', '.join(soak.SCENARIOS)}")
    with tempfile.TemporaryDirectory(prefix="mmkit-soak-") as tmp:
        root = a.keep or Path(tmp)
        if not a.no_table:
            table(names, a.speed, root)
        if not a.no_rss:
            rss_run(a.minutes, a.rss_speed, root / "rss")


if __name__ == "__main__":
    main()
