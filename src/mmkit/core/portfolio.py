"""Position, cash and PnL bookkeeping from our own fills and the venue's word.

The venue is authoritative for the position, but a position is never changed "for free":
every change that does not come from one of our fills is booked as a **reconciliation
adjustment** (:meth:`Portfolio.adjust`) at a price (the venue's entry price, or the mark),
so cash moves with it and equity does not jump by size x mid. Adjustments are kept apart
from trading: their realized part goes to :attr:`Portfolio.adjustments_usd`, never to
:attr:`Portfolio.realized`, and their signed size to :attr:`Portfolio.adjusted_position`.

Identity kept at all times (USD; ``mark`` is the price the book is marked at)::

    equity(mark) = cash + position * mark
                 = realized + adjustments_usd + unrealized(mark) - fees

Which snapshot may change the position, and when, is decided by
:class:`mmkit.execution.position_sync.PositionReconciler`; this class only books.
"""

from __future__ import annotations

import math

from mmkit.core.events import OwnFill


def fill_problem(f: OwnFill) -> str | None:
    """Why a fill cannot be booked (non-finite or non-positive price or size), or None."""
    if not (math.isfinite(f.px) and math.isfinite(f.sz) and f.sz > 0 and f.px > 0):
        return f"fill with non-finite or non-positive px/sz: {f!r}"
    return None


class Portfolio:
    __slots__ = (
        "adjusted_position",
        "adjustment_count",
        "adjustments_usd",
        "avg_entry",
        "cash",
        "divergence_count",
        "fees",
        "fill_count",
        "fill_position",
        "last_divergence",
        "opening_position",
        "peak_equity",
        "position",
        "position_known",
        "realized",
        "unpriced",
        "volume_usd",
    )

    def __init__(self, position: float = 0.0, position_known: bool = True) -> None:
        #: signed position (base units, e.g. BTC)
        self.position = position
        self.position_known = position_known
        self._reset_book()
        self.divergence_count = 0
        self.last_divergence = 0.0
        self.peak_equity = 0.0

    # -- booking ---------------------------------------------------------------------------
    def _reset_book(self) -> None:
        """Every booked figure back to zero (the position's own fields aside)."""
        #: average entry price of the open position (USD per unit; 0 when flat)
        self.avg_entry = 0.0
        #: PnL realized by our fills (USD), at average cost
        self.realized = 0.0
        #: cash flow of fills and adjustments (USD; fees already taken out)
        self.cash = 0.0
        self.fees = 0.0
        self.volume_usd = 0.0
        self.fill_count = 0
        #: signed size our fills moved the position by (base units): what the kill switch
        #: compares position changes with
        self.fill_position = 0.0
        #: signed size booked by reconciliation adjustments after the opening (base units)
        self.adjusted_position = 0.0
        #: PnL realized by adjustments (USD), kept out of ``realized``
        self.adjustments_usd = 0.0
        self.adjustment_count = 0
        #: the venue position adopted at start-up (base units)
        self.opening_position = 0.0
        #: part of the position adjusted in with no price known yet (base units): priced at
        #: the first finite mark (see :meth:`price_unpriced`)
        self.unpriced = 0.0

    def _trade(self, signed: float, px: float) -> float:
        """Move the position by ``signed`` at ``px`` (average cost); return the PnL it realized."""
        self.cash -= signed * px
        pos = self.position
        new = pos + signed
        realized = 0.0
        if pos == 0.0 or (pos > 0) == (signed > 0):
            # opening or adding: weighted entry
            tot = abs(pos) + abs(signed)
            self.avg_entry = (self.avg_entry * abs(pos) + px * abs(signed)) / tot
        else:
            closed = min(abs(pos), abs(signed))
            realized = closed * (px - self.avg_entry) * (1.0 if pos > 0 else -1.0)
            if abs(signed) > abs(pos):  # flipped
                self.avg_entry = px
            elif new == 0.0:
                self.avg_entry = 0.0
        self.position = new
        return realized

    def apply_fill(self, f: OwnFill) -> None:
        """Book one of our fills: position, cash, fees, realized PnL at average cost."""
        problem = fill_problem(f)
        if problem is not None:
            raise ValueError(problem)
        signed = float(f.side) * f.sz
        fee = f.fee if math.isfinite(f.fee) else 0.0
        self.cash -= fee
        self.fees += fee
        self.volume_usd += f.sz * f.px
        self.fill_count += 1
        self.fill_position += signed
        self.realized += self._trade(signed, f.px)

    def adjust(self, delta: float, px: float, *, count: bool = True) -> None:
        """Book a reconciliation adjustment of ``delta`` (base units) at ``px`` (USD).

        Cash moves by ``-delta * px`` as for a fee-free trade, so equity changes only by
        ``delta * (mark - px)``. With no usable price (``px`` not finite and positive) the
        size joins :attr:`unpriced` and is priced at the first finite mark. ``count=False``
        books float noise (well under a lot) without counting it as an adjustment.
        """
        if delta == 0.0 or not math.isfinite(delta):
            return
        self.adjusted_position += delta
        if count:
            self.adjustment_count += 1
        if math.isfinite(px) and px > 0:
            self.adjustments_usd += self._trade(delta, px)
        else:
            self.position += delta
            self.unpriced += delta

    def price_unpriced(self, mark: float) -> None:
        """Book the unpriced part of the position at ``mark`` (no-op without a finite mark)."""
        if self.unpriced == 0.0 or not (math.isfinite(mark) and mark > 0):
            return
        d = self.unpriced
        self.unpriced = 0.0
        self.position -= d
        self.adjustments_usd += self._trade(d, mark)

    def open_at(self, position: float, entry_px: float) -> None:
        """Start the book from the venue's position with its cost basis (start-up).

        Everything booked before is dropped (the caller re-applies the fills the venue's
        position does not hold yet): cash becomes ``-position * entry_px``, so equity starts
        at the venue's unrealized PnL, ``position * (mark - entry_px)``.
        """
        self._reset_book()
        self.position = 0.0
        self.adjust(position, entry_px, count=False)
        self.adjusted_position = 0.0
        self.opening_position = position
        self.position_known = True

    def sync(self, venue_position: float, tolerance: float = 0.0, px: float = math.nan) -> float:
        """Adopt the venue's position now; returns the divergence (venue - local).

        The difference is booked as an adjustment at ``px`` (unpriced when not given). A
        difference within ``tolerance`` (half a lot: float noise of summed fills) is adopted
        silently and reported as 0. The engine does not call this directly: it goes through
        :class:`~mmkit.execution.position_sync.PositionReconciler`, which decides *when* a
        venue position may be adopted.
        """
        div = venue_position - self.position
        if abs(div) <= tolerance:  # float noise (< 1e-12 USD): set, not booked
            self.position = venue_position
            div = 0.0
        else:
            self.divergence_count += 1
            self.last_divergence = div
            self.adjust(div, px)
        if self.position == 0.0:
            self.avg_entry = 0.0
        self.position_known = True
        return div

    # -- marking ---------------------------------------------------------------------------
    def unrealized(self, mark: float) -> float:
        """Open PnL at ``mark`` against the average entry (USD)."""
        if self.unpriced:
            self.price_unpriced(mark)
        if not math.isfinite(mark) or self.position == 0.0:
            return 0.0
        return self.position * (mark - self.avg_entry)

    def equity(self, mark: float) -> float:
        """Cash + position marked at ``mark`` (fees already taken out of cash)."""
        if self.unpriced:
            self.price_unpriced(mark)
        if not math.isfinite(mark):
            return self.cash if self.position == 0.0 else math.nan
        return self.cash + self.position * mark
