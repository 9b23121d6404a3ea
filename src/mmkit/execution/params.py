"""Parameters of the ``smart`` executor (standard library only: imported at CLI start)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkit.params import param


@dataclass(frozen=True)
class SmartExecutorParams:
    # reconciliation
    smart_reconcile: bool = param(
        True, help="reprice with MODIFY (PLACE fallback) not cancel+place"
    )
    price_tolerance_bps: float = param(0.5, ge=0, help="keep an order this close to its target")
    size_tolerance_frac: float = param(0.1, ge=0, lt=1, help="keep an order this close in size")
    tif: Literal["Alo", "Gtc"] = param("Alo", help="time in force of quotes")
    min_requote_interval_ms: float = param(100.0, ge=0, help="minimum time between requotes")
    # IP and address rate limits (Hyperliquid §6)
    ip_limit_per_min: float = param(1200.0, gt=0, help="IP weight allowed per rolling minute")
    ip_throttle_frac: float = param(
        0.9, gt=0, le=1, help="normal traffic stops at this fraction (rest kept for cancels)"
    )
    ip_warn_frac: float = param(0.8, gt=0, le=1, help="warn above this fraction of the IP limit")
    address_initial_budget: float = param(10_000.0, ge=0, help="address requests before volume")
    address_exhausted_interval_s: float = param(
        10.0, gt=0, help="one request per this many seconds once the address budget is spent"
    )
    # 429 / transport backoff
    retry_backoff_initial_s: float = param(1.0, gt=0, help="first backoff after HTTP 429")
    retry_backoff_max_s: float = param(60.0, gt=0, help="longest backoff after repeated 429s")
    retry_backoff_jitter: float = param(0.25, ge=0, le=1, help="relative jitter of the backoff")
    query_retry_s: float = param(1.0, gt=0, help="re-query an unresolved order this often")
    # rejection backoff per side
    rejection_threshold: int = param(3, ge=1, help="consecutive rejections before backing off")
    rejection_backoff_initial_s: float = param(5.0, gt=0, help="first rejection backoff")
    rejection_backoff_max_s: float = param(120.0, gt=0, help="longest rejection backoff")
    rejection_backoff_mult: float = param(2.0, ge=1, help="backoff growth per extra rejection")
    # execution budget (token bucket)
    budget_initial: float = param(1_000.0, ge=0, help="tokens at start")
    budget_max: float = param(10_000.0, gt=0, help="token bucket capacity")
    budget_per_usd_filled: float = param(1.0, ge=0, help="tokens earned per USD filled")
    budget_refill_per_s: float = param(0.0, ge=0, help="tokens earned per second (0 = fills only)")
    cost_per_action: float = param(1.0, gt=0, help="tokens per order action")
    emergency_reserve: float = param(20.0, ge=0, help="tokens only kill-switch cancels may use")
    # position reconciliation and startup
    sync_interval_s: float = param(10.0, gt=0, help="position sync timer")
    sync_min_interval_s: float = param(2.0, ge=0, help="at most one sync per this many seconds")
    sync_position_change_frac: float = param(
        0.05, gt=0, help="sync when the position moved this fraction of max_position"
    )
    sync_timeout_s: float = param(5.0, gt=0, help="give up waiting for a sync answer after this")
    startup_policy: Literal["cancel", "adopt"] = param(
        "cancel", help="what to do with open orders found at startup that we did not place"
    )
    orphan_grace_ms: float = param(
        2_000.0, ge=0, help="an untracked venue order older than this is cancelled"
    )
    ghost_ttl_s: float = param(
        10.0,
        gt=0,
        help="an ended order whose fills may be unseen counts against its level this long at most",
    )
    tape_risk_s: float = param(
        2.0,
        gt=0,
        help="an order the public tape printed at or through is treated as possibly partly "
        "filled (never modified back up) until its fill or fate arrives, or this long at most",
    )
    fill_match_grace_ms: float = param(
        2_000.0, ge=0, help="wait this long for an unknown fill's order to be acknowledged"
    )
