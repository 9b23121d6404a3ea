"""Backtest benchmarks: mmkit vs hftbacktest 2.4.4 (GLFT, 100 ms requotes), calibration, sweep.

Run from the repository root with the project's virtualenv::

    python benchmarks/backtest.py            # everything (creates .venv-bench on first use)
    python benchmarks/backtest.py --runs 3   # fewer repetitions

hftbacktest is a benchmark-only dependency and never a runtime one: the script creates a
separate virtualenv ``.venv-bench/`` (``python -m venv`` + ``pip install hftbacktest==2.4.4``;
it pins its own numpy/numba and never touches the main venv) and runs the hftbacktest side
in it as a child process. Both sides run in this one process tree, one after the other.

Side by side, on the USD-M BTC capture ``../shared/data/binance-usdm/btcusdt_20240808.gz``
converted once for each (mmkit: ``mmkit data convert`` to an event store; hftbacktest: its
``binancefutures.convert`` to ``.npz``; conversions are not timed):

* mmkit: ``mmkit backtest STORE --cadence timer --requote-ms 100`` — the full engine (GLFT
  quoter, kappa / sigma / warmup estimators, gates, smart executor) over the simulated exchange;
* a reference figure, not the product: ``_fast_glft.py`` (``--fast-glft``), a simplified GLFT
  strategy in one numba kernel over the same exchange kernels, without the plugins (it was
  ``--cadence kernel`` until that left the product); it shows the exchange kernels' cost
  with no Python in the loop, and its fills differ from the engine's;
* hftbacktest: a GLFT market maker written here (numba), requoting every 100 ms with
  ``elapse``, online estimates of sigma (mid changes), kappa and A (trade depths), one GTX
  bid and ask, power-2 queue model, 50 ms constant order latencies and the same fees as
  mmkit's simulated exchange. Its exchange model is ``no_partial_fill_exchange``: with
  ``partial_fill_exchange`` hftbacktest 2.4.4 stops (``elapse`` returns error 14) about 220 s
  into this capture with this strategy, so the runs would not cover the same data. The
  capture's REST depth snapshot is given as its initial snapshot (its converter skips it).

mmkit reads the market from its converted-market cache (``mmkit.data.market_cache``, in a
directory of this run's own), which the untimed first run fills as a user's first backtest
of a file does, as hftbacktest reads its converted ``.npz``; a line with the cache off (the
store decoded and converted in every process) is printed beside it.

Printed: wall time of the whole process (interpreter start, imports, numba compilation or
cache loading, data load, backtest), median of ``--runs``; the ratio; steady-state events/s
(later runs in the same process, compiled), with the timer loop's floor beside it (the same
backtest with every event dropped before the engine: what the loop, the exchange's kernels,
the book snapshots and the path recorder cost with nothing else running); calibration time
for 1 million trades; sweep speed-up on 2 local Dask workers. Figures only; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
BTC = DATA / "binance-usdm" / "btcusdt_20240808.gz"
BENCH_VENV = REPO / ".venv-bench"
HBT_VERSION = "2.4.4"
REQUOTE_NS = 100_000_000
ORDER_QTY = 0.002
GAMMA = 0.05  # GLFT risk aversion of the hftbacktest strategy (per unit of price * lots)
FAST_GLFT = "fast_glft"  # the reference strategy's key among the timed sides
NO_CACHE = "no_market_cache"  # the engine converting the store in every process
#: the steady state of the timer loop with the engine doing nothing (see engine_stubbed)
LOOP_FLOOR = "loop_floor"

MMKIT_CONFIG = """
[instrument]
coin = "BTC"
sz_decimals = 3
tick = 0.1

[risk]
max_position = 0.05
order_size = 0.002

[engine]
seed = 1

[estimators.warmup]
max_warmup_secs = 10.0

[gates.kill_switch]
max_rejections = 1000000  # keep quoting the whole capture (same work as the other side)

[quoters.glft]
levels = 1
"""


# =========================================================================================
# hftbacktest side (runs inside .venv-bench; imports hftbacktest lazily)
# =========================================================================================

_HBT_STRATEGY: Any = None


def _hbt_strategy(cache: bool) -> Any:
    """A GLFT market maker on hftbacktest's API (numba), compiled on first use."""
    global _HBT_STRATEGY
    if _HBT_STRATEGY is not None:
        return _HBT_STRATEGY
    import numpy as np
    from hftbacktest import BUY, GTX, LIMIT, NEW, SELL
    from numba import njit

    @njit(cache=cache)
    def glft(hbt, step_ns, qty, max_pos, gamma):  # type: ignore[no-untyped-def]
        asset = 0
        tick = hbt.depth(asset).tick_size
        var_ewma = 0.0  # squared mid change per step (price^2)
        depth_ewma = 0.0  # mean trade distance from mid (price)
        rate_ewma = 0.0  # trades per step
        alpha = 0.02
        prev_mid = np.nan
        steps = 0
        actions = 0
        next_id = 0
        while True:
            code = hbt.elapse(step_ns)
            if code != 0:
                break
            hbt.clear_inactive_orders(asset)
            depth = hbt.depth(asset)
            bb = depth.best_bid
            ba = depth.best_ask
            if not (bb == bb and ba == ba) or bb >= ba:
                continue
            mid = 0.5 * (bb + ba)
            trades = hbt.last_trades(asset)
            n = len(trades)
            ref = prev_mid if prev_mid == prev_mid else mid
            dsum = 0.0
            for t in range(n):
                dsum += abs(trades[t].px - ref)
            hbt.clear_last_trades(asset)
            if prev_mid == prev_mid:
                var_ewma += alpha * ((mid - prev_mid) ** 2 - var_ewma)
            if n > 0:
                depth_ewma += alpha * (dsum / n - depth_ewma)
            rate_ewma += alpha * (n - rate_ewma)
            prev_mid = mid
            steps += 1
            if steps < 50 or depth_ewma <= 0.0 or rate_ewma <= 0.0:
                continue
            dt = step_ns / 1e9
            k = 1.0 / max(depth_ewma, tick)  # per unit of price
            A = rate_ewma / (2.0 * dt)
            sigma = np.sqrt(var_ewma / dt)
            xi = gamma
            c1 = np.log(1.0 + xi / k) / xi
            c2 = np.sqrt(gamma / (2.0 * A * k) * (1.0 + xi / k) ** (k / xi + 1.0))
            half = c1 + 0.5 * sigma * c2
            skew = sigma * c2
            q = hbt.position(asset) / qty
            bid = min(np.floor((mid - half - skew * q) / tick) * tick, bb)
            ask = max(np.ceil((mid + half - skew * q) / tick) * tick, ba)
            if not (np.isfinite(bid) and np.isfinite(ask)):
                continue
            bid_tick = round(bid / tick)
            ask_tick = round(ask / tick)
            orders = hbt.orders(asset)
            it = orders.values()
            have_bid = False
            have_ask = False
            while it.has_next():
                o = it.get()
                if o.side == BUY:
                    if o.price_tick == bid_tick and o.status == NEW:
                        have_bid = True
                    elif o.cancellable:
                        hbt.cancel(asset, o.order_id, False)
                        actions += 1
                elif o.side == SELL:
                    if o.price_tick == ask_tick and o.status == NEW:
                        have_ask = True
                    elif o.cancellable:
                        hbt.cancel(asset, o.order_id, False)
                        actions += 1
            pos = hbt.position(asset)
            if pos < max_pos and not have_bid:
                next_id += 1
                hbt.submit_buy_order(asset, next_id, bid_tick * tick, qty, GTX, LIMIT, False)
                actions += 1
            if pos > -max_pos and not have_ask:
                next_id += 1
                hbt.submit_sell_order(asset, next_id, ask_tick * tick, qty, GTX, LIMIT, False)
                actions += 1
        return steps, actions, code

    _HBT_STRATEGY = glft
    return glft


def hbt_convert(capture: Path, out: Path) -> None:
    """hftbacktest's Binance futures converter, plus the capture's REST depth snapshot as
    its initial book (the converter skips that line; mmkit's loader uses it)."""
    import gzip

    import numpy as np
    from hftbacktest.data.utils import binancefutures
    from hftbacktest.types import (
        BUY_EVENT,
        DEPTH_SNAPSHOT_EVENT,
        EXCH_EVENT,
        LOCAL_EVENT,
        SELL_EVENT,
        event_dtype,
    )

    binancefutures.convert(str(capture), output_filename=str(out), combined_stream=True)
    with gzip.open(capture, "rt") as fh:
        for line in fh:
            local, _, text = line.partition(" ")
            if '"lastUpdateId"' in text and '"stream"' not in text:
                snap = json.loads(text)
                break
        else:
            return
    ts = int(snap["T"]) * 1_000_000
    rows = [(BUY_EVENT, p, q) for p, q in snap["bids"]] + [
        (SELL_EVENT, p, q) for p, q in snap["asks"]
    ]
    arr = np.zeros(len(rows), event_dtype)
    for i, (side, p, q) in enumerate(rows):
        ev = DEPTH_SNAPSHOT_EVENT | EXCH_EVENT | LOCAL_EVENT | side
        arr[i] = (ev, ts, int(local), float(p), float(q), 0, 0, 0.0)
    np.savez_compressed(str(out).replace(".npz", "_snapshot.npz"), data=arr)


def hbt_run(npz: Path, repeat: int, cache: bool) -> None:
    """Child entry point: run the GLFT backtest ``repeat`` times; print JSON timings."""
    t_start = time.perf_counter()
    import numpy as np
    from hftbacktest import BacktestAsset, ROIVectorMarketDepthBacktest

    data = np.load(npz)["data"]
    snap_path = Path(str(npz).replace(".npz", "_snapshot.npz"))
    snapshot = np.load(snap_path)["data"] if snap_path.exists() else None
    strategy = _hbt_strategy(cache)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        asset = (
            BacktestAsset()
            .data([data])
            .linear_asset(1.0)
            .constant_order_latency(50_000_000, 50_000_000)
            .power_prob_queue_model(2.0)
            .no_partial_fill_exchange()
            .trading_value_fee_model(0.00015, 0.00045)
            .tick_size(0.1)
            .lot_size(0.001)
            .roi_lb(40_000.0)
            .roi_ub(90_000.0)
            .last_trades_capacity(10_000)
        )
        if snapshot is not None:
            asset = asset.initial_snapshot(snapshot)
        hbt = ROIVectorMarketDepthBacktest([asset])
        steps, actions, code = strategy(hbt, REQUOTE_NS, ORDER_QTY, 0.05, GAMMA)
        pos = hbt.position(0)
        sv = hbt.state_values(0)
        hbt.close()
        runs.append(
            {
                "run_s": time.perf_counter() - t0,
                "steps": int(steps),
                "actions": int(actions),
                "position": float(pos),
                "fills": int(sv.num_trades),
                "end_code": int(code),  # 1 = end of data
            }
        )
    print(
        json.dumps({"events": len(data), "runs": runs, "process_s": time.perf_counter() - t_start})
    )


# =========================================================================================
# mmkit side (main venv)
# =========================================================================================


#: the engine's variants: key -> (label, extra config for MMKIT_CONFIG, plugin modules)
VARIANTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "timer": ("mmkit engine, compiled twins", "", ()),
    "python": ("mmkit engine, python reference", 'twins = "off"', ()),
    "plugin": (
        "twins + 1 third-party Python est.",
        '\n[components]\nestimators = ["kappa", "sigma", "warmup", "bench_flow"]\n',
        ("_py_estimator",),
    ),
}


def variant_config(work: Path, variant: str) -> Path:
    """The config file of an engine variant (see :data:`VARIANTS`)."""
    cfg = work / f"mmkit-{variant}.toml"
    extra = VARIANTS[variant][1]
    if extra.startswith("twins"):  # a key of the existing [engine] table
        text = MMKIT_CONFIG.replace("[engine]\n", f"[engine]\n{extra}\n", 1)
    else:
        text = MMKIT_CONFIG + extra
    cfg.write_text(text)
    return cfg


def _run_mmkit(store: Path, config: Path, cadence: str, variant: str = "timer") -> Any:
    """One backtest's report: the engine (variant ``variant``, see :data:`VARIANTS`) at
    ``cadence``, or the fast_glft reference."""
    from mmkit.backtest.runner import BacktestOptions, run_backtest
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost
    from mmkit.runtime.heap import frozen_heap, settle

    plugins = VARIANTS[variant][2] if variant in VARIANTS else ()
    if plugins:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
    # as the timed CLI processes: built-ins and the variant's own plugin, no entry points
    host = PluginHost(load_entrypoints=False, extra_modules=list(plugins))
    s = load_settings(config, host.registry, env={})
    if cadence == FAST_GLFT:
        from _fast_glft import run_fast_glft

        with frozen_heap(collect_during_setup=False):
            settle()
            return run_fast_glft(s, [store], requote_ms=REQUOTE_NS / 1e6)[0]
    opts = BacktestOptions(cadence=cadence, requote_ms=REQUOTE_NS / 1e6)  # type: ignore[arg-type]
    return run_backtest(s, host, [store], opts).report


def fast_glft_once(store: Path, config: Path) -> None:
    """Child entry point: one fast_glft backtest (a whole process); print its JSON report."""
    from mmkit.runtime.heap import fast_exit

    fast_exit()  # as the mmkit CLI does: no collector passes at interpreter teardown
    print(json.dumps(_run_mmkit(store, config, FAST_GLFT).to_json(), indent=2))


#: backtests timed in one process for the steady state, after an untimed first one
STEADY_RUNS = 5


@contextlib.contextmanager
def engine_stubbed() -> Iterator[None]:
    """The timer loop's floor: every event the loop gives the session is dropped (no
    estimator, gate, quoter or executor runs, nothing is sent), so a backtest times only
    the loop, the exchange's kernels (with no orders of ours to match), the book snapshots
    and the path recorder. A measuring device for ``--mmkit-steady ... loop_floor``, not a
    way to run mmkit."""
    from mmkit.runtime.session import Session

    def dropped(self: Session, ev: object, now_ns: int) -> list[Any]:
        return []

    with mock.patch.object(Session, "dispatch", dropped):
        yield


def mmkit_steady(store: Path, config: Path, cadence: str, variant: str) -> None:
    """Child entry point: backtests in one process; print the median timing of the runs
    after the first (one later run alone swings by ~20 % on this machine)."""
    with engine_stubbed() if variant == LOOP_FLOOR else contextlib.nullcontext():
        _run_mmkit(store, config, cadence, variant)
        runs = [_run_mmkit(store, config, cadence, variant) for _ in range(STEADY_RUNS)]
    r = runs[-1]
    print(
        json.dumps(
            {
                "events": r.market_events,
                "run_s": statistics.median(x.timing["run_s"] for x in runs),
                "runs_s": [x.timing["run_s"] for x in runs],
                "load_s": r.timing["load_s"],
                "fills": r.fills,
                "requotes": r.requotes,
                "headline": r.run.headline if r.run is not None else "",
                "components": [
                    n
                    for n in (r.run.notes if r.run is not None else [])
                    if n.startswith("components:")
                ],
            }
        )
    )


def installed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the timed processes: this one's, with Python's bytecode caches
    on, as an installed package has them (pip compiles them at install; an editable
    install writes them on first import). A machine that sets ``PYTHONDONTWRITEBYTECODE``
    (this project's sandbox does) would otherwise recompile every module of mmkit's
    source tree in every process (~0.2-0.35 s of a ~1.7 s backtest there), while
    hftbacktest's, installed by pip, are compiled once."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra or {})
    return env


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    env = installed_env() if env is None else env
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return wall, p.stdout


def _last_json(out: str) -> dict[str, Any]:
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"no JSON in output:\n{out[-2000:]}")


def ensure_bench_venv() -> Path:
    py = BENCH_VENV / "bin" / "python"
    ok = (
        py.exists()
        and subprocess.run(
            [str(py), "-c", f"import hftbacktest as h; assert h.__version__ == '{HBT_VERSION}'"],
            capture_output=True,
            cwd="/",
        ).returncode
        == 0
    )
    if not ok:
        print(f"creating {BENCH_VENV} with hftbacktest=={HBT_VERSION} (benchmark only) ...")
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", f"hftbacktest=={HBT_VERSION}"], check=True
        )
    return py


def bench_vs_hftbacktest(work: Path, runs: int) -> None:
    if not BTC.exists():
        print(f"backtest: {BTC} not found; skipped")
        return
    hpy = ensure_bench_venv()
    store = work / "btc.parquet"
    npz = work / "btc_hbt.npz"
    t0 = time.perf_counter()
    from mmkit.data.loaders import convert

    convert([BTC], store)
    t_mm = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(
        [str(hpy), __file__, "--hbt-convert", str(BTC), str(npz)],
        check=True,
        capture_output=True,
        cwd="/",
    )
    t_hb = time.perf_counter() - t0
    print(
        f"backtest: converted {BTC.name} once for each (not timed below): "
        f"mmkit store {t_mm:.1f} s, hftbacktest npz {t_hb:.1f} s"
    )
    cfgs = {v: variant_config(work, v) for v in VARIANTS}
    # mmkit keeps a converted market in its cache (mmkit.data.market_cache): a cache of
    # this run's own, which the untimed first run fills, as a user's first backtest does
    env = installed_env(
        {"PYTHONPATH": str(Path(__file__).resolve().parent), "MMKIT_CACHE_DIR": str(work / "cache")}
    )

    def mm_cmd(side: str) -> list[str]:
        if side == NO_CACHE:
            return [*mm_cmd("timer"), "--no-market-cache"]
        if side == FAST_GLFT:
            return [sys.executable, __file__, "--fast-glft", str(store), str(cfgs["timer"])]
        # --no-entrypoints: the development virtualenv also holds the test suite's plugin
        # packages (deliberately broken fixtures among them), which an installed mmkit does
        # not have; loading them cost ~70 ms a process
        cmd = [sys.executable, "-m", "mmkit", "--no-entrypoints"]
        for mod in VARIANTS[side][2]:
            cmd += ["--plugin", mod]
        return [
            *cmd,
            "backtest",
            str(store),
            "--config",
            str(cfgs[side]),
            "--cadence",
            "timer",
            "--requote-ms",
            "100",
            "--json",
        ]

    hb_cmd = [str(hpy), __file__, "--hbt-run", str(npz), "--repeat", "1"]
    # warm-up: numba caches (mmkit's kernels are cache=True; hftbacktest's strategy compiles
    # in every process, as in its examples)
    sides = ("timer", "python", NO_CACHE, FAST_GLFT)
    mm_out = {c: _last_json_block(_timed(mm_cmd(c), env)[1]) for c in sides}
    _timed(hb_cmd)
    walls: dict[str, list[float]] = {c: [] for c in (*sides, "hbt")}
    hb_last: dict[str, Any] = {}
    for _ in range(runs):  # interleaved, so that load changes hit every side alike
        for c in sides:
            walls[c].append(_timed(mm_cmd(c), env)[0])
        w, out = _timed(hb_cmd)
        walls["hbt"].append(w)
        hb_last = _last_json(out)
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"backtest: GLFT every 100 ms on {BTC.name}, whole process, median of {runs}:")
    off = ""
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        off = ": this machine turns them off, the timed processes do not"
    print(
        "  (every process with Python's bytecode caches, as installed packages have them"
        f"{off}; each side's first run, not timed, warms them and the numba caches)"
    )
    print(
        "  (mmkit runs with its built-in plugins and no entry points: this virtualenv also "
        "holds the test suite's plugin packages, which an installed mmkit does not have)"
    )
    print(
        "  (mmkit reads the converted market from its cache, filled by the untimed first run "
        "as by a user's first backtest of a file; hftbacktest reads its converted .npz; the "
        "'market cache off' line converts the store in every process)"
    )
    labels = {k: v[0] for k, v in VARIANTS.items()}
    labels[FAST_GLFT] = "fast_glft (reference)"
    labels[NO_CACHE] = "mmkit engine, market cache off"
    print(
        "  (fast_glft: simplified numba strategy, not the engine: no estimators, gates or "
        "executor; a reference for the exchange kernels' cost)"
    )
    for c in sides:
        o = mm_out[c]
        equity = f", equity {o['equity']:+.4f} USD" if isinstance(o.get("equity"), float) else ""
        print(
            f"  {labels[c]:<33}: {med[c]:6.2f} s  ({o['market_events']:,} market events, "
            f"{o['requotes']:,} requotes, {o['fills']} fills, {o['orders_sent']} orders{equity})"
        )
    r0 = hb_last["runs"][0]
    print(
        f"  {'hftbacktest ' + HBT_VERSION:<33}: {med['hbt']:6.2f} s  "
        f"({hb_last['events']:,} rows, {r0['steps']:,} requotes, {r0['fills']} fills, "
        f"{r0['actions']} order actions)"
    )
    for c in sides:
        target = " (target >= 6x)" if c == "timer" else ""
        print(f"  ratio hftbacktest / {labels[c]:<33}: {med['hbt'] / med[c]:5.2f}x{target}")
    a, b = _figures(mm_out["timer"]), _figures(mm_out["python"])
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    print(
        "  compiled twins vs python reference: "
        + ("identical report (every figure but timings)" if not diff else f"DIFFERENT: {diff}")
    )
    # steady state
    hb_s = _last_json(
        _timed([str(hpy), __file__, "--hbt-run", str(npz), "--repeat", str(1 + STEADY_RUNS)])[1]
    )
    hb_run = statistics.median(r["run_s"] for r in hb_s["runs"][1:])
    hb_rate = hb_s["events"] / hb_run
    print(
        f"backtest: steady state (later runs in the same process, compiled: each side's median "
        f"of the {STEADY_RUNS} runs after its first):"
    )
    print(
        "  (timer loop alone: the session drops every event (engine_stubbed), so it times the "
        "loop, the exchange's kernels with no orders of ours, the book snapshots and the path "
        "recorder: the floor any engine in Python adds to)"
    )
    print(f"  {'hftbacktest':<33}: {hb_run * 1e3:7.1f} ms = {hb_rate / 1e6:5.2f} M events/s (rows)")
    labels[LOOP_FLOOR] = "timer loop alone, engine stubbed"
    for c in ("timer", "python", "plugin", FAST_GLFT, LOOP_FLOOR):
        cfg = cfgs["timer"] if c in (FAST_GLFT, LOOP_FLOOR) else cfgs[c]
        cadence = FAST_GLFT if c == FAST_GLFT else "timer"
        cmd = [sys.executable, __file__, "--mmkit-steady", str(store), str(cfg), cadence, c]
        mm_s = _last_json(_timed(cmd, env)[1])
        rate = mm_s["events"] / mm_s["run_s"]
        target = "target >= 1x; " if c == "timer" else ""
        if c == LOOP_FLOOR:
            target = f"no target: the floor, {mm_s['fills']} fills; "
        print(
            f"  {labels[c]:<33}: {mm_s['run_s'] * 1e3:7.1f} ms = {rate / 1e6:5.2f} M events/s "
            f"= {rate / hb_rate:4.2f}x hftbacktest ({target}"
            f"+{mm_s['load_s'] * 1e3:.0f} ms data load)"
        )
        for note in mm_s.get("components", []) if c != LOOP_FLOOR else ():  # none ran
            print(f"  {'':<33}  {note}")


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    """A backtest's JSON report without its timings and the line naming what ran."""
    out = {k: v for k, v in report.items() if k != "timing"}
    run = out.get("run")
    if isinstance(run, dict):
        notes = [n for n in run.get("notes", []) if not str(n).startswith("components:")]
        out["run"] = {**run, "notes": notes}
    return out


def _last_json_block(out: str) -> dict[str, Any]:
    start = out.find("{")
    return dict(json.loads(out[start:]))


def bench_calibration(work: Path, runs: int) -> None:
    from mmkit.calibrate.run import calibrate
    from mmkit.core.types import Instrument
    from mmkit.data.params import SyntheticParams
    from mmkit.data.store import write_store
    from mmkit.data.synthetic import generate_chunks, resolve, store_meta

    p = resolve(
        SyntheticParams(duration_s=3600.0, seed=2, tick=0.1, lot=0.001, A=139.0), Instrument(), 2
    )
    path = work / "million.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    calibrate([path], run_engine=False)  # numba cache load / compile
    times = []
    n = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        # the offline pipeline only; the engine's estimators pass is timed below
        run = calibrate([path], run_engine=False)
        times.append(time.perf_counter() - t0)
        n = run.calibration.trades
    k = run.calibration.intensity["mle"].kappa.value
    print(
        f"calibrate: {n:,} trades (1 synthetic hour, whole pipeline incl. reading the store): "
        f"median {statistics.median(times):.2f} s of {runs} (target <= 2 s); "
        f"k = {k:.0f} (true {p.k:.0f})"
    )
    from mmkit.calibrate.engine_state import run_engine_estimators
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import get_host

    host = get_host()
    t0 = time.perf_counter()
    st = run_engine_estimators([path], load_settings(None, host.registry, env={}))
    dt = time.perf_counter() - t0
    print(
        f"calibrate engine pass (the configured estimators over the event stream): "
        f"{st.events:,} events in {dt:.1f} s ({dt / max(st.events, 1) * 1e6:.1f} us/event)"
    )


def bench_sweep(work: Path) -> None:
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        print("sweep: dask not installed (pip install 'mmkit[sweep]'); skipped")
        return
    from mmkit.core.types import Instrument
    from mmkit.data.params import SyntheticParams
    from mmkit.data.store import write_store
    from mmkit.data.synthetic import generate_chunks, resolve, store_meta
    from mmkit.sweep.cluster import dask_client
    from mmkit.sweep.grid import parse_sweep
    from mmkit.sweep.run import make_tasks, run_sweep

    p = resolve(
        SyntheticParams(duration_s=600.0, seed=4, tick=0.1, lot=0.001, A=5.0), Instrument(), 4
    )
    path = work / "sweep.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    spec = parse_sweep(
        {
            "sweep": {"cadence": "timer"},
            "grid": {"quoters.glft.gamma": [5.0, 20.0, 50.0, 100.0], "quoters.glft.levels": [1, 3]},
        },
        "bench",
    )
    tasks = make_tasks(
        spec, [path], sets=["estimators.warmup.max_warmup_secs=10", "instrument.tick=0.1"]
    )
    walls = {}
    for n in (1, 2):
        with dask_client(None, workers=n) as client:
            run_sweep(spec, tasks[:n], client)  # warm the workers (imports, numba caches)
            t0 = time.perf_counter()
            run_sweep(spec, tasks, client)
            walls[n] = time.perf_counter() - t0
    print(
        f"sweep: {len(tasks)} backtests of 10 synthetic minutes: 1 worker {walls[1]:.2f} s, "
        f"2 workers {walls[2]:.2f} s, speed-up {walls[1] / walls[2]:.2f}x "
        f"(machine has {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", choices=["backtest", "calibrate", "sweep"], default=None)
    ap.add_argument("--hbt-convert", nargs=2, metavar=("CAPTURE", "NPZ"))
    ap.add_argument("--hbt-run", metavar="NPZ")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--hbt-cache", action="store_true", help="numba cache for the hbt strategy")
    ap.add_argument("--mmkit-steady", nargs=4, metavar=("STORE", "CONFIG", "CADENCE", "VARIANT"))
    ap.add_argument("--fast-glft", nargs=2, metavar=("STORE", "CONFIG"))
    a = ap.parse_args()
    if a.hbt_convert:
        hbt_convert(Path(a.hbt_convert[0]), Path(a.hbt_convert[1]))
        return 0
    if a.hbt_run:
        hbt_run(Path(a.hbt_run), a.repeat, a.hbt_cache)
        return 0
    if a.fast_glft:
        fast_glft_once(Path(a.fast_glft[0]), Path(a.fast_glft[1]))
        return 0
    if a.mmkit_steady:
        m = a.mmkit_steady
        mmkit_steady(Path(m[0]), Path(m[1]), m[2], m[3])
        return 0
    with tempfile.TemporaryDirectory(prefix="mmkit-bench-") as tmp:
        work = Path(tmp)
        if a.only in (None, "backtest"):
            bench_vs_hftbacktest(work, a.runs)
        if a.only in (None, "calibrate"):
            bench_calibration(work, max(3, a.runs // 2))
        if a.only in (None, "sweep"):
            bench_sweep(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
