"""Robust kappa: Student-t fit of market-trade depths (effective-sample-size confidence).

Under the fill-intensity model, trade depths ``d`` (relative distance from mid) are
exponential with rate kappa, so ``log d = -log kappa + log E`` with ``E ~ Exp(1)``. The
Student-t location of ``log d`` is outlier resistant in both directions (spoofed far prints,
prints at mid); it converges to ``-log kappa + c_nu``, where ``c_nu`` (the same fit applied to
the quantiles of ``log E``) is computed once per ``nu``. Hence ``kappa = exp(c_nu - location)``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mmkit.core.types import NS_PER_S
from mmkit.estimators._kernels_kappa import student_t_location

MIN_DEPTH = 1e-8  # depths below this (prints at mid) are clamped before the log
_EM_ITERS = 200  # a cap; warm-started refits converge in a few


@lru_cache(maxsize=16)
def log_exponential_offset(nu: float) -> float:
    """Student-t location of ``log E``, ``E ~ Exp(1)`` (fit to 20,001 quantiles)."""
    m = 20_001
    u = (np.arange(m) + 0.5) / m
    x = np.log(-np.log1p(-u))
    mu, _scale, _ess = student_t_location(x, 0, m, float(nu), 500, math.nan, math.nan)
    return float(mu)


class RobustKappa:
    """Rolling window of market-trade log depths in a ring buffer, refit at most every
    ``fit_interval_s``; the oldest trade is dropped when ``max_trades`` are held."""

    def __init__(
        self,
        nu: float,
        window_s: float,
        max_trades: int,
        min_trades: int,
        fit_interval_s: float,
        prior_strength: float,
    ) -> None:
        self.nu = nu
        self.window_ns = int(window_s * NS_PER_S)
        self.min_trades = min_trades
        self.fit_interval_ns = int(fit_interval_s * NS_PER_S)
        self.prior_strength = prior_strength
        self._cap = int(max_trades)
        self._times = np.zeros(self._cap, dtype=np.int64)
        self._vals = np.zeros(self._cap)
        self._head = 0
        self._count = 0
        self._offset = log_exponential_offset(nu)
        self.kappa = math.nan
        self.confidence = 0.0
        self.ess = 0.0
        self._dirty = False
        self._loc = self._scale = math.nan  # the last fit (warm start of the next one)
        self._last_fit_ns = -(2**62)
        self._now = -(2**62)
        self._oldest = 2**62  # time of the oldest held trade (cached for cheap expiry)
        #: receive time (ns) of the newest trade dropped to make room (not by expiry); the
        #: held trades are then all the trades after it, and no longer all of the window
        self.capacity_cut_ns = -(2**62)
        self._pend_t: list[int] = []  # trades added since the last flush (see _flush)
        self._pend_v: list[float] = []

    def add(self, depth: float, now_ns: int) -> None:
        """Record one trade depth (the caller has validated it is finite and >= 0)."""
        self.add_many([depth], [now_ns])

    def add_many(self, depths: list[float], times: list[int]) -> None:
        """Record trade depths in turn (``times`` non-decreasing; a time before the
        latest counts as the latest)."""
        if not depths:
            return
        now = self._now
        self._pend_t += [t if t > now else now for t in times]
        self._pend_v += [math.log(max(d, MIN_DEPTH)) for d in depths]
        self._now = self._pend_t[-1]
        self._dirty = True
        if len(self._pend_t) >= self._cap:
            self._flush()

    def _flush(self) -> None:
        """Move the pending trades into the ring buffer (the oldest make room when full).

        Trades are buffered in lists and written in one go: a numpy write per trade costs
        more than the trade's whole bookkeeping."""
        stamps, logs = self._pend_t, self._pend_v
        m = len(stamps)
        if m == 0:
            return
        self._pend_t, self._pend_v = [], []
        cap = self._cap
        if m > cap:
            self.capacity_cut_ns = max(self.capacity_cut_ns, stamps[m - cap - 1])
            stamps, logs = stamps[-cap:], logs[-cap:]
            m = cap
        drop = self._count + m - cap
        if drop > 0:
            last = int(self._times[(self._head + drop - 1) % cap])  # newest trade dropped
            self.capacity_cut_ns = max(self.capacity_cut_ns, last)
            self._head = (self._head + drop) % cap
            self._count -= drop
        start = (self._head + self._count) % cap
        first = min(m, cap - start)  # up to the end of the array, then wrap to its start
        self._times[start : start + first] = stamps[:first]
        self._vals[start : start + first] = logs[:first]
        if first < m:
            self._times[: m - first] = stamps[first:]
            self._vals[: m - first] = logs[first:]
        self._count += m
        self._oldest = int(self._times[self._head])

    @property
    def observation_count(self) -> int:
        self._flush()
        return self._count

    def count_after(self, since_ns: int) -> int:
        """Held trades received strictly after ``since_ns`` (ns).

        The ring is in time order, so only the trades at its head that share or precede
        ``since_ns`` are skipped; a capture's batch shares one receive time, and those of
        its trades still held at the capacity cut must not count into the span after it."""
        self._flush()
        times, cap, n = self._times, self._cap, self._count
        i = 0
        while i < n and times[(self._head + i) % cap] <= since_ns:
            i += 1
        return n - i

    def _expire(self, now_ns: int) -> None:
        self._flush()
        if now_ns > self._now:
            self._now = now_ns
        cutoff = self._now - self.window_ns
        if self._oldest > cutoff:
            return
        times = self._times
        while self._count and times[self._head] <= cutoff:
            self._head = (self._head + 1) % self._cap
            self._count -= 1
            self._dirty = True
        self._oldest = int(times[self._head]) if self._count else 2**62

    def refresh(self, now_ns: int) -> bool:
        """Expire old trades and refit if due; returns True when the output changed."""
        self._expire(now_ns)
        if not self._dirty or self._now - self._last_fit_ns < self.fit_interval_ns:
            return False
        self._dirty = False
        self._last_fit_ns = self._now
        n = self._count
        if n < self.min_trades:
            changed = self.confidence != 0.0
            self.confidence = 0.0
            return changed
        loc, scale, ess = student_t_location(
            self._vals, self._head, n, self.nu, _EM_ITERS, self._loc, self._scale
        )
        if math.isfinite(loc) and scale > 0.0:
            self._loc, self._scale = loc, scale  # the next refit starts here
        kappa = math.exp(min(700.0, self._offset - loc)) if math.isfinite(loc) else math.nan
        if math.isfinite(kappa) and kappa > 0.0 and 0.0 < ess < math.inf:
            self.kappa = kappa
            self.ess = ess
            self.confidence = ess / (ess + self.prior_strength)
        else:
            self.confidence = 0.0
        return True
