"""The calibration result: the TOML overlay of component parameters and the JSON report.

The overlay holds only registered component parameters (so ``mmkit trade --params`` and
``mmkit backtest --params`` validate it like any config layer); everything else — every
estimate with its interval, units and fit quality — goes to a JSON report next to it
(``params.toml`` -> ``params.calibration.json``) and, summarised, to comment lines at the
top of the TOML.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkit.calibrate.estimate import Estimate
from mmkit.calibrate.intensity import IntensityFit, in_ticks_and_price
from mmkit.calibrate.journal_fits import ModelScore
from mmkit.errors import ConfigError

KAPPA_METHODS = ("student_t", "mle", "loglinear")


@dataclass
class Calibration:
    files: list[str]
    tick: float
    mid_ref: float
    duration_s: float
    trades: int
    intensity: dict[str, IntensityFit]
    book_kappa: Estimate
    sigma: Estimate
    sigma_realized: Estimate
    sigma_calm: Estimate
    sigma_turbulent: Estimate
    own_kappa: Estimate | None = None
    models: list[ModelScore] = field(default_factory=list)
    kappa_method: str = "mle"

    def chosen_kappa(self) -> Estimate:
        return self.intensity[self.kappa_method].kappa

    def chosen_intensity(self) -> Estimate:
        return self.intensity[self.kappa_method].A

    def estimates(self) -> list[Estimate]:
        out: list[Estimate] = []
        for fit in self.intensity.values():
            out += [fit.kappa, fit.A]
        out += [self.book_kappa, self.sigma, self.sigma_realized, self.sigma_calm]
        out += [self.sigma_turbulent]
        if self.own_kappa is not None:
            out.append(self.own_kappa)
        return out

    def overlay(self) -> dict[str, Any]:
        """Component parameters: ``[estimators.kappa]`` prior, ``[estimators.sigma]`` level."""
        out: dict[str, Any] = {}
        k = self.chosen_kappa().value
        if self.own_kappa is not None and math.isfinite(self.own_kappa.value):
            k = self.own_kappa.value
        if math.isfinite(k) and k > 0:
            out.setdefault("estimators", {})["kappa"] = {"prior_kappa": float(k)}
        s = self.sigma.value
        if math.isfinite(s) and s > 0:
            out.setdefault("estimators", {})["sigma"] = {"default_sigma": float(s)}
        return out

    def to_json(self) -> dict[str, Any]:
        k = self.chosen_kappa().value
        units = in_ticks_and_price(k, self.tick, self.mid_ref) if math.isfinite(k) else {}
        return {
            "files": self.files,
            "tick": self.tick,
            "mid_reference": self.mid_ref,
            "duration_s": self.duration_s,
            "market_trades": self.trades,
            "kappa_method": self.kappa_method,
            "units": {
                "kappa": "per unit of relative depth (depth = |px - mid| / mid)",
                "kappa_per_tick": units.get("per_tick"),
                "kappa_per_price_unit": units.get("per_price_unit"),
                "A": "market trades per second per side reaching depth 0",
                "sigma": "relative volatility per sqrt(second)",
            },
            "estimates": [e.to_json() for e in self.estimates()],
            "kappa_in_units": {
                name: {
                    "relative": f.kappa.value,
                    **in_ticks_and_price(f.kappa.value, self.tick, self.mid_ref),
                }
                for name, f in self.intensity.items()
            },
            "prediction_log": [
                {"model": m.model, "n": m.n, "kind": m.kind, **m.scores} for m in self.models
            ],
            "overlay": self.overlay(),
        }


def _fmt(e: Estimate) -> str:
    return f"{e.name} ({e.method}) = {e.value:.6g} [{e.lo:.6g}, {e.hi:.6g}] {e.unit}, n={e.n}"


def report_path(out: Path) -> Path:
    return out.with_suffix(".calibration.json")


def write(cal: Calibration, out: Path) -> Path:
    """Write the overlay TOML (with a commented summary) and the JSON report; returns it."""
    import tomli_w

    lines = [
        "# mmkit calibrate: component parameters (layer with `--params` over a config).",
        f"# data: {', '.join(cal.files)}; {cal.duration_s:.0f} s, {cal.trades} market trades",
        f"# tick {cal.tick:g}, reference mid {cal.mid_ref:.6g}; full report: "
        f"{report_path(out).name}",
    ]
    lines += [f"# {_fmt(e)}" for e in cal.estimates()]
    body = tomli_w.dumps(cal.overlay())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n\n" + body)
    tmp.replace(out)
    rp = report_path(out)
    rp.write_text(json.dumps(cal.to_json(), indent=2, default=_json_default) + "\n")
    return rp


def _json_default(x: Any) -> Any:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return v if math.isfinite(v) else None


def validate_overlay(out: Path) -> None:
    """Load the overlay over the defaults with the plugin registry (raises ConfigError)."""
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import get_host

    host = get_host()
    try:
        load_settings(None, host.registry, env={}, overlays=[out])
    except ConfigError as exc:
        raise ConfigError([f"calibrated overlay {out} does not validate", *exc.problems]) from None
