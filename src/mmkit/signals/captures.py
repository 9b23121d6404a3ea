"""Lead-lag on two recorded captures (e.g. Binance USD-M futures vs spot, same span).

Mids come from the captures' BBO events (``bookTicker``), timed by their local receive time
(the clock a live system would use; Binance spot tickers carry no exchange time). Both are
sampled on a common grid over the overlap of the two captures, and :func:`analyse` runs on the
aligned returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmkit.core.events import BBO, EventKind
from mmkit.data.adapter import events_from_chunks
from mmkit.data.diagnostics import Diagnostics
from mmkit.data.loaders.binance import BinanceLoader
from mmkit.errors import DataError
from mmkit.signals.lead_lag import LeadLagResult, analyse, grid_returns


def capture_mids(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(local_ts_ns, mid)`` of every BBO of a Binance capture, sorted by time."""
    loader = BinanceLoader([Path(path)], diag=Diagnostics())
    ts: list[int] = []
    mids: list[float] = []
    for ev in events_from_chunks(loader.chunks()):
        if ev.kind is EventKind.BBO:
            assert isinstance(ev, BBO)
            if 0.0 < ev.bid_px < ev.ask_px:
                ts.append(ev.local_ts if ev.local_ts >= 0 else ev.ts)
                mids.append(0.5 * (ev.bid_px + ev.ask_px))
    if len(ts) < 2:
        raise DataError(f"{path}: fewer than two usable bookTicker quotes")
    t = np.asarray(ts, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    return t[order], np.asarray(mids, dtype=np.float64)[order]


@dataclass(frozen=True)
class CaptureLeadLag:
    result: LeadLagResult
    interval_s: float
    start_ns: int
    stop_ns: int
    leader_quotes: int
    follower_quotes: int

    @property
    def span_s(self) -> float:
        return (self.stop_ns - self.start_ns) / 1e9

    def describe(self) -> str:
        r = self.result
        return (
            f"lag {r.lag} samples = {r.lag_s(self.interval_s) * 1000:.0f} ms "
            f"(corr {r.corr:.3f}), MI {r.mi:.4f} nats, p = {r.p_value:.4f} "
            f"({'significant' if r.significant else 'not significant'}), "
            f"{r.n} returns over {self.span_s:.0f} s "
            f"({self.leader_quotes} leader / {self.follower_quotes} follower quotes)"
        )


def capture_lead_lag(
    leader: str | Path,
    follower: str | Path,
    *,
    interval_s: float = 0.1,
    min_lag: int = 1,
    max_lag: int = 20,
    max_samples: int = 20_000,
    n_permutations: int = 200,
    alpha: float = 0.01,
    seed: int = 0,
    circular: bool = True,
) -> CaptureLeadLag:
    lt, lm = capture_mids(leader)
    ft, fm = capture_mids(follower)
    start = max(int(lt[0]), int(ft[0])) + 1
    stop = min(int(lt[-1]), int(ft[-1]))
    dt = round(interval_s * 1e9)
    stop = min(stop, start + (max_samples + 1) * dt)
    if stop - start < (max_lag + 20) * dt:
        raise DataError(f"{leader} and {follower} overlap for too short a time")
    x = grid_returns(lt, lm, start, stop, dt)
    y = grid_returns(ft, fm, start, stop, dt)
    res = analyse(
        x,
        y,
        min_lag=min_lag,
        max_lag=max_lag,
        n_permutations=n_permutations,
        alpha=alpha,
        seed=seed,
        circular=circular,
    )
    return CaptureLeadLag(res, interval_s, start, stop, int(lt.size), int(ft.size))
