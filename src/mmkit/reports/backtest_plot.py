"""``backtest.png``: what is drawn (:func:`plot_series`) apart from how (:func:`render`).

:func:`plot_series` returns every array and span the figure draws, so tests assert the
plot's content from the data, never from pixels:

* panel 1, equity (USD) with the gate closures shaded (``gate_spans``; warmup apart as
  ``warmup_span``) and the kill-switch trips marked (``kill_trips``: vertical lines at the
  trip times; ``kill_spans``: from each trip to the end of its closure);
* panel 2, position (base units);
* panel 3, mid with our fills (``fills_buy`` / ``fills_sell``: time and price of each fill)
  and our best bid / ask resting at the venue around it (``bid`` / ``ask``, NaN = nothing
  resting on that side, drawn as gaps).

Times are seconds since the run's start (``run.start_ns``), drawn in ``time_unit``
(seconds for runs up to 10 minutes, minutes up to 3 hours, hours beyond).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.core.events import OwnFill
from mmkit.core.types import NS_PER_S, Side
from mmkit.reports.run import RunAccount

_UNITS = (("s", 1.0), ("min", 60.0), ("h", 3600.0))


def time_unit(run_s: float) -> tuple[str, float]:
    """The axis unit for a run of ``run_s`` seconds and its length in seconds."""
    if run_s <= 600.0:
        return _UNITS[0]
    if run_s <= 3 * 3600.0:
        return _UNITS[1]
    return _UNITS[2]


def plot_series(
    path: Mapping[str, Any],
    fills: Sequence[OwnFill],
    run: RunAccount | None,
    *,
    title: str = "mmkit backtest",
) -> dict[str, Any]:
    """Everything :func:`render` draws, as arrays (times in seconds since the run's start).

    ``path`` is :meth:`mmkit.backtest.recording.PathRecorder.arrays` (``ts``, ``mid``,
    ``position``, ``equity``, and ``bid`` / ``ask`` when recorded); ``fills`` the fills the
    engine applied; ``run`` the report's run accounting (its ``start_ns`` is the time base;
    without it, the first path sample is)."""
    ts = np.asarray(path["ts"], dtype=np.int64)
    n = ts.size
    if run is not None and run.start_ns >= 0:
        t0 = run.start_ns
    else:
        t0 = int(ts[0]) if n else 0

    def secs(x: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return ((x - t0) / NS_PER_S).astype(np.float64)

    nan = np.full(n, np.nan)
    buys = [f for f in fills if f.side is Side.BUY]
    sells = [f for f in fills if f.side is not Side.BUY]

    def fill_arrays(fs: list[OwnFill]) -> dict[str, npt.NDArray[np.float64]]:
        return {
            "t_s": secs(np.array([f.ts for f in fs], dtype=np.int64)),
            "px": np.array([f.px for f in fs], dtype=np.float64),
            "sz": np.array([f.sz for f in fs], dtype=np.float64),
        }

    gate_spans: list[dict[str, Any]] = []
    kill_spans: list[tuple[float, float]] = []
    kill_trips: list[float] = []
    warmup_span: tuple[float, float] | None = None
    headline = title
    run_s = float(secs(ts[-1:])[0]) if n else 0.0
    if run is not None:
        headline = run.headline
        run_s = run.run_s
        if run.warmup_ended_by != "none" and run.warmup_s > 0:
            warmup_span = (0.0, run.warmup_s)
        for c in run.gate_closures:
            if c.gate == "warmup":
                continue
            gate_spans.append(
                {
                    "gate": c.gate,
                    "reason": c.reason,
                    "start_s": c.start_s,
                    "end_s": c.end_s,
                    "kill_switch": c.kill_switch,
                }
            )
            if c.kill_switch:
                kill_spans.append((c.start_s, c.end_s))
        kill_trips = [k.t_s for k in run.kill_switch_trips]
    unit, scale = time_unit(run_s)
    return {
        "title": title,
        "headline": headline,
        "time_unit": unit,
        "time_scale_s": scale,
        "t_s": secs(ts),
        "equity": np.asarray(path["equity"], dtype=np.float64),
        "position": np.asarray(path["position"], dtype=np.float64),
        "mid": np.asarray(path["mid"], dtype=np.float64),
        "bid": np.asarray(path.get("bid", nan), dtype=np.float64),
        "ask": np.asarray(path.get("ask", nan), dtype=np.float64),
        "fills_buy": fill_arrays(buys),
        "fills_sell": fill_arrays(sells),
        "gate_spans": gate_spans,
        "kill_spans": kill_spans,
        "kill_trips": kill_trips,
        "warmup_span": warmup_span,
    }


def render(series: Mapping[str, Any], out: Path) -> Path:
    """Draw :func:`plot_series`'s output into ``out`` (PNG; needs mmkit[plots])."""
    from mmkit.extras import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    k = float(series["time_scale_s"])
    t = series["t_s"] / k
    ax_eq, ax_pos, ax_mid = axes
    ax_eq.plot(t, series["equity"], lw=0.8, color="C0")
    ax_eq.set_ylabel("equity (USD)")
    shaded: set[str] = set()
    if series["warmup_span"] is not None:
        a, b = series["warmup_span"]
        for ax in axes:
            ax.axvspan(a / k, b / k, color="0.85", lw=0, label="warmup" if ax is ax_eq else None)
    for g in series["gate_spans"]:
        label = None if g["gate"] in shaded else f"gate {g['gate']} closed"
        shaded.add(g["gate"])
        color = "red" if g["kill_switch"] else "orange"
        ax_eq.axvspan(g["start_s"] / k, g["end_s"] / k, color=color, alpha=0.15, lw=0, label=label)
    for i, tt in enumerate(series["kill_trips"]):
        for ax in axes:
            ax.axvline(
                tt / k,
                color="red",
                lw=1.2,
                ls="--",
                label="kill switch trip" if i == 0 and ax is ax_eq else None,
            )
    ax_pos.plot(t, series["position"], lw=0.8, color="C1")
    ax_pos.set_ylabel("position")
    ax_mid.plot(t, series["mid"], lw=0.8, color="C2", label="mid")
    ax_mid.plot(t, series["bid"], lw=0.6, color="C0", alpha=0.7, label="our resting bid")
    ax_mid.plot(t, series["ask"], lw=0.6, color="C3", alpha=0.7, label="our resting ask")
    fb, fs = series["fills_buy"], series["fills_sell"]
    ax_mid.scatter(fb["t_s"] / k, fb["px"], marker="^", s=12, color="green", label="buy fill")
    ax_mid.scatter(fs["t_s"] / k, fs["px"], marker="v", s=12, color="red", label="sell fill")
    ax_mid.set_ylabel("price")
    ax_mid.set_xlabel(f"time since start ({series['time_unit']})")
    ax_eq.legend(loc="best", fontsize=7)
    ax_mid.legend(loc="best", fontsize=7)
    ax_eq.set_title("\n".join(textwrap.wrap(str(series["headline"]), 120)), fontsize=8)
    fig.suptitle(str(series["title"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
