"""Event builders shared by the estimator tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmkit.components import Estimates, Estimator
from mmkit.core.events import BookSnapshot, Event, OwnFill, Trade
from mmkit.core.types import Side

NS = 1_000_000_000
T0 = 1_700_000_000 * NS


def book(
    ts: int, mid: float = 100.0, decay: float = 1500.0, levels: int = 10, spread: float = 2e-4
) -> BookSnapshot:
    d = np.asarray((0.5 * spread + np.arange(levels) * 1e-4) * mid, dtype=np.float64)
    sz = np.asarray(5.0 * np.exp(-decay * d / mid), dtype=np.float64)
    return BookSnapshot(ts, mid - d, sz.copy(), mid + d, sz.copy())


def trade(ts: int, px: float, sz: float = 1.0, side: Side = Side.BUY) -> Trade:
    return Trade(ts, px, sz, side)


def fill(ts: int, px: float, sz: float = 1.0, side: Side = Side.BUY) -> OwnFill:
    return OwnFill(ts, 1, None, side, px, sz)


def run(est: Estimator, events: Sequence[Event], out: Estimates | None = None) -> Estimates:
    """Feed events (``now`` = event ts) and estimate after each; returns the estimates."""
    out = out if out is not None else Estimates()
    for ev in events:
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
    return out
