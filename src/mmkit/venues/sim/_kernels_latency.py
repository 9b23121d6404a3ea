"""numba kernels: the seeded random source and the latency channels.

Three FIFO channels, each with its own base latency: order entry (local -> exchange),
responses (exchange -> local: acknowledgements, fills, order updates) and market data
(exchange -> local). A channel never reorders: a sampled time earlier than the channel's
previous one is raised to it. The random source is splitmix64 held in the state, so a run
is reproducible from its seed alone.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.venues.sim._jit import kernel_helper
from mmkit.venues.sim._layout import (
    LAT_CONSTANT,
    LAT_EXPONENTIAL,
    SF_JITTER,
    SI_ENTRY_LAT,
    SI_FEED_LAT,
    SI_LAST_ARR,
    SI_LAST_FEED,
    SI_LAST_RESP,
    SI_LAT_MODEL,
    SI_RESP_LAT,
)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True)
def uniform(rng: np.ndarray) -> float:
    """A uniform draw in [0, 1) from the splitmix64 state ``rng[0]``."""
    z = rng[0] + _GOLDEN
    rng[0] = z
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * _INV53


@njit(cache=True)
def sample_latency(si: np.ndarray, sf: np.ndarray, rng: np.ndarray, base: int) -> int:
    """One latency draw (ns) around ``base`` under the state's latency model."""
    model = si[SI_LAT_MODEL]
    jitter = sf[SF_JITTER]
    if base <= 0 or model == LAT_CONSTANT or jitter <= 0.0:
        return base
    if model == LAT_EXPONENTIAL:
        u = uniform(rng)
        return int(base + np.int64(-math.log(1.0 - u) * jitter * base))
    u1 = uniform(rng)
    u2 = uniform(rng)
    z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
    return int(np.int64(base * math.exp(jitter * z)))


@kernel_helper
def _through(
    si: np.ndarray, sf: np.ndarray, rng: np.ndarray, t: int, lat_col: int, last_col: int
) -> int:
    out = t + sample_latency(si, sf, rng, si[lat_col])
    if out < si[last_col]:
        out = si[last_col]
    si[last_col] = out
    return out


@njit(cache=True)
def entry_arrival(si: np.ndarray, sf: np.ndarray, rng: np.ndarray, local_ts: int) -> int:
    """Exchange time at which an action sent at ``local_ts`` arrives."""
    return _through(si, sf, rng, local_ts, SI_ENTRY_LAT, SI_LAST_ARR)


@njit(cache=True)
def response_time(si: np.ndarray, sf: np.ndarray, rng: np.ndarray, exch_ts: int) -> int:
    """Local time at which news of something that happened at ``exch_ts`` arrives."""
    return _through(si, sf, rng, exch_ts, SI_RESP_LAT, SI_LAST_RESP)


@njit(cache=True)
def feed_time(si: np.ndarray, sf: np.ndarray, rng: np.ndarray, exch_ts: int) -> int:
    """Local time at which a market event stamped ``exch_ts`` reaches the strategy."""
    return _through(si, sf, rng, exch_ts, SI_FEED_LAT, SI_LAST_FEED)
