"""Multi-scale bipower variation: a jump-robust variance estimate from sampled returns.

Bipower variation ``(pi/2) * sum |r_i| |r_(i-1)|`` estimates integrated variance while a
single jump (one large ``|r_i|``) enters only multiplied by its small neighbours. The online
version keeps an EWMA of ``(pi/2) |r_i| |r_(i-1)|`` per half-life and averages the scales.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

HALF_PI = math.pi / 2.0


def bipower_variation(returns: Sequence[float]) -> float:
    """``(pi/2) * sum_{i>=1} |r_i| |r_(i-1)|`` over a finite sequence of returns."""
    total = 0.0
    for a, b in zip(returns[1:], returns[:-1], strict=False):
        total += abs(a) * abs(b)
    return HALF_PI * total


class MultiScaleBipower:
    """EWMAs of per-interval bipower variance at several half-lives (in intervals)."""

    def __init__(self, half_lives: Iterable[float], initial_var: float) -> None:
        hls = [float(h) for h in half_lives if math.isfinite(h) and h > 0]
        if not hls:
            hls = [1.0]
        self._alphas = [1.0 - 0.5 ** (1.0 / h) for h in hls]
        self._vars = [float(initial_var)] * len(hls)
        self._prev_abs = math.nan
        self.count = 0

    def update(self, r: float) -> None:
        if not math.isfinite(r):
            return
        a = abs(r)
        if math.isfinite(self._prev_abs):
            x = HALF_PI * a * self._prev_abs
            self._vars = [v + al * (x - v) for v, al in zip(self._vars, self._alphas, strict=True)]
            self.count += 1
        self._prev_abs = a

    def reset_pair(self) -> None:
        """Forget the previous return (after a gap), keeping the variance estimates."""
        self._prev_abs = math.nan

    @property
    def variance(self) -> float:
        """Average of the scales' per-interval variances."""
        return sum(self._vars) / len(self._vars)

    @property
    def scales(self) -> list[float]:
        return list(self._vars)
