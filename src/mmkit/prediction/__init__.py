"""Calibration feedback loop (seed report section 6, recommendation 8).

``Prediction -> Outcome -> Brier score -> information ratio -> model gating``:

* :mod:`.prediction_log` - the :class:`PredictionLog` protocol (the trade journal implements
  it too) and an in-memory implementation;
* :mod:`.brier` - Brier score and its Murphy decomposition;
* :mod:`.information_ratio` - information ratio of a model against a baseline, including the
  sigma IR (forecast variance vs realised squared returns);
* :mod:`.gating` - model weights reduced when a model's IR falls below a threshold.

Pure Python / numpy and deterministic.
"""

from mmkit.prediction.brier import BrierDecomposition, brier_decomposition, brier_score
from mmkit.prediction.gating import GatingConfig, ModelGating
from mmkit.prediction.information_ratio import (
    information_ratio,
    probability_ir,
    sigma_ir,
)
from mmkit.prediction.prediction_log import (
    InMemoryPredictionLog,
    PredictionLog,
    PredictionRecord,
)

__all__ = [
    "BrierDecomposition",
    "GatingConfig",
    "InMemoryPredictionLog",
    "ModelGating",
    "PredictionLog",
    "PredictionRecord",
    "brier_decomposition",
    "brier_score",
    "information_ratio",
    "probability_ir",
    "sigma_ir",
]
