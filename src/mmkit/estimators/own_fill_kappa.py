"""Own-fill kappa: Gamma-Exponential conjugate posterior over a rolling window of our fills.

Fill depths ``d_i`` (relative distance of the fill price from mid at fill time) are modelled
as ``Exp(kappa)``; with a ``Gamma(alpha0, beta0)`` prior on kappa (shape/rate), the posterior
after ``n`` fills is ``Gamma(alpha0 + n, beta0 + sum d_i)``. The shape counts observations,
never volume (seed report section 1). The prior is ``prior_strength`` pseudo-observations
at ``prior_kappa``: ``alpha0 = prior_strength``, ``beta0 = prior_strength / prior_kappa``.
"""

from __future__ import annotations

import math
from collections import deque

from mmkit.core.types import NS_PER_S


class OwnFillKappa:
    def __init__(
        self,
        prior_alpha: float,
        prior_beta: float,
        window_s: float,
        warmup_fills: int = 5,
        prior_strength: float | None = None,
    ) -> None:
        if not (prior_alpha > 0 and prior_beta > 0):
            raise ValueError("Gamma prior needs alpha > 0 and beta > 0")
        self.prior: tuple[float, float] = (float(prior_alpha), float(prior_beta))
        self.prior_strength = float(prior_alpha if prior_strength is None else prior_strength)
        self.window_ns = int(window_s * NS_PER_S)
        self.warmup_fills = warmup_fills
        self._obs: deque[tuple[int, float]] = deque()
        self._sum = 0.0
        self._now = -(2**62)
        #: set at the ``warmup_fills``-th observation and never cleared (graduation)
        self.has_exited_warmup = False
        self.total_observations = 0
        self.kappa = prior_alpha / prior_beta  #: posterior mean (kept current)
        self.confidence = 0.0  #: n / (n + prior_strength) (kept current)

    @classmethod
    def from_prior_mean(
        cls, prior_kappa: float, prior_strength: float, window_s: float, warmup_fills: int = 5
    ) -> OwnFillKappa:
        return cls(
            prior_strength, prior_strength / prior_kappa, window_s, warmup_fills, prior_strength
        )

    def on_fill(self, depth: float, now_ns: int) -> bool:
        """Add one fill depth; returns False (ignored) unless it is finite, >= 0 and keeps
        the posterior's rate finite (absurd depths summed could overflow it to infinity)."""
        if not (
            math.isfinite(depth)
            and depth >= 0.0
            and math.isfinite(self.prior[1] + self._sum + depth)
        ):
            return False
        self.expire(now_ns)
        self._obs.append((self._now, depth))
        self._sum += depth
        self.total_observations += 1
        if len(self._obs) >= self.warmup_fills:
            self.has_exited_warmup = True
        self._refresh()
        return True

    def expire(self, now_ns: int) -> bool:
        """Drop fills older than the window (time never goes backwards); True if any."""
        if now_ns > self._now:
            self._now = now_ns
        cutoff = self._now - self.window_ns
        obs = self._obs
        dropped = False
        while obs and obs[0][0] <= cutoff:
            self._sum -= obs.popleft()[1]
            dropped = True
        if dropped:
            self._sum = math.fsum(d for _t, d in obs) if obs else 0.0
            self._refresh()
        return dropped

    def _refresh(self) -> None:
        a, b = self.posterior()
        self.kappa = a / b
        n = len(self._obs)
        self.confidence = n / (n + self.prior_strength)

    @property
    def observation_count(self) -> int:
        return len(self._obs)

    def posterior(self) -> tuple[float, float]:
        """``(alpha, beta)`` of the Gamma posterior over the fills in the window."""
        a0, b0 = self.prior
        return a0 + len(self._obs), b0 + self._sum
