"""The ``kappa`` estimator: confidence-weighted, EWMA-smoothed blend of three kappa sources.

* book-structure kappa (:mod:`.book_kappa`), confidence R²;
* robust kappa of market-trade depths (:mod:`.robust_kappa`), confidence from the effective
  sample size;
* own-fill kappa (:mod:`.own_fill_kappa`), confidence ``n / (n + prior_strength)``; it joins
  the blend once ``warmup_fills`` fills have been seen (graduation, permanent). Depth is
  ``|fill px - mid at fill| / mid`` with the mid tracked from book events; taker
  (``crossed``) and liquidation fills are not passive fills at a quoted depth and are
  ignored;
* the prior, with a small fixed confidence, so the blend always has a source.

Before graduation the robust source is capped at ``warmup_robust_cap_mult × prior_kappa``:
market trades print at the touch, so their depths say where the market trades, not how our
own fills decay with depth (a BTC tape gives ~1e5, a quote on the touch). The blend is
clamped into ``[kappa_floor, kappa_cap]`` before it enters the EWMA (``ewma_alpha`` on the
previous value, one step each time a source changes), and again at retrieval, so the
published kappa is always finite and within the clamp. A stagnation alert (recommendation 5)
fires when own-fill confidence has stayed below ``stagnation_confidence`` for
``stagnation_s``.

Input it cannot use is skipped and recorded in ``rejections`` (see :mod:`mmkit.faults`): a
book or BBO without a valid touch, a trade or fill whose price or size is not a finite
positive number. A fill or trade that is merely unusable for kappa (no mid yet, deeper than
``max_trade_depth``, a taker fill) is not bad data and is not a rejection. Anything else
that goes wrong is a bug and propagates to the engine.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from mmkit.components import DECLARABLE_KINDS, Estimates
from mmkit.core.events import Event, EventKind, TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.estimators._mid import event_mid, positive
from mmkit.estimators.book_kappa import BookKappa
from mmkit.estimators.own_fill_kappa import OwnFillKappa
from mmkit.estimators.params import KappaParams
from mmkit.estimators.robust_kappa import RobustKappa
from mmkit.faults import Rejections
from mmkit.registry import BuildContext

if TYPE_CHECKING:
    from mmkit.estimators.kappa_orchestrator_twin import KappaOrchestratorTwin

log = logging.getLogger(__name__)

_BOOK, _ROBUST, _OWN = 1, 2, 4
_ALL = _BOOK | _ROBUST | _OWN

# rejection reasons (mmkit.faults): fixed texts, so that repeats are one report
_NO_TOUCH = "no valid touch (a side empty, crossed, or a price not finite and positive)"
_BAD_TRADE = "price or size not a finite positive number"
_BAD_FILL = "fill price not a finite positive number"
#: the event kinds kappa takes nothing from (its ``ignores``)
UNUSED_KINDS = DECLARABLE_KINDS - {
    EventKind.BOOK_SNAPSHOT,
    EventKind.BBO,
    EventKind.TRADE,
    EventKind.OWN_FILL,
}


class KappaOrchestrator:
    """Audit contracts: :class:`~mmkit.components.OwnFillPosterior` and
    :class:`~mmkit.components.KappaSources` (the introspection methods at the end)."""

    #: what it writes (audit contract :class:`mmkit.components.DeclaresPublishes`)
    publishes = frozenset({"kappa", "kappa_confidence", "A", "kappa.*"})
    #: it estimates from books, top of book, trades and its own fills; the other kinds move
    #: nothing, not even its clock (which ``estimate`` advances), so the engine does not
    #: deliver them (:class:`mmkit.components.DeclaresIgnores`)
    ignores = UNUSED_KINDS

    def __init__(self, p: KappaParams) -> None:
        self.p = p
        self.book = BookKappa(p.book_max_depth, p.book_min_levels, p.book_fit_interval_s)
        self.robust = RobustKappa(
            p.robust_nu,
            p.window_s,
            p.robust_max_trades,
            p.robust_min_trades,
            p.robust_fit_interval_s,
            p.robust_prior_strength,
        )
        self.own = OwnFillKappa.from_prior_mean(
            p.prior_kappa, p.prior_strength, p.window_s, p.warmup_fills
        )
        self.mid = math.nan
        self.smoothed = p.prior_kappa
        self.blend = p.prior_kappa
        self._sources: list[tuple[str, float, float]] = [("prior", p.prior_kappa, 1.0)]
        self._dirty = _ALL  # bit set of the sources changed since the last blend
        self._first_ns = -1
        self._now = -(2**62)
        self._stagnant_since = -1
        self.stagnation_alert = False
        self.stagnation_episodes = 0
        #: bad input skipped, with why (the engine reports it)
        self.rejections = Rejections()
        self.rejected_fills = 0
        self._kappa_out = self.kappa_value()
        self._confidence_out = 0.0
        self._last_out: Estimates | None = None
        self._published_alert = False

    def twin(self) -> KappaOrchestratorTwin:
        """The compiled twin of this component: same parameters, fresh state
        (see mmkit.twins)."""
        from mmkit.estimators.kappa_orchestrator_twin import KappaOrchestratorTwin

        return KappaOrchestratorTwin(self.p)

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        self._on_event(event, now_ns)

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's trades, as ``on_event`` would take them one by one."""
        _, px, sz, _, recv = batch.columns()
        if recv[-1] > self._now:
            self._now = recv[-1]
        if self._first_ns < 0:
            self._first_ns = recv[0]
        inf = math.inf
        depths: list[float] = []
        times: list[int] = []
        bad = 0
        first_bad = 0.0
        for p, s, t in zip(px, sz, recv, strict=True):
            if not (0.0 < p < inf and 0.0 < s < inf):  # as on_event's positive() checks
                if not bad:
                    first_bad = p if not 0.0 < p < inf else s
                bad += 1
                continue
            d = self._depth(p)
            if d == d:
                depths.append(d)
                times.append(t)
        self.robust.add_many(depths, times)
        if bad:
            self.rejections.reject("TRADE", _BAD_TRADE, first_bad, now_ns, bad)

    def _on_event(self, ev: Any, now_ns: int) -> None:
        kind = ev.kind
        if kind in UNUSED_KINDS:
            return
        if now_ns > self._now:
            self._now = now_ns
        if self._first_ns < 0:
            self._first_ns = now_ns
        if kind is EventKind.BOOK_SNAPSHOT:
            mid = event_mid(ev)
            if mid == mid:
                self.mid = mid
                if self.book.on_book(ev, mid, now_ns):
                    self._dirty |= _BOOK
            else:
                self.rejections.reject(kind.name, _NO_TOUCH, None, now_ns)
        elif kind is EventKind.BBO:
            mid = event_mid(ev)
            if mid == mid:
                self.mid = mid
            else:
                self.rejections.reject(kind.name, _NO_TOUCH, None, now_ns)
        elif kind is EventKind.TRADE:
            px, sz = positive(ev.px), positive(ev.sz)
            if px != px or sz != sz:  # NaN: not a finite positive number
                self.rejections.reject(kind.name, _BAD_TRADE, (ev.px, ev.sz), now_ns)
                return
            d = self._depth(px)
            if d == d:
                self.robust.add(d, now_ns)
        elif kind is EventKind.OWN_FILL:
            if ev.crossed or ev.liquidation:  # not a passive fill at a chosen depth
                return
            fpx = positive(ev.px)
            if fpx != fpx:  # NaN: not a finite positive number
                self.rejections.reject(kind.name, _BAD_FILL, ev.px, now_ns)
                self._reject_fill(ev.px)
                return
            d = self._depth(ev.px)
            graduated = self.own.has_exited_warmup
            if d == d and self.own.on_fill(d, now_ns):
                self._dirty |= _OWN
                if self.own.has_exited_warmup and not graduated:
                    log.info(
                        "kappa: own-fill warmup exited at fill %d (graduation is permanent)",
                        self.own.total_observations,
                    )
            else:
                self._reject_fill(ev.px)

    def _reject_fill(self, px: Any) -> None:
        """Count (and log, at powers of two) a fill that cannot be a kappa observation."""
        self.rejected_fills += 1
        n = self.rejected_fills
        if n & (n - 1) == 0:
            log.info(
                "kappa: fill at %r not used as an observation (mid %r, max depth %g); "
                "%d such fills so far",
                px,
                self.mid,
                self.p.max_trade_depth,
                n,
            )

    def _depth(self, px: Any) -> float:
        """Relative distance of ``px`` from the tracked mid (NaN if unusable)."""
        mid = self.mid
        p = positive(px)
        if not (mid == mid and p == p):
            return math.nan
        d = abs(p - mid) / mid
        return d if d <= self.p.max_trade_depth else math.nan

    # -- retrieval ------------------------------------------------------------------------
    def estimate(self, out: Estimates, now_ns: int) -> None:
        if now_ns > self._now:
            self._now = now_ns
        now = self._now
        dirty = self._dirty
        if self.own.expire(now):
            dirty |= _OWN
        if self.robust.refresh(now):
            dirty |= _ROBUST
        if dirty:
            self._reblend()
        alert = self._stagnation(now)
        if out is not self._last_out:
            self._last_out = out
            dirty = _ALL
            self._published_alert = not alert
        if dirty:
            self._publish(out, dirty)
        if alert != self._published_alert:
            self._published_alert = alert
            out.extras["kappa.stagnation_alert"] = 1.0 if alert else 0.0
        out.kappa = self._kappa_out
        out.kappa_confidence = self._confidence_out

    def _publish(self, out: Estimates, dirty: int) -> None:
        """Write the extras of the sources that changed (dict writes are the slow part)."""
        ex = out.extras
        if dirty & _BOOK:
            _publish_source(ex, "kappa.book", self.book.kappa, self.book.confidence)
        if dirty & (_ROBUST | _OWN):
            cap = self.robust_cap()
            if cap < math.inf:
                ex["kappa.robust_cap"] = cap
            else:
                ex.pop("kappa.robust_cap", None)
        if dirty & _ROBUST:
            _publish_source(ex, "kappa.robust", self.robust.kappa, self.robust.confidence)
            a = self._intensity()
            if a == a:
                out.A = a
        if dirty & _OWN:
            own = self.own
            ex["kappa.own"] = own.kappa
            ex["kappa.own_confidence"] = own.confidence
            ex["kappa.own_n"] = float(own.observation_count)
            ex["kappa.graduated"] = 1.0 if own.has_exited_warmup else 0.0

    def kappa_value(self) -> float:
        """The smoothed blend clamped into ``[kappa_floor, kappa_cap]`` (always finite)."""
        k = self.smoothed
        if not math.isfinite(k):
            k = self.p.prior_kappa
        return min(max(k, self.p.kappa_floor), self.p.kappa_cap)

    def robust_cap(self) -> float:
        """The cap on the robust source (per unit of relative depth): ``warmup_robust_cap_mult
        × prior_kappa`` before own-fill graduation, none (inf) after."""
        if self.own.has_exited_warmup:
            return math.inf
        return self.p.warmup_robust_cap_mult * self.p.prior_kappa

    def _reblend(self) -> None:
        """Confidence-weighted blend of the usable sources, clamped into
        ``[kappa_floor, kappa_cap]``, then one EWMA step."""
        self._dirty = 0
        p = self.p
        own = self.own
        robust_k = min(self.robust.kappa, self.robust_cap())  # NaN stays NaN: unusable
        candidates = (
            ("prior", p.prior_kappa, p.prior_weight),
            ("book", self.book.kappa, self.book.confidence),
            ("robust", robust_k, self.robust.confidence),
            ("own", own.kappa, own.confidence if own.has_exited_warmup else 0.0),
        )
        sources: list[tuple[str, float, float]] = []
        wsum = wk = 0.0
        lo, hi = math.inf, 0.0
        conf = 0.0
        for src in candidates:
            _name, k, c = src
            if 0 < c <= 1 and 0 < k < math.inf:
                sources.append(src)
                wsum += c
                wk += c * k
                lo = min(lo, k)
                hi = max(hi, k)
                if _name != "prior":
                    conf = max(conf, c)
        if not sources:
            sources = [("prior", p.prior_kappa, 1.0)]
            wsum, wk, lo, hi = 1.0, p.prior_kappa, p.prior_kappa, p.prior_kappa
        blend = wk / wsum
        if not math.isfinite(blend):  # overflow of c * k: a safe convex point
            blend = math.fsum((c / wsum) * k for _n, k, c in sources)
        self.blend = min(max(blend, lo), hi)
        self._sources = sources
        clamped = min(max(self.blend, p.kappa_floor), p.kappa_cap)
        a = p.ewma_alpha
        sm = a * self.smoothed + (1.0 - a) * clamped
        self.smoothed = sm if math.isfinite(sm) else clamped
        self._kappa_out = self.kappa_value()
        self._confidence_out = min(conf, 1.0)

    def _intensity(self) -> float:
        """Market trades per second per side (the ``A`` of the model), 1/s.

        The rate is the held trades over the time they cover: ``min(window_s, elapsed)``
        while the trade buffer holds every trade of the window. Once the buffer
        (``robust_max_trades``) has dropped trades still inside the window to make room,
        it covers only the time since the newest dropped trade, and dividing by the
        whole window would understate A by the ratio of the two (about 5x on a busy BTC
        tape: 4096 trades are ~66 s of a 600 s window); then the rate is the trades
        received after that cut over the time from it to now. NaN (A left unchanged)
        with fewer than ``robust_min_trades`` trades or no time covered."""
        n, span_s, _ = self.intensity_basis()
        return n / (2.0 * span_s) if span_s > 0 and n > 0 else math.nan

    def intensity_basis(self) -> tuple[int, float, bool]:
        """What ``A`` is computed from: ``(trades counted, seconds they cover, whether the
        trade buffer is the limit)``; the count is 0 below ``robust_min_trades`` trades.

        ``A = count / (2 × seconds)``. The third item is True when the buffer has dropped
        trades inside the window (the span is then the time since the newest dropped trade,
        shorter than ``min(window_s, elapsed)``)."""
        robust = self.robust
        n = robust.observation_count
        if n < self.p.robust_min_trades or self._first_ns < 0:
            return 0, 0.0, False
        now = self._now
        span_s = min(self.p.window_s, (now - self._first_ns) / NS_PER_S)
        cut = robust.capacity_cut_ns
        if cut > now - span_s * NS_PER_S:  # the buffer covers less than the span
            return robust.count_after(cut), (now - cut) / NS_PER_S, True
        return n, span_s, False

    def _stagnation(self, now: int) -> bool:
        if self.own.confidence >= self.p.stagnation_confidence:
            self._stagnant_since = -1
            self.stagnation_alert = False
            return False
        if self._stagnant_since < 0:
            self._stagnant_since = now
        if (
            not self.stagnation_alert
            and now - self._stagnant_since >= self.p.stagnation_s * NS_PER_S
        ):
            self.stagnation_alert = True
            self.stagnation_episodes += 1
            log.warning(
                "kappa stagnation: own-fill confidence %.2f below %.2f for %.0f s "
                "(%d fills in the window); quoting relies on market and book kappa",
                self.own.confidence,
                self.p.stagnation_confidence,
                (now - self._stagnant_since) / NS_PER_S,
                self.own.observation_count,
            )
        return self.stagnation_alert

    # -- introspection (used by the audit invariants) -------------------------------------
    def kappa_sources(self) -> list[tuple[str, float, float]]:
        """``(name, kappa, confidence)`` of the sources in the last blend."""
        return list(self._sources)

    def blended_kappa(self) -> float:
        """The last raw (unsmoothed) blend."""
        return self.blend

    def posterior(self) -> tuple[float, float]:
        return self.own.posterior()

    @property
    def prior(self) -> tuple[float, float]:
        return self.own.prior

    @property
    def observation_count(self) -> int:
        return self.own.observation_count

    @property
    def has_exited_warmup(self) -> bool:
        return self.own.has_exited_warmup

    @property
    def warmup_fills(self) -> int:
        return self.p.warmup_fills

    @property
    def window_s(self) -> float:
        return self.p.window_s


def _publish_source(ex: dict[str, float], key: str, kappa: float, confidence: float) -> None:
    """Publish a source's kappa and confidence, or remove them while it has none."""
    if confidence > 0 and math.isfinite(kappa):
        ex[key] = kappa
        ex[key + "_confidence"] = confidence
    else:
        ex.pop(key, None)
        ex[key + "_confidence"] = 0.0


def build(ctx: BuildContext[KappaParams]) -> KappaOrchestrator:
    return KappaOrchestrator(ctx.params)
