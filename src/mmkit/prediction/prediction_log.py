"""Prediction log: predictions now, outcomes later, paired by ``(model, key)``.

Models in the loop: fill probability (``key`` = an order id, outcome 1 if filled within the
horizon), adverse selection (``key`` = a fill id, outcome 1 if the markout was toxic) and
sigma (``key`` = a sample time, prediction = forecast variance, outcome = realised squared
return). The trade journal of a later issue implements the same :class:`PredictionLog`
protocol so that live and backtest runs feed the same calibration code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class PredictionLog(Protocol):
    def record_prediction(
        self,
        ts: int,
        model: str,
        key: str,
        prediction: float,
        meta: Mapping[str, float | str] | None = None,
    ) -> None:
        """Record a model's prediction for ``key`` at time ``ts`` (ns)."""

    def record_outcome(self, ts: int, model: str, key: str, outcome: float) -> None:
        """Record the realised outcome for a prediction made earlier."""


@dataclass
class PredictionRecord:
    ts: int
    model: str
    key: str
    prediction: float
    meta: dict[str, float | str] = field(default_factory=dict)
    outcome: float = math.nan
    outcome_ts: int = -1

    @property
    def resolved(self) -> bool:
        return self.outcome_ts >= 0


class InMemoryPredictionLog:
    """A :class:`PredictionLog` kept in memory (tests, backtests, ``mmkit calibrate``).

    Non-finite predictions or outcomes are rejected with ``ValueError`` naming the model
    and key; an outcome for an unknown key is counted in :attr:`orphan_outcomes`.
    """

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], PredictionRecord] = {}
        self._order: list[tuple[str, str]] = []
        self.orphan_outcomes = 0

    def record_prediction(
        self,
        ts: int,
        model: str,
        key: str,
        prediction: float,
        meta: Mapping[str, float | str] | None = None,
    ) -> None:
        if not math.isfinite(prediction):
            raise ValueError(f"prediction of model {model!r} for {key!r} is {prediction!r}")
        k = (model, key)
        if k not in self._records:
            self._order.append(k)
        self._records[k] = PredictionRecord(ts, model, key, float(prediction), dict(meta or {}))

    def record_outcome(self, ts: int, model: str, key: str, outcome: float) -> None:
        if not math.isfinite(outcome):
            raise ValueError(f"outcome of model {model!r} for {key!r} is {outcome!r}")
        rec = self._records.get((model, key))
        if rec is None:
            self.orphan_outcomes += 1
            return
        rec.outcome = float(outcome)
        rec.outcome_ts = ts

    def records(
        self, model: str | None = None, resolved_only: bool = True
    ) -> Iterator[PredictionRecord]:
        """Records in prediction order (optionally of one model, only those resolved)."""
        for k in self._order:
            rec = self._records[k]
            if model is not None and rec.model != model:
                continue
            if resolved_only and not rec.resolved:
                continue
            yield rec

    def pairs(self, model: str) -> tuple[list[float], list[float]]:
        """``(predictions, outcomes)`` of a model's resolved records."""
        recs = list(self.records(model))
        return [r.prediction for r in recs], [r.outcome for r in recs]

    def models(self) -> list[str]:
        return sorted({m for m, _k in self._order})

    def __len__(self) -> int:
        return len(self._order)
