"""``mmkit journal plot``: one PNG of a run from its journal.

Three panels sharing the time axis (seconds since the run's first event):

1. the mid (USD) with our best resting bid and ask around it and our fills (buys ``^``,
   sells ``v``);
2. equity (USD: realized + unrealized - fees);
3. position (base units).

Every panel is shaded where a gate was closed: red for a kill-switch trip, grey for other
halts, blue for warmup, yellow for reduce-only. :func:`plot_series` computes everything that
is drawn (tests assert on it); :func:`render` only hands it to matplotlib (the ``plots``
extra), imported when called.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mmkit.core.types import NS_PER_S
from mmkit.runtime.journal_read import RunData, best_quotes

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: shading colour of each kind of closure
SHADE_COLOURS = {"kill": "tab:red", "halt": "0.6", "warmup": "tab:blue", "reduce_only": "gold"}


@dataclass(frozen=True)
class Shade:
    """A shaded span ``[start_s, end_s]`` (s since the run's first event) of one closure."""

    start_s: float
    end_s: float
    kind: str  # "kill", "halt", "warmup" or "reduce_only"
    label: str  # "gate: reason"


@dataclass(frozen=True)
class PlotSeries:
    """Everything :func:`render` draws; times in seconds since the run's first event."""

    title: str
    t_s: F64  # equity / position / mid samples
    mid_usd: F64
    equity_usd: F64
    position: F64
    quote_t_s: F64  # our best quotes, a step series (post-step) ending at the run's end
    best_bid_usd: F64
    best_ask_usd: F64
    fill_t_s: F64
    fill_px_usd: F64
    fill_side: I64  # +1 buy, -1 sell
    shades: tuple[Shade, ...]
    run_s: float
    headline: str = ""  # the run report's first line, drawn under the title


def shade_kind(gate: str, mode: str, kill_switch: bool) -> str:
    """How a closure is shaded (see the module docstring)."""
    if kill_switch:
        return "kill"
    if mode == "reduce_only":
        return "reduce_only"
    if gate == "warmup":
        return "warmup"
    return "halt"


def plot_series(run: RunData, *, headline: str = "") -> PlotSeries:
    """The series of the run's plot (pure: no matplotlib). ``headline``: the run report's
    first line (what happened), drawn under the title."""
    t0 = run.start_ns

    def secs(ts: I64) -> F64:
        return ((ts - t0) / NS_PER_S).astype(np.float64)

    qt, bid, ask = best_quotes(run.quotes)
    if qt.size and qt[-1] < run.end_ns:  # the last quotes rest until the run ends
        qt = np.append(qt, np.int64(run.end_ns))
        bid, ask = np.append(bid, bid[-1]), np.append(ask, ask[-1])
    shades = tuple(
        Shade(e.closed_s, e.end_s, shade_kind(e.gate, e.mode, e.kill_switch),
              f"{e.gate}: {e.reason}")
        for e in run.timeline.episodes
        if e.end_ns > e.closed_ns
    )  # fmt: skip
    coin = run.meta.get("coin", "")
    mode = run.meta.get("mode", "")
    return PlotSeries(
        title=f"{run.path.name} ({' '.join(x for x in (mode, coin) if x)})",
        t_s=secs(run.snap_ts_ns),
        mid_usd=run.mid.copy(),
        equity_usd=run.equity_usd.copy(),
        position=run.position.copy(),
        quote_t_s=secs(qt),
        best_bid_usd=bid,
        best_ask_usd=ask,
        fill_t_s=secs(run.fills.ts_ns),
        fill_px_usd=run.fills.px.copy(),
        fill_side=run.fills.side.copy(),
        shades=shades,
        run_s=run.run_s,
        headline=headline,
    )


def render(series: PlotSeries, out: Path) -> Path:
    """Draw ``series`` into the PNG ``out`` (matplotlib from the ``plots`` extra; a clear
    :class:`~mmkit.errors.MmkitError` when it is missing)."""
    from mmkit.extras import pyplot

    plt = pyplot("mmkit journal plot")
    fig, (ax_px, ax_eq, ax_pos) = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
    try:
        s = series
        ax_px.plot(s.t_s, s.mid_usd, color="black", lw=0.8, label="mid")
        ax_px.step(s.quote_t_s, s.best_bid_usd, where="post", color="tab:green", lw=0.7,
                   label="our best bid")  # fmt: skip
        ax_px.step(s.quote_t_s, s.best_ask_usd, where="post", color="tab:red", lw=0.7,
                   label="our best ask")  # fmt: skip
        buy = s.fill_side > 0
        ax_px.scatter(s.fill_t_s[buy], s.fill_px_usd[buy], marker="^", color="tab:green",
                      s=18, label="buy fill", zorder=3)  # fmt: skip
        ax_px.scatter(s.fill_t_s[~buy], s.fill_px_usd[~buy], marker="v", color="tab:red",
                      s=18, label="sell fill", zorder=3)  # fmt: skip
        ax_px.set_ylabel("price (USD)")
        ax_eq.plot(s.t_s, s.equity_usd, color="tab:blue", lw=1.0)
        ax_eq.set_ylabel("equity (USD)")
        ax_pos.step(s.t_s, s.position, where="post", color="tab:purple", lw=1.0)
        ax_pos.set_ylabel("position (base)")
        ax_pos.set_xlabel("time since the run's first event (s)")
        seen: set[str] = set()
        for sh in s.shades:
            for ax in (ax_px, ax_eq, ax_pos):
                label = sh.kind if ax is ax_px and sh.kind not in seen else None
                ax.axvspan(sh.start_s, sh.end_s, color=SHADE_COLOURS[sh.kind], alpha=0.2,
                           lw=0, label=None if label is None else f"closed: {label}")  # fmt: skip
            seen.add(sh.kind)
        ax_px.legend(loc="upper left", fontsize=7, ncol=3)
        ax_px.set_title(s.title + (f"\n{_wrap(s.headline)}" if s.headline else ""), fontsize=9)
        ax_pos.set_xlim(0.0, max(s.run_s, 1e-9))
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out


def _wrap(text: str, width: int = 120) -> str:
    """``text`` broken into lines of at most ``width`` characters, at spaces."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
