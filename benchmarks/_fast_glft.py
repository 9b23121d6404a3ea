"""A simplified GLFT market maker in one numba kernel: a benchmark reference, not the engine.

This used to be ``mmkit backtest --cadence kernel``; it left the product because it is a
second strategy beside the engine: it bypasses the plugins (no estimators, gates or
executor; online EWMA estimates and one quote per side instead), so its figures are close
to, never identical with, ``mmkit backtest --cadence timer``. ``benchmarks/backtest.py``
prints it as a labelled reference figure ("simplified numba strategy, not the engine"): it
shows what the simulated exchange's kernels cost with no Python in the loop.

How it runs: every ``step_ns`` the market is applied with the exchange's ``advance`` (every
level change and trade meets our orders), then the quotes are recomputed and sent with
``enqueue`` (the exchange's latency, queue and post-only rules apply). The GLFT closed form
is :mod:`mmkit.quoting.glft`'s, compiled by numba (not rewritten). Estimates are EWMAs:
sigma from the mid's relative returns per step, kappa = 1 / mean relative trade depth (a
fraction of the mid), A = trades per second per side. Quoted prices are on the data's tick
grid (the engine also applies Hyperliquid's price rules).

Import it from a benchmark script (``benchmarks/`` on ``sys.path``) or by file path.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from mmkit.backtest.report import BacktestReport, markouts, max_drawdown, sharpe_daily
from mmkit.config.loader import Settings
from mmkit.core.events import OwnFill
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, NS_PER_S, Side
from mmkit.data.market_stream import load_market
from mmkit.errors import ConfigError
from mmkit.quoting import glft as _glft
from mmkit.quoting.params import GlftParams
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim._kernels_book import best_ask_px, best_bid_px
from mmkit.venues.sim._kernels_orders import enqueue
from mmkit.venues.sim._kernels_replay import advance
from mmkit.venues.sim.arrays import ActionArrays
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.replay import grid_for
from mmkit.venues.sim.state import new_state
from mmkit.venues.sim.venue import match_config

#: the report's ``mode``: says what produced the figures
MODE = "fast_glft (simplified numba strategy, not the engine)"

base_depth = njit(cache=True)(_glft.base_depth)
utility_factor = njit(cache=True)(_glft._utility_factor)

# parameter vector
P_GAMMA = 0
P_XI = 1
P_DELTA = 2
P_KAPPA_FLOOR = 3
P_A_FLOOR = 4
P_MAX_DEPTH = 5
P_SIZE = 6
P_MAX_POS = 7
P_ALPHA = 8  # EWMA weight per step (sigma, A) and per trade (kappa)
P_SIGMA0 = 9
P_KAPPA0 = 10
P_A0 = 11
P_WARMUP_STEPS = 12
P_LEN = 13


@njit(cache=True)
def glft_backtest(  # type: ignore[no-untyped-def]
    st,
    ts,
    kind,
    side,
    px,
    sz,
    ref,
    step_ns,
    t_end,
    p,
    path_ts,
    path_mid,
    path_pos,
    path_eq,
    fill_ts,
    fill_px,
    fill_sz,
    fill_side,
):
    """Returns (steps, actions sent, fills, rejections, market events applied)."""
    n = ts.shape[0]
    tick = st.sf[lay.SF_TICK]
    dt = step_ns / 1e9
    live = np.zeros(2, np.bool_)
    busy = np.zeros(2, np.bool_)
    cur = np.zeros(2)
    var = p[P_SIGMA0] ** 2 * dt
    mean_depth = 1.0 / p[P_KAPPA0]
    rate = p[P_A0] * 2.0 * dt
    alpha = p[P_ALPHA]
    gamma = p[P_GAMMA]
    xi = p[P_XI]
    delta = p[P_DELTA]
    size = p[P_SIZE]
    max_pos = p[P_MAX_POS]
    prev_mid = math.nan
    nf = 0
    nrej = 0
    req = 0
    steps = 0
    i = 0
    t = ts[0] + step_ns
    cap_path = path_ts.shape[0]
    cap_fill = fill_ts.shape[0]
    while i < n and t <= t_end:
        i0 = i
        i, ok = advance(st, ts, kind, side, px, sz, ref, i, t)
        ri = st.ri
        rf = st.rf
        for r in range(st.si[lay.SI_NREC]):
            typ = ri[r, lay.RI_TYPE]
            c = ri[r, lay.RI_CID]
            if c < 0:
                continue
            if typ == lay.REC_RESULT:
                busy[c] = False
                live[c] = ri[r, lay.RI_CODE] == lay.OUT_RESTING
                if ri[r, lay.RI_CODE] == lay.OUT_REJECTED:
                    nrej += 1
            elif typ == lay.REC_FILL:
                if nf < cap_fill:
                    fill_ts[nf] = ri[r, lay.RI_ETS]
                    fill_px[nf] = rf[r, lay.RF_PX]
                    fill_sz[nf] = rf[r, lay.RF_SZ]
                    fill_side[nf] = ri[r, lay.RI_SIDE]
                nf += 1
            elif typ == lay.REC_ORDER and ri[r, lay.RI_CODE] != lay.ST_OPEN:
                live[c] = False
        st.si[lay.SI_NREC] = 0
        if not ok:
            continue
        bb = best_bid_px(st.si, st.sf)
        ba = best_ask_px(st.si, st.sf)
        if bb == bb and ba == ba and bb < ba:
            mid = 0.5 * (bb + ba)
            ref_mid = prev_mid if prev_mid == prev_mid else mid
            ntr = 0
            for k in range(i0, i):
                if kind[k] == lay.EV_TRADE:
                    mean_depth += alpha * (abs(px[k] - ref_mid) / ref_mid - mean_depth)
                    ntr += 1
            rate += alpha * (ntr - rate)
            if prev_mid == prev_mid:
                r_rel = mid / prev_mid - 1.0
                var += alpha * (r_rel * r_rel - var)
            prev_mid = mid
            pos = st.sf[lay.SF_POSITION]
            if steps < cap_path:
                path_ts[steps] = t
                path_mid[steps] = mid
                path_pos[steps] = pos
                path_eq[steps] = st.sf[lay.SF_CASH] + pos * mid
            steps += 1
            if steps >= p[P_WARMUP_STEPS]:
                k = min(max(1.0 / max(mean_depth, 1e-12), p[P_KAPPA_FLOOR]), _glft.KAPPA_CAP)
                a_int = max(rate / (2.0 * dt), p[P_A_FLOOR])
                sigma = math.sqrt(var / dt)
                xd = xi * delta
                c0 = base_depth(xd, k)
                omega = math.sqrt(
                    gamma * sigma * sigma / (2.0 * a_int * delta * k) * utility_factor(xd, k)
                )
                q = pos / size
                for c in range(2):
                    s = 1 - 2 * c
                    d = c0 + omega * (s * q + 0.5 * delta)
                    allowed = d == d and d <= p[P_MAX_DEPTH]
                    if s == 1:
                        allowed = allowed and pos + size <= max_pos + 1e-12
                        target = min(math.floor(mid * (1.0 - d) / tick) * tick, ba - tick)
                    else:
                        allowed = allowed and -pos + size <= max_pos + 1e-12
                        target = max(math.ceil(mid * (1.0 + d) / tick) * tick, bb + tick)
                    if busy[c]:
                        continue
                    if not allowed:
                        if live[c]:
                            req += 1
                            enqueue(st, lay.A_CANCEL, t, req, -1, c, 0, 0, False, 0.0, 0.0)
                            busy[c] = True
                        continue
                    if live[c] and abs(target - cur[c]) < 0.5 * tick:
                        continue
                    req += 1
                    a_kind = lay.A_MODIFY if live[c] else lay.A_PLACE
                    enqueue(st, a_kind, t, req, -1, c, s, lay.TIF_ALO, False, target, size)
                    busy[c] = True
                    cur[c] = target
        t += step_ns
    return steps, req, nf, nrej, i


WARMUP_STEPS = 50


def run_fast_glft(
    settings: Settings,
    data: Sequence[Path],
    *,
    requote_ms: float | None = None,
    duration_s: float = math.inf,
    data_format: str = "auto",
    tick: float | None = None,
) -> tuple[BacktestReport, dict[str, Any]]:
    """Backtest the simplified GLFT strategy on ``data`` with the ``[quoters.glft]``,
    ``[venues.sim]``, risk and estimator-prior settings of ``settings``.

    ``requote_ms`` is the step in ms (default ``engine.timer_ms``), ``duration_s`` the
    simulated seconds at most. Returns the report (``mode`` = :data:`MODE`) and the sampled
    path (``ts`` ns, ``mid``, ``position`` in coins, ``equity`` in quote currency).
    """
    wall0 = time.perf_counter()
    if settings.components.quoter != "glft":
        raise ConfigError(
            [
                f"the fast_glft benchmark strategy reimplements the built-in 'glft' quoter; "
                f"components.quoter is {settings.components.quoter!r}"
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
    p = np.zeros(P_LEN)
    p[P_GAMMA] = gp.gamma
    p[P_XI] = gp.gamma if gp.xi < 0 else gp.xi
    p[P_DELTA] = gp.delta_lots
    p[P_KAPPA_FLOOR] = gp.kappa_floor
    p[P_A_FLOOR] = gp.A_floor
    p[P_MAX_DEPTH] = gp.max_depth
    p[P_SIZE] = settings.risk.order_size
    p[P_MAX_POS] = settings.risk.max_position
    p[P_ALPHA] = 0.02
    p[P_SIGMA0] = sg.default_sigma
    p[P_KAPPA0] = kp.prior_kappa
    p[P_A0] = 1.0
    p[P_WARMUP_STEPS] = WARMUP_STEPS
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
    steps, sent, nf, nrej, applied = glft_backtest(
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
        mode=MODE,
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
