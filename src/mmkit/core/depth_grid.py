"""A deep book held on a price grid, so that a depth delta costs what it changes.

:class:`~mmkit.core.market.MarketState` keeps each book side as a sorted array. A delta
merged into arrays thousands of levels deep (a Binance depth stream: ~2,400 a side on the
USD-M capture) copies both sides every time, ~12 µs a delta, though a delta changes ~17
levels a side. :class:`DepthGrid` holds the same book in slots, one per price step, for
:data:`HALF_WIDTH` steps each side of the touch (kernels in
:mod:`mmkit.core._kernels_book`): a delta sets or clears one slot per update. The levels
beyond the slots (far orders: bids at 1,000 USD under a 60,000 market, a few hundred of
them, which the USD-M stream updates in almost every delta) are kept in short sorted rows,
updated in place too. The sorted arrays are built only when someone reads them.

It is exact, or it is not used. Each slot keeps its level's price as it came, so the arrays
it gives back are bit for bit those of the merge, and a delta the grid cannot hold exactly
(two distinct prices in one slot, a bid above the slots or an ask below them) is refused
whole, leaving the grid as it was; the market state then merges it as before. The price
step is found from the book itself (the smallest gap between neighbouring levels): no
instrument is needed, and a wrong guess can only cost a refused delta, never a wrong book.
"""

from __future__ import annotations

import math

import numpy as np

from mmkit.core.events import FloatArray

_GRID_FULL = 3  # mmkit.core._kernels_book.GRID_FULL (its meta: best 0-1, slotted 2-3, far 4-5)

#: slots on each side of the touch (for BTC at a 0.1 step: +-3,276.8 USD); the levels
#: beyond are kept in the far rows
HALF_WIDTH = 1 << 15


def _strictly_sorted(px: FloatArray, descending: bool) -> bool:
    if px.size < 2:
        return True
    d = np.diff(px)
    return bool(np.all(d < 0.0) if descending else np.all(d > 0.0))


class DepthGrid:
    """Both sides of a book (see the module docstring): slots around the touch on a common
    price grid, the far levels in short sorted rows."""

    __slots__ = ("_delta", "fmeta", "fpx", "fsz", "gpx", "gsz", "meta")

    def __init__(self, origin: float, tick: float, width: int, far_cap: int) -> None:
        from mmkit.core._kernels_book import grid_delta

        self._delta = grid_delta  # looked up once: an import per delta costs ~0.5 us
        self.fmeta = np.array([origin, 1.0 / tick])
        self.gpx = np.full((2, width), np.nan)
        self.gsz = np.zeros((2, width))
        self.fpx = np.empty((2, far_cap))
        self.fsz = np.empty((2, far_cap))
        # per side: best slot, slotted levels, far levels (mmkit.core._kernels_book)
        self.meta = np.array([-1, -1, 0, 0, 0, 0], dtype=np.int64)

    @classmethod
    def build(
        cls, bid_px: FloatArray, bid_sz: FloatArray, ask_px: FloatArray, ask_sz: FloatArray
    ) -> DepthGrid | None:
        """The grid holding this book, centred on its touch, or None when it cannot hold it
        exactly: prices not finite or not strictly sorted, no price step to be found, or two
        levels in one slot."""
        if not (np.all(np.isfinite(bid_px)) and np.all(np.isfinite(ask_px))):
            return None
        with np.errstate(over="ignore"):  # gaps between prices near +-1e308: inf, refused
            if not (_strictly_sorted(bid_px, True) and _strictly_sorted(ask_px, False)):
                return None
            gaps = np.concatenate((-np.diff(bid_px), np.diff(ask_px)))
        if gaps.size == 0:
            return None
        tick = float(gaps.min())
        if bid_px.size and ask_px.size:
            centre = 0.5 * (float(bid_px[0]) + float(ask_px[0]))
        else:
            centre = float(bid_px[0]) if bid_px.size else float(ask_px[0])
        origin = centre - HALF_WIDTH * tick
        if not (tick > 0.0 and math.isfinite(origin)):
            return None
        from mmkit.core._kernels_book import GRID_OK, M_FAR, grid_fill

        g = cls(origin, tick, 2 * HALF_WIDTH + 1, 64)
        far = []
        for side, (px, sz) in enumerate(((bid_px, bid_sz), (ask_px, ask_sz))):
            px = np.ascontiguousarray(px, dtype=np.float64)
            sz = np.ascontiguousarray(sz, dtype=np.float64)
            st, k = grid_fill(g.gpx, g.gsz, g.meta, g.fmeta, side, px, sz)
            if st != GRID_OK:
                return None
            far.append((px[k:], sz[k:]))
        g._grow(2 * max(len(far[0][0]), len(far[1][0]), 32))
        for side, (px, sz) in enumerate(far):
            g.fpx[side, : px.size] = px
            g.fsz[side, : px.size] = sz
            g.meta[M_FAR + side] = px.size
        return g

    def _grow(self, cap: int) -> None:
        """Room for ``cap`` far levels a side (the ones held are kept)."""
        if cap > self.fpx.shape[1]:
            fpx, fsz = np.empty((2, cap)), np.empty((2, cap))
            n = self.fpx.shape[1]
            fpx[:, :n] = self.fpx
            fsz[:, :n] = self.fsz
            self.fpx, self.fsz = fpx, fsz

    def apply(
        self, ub_px: FloatArray, ub_sz: FloatArray, ua_px: FloatArray, ua_sz: FloatArray
    ) -> int:
        """The delta, in place: GRID_OK, or GRID_CONFLICT / GRID_OUTSIDE with the grid left
        as it was (see :mod:`mmkit.core._kernels_book`)."""
        while True:  # at most twice: grown once, the far rows take every far update
            st: int = self._delta(
                self.gpx,
                self.gsz,
                self.meta,
                self.fmeta,
                self.fpx,
                self.fsz,
                ub_px,
                ub_sz,
                ua_px,
                ua_sz,
            )
            if st != _GRID_FULL:
                return st
            self._grow(2 * (int(max(self.meta[4], self.meta[5])) + ub_px.size + ua_px.size))

    def best(self, side: int) -> float:
        """The best price of a side (0 bids, 1 asks), NaN when it is empty."""
        meta = self.meta
        i = int(meta[side])
        if i >= 0:
            return float(self.gpx[side, i])
        return float(self.fpx[side, 0]) if meta[4 + side] else math.nan

    def levels(self, side: int) -> tuple[FloatArray, FloatArray]:
        """A side as new sorted arrays (bids descending, asks ascending)."""
        from mmkit.core._kernels_book import grid_side_levels

        px, sz = grid_side_levels(self.gpx, self.gsz, self.meta, self.fpx, self.fsz, side)
        return px, sz
