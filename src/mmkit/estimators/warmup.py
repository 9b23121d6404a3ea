"""Warmup (seed report section 2 "Warmup Time" and section 9): estimator and gate.

The ``warmup`` estimator runs after ``kappa`` and ``sigma`` and reads what they published.
Warmup ends when all of these hold, or when ``max_warmup_secs`` have passed since the first
event (then quoting starts from the priors, with a warning):

* ``min_buckets`` completed volume buckets of ``bucket_size`` market volume;
* ``min_trades`` market trades;
* the kappa orchestrator's own-fill graduation (``extras["kappa.graduated"]``); waived, with
  a log line, when no estimator publishes it.

Once warmed up it stays warmed up. What it still waits for is published in
``Estimates.warmup_waiting`` and logged (on start, on each requirement met, every
``log_interval_s`` and at the end), never silent. The ``warmup`` gate halts quoting with
reason ``"Warmup"`` while ``Estimates.warmed_up`` is false.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from mmkit.components import Estimates, GateDecision, View
from mmkit.core.events import Event, Trade, TradeBatch
from mmkit.estimators._mid import positive
from mmkit.estimators.params import WarmupParams
from mmkit.registry import BuildContext

log = logging.getLogger(__name__)

_NS = 1_000_000_000


class WarmupEstimator:
    def __init__(self, p: WarmupParams) -> None:
        self.p = p
        self.trades = 0
        self.volume = 0.0
        self.first_ns = -1
        self.warmed_up = False
        self.timed_out = False
        self.waiting = "first event"
        self._met: set[str] = set()
        self._last_log_ns = -(2**62)
        self._waived_logged = False
        self.bad_events = 0

    @property
    def buckets(self) -> int:
        return int(self.volume // self.p.bucket_size)

    def on_event(self, event: Event, now_ns: int) -> None:
        try:
            if self.first_ns < 0:
                self.first_ns = now_ns
            if isinstance(event, Trade):
                self._on_trade(event.px, event.sz)
        except Exception:  # never raise on bad input
            self.bad_events += 1

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's trades, as ``on_event`` would take them one by one."""
        _, px, sz, _, recv = batch.columns()
        if self.first_ns < 0:
            self.first_ns = recv[0]
        inf = math.inf
        for p, s in zip(px, sz, strict=True):
            if 0.0 < p < inf and 0.0 < s < inf:  # as _on_trade's positive() checks
                self._count(s)

    def _on_trade(self, px: Any, sz_in: Any) -> None:
        sz = positive(sz_in)
        if sz == sz and positive(px) == positive(px):
            self._count(sz)

    def _count(self, sz: float) -> None:
        """A trade with a finite, positive price and size."""
        self.trades += 1
        v = self.volume + sz
        if math.isfinite(v):
            self.volume = v

    def _unmet(self, out: Estimates) -> list[tuple[str, str]]:
        p = self.p
        unmet: list[tuple[str, str]] = []
        if self.buckets < p.min_buckets:
            unmet.append(
                (
                    "volume",
                    f"volume buckets {self.buckets}/{p.min_buckets} (bucket {p.bucket_size:g})",
                )
            )
        if self.trades < p.min_trades:
            unmet.append(("trades", f"market trades {self.trades}/{p.min_trades}"))
        if p.require_kappa_graduation:
            grad = out.extras.get("kappa.graduated")
            if grad is None:
                if not self._waived_logged:
                    self._waived_logged = True
                    log.info(
                        "warmup: no estimator publishes kappa.graduated; "
                        "kappa graduation is not waited for"
                    )
            elif grad < 0.5:
                n = out.extras.get("kappa.own_n", math.nan)
                fills = f"{n:.0f}" if math.isfinite(n) else "?"
                unmet.append(("kappa", f"kappa graduation (own fills {fills})"))
        return unmet

    def estimate(self, out: Estimates, now_ns: int) -> None:
        if self.warmed_up:
            out.warmed_up = True
            out.warmup_waiting = ""
            out.extras["warmup.timed_out"] = 1.0 if self.timed_out else 0.0
            return
        if self.first_ns < 0:
            self.first_ns = now_ns
        elapsed_s = max(0, now_ns - self.first_ns) / _NS
        unmet = self._unmet(out)
        names = {n for n, _ in unmet}
        for name in sorted({"volume", "trades", "kappa"} - names - self._met):
            self._met.add(name)
            log.info("warmup: %s requirement met after %.0f s", name, elapsed_s)
        if not unmet:
            self._finish(out, f"all requirements met after {elapsed_s:.0f} s", timed_out=False)
            return
        if elapsed_s >= self.p.max_warmup_secs:
            self._finish(
                out,
                f"timeout after {elapsed_s:.0f} s, quoting from priors; still "
                f"missing: {'; '.join(d for _n, d in unmet)}",
                timed_out=True,
            )
            return
        remaining = self.p.max_warmup_secs - elapsed_s
        self.waiting = "; ".join(d for _n, d in unmet) + f"; timeout in {remaining:.0f} s"
        out.warmed_up = False
        out.warmup_waiting = self.waiting
        out.extras["warmup.timed_out"] = 0.0
        if now_ns - self._last_log_ns >= self.p.log_interval_s * _NS:
            self._last_log_ns = now_ns
            log.info("warmup: waiting for %s", self.waiting)

    def _finish(self, out: Estimates, why: str, *, timed_out: bool) -> None:
        self.warmed_up = True
        self.timed_out = timed_out
        self.waiting = ""
        if timed_out:
            log.warning("warmup: %s", why)
        else:
            log.info("warmup: complete (%s)", why)
        out.warmed_up = True
        out.warmup_waiting = ""
        out.extras["warmup.timed_out"] = 1.0 if timed_out else 0.0


class WarmupGate:
    """Closed (reason ``"Warmup"``, detail = what it waits for) until warmed up."""

    def __init__(self, name: str = "warmup") -> None:
        self.name = name

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
