"""Brier score and its Murphy decomposition (reliability - resolution + uncertainty).

With predictions binned into ``bins`` equal-width bins over [0, 1], bin ``k`` holding
``n_k`` predictions with mean forecast ``f_k`` and observed frequency ``o_k``, and base rate
``o``::

    reliability = sum n_k (f_k - o_k)^2 / N
    resolution  = sum n_k (o_k - o)^2 / N
    uncertainty = o (1 - o)

``brier = reliability - resolution + uncertainty`` holds exactly when the predictions within
each bin are equal (the decomposition's usual discretisation caveat); :attr:`residual`
reports the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _arrays(pred: Sequence[float], outcome: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    o = np.asarray(outcome, dtype=np.float64)
    if p.shape != o.shape or p.ndim != 1:
        raise ValueError(f"predictions ({p.shape}) and outcomes ({o.shape}) must be equal 1-d")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(o))):
        raise ValueError("predictions and outcomes must be finite")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("probability predictions must lie in [0, 1]")
    if np.any((o != 0) & (o != 1)):
        raise ValueError("binary outcomes must be 0 or 1")
    return p, o


def brier_score(pred: Sequence[float], outcome: Sequence[float]) -> float:
    """Mean squared error of probability forecasts against 0/1 outcomes (NaN if empty)."""
    p, o = _arrays(pred, outcome)
    if p.size == 0:
        return float("nan")
    return float(np.mean((p - o) ** 2))


@dataclass(frozen=True)
class BrierDecomposition:
    brier: float
    reliability: float
    resolution: float
    uncertainty: float
    n: int

    @property
    def residual(self) -> float:
        """``brier - (reliability - resolution + uncertainty)`` (within-bin variance)."""
        return self.brier - (self.reliability - self.resolution + self.uncertainty)

    @property
    def skill(self) -> float:
        """Brier skill score against the base rate: ``1 - brier / uncertainty``."""
        return 1.0 - self.brier / self.uncertainty if self.uncertainty > 0 else 0.0


def brier_decomposition(
    pred: Sequence[float], outcome: Sequence[float], bins: int = 10
) -> BrierDecomposition:
    p, o = _arrays(pred, outcome)
    n = int(p.size)
    if n == 0:
        nan = float("nan")
        return BrierDecomposition(nan, nan, nan, nan, 0)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    f_sum = np.bincount(idx, weights=p, minlength=bins)
    o_sum = np.bincount(idx, weights=o, minlength=bins)
    used = counts > 0
    f_k = f_sum[used] / counts[used]
    o_k = o_sum[used] / counts[used]
    base = float(o.mean())
    rel = float(np.sum(counts[used] * (f_k - o_k) ** 2) / n)
    res = float(np.sum(counts[used] * (o_k - base) ** 2) / n)
    unc = base * (1.0 - base)
    return BrierDecomposition(float(np.mean((p - o) ** 2)), rel, res, unc, n)
