"""One order update of the venue as the run's records keep it: a :class:`Quote`.

The journal's reader (:mod:`mmkit.runtime.journal_read`) and the session's own record of a
run (:attr:`mmkit.runtime.observer.RunObserver.order_quotes`) both build their quotes with
:func:`quote_of`, so that the live summary and ``mmkit journal show`` account a run's
quoting time from the same words. Light to import: the session imports it on every run.
"""

from __future__ import annotations

import math
from typing import NamedTuple

#: order-update statuses under which an order rests on the book (anything else ends it)
RESTING_STATUSES = frozenset({"open", "resting"})


class Quote(NamedTuple):
    """One order update: at ``ts_ns`` order ``oid`` on ``side`` (+1 bid, -1 ask, 0 unknown)
    rests at ``px`` (USD; NaN unknown) if ``resting``, else it left the book."""

    ts_ns: int
    oid: int
    side: int
    resting: bool
    px: float


def side_of(v: object) -> int:
    """+1 / -1 from a journaled side (anything else, e.g. NULL, is 0: no side)."""
    if isinstance(v, int | float) and not isinstance(v, bool) and v in (1, -1):
        return int(v)
    return 0


def _px(v: object) -> float:
    """A journaled price (USD), NaN when absent or not a finite positive number."""
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
        return float(v)
    return math.nan


def _pos(v: object) -> bool:
    """Whether a remaining size means the order still rests (NULL: size unknown, yes)."""
    if v is None:
        return True
    return isinstance(v, int | float) and not isinstance(v, bool) and v > 0


def quote_of(ts: int, oid: int, side: object, status: object, sz: object, px: object) -> Quote:
    """The :class:`Quote` of one order update as the journal keeps it (``status`` the
    venue's word, ``sz`` its remaining size, None when unknown). The journal's reader and
    the session's own record (:attr:`RunObserver.order_quotes`) both build them here, so the
    live summary and ``mmkit journal show`` account the same run the same way."""
    return Quote(
        ts, oid, side_of(side), str(status).lower() in RESTING_STATUSES and _pos(sz), _px(px)
    )
