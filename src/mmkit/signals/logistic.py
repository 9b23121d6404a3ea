"""Online logistic regression: one SGD step on the L2-penalised log loss per outcome.

``p = 1 / (1 + exp(-w . x))``; update ``w -= lr * ((p - y) x + l2 * w)`` (the bias, feature
0, is not penalised). The step size decays as ``lr / sqrt(1 + n / 100)`` so the fit settles.
Weights are clipped to +-50 so a pathological stream cannot overflow them.
"""

from __future__ import annotations

import math

import numpy as np

_W_CLIP = 50.0


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class OnlineLogistic:
    def __init__(self, n_features: int, learning_rate: float, l2: float) -> None:
        self.w = np.zeros(n_features)
        self.lr = learning_rate
        self.l2 = l2
        self.n = 0

    def predict(self, x: np.ndarray) -> float:
        z = float(self.w @ x)
        return sigmoid(z) if math.isfinite(z) else 0.5

    def update(self, x: np.ndarray, y: float) -> None:
        p = self.predict(x)
        step = self.lr / math.sqrt(1.0 + self.n / 100.0)
        grad = (p - y) * x
        reg = self.l2 * self.w
        reg[0] = 0.0
        self.w -= step * (grad + reg)
        np.clip(self.w, -_W_CLIP, _W_CLIP, out=self.w)
        self.n += 1
