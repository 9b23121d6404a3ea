"""Position reconciliation (seed §4-5): the exchange is authoritative.

A sync (``SyncState``: position and open orders) is requested on a timer (10 s), after an
order rejection, after a fill for an order we do not know (oid-0 artefacts ignored), and
when the position moved more than 5 % of max position since the last sync; never more
often than once per 2 s. Each answer is compared with our own running estimate (last
snapshot + our fills since): the divergence's magnitude and frequency are counted, logged
and exposed for metrics.
"""

from __future__ import annotations

import logging
import math

from mmkit.core.types import NS_PER_S

log = logging.getLogger("mmkit.execution")

TIMER = "timer"
REJECTION = "rejection"
UNMATCHED_FILL = "unmatched_fill"
POSITION_CHANGE = "position_change"
STARTUP = "startup"


class PositionSync:
    def __init__(
        self,
        *,
        interval_s: float = 10.0,
        min_interval_s: float = 2.0,
        change_frac: float = 0.05,
        timeout_s: float = 5.0,
    ) -> None:
        self.interval_ns = int(interval_s * NS_PER_S)
        self.min_interval_ns = int(min_interval_s * NS_PER_S)
        self.timeout_ns = int(timeout_s * NS_PER_S)
        self.change_frac = change_frac
        self.last_sent_ns = -(1 << 62)
        self.last_done_ns = -1
        #: outstanding requests, oldest first: (request id, reason, sent at)
        self.in_flight: list[tuple[int, str, int]] = []
        self._pending: set[str] = set()
        self.position_at_sync: float | None = None
        self.estimate: float | None = None
        self.syncs = 0
        self.by_reason: dict[str, int] = {}
        self.divergences = 0
        self.divergence_abs_total = 0.0
        self.divergence_max = 0.0
        self.last_divergence = 0.0

    def request(self, reason: str) -> None:
        """Ask for a sync (it goes out when the minimum interval allows)."""
        self._pending.add(reason)

    def on_fill(self, signed_sz: float) -> None:
        if self.estimate is not None and math.isfinite(signed_sz):
            self.estimate += signed_sz

    def due(self, now_ns: int, position: float, max_position: float) -> str | None:
        """The reason of a sync that should go out now, or None."""
        if now_ns - self.last_sent_ns < self.min_interval_ns:
            return None
        if self.in_flight:
            self.in_flight = [f for f in self.in_flight if now_ns - f[2] < self.timeout_ns]
            if self.in_flight:
                return None
        if self._pending:
            return sorted(self._pending)[0]
        if now_ns - self.last_sent_ns >= self.interval_ns:
            return TIMER
        if (
            self.position_at_sync is not None
            and abs(position - self.position_at_sync) > self.change_frac * max_position
        ):
            return POSITION_CHANGE
        return None

    def sent(self, req: int, reason: str, now_ns: int) -> None:
        self.in_flight.append((req, reason, now_ns))
        self.last_sent_ns = now_ns
        self._pending.clear()
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def failed(self, req: int) -> None:
        self.in_flight = [f for f in self.in_flight if f[0] != req]

    def answered(self, position: float, now_ns: int) -> tuple[int, str] | None:
        """Record a snapshot; returns the (request id, reason) it answers, if any."""
        answered = self.in_flight.pop(0)[:2] if self.in_flight else None
        if self.estimate is not None:
            div = position - self.estimate
            if abs(div) > 1e-12:
                self.divergences += 1
                self.divergence_abs_total += abs(div)
                self.divergence_max = max(self.divergence_max, abs(div))
                self.last_divergence = div
                log.warning(
                    "position divergence: local %.10g, venue %.10g (diff %+.10g; #%d)",
                    self.estimate,
                    position,
                    div,
                    self.divergences,
                )
        self.estimate = position
        self.position_at_sync = position
        self.last_done_ns = now_ns
        self.syncs += 1
        return answered

    def status(self) -> dict[str, float]:
        return {
            "syncs": float(self.syncs),
            "divergences": float(self.divergences),
            "divergence_max": self.divergence_max,
            "divergence_abs_total": self.divergence_abs_total,
            "last_divergence": self.last_divergence,
        }
