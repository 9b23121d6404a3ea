"""Book-structure kappa: decay of L2 level size with distance from mid (R² confidence)."""

from __future__ import annotations

import math
from typing import Any

from mmkit.core.types import NS_PER_S
from mmkit.estimators._kernels_kappa import book_depth_regression


class BookKappa:
    """Regresses ``log(size)`` on relative distance from mid; ``kappa = -slope``.

    A fit with a non-positive or non-finite slope (a book that thickens away from mid)
    carries no information: its confidence is 0 and the previous kappa is kept.
    """

    def __init__(self, max_depth: float, min_levels: int, fit_interval_s: float) -> None:
        self.max_depth = max_depth
        self.min_levels = min_levels
        self.fit_interval_ns = int(fit_interval_s * NS_PER_S)
        self.kappa = math.nan
        self.confidence = 0.0
        self.fits = 0
        self._last_fit_ns = -(2**62)

    def on_book(self, ev: Any, mid: float, now_ns: int) -> bool:
        """Refit from a snapshot; returns True when kappa or its confidence changed."""
        if now_ns - self._last_fit_ns < self.fit_interval_ns and now_ns >= self._last_fit_ns:
            return False
        self._last_fit_ns = now_ns
        kappa, r2 = book_depth_regression(
            ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz, mid, self.max_depth, self.min_levels
        )
        if math.isfinite(kappa) and kappa > 0.0 and math.isfinite(r2):
            self.kappa = kappa
            self.confidence = r2
            self.fits += 1
            return True
        if self.confidence != 0.0:
            self.confidence = 0.0
            return True
        return False
