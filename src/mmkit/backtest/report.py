"""The backtest report: PnL, fills, inventory, Sharpe, drawdown and adverse-selection markouts.

* PnL from the engine's portfolio (realized, unrealized at the last mid, fees; equity =
  realized + unrealized - fees).
* Fill ratio = fills / orders sent (places and modifies).
* Sharpe of equity changes over ``sharpe_bucket_s`` buckets, scaled to one day
  (``sqrt(86400 / bucket)``); max drawdown of the sampled equity path.
* Markouts at 1 s / 5 s / 30 s: for each fill, ``side * (mid(t + h) - px)``, per unit and
  in bp of the fill price, averaged over fills (size weighted); negative = adverse selection.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.core.events import OwnFill
from mmkit.core.types import NS_PER_S

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

    def to_json(self, *, timing: bool = True) -> dict[str, Any]:
        d = asdict(self)
        if not timing:
            d.pop("timing")
        out: dict[str, Any] = _clean(d)
        return out

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
            ("Sharpe (daily)", f"{self.sharpe_daily:.3f}"),
            ("max drawdown", f"{self.max_drawdown:,.4f}"),
        ]
        rows += [(f"markout {k} (bp)", f"{v:+.3f}") for k, v in self.markouts_bp.items()]
        rows.append(("rejections", f"{self.rejections:,}"))
        rows += [(f"  {k}", str(v)) for k, v in self.rejection_reasons.items()]
        rows.append(("faults refused", str(self.faults)))
        rows += [(f"timing: {k}", f"{v:.3f}") for k, v in self.timing.items()]
        lines = ["# mmkit backtest", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        j = out_dir / "report.json"
        m = out_dir / "report.md"
        j.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        m.write_text(self.to_markdown())
        return j, m


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


def plot(report: BacktestReport, path: dict[str, Any], out: Path) -> Path:
    from mmkit.extras import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    ts = path["ts"]
    t = (ts - ts[0]) / NS_PER_S / 60.0 if ts.size else ts
    axes[0].plot(t, path["equity"], lw=0.8)
    axes[0].set_ylabel("equity")
    axes[1].plot(t, path["position"], lw=0.8, color="C1")
    axes[1].set_ylabel("position")
    axes[2].plot(t, path["mid"], lw=0.8, color="C2")
    axes[2].set_ylabel("mid")
    axes[2].set_xlabel("minutes")
    axes[0].set_title(f"mmkit backtest ({report.quoter}, {report.mode})")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
