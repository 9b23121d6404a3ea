"""The sweep file: which config keys to vary and how, and how to rank the runs.

```toml
[sweep]
mode = "grid"            # "grid": every combination; "random": `samples` random draws
samples = 20             # random mode
seed = 0                 # random mode's draws
metric = "equity"        # report field to rank by (highest first); "-max_drawdown" = lowest
cadence = "timer"        # backtest cadence of every run: "event" or "timer"
requote_ms = 100         # optional
duration_s = 3600        # optional
max_halted_frac = 0.5    # runs halted longer (of post-warmup time) are not ranked
min_quoting_frac = 0.0   # runs quoting less (of post-warmup time) are not ranked
tie_tolerance = 1e-9     # |a - b| <= tol * max(1, |a|, |b|): a tie (same rank)

[grid]                   # dotted config keys -> list of values
"quoters.glft.gamma" = [10.0, 50.0, 100.0]
"quoters.glft.levels" = [1, 3]

[random]                 # random mode: {low, high[, log]} ranges or lists of choices
"quoters.glft.gamma" = { low = 1.0, high = 200.0, log = true }
"quoters.glft.levels" = [1, 2, 3]
```
"""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkit.backtest.cadence import check_cadence, check_duration_s, check_requote_ms
from mmkit.errors import ConfigError
from mmkit.sweep.outcome import DEFAULT_MAX_HALTED_FRAC, DEFAULT_MIN_QUOTING_FRAC, Policy

REPORT_METRICS = (
    "equity",
    "realized",
    "unrealized",
    "fees",
    "fills",
    "fill_ratio",
    "volume_usd",
    "sharpe_daily",
    "max_drawdown",
    "max_abs_position",
    "rejections",
)


@dataclass
class SweepSpec:
    mode: str = "grid"
    samples: int = 20
    seed: int = 0
    metric: str = "equity"
    cadence: str = "timer"
    requote_ms: float | None = None
    duration_s: float | None = None
    #: runs halted for more than this fraction of their post-warmup time are not ranked
    max_halted_frac: float = DEFAULT_MAX_HALTED_FRAC
    #: runs quoting (both sides resting) for less than this fraction are not ranked
    min_quoting_frac: float = DEFAULT_MIN_QUOTING_FRAC
    #: two objective values a, b tie when |a - b| <= tie_tolerance * max(1, |a|, |b|)
    #: (absolute below 1 in the metric's units, relative above)
    tie_tolerance: float = 1e-9
    grid: dict[str, list[Any]] = field(default_factory=dict)
    random: dict[str, Any] = field(default_factory=dict)

    @property
    def metric_key(self) -> str:
        return self.metric.lstrip("-")

    @property
    def descending(self) -> bool:
        return not self.metric.startswith("-")

    @property
    def policy(self) -> Policy:
        """Which runs may be ranked (see :mod:`mmkit.sweep.outcome`)."""
        return Policy(self.max_halted_frac, self.min_quoting_frac)

    def combinations(self) -> list[dict[str, Any]]:
        if self.mode == "grid":
            keys = list(self.grid)
            return [
                dict(zip(keys, vals, strict=True))
                for vals in itertools.product(*(self.grid[k] for k in keys))
            ]
        rng = random.Random(self.seed)
        out = []
        for _ in range(self.samples):
            combo: dict[str, Any] = {}
            for k, spec in self.random.items():
                if isinstance(spec, list):
                    combo[k] = rng.choice(spec)
                elif spec.get("log"):
                    combo[k] = math.exp(rng.uniform(math.log(spec["low"]), math.log(spec["high"])))
                else:
                    combo[k] = rng.uniform(spec["low"], spec["high"])
                if isinstance(spec, dict) and spec.get("integer"):
                    combo[k] = round(combo[k])
            out.append(combo)
        return out


def _problem(where: str, msg: str) -> ConfigError:
    return ConfigError([f"{where}: {msg}"])


def parse_sweep(data: dict[str, Any], where: str) -> SweepSpec:
    unknown = set(data) - {"sweep", "grid", "random"}
    if unknown:
        raise _problem(
            where, f"unknown section(s) {sorted(unknown)}; use [sweep], [grid], [random]"
        )
    head = data.get("sweep", {})
    known = {
        "mode",
        "samples",
        "seed",
        "metric",
        "cadence",
        "requote_ms",
        "duration_s",
        "max_halted_frac",
        "min_quoting_frac",
        "tie_tolerance",
    }
    bad = set(head) - known
    if bad:
        raise _problem(where, f"[sweep] unknown key(s) {sorted(bad)}; known: {sorted(known)}")
    spec = SweepSpec(**head)
    spec.grid = dict(data.get("grid", {}))
    spec.random = dict(data.get("random", {}))
    if spec.mode not in ("grid", "random"):
        raise _problem(where, f"[sweep] mode {spec.mode!r}: choose grid or random")
    try:
        check_cadence(spec.cadence, "[sweep] cadence")
        # a bad period or length would hang or empty every run: refused before any starts
        spec.requote_ms = check_requote_ms(spec.requote_ms, "[sweep] requote_ms")
        if spec.duration_s is not None:
            spec.duration_s = check_duration_s(spec.duration_s, "[sweep] duration_s")
    except ConfigError as exc:  # the same message as mmkit backtest's, prefixed by the file
        raise _problem(where, exc.problems[0]) from None
    if spec.metric_key not in REPORT_METRICS:
        raise _problem(where, f"[sweep] metric {spec.metric!r}: one of {', '.join(REPORT_METRICS)}")
    for name in ("max_halted_frac", "min_quoting_frac"):
        v = getattr(spec, name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
            raise _problem(where, f"[sweep] {name} {v!r}: a fraction in [0, 1]")
        setattr(spec, name, float(v))
    tol = spec.tie_tolerance
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0.0 <= tol < math.inf:
        raise _problem(where, f"[sweep] tie_tolerance {tol!r}: a number >= 0")
    spec.tie_tolerance = float(tol)
    if not (isinstance(spec.samples, int) and spec.samples >= 1):
        raise _problem(where, f"[sweep] samples {spec.samples!r} must be an integer >= 1")
    if spec.mode == "grid":
        if not spec.grid:
            raise _problem(where, "[grid] is empty: list values for at least one config key")
        for k, v in spec.grid.items():
            if not isinstance(v, list) or not v:
                raise _problem(where, f"[grid] {k}: expected a non-empty list of values")
    else:
        if not spec.random:
            raise _problem(where, "[random] is empty: give ranges or choices")
        for k, v in spec.random.items():
            if isinstance(v, list):
                if not v:
                    raise _problem(where, f"[random] {k}: empty list of choices")
                continue
            if not isinstance(v, dict) or "low" not in v or "high" not in v:
                raise _problem(where, f"[random] {k}: expected {{low, high[, log]}} or a list")
            lo, hi = v["low"], v["high"]
            if not (isinstance(lo, int | float) and isinstance(hi, int | float) and lo <= hi):
                raise _problem(where, f"[random] {k}: need numbers low <= high")
            if v.get("log") and lo <= 0:
                raise _problem(where, f"[random] {k}: a log range needs low > 0")
    return spec


def load_sweep(path: Path) -> SweepSpec:
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise _problem(str(path), f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _problem(str(path), f"invalid TOML: {exc}") from None
    return parse_sweep(data, str(path))


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys -> nested tables (the best parameters as a config overlay)."""
    out: dict[str, Any] = {}
    for key, v in flat.items():
        d = out
        parts = key.split(".")
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = v
    return out
