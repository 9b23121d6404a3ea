"""Broken estimators."""

from __future__ import annotations

import math
from typing import Any

from mmkit.components import NOT_MARKET_DATA, Estimates
from mmkit.core.events import BookSnapshot, Event, EventKind, OwnFill, Trade, TradeBatch
from mmkit.estimators.kappa_orchestrator import KappaOrchestrator


class NaiveKappa:
    """kappa = trades / sum of relative distances from the mid: no prior, no floor, no guard."""

    publishes = frozenset({"kappa"})

    def __init__(self) -> None:
        self.mid = math.nan
        self.n = 0
        self.dist = 0.0

    def on_event(self, event: Event, now_ns: int) -> None:
        if isinstance(event, BookSnapshot) and event.bid_px.size and event.ask_px.size:
            self.mid = 0.5 * (float(event.bid_px[0]) + float(event.ask_px[0]))
        elif isinstance(event, Trade):
            self.n += 1
            self.dist += abs(event.px - self.mid) / self.mid

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.kappa = self.n / self.dist if self.dist != 0.0 else 0.0  # BUG: 0, inf or NaN


class UncappedSigma:
    """Largest absolute mid return per sqrt second seen: declares a cap, never applies it."""

    publishes = frozenset({"sigma"})

    def __init__(self, default_sigma: float, max_sigma_mult: float) -> None:
        self.sigma = default_sigma
        self.max_sigma = default_sigma * max_sigma_mult  # declared, never applied
        self.last: tuple[int, float] | None = None

    def on_event(self, event: Event, now_ns: int) -> None:
        if not (isinstance(event, BookSnapshot) and event.bid_px.size and event.ask_px.size):
            return
        mid = 0.5 * (float(event.bid_px[0]) + float(event.ask_px[0]))
        if not (math.isfinite(mid) and mid > 0):
            return
        if self.last is not None:
            t0, m0 = self.last
            dt = max(now_ns - t0, 1_000_000) / 1e9
            self.sigma = max(self.sigma, abs(math.log(mid / m0)) / math.sqrt(dt))  # BUG: no cap
        self.last = (now_ns, mid)

    def sigma_cap(self) -> float:
        """The cap it claims (audit contract SigmaCapped)."""
        return self.max_sigma

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.sigma = self.sigma


class BatchDropsLastKappa(KappaOrchestrator):
    """The built-in kappa with a trade-batch fast path that loses each batch's last trade."""

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        if len(batch) > 1:  # BUG: off by one when slicing the batch
            cut = TradeBatch(
                batch.times[:-1],
                batch.px[:-1],
                batch.sz[:-1],
                batch.side[:-1],
                batch.recv[:-1],
                batch.stream,
            )
            super().on_trades(cut, now_ns)
        else:
            super().on_trades(batch, now_ns)


class DeafFillThrottle:
    """Shrinks quote sizes after each of our own fills (``size_scale`` = 1 / (1 + fills in
    the last minute)), but declares the ``ignores`` of a market-data estimator, which names
    OWN_FILL: the engine never delivers it a fill, and it never throttles."""

    publishes = frozenset({"size_scale"})
    ignores = NOT_MARKET_DATA  # BUG: copied from a market-data estimator; it needs fills

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_ns = int(window_s * 1e9)
        self.fills: list[int] = []

    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is EventKind.OWN_FILL and isinstance(event, OwnFill):
            self.fills.append(now_ns)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        recent = sum(1 for t in self.fills if 0 <= now_ns - t < self.window_ns)
        out.size_scale = 1.0 / (1.0 + recent)


def build_deaf_fill_throttle(ctx: Any) -> DeafFillThrottle:
    return DeafFillThrottle()


def build_batch_drops_last(ctx: Any) -> BatchDropsLastKappa:
    return BatchDropsLastKappa(ctx.params)


def build_kappa(ctx: Any) -> NaiveKappa:
    return NaiveKappa()


def build_sigma(ctx: Any) -> UncappedSigma:
    return UncappedSigma(ctx.params.default_sigma, ctx.params.max_sigma_mult)
