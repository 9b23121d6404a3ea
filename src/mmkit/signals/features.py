"""Microstructure features of the adverse-selection classifier, kept up to date from events.

All features are signed *from the point of view of a passive fill on a side*: positive means
"the market leans against that fill". For a fill of our bid (we bought) the book imbalance,
the trade-flow imbalance and recent markouts count positive when they point down.

=====================  ==============================================================
``imbalance``          top-of-book ``(bid_sz - ask_sz) / (bid_sz + ask_sz)`` in [-1, 1]
``flow``               EWMA of signed aggressor volume / EWMA of volume, in [-1, 1]
``spread_bp``          relative spread in basis points (unsigned)
``vol_bp``             short-horizon volatility of the mid, bp per sqrt second (unsigned)
``markout``            EWMA of our recent fills' adverse markouts, in bp
``cascade``            1 while a cascade is flagged (``Estimates.cascade``)
``stagnation``         1 while ``extras["kappa.stagnation_alert"]`` is set
=====================  ==============================================================
"""

from __future__ import annotations

import math

import numpy as np

from mmkit.core.events import BBO, BookSnapshot, Event, EventKind, Trade
from mmkit.core.types import Side

FEATURE_NAMES: tuple[str, ...] = (
    "bias",
    "imbalance",
    "flow",
    "spread_bp",
    "vol_bp",
    "markout",
    "cascade",
    "stagnation",
)
N_FEATURES = len(FEATURE_NAMES)
_CLIP = 10.0


class MicrostructureState:
    """Running microstructure state; :meth:`vector` gives the side-signed feature vector."""

    def __init__(
        self, flow_half_life_s: float, vol_half_life_s: float, markout_half_life: float
    ) -> None:
        self._flow_hl = flow_half_life_s * 1e9
        self._vol_hl = vol_half_life_s * 1e9
        self._mk_decay = 0.5 ** (1.0 / markout_half_life)
        self.mid = math.nan
        self.mid_ts = -1
        self.imbalance = 0.0
        self.spread = 0.0
        self._flow_signed = 0.0
        self._flow_total = 0.0
        self._flow_ts = -1
        self._var = 0.0  # EWMA of r^2 / dt (per second)
        self._var_w = 0.0
        self.markout_bp = 0.0  # positive = our fills have been losing
        self.cascade = 0.0
        self.stagnation = 0.0

    # -- updates --------------------------------------------------------------------------
    def on_event(self, ev: Event, now_ns: int) -> bool:
        """Update from a market event; True if it carried a usable mid."""
        k = ev.kind
        if k is EventKind.BBO:
            assert isinstance(ev, BBO)
            return self._top(ev.bid_px, ev.bid_sz, ev.ask_px, ev.ask_sz, now_ns)
        if k is EventKind.BOOK_SNAPSHOT:
            assert isinstance(ev, BookSnapshot)
            if not (ev.bid_px.size and ev.ask_px.size and ev.bid_sz.size and ev.ask_sz.size):
                return False
            return self._top(
                float(ev.bid_px[0]),
                float(ev.bid_sz[0]),
                float(ev.ask_px[0]),
                float(ev.ask_sz[0]),
                now_ns,
            )
        if k is EventKind.TRADE:
            assert isinstance(ev, Trade)
            self._trade(ev.sz, ev.side, now_ns)
        return False

    def _top(self, b: float, bs: float, a: float, as_: float, now_ns: int) -> bool:
        if not (0.0 < b < a < math.inf):
            return False
        mid = 0.5 * (a + b)
        if 0.0 < bs < math.inf and 0.0 < as_ < math.inf:
            self.imbalance = (bs - as_) / (bs + as_)
        self.spread = (a - b) / mid
        prev, pts = self.mid, self.mid_ts
        if prev > 0.0 and now_ns > pts >= 0:
            dt = now_ns - pts
            r = math.log(mid / prev)
            w = 1.0 - 0.5 ** (dt / self._vol_hl)
            self._var += w * (r * r / (dt * 1e-9) - self._var)
            self._var_w += w * (1.0 - self._var_w)
        if now_ns >= pts:
            self.mid, self.mid_ts = mid, now_ns
        return True

    def _trade(self, sz: float, side: Side, now_ns: int) -> None:
        if not (0.0 < sz < math.inf):
            return
        if self._flow_ts >= 0 and now_ns > self._flow_ts:
            decay = 0.5 ** ((now_ns - self._flow_ts) / self._flow_hl)
            self._flow_signed *= decay
            self._flow_total *= decay
        if now_ns >= self._flow_ts:
            self._flow_ts = now_ns
        self._flow_signed += sz if side is Side.BUY else -sz
        self._flow_total += sz

    def on_markout(self, adverse_bp: float) -> None:
        if math.isfinite(adverse_bp):
            a = max(-_CLIP, min(_CLIP, adverse_bp))
            self.markout_bp = self._mk_decay * self.markout_bp + (1 - self._mk_decay) * a

    # -- features -------------------------------------------------------------------------
    @property
    def flow(self) -> float:
        return self._flow_signed / self._flow_total if self._flow_total > 1e-12 else 0.0

    @property
    def vol_bp(self) -> float:
        v = self._var / self._var_w if self._var_w > 0 else 0.0
        return math.sqrt(v) * 1e4 if v > 0 else 0.0

    def values(self, side: Side) -> list[float]:
        """Features for a passive fill on ``side`` (BUY: our bid), clipped to +-10 (NaN: 0)."""
        s = -1.0 if side is Side.BUY else 1.0  # market leaning down hurts our bid
        raw = (
            1.0,
            s * self.imbalance,
            s * self.flow,
            self.spread * 1e4,
            self.vol_bp,
            self.markout_bp,
            self.cascade,
            self.stagnation,
        )
        return [
            v if -_CLIP <= v <= _CLIP else (0.0 if v != v else (_CLIP if v > 0 else -_CLIP))
            for v in raw
        ]

    def vector(self, side: Side) -> np.ndarray:
        return np.array(self.values(side))
