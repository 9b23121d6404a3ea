"""The calibration result: the TOML overlay of component parameters and the JSON report.

The overlay holds only registered component parameters (so ``mmkit trade --params`` and
``mmkit backtest --params`` validate it like any config layer); everything else — every
estimate with its interval, units and fit quality — goes to a JSON report next to it
(``params.toml`` -> ``params.calibration.json``) and, summarised, to comment lines at the
top of the TOML.

The primary result is the engine's end state (:mod:`.engine_state`: the configured
estimators run over the data); the fits calibrate adds are labelled ``offline fit``.
Warnings (small samples, degenerate depths, a prior outside the engine's clamp, an empty
prediction log) and the engine-vs-offline comparison (:mod:`.compare`) go to the screen,
the TOML comments and the JSON.
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
#: what ``--kappa-method`` accepts: a fit, or ``auto`` (the best goodness of fit)
KAPPA_CHOICES = ("auto", *KAPPA_METHODS)


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
    #: what was asked (``auto`` or a fit) and why ``kappa_method`` was chosen
    kappa_method_requested: str = "mle"
    kappa_method_reason: str = "chosen with --kappa-method"
    #: the engine's end state (primary result; empty when the engine was not run)
    engine: list[Estimate] = field(default_factory=list)
    #: what the engine run saw: estimators, events, span (for the report)
    engine_info: dict[str, Any] = field(default_factory=dict)
    #: offline Student-t fit on the trades the engine's robust source holds at the end
    window_kappa: Estimate | None = None
    #: engine vs offline, one line each (see :mod:`mmkit.calibrate.compare`)
    comparisons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: what was wrong in the inputs themselves (a truncated file, malformed lines, gaps):
    #: the fits used what could be read; said first, and in the overlay's header
    input_problems: list[str] = field(default_factory=list)

    def chosen_kappa(self) -> Estimate:
        return self.intensity[self.kappa_method].kappa

    def chosen_intensity(self) -> Estimate:
        return self.intensity[self.kappa_method].A

    def offline_estimates(self) -> list[Estimate]:
        """The fits calibrate adds (labelled ``offline fit`` in the report)."""
        out: list[Estimate] = []
        for fit in self.intensity.values():
            out += [fit.kappa, fit.A]
        out += [self.book_kappa, self.sigma, self.sigma_realized, self.sigma_calm]
        out += [self.sigma_turbulent]
        if self.window_kappa is not None:
            out.append(self.window_kappa)
        if self.own_kappa is not None:
            out.append(self.own_kappa)
        return out

    def estimates(self) -> list[Estimate]:
        """The engine's end state first, then the offline fits."""
        return [*self.engine, *self.offline_estimates()]

    def overlay(self) -> dict[str, Any]:
        """Component parameters: ``[estimators.kappa]`` prior, ``[estimators.sigma]`` level
        (from the offline fits: the chosen kappa fit, or the own-fill kappa of a journal,
        and the whole-data bipower sigma; see :meth:`overlay_sources`)."""
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

    def overlay_sources(self) -> list[str]:
        """Where each overlay value comes from (TOML comments), with its small-sample flag."""
        lines = []
        if self.own_kappa is not None and math.isfinite(self.own_kappa.value):
            lines.append(f"prior_kappa = own-fill kappa of the journal ({_fmt(self.own_kappa)})")
        elif math.isfinite(self.chosen_kappa().value):
            lines.append(
                f"prior_kappa = offline fit {self.kappa_method} "
                f"({self.kappa_method_requested}: {self.kappa_method_reason})"
            )
        else:
            lines.append(f"prior_kappa not written: {self.chosen_kappa().note}")
        if math.isfinite(self.sigma.value):
            lines.append(f"default_sigma = offline fit bipower ({_fmt(self.sigma)})")
        else:
            lines.append(f"default_sigma not written: {self.sigma.note}")
        return lines

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
            "kappa_method_requested": self.kappa_method_requested,
            "kappa_method_reason": self.kappa_method_reason,
            "engine_end_state": {
                **self.engine_info,
                "estimates": [e.to_json() for e in self.engine],
            },
            "offline_fits": [e.to_json() for e in self.offline_estimates()],
            "comparisons": self.comparisons,
            "warnings": self.warnings,
            "input_problems": self.input_problems,
            "overlay_sources": self.overlay_sources(),
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
    """One line: name, method, value, interval (or why there is none), unit, n, note."""
    ci = f"[{e.lo:.6g}, {e.hi:.6g}]" if e.finite else "no interval"
    note = f" ({e.note})" if e.note else ""
    return f"{e.name} ({e.method}) = {e.value:.6g} {ci} {e.unit}, n={e.n}{note}"


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
    lines += [f"# WARNING: input data problems: {p}" for p in cal.input_problems]
    lines += [f"# WARNING: {w}" for w in cal.warnings]
    lines += [f"# overlay: {x}" for x in cal.overlay_sources()]
    if cal.engine:
        lines.append("# engine end state (the configured estimators run over the data):")
        lines += [f"#   {_fmt(e)}" for e in cal.engine]
    lines.append("# offline fit (calibrate's own fits of the whole data):")
    lines += [f"#   {_fmt(e)}" for e in cal.offline_estimates()]
    if cal.comparisons:
        lines.append("# engine vs offline fit:")
        lines += [f"#   {c}" for c in cal.comparisons]
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
