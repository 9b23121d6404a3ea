"""Parameters of the simulated exchange (``[venues.sim]``). Standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkit.params import param

QueueModel = Literal["power", "log", "risk_averse", "front"]
LatencyModel = Literal["constant", "exponential", "lognormal"]


@dataclass(frozen=True)
class SimParams:
    maker_fee: float = param(
        0.00015,
        ge=-0.01,
        le=0.01,
        help="maker fee, fraction of notional (Hyperliquid base tier 0.015%); negative = rebate",
    )
    taker_fee: float = param(
        0.00045,
        ge=-0.01,
        le=0.01,
        help="taker fee as a fraction of notional (Hyperliquid base tier 0.045%)",
    )
    entry_latency_ms: float = param(
        50.0,
        ge=0,
        le=60_000,
        help="order entry latency, our send -> the exchange applies it",
    )
    response_latency_ms: float = param(
        50.0,
        ge=0,
        le=60_000,
        help="response latency, the exchange -> we see the ack, fill or order update",
    )
    feed_latency_ms: float = param(
        20.0,
        ge=0,
        le=60_000,
        help="market-data latency for data without local timestamps (the runner applies it)",
    )
    latency_model: LatencyModel = param(
        "constant",
        help="constant; exponential: base + Exp(mean = jitter * base); "
        "lognormal: base * exp(jitter * N(0,1))",
    )
    latency_jitter: float = param(0.0, ge=0, le=10, help="spread of the sampled latencies")
    queue_model: QueueModel = param(
        "power",
        help="L2 queue model: share of a cancel ahead of us = f(front)/(f(front)+f(back)); "
        "power f=x**n, log f=log(1+x); risk_averse: cancels never advance us; "
        "front: we stand first at our level (an optimistic bound: every trade at our price "
        "fills us)",
    )
    queue_power: float = param(2.0, gt=0, le=10, help="n of the power queue model")
    tick: float = param(0.0, ge=0, help="price grid of the simulated book; 0 = instrument tick")
    price_range: float = param(
        0.5,
        gt=0,
        lt=1,
        help="the book grid covers first price * (1 +- price_range), widened so that "
        "every market price * (1 +- price_range / 2) stays inside it",
    )
    max_orders: int = param(64, ge=1, le=4096, help="open-order cap of the simulated account")
    enforce_min_notional: bool = param(True, help="reject orders below the instrument minimum")
    enforce_lot: bool = param(True, help="reject sizes that are not a multiple of the lot")
    seed: int = param(-1, ge=-1, help="latency sampling seed; -1 = the engine's seed")
    first_oid: int = param(
        1, ge=1, le=2**53, help="order id the exchange gives its first order (then +1 each)"
    )
    apply_on_submit: bool = param(
        False,
        help="apply due actions inside submit() (with entry latency 0: at once, as the audit "
        "harness needs); false = at the next market event or drain",
    )
