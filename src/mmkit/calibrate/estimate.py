"""A calibrated value with its confidence interval, units and fit quality (report rows)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

Z95 = 1.959963984540054


@dataclass
class Estimate:
    """``value`` with a 95% interval ``[lo, hi]``; ``quality`` holds goodness-of-fit figures."""

    name: str
    value: float
    lo: float
    hi: float
    unit: str
    method: str
    n: int = 0
    quality: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def finite(self) -> bool:
        return all(math.isfinite(x) for x in (self.value, self.lo, self.hi))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("value", "lo", "hi"):
            d[k] = _num(d[k])
        d["quality"] = {k: _num(v) for k, v in self.quality.items()}
        return d


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def nan_estimate(name: str, unit: str, method: str, note: str) -> Estimate:
    return Estimate(name, math.nan, math.nan, math.nan, unit, method, 0, {}, note)
