"""A seeded, allocation-free wrapper around the particle-filter kernel (:mod:`._kernels_pf`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mmkit.estimators._kernels_pf import (
    F_H,
    F_W,
    I_REG,
    OUT_ESS,
    OUT_LOGLIK,
    OUT_MEAN_VAR,
    OUT_P_TURBULENT,
    OUT_SIZE,
    P_DMU,
    P_MU,
    P_P01,
    P_P10,
    P_PHI,
    P_RESAMPLE,
    P_SIZE,
    P_VOL,
    new_state,
    pf_step,
)

_BLOCK = 256  # steps of random numbers drawn at once


@dataclass(frozen=True)
class SVModel:
    """Parameters of the regime-switching stochastic-volatility model (per interval)."""

    mu: float  # calm mean of the log variance of one interval's return
    phi: float  # AR(1) coefficient of the log variance
    vol_of_vol: float  # std of the log-variance innovation
    d_mu: float = 0.0  # turbulent regime's mean offset (0: no regimes)
    p01: float = 0.0  # P(calm -> turbulent)
    p10: float = 1.0  # P(turbulent -> calm)

    @property
    def stationary_sd(self) -> float:
        return self.vol_of_vol / math.sqrt(max(1e-12, 1.0 - self.phi * self.phi))

    def as_array(self, resample_frac: float) -> np.ndarray:
        a = np.zeros(P_SIZE)
        a[P_MU], a[P_DMU], a[P_PHI], a[P_VOL] = self.mu, self.d_mu, self.phi, self.vol_of_vol
        a[P_P01], a[P_P10], a[P_RESAMPLE] = self.p01, self.p10, resample_frac
        return a


class ParticleFilter:
    """Bootstrap particle filter over :class:`SVModel`, resampling when ESS < ``resample_frac``.

    ``step(r)`` costs one numba call; random numbers come from a per-instance
    ``numpy.random.Generator`` in blocks of ``_BLOCK`` steps.
    """

    def __init__(
        self, model: SVModel, n_particles: int = 100, resample_frac: float = 0.5, seed: int = 0
    ) -> None:
        self.model = model
        self.n = int(n_particles)
        self._rng = np.random.default_rng(seed)
        self._model = model.as_array(resample_frac)
        self._fs, self._is = new_state(
            model.mu + model.stationary_sd * self._rng.standard_normal(self.n)
        )
        self.out = np.zeros(OUT_SIZE)
        self.out[OUT_MEAN_VAR] = math.exp(model.mu + 0.5 * model.stationary_sd**2)
        self.out[OUT_ESS] = 1.0
        self.steps = 0
        self.loglik = 0.0
        self._normals = np.empty((0, (self.n + 1) // 2))
        self._uniforms = np.empty((0, self.n + 1))
        self._k = _BLOCK

    def step(self, r: float) -> None:
        """Assimilate one return (normalised to one interval); non-finite input is ignored."""
        if not math.isfinite(r):
            return
        k = self._k
        if k >= _BLOCK:
            self._normals = self._rng.standard_normal((_BLOCK, (self.n + 1) // 2))
            self._uniforms = self._rng.random((_BLOCK, self.n + 1))
            k = 0
        self._k = k + 1
        out = self.out
        pf_step(self._fs, self._is, self._normals, self._uniforms, k, r, self._model, out)
        self.steps += 1
        self.loglik += out[OUT_LOGLIK]

    @property
    def h(self) -> np.ndarray:
        """Particles' log variances (a view)."""
        v: np.ndarray = self._fs[F_H]
        return v

    @property
    def w(self) -> np.ndarray:
        v: np.ndarray = self._fs[F_W]
        return v

    @property
    def regimes(self) -> np.ndarray:
        v: np.ndarray = self._is[I_REG]
        return v

    @property
    def mean_variance(self) -> float:
        """Posterior mean of one interval's return variance."""
        return float(self.out[OUT_MEAN_VAR])

    @property
    def ess_fraction(self) -> float:
        return float(self.out[OUT_ESS])

    @property
    def p_turbulent(self) -> float:
        return float(self.out[OUT_P_TURBULENT])
