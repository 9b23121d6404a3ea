"""``mmkit calibrate``: one streaming pass over the data, the fits, the overlay and plots."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmkit.calibrate.intensity import book_kappa_estimate, fit_all
from mmkit.calibrate.journal_fits import own_fill_kappa, prediction_scores
from mmkit.calibrate.report import KAPPA_METHODS, Calibration
from mmkit.calibrate.scan import ScanResult, ScanSettings, scan_files
from mmkit.calibrate.volatility import SigmaFit, fit_sigma
from mmkit.errors import ConfigError


@dataclass
class CalibrationRun:
    calibration: Calibration
    scan: ScanResult
    sigma: SigmaFit


def calibrate(
    paths: Sequence[Path],
    *,
    journal: Path | None = None,
    settings: ScanSettings | None = None,
    kappa_method: str = "mle",
    nu: float = 4.0,
    seed: int = 0,
    on_file: Callable[[Path, int], None] | None = None,
) -> CalibrationRun:
    if kappa_method not in KAPPA_METHODS:
        raise ConfigError([f"--kappa-method {kappa_method!r}: choose one of {KAPPA_METHODS}"])
    s = settings or ScanSettings()
    scan = scan_files(paths, s, on_file)
    fits = fit_all(scan.trade_depth, scan.duration_s, nu=nu)
    sig = fit_sigma(scan.mid_ts, scan.mid, s.mid_every_s, seed=seed)
    cal = Calibration(
        files=scan.files,
        tick=scan.tick,
        mid_ref=scan.mid_ref,
        duration_s=scan.duration_s,
        trades=int(scan.trade_depth.size),
        intensity=fits,
        book_kappa=book_kappa_estimate(scan.book_kappa, scan.book_r2),
        sigma=sig.bipower,
        sigma_realized=sig.realized,
        sigma_calm=sig.calm,
        sigma_turbulent=sig.turbulent,
        kappa_method=kappa_method,
    )
    if journal is not None:
        prior = fits[kappa_method].kappa.value
        own, _ = own_fill_kappa(
            journal, prior if math.isfinite(prior) else 2000.0, mid_ts=scan.mid_ts, mid=scan.mid
        )
        cal.own_kappa = own
        cal.models = prediction_scores(journal)
    return CalibrationRun(cal, scan, sig)


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
