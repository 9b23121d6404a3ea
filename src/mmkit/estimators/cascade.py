"""Cascade detection (seed report recommendation 3): jump, trade burst, open-interest drop.

When a detector fires, the sigma estimator holds a sigma floor (``cascade_sigma_mult`` x
``default_sigma``) for ``cascade_hold_s`` seconds and then lets it decay with half-life
``cascade_decay_half_life_s``. Each detector is pure Python and O(1) amortised per event.
"""

from __future__ import annotations

import math
from collections import deque

from mmkit.core.types import NS_PER_S


class TradeBurstDetector:
    """Fires when trades in the last ``window_s`` exceed ``factor`` x the baseline rate."""

    def __init__(
        self, window_s: float, factor: float, min_trades: int, baseline_half_life_s: float = 600.0
    ) -> None:
        self.window_ns = int(window_s * NS_PER_S)
        self.window_s = window_s
        self.factor = factor
        self.min_trades = min_trades
        self._times: deque[int] = deque()
        self._hl_s = baseline_half_life_s
        self._rate = math.nan  # baseline trades per second (EWMA over windows)
        self._win_start = -1
        self._win_count = 0

    def on_trade(self, now_ns: int) -> bool:
        times = self._times
        times.append(now_ns)
        cutoff = now_ns - self.window_ns
        while times and times[0] <= cutoff:
            times.popleft()
        self._update_baseline(now_ns)
        count = len(times)
        if count < self.min_trades or not math.isfinite(self._rate):
            return False
        return count > self.factor * self._rate * self.window_s

    def _update_baseline(self, now_ns: int) -> None:
        if self._win_start < 0:
            self._win_start = now_ns
        self._win_count += 1
        elapsed = (now_ns - self._win_start) / NS_PER_S
        if elapsed >= 10.0 * self.window_s:
            rate = self._win_count / elapsed
            if math.isfinite(self._rate):
                a = 1.0 - 0.5 ** (elapsed / self._hl_s)
                self._rate += a * (rate - self._rate)
            else:
                self._rate = rate
            self._win_start = now_ns
            self._win_count = 0


class OpenInterestDropDetector:
    """Fires when open interest falls by ``drop`` (relative) within ``window_s``."""

    def __init__(self, drop: float, window_s: float) -> None:
        self.drop = drop
        self.window_ns = int(window_s * NS_PER_S)
        self._hist: deque[tuple[int, float]] = deque()

    def on_open_interest(self, oi: float, now_ns: int) -> bool:
        if not (math.isfinite(oi) and oi > 0):
            return False
        hist = self._hist
        cutoff = now_ns - self.window_ns
        while hist and hist[0][0] < cutoff:
            hist.popleft()
        # keep a monotone deque of the window's maximum
        while hist and hist[-1][1] <= oi:
            hist.pop()
        hist.append((now_ns, oi))
        peak = hist[0][1]
        return oi < peak * (1.0 - self.drop)


class CascadeFloor:
    """The sigma floor forced by cascade mode: held, then decaying exponentially."""

    def __init__(self, floor: float, hold_s: float, half_life_s: float) -> None:
        self.floor = floor
        self.hold_ns = int(hold_s * NS_PER_S)
        self.half_life_s = half_life_s
        self.triggered_ns = -1
        self.triggers = 0
        self.last_reason = ""

    def trigger(self, now_ns: int, reason: str) -> None:
        self.triggered_ns = max(self.triggered_ns, now_ns)
        self.triggers += 1
        self.last_reason = reason

    def active(self, now_ns: int) -> bool:
        """True while the floor is held."""
        return self.triggered_ns >= 0 and now_ns - self.triggered_ns <= self.hold_ns

    def value(self, now_ns: int) -> float:
        """The floor at ``now_ns`` (0 when never triggered)."""
        if self.triggered_ns < 0:
            return 0.0
        age = now_ns - self.triggered_ns
        if age <= self.hold_ns:
            return self.floor
        decay_s = (age - self.hold_ns) / NS_PER_S
        return self.floor * math.pow(0.5, decay_s / self.half_life_s)
