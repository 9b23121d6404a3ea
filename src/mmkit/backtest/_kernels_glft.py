"""numba kernel: the built-in GLFT quoter's fast path, driving the simulated exchange.

The whole backtest runs in one kernel: every ``step_ns`` the market is applied with the
exchange's ``advance`` (every level change and trade meets our orders), then the quotes are
recomputed and sent with ``enqueue`` (latency, queue and post-only rules of the exchange
apply). The GLFT closed form comes from :mod:`mmkit.quoting.glft` (its functions compiled
by numba, not rewritten); the estimates are online EWMAs: sigma from the mid's relative
returns per step, kappa = 1 / mean relative trade depth, A = trades per second per side.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.quoting import glft as _glft
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim._kernels_book import best_ask_px, best_bid_px
from mmkit.venues.sim._kernels_orders import enqueue
from mmkit.venues.sim._kernels_replay import advance

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
