"""Pre-fill adverse-selection classifier (seed report section 6, "Adverse Selection
Calibration").

The loop is ``prediction -> outcome -> Brier score -> IR -> model gating -> spread``:

* **prediction** - at each passive own fill, the online logistic model
  (:mod:`.logistic`) predicts the probability that the fill is toxic from the side-signed
  microstructure features of :mod:`.features` (book and trade-flow imbalance, spread,
  short-horizon volatility, recent markouts, cascade flag, kappa stagnation). The prediction
  goes to the :class:`~mmkit.prediction.PredictionLog` (model ``"adverse"``, key = the fill);
* **outcome** - ``markout_s`` (5 s) later the mid is compared with the fill price; the fill
  was toxic when the mid moved against it by more than ``toxic_markout``. The outcome goes to
  the log and is the model's training label;
* **Brier score and IR** over the last ``window`` outcomes, against the running base rate;
* **model gating** (:class:`~mmkit.prediction.ModelGating`) turns the model's weight down
  when its IR falls; below ``min_active_weight`` the model is off: the published toxicity is
  the base rate and nothing is widened.

Published: ``toxicity`` (the larger of the two sides' predicted toxicity now, blended with
the base rate by the gating weight; always in [0, 1]), ``spread_scale`` (``widen`` mode:
grows linearly from 1 at ``threshold`` to ``max_widen`` at 1) or ``size_scale = 0``
(``skip`` mode: no quotes while above the threshold), and ``extras["adverse.*"]``.
Run it after ``kappa`` and ``sigma`` (it reads their cascade and stagnation flags).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mmkit.components import DECLARABLE_KINDS, Estimates
from mmkit.core.events import Event, EventKind, OwnFill
from mmkit.core.types import Side
from mmkit.faults import Rejections
from mmkit.prediction.brier import brier_score
from mmkit.prediction.gating import GatingConfig, ModelGating
from mmkit.prediction.information_ratio import probability_ir
from mmkit.prediction.prediction_log import InMemoryPredictionLog, PredictionLog
from mmkit.registry import BuildContext
from mmkit.signals.features import FEATURE_NAMES, N_FEATURES, MicrostructureState
from mmkit.signals.logistic import OnlineLogistic
from mmkit.signals.params import AdverseSelectionParams

if TYPE_CHECKING:
    from mmkit.signals.adverse_selection_twin import AdverseSelectionTwin

_STATS_EVERY = 25  # outcomes between two Brier / IR recomputations


@dataclass(slots=True)
class _Pending:
    due_ns: int
    key: str
    side: Side
    px: float
    prediction: float
    x: np.ndarray


class AdverseSelectionEstimator:
    #: what it writes (audit contract :class:`mmkit.components.DeclaresPublishes`):
    #: ``spread_scale`` in widen mode, ``size_scale`` in skip mode
    publishes = frozenset({"toxicity", "spread_scale", "size_scale", "adverse.*"})
    #: its own fills and the top of book and trades its features follow; nothing else is
    #: delivered to it (:class:`mmkit.components.DeclaresIgnores`)
    ignores = DECLARABLE_KINDS - {
        EventKind.OWN_FILL,
        EventKind.BBO,
        EventKind.BOOK_SNAPSHOT,
        EventKind.TRADE,
    }

    def __init__(self, params: AdverseSelectionParams, log: PredictionLog | None = None) -> None:
        self.params = p = params
        self.prediction_log: PredictionLog = log if log is not None else InMemoryPredictionLog()
        self.features = MicrostructureState(
            p.flow_half_life_s, p.vol_half_life_s, p.markout_half_life
        )
        self.model = OnlineLogistic(N_FEATURES, p.learning_rate, p.l2)
        self.gating = ModelGating(
            GatingConfig(
                threshold=p.gating_threshold,
                span=p.gating_span,
                min_weight=0.0,
                min_samples=p.gating_min_samples,
            )
        )
        self._horizon = round(p.markout_s * 1e9)
        self._pending: deque[_Pending] = deque()
        self._preds: deque[float] = deque(maxlen=p.window)
        self._outs: deque[float] = deque(maxlen=p.window)
        self.outcomes = 0
        self.toxic = 0
        self.brier = math.nan
        self.brier_base = math.nan
        self.ir = math.nan
        self.weight = 1.0
        self._since_stats = 0
        self._skipping = False
        #: bad input skipped, with why (the engine reports it; see :mod:`mmkit.faults`)
        self.rejections = Rejections()

    def attach_prediction_log(self, log: PredictionLog) -> None:
        """Send predictions and outcomes to ``log`` (e.g. the trade runner's journal)."""
        self.prediction_log = log

    @property
    def active(self) -> bool:
        return self.weight >= self.params.min_active_weight

    @property
    def base_rate(self) -> float:
        return (self.toxic + 1.0) / (self.outcomes + 2.0)  # Laplace: 0.5 before any outcome

    # -- input ----------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind is EventKind.OWN_FILL:
            assert isinstance(event, OwnFill)
            self._on_fill(event, now_ns)
            return
        if self.features.on_event(event, now_ns):
            self._resolve(now_ns)

    def _on_fill(self, f: OwnFill, now_ns: int) -> None:
        if f.crossed or f.liquidation:
            return  # not a passive fill at a quoted level
        if not (0.0 < f.px < math.inf and 0.0 < f.sz < math.inf) or f.side not in Side:
            self.rejections.reject(
                "OWN_FILL",
                "price or size not a finite positive number, or no side",
                (f.px, f.sz, f.side),
                now_ns,
            )
            return
        x = self.features.vector(f.side)
        pred = self.model.predict(x)
        key = f"{f.ts}:{f.oid}:{f.tid}"
        meta: dict[str, float | str] = {n: float(v) for n, v in zip(FEATURE_NAMES, x, strict=True)}
        meta["side"] = f.side.name
        self.prediction_log.record_prediction(now_ns, self.params.model, key, pred, meta)
        self._pending.append(_Pending(now_ns + self._horizon, key, f.side, f.px, pred, x))

    def _resolve(self, now_ns: int) -> None:
        mid = self.features.mid
        q = self._pending
        while q and q[0].due_ns <= now_ns:
            item = q.popleft()
            sign = 1.0 if item.side is Side.BUY else -1.0
            markout = sign * (mid - item.px) / item.px
            if not math.isfinite(markout):
                continue
            y = 1.0 if markout < -self.params.toxic_markout else 0.0
            self.features.on_markout(-markout * 1e4)
            self.model.update(item.x, y)
            self.prediction_log.record_outcome(now_ns, self.params.model, item.key, y)
            self._preds.append(item.prediction)
            self._outs.append(y)
            self.outcomes += 1
            self.toxic += int(y)
            self._since_stats += 1
        if self._since_stats >= _STATS_EVERY:
            self.update_stats()

    def update_stats(self) -> None:
        """Recompute Brier score, base-rate Brier score, IR and the gating weight."""
        self._since_stats = 0
        n = len(self._outs)
        if n < 2:
            return
        pred = list(self._preds)
        out = list(self._outs)
        self.brier = brier_score(pred, out)
        csum = np.concatenate(([0.0], np.cumsum(out)[:-1]))
        base = (csum + 1.0) / (np.arange(n) + 2.0)  # running base rate, no look-ahead
        self.brier_base = brier_score(base.tolist(), out)
        self.ir = probability_ir(pred, out)
        self.weight = self.gating.update(self.params.model, self.ir, n)

    # -- output ---------------------------------------------------------------------------
    def predict(self, side: Side) -> float:
        """Predicted toxicity of a fill on ``side`` now, after gating (in [0, 1])."""
        raw = self.model.predict(self.features.vector(side))
        w = self.weight if self.active else 0.0
        p = w * raw + (1.0 - w) * self.base_rate
        return min(1.0, max(0.0, p)) if math.isfinite(p) else self.base_rate

    def toxicities(self) -> tuple[float, float]:
        """:meth:`predict` of a fill on the bid and on the ask, now."""
        return self.predict(Side.BUY), self.predict(Side.SELL)

    def twin(self) -> AdverseSelectionTwin:
        """The compiled twin (:mod:`mmkit.signals.adverse_selection_twin`): same parameters,
        fresh state."""
        from mmkit.signals.adverse_selection_twin import AdverseSelectionTwin

        return AdverseSelectionTwin(self.params)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        p = self.params
        self.features.cascade = 1.0 if out.cascade else 0.0
        stag = out.extras.get("kappa.stagnation_alert", 0.0)
        self.features.stagnation = 1.0 if stag == stag and stag > 0 else 0.0
        tb, ta = self.toxicities()
        tox = max(tb, ta)
        out.toxicity = tox
        excess = (tox - p.threshold) / (1.0 - p.threshold) if self.active else -1.0
        if p.mode == "widen":
            out.spread_scale = 1.0 + (p.max_widen - 1.0) * excess if excess > 0 else 1.0
        else:
            skip = excess > 0
            if skip:
                out.size_scale = 0.0
            elif self._skipping and out.size_scale == 0.0:
                out.size_scale = 1.0
            self._skipping = skip
        ex = out.extras
        ex["adverse.toxicity_bid"] = tb
        ex["adverse.toxicity_ask"] = ta
        ex["adverse.base_rate"] = self.base_rate
        ex["adverse.weight"] = self.weight
        ex["adverse.active"] = 1.0 if self.active else 0.0
        ex["adverse.outcomes"] = float(self.outcomes)
        ex["adverse.pending"] = float(len(self._pending))
        for name, v in (("brier", self.brier), ("brier_base", self.brier_base), ("ir", self.ir)):
            if math.isfinite(v):
                ex[f"adverse.{name}"] = v
            else:
                ex.pop(f"adverse.{name}", None)


def build(ctx: BuildContext[AdverseSelectionParams]) -> AdverseSelectionEstimator:
    return AdverseSelectionEstimator(ctx.params)
