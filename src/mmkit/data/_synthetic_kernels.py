"""numba kernels of the synthetic market (see :mod:`mmkit.data.synthetic`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# indices into the carried state vector
S_MID = 0
S_X = 1  # log-vol deviation (OU)
S_REGIME = 2
S_CASCADE_LEFT = 3
S_CASCADE_DIR = 4
S_NEXT_JUMP = 5  # time of the next cascade jump (s, relative to start)
S_BID = 6
S_ASK = 7
S_NEXT_SNAP = 8
S_SEQ = 9
S_TID = 10
S_T = 11  # simulated seconds since start
S_PENDING = 12  # informed impact not yet applied to the log-mid (signed, log units)
S_INFORMED_DIR = 13  # side the informed orders take now (+1 buy / -1 sell; 0 not drawn yet)
STATE_LEN = 14

K_SNAPSHOT = 1
K_TRADE = 3
K_BBO = 4
FLAG_END = 1


@njit(cache=True)
def _round_lot(x: float, lot: float) -> float:
    n = math.floor(x / lot + 0.5)
    if n < 1:
        n = 1
    return n * lot


@njit(cache=True)
def _time_order(t: np.ndarray, m: int) -> np.ndarray:
    """Indices sorting ``t[:m]`` ascending, equal keys in index order (a stable merge sort).

    It replaces ``np.argsort`` (numba's quicksort, whose compilation cost ~0.8 s of the first
    run) with the same permutation: numba's argsort insertion-sorts arrays of up to 15
    elements, which is stable, and for more elements every permutation that sorts distinct
    keys is the same one (the keys are continuous uniform draws: ties have probability
    ~m**2 / 2**53).
    """
    a = np.empty(m, dtype=np.int64)
    b = np.empty(m, dtype=np.int64)
    for i in range(m):
        a[i] = i
    width = 1
    while width < m:
        lo = 0
        while lo < m:
            mid = min(lo + width, m)
            hi = min(lo + 2 * width, m)
            i = lo
            j = mid
            o = lo
            while i < mid and j < hi:
                if t[a[j]] < t[a[i]]:  # strictly less: an equal key keeps its earlier place
                    b[o] = a[j]
                    j += 1
                else:
                    b[o] = a[i]
                    i += 1
                o += 1
            while i < mid:
                b[o] = a[i]
                i += 1
                o += 1
            while j < hi:
                b[o] = a[j]
                j += 1
                o += 1
            lo = hi
        a, b = b, a
        width *= 2
    return a


@njit(cache=True)
def generate_chunk(
    seed: int,
    start_ns: int,
    n_steps: int,
    step_s: float,
    state: np.ndarray,
    sigmas: np.ndarray,
    regime_mean_s: float,
    vol_of_vol: float,
    vol_reversion_s: float,
    cascade_rate: float,
    cascade_jumps: float,
    jump_size: float,
    cascade_gap_s: float,
    snap_s: float,
    levels: int,
    spread_ticks: int,
    tick: float,
    lot: float,
    depth_size: float,
    depth_growth: float,
    k: float,
    A: float,
    trade_size: float,
    informed_frac: float,
    informed_impact_rel: float,
    informed_impact_depth: float,
    informed_release: float,
    informed_flip: float,
    ts: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    flags: np.ndarray,
    px: np.ndarray,
    sz: np.ndarray,
    val: np.ndarray,
    seq: np.ndarray,
    aux: np.ndarray,
) -> int:
    """Advance the market by ``n_steps`` steps of ``step_s`` seconds, writing records.

    Informed flow (only when ``informed_frac > 0``, so that 0 draws exactly the random
    numbers it always drew): each market order is informed with probability
    ``informed_frac``; an informed order of side ``s`` and relative depth reach ``d`` adds
    ``s * (informed_impact_rel + informed_impact_depth * d)`` to the pending log-mid move,
    and each later step moves the log-mid by ``informed_release`` (= ``1 - exp(-step_s/H)``)
    of what is pending. With ``informed_flip > 0`` informed orders all take the side of a
    hidden direction that flips with probability ``informed_flip`` per step (persistent,
    hence predictable, informed flow); with 0 each informed order's side is a coin flip.
    Informed trades carry ``aux = 1`` (others ``-1``).

    Returns the number of rows written, or -1 when the output arrays are too small (the
    caller retries with larger ones; the result is the same because the seed is reset).
    """
    np.random.seed(seed)
    cap = ts.shape[0]
    n = 0
    n_reg = sigmas.shape[0]
    mid = state[S_MID]
    x = state[S_X]
    regime = int(state[S_REGIME])
    t = state[S_T]
    seqc = int(state[S_SEQ])
    tid = int(state[S_TID])
    sd_x = vol_of_vol * math.sqrt(2.0 * step_s / vol_reversion_s)
    decay_x = math.exp(-step_s / vol_reversion_s)
    p_switch = 1.0 - math.exp(-step_s / regime_mean_s)
    tbuf = np.empty(64, dtype=np.float64)
    sbuf = np.empty(64, dtype=np.int64)
    for _ in range(n_steps):
        # -- mid: stochastic volatility, regime switches, jump cascades ---------------------
        if n_reg > 1 and np.random.random() < p_switch:
            r = np.random.randint(0, n_reg - 1)
            regime = r if r < regime else r + 1
        x = x * decay_x + sd_x * np.random.standard_normal()
        sig = sigmas[regime] * math.exp(x - 0.5 * vol_of_vol * vol_of_vol)
        logret = sig * math.sqrt(step_s) * np.random.standard_normal() - 0.5 * sig * sig * step_s
        if (
            state[S_CASCADE_LEFT] <= 0.0
            and cascade_rate > 0.0
            and np.random.random() < 1.0 - math.exp(-cascade_rate * step_s)
        ):
            state[S_CASCADE_LEFT] = 1.0 + np.random.poisson(cascade_jumps - 1.0)
            state[S_CASCADE_DIR] = 1.0 if np.random.random() < 0.5 else -1.0
            state[S_NEXT_JUMP] = t
        while state[S_CASCADE_LEFT] > 0.0 and state[S_NEXT_JUMP] <= t:
            logret += state[S_CASCADE_DIR] * np.random.exponential(jump_size)
            state[S_CASCADE_LEFT] -= 1.0
            state[S_NEXT_JUMP] += np.random.exponential(cascade_gap_s)
        if informed_frac > 0.0:
            if informed_flip > 0.0:
                if state[S_INFORMED_DIR] == 0.0:
                    state[S_INFORMED_DIR] = 1.0 if np.random.random() < 0.5 else -1.0
                elif np.random.random() < informed_flip:
                    state[S_INFORMED_DIR] = -state[S_INFORMED_DIR]
            release = state[S_PENDING] * informed_release
            logret += release
            state[S_PENDING] -= release
        mid = mid * math.exp(logret)
        now = start_ns + int(math.floor(t * 1e9 + 0.5))  # noqa: RUF046
        # -- top of book on the tick grid ---------------------------------------------------
        bid = math.floor(mid / tick) * tick
        if bid >= mid:
            bid -= tick
        if bid < tick:
            bid = tick  # the mid fell below a tick: keep a positive book
        ask = bid + spread_ticks * tick
        if ask <= mid:
            ask = bid + (spread_ticks + 1) * tick
        if bid != state[S_BID] or ask != state[S_ASK]:
            if n + 2 > cap:
                return -1
            seqc += 1
            for j in range(2):
                ts[n] = now
                kind[n] = K_BBO
                side[n] = 1 if j == 0 else -1
                flags[n] = 0 if j == 0 else FLAG_END
                px[n] = bid if j == 0 else ask
                sz[n] = _round_lot(depth_size * (0.5 + np.random.random()), lot)
                val[n] = np.nan
                seq[n] = seqc
                aux[n] = -1
                n += 1
            state[S_BID] = bid
            state[S_ASK] = ask
        # -- periodic full snapshot -------------------------------------------------------------
        if t >= state[S_NEXT_SNAP]:
            if n + 2 * levels > cap:
                return -1
            seqc += 1
            for j in range(2):
                for i in range(levels):
                    level_px = (bid - i * tick) if j == 0 else (ask + i * tick)
                    if level_px <= 0.0:
                        continue  # a price too low for the tick: no such bid level
                    ts[n] = now
                    kind[n] = K_SNAPSHOT
                    side[n] = 1 if j == 0 else -1
                    flags[n] = FLAG_END if (j == 1 and i == levels - 1) else 0
                    px[n] = level_px
                    mean = depth_size * (1.0 + depth_growth * i)
                    sz[n] = _round_lot(mean * (0.5 + np.random.random()), lot)
                    val[n] = np.nan
                    seq[n] = seqc
                    aux[n] = -1
                    n += 1
            state[S_NEXT_SNAP] += snap_s
            if state[S_NEXT_SNAP] <= t:
                state[S_NEXT_SNAP] = t + snap_s
        # -- market orders: Poisson(A) per side, depth ~ Exp(k) -----------------------------
        m = np.random.poisson(2.0 * A * step_s)
        if m > 0:
            if m > tbuf.shape[0]:
                tbuf = np.empty(2 * m, dtype=np.float64)
                sbuf = np.empty(2 * m, dtype=np.int64)
            for i in range(m):
                tbuf[i] = np.random.random() * step_s
            order = _time_order(tbuf, m)
            if n + m > cap:
                return -1
            for ii in range(m):
                i = order[ii]
                sbuf[i] = 1 if np.random.random() < 0.5 else -1
                depth = np.random.exponential(1.0 / k)
                informed = informed_frac > 0.0 and np.random.random() < informed_frac
                if informed and informed_flip > 0.0:
                    sbuf[i] = int(state[S_INFORMED_DIR])
                s = sbuf[i]
                raw = mid * (1.0 + s * depth)
                p = math.floor(raw / tick + 0.5) * tick
                if s > 0 and p < ask:
                    p = ask
                if s < 0 and p > bid:
                    p = bid
                if p < tick:
                    p = tick
                tid += 1
                ts[n] = now + int(math.floor(tbuf[i] * 1e9 + 0.5))  # noqa: RUF046
                kind[n] = K_TRADE
                side[n] = s
                flags[n] = FLAG_END
                px[n] = p
                sz[n] = _round_lot(np.random.exponential(trade_size), lot)
                val[n] = mid
                seq[n] = tid
                aux[n] = -1
                if informed:
                    aux[n] = 1
                    state[S_PENDING] += s * (informed_impact_rel + informed_impact_depth * depth)
                n += 1
        t += step_s
    state[S_MID] = mid
    state[S_X] = x
    state[S_REGIME] = regime
    state[S_T] = t
    state[S_SEQ] = seqc
    state[S_TID] = tid
    return n
