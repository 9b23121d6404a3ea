"""Mid price from book events, validated (never raises, NaN when there is none)."""

from __future__ import annotations

import math
from typing import Any

from mmkit.core.events import Kinds


def valid_mid(bid: float, ask: float) -> float:
    """``(bid + ask) / 2`` for a finite, positive, uncrossed touch; NaN otherwise."""
    if not (math.isfinite(bid) and math.isfinite(ask)) or bid <= 0.0 or ask <= bid:
        return math.nan
    mid = 0.5 * (bid + ask)
    return mid if math.isfinite(mid) else math.nan


def event_mid(ev: Any) -> float:
    """The mid of a ``BookSnapshot`` or ``BBO`` event (NaN for anything else or a bad book).

    A pure function, recomputed by every estimator that asks (kappa and sigma both do). A
    process-wide cache of the last answer used to save the second call; measured, it saved
    0.22 µs per book event (0.68 -> 0.46 µs for the two calls) out of 11.4 µs for the
    kappa + sigma + warmup update (``benchmarks/estimators.py``): 2%, not worth global state.
    """
    kind = ev.kind
    try:
        if kind is Kinds.BOOK_SNAPSHOT:
            bids, asks = ev.bid_px, ev.ask_px
            if len(bids) == 0 or len(asks) == 0:
                return math.nan
            return valid_mid(float(bids[0]), float(asks[0]))
        if kind is Kinds.BBO:
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
