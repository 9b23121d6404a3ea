"""``mmkit calibrate``: the engine's estimators over the data, the offline fits, the overlay.

1. the engine's end state (:mod:`.engine_state`): the configured estimators, built as the
   engine builds them, fed the event stream a backtest feeds the engine — the primary result;
2. one streaming pass (:mod:`.scan`) and the offline fits (:mod:`.intensity`,
   :mod:`.volatility`): every trade of the data, labelled ``offline fit``;
3. the comparison of the two (:mod:`.compare`), warnings (small samples, degenerate depths,
   a prior the engine would clamp), and with ``--journal`` own-fill kappa and forecast
   scores (:mod:`.journal_fits`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkit.calibrate.compare import compare, window_fit
from mmkit.calibrate.engine_state import EngineState, engine_rows, run_engine_estimators
from mmkit.calibrate.intensity import (
    SMALL_SAMPLE_TRADES,
    book_kappa_estimate,
    depth_shape_note,
    exponential_bound,
    fit_all,
    select_fit,
)
from mmkit.calibrate.journal_fits import own_fill_kappa, prediction_log_note, prediction_scores
from mmkit.calibrate.report import KAPPA_CHOICES, Calibration
from mmkit.calibrate.scan import ScanResult, ScanSettings, scan_files
from mmkit.calibrate.volatility import SMALL_SAMPLE_RETURNS, SigmaFit, fit_sigma
from mmkit.config.loader import Settings
from mmkit.errors import ConfigError


@dataclass
class CalibrationRun:
    calibration: Calibration
    scan: ScanResult
    sigma: SigmaFit
    engine: EngineState | None = None


def _default_settings(registry: Any) -> tuple[Settings, Any]:
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import get_host

    if registry is None:
        host = get_host()
        host.check()
        registry = host.registry
    return load_settings(None, registry, env={}), registry


def _component(st: EngineState | None, cls: str) -> Any:
    """The first configured estimator of class ``cls`` (the built-in kappa / sigma)."""
    if st is None:
        return None
    for c in st.components.values():
        if type(c).__name__.removesuffix("Twin") == cls:  # or its compiled twin
            return c
    return None


def calibrate(
    paths: Sequence[Path],
    *,
    journal: Path | None = None,
    settings: ScanSettings | None = None,
    kappa_method: str = "auto",
    nu: float = 4.0,
    seed: int = 0,
    on_file: Callable[[Path, int], None] | None = None,
    engine_settings: Settings | None = None,
    registry: Any = None,
    run_engine: bool = True,
    on_engine_events: Callable[[int], None] | None = None,
) -> CalibrationRun:
    """Calibrate from ``paths``; ``engine_settings`` (default: the default config) decides
    which estimators run for the engine's end state (``run_engine=False`` skips it)."""
    if kappa_method not in KAPPA_CHOICES:
        raise ConfigError([f"--kappa-method {kappa_method!r}: choose one of {KAPPA_CHOICES}"])
    s = settings or ScanSettings()
    st: EngineState | None = None
    if run_engine:
        if engine_settings is None:
            engine_settings, registry = _default_settings(registry)
        st = run_engine_estimators(
            paths, engine_settings, fmt=s.fmt, registry=registry, on_event=on_engine_events
        )
    scan = scan_files(paths, s, on_file)
    fits = fit_all(scan.trade_depth, scan.duration_s, nu=nu)
    sig = fit_sigma(scan.mid_ts, scan.mid, s.mid_every_s, seed=seed)
    if kappa_method == "auto":
        chosen, reason = select_fit(fits)
    else:
        chosen, reason = kappa_method, "chosen with --kappa-method"
    cal = Calibration(
        files=scan.files,
        tick=scan.tick,
        mid_ref=scan.mid_ref,
        duration_s=scan.duration_s,
        trades=int(scan.trade_depth.size),
        intensity=fits,
        book_kappa=book_kappa_estimate(
            scan.book_kappa,
            scan.book_r2,
            scan.book_tries,
            min_levels=s.book_min_levels,
            max_depth=s.book_max_depth,
        ),
        sigma=sig.bipower,
        sigma_realized=sig.realized,
        sigma_calm=sig.calm,
        sigma_turbulent=sig.turbulent,
        kappa_method=chosen,
        kappa_method_requested=kappa_method,
        kappa_method_reason=reason,
        input_problems=list(scan.problems),
    )
    for fit in fits.values():
        for e in (fit.kappa, fit.A):
            e.method = f"offline fit: {e.method}"
    for e in (cal.book_kappa, cal.sigma, cal.sigma_realized, cal.sigma_calm):
        e.method = f"offline fit: {e.method}"
    cal.sigma_turbulent.method = f"offline fit: {cal.sigma_turbulent.method}"
    kp = _component(st, "KappaOrchestrator")
    sp = _component(st, "SigmaEstimator")
    if st is not None:
        cal.engine = engine_rows(st)
        cal.engine_info = {
            "estimators": st.estimator_names,
            "events": st.events,
            "market_trades": st.market_trades,
            "cycles": st.cycles,
            "span_s": st.span_s,
            "timer_ms": st.timer_ms,
            "faults": st.faults,
            "how": "the configured [components] estimators built as the engine builds them, "
            "fed the event stream of an event-cadence backtest (no quotes, so no own fills)",
        }
        if kp is not None:
            p = kp.p
            wf = window_fit(
                scan.trade_ts,
                scan.trade_depth,
                int(scan.trade_ts[-1]) if scan.trade_ts.size else 0,
                p.window_s,
                p.robust_max_trades,
                p.robust_nu,
            )
            cal.window_kappa = wf.kappa
        cal.comparisons = compare(
            cal.engine,
            {
                "kappa_student_t": fits["student_t"].kappa,
                "kappa_chosen": cal.chosen_kappa(),
                "A": fits["mle"].A,
                "sigma": cal.sigma,
            },
            window=cal.window_kappa,
            kappa_params=getattr(kp, "p", None),
            sigma_params=getattr(sp, "p", None),
            sample_s=s.mid_every_s,
            duration_s=scan.duration_s,
            trades=cal.trades,
        )
        for name, msg in st.faults.items():
            cal.warnings.append(f"engine estimator {name} raised: {msg}")
    cal.warnings += _warnings(cal, scan, getattr(kp, "p", None))
    if journal is not None:
        prior = cal.chosen_kappa().value
        own, _ = own_fill_kappa(
            journal, prior if math.isfinite(prior) else 2000.0, mid_ts=scan.mid_ts, mid=scan.mid
        )
        own.method = f"offline fit: {own.method}"
        cal.own_kappa = own
        cal.models = prediction_scores(journal)
        note = prediction_log_note(journal, cal.models)
        if note:
            cal.warnings.append(f"--journal {journal}: {note}")
    return CalibrationRun(cal, scan, sig, st)


def _warnings(cal: Calibration, scan: ScanResult, kappa_params: Any) -> list[str]:
    """Small samples, degenerate depths and a prior the engine would clamp."""
    out = []
    n = cal.trades
    if n < SMALL_SAMPLE_TRADES:
        lo, hi = exponential_bound(n)
        width = (
            f"; even if the depths were exactly exponential, kappa is known only to "
            f"[{lo:.2f}, {hi:.2f}] x its value"
            if math.isfinite(lo)
            else ""
        )
        out.append(
            f"small sample: {n} market trades (< {SMALL_SAMPLE_TRADES}): kappa and A are "
            f"rough{width}"
        )
    shape = depth_shape_note(scan.trade_depth)
    if shape:
        out.append(f"trade depths: {shape}")
    returns = int(cal.sigma.quality.get("returns", 0.0)) if cal.sigma.finite else 0
    if returns < SMALL_SAMPLE_RETURNS:
        out.append(
            f"small sample: {returns} mid returns for sigma (< {SMALL_SAMPLE_RETURNS}): the "
            "bipower interval assumes many returns, and minutes of data say little about "
            "the level over a day; the overlay's default_sigma also sets the engine's sigma "
            "cap (max_sigma_mult x) and cascade floor (cascade_sigma_mult x)"
        )
    k = cal.overlay().get("estimators", {}).get("kappa", {}).get("prior_kappa")
    if k is not None and kappa_params is not None:
        floor, cap = kappa_params.kappa_floor, kappa_params.kappa_cap
        if not floor <= k <= cap:
            out.append(
                f"prior_kappa {k:.6g} is outside the engine's clamp [{floor:g}, {cap:g}]: the "
                "engine will quote with the clamp's end; market-trade kappa says where the "
                "market trades (often the touch), not how our fills decay with depth"
            )
    return out


def write_plots(run: CalibrationRun, out_dir: Path) -> list[Path]:
    from mmkit.calibrate import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    made = [
        plots.intensity_plot(run.scan, run.calibration.intensity, out_dir / "intensity_fit.png"),
        plots.sigma_plot(run.sigma, out_dir / "sigma_path.png"),
    ]
    if run.calibration.models:
        made.append(
            plots.calibration_curve_plot(run.calibration.models, out_dir / "calibration_curve.png")
        )
    return made
