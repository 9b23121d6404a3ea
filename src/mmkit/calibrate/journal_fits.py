"""What a run journal adds to a calibration: own-fill kappa and the prediction log's scores.

* Own-fill kappa: passive fills' depths ``|px - mid| / mid`` (mid from the market data at
  the fill time when given, else the journal's 1 s position snapshots) go through the
  estimators' conjugate :class:`~mmkit.estimators.own_fill_kappa.OwnFillKappa` (no window);
  the 95% interval is the Gamma posterior's.
* Prediction log: for each model, Brier score (with decomposition) and IR of probability
  forecasts, or the QLIKE IR of variance forecasts (model ``sigma``), via
  :mod:`mmkit.prediction`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.calibrate.estimate import Estimate, nan_estimate
from mmkit.calibrate.intensity import K_UNIT
from mmkit.errors import DataError
from mmkit.estimators.own_fill_kappa import OwnFillKappa
from mmkit.prediction import brier_decomposition, probability_ir, sigma_ir
from mmkit.runtime.journal import open_readonly


@dataclass
class ModelScore:
    model: str
    n: int
    kind: str  # "probability" | "variance"
    scores: dict[str, float]
    predictions: list[float] = field(default_factory=list)
    outcomes: list[float] = field(default_factory=list)


@dataclass
class JournalFits:
    own_kappa: Estimate
    models: list[ModelScore]
    fills: int


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with open_readonly(path) as db:
        try:
            return list(db.execute(sql).fetchall())
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path}: not an mmkit journal ({exc})") from None


def own_fill_kappa(
    path: Path,
    prior_kappa: float,
    prior_strength: float = 10.0,
    mid_ts: npt.NDArray[np.int64] | None = None,
    mid: npt.NDArray[np.float64] | None = None,
) -> tuple[Estimate, int]:
    fills = _rows(
        path, "SELECT ts, px FROM fills WHERE crossed = 0 AND liquidation = 0 ORDER BY ts, id"
    )
    if mid_ts is None or mid is None or not mid_ts.size:
        snaps = _rows(
            path,
            "SELECT ts, mid FROM positions WHERE mid IS NOT NULL AND source = 'local' ORDER BY ts",
        )
        mid_ts = np.array([s[0] for s in snaps], dtype=np.int64)
        mid = np.array([s[1] for s in snaps], dtype=np.float64)
    if not fills:
        return nan_estimate("own_kappa", K_UNIT, "own fills", "no passive fills"), 0
    if not mid_ts.size:
        return nan_estimate("own_kappa", K_UNIT, "own fills", "no mid to measure depth"), 0
    prior = prior_kappa if math.isfinite(prior_kappa) and prior_kappa > 0 else 2000.0
    est = OwnFillKappa.from_prior_mean(prior, prior_strength, window_s=1e12, warmup_fills=1)
    used = 0
    for ts, px in fills:
        i = int(np.searchsorted(mid_ts, ts, side="right")) - 1
        if i < 0:
            continue
        m = float(mid[i])
        if math.isfinite(m) and m > 0 and est.on_fill(abs(float(px) - m) / m, int(ts)):
            used += 1
    a, b = est.posterior()
    from scipy.stats import gamma

    lo, hi = (float(x) for x in gamma.ppf([0.025, 0.975], a, scale=1.0 / b))
    return (
        Estimate(
            "own_kappa",
            a / b,
            lo,
            hi,
            K_UNIT,
            "Gamma-Exponential posterior",
            used,
            {"prior_kappa": prior, "prior_strength": prior_strength, "alpha": a, "beta": b},
        ),
        len(fills),
    )


def prediction_scores(path: Path) -> list[ModelScore]:
    rows = _rows(
        path,
        "SELECT p.model, p.prediction, o.outcome FROM predictions p JOIN outcomes o "
        "ON p.model = o.model AND p.key = o.key ORDER BY p.ts, p.id",
    )
    by: dict[str, tuple[list[float], list[float]]] = {}
    for model, pred, out in rows:
        ps, os_ = by.setdefault(str(model), ([], []))
        ps.append(float(pred))
        os_.append(float(out))
    scores = []
    for model, (ps, os_) in sorted(by.items()):
        binary = all(o in (0.0, 1.0) for o in os_) and all(0.0 <= p <= 1.0 for p in ps)
        if binary:
            d = brier_decomposition(ps, os_)
            s = {
                "brier": d.brier,
                "reliability": d.reliability,
                "resolution": d.resolution,
                "uncertainty": d.uncertainty,
                "skill": d.skill,
                "ir": probability_ir(ps, os_),
            }
            scores.append(ModelScore(model, len(ps), "probability", s, ps, os_))
        else:
            scores.append(
                ModelScore(model, len(ps), "variance", {"ir": sigma_ir(ps, os_)}, ps, os_)
            )
    return scores


def prediction_log_note(path: Path, models: list[ModelScore]) -> str:
    """Why the journal's prediction log gives no scores ("" when it gives some).

    Predictions are written only by components that take the run's prediction log
    (:class:`~mmkit.components.PredictionLogging`, e.g. the ``adverse_selection`` estimator:
    one prediction per passive own fill, its outcome ``markout_s`` later), so a run without
    such a component, or without fills, leaves the log empty."""
    if models:
        return ""
    (preds,) = _rows(path, "SELECT COUNT(*) FROM predictions")[0]
    (outs,) = _rows(path, "SELECT COUNT(*) FROM outcomes")[0]
    (fills,) = _rows(path, "SELECT COUNT(*) FROM fills")[0]
    if preds == 0:
        return (
            f"the prediction log is empty ({fills} fills in the run): predictions are written "
            "by estimators that take the run's prediction log, e.g. adverse_selection (add it "
            "to [components] estimators), one per passive own fill; the default estimators "
            "write none"
        )
    return (
        f"{preds} predictions but {outs} outcomes, none matching a prediction: outcomes are "
        "written a markout horizon after each fill (the run may have ended first)"
    )
