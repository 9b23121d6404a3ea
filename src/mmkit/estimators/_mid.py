"""Mid price from book events, validated (never raises, NaN when there is none)."""

from __future__ import annotations

import math
from typing import Any

from mmkit.core.events import EventKind


def valid_mid(bid: float, ask: float) -> float:
    """``(bid + ask) / 2`` for a finite, positive, uncrossed touch; NaN otherwise."""
    if not (math.isfinite(bid) and math.isfinite(ask)) or bid <= 0.0 or ask <= bid:
        return math.nan
    mid = 0.5 * (bid + ask)
    return mid if math.isfinite(mid) else math.nan


#: (event, mid) of the last event asked about: kappa and sigma ask for the same event.
#: Replaced as one tuple, so that a reader never pairs one event with another's mid.
_last: tuple[Any, float] = (None, math.nan)


def event_mid(ev: Any) -> float:
    """The mid of a ``BookSnapshot`` or ``BBO`` event (NaN for anything else or a bad book).

    The last answer is cached by identity (events are immutable, and the cache holds the
    event, so its identity cannot be reused), which saves the second estimator the work.
    """
    global _last
    last = _last
    if last[0] is ev:
        return last[1]
    mid = _compute_mid(ev)
    _last = (ev, mid)
    return mid


def _compute_mid(ev: Any) -> float:
    kind = ev.kind
    try:
        if kind is EventKind.BOOK_SNAPSHOT:
            bids, asks = ev.bid_px, ev.ask_px
            if len(bids) == 0 or len(asks) == 0:
                return math.nan
            return valid_mid(float(bids[0]), float(asks[0]))
        if kind is EventKind.BBO:
            return valid_mid(float(ev.bid_px), float(ev.ask_px))
    except (TypeError, ValueError, IndexError, OverflowError):
        return math.nan
    return math.nan


def positive(x: Any) -> float:
    """``float(x)`` if it is finite and > 0, else NaN."""
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        return math.nan
    return v if math.isfinite(v) and v > 0.0 else math.nan
