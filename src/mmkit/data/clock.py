"""One clock for a replayed capture: exchange timestamps moved onto the recorder's clock.

A raw capture carries two times per event: the exchange's timestamp ``ts`` and the local
receive time ``local_ts`` of the recording machine. A replay runs the strategy on
``local_ts`` and the simulated exchange on ``ts``; that is only coherent when both clocks
agree up to the real feed latency. When the recorder's clock runs *behind* the exchange
(the Binance USD-M captures: about 1.27 s), data appear to arrive before they happened and
the simulated exchange lives in the strategy's future: a fill reaches the strategy 1.3 s
after the trade that made it, orders meet a market the strategy has not seen yet, and
markouts look more adverse than they were.

:class:`ClockAlignment` detects that from the first chunk (the median of
``local_ts - ts`` is negative: a physically impossible latency) and shifts every ``ts`` by
one constant so that the 1st percentile of ``local_ts - ts`` equals the assumed minimum
feed latency. Event order and the exchange's own spacing are kept; only the offset between
the two clocks changes. A positive median (a plausible latency, e.g. Hyperliquid's ~0.4 s
from block time to the websocket) is left alone: it may be real.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.data.schema import Chunk

if TYPE_CHECKING:
    from mmkit.config.loader import Settings

#: the earliest arrivals' delay after a realignment when the venue states none (ms): the
#: ``sim`` venue's default ``feed_latency_ms``
DEFAULT_MIN_LATENCY_MS = 20.0


def venue_feed_latency_ms(settings: Settings) -> float:
    """The configured venue's market-data latency (ms) where it has one (``sim``'s
    ``feed_latency_ms``), else :data:`DEFAULT_MIN_LATENCY_MS`: the earliest arrivals of a
    realigned capture get this delay."""
    try:
        params = settings.component_params("venue", settings.components.venue)
    except KeyError:  # a venue without a params table
        params = None
    value = getattr(params, "feed_latency_ms", None)
    if isinstance(value, (int, float)) and value >= 0:
        return float(value)
    return DEFAULT_MIN_LATENCY_MS


class ClockAlignment:
    """Iterates ``chunks`` with ``ts`` shifted by :attr:`offset_ns` (decided on the first
    chunk; 0 when the clocks are coherent or the data carry no local times).

    ``min_latency_ms``: the feed latency the earliest-arriving events (1st percentile) are
    given after the shift, in ms. ``enabled=False`` passes the chunks through untouched."""

    def __init__(
        self,
        chunks: Iterable[Chunk],
        *,
        min_latency_ms: float = DEFAULT_MIN_LATENCY_MS,
        enabled: bool = True,
    ) -> None:
        self._chunks = chunks
        self.min_latency_ns = int(min_latency_ms * NS_PER_MS)
        self.enabled = enabled
        self.offset_ns = 0
        self.median_delay_ns: int | None = None  # before the shift; None: not measured

    def decide(self, chunk: Chunk) -> None:
        """Set the offset from one chunk's rows that carry both times."""
        ts = chunk.get("ts")
        lts = chunk.get("local_ts")
        if ts is None or lts is None:
            return
        ok = (ts > 0) & (lts > 0)
        if not ok.any():
            return
        d = lts[ok].astype(np.int64) - ts[ok].astype(np.int64)
        self.median_delay_ns = int(np.median(d))
        if self.enabled and self.median_delay_ns < 0:
            self.offset_ns = int(np.percentile(d, 1.0)) - self.min_latency_ns

    def __iter__(self) -> Iterator[Chunk]:
        first = True
        for chunk in self._chunks:
            if first:
                self.decide(chunk)
                first = False
            if self.offset_ns and "ts" in chunk:
                chunk = dict(chunk)
                ts = chunk["ts"]
                chunk["ts"] = np.where(ts > 0, ts + self.offset_ns, ts).astype(ts.dtype)
            yield chunk

    def note(self) -> str:
        """One sentence for reports ("" when nothing was shifted)."""
        if not self.offset_ns or self.median_delay_ns is None:
            return ""
        return (
            f"the capture's clock ran {-self.median_delay_ns / NS_PER_S:.3f} s behind the "
            f"exchange: exchange times moved by {self.offset_ns / NS_PER_S:+.3f} s onto the "
            f"local clock (earliest arrivals {self.min_latency_ns / NS_PER_MS:g} ms after the "
            "exchange)"
        )
