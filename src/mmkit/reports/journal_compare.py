"""``mmkit journal compare RUN RUN [RUN...]``: the runs' headline figures side by side.

Each row is one figure of :class:`~mmkit.reports.journal_report.RunReport` (same
definitions, same Sharpe window for every run) with its value per run and, for numbers, the
difference of every later run from the first (``run k - run 1``, in the row's unit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mmkit.reports.journal_report import RunReport, size, usd


@dataclass(frozen=True)
class Metric:
    """A compared figure: ``key`` (JSON), ``label`` (with its unit), how to read it from a
    report and how to print it (numbers) or None (text)."""

    key: str
    label: str
    get: Callable[[RunReport], float | int | str]
    fmt: Callable[[float], str] | None
    #: how a difference prints (default: like the values)
    diff_fmt: Callable[[float], str] | None = None


def _num(spec: str, unit: str = "") -> Callable[[float], str]:
    def f(x: float) -> str:
        if not math.isfinite(x):
            return "n/a"
        return f"{int(x) if spec.endswith('d') else x:{spec}}{unit}"

    return f


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100.0 * x:.1f}%"


def _pp(x: float) -> str:
    """A difference of two fractions, in percentage points."""
    return "n/a" if not math.isfinite(x) else f"{100.0 * x:+.1f} pp"


def _markout(h: str) -> Metric:
    """The markout at horizon ``h`` ("5s") in bp of the fill price."""

    def get(r: RunReport) -> float:
        return r.fills.markouts_bp.get(h, math.nan)

    return Metric(f"markout_{h}_bp", f"markout {h} (bp)", get, _num("+.2f"))


METRICS: tuple[Metric, ...] = (
    Metric("verdict", "verdict", lambda r: r.verdict, None),
    Metric("mode", "mode", lambda r: r.mode, None),
    Metric("coin", "coin", lambda r: r.coin, None),
    Metric("stopped_by", "stopped by", lambda r: r.stopped_by, None),
    Metric("run_s", "run length (s)", lambda r: r.account.run_s, _num(",.1f")),
    Metric("warmup_s", "warmup (s)", lambda r: r.account.warmup_s, _num(",.1f")),
    Metric(
        "quoting_frac", "quoting both sides (% after warmup)",
        lambda r: r.account.quoting_frac, _pct, _pp,
    ),
    Metric(
        "halted_s", "halted after warmup (s)",
        lambda r: r.account.post_warmup_halted_s, _num(",.1f"),
    ),
    Metric(
        "kill_trips", "kill-switch trips", lambda r: len(r.account.kill_switch_trips), _num("d"),
    ),
    Metric(
        "component_faults", "component faults", lambda r: r.account.component_faults,
        _num(",d"),
    ),
    Metric("fills", "fills", lambda r: r.fills.fills, _num(",d")),
    Metric("fills_bid", "fills bid (buys)", lambda r: r.fills.fills_bid, _num(",d")),
    Metric("fills_ask", "fills ask (sells)", lambda r: r.fills.fills_ask, _num(",d")),
    Metric("fills_per_hour", "fills per hour", lambda r: r.fills.fills_per_hour, _num(",.1f")),
    Metric("volume_usd", "volume (USD)", lambda r: r.fills.volume_usd, _num(",.2f")),
    Metric("turnover", "turnover (USD/hour)", lambda r: r.fills.turnover, _num(",.0f")),
    Metric("equity_usd", "equity at end (USD)", lambda r: r.equity_usd, usd),
    Metric("realized_usd", "realized PnL (USD)", lambda r: r.realized_usd, usd),
    Metric("fees_usd", "fees, net (USD)", lambda r: r.fees_usd, usd),
    Metric("final_position", "final position (base)", lambda r: r.final_position, size),
    Metric("return_usd", "return (USD)", lambda r: r.equity.return_usd, usd),
    Metric(
        "max_drawdown_usd", "max drawdown (USD)", lambda r: r.equity.max_drawdown_usd,
        lambda x: usd(x, sign=False),
    ),
    Metric(
        "return_over_max_dd", "return / max drawdown", lambda r: r.equity.return_over_max_dd,
        _num("+.2f"),
    ),
    Metric("sharpe", "Sharpe (per window)", lambda r: r.equity.sharpe, _num("+.3f")),
    Metric("sharpe_daily", "Sharpe (daily)", lambda r: r.equity.sharpe_daily, _num("+.2f")),
    Metric("sortino", "Sortino (per window)", lambda r: r.equity.sortino, _num("+.3f")),
    Metric("n_windows", "Sharpe windows", lambda r: r.equity.n_windows, _num(",d")),
    Metric(
        "spread_captured_bp", "spread captured (bp)", lambda r: r.fills.spread_captured_bp,
        _num("+.2f"),
    ),
    *(_markout(h) for h in ("1s", "5s", "30s", "60s")),
    Metric("rejections", "rejections", lambda r: r.rejections, _num(",d")),
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One compared figure: the value per run and ``run k - run 1`` for k = 2.. (numbers)."""

    key: str
    label: str
    values: list[float | int | str]
    diffs: list[float | None]  # None for text rows
    text: list[str]  # values as printed
    diff_text: list[str]


def compare(reports: Sequence[RunReport]) -> list[Row]:
    """The :data:`METRICS` of ``reports`` side by side (at least two)."""
    if len(reports) < 2:
        raise ValueError("compare needs at least two runs")
    rows: list[Row] = []
    for m in METRICS:
        vals = [m.get(r) for r in reports]
        if m.fmt is None:
            same = ["same" if v == vals[0] else "differs" for v in vals[1:]]
            none: list[float | None] = [None] * (len(vals) - 1)
            rows.append(Row(m.key, m.label, vals, none, [str(v) for v in vals], same))
            continue
        nums = [float(v) if not isinstance(v, str) else math.nan for v in vals]
        diffs: list[float | None] = [x - nums[0] for x in nums[1:]]
        fmt = m.fmt
        dfmt = m.diff_fmt or fmt
        rows.append(
            Row(
                m.key,
                m.label,
                vals,
                diffs,
                [fmt(x) for x in nums],
                [_diff_text(d, dfmt) for d in diffs],
            )
        )
    return rows


def _diff_text(d: float | None, fmt: Callable[[float], str]) -> str:
    if d is None or not math.isfinite(d):
        return "n/a"
    if d == 0:
        return "="
    text = fmt(d)
    return text if text.startswith(("+", "-")) else f"+{text}"


def to_json(reports: Sequence[RunReport], rows: Sequence[Row]) -> dict[str, Any]:
    """``{"runs": [...], "rows": [{key, label, values, diff_vs_first}], "reports": [...]}``
    with full precision (non-finite numbers as ``null``)."""

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return {
        "runs": [str(r.path) for r in reports],
        "rows": [
            {"key": row.key, "label": row.label, "values": [clean(v) for v in row.values],
             "diff_vs_first": [clean(d) for d in row.diffs]}
            for row in rows
        ],
        "reports": [r.to_json() for r in reports],
    }  # fmt: skip
