"""What a backtest records while it runs: our fills and a sampled path of mid and equity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mmkit.core.events import OwnFill
from mmkit.engine import Engine
from mmkit.runtime.journal import Journal
from mmkit.runtime.observer import RunObserver


class BacktestObserver(RunObserver):
    """The run observer, also keeping every fill the engine applied (for markouts)."""

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self.fill_log: list[OwnFill] = []

    def on_fill(self, fill: OwnFill, now_ns: int) -> None:
        super().on_fill(fill, now_ns)
        self.fill_log.append(fill)


@dataclass
class PathRecorder:
    """Samples (time, mid, position, equity) at most once per ``every_ns``."""

    every_ns: int
    ts: list[int] = field(default_factory=list)
    mid: list[float] = field(default_factory=list)
    position: list[float] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
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

    def arrays(self) -> dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]:
        return {
            "ts": np.asarray(self.ts, dtype=np.int64),
            "mid": np.asarray(self.mid, dtype=np.float64),
            "position": np.asarray(self.position, dtype=np.float64),
            "equity": np.asarray(self.equity, dtype=np.float64),
        }
