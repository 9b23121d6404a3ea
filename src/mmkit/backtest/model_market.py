"""``mmkit backtest --market model``: the Avellaneda–Stoikov Monte-Carlo for any quoter.

The classic experiment (Avellaneda & Stoikov 2008, section 4): mid ``s0 = 100``, arithmetic
Brownian with ``sigma = 2`` per unit time, fills ``A exp(-k depth)`` with ``A = 140``,
``k = 1.5`` per unit of price, horizon ``T = 1``, steps ``dt = 0.005``; profit is cash plus
inventory marked at the final mid. Time units are seconds here.

The quoter is the configured quoter *plugin*, built exactly as for trading, and asked for
quotes through its normal ``quote(view, estimates, now_ns)``; it sees the model's true
parameters in mmkit's units (``kappa = k * mid`` per unit of relative depth, ``sigma =
sigma / mid`` per sqrt second, ``A``). Its best bid and ask become the depths of the path.

Vectorised across paths: at each step the quoter is called once per distinct inventory
among the paths (a few dozen at most, not once per path), with the mid of one path holding
that inventory, and the depths are applied to every path with that inventory. This is exact
for quoters whose depths depend on inventory, time and the estimates (as the model's
optimal quotes do) and ignores only price-grid rounding differences between paths. The
paths themselves (fills, mid) run in a numba kernel.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mmkit.backtest._kernels_model import model_step, seed_model
from mmkit.components import Estimates, View
from mmkit.config.loader import Settings
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_S, Instrument
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, RiskLimits


@dataclass
class ModelOptions:
    paths: int = 1000
    mid0: float = 100.0
    sigma: float = 2.0  # price units per sqrt(second)
    A: float = 140.0
    k: float = 1.5  # per unit of price
    horizon_s: float = 1.0
    dt_s: float = 0.005
    max_inventory: int = 50  # lots
    tick: float = 0.01
    seed: int | None = None


@dataclass
class ModelReport:
    quoter: str
    options: dict[str, Any]
    profit_mean: float
    profit_std: float
    final_q_mean: float
    final_q_std: float
    avg_spread: float
    fills_per_path: float
    quoter_calls: int

    def to_json(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }

    def to_markdown(self) -> str:
        o = self.options
        return (
            "# mmkit backtest --market model (Avellaneda–Stoikov)\n\n"
            f"quoter `{self.quoter}`, {o['paths']} paths, T={o['horizon_s']} s, "
            f"dt={o['dt_s']}, s0={o['mid0']}, sigma={o['sigma']}, A={o['A']}, k={o['k']}\n\n"
            "| metric | mean | std |\n|---|---|---|\n"
            f"| profit | {self.profit_mean:.3f} | {self.profit_std:.3f} |\n"
            f"| final inventory | {self.final_q_mean:.3f} | {self.final_q_std:.3f} |\n"
            f"| average spread | {self.avg_spread:.4f} | |\n"
            f"| fills per path | {self.fills_per_path:.2f} | |\n"
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)


def _build_quoter(settings: Settings, host: PluginHost, o: ModelOptions) -> tuple[Any, Instrument]:
    name = settings.components.quoter
    spec = host.registry.get("quoter", name, where="components.quoter")
    inst = Instrument(coin="MODEL", sz_decimals=2, tick=o.tick, min_notional=0.0)
    risk = RiskLimits(max_position=float(o.max_inventory), order_size=1.0, max_order_notional=1e12)
    ctx = BuildContext(
        kind="quoter",
        name=name,
        params=settings.component_params("quoter", name),
        instrument=inst,
        risk=risk,
        seed=settings.engine.seed,
        config=settings.merged,
    )
    return spec.build(ctx), inst


#: the most paths a model run holds (five float64 arrays of this length: ~400 MB)
MAX_PATHS = 10_000_000
#: the most time steps (``horizon / dt``) of a model run (each quotes every distinct
#: inventory once: ~10^7 steps is hours already)
MAX_STEPS = 10_000_000


def run_model(settings: Settings, host: PluginHost, o: ModelOptions | None = None) -> ModelReport:
    o = o or ModelOptions()
    if o.paths < 1 or not (o.dt_s > 0 and o.horizon_s >= o.dt_s):
        raise ConfigError(["model market: need paths >= 1 and 0 < dt <= horizon"])
    if o.paths > MAX_PATHS:
        raise ConfigError(
            [f"model market: --paths {o.paths:,} is more than {MAX_PATHS:,} (memory: ~40 B a path)"]
        )
    if not o.horizon_s / o.dt_s <= MAX_STEPS:  # an infinite horizon too
        raise ConfigError(
            [
                f"model market: --duration {o.horizon_s:g} s in steps of {o.dt_s:g} s is more "
                f"than {MAX_STEPS:,} steps"
            ]
        )
    quoter, inst = _build_quoter(settings, host, o)
    seed = settings.engine.seed if o.seed is None else o.seed
    seed_model(int(seed))
    n = o.paths
    mid = np.full(n, o.mid0)
    q = np.zeros(n)
    cash = np.zeros(n)
    bid_d = np.full(n, np.nan)
    ask_d = np.full(n, np.nan)
    stats = np.zeros(4)
    market = MarketState()
    pf = Portfolio(0.0, True)
    view = View(inst, market, pf, float(o.max_inventory))
    est = Estimates(
        kappa=o.k * o.mid0,
        A=o.A,
        sigma=o.sigma / o.mid0,
        sigma_confidence=1.0,
        kappa_confidence=1.0,
        warmed_up=True,
    )
    steps = round(o.horizon_s / o.dt_s)
    sq = o.sigma * math.sqrt(o.dt_s)
    calls = 0
    t0 = 0
    big = np.array([1e9])
    for s in range(steps):
        now = t0 + int(s * o.dt_s * NS_PER_S)
        for u in np.unique(q).tolist():
            sel = q == u
            rep = int(np.flatnonzero(sel)[0])
            m = float(mid[rep])
            half = 1e-6 * abs(m)
            market.set_book(np.array([m - half]), big, np.array([m + half]), big)
            est.kappa = o.k * m
            est.sigma = o.sigma / m if m > 0 else math.nan
            pf.position = u
            ladder = quoter.quote(view, est, now)
            calls += 1
            bid_d[sel] = m - ladder.bids[0].px if ladder.bids else math.nan
            ask_d[sel] = ladder.asks[0].px - m if ladder.asks else math.nan
        model_step(mid, q, cash, bid_d, ask_d, o.A, o.k, o.dt_s, sq, float(o.max_inventory), stats)
    profit = cash + q * mid
    opts = asdict(o)
    opts["seed"] = int(seed)
    return ModelReport(
        quoter=settings.components.quoter,
        options=opts,
        profit_mean=float(profit.mean()),
        profit_std=float(profit.std()),
        final_q_mean=float(q.mean()),
        final_q_std=float(q.std()),
        avg_spread=float(stats[2] / stats[3]) if stats[3] else math.nan,
        fills_per_path=float((stats[0] + stats[1]) / n),
        quoter_calls=calls,
    )
