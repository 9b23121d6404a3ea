"""Warmup (seed report section 2 "Warmup Time" and section 9): estimator and gate.

The ``warmup`` estimator runs after ``kappa`` and ``sigma`` and reads what they published.
Warmup ends when all of these hold, or when ``max_warmup_secs`` have passed since the first
*market data* event (then quoting starts from the priors, with a warning):

* ``min_buckets`` completed volume buckets of ``bucket_notional`` USD of market volume (or
  of ``bucket_size`` base units when that is set);
* ``min_trades`` market trades;
* a kappa fit from market data (``require_kappa_market_fit``): the book or robust source
  has confidence > 0 (``extras["kappa.book_confidence"]`` / ``["kappa.robust_confidence"]``);
* only when opted in (``require_kappa_graduation``, off by default), the kappa orchestrator's
  own-fill graduation (``extras["kappa.graduated"]``). Own fills only come from quoting,
  which warmup holds back, so by default readiness rests on market data alone; graduation
  still decides when own fills join the kappa blend.

A kappa requirement whose keys no estimator publishes is waived, with a log line. The
timeout clock starts at the first market-data event (book, BBO, trade), not at process start
nor at the first timer or account event: a slow connection does not eat the warmup.

Once warmed up it stays warmed up. What it still waits for is published in
``Estimates.warmup_waiting`` and logged (on start, on each requirement met, every
``log_interval_s`` and at the end), never silent. The ``warmup`` gate halts quoting with
reason ``"Warmup"`` while ``Estimates.warmed_up`` is false.

A trade whose price or size is not a finite positive number is not counted and is recorded
in ``rejections`` (see :mod:`mmkit.faults`); anything else that goes wrong is a bug and
propagates to the engine.

What reports read (public attributes of :class:`WarmupEstimator`, all from market data):

* ``first_ns``: receive time (ns) of the first market-data event, -1 before it (the timeout
  counts from it);
* ``warmed_up`` / ``timed_out``: warmup ended, and whether it ended by ``max_warmup_secs``
  rather than by its requirements (``ended_by``: ``"ready"``, ``"timeout"`` or ``"never"``);
* ``ended_ns``: the engine time (ns) of the check that ended warmup, -1 until it ends;
* ``finished_after_s``: seconds from ``first_ns`` to ``ended_ns`` (NaN until it ends);
* ``trades`` (count of valid market trades), ``volume`` (base units), ``notional`` (quote
  currency) and ``buckets`` (completed volume buckets, a property).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from mmkit.components import (
    DECLARABLE_KINDS,
    NOT_MARKET_DATA,
    Estimates,
    GateDecision,
    GateRole,
    View,
)
from mmkit.core.events import Event, Trade, TradeBatch
from mmkit.core.types import NS_PER_S
from mmkit.estimators._mid import positive
from mmkit.estimators.params import WarmupParams
from mmkit.faults import Rejections
from mmkit.registry import BuildContext

if TYPE_CHECKING:
    from mmkit.estimators.warmup_twin import WarmupEstimatorTwin, WarmupGateTwin

log = logging.getLogger(__name__)

#: rejection reason (mmkit.faults)
_BAD_TRADE = "price or size not a finite positive number"


class WarmupEstimator:
    #: what it writes (audit contract :class:`mmkit.components.DeclaresPublishes`)
    publishes = frozenset({"warmed_up", "warmup_waiting", "warmup.*"})
    #: market data only (its clock starts with the first of it; it counts trades): the
    #: engine does not deliver the rest (:class:`mmkit.components.DeclaresIgnores`)
    ignores = NOT_MARKET_DATA

    def __init__(self, p: WarmupParams) -> None:
        self.p = p
        self.trades = 0
        self.volume = 0.0  # base units
        self.notional = 0.0  # quote currency (price x size)
        #: receive time (ns) of the first market-data event; the timeout counts from it
        self.first_ns = -1
        self.warmed_up = False
        self.timed_out = False
        #: trades and completed buckets when the warmup ended (0 until then)
        self.trades_at_end = 0
        self.buckets_at_end = 0
        #: seconds from the first market data to the end of warmup (NaN until it ends)
        self.finished_after_s = math.nan
        #: engine time (ns) of the check that ended warmup (-1 until it ends)
        self.ended_ns = -1
        self.waiting = "first market data"
        self._met: set[str] = set()
        self._last_log_ns = -(2**62)
        self._waived: set[str] = set()
        #: bad input skipped, with why (the engine reports it)
        self.rejections = Rejections()

    def twin(self) -> WarmupEstimatorTwin:
        """The compiled twin of this component: same parameters, fresh state
        (see mmkit.twins)."""
        from mmkit.estimators.warmup_twin import WarmupEstimatorTwin

        return WarmupEstimatorTwin(self.p)

    @property
    def buckets(self) -> int:
        """Completed volume buckets: base-unit volume / ``bucket_size`` when that is set,
        else quote notional / ``bucket_notional``."""
        if self.p.bucket_size > 0:
            return int(self.volume // self.p.bucket_size)
        return int(self.notional // self.p.bucket_notional)

    @property
    def ended_by(self) -> str:
        """How warmup ended: ``"ready"`` (requirements met), ``"timeout"`` (quoting from
        the priors after ``max_warmup_secs``) or ``"never"`` (still warming up)."""
        if not self.warmed_up:
            return "never"
        return "timeout" if self.timed_out else "ready"

    def _bucket_label(self) -> str:
        if self.p.bucket_size > 0:
            return f"bucket {self.p.bucket_size:g}"
        return f"bucket {self.p.bucket_notional:g} USD"

    def on_event(self, event: Event, now_ns: int) -> None:
        if self.first_ns < 0 and event.kind.is_market_data:
            self.first_ns = now_ns
        if isinstance(event, Trade):
            self._on_trade(event.px, event.sz, now_ns)

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's trades, as ``on_event`` would take them one by one."""
        _, px, sz, _, recv = batch.columns()
        if self.first_ns < 0 and len(recv):
            self.first_ns = int(recv[0])
        inf = math.inf
        bad = 0
        first_bad = 0.0
        for p, s in zip(px, sz, strict=True):
            if 0.0 < p < inf and 0.0 < s < inf:  # as _on_trade's positive() checks
                self._count(p, s)
            else:
                if not bad:
                    first_bad = p if not 0.0 < p < inf else s
                bad += 1
        if bad:
            self.rejections.reject("TRADE", _BAD_TRADE, first_bad, now_ns, bad)

    def _on_trade(self, px_in: Any, sz_in: Any, now_ns: int) -> None:
        sz = positive(sz_in)
        px = positive(px_in)
        if sz == sz and px == px:
            self._count(px, sz)
        else:
            self.rejections.reject("TRADE", _BAD_TRADE, (px_in, sz_in), now_ns)

    def _count(self, px: float, sz: float) -> None:
        """A trade with a finite, positive price and size (an overflowing sum is skipped)."""
        self.trades += 1
        v = self.volume + sz
        if math.isfinite(v):
            self.volume = v
        n = self.notional + px * sz
        if math.isfinite(n):
            self.notional = n

    def _unmet(self, out: Estimates) -> list[tuple[str, str]]:
        p = self.p
        unmet: list[tuple[str, str]] = []
        if self.buckets < p.min_buckets:
            unmet.append(
                (
                    "volume",
                    f"volume buckets {self.buckets}/{p.min_buckets} ({self._bucket_label()})",
                )
            )
        if self.trades < p.min_trades:
            unmet.append(("trades", f"market trades {self.trades}/{p.min_trades}"))
        ex = out.extras
        if p.require_kappa_market_fit:
            confs = [
                c
                for c in (ex.get("kappa.book_confidence"), ex.get("kappa.robust_confidence"))
                if c is not None
            ]
            if not confs:
                self._waive("kappa.book_confidence / kappa.robust_confidence", "kappa fit")
            elif not max(confs) > 0.0:  # NaN counts as no fit
                unmet.append(("kappa fit", "kappa fit from market data (book or trades)"))
        if p.require_kappa_graduation:
            grad = ex.get("kappa.graduated")
            if grad is None:
                self._waive("kappa.graduated", "kappa graduation")
            elif not grad >= 0.5:
                n = out.extras.get("kappa.own_n", math.nan)
                fills = f"{n:.0f}" if math.isfinite(n) else "?"
                unmet.append(("kappa", f"kappa graduation (own fills {fills})"))
        return unmet

    def _waive(self, keys: str, what: str) -> None:
        """Log once that a requirement is waived because no estimator publishes ``keys``."""
        if what not in self._waived:
            self._waived.add(what)
            log.info("warmup: no estimator publishes %s; %s is not waited for", keys, what)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        if self.warmed_up:
            out.warmed_up = True
            out.warmup_waiting = ""
            out.extras["warmup.timed_out"] = 1.0 if self.timed_out else 0.0
            out.extras["warmup.after_s"] = self.finished_after_s
            return
        if self.first_ns < 0:  # no market data yet: nothing to wait on but data
            self._wait(out, "first market data (the warmup timeout starts with it)", now_ns)
            return
        elapsed_s = max(0, now_ns - self.first_ns) / NS_PER_S
        unmet = self._unmet(out)
        names = {n for n, _ in unmet}
        active = {"volume", "trades"}
        if self.p.require_kappa_market_fit and "kappa fit" not in self._waived:
            active.add("kappa fit")
        if self.p.require_kappa_graduation and "kappa graduation" not in self._waived:
            active.add("kappa")
        for name in sorted(active - names - self._met):
            self._met.add(name)
            log.info("warmup: %s requirement met after %.0f s", name, elapsed_s)
        if not unmet:
            self.finished_after_s = elapsed_s
            self.ended_ns = now_ns
            self._finish(out, f"all requirements met after {elapsed_s:.0f} s", timed_out=False)
            return
        if elapsed_s >= self.p.max_warmup_secs:
            self.finished_after_s = elapsed_s
            self.ended_ns = now_ns
            self._finish(
                out,
                f"timeout after {elapsed_s:.0f} s, quoting from priors; still "
                f"missing: {'; '.join(d for _n, d in unmet)}",
                timed_out=True,
            )
            return
        remaining = self.p.max_warmup_secs - elapsed_s
        self._wait(out, "; ".join(d for _n, d in unmet) + f"; timeout in {remaining:.0f} s", now_ns)

    def _wait(self, out: Estimates, waiting: str, now_ns: int) -> None:
        """Not warmed up yet: publish what it waits for (logged every ``log_interval_s``)."""
        self.waiting = waiting
        out.warmed_up = False
        out.warmup_waiting = waiting
        out.extras["warmup.timed_out"] = 0.0
        if now_ns - self._last_log_ns >= self.p.log_interval_s * NS_PER_S:
            self._last_log_ns = now_ns
            log.info("warmup: waiting for %s", waiting)

    def _finish(self, out: Estimates, why: str, *, timed_out: bool) -> None:
        self.warmed_up = True
        self.timed_out = timed_out
        self.waiting = ""
        self.trades_at_end = self.trades  # what the warmup consumed (counting goes on)
        self.buckets_at_end = self.buckets
        if timed_out:
            log.warning("warmup: %s", why)
        else:
            log.info("warmup: complete (%s)", why)
        out.warmed_up = True
        out.warmup_waiting = ""
        out.extras["warmup.timed_out"] = 1.0 if timed_out else 0.0
        out.extras["warmup.after_s"] = self.finished_after_s


class WarmupGate:
    """Closed (reason ``"Warmup"``, detail = what it waits for) until warmed up."""

    #: audit contract :class:`mmkit.components.DeclaresRoles`
    roles = frozenset({GateRole.WARMUP})
    #: it decides from the estimates alone: no event is delivered to it
    #: (:class:`mmkit.components.DeclaresIgnores`)
    ignores = DECLARABLE_KINDS

    def __init__(self, name: str = "warmup") -> None:
        self.name = name

    def twin(self) -> WarmupGateTwin:
        """The compiled twin of this component: same parameters, fresh state
        (see mmkit.twins)."""
        from mmkit.estimators.warmup_twin import WarmupGateTwin

        return WarmupGateTwin(self.name)

    def on_event(self, event: Event, now_ns: int) -> None:
        return None

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        return None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if est.warmed_up:
            return None
        waiting = est.warmup_waiting or "warmup (no warmup estimator has reported yet)"
        return GateDecision(self.name, "Warmup", {"waiting": waiting})


def build(ctx: BuildContext[WarmupParams]) -> WarmupEstimator:
    return WarmupEstimator(ctx.params)


def build_gate(ctx: BuildContext[Any]) -> WarmupGate:
    return WarmupGate(ctx.name)
