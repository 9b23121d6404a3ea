"""The ``sigma`` estimator: particle filter + multi-scale bipower, capped, with cascade mode.

Mid returns are sampled every ``sample_interval_s`` (event times passed in; a gap of ``k``
intervals gives one return normalised by ``sqrt(k)``; a longer gap than
``max_gap_intervals`` restarts the sampling). Each return feeds

* the regime-switching stochastic-volatility particle filter (:mod:`.particle_filter`),
* the multi-scale bipower variation (:mod:`.bipower`),
* the jump detector of cascade mode (:mod:`.cascade`), together with trade bursts and
  open-interest drops (an event with an ``open_interest`` attribute, when a feed has one).

``sigma = clamp(max(sqrt(w * pf_var + (1 - w) * bipower_var) / sqrt(dt), cascade_floor),
min_sigma, max_sigma)``; before ``warmup_returns`` returns the variance part is
``default_sigma`` (the report's warmup fallback). Every path goes through the same clamp.

Input it cannot use is skipped and recorded in ``rejections`` (see :mod:`mmkit.faults`): an
event older than the last one (the sampling clock never goes back), a book or BBO without a
valid touch, a trade whose price or size is not a finite positive number. Anything else that
goes wrong is a bug and propagates to the engine.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from mmkit.components import Estimates
from mmkit.core.events import Event, EventKind, TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.estimators._mid import event_mid, positive
from mmkit.estimators.bipower import MultiScaleBipower
from mmkit.estimators.cascade import CascadeFloor, OpenInterestDropDetector, TradeBurstDetector
from mmkit.estimators.params import SigmaParams
from mmkit.estimators.particle_filter import ParticleFilter, SVModel
from mmkit.faults import Rejections
from mmkit.registry import BuildContext

if TYPE_CHECKING:
    from mmkit.estimators.sigma_estimator_twin import SigmaEstimatorTwin

log = logging.getLogger(__name__)

# rejection reasons (mmkit.faults): fixed texts, so that repeats are one report
_LATE = "older than the last event (the sampling clock never goes back)"
_NO_TOUCH = "no valid touch (a side empty, crossed, or a price not finite and positive)"
_BAD_TRADE = "price or size not a finite positive number"


def sv_model(p: SigmaParams) -> SVModel:
    """The per-interval SV model whose stationary mean variance is ``default_sigma^2 * dt``."""
    dt = p.sample_interval_s
    phi = 0.5 ** (dt / p.half_life_s)
    sd = p.vol_of_vol / math.sqrt(max(1e-12, 1.0 - phi * phi))
    mu = math.log(p.default_sigma**2 * dt) - 0.5 * sd * sd
    return SVModel(
        mu=mu,
        phi=phi,
        vol_of_vol=p.vol_of_vol,
        d_mu=2.0 * math.log(p.turbulent_mult),
        p01=p.p_enter_turbulent,
        p10=p.p_exit_turbulent,
    )


class SigmaEstimator:
    #: what it writes (audit contract :class:`mmkit.components.DeclaresPublishes`)
    publishes = frozenset({"sigma", "sigma_confidence", "cascade", "sigma.*"})

    def __init__(self, p: SigmaParams, seed: int = 0) -> None:
        self.p = p
        self._seed = seed  # the constructor argument (the twin is built with it)
        self.dt_ns = max(1, int(p.sample_interval_s * NS_PER_S))
        self.default_sigma = p.default_sigma
        self.max_sigma = p.max_sigma_mult * p.default_sigma
        self.min_sigma = p.min_sigma_mult * p.default_sigma
        self._default_var = p.default_sigma**2 * p.sample_interval_s
        self.pf = ParticleFilter(
            sv_model(p), p.n_particles, p.resample_ess, seed=seed if p.seed < 0 else p.seed
        )
        hl_intervals = [h / p.sample_interval_s for h in p.bipower_half_lives]
        self.bipower = MultiScaleBipower(hl_intervals, self._default_var)
        self.burst = TradeBurstDetector(
            p.cascade_burst_window_s, p.cascade_burst_factor, p.cascade_burst_min_trades
        )
        self.oi = OpenInterestDropDetector(p.cascade_oi_drop, p.cascade_oi_window_s)
        self.cascade = CascadeFloor(
            p.cascade_sigma_mult * p.default_sigma, p.cascade_hold_s, p.cascade_decay_half_life_s
        )
        self.mid = math.nan
        self._book_seen = False
        self._anchor_mid = math.nan
        self._anchor_ns = -1
        self._now = -(2**62)
        self.returns = 0
        #: bad input skipped, with why (the engine reports it)
        self.rejections = Rejections()
        self._base_var = self._default_var
        self._published_returns = -1
        self._last_out: Estimates | None = None

    def twin(self) -> SigmaEstimatorTwin:
        """The compiled twin of this component: same parameters, fresh state
        (see mmkit.twins)."""
        from mmkit.estimators.sigma_estimator_twin import SigmaEstimatorTwin

        return SigmaEstimatorTwin(self.p, self._seed)

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        self._on_event(event, now_ns)

    def _on_event(self, ev: Any, now_ns: int) -> None:
        kind = ev.kind
        if now_ns < self._now:  # out of order: the clock never goes back
            self.rejections.reject(kind.name, _LATE, now_ns - self._now, now_ns)
            return
        self._now = now_ns
        if kind is EventKind.BOOK_SNAPSHOT or kind is EventKind.BBO:
            mid = event_mid(ev)
            if mid == mid:
                self.mid = mid
                self._book_seen = True
            else:
                self.rejections.reject(kind.name, _NO_TOUCH, None, now_ns)
        elif kind is EventKind.TRADE:
            px = positive(ev.px)
            if px == px and positive(ev.sz) == positive(ev.sz):
                self._on_trade(px, now_ns)
            else:
                self.rejections.reject(kind.name, _BAD_TRADE, (ev.px, ev.sz), now_ns)
        else:
            oi = getattr(ev, "open_interest", None)
            if oi is not None and self.oi.on_open_interest(positive(oi), now_ns):
                self._trigger(now_ns, "open-interest drop")
        if self.mid == self.mid:
            self._sample(now_ns)

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's trades, as ``on_event`` would take them one by one."""
        _, px, sz, _, recv = batch.columns()
        inf = math.inf
        late = bad = 0
        first_late = 0
        first_bad = 0.0
        for p, s, t in zip(px, sz, recv, strict=True):
            if t < self._now:
                if not late:
                    first_late = t - self._now
                late += 1
                continue
            self._now = t
            if 0.0 < p < inf and 0.0 < s < inf:  # as on_event's positive() checks
                self._on_trade(p, t)
            else:
                if not bad:
                    first_bad = p if not 0.0 < p < inf else s
                bad += 1
            if self.mid == self.mid:
                self._sample(t)
        if late:
            self.rejections.reject("TRADE", _LATE, first_late, now_ns, late)
        if bad:
            self.rejections.reject("TRADE", _BAD_TRADE, first_bad, now_ns, bad)

    def _on_trade(self, px: float, now_ns: int) -> None:
        """A trade with a finite, positive price and size."""
        if not self._book_seen:
            self.mid = px
        if self.burst.on_trade(now_ns):
            self._trigger(now_ns, "trade burst")

    def _sample(self, now_ns: int) -> None:
        if self._anchor_ns < 0:
            self._anchor_ns = now_ns
            self._anchor_mid = self.mid
            return
        elapsed = now_ns - self._anchor_ns
        if elapsed < self.dt_ns:
            return
        k = elapsed // self.dt_ns
        if k > self.p.max_gap_intervals:
            self._anchor_ns = now_ns
            self._anchor_mid = self.mid
            self.bipower.reset_pair()
            return
        r = math.log(self.mid / self._anchor_mid) / math.sqrt(k)
        self._anchor_ns += k * self.dt_ns
        self._anchor_mid = self.mid
        self._on_return(r, now_ns)

    def _on_return(self, r: float, now_ns: int) -> None:
        if not math.isfinite(r):
            return
        # the jump reference: the published variance, or the bipower one (which adapts
        # during warmup) when larger
        ref = math.sqrt(max(self._base_var, self.bipower.variance))
        if abs(r) > self.p.cascade_jump_k * ref:
            self._trigger(now_ns, f"jump of {abs(r) / ref:.1f} sigma")
        self.pf.step(r)
        self.bipower.update(r)
        self.returns += 1
        self._base_var = self._variance()

    def _trigger(self, now_ns: int, reason: str) -> None:
        if not self.cascade.active(now_ns):
            log.warning(
                "sigma cascade mode: %s; sigma floor %.3g for %.0f s",
                reason,
                self.cascade.floor,
                self.p.cascade_hold_s,
            )
        self.cascade.trigger(now_ns, reason)

    def on_open_interest(self, oi: float, now_ns: int) -> None:
        """Feed an open-interest reading (for feeds that deliver it outside events)."""
        if self.oi.on_open_interest(positive(oi), now_ns):
            self._trigger(now_ns, "open-interest drop")

    # -- retrieval ------------------------------------------------------------------------
    @property
    def warmed_up(self) -> bool:
        return self.returns >= self.p.warmup_returns

    def _variance(self) -> float:
        """Per-interval variance of the sources (``default`` while warming up)."""
        if not self.warmed_up:
            return self._default_var
        w = self.p.pf_weight
        v = w * self.pf.mean_variance + (1.0 - w) * self.bipower.variance
        return v if math.isfinite(v) and v > 0 else self._default_var

    def sigma_value(self, now_ns: int) -> float:
        """The published sigma: sources, cascade floor, then the clamp (every path)."""
        s = math.sqrt(self._base_var / self.p.sample_interval_s)
        if self.cascade.triggered_ns >= 0:
            s = max(s, self.cascade.value(now_ns))
        return self._clamp(s)

    def sigma_cap(self) -> float:
        """The cap on the published sigma, ``max_sigma_mult * default_sigma`` (relative
        volatility per sqrt(second)): every path goes through :meth:`_clamp`, cascade mode
        included (audit contract :class:`mmkit.components.SigmaCapped`)."""
        return self.max_sigma

    def _clamp(self, s: float) -> float:
        """``default_sigma`` if not finite, then into ``[min_sigma, max_sigma]``."""
        if not math.isfinite(s):
            s = self.default_sigma
        return min(max(s, self.min_sigma), self.max_sigma)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        now = max(now_ns, self._now)
        out.sigma = self.sigma_value(now)
        out.cascade = self.cascade.active(now)
        if self.returns != self._published_returns or out is not self._last_out:
            self._publish_all(out)
        if self.cascade.triggered_ns >= 0:
            out.extras["sigma.cascade_floor"] = self.cascade.value(now)

    def _publish_all(self, out: Estimates) -> None:
        """Write confidence and extras (only after a new return: this is the slow part)."""
        self._last_out = out
        self._published_returns = n = self.returns
        out.sigma_confidence = n / (n + self.p.warmup_returns)
        ex = out.extras
        dt = self.p.sample_interval_s
        ex["sigma.pf"] = self._clamp(math.sqrt(max(self.pf.mean_variance, 0.0) / dt))
        ex["sigma.bipower"] = self._clamp(math.sqrt(max(self.bipower.variance, 0.0) / dt))
        ex["sigma.p_turbulent"] = self.pf.p_turbulent
        ex["sigma.cascade_floor"] = 0.0
        ex["sigma.max"] = self.max_sigma
        ex["sigma.warmed_up"] = 1.0 if self.warmed_up else 0.0


def build(ctx: BuildContext[SigmaParams]) -> SigmaEstimator:
    return SigmaEstimator(ctx.params, seed=ctx.seed)
