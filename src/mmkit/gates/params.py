"""Parameters of the built-in gates (standard library only: imported at CLI start)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from mmkit.core.outcomes import RejectionClass
from mmkit.params import param

#: rejections per class within ``rejection_window_s`` that trip the kill switch (0 = off).
#: post_only: routine for ALO quoting (paced by the per-side backoff), off; venue (5xx,
#: cannot connect): outages belong to venue health and the data-quality gate, off; margin
#: and auth: a handful already means the account or signer is broken; price: the rounding
#: rules are wrong; rate_limit: the executor's own pacing failed.
DEFAULT_REJECTION_LIMITS: dict[str, int] = {
    RejectionClass.POST_ONLY.value: 0,
    RejectionClass.MARGIN.value: 5,
    RejectionClass.PRICE.value: 10,
    RejectionClass.RATE_LIMIT.value: 30,
    RejectionClass.AUTH.value: 5,
    RejectionClass.OTHER.value: 10,
    RejectionClass.VENUE.value: 0,
}


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
    max_rejections: int = param(
        20,
        ge=1,
        help="trip after this many rejections of all classes together in the window (a "
        "backstop over the per-class rejection_limits; reasons in ignored_rejections and "
        "those that are not rejections -- gone orders, rate limits, 5xx, not sent -- excluded)",
    )
    ignored_rejections: list[str] = param(
        ["post_only_would_cross"],
        help="reject reasons left out of the max_rejections total: a post-only order meeting a "
        "moved book is the routine outcome of ALO quoting (the per-side rejection backoff paces "
        "it), not a fault; rejection_limits still count them by class",
    )
    rejection_window_s: float = param(
        60.0,
        gt=0,
        le=31_536_000.0,  # a year: the window is kept in int64 nanoseconds (1e300 overflowed)
        help="rolling window (s) of the rejection counts, total and per class",
    )
    rejection_limits: dict[str, int] = param(
        dict(DEFAULT_REJECTION_LIMITS),
        help="per rejection class, trip when this many of its rejections fall in the window "
        "(0 = off; classes not named keep their default): post_only (routine for ALO "
        "quoting), margin, price (tick/size/notional/price rules), rate_limit (429, "
        "batch weight, open-order cap), auth (nonce, expiry, signature), other, venue (5xx)",
    )

    def __post_init__(self) -> None:
        known = [c.value for c in RejectionClass if c is not RejectionClass.NONE]
        problems = []
        for cls, limit in self.rejection_limits.items():
            if cls not in known:
                close = difflib.get_close_matches(cls, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(
                    f"rejection_limits: unknown rejection class {cls!r}{hint} "
                    f"(known: {', '.join(known)})"
                )
            elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                problems.append(
                    f"rejection_limits.{cls}: {limit!r} must be an integer >= 0 (0 = off)"
                )
        if problems:
            raise ValueError("; ".join(problems))

    def rejection_limit(self, cls: RejectionClass) -> int:
        """The effective limit of class ``cls`` (its configured value, else the default;
        0 = no limit; the ``none`` class is never counted)."""
        if cls is RejectionClass.NONE:
            return 0
        return self.rejection_limits.get(cls.value, DEFAULT_REJECTION_LIMITS.get(cls.value, 0))
