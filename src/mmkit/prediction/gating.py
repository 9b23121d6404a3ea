"""Model gating: a model's weight shrinks when its information ratio falls below a threshold.

``weight = 1`` while a model has fewer than ``min_samples`` resolved predictions (no
evidence either way) or ``IR >= threshold``; below, the weight falls linearly with the
shortfall, ``1 - (threshold - IR) / span``, down to ``min_weight`` (never 0 by default, so
a model can earn its weight back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmkit.prediction.information_ratio import probability_ir, sigma_ir
from mmkit.prediction.prediction_log import InMemoryPredictionLog


@dataclass(frozen=True)
class GatingConfig:
    threshold: float = 0.05
    span: float = 0.25
    min_weight: float = 0.1
    min_samples: int = 50

    def __post_init__(self) -> None:
        if not (self.span > 0 and 0 <= self.min_weight <= 1 and self.min_samples >= 2):
            raise ValueError("gating needs span > 0, 0 <= min_weight <= 1, min_samples >= 2")


class ModelGating:
    def __init__(self, config: GatingConfig | None = None) -> None:
        self.config = config or GatingConfig()
        self._ir: dict[str, tuple[float, int]] = {}

    def update(self, model: str, ir: float, n: int) -> float:
        """Record a model's IR over ``n`` samples; returns its new weight."""
        self._ir[model] = (ir, n)
        return self.weight(model)

    def weight(self, model: str) -> float:
        c = self.config
        ir, n = self._ir.get(model, (math.nan, 0))
        if n < c.min_samples or math.isnan(ir):
            return 1.0
        if ir >= c.threshold:
            return 1.0
        return max(c.min_weight, 1.0 - (c.threshold - ir) / c.span)

    def weights(self) -> dict[str, float]:
        return {m: self.weight(m) for m in sorted(self._ir)}

    def update_from_log(
        self, log: InMemoryPredictionLog, sigma_models: frozenset[str] = frozenset({"sigma"})
    ) -> dict[str, float]:
        """Recompute every model's IR from a prediction log; returns the weights."""
        for model in log.models():
            pred, out = log.pairs(model)
            if model in sigma_models:
                ir = sigma_ir(pred, out)
            else:
                ir = probability_ir(pred, out)
            self.update(model, ir, len(pred))
        return self.weights()
