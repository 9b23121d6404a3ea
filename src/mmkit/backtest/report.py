"""The backtest report: what the engine did, then PnL, fills, inventory, Sharpe, drawdown and
adverse-selection markouts.

The first line of ``report.md`` and ``run.headline`` in the JSON say what happened (halted by
the kill switch, never quoted, warmup only, mostly halted, or OK with the time quoting):
see :mod:`mmkit.reports.run` for the definitions of warmup, quoting and halted time. The
``stats`` (equity) and ``fill_stats`` objects are :mod:`mmkit.reports.stats`'s, with their
sampling window and caveats; ``pnl`` splits equity into realized trading PnL, fees (net of
rebates) and the unrealized PnL of the inventory at the last mid.

Kept for existing readers:

* PnL from the engine's portfolio (realized, unrealized at the last mid, fees; equity =
  realized + unrealized - fees).
* Fill ratio = fills / orders sent (places and modifies).
* ``sharpe_daily``: the ``stats`` object's (60 s windows, scaled to one day by
  ``sqrt(86400 / 60)``, with its caveat there); max drawdown of the sampled equity path.
* Markouts at 1 s / 5 s / 30 s: for each fill, ``side * (mid(t + h) - px)``, per unit and
  in bp of the fill price, averaged over fills (size weighted); negative = adverse selection.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.core.events import OwnFill
from mmkit.core.types import NS_PER_S
from mmkit.reports.run import RunAccount
from mmkit.reports.stats import EquityStats, FillStats, to_rows

MARKOUT_HORIZONS_S = (1.0, 5.0, 30.0)


@dataclass
class BacktestReport:
    mode: str
    seed: int
    quoter: str
    data: list[str]
    start_ns: int
    end_ns: int
    stopped_by: str
    market_events: int
    requotes: int
    realized: float
    unrealized: float
    fees: float
    equity: float
    fills: int
    orders_sent: int
    fill_ratio: float
    volume_usd: float
    final_position: float
    max_abs_position: float
    sharpe_daily: float
    max_drawdown: float
    markouts_bp: dict[str, float]
    markouts_px: dict[str, float]
    rejections: int
    rejection_reasons: dict[str, int]
    faults: int
    actions: dict[str, int] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    #: what the engine did: verdict, headline, warmup / quoting / halted time, gate timeline
    run: RunAccount | None = None
    #: equity statistics over ``stats.window_s`` windows (Sharpe stated with its window)
    stats: EquityStats | None = None
    #: per-side fills, spread captured, markouts at 1/5/30/60 s, fees and rebates
    fill_stats: FillStats | None = None
    #: venue rejections by reason (the same counts as ``rejection_reasons``)
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    #: equity = realized_trading_usd + fees_net_usd + unrealized_inventory_usd (USD)
    pnl: dict[str, float] = field(default_factory=dict)

    def to_json(self, *, timing: bool = True) -> dict[str, Any]:
        d = asdict(self)
        if not timing:
            d.pop("timing")
        out: dict[str, Any] = _clean(d)
        return out

    @property
    def headline(self) -> str:
        """One line on what happened (the run's verdict), or a plain title without one."""
        return self.run.headline if self.run is not None else "mmkit backtest"

    def to_markdown(self) -> str:
        h = (self.end_ns - self.start_ns) / NS_PER_S
        rows = [
            ("mode", self.mode),
            ("quoter", self.quoter),
            ("seed", str(self.seed)),
            ("simulated time", f"{h:,.1f} s ({self.stopped_by})"),
            ("market events", f"{self.market_events:,}"),
            ("requotes", f"{self.requotes:,}"),
            ("realized PnL", f"{self.realized:,.4f}"),
            ("unrealized PnL", f"{self.unrealized:,.4f}"),
            ("fees", f"{self.fees:,.4f}"),
            ("equity", f"{self.equity:,.4f}"),
            ("fills / orders sent", f"{self.fills:,} / {self.orders_sent:,}"),
            ("fill ratio", f"{self.fill_ratio:.4f}"),
            ("volume (USD)", f"{self.volume_usd:,.2f}"),
            ("final position", f"{self.final_position:+.6f}"),
            ("max |position|", f"{self.max_abs_position:.6f}"),
            ("max drawdown", f"{self.max_drawdown:,.4f}"),
        ]
        if self.stats is None:  # else the statistics section states it with its window
            rows.append(("Sharpe (daily, 60 s buckets)", f"{self.sharpe_daily:.3f}"))
        if self.fill_stats is None:
            rows += [(f"markout {k} (bp)", f"{v:+.3f}") for k, v in self.markouts_bp.items()]
        rows.append(("rejections", f"{self.rejections:,}"))
        rows += [(f"  {k}", str(v)) for k, v in self.rejection_reasons.items()]
        rows.append(("faults refused", str(self.faults)))
        rows += [(f"timing: {k}", f"{v:.3f}") for k, v in self.timing.items()]
        title = "# mmkit backtest" + (f": {self.run.headline}" if self.run is not None else "")
        lines = [title, ""]
        if self.run is not None:
            lines += _run_section(self.run)
        if self.pnl:
            lines += ["## equity decomposition (USD)", "", "| part | USD |", "|---|---|"]
            lines += [f"| {k} | {v:+,.4f} |" for k, v in self.pnl.items()]
            lines.append("")
        extra: list[tuple[str, str]] = []
        if self.fill_stats is not None:
            extra += to_rows(self.fill_stats)
        if self.stats is not None:
            extra += to_rows(self.stats)
        if extra:
            lines += ["## fills and statistics", "", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in extra]
            lines.append("")
        if self.rejections_by_reason:
            lines += ["## rejections by reason", "", "| reason | count |", "|---|---|"]
            lines += [f"| {k} | {v:,} |" for k, v in self.rejections_by_reason.items()]
            lines.append("")
        lines += ["## summary", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        j = out_dir / "report.json"
        m = out_dir / "report.md"
        j.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        m.write_text(self.to_markdown())
        return j, m


def _run_section(run: RunAccount) -> list[str]:
    """The run's time accounting and gate / kill-switch timeline as markdown lines."""

    def pct(x: float) -> str:
        return f"{100.0 * x:.1f}%" if math.isfinite(x) else "n/a"

    lines = [
        "## what the engine did",
        "",
        "| | |",
        "|---|---|",
        f"| verdict | {run.verdict} |",
        f"| run (data) | {run.run_s:,.1f} s |",
        f"| warmup | {run.warmup_s:,.1f} s ({pct(run.warmup_data_frac)} of the data; "
        f"ended by {run.warmup_ended_by}; {run.warmup_trades:,} trades, "
        f"{run.warmup_buckets:,} buckets) |",
        f"| after warmup | {run.post_warmup_s:,.1f} s |",
        f"| time quoting (both sides resting at the venue) | {run.quoting_s:,.1f} s "
        f"({pct(run.quoting_frac)} of the time after warmup) |",
        f"| halted (gates in halt mode, warmup and end-of-run shutdown excluded) | "
        f"{run.halted_s:,.1f} s ({pct(run.halted_frac)} of the run) |",
        f"| kill-switch trips | {len(run.kill_switch_trips)} |",
    ]
    lines += [f"| note | {n} |" for n in run.notes]
    lines.append("")
    if run.gate_closures:
        lines += [
            "## gate and kill-switch timeline (s since the run's start)",
            "",
            "| gate | reason | mode | from | to | lasted | kill switch | ended by |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {c.gate} | {c.reason} | {c.mode} | {c.start_s:,.1f} | {c.end_s:,.1f} | "
            f"{c.duration_s:,.1f} s | {'yes' if c.kill_switch else ''} | {c.ended_by} |"
            for c in run.gate_closures
        ]
        lines.append("")
    return lines


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def sharpe_daily(
    ts: npt.NDArray[np.int64], equity: npt.NDArray[np.float64], bucket_s: float = 60.0
) -> float:
    if ts.size < 3:
        return math.nan
    b = ((ts - ts[0]) // int(bucket_s * NS_PER_S)).astype(np.int64)
    last = np.flatnonzero(np.diff(b) != 0)
    ends = np.concatenate((equity[last], equity[-1:]))
    d = np.diff(np.concatenate((equity[:1], ends)))
    if d.size < 2 or not np.std(d) > 0:
        return math.nan
    return float(np.mean(d) / np.std(d) * math.sqrt(86400.0 / bucket_s))


def max_drawdown(equity: npt.NDArray[np.float64]) -> float:
    if not equity.size:
        return 0.0
    return float(np.max(np.maximum.accumulate(equity) - equity))


def markouts(
    fills: list[OwnFill], ts: npt.NDArray[np.int64], mid: npt.NDArray[np.float64]
) -> tuple[dict[str, float], dict[str, float]]:
    bp: dict[str, float] = {}
    px_out: dict[str, float] = {}
    if not fills or not ts.size:
        none = {f"{h:g}s": math.nan for h in MARKOUT_HORIZONS_S}
        return none, dict(none)
    fts = np.array([f.ts for f in fills], dtype=np.int64)
    fpx = np.array([f.px for f in fills])
    fsz = np.array([f.sz for f in fills])
    side = np.array([int(f.side) for f in fills], dtype=np.float64)
    for h in MARKOUT_HORIZONS_S:
        k = np.searchsorted(ts, fts + int(h * NS_PER_S), side="right") - 1
        ok = (k >= 0) & (fts + int(h * NS_PER_S) <= ts[-1])
        key = f"{h:g}s"
        if not ok.any():
            bp[key] = px_out[key] = math.nan
            continue
        m = side[ok] * (mid[k[ok]] - fpx[ok])
        w = fsz[ok]
        px_out[key] = float(np.sum(m * w) / np.sum(w))
        bp[key] = float(np.sum(m / fpx[ok] * 1e4 * w) / np.sum(w))
    return bp, px_out


def plot(
    report: BacktestReport,
    path: dict[str, Any],
    out: Path,
    fills: Sequence[OwnFill] = (),
) -> Path:
    """``backtest.png``: equity with gate closures shaded and kill-switch trips marked,
    position, mid with our fills and our resting bid / ask (see
    :mod:`mmkit.reports.backtest_plot`, whose ``plot_series`` gives the drawn data)."""
    from mmkit.reports.backtest_plot import plot_series, render

    series = plot_series(
        path, fills, report.run, title=f"mmkit backtest ({report.quoter}, {report.mode})"
    )
    return render(series, out)
