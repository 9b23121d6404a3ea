"""``mmkit backtest --cadence kernel``: the built-in ``glft`` quoter's numba fast path.

Use it for throughput (sweeps, benchmarks). It shares the simulated exchange's kernels and
the GLFT closed form with the engine path but replaces the engine's estimators, gates and
executor by the kernel's online estimates and one quote per side (modified when its price
moves), so its results are close to, not identical with, ``--cadence timer``. Quoted prices
are on the data's tick grid (the engine path also applies Hyperliquid's price rules).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmkit.backtest import _kernels_glft as kern
from mmkit.backtest.report import BacktestReport, markouts, max_drawdown, sharpe_daily
from mmkit.config.loader import Settings
from mmkit.core.events import OwnFill
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, NS_PER_S, Side
from mmkit.data.market_stream import load_market
from mmkit.errors import ConfigError
from mmkit.quoting.params import GlftParams
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim.arrays import ActionArrays
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.replay import grid_for
from mmkit.venues.sim.state import new_state
from mmkit.venues.sim.venue import match_config

WARMUP_STEPS = 50


def run_kernel(
    settings: Settings,
    data: Sequence[Path],
    *,
    requote_ms: float | None = None,
    duration_s: float = math.inf,
    data_format: str = "auto",
    tick: float | None = None,
) -> tuple[BacktestReport, dict[str, Any]]:
    import time

    wall0 = time.perf_counter()
    if settings.components.quoter != "glft":
        raise ConfigError(
            [
                f"--cadence kernel is the numba fast path of the built-in 'glft' quoter; "
                f"components.quoter is {settings.components.quoter!r} (use --cadence timer)"
            ]
        )
    market, data_tick = load_market(list(data), data_format, tick)
    t_load = time.perf_counter() - wall0
    gp: GlftParams = settings.component_params("quoter", "glft")
    sp: SimParams = settings.component_params("venue", "sim")
    if sp.tick <= 0:
        sp = dataclasses.replace(sp, tick=data_tick)
    kp = settings.component_params("estimator", "kappa")
    sg = settings.component_params("estimator", "sigma")
    cfg = match_config(sp, settings.instrument, settings.engine.seed)
    base, nt = grid_for(market, ActionArrays.empty(), cfg.tick)
    st = new_state(cfg, base, nt)
    step_ns = int((requote_ms or settings.engine.timer_ms) * NS_PER_MS)
    p = np.zeros(kern.P_LEN)
    p[kern.P_GAMMA] = gp.gamma
    p[kern.P_XI] = gp.gamma if gp.xi < 0 else gp.xi
    p[kern.P_DELTA] = gp.delta_lots
    p[kern.P_KAPPA_FLOOR] = gp.kappa_floor
    p[kern.P_A_FLOOR] = gp.A_floor
    p[kern.P_MAX_DEPTH] = gp.max_depth
    p[kern.P_SIZE] = settings.risk.order_size
    p[kern.P_MAX_POS] = settings.risk.max_position
    p[kern.P_ALPHA] = 0.02
    p[kern.P_SIGMA0] = sg.default_sigma
    p[kern.P_KAPPA0] = kp.prior_kappa
    p[kern.P_A0] = 1.0
    p[kern.P_WARMUP_STEPS] = WARMUP_STEPS
    n = len(market)
    span = int(market.ts[-1] - market.ts[0]) if n else 0
    cap = span // step_ns + 2
    path: dict[str, Any] = {
        "ts": np.zeros(cap, np.int64),
        "mid": np.zeros(cap),
        "position": np.zeros(cap),
        "equity": np.zeros(cap),
    }
    fcap = 1 << 16
    fts, fpx, fsz, fside = (
        np.zeros(fcap, np.int64),
        np.zeros(fcap),
        np.zeros(fcap),
        np.zeros(fcap, np.int64),
    )
    t_end = int(market.ts[0]) + (int(duration_s * NS_PER_S) if math.isfinite(duration_s) else span)
    t0 = time.perf_counter()
    steps, sent, nf, nrej, applied = kern.glft_backtest(
        st,
        market.ts,
        market.kind,
        market.side,
        market.px,
        market.sz,
        market.ref,
        step_ns,
        t_end,
        p,
        path["ts"],
        path["mid"],
        path["position"],
        path["equity"],
        fts,
        fpx,
        fsz,
        fside,
    )
    t_run = time.perf_counter() - t0
    path = {k: v[:steps] for k, v in path.items()}
    m = min(nf, fcap)
    fills = [
        OwnFill(int(fts[j]), -1, None, Side(int(fside[j])), float(fpx[j]), float(fsz[j]))
        for j in range(m)
    ]
    bp, pxm = markouts(fills, path["ts"], path["mid"])
    pos = float(st.sf[lay.SF_POSITION])
    mid = float(path["mid"][-1]) if steps else math.nan
    cash = float(st.sf[lay.SF_CASH])
    fees = float(st.sf[lay.SF_FEES])
    equity = cash + pos * mid if math.isfinite(mid) else math.nan
    pf = Portfolio()
    for f in fills:
        pf.apply_fill(f)
    report = BacktestReport(
        mode="kernel",
        seed=settings.engine.seed,
        quoter="glft",
        data=[str(d) for d in data],
        start_ns=int(market.ts[0]) if n else 0,
        end_ns=int(path["ts"][-1]) if steps else 0,
        stopped_by="feed ended" if applied >= n else "duration",
        market_events=int(applied),
        requotes=int(steps),
        realized=pf.realized,
        unrealized=pf.unrealized(mid) if math.isfinite(mid) else 0.0,
        fees=fees,
        equity=equity,
        fills=int(nf),
        orders_sent=int(sent),
        fill_ratio=nf / sent if sent else math.nan,
        volume_usd=float(st.sf[lay.SF_VOLUME]),
        final_position=pos,
        max_abs_position=float(np.max(np.abs(path["position"]))) if steps else 0.0,
        sharpe_daily=sharpe_daily(path["ts"], path["equity"]),
        max_drawdown=max_drawdown(path["equity"]),
        markouts_bp=bp,
        markouts_px=pxm,
        rejections=int(nrej),
        rejection_reasons={},
        faults=0,
    )
    report.timing = {"load_s": t_load, "run_s": t_run, "wall_s": time.perf_counter() - wall0}
    return report, path
