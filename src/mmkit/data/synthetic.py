"""The synthetic market: a seeded, reproducible stand-in for a real venue's market data.

Model (one step of ``step_ms``):

* **mid** — log-mid moves by ``sigma_t * sqrt(dt) * Z``; ``sigma_t`` is the current regime's
  vol times ``exp(x_t)``, ``x_t`` an Ornstein-Uhlenbeck log-vol deviation (stochastic
  volatility); regimes switch as a Markov chain with mean holding time ``regime_mean_s``.
  Jump cascades start at ``cascade_rate_per_h``; a cascade is ``1 + Poisson(cascade_jumps-1)``
  same-direction jumps of mean size ``jump_size`` spaced ``Exp(cascade_gap_s)`` apart.
* **book** — best bid is the tick below mid, best ask ``spread_ticks`` above it; ``levels``
  levels per side on the tick grid with sizes growing with depth (``depth_size``,
  ``depth_growth``), noisy. A BBO is written whenever the top prices change and a full
  snapshot every ``snapshot_interval_s``.
* **market orders** — each side's arrive as a Poisson process of rate ``A`` per second; each
  reaches a relative depth ``~ Exp(k)`` and prints a trade at ``mid * (1 ± depth)`` rounded to
  the tick (never inside the spread), with the aggressor's side. So trades reaching depth
  ``>= d`` arrive at rate ``A * exp(-k * d)`` per side: the true kappa is ``k``. The trade
  record's ``val`` column holds the mid it was generated from.
* **informed flow** (adverse selection) — each market order is informed with probability
  ``f = informed_frac``. An informed order of side ``s`` (+1 buy, -1 sell) that reached
  relative depth ``d`` adds ``J = s * (b + c * d)`` to a pending log-mid move, with
  ``b = informed_impact_bp * 1e-4`` and ``c = informed_depth_impact``; every later step
  releases the fraction ``1 - exp(-step / H)`` (``H = informed_horizon_s``) of what is
  pending. So ``h`` seconds after an informed trade about ``1 - exp(-h / H)`` of its move has
  happened (exactly ``1 - exp(-m * step / H)`` after ``m`` step boundaries), and

      E[s * (log mid(t + h) - log mid(t)) | informed]  ~=  (b + c / k) * (1 - exp(-h / H))

  (``E[d] = 1 / k``), while for an uninformed order it is 0: the informed order predicts the
  next mid move, the uninformed one does not. A quote resting ``delta`` from the mid that an
  informed order fills (``d >= delta``, so ``E[d] = delta + 1/k``) is marked out at
  ``delta - (b + c * (delta + 1/k)) * (1 - exp(-h / H))``: negative for ``c >= 1``. The impact
  adds about ``2 * A * f * (b**2 + 2*b*c/k + 2*c**2/k**2)`` to the mid's variance per second.
  With ``informed_persistence_s > 0`` informed orders share a hidden direction that flips
  as a Poisson process of that mean time (their flow clusters, and then the formula above
  is a lower bound). Trades' depth distribution is the same for both kinds, so the true
  kappa stays ``k``. Informed trades carry ``aux = 1`` in the store (others ``-1``).
  ``informed_frac = 0`` draws no extra random number: the market is bit for bit the one
  generated before informed flow existed. The defaults (``f = 0.8``, ``b = 0``,
  ``c = 2.6``, ``H = 0.1`` s, with ``k = 20000``, ``A = 0.35`` /s and regime vols of 0.2
  and 0.5 bp/sqrt(s)) make the default engine on the synthetic market resemble it on the
  Binance USD-M BTC capture in markouts (-1.1 to -1.6 bp at 1 / 5 / 30 s against -1.2 to
  -2.2), in the mid's 1 s volatility (1.30-1.43 against 1.24 bp/sqrt(s); the informed
  moves make most of it) and in fills per hour (1,700-1,900 against ~1,500); see
  ``benchmarks/markouts.py`` and ``docs/data.md``.

Generation runs in numba kernels (:mod:`mmkit.data._synthetic_kernels`) ``chunk_s`` seconds at
a time; chunk ``i`` is seeded from ``(seed, i)``, so a seed gives the same market whatever
reads it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from mmkit.core.events import Event
from mmkit.core.types import Instrument
from mmkit.data import _synthetic_kernels as kern
from mmkit.data.adapter import events_from_chunks
from mmkit.data.params import SyntheticParams
from mmkit.data.schema import Chunk, empty_chunk
from mmkit.data.store import StoreMeta
from mmkit.errors import ConfigError


def _chunk_seed(seed: int, index: int) -> int:
    return int((seed * 1_000_003 + index * 7_919 + 12_345) % (2**31 - 1))


def resolve(
    params: SyntheticParams, instrument: Instrument | None = None, seed: int = 0
) -> SyntheticParams:
    """Fill ``seed``/``tick``/``lot`` from the run's seed and instrument where they are unset."""
    inst = instrument or Instrument()
    p = params
    if p.seed < 0:
        p = replace(p, seed=seed)
    if p.tick <= 0:
        p = replace(p, tick=inst.tick)
    if p.lot <= 0:
        p = replace(p, lot=inst.lot)
    if p.mid0 <= 2 * p.spread_ticks * p.tick:
        raise ConfigError(
            [f"synthetic: mid0={p.mid0} is too small for tick={p.tick} (need several ticks)"]
        )
    if not p.sigma_regimes or any(not (math.isfinite(s) and s >= 0) for s in p.sigma_regimes):
        raise ConfigError(
            [
                f"sigma_regimes must be a non-empty list of finite numbers >= 0, "
                f"got {p.sigma_regimes!r}"
            ]
        )
    _check_informed(p)
    _check_chunk_rows(p)
    return p


#: rows one generated chunk may hold (the store's columns take ~50 bytes a row: ~1 GB)
MAX_CHUNK_ROWS = 20_000_000


def _chunk_rows(p: SyntheticParams, steps: int) -> int:
    """Room for the rows of ``steps`` mid-price steps: the mid's rows, the book snapshots'
    levels and the market orders (their expected count plus ten standard deviations)."""
    horizon = steps * (p.step_ms / 1000.0)
    snaps = int(horizon / p.snapshot_interval_s) + 2
    trades = 2.0 * p.A * horizon
    return 2 * steps + 2 * p.levels * snaps + int(trades + 10 * math.sqrt(trades + 1) + 64)


def _check_chunk_rows(p: SyntheticParams) -> None:
    """One chunk (``chunk_s`` of market) must fit in memory: a tiny ``step_ms`` or
    ``snapshot_interval_s`` or a huge ``A`` asked numpy for arrays of impossible sizes."""
    per_chunk = p.chunk_s / (p.step_ms / 1000.0)
    try:
        rows = _chunk_rows(p, max(1, round(per_chunk))) if math.isfinite(per_chunk) else None
    except (OverflowError, ValueError):  # an infinite horizon or count
        rows = None
    if rows is None or rows > MAX_CHUNK_ROWS:
        if rows is None:
            size = "too many"
        else:
            # beyond 10^308 rows a float cannot hold the count: its decimal order of magnitude
            size = f"~{rows:,}" if rows < 10**12 else f"~10^{len(str(rows)) - 1}"
        raise ConfigError(
            [
                f"synthetic: one chunk (chunk_s={p.chunk_s:g} s) would hold {size} rows with "
                f"step_ms={p.step_ms:g}, snapshot_interval_s={p.snapshot_interval_s:g}, "
                f"A={p.A:g}, levels={p.levels}: at most {MAX_CHUNK_ROWS:,}; raise step_ms or "
                "snapshot_interval_s, or lower A or chunk_s"
            ]
        )


def _check_informed(p: SyntheticParams) -> None:
    """The informed-flow fields, checked here too because the params may be built in code
    (the config loader checks the same bounds for ``[feeds.synthetic]``)."""
    bounds = (
        ("informed_frac", p.informed_frac, 0.0, 1.0, "in [0, 1]"),
        ("informed_horizon_s", p.informed_horizon_s, 0.0, math.inf, "> 0 (s)"),
        ("informed_impact_bp", p.informed_impact_bp, 0.0, math.inf, ">= 0 (bp)"),
        ("informed_depth_impact", p.informed_depth_impact, 0.0, math.inf, ">= 0"),
        ("informed_persistence_s", p.informed_persistence_s, 0.0, math.inf, ">= 0 (s)"),
    )
    bad = [
        f"synthetic: {name} must be a finite number {rule}, got {value!r}"
        for name, value, lo, hi, rule in bounds
        if not (
            isinstance(value, int | float)
            and math.isfinite(value)
            and lo <= value <= hi
            and (value > 0 or name != "informed_horizon_s")
        )
    ]
    if bad:
        raise ConfigError(bad)


def generate_chunks(params: SyntheticParams) -> Iterator[Chunk]:
    """Store chunks of the synthetic market (``params`` resolved: seed >= 0, tick, lot > 0)."""
    p = params
    if p.seed < 0 or p.tick <= 0 or p.lot <= 0:
        raise ConfigError(["synthetic: resolve() the params first (seed, tick, lot unset)"])
    _check_informed(p)
    _check_chunk_rows(p)
    step_s = p.step_ms / 1000.0
    total_steps = max(1, round(p.duration_s / step_s))
    steps_per_chunk = max(1, round(p.chunk_s / step_s))
    state = np.zeros(kern.STATE_LEN, dtype=np.float64)
    state[kern.S_MID] = p.mid0
    sigmas = np.asarray(p.sigma_regimes, dtype=np.float64)
    done = 0
    index = 0
    while done < total_steps:
        steps = min(steps_per_chunk, total_steps - done)
        cap = _chunk_rows(p, steps)
        seed = _chunk_seed(p.seed, index)
        while True:
            out = empty_chunk(cap)
            trial = state.copy()
            n = kern.generate_chunk(
                seed,
                p.start_ns,
                steps,
                step_s,
                trial,
                sigmas,
                p.regime_mean_s,
                p.vol_of_vol,
                p.vol_reversion_s,
                p.cascade_rate_per_h / 3600.0,
                p.cascade_jumps,
                p.jump_size,
                p.cascade_gap_s,
                p.snapshot_interval_s,
                p.levels,
                p.spread_ticks,
                p.tick,
                p.lot,
                p.depth_size,
                p.depth_growth,
                p.k,
                p.A,
                p.trade_size,
                p.informed_frac,
                p.informed_impact_bp * 1e-4,
                p.informed_depth_impact,
                -math.expm1(-step_s / p.informed_horizon_s),
                -math.expm1(-step_s / p.informed_persistence_s)
                if p.informed_persistence_s > 0
                else 0.0,
                out["ts"],
                out["kind"],
                out["side"],
                out["flags"],
                out["px"],
                out["sz"],
                out["val"],
                out["seq"],
                out["aux"],
            )
            if n >= 0:
                break
            cap *= 2
        state = trial
        chunk = {name: arr[:n] for name, arr in out.items()}
        chunk["local_ts"] = chunk["ts"]
        yield chunk
        done += steps
        index += 1


def store_meta(params: SyntheticParams, coin: str = "SYN") -> StoreMeta:
    return StoreMeta(
        coin=coin,
        tick=params.tick,
        lot=params.lot,
        source="synthetic",
        extra={"params": dict(vars(params))},
    )


class SyntheticFeed:
    """The ``synthetic`` feed: events of the synthetic market."""

    def __init__(
        self, params: SyntheticParams, instrument: Instrument | None = None, seed: int = 0
    ) -> None:
        self.params = resolve(params, instrument, seed)

    def chunks(self) -> Iterator[Chunk]:
        return generate_chunks(self.params)

    def events(self) -> Iterator[Event]:
        return events_from_chunks(self.chunks())


def build(ctx: Any) -> SyntheticFeed:
    """Factory of the ``synthetic`` feed."""
    return SyntheticFeed(ctx.params, ctx.instrument, ctx.seed)
