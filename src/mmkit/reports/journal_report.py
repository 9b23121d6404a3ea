"""A run's report rebuilt from its journal, with the same implementation as the report a
session prints when it ends (:mod:`mmkit.reports.summary`): the time accounting, verdict
and first line come from :func:`mmkit.reports.run.account_run`, every statistic from
:mod:`mmkit.reports.stats`. This module only reads the inputs from the journal:

* the run spans from the meta ``first_event_ns`` to the engine's end-of-run ``Shutdown``
  closure (else the meta ``last_event_ns``, else the span of the rows), as in the session;
* the gate transitions are the ``gate_events`` rows;
* warmup ends when the warmup gate last reopened (it closes at the start); the estimator's
  last journaled extras say whether it timed out (``warmup.timed_out``) and how long it
  counted from the first market data (``warmup.after_s``); without a reopening, warmup ended
  ``after_s`` after the start if that is known, else never. No warmup gate and no extras
  means no warmup estimator;
* resting quotes: our best bid and ask acknowledged resting at the venue, rebuilt from the
  venue's order updates (:func:`mmkit.runtime.journal_read.best_quotes`): exact at each
  update, where the session samples once per snapshot;
* equity (USD) = realized + unrealized - fees from the engine's ``local`` position snapshots
  (one a second by default); the mids that price the spread captured and the markouts are
  the same snapshots' mids, as in the session's report, so markouts are resolved to the
  snapshot interval at best (the report's fill caveats say so; the journal also keeps the
  engine's mid at each fill, ``fills.mid``, for finer analysis);
* fills are placed at the engine time they were received (``fills.recv_ts``), the clock of
  the snapshots and of the session's report. Journals written before that column existed
  (schema 1) only have the venue's stamp (on a replayed capture, the exchange's clock, which
  may differ from the engine's by the recorder's offset); the report then says so in its
  fill caveats.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmkit.core.types import NS_PER_S
from mmkit.errors import MmkitError
from mmkit.reports.run import RunAccount, WarmupInfo, account_run
from mmkit.reports.stats import EquityStats, FillStats, as_dict, equity_stats, fill_stats
from mmkit.reports.summary import STATS_WINDOW_S, SessionReport
from mmkit.runtime.gate_timeline import GateTimeline
from mmkit.runtime.journal_read import FillArrays, RunData, best_quotes, load_run, open_journal


@dataclass(frozen=True)
class RunReport:
    """One journaled run's report: the session report (``session``: time accounting,
    statistics, rejections, PnL split) and what only the journal knows."""

    path: Path
    coin: str
    mode: str
    stopped_by: str
    session: SessionReport
    #: every gate closure, the end-of-run shutdown included, over the journal's whole span
    timeline: GateTimeline
    orders_sent: int  # place + modify actions
    not_sent: int  # dropped before sending because a halt gate closed (not rejections)
    final_position: float  # base units, NaN without a snapshot
    realized_usd: float  # NaN without a snapshot
    unrealized_usd: float
    fees_usd: float  # net fees paid (USD; negative: rebates exceeded fees)
    equity_usd: float  # at the last snapshot (USD)
    #: spread captured against the engine's mid at each fill (:func:`spread_at_fill`)
    at_fill: dict[str, float] = field(default_factory=dict)
    #: the mid the last snapshot marked the position at (USD; NaN without a snapshot): the
    #: end-of-run snapshot's for a run that ended normally, as in the run summary
    mark: float = math.nan

    @property
    def account(self) -> RunAccount:
        return self.session.run

    @property
    def verdict(self) -> str:
        return self.session.run.verdict

    @property
    def headline(self) -> str:
        return self.session.run.headline

    @property
    def equity(self) -> EquityStats:
        return self.session.stats

    @property
    def fills(self) -> FillStats:
        return self.session.fills

    @property
    def rejections_by_reason(self) -> dict[str, int]:
        return self.session.rejections_by_reason

    @property
    def rejections(self) -> int:
        """Orders the venue (or the local risk check) refused, all reasons."""
        return sum(self.session.rejections_by_reason.values())

    def to_json(self) -> dict[str, Any]:
        """Machine-readable, full precision; non-finite numbers become ``null``. The keys
        ``run``, ``stats``, ``fills``, ``rejections_by_reason`` and ``pnl`` are those of the
        backtest report's JSON."""
        s = self.session
        return {
            "path": str(self.path),
            "coin": self.coin,
            "mode": self.mode,
            "stopped_by": self.stopped_by,
            "run": s.run.to_json(),
            "stats": as_dict(s.stats),
            "fills": as_dict(s.fills),
            "rejections_by_reason": dict(s.rejections_by_reason),
            "rejections": self.rejections,
            "not_sent": self.not_sent,
            "orders_sent": self.orders_sent,
            "pnl": {k: _finite_or_none(v) for k, v in s.pnl.items()},
            "final_position": _finite_or_none(self.final_position),
            "mark": _finite_or_none(self.mark),
            "sample_period_s": _finite_or_none(s.sample_period_s),
            "spread_at_fill": {k: _finite_or_none(v) for k, v in self.at_fill.items()},
        }


def _finite_or_none(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def report_of(path: Path, *, window_s: float = STATS_WINDOW_S) -> RunReport:
    """Load a journal and report on it (an :class:`MmkitError` naming the file if it cannot)."""
    run = load_run(path)
    warmup = read_warmup(path)
    try:
        return build_report(run, warmup=warmup, window_s=window_s)
    except ValueError as exc:  # the statistics refused a value read from the journal
        raise MmkitError(f"{path}: not a readable mmkit journal ({exc})") from None


def read_warmup(path: Path) -> dict[str, float]:
    """The warmup estimator's numbers in the journal's last estimates row that has them
    (``warmup.*`` extras; empty when none was journaled)."""
    with open_journal(path) as db:
        try:
            rows = db.execute(
                "SELECT extras FROM estimates WHERE extras LIKE '%\"warmup.%' "
                "ORDER BY ts DESC, id DESC LIMIT 1"
            ).fetchall()
        except sqlite3.DatabaseError:
            return {}
    if not rows or not isinstance(rows[0][0], str):
        return {}
    try:
        extras = json.loads(rows[0][0])
    except ValueError:
        return {}
    if not isinstance(extras, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in extras.items()
        if str(k).startswith("warmup.") and isinstance(v, int | float) and not isinstance(v, bool)
    }


def run_span(run: RunData) -> tuple[int, int]:
    """``(start_ns, end_ns)`` of the report: from the run's first event to the engine's
    end-of-run shutdown (the timeline's end when there was none)."""
    start = run.start_ns
    shut = [
        e.closed_ns for e in run.timeline.episodes if e.gate == "engine" and e.reason == "Shutdown"
    ]
    end = min(shut) if shut else run.end_ns
    return start, max(start, min(end, run.end_ns))


def warmup_of(run: RunData, extras: dict[str, float], start_ns: int) -> WarmupInfo | None:
    """The warmup estimator's end state, as far as the journal tells (module docstring)."""
    warm = [e for e in run.timeline.episodes if e.gate == "warmup"]
    if not warm and not extras:
        return None
    after = extras.get("warmup.after_s", math.nan)
    timed_out = extras.get("warmup.timed_out", 0.0) == 1.0
    if warm and warm[-1].ended_by == "reopened":
        # warmup ended when its gate reopened; it counted ``after_s`` from the first data
        end = warm[-1].end_ns
        first = end - round(after * NS_PER_S) if math.isfinite(after) else start_ns
        first = min(max(first, start_ns), end)
        return WarmupInfo(first, True, timed_out, (end - first) / NS_PER_S, 0, 0)
    if math.isfinite(after):
        return WarmupInfo(start_ns, True, timed_out, after, 0, 0)
    return WarmupInfo(start_ns, False, False, math.nan, 0, 0)


def build_report(
    run: RunData, *, warmup: dict[str, float] | None = None, window_s: float = STATS_WINDOW_S
) -> RunReport:
    """The report of loaded journal data (pure: no file access). ``warmup`` holds the
    journaled ``warmup.*`` extras (:func:`read_warmup`)."""
    start, end = run_span(run)
    qt, bid, ask = best_quotes(run.quotes)
    last = run.equity_usd.size - 1
    equity = float(run.equity_usd[last]) if last >= 0 else math.nan
    account = account_run(
        start_ns=start,
        end_ns=end,
        rows=run.gate_rows,
        warmup=warmup_of(run, warmup or {}, start),
        quote_ts_ns=qt,
        quote_bid=bid,
        quote_ask=ask,
        fills=len(run.fills),
        equity_usd=equity,
        faults=run.fault_counts,
    )
    f = run.fills
    fs = fill_stats(
        f.ts_ns, f.side, f.px, f.sz, f.fee, run_s=account.run_s,
        mids_ts_ns=run.snap_ts_ns, mids=run.mid,
    )  # fmt: skip
    es = equity_stats(
        run.snap_ts_ns, run.equity_usd, window_s=window_s, notional_usd=_notional(run)
    )
    period = (
        float(np.median(np.diff(run.snap_ts_ns))) / NS_PER_S
        if run.snap_ts_ns.size > 1
        else math.nan
    )
    fs = _with_caveats(fs, fill_caveats(run, period))
    realized = float(run.realized[last]) if last >= 0 else math.nan
    unrealized = float(run.unrealized[last]) if last >= 0 else math.nan
    fees = equity - realized - unrealized if last >= 0 else math.nan  # = -(fees paid)
    session = SessionReport(
        run=account,
        fills=fs,
        stats=es,
        rejections_by_reason=dict(sorted(run.rejections_by_reason.items())),
        pnl={
            "realized_trading_usd": realized,
            "fees_net_usd": fees,
            "unrealized_inventory_usd": unrealized,
            "equity_usd": equity,
        },
        sample_period_s=period,
    )
    return RunReport(
        path=run.path,
        coin=run.meta.get("coin", ""),
        mode=run.meta.get("mode", ""),
        stopped_by=run.meta.get("stopped_by", ""),
        session=session,
        timeline=run.timeline,
        orders_sent=run.orders_sent,
        not_sent=run.not_sent,
        final_position=float(run.position[last]) if last >= 0 else math.nan,
        realized_usd=realized,
        unrealized_usd=unrealized,
        fees_usd=-fees,
        equity_usd=equity,
        at_fill=spread_at_fill(run.fills),
        mark=float(run.mid[last]) if last >= 0 else math.nan,
    )


def spread_at_fill(f: FillArrays) -> dict[str, float]:
    """Spread captured against the engine's mid when each fill arrived (``fills.mid``,
    schema 2), not the last 1 s snapshot's: ``spread_captured_bp`` size weighted (bp of
    that mid), ``spread_captured_usd`` (USD), and ``fills`` with a known mid (schema-1
    journals: 0, and NaN figures). Only the journal keeps these mids, so the run summary
    has no such figure; its spread captured is on the snapshot grid."""
    ok = np.isfinite(f.mid) if f.mid.size == len(f) else np.zeros(len(f), dtype=bool)
    n = int(np.count_nonzero(ok))
    if n == 0:
        return {"fills": 0.0, "spread_captured_bp": math.nan, "spread_captured_usd": math.nan}
    mid, px, sz = f.mid[ok], f.px[ok], f.sz[ok]
    edge = f.side[ok] * (mid - px)  # USD per unit: positive bought below / sold above
    return {
        "fills": float(n),
        "spread_captured_bp": float(np.sum(edge / mid * 1e4 * sz) / np.sum(sz)),
        "spread_captured_usd": float(np.sum(edge * sz)),
    }


def fill_caveats(run: RunData, period_s: float) -> list[str]:
    """What the reader of the fill statistics must know about where they come from: the
    fill clock when the journal lacks receive times, and the mid grid the markouts are
    priced on (``period_s``: the snapshot interval, s)."""
    out: list[str] = []
    note = run.fills.clock_note
    if note:
        out.append(note)
    if len(run.fills) and math.isfinite(period_s):
        out.append(
            f"spread captured and markouts use the mid of the last position snapshot "
            f"(every {period_s:g} s) at or before each time, as the run summary does: "
            f"markouts are resolved to {period_s:g} s at best"
        )
    return out


def _with_caveats(fs: FillStats, extra: list[str]) -> FillStats:
    """``fs`` with ``extra`` appended to its caveat (``; ``-separated, as the statistics
    write theirs; unchanged when there is nothing to add)."""
    if not extra:
        return fs
    return dataclasses.replace(fs, caveat="; ".join([c for c in (fs.caveat,) if c] + extra))


def _notional(run: RunData) -> float | None:
    """The largest position the config allows, at the run's median mid (USD), for a return
    in % of it; None when the journal's config does not say."""
    text = run.meta.get("config")
    if not text or run.mid.size == 0:
        return None
    try:
        risk = tomllib.loads(text).get("risk", {})
        max_pos = float(risk.get("max_position", math.nan))
    except (tomllib.TOMLDecodeError, TypeError, ValueError, AttributeError):
        return None
    notional = max_pos * float(np.median(run.mid))
    return notional if math.isfinite(notional) and notional > 0 else None


def usd(x: float, *, sign: bool = True) -> str:
    """Money for people: ``+1,234.57 USD`` with cents from 1 USD up, three significant figures
    below (``-0.00434 USD``), ``n/a`` when not a number."""
    if not math.isfinite(x):
        return "n/a"
    s = "+" if sign else ""
    if x == 0:
        return "0.00 USD"
    if abs(x) >= 1.0:
        return f"{x:{s},.2f} USD"
    return f"{x:{s}#.3g} USD"


def size(x: float) -> str:
    """A position or size in base units to at most 6 decimals, trailing zeros dropped."""
    if not math.isfinite(x):
        return "n/a"
    text = f"{x:+.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("+0", "-0") else text
