"""What a backtest records while it runs, beside what the run observer keeps (fills and gate
transitions: :class:`~mmkit.runtime.observer.RunObserver`): a sampled path of mid, position,
equity and the best bid / ask we had resting at the venue."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.core.resting import best_resting
from mmkit.engine import Engine


def resting_best(venue: Any) -> tuple[float, float]:
    """Our best bid and ask resting at the venue (``venue.open_orders()``: the orders the
    venue reported open, with size left), NaN for a side with none or a venue that cannot
    tell."""
    fast = getattr(venue, "resting_best", None)  # the sim venue's, without order objects
    if fast is not None:
        b, a = fast()
        return float(b), float(a)
    opens = getattr(venue, "open_orders", None)
    if opens is None:
        return math.nan, math.nan
    return best_resting(opens())


@dataclass
class PathRecorder:
    """Samples (time, mid, position, equity, resting bid, resting ask) at most once per
    ``every_ns``. ``bid`` / ``ask`` are our best prices resting at ``venue`` (NaN: nothing
    rests on that side, or no venue was attached)."""

    every_ns: int
    ts: list[int] = field(default_factory=list)
    mid: list[float] = field(default_factory=list)
    position: list[float] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    bid: list[float] = field(default_factory=list)
    ask: list[float] = field(default_factory=list)
    venue: Any = None
    _next: int = -(2**62)

    def sample(self, engine: Engine, now_ns: int, mid: float | None = None) -> None:
        if now_ns < self._next:
            return
        self._next = now_ns + self.every_ns
        m = engine.market.mid if mid is None else mid
        if not math.isfinite(m):
            return
        pf = engine.portfolio
        self.ts.append(now_ns)
        self.mid.append(m)
        self.position.append(pf.position)
        self.equity.append(pf.equity(m))
        b, a = resting_best(self.venue)
        self.bid.append(b)
        self.ask.append(a)

    def arrays(self) -> dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]:
        return {
            "ts": np.asarray(self.ts, dtype=np.int64),
            "mid": np.asarray(self.mid, dtype=np.float64),
            "position": np.asarray(self.position, dtype=np.float64),
            "equity": np.asarray(self.equity, dtype=np.float64),
            "bid": np.asarray(self.bid, dtype=np.float64),
            "ask": np.asarray(self.ask, dtype=np.float64),
        }
