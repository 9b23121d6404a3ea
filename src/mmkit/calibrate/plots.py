"""PNG plots of a calibration: intensity fit, sigma path, calibration curves (matplotlib)."""

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


def intensity_plot(scan: ScanResult, fits: dict[str, IntensityFit], out: Path) -> Path:
    plt = pyplot()
    d = np.sort(scan.trade_depth[np.isfinite(scan.trade_depth)])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if d.size:
        top = float(np.quantile(d, 0.99))
        grid = np.linspace(0.0, top, 200)
        counts = d.size - np.searchsorted(d, grid, side="left")
        rate = counts / (2.0 * max(scan.duration_s, 1e-9))
        ax.semilogy(grid * 1e4, np.where(rate > 0, rate, np.nan), "k.", ms=3, label="data")
        pos = rate[rate > 0]
        if pos.size:
            ax.set_ylim(float(pos.min()) * 0.1, float(pos.max()) * 3.0)
        for name, f in fits.items():
            k, a = f.kappa.value, f.A.value
            if math.isfinite(k) and math.isfinite(a):
                ax.semilogy(
                    grid * 1e4, a * np.exp(-k * grid), label=f"{name}: k={k:.4g}, A={a:.3g}"
                )
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
    if sig.path_ts.size:
        t = (sig.path_ts - sig.path_ts[0]) / 1e9 / 3600.0
        ax.plot(t, sig.pf_sigma, lw=0.8, label="particle filter")
        ax.plot(t, sig.multiscale_sigma, lw=0.8, label="multi-scale bipower")
        if math.isfinite(sig.bipower.value):
            ax.axhline(sig.bipower.value, color="k", ls="--", lw=0.8, label="bipower (whole)")
    return _finish(plt, fig, ax, out, "hours", "sigma (relative per sqrt s)", "sigma path")


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
