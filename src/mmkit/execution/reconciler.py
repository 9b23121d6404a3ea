"""The ladder diff: desired quotes vs resting orders -> keep / modify / cancel / place.

Per side, levels are matched by index (best first). An order within the price and size
tolerances is kept; otherwise it is modified (smart reconcile) or cancelled and replaced.
**No overfill**: an order (one cloid, over all its MODIFY incarnations) is sized at most its
level's size minus what it has already filled, and never rests above that (the size
tolerance only lets it be smaller); a partly filled order is re-priced with its remaining
size, and a remainder below the minimum notional is cancelled so the level is placed afresh.
Hyperliquid's modify is cancel-replace under the same cloid, so a MODIFY of an order that
has (or, per the public tape, may have: ``TrackedOrder.risk``) filled is sized at most

    min(level size, the cloid's largest size ``cap``) - seen fills - risk

so that the cloid's fills stay within its largest size and the level's even if the
replacement fills in full. When the level wants clearly more than that (a top-up, or the
tape says most of the order may be gone), the order is cancelled instead and the level
placed afresh under a new cloid once its fate is known.
Sizes are clipped so that the **worst case** stays within the position limit:

    signed position + in-flight orders + every resting order at its current size
    + growth of modified orders + placed orders  <=  max_position      (per side)

(a cancelled or shrunk order still counts until the venue acknowledges it), so an action
never raises the worst-case exposure above the limit; when the limit is already exceeded
(fills, liquidation, drift) orders are only shrunk or cancelled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from mmkit.components import Levels, Quote, quote_levels
from mmkit.execution.orders import TrackedOrder


class OpKind(IntEnum):
    """What the diff asks of one level (an order to keep produces no op). The values are the
    order in which one reconcile sends its actions, which the executor sorts by: cancels
    first (they free exposure), then modifies, then places (which use the room freed)."""

    CANCEL = 0
    MODIFY = 1
    PLACE = 2


CANCEL, MODIFY, PLACE = OpKind.CANCEL, OpKind.MODIFY, OpKind.PLACE


class Op(NamedTuple):
    kind: OpKind
    level: int
    order: TrackedOrder | None = None
    px: float = 0.0
    sz: float = 0.0


_new_op = tuple.__new__


@dataclass(frozen=True, slots=True)
class Tolerances:
    price_bps: float = 0.5
    size_frac: float = 0.1
    lot: float = 1e-5
    min_notional: float = 10.0
    smart: bool = True


def floor_lot(sz: float, lot: float) -> float:
    if not (math.isfinite(sz) and sz > 0):
        return 0.0
    n = math.floor(sz / lot + 1e-9)
    return round(n * lot, 12)


def diff_side(
    desired: Sequence[Quote],
    resting: Sequence[TrackedOrder],
    occupied: set[int],
    cap: float,
    tol: Tolerances,
    debt: Mapping[int, float] | None = None,
) -> list[Op]:
    """The actions of one side, its desired quotes given as quotes (level ``i`` is the
    ``i``-th quote): :func:`diff_levels` of their numbers."""
    return diff_levels(quote_levels(desired), resting, occupied, cap, tol, debt)


def diff_levels(
    desired: Levels,
    resting: Sequence[TrackedOrder],
    occupied: set[int],
    cap: float,
    tol: Tolerances,
    debt: Mapping[int, float] | None = None,
) -> list[Op]:
    """The actions of one side (orders to keep produce no op).

    ``desired``: the side's :data:`~mmkit.components.Levels` (price, size, ... best level
    first, as :meth:`Ladder.levels <mmkit.components.Ladder.levels>` gives them; level
    ``i`` is the ``i``-th pair, an odd last number is no level); ``resting``: orders of
    this side in RESTING state (may be changed); ``occupied``: levels held by in-flight
    orders (left alone); ``cap``: exposure room left after the signed position and every
    in-flight order (coins); ``debt``: level index -> size (coins) an earlier order of that
    level may still have filled unseen (its fate is unresolved): the level's order is sized
    at most the level's size minus it, so a late fill can never take a level past its size.
    """
    debt = debt or {}
    ops: list[Op] = []
    by_level: dict[int, TrackedOrder] = {}
    if len(desired) & 1:
        desired = desired[:-1]
    n = len(desired) >> 1
    # every resting order counts at its current size until the venue acknowledges a change
    room = cap
    for r in resting:
        room -= r.sz + r.risk  # ``risk``: fills the tape says it may have made unseen
        lv = r.level
        if 0 <= lv < n and lv not in by_level and lv not in occupied:
            by_level[lv] = r
        else:
            ops.append(Op(CANCEL, lv, r))
    px_tol = tol.price_bps * 1e-4
    size_frac = tol.size_frac
    lot = tol.lot
    min_notional = tol.min_notional
    for i, (qpx, qsz) in enumerate(zip(desired[0::2], desired[1::2], strict=True)):
        if i in occupied:
            continue
        o = by_level.get(i)
        owed = debt.get(i, 0.0)
        if owed > 0.0:
            qsz = floor_lot(qsz - owed, lot)
        if o is None:
            target = qsz if qsz <= room else (floor_lot(room, lot) if room > 0 else 0.0)
            if target > 0 and target * qpx >= min_notional:
                ops.append(Op(PLACE, i, None, qpx, target))
                room -= target
            continue
        # no overfill: an order (cloid) rests at most its intended size minus what it has
        # already filled, over every incarnation; it may grow by the room left (or must
        # shrink when room is negative)
        risk = o.risk
        want = qsz - o.filled
        limit = o.sz + room
        target = want if want <= limit else floor_lot(limit, lot)
        if target <= 0 or target * qpx < min_notional:
            ops.append(Op(CANCEL, i, o))  # the level is placed afresh once this is gone
            continue
        price_ok = abs(o.px - qpx) <= px_tol * qpx
        if price_ok and target * (1.0 - size_frac) <= o.sz <= target + 1e-12 and room >= -1e-12:
            continue  # keep: an unchanged order adds nothing to what its cloid may fill
        exposed = o.filled + risk
        if exposed > 0.0:
            # a modify is cancel-replace under the same cloid: the replacement may fill in
            # full on top of everything the cloid has (or, per the tape, may have) filled.
            # It is sized so that stays within the cloid's largest size and the level's.
            most = min(target - risk, o.size_cap() - exposed)
            most = floor_lot(most, lot) if most > 0 else 0.0
            if most <= 0 or most * qpx < min_notional or most < target * (1.0 - size_frac):
                # a top-up, or the tape says most of it may have filled: cancel; the level is
                # placed afresh under a new cloid once this order's fate is known
                ops.append(Op(CANCEL, i, o))
                continue
            target = most
            if price_ok and target * (1.0 - size_frac) <= o.sz <= target + 1e-12 and room >= -1e-12:
                continue  # keep
        if tol.smart:
            # Op(...) through tuple.__new__ (what the named tuple's own __new__ calls,
            # without its Python frame): a MODIFY of every level is the busy market's cycle
            ops.append(_new_op(Op, (MODIFY, i, o, qpx, target)))
            if target > o.sz:
                room -= target - o.sz
        else:  # cancel and replace: the old order counts until its cancel is acknowledged
            ops.append(Op(CANCEL, i, o))
            again = min(target, floor_lot(room, lot)) if room > 0 else 0.0
            if again > 0 and again * qpx >= min_notional:
                ops.append(Op(PLACE, i, None, qpx, again))
                room -= again
    return ops
