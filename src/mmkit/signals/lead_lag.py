"""Cross-venue lead-lag estimator (seed report section 3, "Binance Feed Disconnect", and
recommendation 6).

Both mids are sampled on a grid of ``sample_interval_s`` (last value carried forward) and
their log returns kept over ``window`` samples. Every ``test_interval_s`` the estimator

1. computes the cross-correlation ``corr(x[t-L], y[t])`` of the leader's returns ``x`` and the
   follower's ``y`` for ``L = 0..max_lag``; the reported lag is the one of largest ``|corr|``
   among ``L >= min_lag`` (1 by default: only a lead can be traded on);
2. tests significance with the mutual information of the equal-frequency binned returns:
   statistic ``max_{L >= min_lag} MI(L)``, null from ``n_permutations`` seeded re-pairings
   of the leader's returns with the follower's (circular shifts of the leader's moves along
   its own update clock by default; see :func:`analyse`); ``p < alpha`` is significant;
3. fits ``beta_L`` (slope of ``y[t]`` on ``x[t-L]``) for the lags whose ``|corr|`` clears
   ``beta_z / sqrt(n)``.

``fair_value_shift`` is the follower's expected catch-up, ``sum_{L>=1} beta_L * (sum of the
leader's last L returns)``, clamped to ``max_shift``; it is published only when the test is
significant, the lag is at least one sample, and the leader feed is live. When the leader is
absent, stale (silent for ``stale_s``) or disconnected the shift is 0 and the estimator says
so: ``extras["lead_lag.gated"] = 1``, ``extras["lead_lag.state"]`` holds the reason code
(:data:`STATES`), :attr:`LeadLagEstimator.status` the reason in words, and a warning is
logged when the gate closes. How the leader's data arrives: :mod:`mmkit.signals.leader`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mmkit.components import Estimates
from mmkit.core.events import Event, EventKind, FeedStatus
from mmkit.faults import Rejections
from mmkit.registry import BuildContext
from mmkit.signals import _kernels_leadlag as kern
from mmkit.signals.leader import LeaderChannel, LeaderQuote, channel, leader_mid
from mmkit.signals.params import LeadLagParams, min_permutations

if TYPE_CHECKING:
    from mmkit.signals.lead_lag_twin import LeadLagTwin

log = logging.getLogger(__name__)

#: reason codes published in ``extras["lead_lag.state"]``
STATES: dict[str, int] = {
    "active": 0,
    "no_leader_data": 1,
    "leader_stale": 2,
    "leader_disconnected": 3,
    "insufficient_samples": 4,
    "not_significant": 5,
    "no_lead": 6,
}
#: states in which the leader feed itself is the problem (the signal is gated off)
FEED_STATES = frozenset({"no_leader_data", "leader_stale", "leader_disconnected"})


@dataclass(frozen=True)
class LeadLagResult:
    """One run of the analysis on aligned return series."""

    lag: int  # samples, the lag of largest |corr|
    corr: float
    mi: float  # max over lags, nats
    p_value: float
    significant: bool
    n: int
    corrs: np.ndarray
    betas: np.ndarray  # zero at lags whose |corr| is within noise

    def lag_s(self, sample_interval_s: float) -> float:
        return self.lag * sample_interval_s


def analyse(
    leader_ret: np.ndarray,
    follower_ret: np.ndarray,
    *,
    min_lag: int = 0,
    max_lag: int = 20,
    n_bins: int = 8,
    n_permutations: int = 200,
    alpha: float = 0.01,
    seed: int = 0,
    circular: bool = True,
    beta_z: float = 3.0,
) -> LeadLagResult:
    """Cross-correlation, MI permutation test and lag betas of two aligned return series.

    The null of the test (``circular``, the default) keeps each series' own dependence: the
    leader's non-zero returns are rotated by a random shift of more than ``max_lag`` moves
    along the leader's own move slots, its zero returns (the samples at which its mid did
    not change) staying in place; without zero returns it is the plain circular shift of the
    leader's series. This is the time-shift ("toroidal shift", "random rotation") test for
    dependent series: a re-pairing of two series is a valid null only if it keeps each
    one's serial dependence, which a circular shift does and a shuffle does not (Harms,
    Condit, Hubbell and Foster, J. Ecology 89 (2001) 947-959, the toroidal shift; Andrzejak,
    Kraskov, Stoegbauer, Mormann and Kreuz, Phys. Rev. E 68 (2003) 066202, bivariate
    surrogates: shuffled surrogates give false positives for autocorrelated signals;
    Ebisuzaki, J. Climate 10 (1997) 2147-2153, and Pyper and Peterman, Can. J. Fish. Aquat.
    Sci. 55 (1998) 2127-2140, on inflated significance of correlations of autocorrelated
    series). Rotating the moves rather than the samples makes it a test conditional on the
    leader's update clock: two venues stepping on one grid sampled finer than it (the
    synthetic market's 100 ms step on a 50 ms grid) have zero returns at the same samples, a
    dependence of their clocks that a plain circular shift breaks at its wrap-around (when
    the series' length is not a multiple of the clock's period) and a shuffle everywhere.

    ``circular=False`` shuffles all of the leader's returns: valid only for i.i.d. returns,
    its false-positive rate at alpha = 0.05 was 0.63-1.00 on independent tick-rounded random
    walks and on pairs of independent synthetic markets (``tests/signals/
    test_lead_lag_size.py``, ``docs/signals.md``); kept to reproduce older results."""
    x = np.ascontiguousarray(leader_ret, dtype=np.float64)
    y = np.ascontiguousarray(follower_ret, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"return series must be equal 1-d arrays, got {x.shape} and {y.shape}")
    n = int(x.size)
    if n < max_lag + 10:
        raise ValueError(f"{n} returns are too few for max_lag {max_lag}")
    if not 0 <= min_lag <= max_lag:
        raise ValueError(f"need 0 <= min_lag <= max_lag, got {min_lag} and {max_lag}")
    if 1.0 / (1.0 + n_permutations) >= alpha:
        raise ValueError(
            f"{n_permutations} permutations can never reach alpha {alpha}; "
            f"use at least {min_permutations(alpha)}"
        )
    corrs = kern.xcorr(x, y, max_lag)
    lag = min_lag + int(np.argmax(np.abs(corrs[min_lag:])))
    bx = kern.quantile_bins(x, n_bins)
    by = kern.quantile_bins(y, n_bins)
    moves = np.flatnonzero(x != 0.0).astype(np.int64)
    p, mi = kern.permutation_test(
        bx, by, moves, min_lag, max_lag, n_bins, n_permutations, seed, circular
    )
    betas = kern.lag_betas(x, y, max_lag)
    betas[np.abs(corrs) < beta_z / math.sqrt(n)] = 0.0
    return LeadLagResult(lag, float(corrs[lag]), float(mi), float(p), p < alpha, n, corrs, betas)


def grid_returns(
    ts_ns: np.ndarray, mids: np.ndarray, start_ns: int, stop_ns: int, interval_ns: int
) -> np.ndarray:
    """Log returns of a mid series sampled on ``[start, stop)`` every ``interval`` (last value
    carried forward; the series must be sorted by time and start before ``start_ns``)."""
    grid = np.arange(start_ns, stop_ns, interval_ns, dtype=np.int64)
    idx = np.searchsorted(ts_ns, grid, side="right") - 1
    if idx.size == 0 or idx[0] < 0:
        raise ValueError("the mid series must start before the first grid point")
    out: np.ndarray = np.diff(np.log(mids[idx]))
    return out


class LeadLagEstimator:
    """Publishes ``fair_value_shift`` from a significant lead of another venue's mid."""

    #: what it writes (audit contract :class:`mmkit.components.DeclaresPublishes`)
    publishes = frozenset({"fair_value_shift", "lead_lag.*"})

    def __init__(self, params: LeadLagParams, seed: int = 0) -> None:
        self.params = p = params
        self.seed = seed
        self.leader_prefix = p.leader_prefix
        self.stale_s = p.stale_s
        self.channel: LeaderChannel | None = channel(p.channel) if p.channel else None
        self._dt = round(p.sample_interval_s * 1e9)
        self._test_ns = round(p.test_interval_s * 1e9)
        self._stale_ns = round(p.stale_s * 1e9)
        w = p.window
        self._x = np.zeros(w)
        self._y = np.zeros(w)
        self._n = 0  # returns stored (<= window)
        self.samples_taken = 0
        self._catch_up_key = (-1, -1)
        self._catch_up = 0.0
        self._i = 0  # next write index
        self._next_grid = -1
        self._prev_lead = math.nan  # mids at the previous grid point
        self._prev_fol = math.nan
        self.lead_mid = math.nan
        self.follow_mid = math.nan
        self.last_leader_ns = -1
        self.leader_connected = True
        self._last_now = -1
        self._next_test = -1
        self.tests = 0
        self.result: LeadLagResult | None = None
        self.status = ""  # set (and logged) by the first estimate
        self.shift = 0.0
        #: bad input skipped, with why (the engine reports it; see :mod:`mmkit.faults`)
        self.rejections = Rejections()

    def twin(self) -> LeadLagTwin:
        """The compiled twin (:mod:`mmkit.signals.lead_lag_twin`): same parameters and seed,
        fresh state."""
        from mmkit.signals.lead_lag_twin import LeadLagTwin

        return LeadLagTwin(self.params, self.seed)

    # -- wiring ---------------------------------------------------------------------------
    def attach_channel(self, ch: LeaderChannel | None) -> None:
        """Read leader quotes from ``ch`` (None: in-band events only)."""
        self.channel = ch

    @property
    def gate_reason(self) -> str:
        """Why the signal is gated off for lack of a live leader ('' when the feed is fine)."""
        return self.status if self.status in FEED_STATES else ""

    # -- input ----------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        self._drain(now_ns)
        stream = getattr(event, "stream", "")
        is_leader = isinstance(stream, str) and stream.startswith(self.leader_prefix)
        if event.kind is EventKind.FEED_STATUS:
            assert isinstance(event, FeedStatus)
            if is_leader and not event.connected:
                self._on_leader(LeaderQuote(now_ns, event.ts, math.nan, False))
            return
        mid = leader_mid(event)
        if mid is None:
            if event.kind in (EventKind.BBO, EventKind.BOOK_SNAPSHOT):
                self.rejections.reject(
                    event.kind.name,
                    "no valid touch (a side empty, crossed, or a price not finite and positive)",
                    None,
                    now_ns,
                )
            return
        if is_leader:
            self._on_leader(LeaderQuote(now_ns, event.ts, mid))
        else:
            self._on_follower(mid, now_ns)

    def _drain(self, now_ns: int) -> None:
        if self.channel is not None and len(self.channel):
            for q in self.channel.take_until(now_ns):
                self._on_leader(q)

    def _on_leader(self, q: LeaderQuote) -> None:
        self._advance(q.arrival_ns)
        if not q.connected:
            self.leader_connected = False
            return
        self.leader_connected = True
        self.lead_mid = q.mid
        if q.arrival_ns > self.last_leader_ns:
            self.last_leader_ns = q.arrival_ns

    def _on_follower(self, mid: float, now_ns: int) -> None:
        self._advance(now_ns)
        self.follow_mid = mid

    def _advance(self, now_ns: int) -> None:
        """Take the grid samples due before ``now_ns`` (mids as they were until now)."""
        if now_ns <= self._last_now:
            return
        self._last_now = now_ns
        if self._next_grid < 0:
            self._next_grid = now_ns - now_ns % self._dt + self._dt
            return
        if now_ns < self._next_grid:
            return
        steps = (now_ns - self._next_grid) // self._dt + 1
        leader_live = (
            self.leader_connected
            and self.last_leader_ns >= 0
            and now_ns - self.last_leader_ns <= self._stale_ns
        )
        if steps * self._dt > self._stale_ns or not leader_live:
            # a gap or a dead leader: no return is taken across it
            self._prev_lead = self._prev_fol = math.nan
            self._next_grid += steps * self._dt
            return
        lead, fol = self.lead_mid, self.follow_mid
        for _ in range(int(steps)):
            self._sample(lead, fol)
        self._next_grid += steps * self._dt

    def _sample(self, lead: float, fol: float) -> None:
        pl, pf = self._prev_lead, self._prev_fol
        self._prev_lead, self._prev_fol = lead, fol
        if not (pl > 0.0 and pf > 0.0 and lead > 0.0 and fol > 0.0):
            return
        rx, ry = math.log(lead / pl), math.log(fol / pf)
        if not (math.isfinite(rx) and math.isfinite(ry)):
            return
        w = self.params.window
        self._x[self._i] = rx
        self._y[self._i] = ry
        self._i = (self._i + 1) % w
        self.samples_taken += 1
        if self._n < w:
            self._n += 1

    # -- analysis -------------------------------------------------------------------------
    def returns(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored (leader, follower) returns in time order."""
        w = self.params.window
        if self._n < w:
            return self._x[: self._n].copy(), self._y[: self._n].copy()
        order = np.r_[self._i : w, 0 : self._i]
        return self._x[order], self._y[order]

    def run_test(self) -> LeadLagResult | None:
        p = self.params
        if self._n < max(p.min_samples, p.max_lag + 10):
            return None
        x, y = self.returns()
        self.tests += 1
        self.result = analyse(
            x,
            y,
            min_lag=p.min_lag,
            max_lag=p.max_lag,
            n_bins=p.n_bins,
            n_permutations=p.n_permutations,
            alpha=p.alpha,
            seed=(self.seed * 1_000_003 + self.tests) % (2**31 - 1),
            circular=p.null == "circular",
            beta_z=p.beta_z,
        )
        return self.result

    def _expected_catch_up(self, res: LeadLagResult) -> float:
        """``sum_L beta_L * (sum of the leader's last L returns)``, read from the ring
        (recomputed only when a sample or a test result is new)."""
        key = (self.samples_taken, self.tests)
        if key == self._catch_up_key:
            return self._catch_up
        total = self._catch_up_sum(res.betas)
        self._catch_up_key, self._catch_up = key, total
        return total

    def _catch_up_sum(self, betas: np.ndarray) -> float:
        """The sum of :meth:`_expected_catch_up`, lag by lag from the newest return (a
        Python float: numpy's scalars are read out as they are added)."""
        w = self.params.window
        total = 0.0
        csum = 0.0
        j = self._i
        for lag in range(1, min(betas.size, self._n + 1)):
            j = j - 1 if j > 0 else w - 1
            csum += float(self._x[j])
            b = float(betas[lag])
            if b != 0.0:
                total += b * csum
        return total

    def _state(self, now_ns: int, last_leader_ns: int) -> str:
        """The reason code of now (``last_leader_ns``: the estimator's, read once)."""
        if last_leader_ns < 0:
            return "no_leader_data"
        if not self.leader_connected:
            return "leader_disconnected"
        if now_ns - last_leader_ns > self._stale_ns:
            return "leader_stale"
        res = self.result
        if res is None:
            return "insufficient_samples"
        if not res.significant:
            return "not_significant"
        if res.lag < 1:
            return "no_lead"
        return "active"

    def estimate(self, out: Estimates, now_ns: int) -> None:
        self._drain(now_ns)
        self._advance(now_ns)
        if now_ns >= self._next_test and (self.run_test() is not None or self._next_test < 0):
            self._next_test = now_ns + self._test_ns
        last = self.last_leader_ns
        state = self._state(now_ns, last)
        if state != self.status:
            self._log_transition(self.status, state)
            self.status = state
        shift = 0.0
        res = self.result
        if state == "active" and res is not None:
            shift = self._expected_catch_up(res)
            cap = self.params.max_shift
            shift = 0.0 if not math.isfinite(shift) else max(-cap, min(cap, shift))
        self.shift = shift
        out.fair_value_shift = shift
        ex = out.extras
        ex["lead_lag.gated"] = 1.0 if state in FEED_STATES else 0.0
        ex["lead_lag.active"] = 1.0 if state == "active" else 0.0
        ex["lead_lag.state"] = float(STATES[state])
        ex["lead_lag.leader_age_s"] = (now_ns - last) / 1e9 if last >= 0 else -1.0
        ex["lead_lag.samples"] = float(self._n)
        if res is not None:
            ex["lead_lag.lag_s"] = res.lag_s(self.params.sample_interval_s)
            ex["lead_lag.corr"] = res.corr
            ex["lead_lag.mi"] = res.mi
            ex["lead_lag.p_value"] = res.p_value

    def _log_transition(self, old: str, new: str) -> None:
        if new in FEED_STATES and old not in FEED_STATES:
            log.warning("lead-lag signal gated off: %s (fair_value_shift = 0)", new)
        elif old in FEED_STATES and new not in FEED_STATES:
            log.info("lead-lag leader feed back (%s -> %s)", old, new)
        else:
            log.debug("lead-lag state %s -> %s", old, new)


def build(ctx: BuildContext[LeadLagParams]) -> LeadLagEstimator:
    return LeadLagEstimator(ctx.params, ctx.seed)
