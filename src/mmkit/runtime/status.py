"""A flat snapshot of a running session, for the dashboard, metrics and the summary."""

from __future__ import annotations

import math
from typing import Any

from mmkit.runtime.session import Session


def session_status(session: Session) -> dict[str, Any]:
    eng = session.engine
    pf = eng.portfolio
    est = eng.estimates
    mid = eng.market.mid
    executor_status: dict[str, Any] = {}
    status_fn = getattr(eng.executor, "status", None)
    if callable(status_fn):
        try:
            executor_status = dict(status_fn())
        except Exception as exc:  # a dashboard must not take the run down
            executor_status = {"status_error": f"{type(exc).__name__}: {exc}"}
    unreal = pf.unrealized(mid)
    equity = pf.equity(mid)
    position = pf.position
    end = session.final
    if end is not None:
        # the run is over: its end-of-run snapshot, the journal's last row, so the summary and
        # `mmkit journal show` report one figure (realized + unrealized at that mid - fees)
        mid, unreal, equity, position = end.mid, end.unrealized, end.equity, end.position
    return {
        "mid": mid,
        "best_bid": eng.market.best_bid,
        "best_ask": eng.market.best_ask,
        "position": position,
        "realized": pf.realized,
        "unrealized": unreal,
        "fees": pf.fees,
        "equity": equity,
        "equity_start": session.stats.equity_start,
        # the venue's account value in the start-up snapshot: equity change compares with
        # (account value now - this)
        "account_value_start": eng.reconciler.open_account_value,
        "adjusted_position": pf.adjusted_position,
        "adjustments_usd": pf.adjustments_usd,
        "adjustment_count": pf.adjustment_count,
        # venue snapshots that disagreed with our fills: each divergence once; adopted ones
        # (persisted past the minimum age) are the adjustments, the rest were fills in flight
        "divergences_seen": eng.reconciler.divergences_seen,
        "divergences_adopted": eng.reconciler.counts["adopted"],
        "divergence_pending": eng.reconciler.pending is not None,
        "fills": pf.fill_count,
        "volume_usd": pf.volume_usd,
        "kappa": est.kappa,
        "kappa_confidence": est.kappa_confidence,
        "sigma": est.sigma,
        "sigma_confidence": est.sigma_confidence,
        "warmed_up": est.warmed_up,
        "warmup_waiting": est.warmup_waiting,
        "cascade": est.cascade,
        "closed_gates": {k: v.describe() for k, v in eng.closed.items()},
        "ladder_bids": [(q.px, q.sz) for q in eng.last_ladder.bids],
        "ladder_asks": [(q.px, q.sz) for q in eng.last_ladder.asks],
        "faults": eng.faults,
        # input events the components rejected (mmkit.faults), and both per component
        "rejected_events": eng.rejected_events,
        "faults_by_component": dict(eng.fault_log.by_component),
        "rejections": session.stats.rejections,
        "not_sent": session.stats.not_sent,
        "actions": session.stats.actions,
        "max_drawdown": session.stats.max_drawdown,
        "executor": executor_status,
    }


def numeric_values(status: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in status.items():
        if isinstance(v, bool) or (isinstance(v, int | float) and math.isfinite(float(v))):
            out[k] = float(v)
    for k, v in status.get("executor", {}).items():
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v)):
            out[f"executor.{k}"] = float(v)
    return out
