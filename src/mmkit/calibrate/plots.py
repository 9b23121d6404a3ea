"""PNG plots of a calibration: intensity fit, sigma path, calibration curves (matplotlib).

What each plot draws comes from a plain function (:func:`intensity_curve`,
:func:`sigma_series`) that returns the drawn series, so tests check a plot's content
from its data, never from pixels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mmkit.calibrate.intensity import IntensityFit
from mmkit.calibrate.journal_fits import ModelScore
from mmkit.calibrate.scan import ScanResult
from mmkit.calibrate.volatility import SigmaFit
from mmkit.extras import pyplot


def _finish(plt: Any, fig: Any, ax: Any, out: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """Label the axes, add the legend and write the figure to ``out`` as a PNG."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def time_axis(span_s: float) -> tuple[float, str]:
    """Seconds per unit and the unit's name for a time axis spanning ``span_s`` seconds:
    seconds up to 3 minutes, minutes up to 3 hours, hours beyond (so a 6-minute capture
    reads 0..6 min, not 0..0.1 h)."""
    if not (span_s <= 180.0):  # NaN too: seconds
        if span_s <= 3 * 3600.0:
            return 60.0, "min"
        if math.isfinite(span_s):
            return 3600.0, "h"
    return 1.0, "s"


def intensity_curve(scan: ScanResult, fits: dict[str, IntensityFit]) -> dict[str, Any]:
    """The intensity plot's series: ``depth_bp`` (depth from mid in basis points), ``rate``
    (market trades per second per side reaching that depth, measured) and, per finite fit,
    ``fits[name]`` = ``A exp(-k depth)`` on the same depths (empty without trades)."""
    d = np.sort(scan.trade_depth[np.isfinite(scan.trade_depth)])
    out: dict[str, Any] = {"depth_bp": np.zeros(0), "rate": np.zeros(0), "fits": {}}
    if not d.size:
        return out
    top = float(np.quantile(d, 0.99))
    grid = np.linspace(0.0, top, 200)
    counts = d.size - np.searchsorted(d, grid, side="left")
    out["depth_bp"] = grid * 1e4
    out["rate"] = counts / (2.0 * max(scan.duration_s, 1e-9))
    for name, f in fits.items():
        k, a = f.kappa.value, f.A.value
        if math.isfinite(k) and math.isfinite(a):
            out["fits"][name] = a * np.exp(-k * grid)
    return out


def sigma_series(sig: SigmaFit) -> dict[str, Any]:
    """The sigma plot's series: ``t`` (time since the first sample, in ``unit``, chosen by
    :func:`time_axis` from the span), ``unit``, the filtered paths ``particle filter`` and
    ``multi-scale bipower`` (relative vol per sqrt(s)) and the whole-data ``bipower`` level
    (NaN when there is none)."""
    ts = sig.path_ts
    span = float(ts[-1] - ts[0]) / 1e9 if ts.size else 0.0
    per, unit = time_axis(span)
    t = (ts - ts[0]) / 1e9 / per if ts.size else np.zeros(0)
    return {
        "t": t,
        "unit": unit,
        "particle filter": sig.pf_sigma,
        "multi-scale bipower": sig.multiscale_sigma,
        "bipower": sig.bipower.value,
    }


def intensity_plot(scan: ScanResult, fits: dict[str, IntensityFit], out: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    c = intensity_curve(scan, fits)
    if c["rate"].size:
        rate = c["rate"]
        ax.semilogy(c["depth_bp"], np.where(rate > 0, rate, np.nan), "k.", ms=3, label="data")
        pos = rate[rate > 0]
        if pos.size:
            ax.set_ylim(float(pos.min()) * 0.1, float(pos.max()) * 3.0)
        for name, y in c["fits"].items():
            f = fits[name]
            ax.semilogy(c["depth_bp"], y, label=f"{name}: k={f.kappa.value:.4g}, A={f.A.value:.3g}")
    return _finish(
        plt,
        fig,
        ax,
        out,
        "depth from mid (bp)",
        "trades/s per side reaching depth",
        "market-trade intensity A exp(-k depth)",
    )


def sigma_plot(sig: SigmaFit, out: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    s = sigma_series(sig)
    if s["t"].size:
        ax.plot(s["t"], s["particle filter"], lw=0.8, label="particle filter")
        ax.plot(s["t"], s["multi-scale bipower"], lw=0.8, label="multi-scale bipower")
        if math.isfinite(s["bipower"]):
            ax.axhline(s["bipower"], color="k", ls="--", lw=0.8, label="bipower (whole)")
    return _finish(
        plt, fig, ax, out, f"time ({s['unit']})", "sigma (relative per sqrt s)", "sigma path"
    )


def calibration_curve_plot(models: list[ModelScore], out: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    for m in models:
        if m.kind != "probability" or not m.predictions:
            continue
        p = np.asarray(m.predictions)
        o = np.asarray(m.outcomes)
        idx = np.minimum((p * 10).astype(int), 9)
        xs, ys = [], []
        for b in range(10):
            sel = idx == b
            if sel.any():
                xs.append(float(p[sel].mean()))
                ys.append(float(o[sel].mean()))
        ax.plot(xs, ys, "o-", label=f"{m.model} (Brier {m.scores['brier']:.3f})")
    return _finish(
        plt, fig, ax, out, "forecast probability", "observed frequency", "calibration curve"
    )
