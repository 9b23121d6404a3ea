"""The report of a finished session (paper, live or backtest), from what its observer recorded.

One implementation for every runner: :func:`session_report` turns the observer's records
(:class:`mmkit.runtime.observer.RunObserver`: fills with the engine time they were applied
at, gate transitions, periodic samples of mid / position / equity / resting quotes) into
the run's time accounting (:mod:`mmkit.reports.run`) and statistics
(:mod:`mmkit.reports.stats`); :func:`report_rows` renders them as table rows for the
``mmkit trade`` summary.

In paper and live runs the samples are the session's snapshots (one per second of engine
time by default), and "resting" means the orders the executor holds as acknowledged by the
venue; backtests measure the venue's own open orders every 100 ms instead
(:mod:`mmkit.backtest.runner`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mmkit.core.types import NS_PER_S
from mmkit.reports.run import RunAccount, WarmupInfo, account_run
from mmkit.reports.stats import (
    EquityStats,
    FillStats,
    equity_stats,
    fill_stats_of,
    to_rows,
)
from mmkit.twins import summary as twin_summary

if TYPE_CHECKING:
    from mmkit.runtime.session import Session

log = logging.getLogger("mmkit.run")

#: Sharpe / Sortino window of the session report (seconds), stated with the ratios
STATS_WINDOW_S = 60.0


@dataclass(frozen=True)
class SessionReport:
    """What a session did (``run``), its fills and equity statistics, its rejections by
    reason and its equity split into realized trading PnL, net fees and inventory (USD)."""

    run: RunAccount
    fills: FillStats
    stats: EquityStats
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    pnl: dict[str, float] = field(default_factory=dict)
    sample_period_s: float = math.nan


def warmup_info(engine: Any) -> WarmupInfo | None:
    """The state of the engine's warmup estimator (the first one configured), or None when
    the engine has none."""
    from mmkit.estimators.warmup import WarmupEstimator

    for kind, _name, comp in engine.components():
        if kind == "estimator" and isinstance(comp, WarmupEstimator):
            return WarmupInfo(
                first_ns=comp.first_ns,
                warmed_up=comp.warmed_up,
                timed_out=comp.timed_out,
                finished_after_s=comp.finished_after_s,
                # what the warmup consumed when it ended (else what it has seen so far)
                trades=comp.trades_at_end if comp.warmed_up else comp.trades,
                buckets=comp.buckets_at_end if comp.warmed_up else comp.buckets,
            )
    return None


def session_report(session: Session) -> SessionReport:
    """The report of ``session`` from its observer's records (see the module docstring)."""
    obs = session.observer
    eng = session.engine
    st = session.stats
    start = st.first_ts if st.first_ts >= 0 else 0
    end = obs.shutdown_ns if obs.shutdown_ns >= 0 else max(st.last_ts, start)
    smp = obs.samples
    ts = np.array([s[0] for s in smp], dtype=np.int64)
    mid = np.array([s[1] for s in smp], dtype=np.float64)
    eq = np.array([s[3] for s in smp], dtype=np.float64)
    bid = np.array([s[4] for s in smp], dtype=np.float64)
    ask = np.array([s[5] for s in smp], dtype=np.float64)
    pf = eng.portfolio
    last = session.final
    if last is not None:  # the end-of-run snapshot, the journal's last row
        m = last.mid
        equity = last.equity if math.isfinite(m) else math.nan
        unreal = last.unrealized if math.isfinite(m) else 0.0
    else:
        m = float(eng.market.mid)
        equity = float(pf.equity(m)) if math.isfinite(m) else math.nan
        unreal = float(pf.unrealized(m)) if math.isfinite(m) else 0.0
    qt, qbid, qask = ts, bid, ask
    if obs.order_quotes:  # the venue's order updates, as the journal's report reads them
        from mmkit.runtime.journal_read import best_quotes

        qt, qbid, qask = best_quotes(sorted(obs.order_quotes, key=lambda q: q.ts_ns))
    run = account_run(
        start_ns=start,
        end_ns=end,
        rows=obs.gate_rows,
        warmup=warmup_info(eng),
        quote_ts_ns=qt,
        quote_bid=qbid,
        quote_ask=qask,
        fills=len(obs.fill_log),
        equity_usd=equity,
        faults=eng.fault_log.counts(),
    )
    if eng.twin_choices:
        run.notes.append(twin_summary(eng.twin_choices))
    fl = obs.engine_clock_fills()
    fstats = fill_stats_of(fl, run_s=run.run_s, mids_ts_ns=ts, mids=mid)
    ok_eq = np.isfinite(eq)
    estats = equity_stats(ts[ok_eq], eq[ok_eq], window_s=STATS_WINDOW_S)
    period = float(np.median(np.diff(ts))) / NS_PER_S if ts.size > 1 else math.nan
    return SessionReport(
        run=run,
        fills=fstats,
        stats=estats,
        rejections_by_reason=dict(sorted(st.reject_reasons.items())),
        pnl={
            "realized_trading_usd": float(pf.realized),
            "fees_net_usd": -float(pf.fees),
            "unrealized_inventory_usd": unreal,
            "equity_usd": equity,
        },
        sample_period_s=period,
    )


def try_session_report(session: Session) -> SessionReport | None:
    """:func:`session_report`, or None after logging why it could not be built: the end of
    a live run must still print its summary and exit with its status."""
    try:
        return session_report(session)
    except (ValueError, TypeError, AttributeError) as exc:
        log.error("run report not available: %s: %s", type(exc).__name__, exc)
        return None


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f}%" if math.isfinite(x) else "n/a"


def report_rows(rep: SessionReport, *, max_closures: int = 8) -> list[tuple[str, str]]:
    """Table rows (label, value with units) of a session report."""
    r = rep.run
    per = f"sampled every {rep.sample_period_s:g} s" if math.isfinite(rep.sample_period_s) else ""
    rows: list[tuple[str, str]] = [
        ("verdict", r.verdict),
        (
            "warmup",
            f"{r.warmup_s:,.1f} s ({_pct(r.warmup_data_frac)} of the run; ended by "
            f"{r.warmup_ended_by})",
        ),
        (
            "time quoting (both sides resting)",
            f"{r.quoting_s:,.1f} s ({_pct(r.quoting_frac)} of the {r.post_warmup_s:,.1f} s "
            f"after warmup{'; ' + per if per else ''})",
        ),
        (
            "halted (warmup, end-of-run shutdown excluded)",
            f"{r.halted_s:,.1f} s ({_pct(r.halted_frac)} of the run)",
        ),
        ("kill-switch trips", str(len(r.kill_switch_trips))),
    ]
    rows += [
        (f"  trip at {t.t_s:,.1f} s", f"{t.gate}: {t.description}") for t in r.kill_switch_trips
    ]
    shown = r.gate_closures[:max_closures]
    rows += [
        (
            f"  gate {c.gate} closed",
            f"{c.start_s:,.1f} s - {c.end_s:,.1f} s ({c.duration_s:,.1f} s; {c.reason}, "
            f"{c.mode}{'; kill switch' if c.kill_switch else ''})",
        )
        for c in shown
    ]
    if len(r.gate_closures) > len(shown):
        rows.append(("  more gate closures", str(len(r.gate_closures) - len(shown))))
    rows += [
        (f"{k} (USD)", f"{v:+,.4f}" if math.isfinite(v) else "n/a") for k, v in rep.pnl.items()
    ]
    rows += to_rows(rep.fills)
    rows += to_rows(rep.stats)
    rej = rep.rejections_by_reason
    rows.append(
        (
            "rejections by reason",
            ", ".join(f"{k} {v:,}" for k, v in sorted(rej.items(), key=lambda kv: -kv[1]))
            or "none",
        )
    )
    return rows
