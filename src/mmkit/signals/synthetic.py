"""Small synthetic markets for the signal tests and benchmarks.

* :func:`lead_lag_mids` - two venues' mids driven by the same innovations, the follower
  ``lag`` steps behind the leader, each with its own idiosyncratic noise (or, with
  ``independent=True``, two unrelated venues);
* :func:`lead_lag_events` - the same as time-ordered BBO events, the leader's on streams
  starting with ``prefix``;
* :func:`toxic_flow_events` - a market with a known toxic-flow component: in "informed"
  episodes the book and the trade flow lean towards the direction the mid is about to move,
  and our fills against that direction are toxic at the 5 s markout.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mmkit.core.events import BBO, Event, OwnFill, Trade
from mmkit.core.types import NS_PER_S, Side

T0 = 1_700_000_000 * NS_PER_S


def lead_lag_mids(
    seed: int,
    n: int,
    lag: int,
    *,
    sigma_step: float = 1e-4,
    noise_ratio: float = 1.0,
    independent: bool = False,
    mid0: float = 100.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(leader, follower)`` mids of ``n`` steps.

    Leader return ``e[t] + u[t]``, follower return ``e[t - lag] + v[t]`` with ``e`` the common
    innovation (std ``sigma_step``) and ``u, v`` idiosyncratic (std ``noise_ratio *
    sigma_step``); the correlation at ``lag`` is ``1 / (1 + noise_ratio^2)``.
    """
    if lag < 0 or n < 2:
        raise ValueError(f"need lag >= 0 and n >= 2, got lag={lag}, n={n}")
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sigma_step, n + lag)
    e2 = rng.normal(0.0, sigma_step, n + lag) if independent else e
    u = rng.normal(0.0, noise_ratio * sigma_step, n)
    v = rng.normal(0.0, noise_ratio * sigma_step, n)
    lead_r = e[lag:] + u
    fol_r = e2[:n] + v
    lead_r[0] = fol_r[0] = 0.0
    return mid0 * np.exp(np.cumsum(lead_r)), mid0 * np.exp(np.cumsum(fol_r))


def _bbo(ts: int, mid: float, half_spread: float, stream: str) -> BBO:
    return BBO(ts, mid * (1 - half_spread), 1.0, mid * (1 + half_spread), 1.0, ts, stream=stream)


def lead_lag_events(
    seed: int,
    n: int,
    lag: int,
    *,
    interval_s: float = 0.1,
    independent: bool = False,
    noise_ratio: float = 1.0,
    sigma_step: float = 1e-4,
    prefix: str = "leader:",
    start_ns: int = T0,
) -> Iterator[BBO]:
    """Follower BBO then leader BBO at every step of ``interval_s``."""
    lead, fol = lead_lag_mids(
        seed, n, lag, sigma_step=sigma_step, noise_ratio=noise_ratio, independent=independent
    )
    dt = round(interval_s * 1e9)
    for i in range(n):
        ts = start_ns + i * dt + dt // 2
        yield _bbo(ts, float(fol[i]), 1e-5, "bbo")
        yield _bbo(ts, float(lead[i]), 1e-5, prefix + "bbo")


def toxic_flow_events(
    seed: int,
    n_episodes: int,
    *,
    informed_share: float = 0.4,
    move: float = 5e-4,
    noise: float = 1e-4,
    episode_s: float = 6.0,
    mid0: float = 100.0,
    start_ns: int = T0,
) -> list[Event]:
    """Episodes of ``episode_s``: book + trades, one own fill, then the mid's 5 s path.

    In an informed episode (probability ``informed_share``) with direction ``d``, the top of
    book leans towards ``d`` (bid size larger when ``d = +1``), most trades are aggressive in
    direction ``d`` and the mid then moves by ``d * move``; otherwise the book and the flow
    are balanced noise and the mid moves by noise only. Our fill's side is random, so a fill
    against ``d`` in an informed episode is toxic.
    """
    rng = np.random.default_rng(seed)
    out: list[Event] = []
    mid = mid0
    ep_ns = int(episode_s * NS_PER_S)
    hs = 1e-4
    for k in range(n_episodes):
        t = start_ns + k * ep_ns
        informed = rng.random() < informed_share
        d = 1.0 if rng.random() < 0.5 else -1.0
        lean = d * rng.uniform(0.3, 0.8) if informed else rng.uniform(-0.4, 0.4)
        bid_sz, ask_sz = 1.0 + lean, 1.0 - lean
        out.append(BBO(t, mid * (1 - hs), bid_sz, mid * (1 + hs), ask_sz, t))
        for j in range(5):
            ts = t + (j + 1) * 50_000_000
            buy = rng.random() < (0.5 + 0.35 * d if informed else 0.5)
            px = mid * (1 + hs) if buy else mid * (1 - hs)
            out.append(
                Trade(ts, px, float(rng.uniform(0.1, 1.0)), Side.BUY if buy else Side.SELL, ts)
            )
        tf = t + 400_000_000
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        oid = k + 1
        px = mid * (1 - hs) if side is Side.BUY else mid * (1 + hs)
        out.append(OwnFill(tf, oid, None, side, px, 0.1, tid=oid, local_ts=tf))
        total = (d * move if informed else 0.0) + float(rng.normal(0.0, noise))
        for j in range(1, 6):
            ts = tf + j * NS_PER_S
            m = mid * (1 + total * j / 5)
            out.append(BBO(ts, m * (1 - hs), 1.0, m * (1 + hs), 1.0, ts))
        mid = mid * (1 + total)
        out.append(BBO(t + ep_ns - 1, mid * (1 - hs), 1.0, mid * (1 + hs), 1.0, t + ep_ns - 1))
    return out
