"""Position, cash and PnL bookkeeping from our own fills.

The venue is authoritative for the position: :meth:`Portfolio.sync` overwrites the local
position with the venue's and records the divergence. PnL is marked to the mid.
"""

from __future__ import annotations

import math

from mmkit.core.events import OwnFill


class Portfolio:
    __slots__ = (
        "avg_entry",
        "cash",
        "divergence_count",
        "fees",
        "fill_count",
        "last_divergence",
        "peak_equity",
        "position",
        "position_known",
        "realized",
        "volume_usd",
    )

    def __init__(self, position: float = 0.0, position_known: bool = True) -> None:
        self.position = position
        self.position_known = position_known
        self.avg_entry = 0.0
        self.realized = 0.0
        self.cash = 0.0
        self.fees = 0.0
        self.volume_usd = 0.0
        self.fill_count = 0
        self.divergence_count = 0
        self.last_divergence = 0.0
        self.peak_equity = 0.0

    def apply_fill(self, f: OwnFill) -> None:
        if not (math.isfinite(f.px) and math.isfinite(f.sz) and f.sz > 0 and f.px > 0):
            raise ValueError(f"fill with non-finite or non-positive px/sz: {f!r}")
        signed = float(f.side) * f.sz
        fee = f.fee if math.isfinite(f.fee) else 0.0
        self.cash -= signed * f.px + fee
        self.fees += fee
        self.volume_usd += f.sz * f.px
        self.fill_count += 1
        pos = self.position
        new = pos + signed
        if pos == 0.0 or (pos > 0) == (signed > 0):
            # opening or adding: weighted entry
            tot = abs(pos) + abs(signed)
            self.avg_entry = (self.avg_entry * abs(pos) + f.px * abs(signed)) / tot
        else:
            closed = min(abs(pos), abs(signed))
            self.realized += closed * (f.px - self.avg_entry) * (1.0 if pos > 0 else -1.0)
            if abs(signed) > abs(pos):  # flipped
                self.avg_entry = f.px
            elif new == 0.0:
                self.avg_entry = 0.0
        self.position = new

    def sync(self, venue_position: float, tolerance: float = 0.0) -> float:
        """Adopt the venue's position; returns the divergence (venue - local).

        A difference within ``tolerance`` (half a lot: float noise of summed fills) is
        adopted silently and reported as 0.
        """
        div = venue_position - self.position
        if abs(div) <= tolerance:
            div = 0.0
        if div != 0.0 or not self.position_known or venue_position != self.position:
            if div != 0.0:
                self.divergence_count += 1
                self.last_divergence = div
            self.position = venue_position
            if venue_position == 0.0:
                self.avg_entry = 0.0
        self.position_known = True
        return div

    def unrealized(self, mark: float) -> float:
        if not math.isfinite(mark) or self.position == 0.0:
            return 0.0
        return self.position * (mark - self.avg_entry)

    def equity(self, mark: float) -> float:
        """Cash + position marked at ``mark`` (fees already taken out of cash)."""
        if not math.isfinite(mark):
            return self.cash if self.position == 0.0 else math.nan
        return self.cash + self.position * mark
