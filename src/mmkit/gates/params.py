"""Parameters of the built-in gates (standard library only: imported at CLI start)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkit.params import param


@dataclass(frozen=True)
class DataQualityParams:
    """The data-quality quote gate (seed report §3)."""

    max_data_age_ms: float = param(
        30_000.0, gt=0, help="the freshest stream (or each of `streams`) older than this is stale"
    )
    max_book_age_ms: float = param(
        5_000.0,
        ge=0,
        help="the book (latest snapshot or delta) older than this is stale even while other "
        "streams flow; 0 turns the check off",
    )
    streams: list[str] = param(
        [],
        help="streams that must each be fresh; empty = the freshest stream counts (per symbol)",
    )
    regression_hold_ms: float = param(
        1_000.0, ge=0, help="stay closed this long after a market-data timestamp regression"
    )
    check_position_known: bool = param(True, help="close while the venue position is unknown")
    emergency: bool = param(
        False, help="mark closures as emergencies (cancels may use the budget's reserve)"
    )


@dataclass(frozen=True)
class KillSwitchParams:
    """The kill switch: latches until reset (seed report §7)."""

    mode: Literal["halt", "reduce_only"] = param(
        "halt", help="halt: cancel everything and stop; reduce_only: only shrink the position"
    )
    max_drawdown_usd: float = param(
        100.0, gt=0, help="trip when equity falls this far below its peak"
    )
    max_daily_loss_usd: float = param(200.0, gt=0, help="trip when the UTC day's loss exceeds this")
    max_position_mult: float = param(
        1.5, gt=0, help="trip when |position| exceeds this multiple of risk.max_position"
    )
    max_stale_s: float = param(120.0, gt=0, help="trip when no usable market data for this long")
    unexplained_position_frac: float = param(
        0.25,
        gt=0,
        help="trip when the position jumps by this fraction of max_position without a fill",
    )
    max_rejections: int = param(20, ge=1, help="trip after this many rejections in the window")
    ignored_rejections: list[str] = param(
        ["post_only_would_cross"],
        help="reject reasons that do not count: a post-only order meeting a moved book is the "
        "routine outcome of ALO quoting (the per-side rejection backoff paces it), not a fault",
    )
    rejection_window_s: float = param(60.0, gt=0, help="rolling window of the rejection count")
