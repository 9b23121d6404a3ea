"""The data-quality quote gate (seed report §3).

Closed (``GateMode.HALT``: the executor cancels every resting order and places nothing) when:

* ``NoData`` — no market data yet, or a required stream never delivered;
* ``FeedDisconnected {stream}`` — a feed reported a disconnect;
* ``Stale {stream, age_ms, threshold_ms}`` — data older than ``max_data_age_ms`` (the
  freshest stream, or each stream named in ``streams``), or a *book* (its latest snapshot
  or delta, whatever its stream name) older than ``max_book_age_ms`` (``stream="book"``);
* ``SequenceGap {gaps}`` — a sequence gap not yet healed by a snapshot;
* ``TimestampRegression {count}`` — a stream's market-data time ran backwards (held
  briefly; streams interleaving out of exchange-time order is not a regression);
* ``EmptyBook {side}`` / ``Crossed {bid, ask}`` — a side missing, or ``bid >= ask``;
* ``PositionUnknown`` — the venue position has not been synced yet.

Age is measured with the ``now_ns`` passed in against ``view.market.last_update`` (the local
receive time of each stream's latest message) and ``view.market.book_update_ns``; the gate
never reads a clock.

Why two ages: judging freshness by the freshest stream alone lets a frozen book pass while
trades still flow (quotes priced off a dead book). The book has its own, shorter limit:
5 s by default, ten ticks of Hyperliquid's ~0.5 s book stream. Measured on the data the
project replays, the longest wait between two book updates is 0.3 s in the synthetic
market, 0.85 s in the Hyperliquid capture and 0.35 s in the Binance captures; only the
LOBSTER equity samples have quiet spells (up to 20 s between book changes, the gate then
closed for 0.03 % of the session at 5 s), which a backtest survives: the gate reopens with
the next book change. ``max_book_age_ms = 0`` turns the check off for sparse data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mmkit.components import (
    NOT_MARKET_DATA,
    Estimates,
    GateDecision,
    GateMode,
    GateRole,
    View,
)
from mmkit.core.batching import stream_regressions
from mmkit.core.events import Event, TradeBatch
from mmkit.core.types import NS_PER_MS
from mmkit.gates import reasons
from mmkit.gates.params import DataQualityParams
from mmkit.registry import BuildContext

if TYPE_CHECKING:
    from mmkit.gates.data_quality_twin import DataQualityGateTwin


class DataQualityGate:
    """See the module docstring. ``roles`` (audit contract
    :class:`mmkit.components.DeclaresRoles`) holds it to the data-quality invariants."""

    roles = frozenset({GateRole.DATA_QUALITY})
    #: it counts timestamp regressions of market data; the rest is not delivered to it (the
    #: market state it reads in ``check`` follows every event)
    #: (:class:`mmkit.components.DeclaresIgnores`)
    ignores = NOT_MARKET_DATA

    def __init__(self, params: DataQualityParams | None = None, name: str = "data_quality") -> None:
        self.params = params or DataQualityParams()
        self.name = name
        self._threshold_ns = int(self.params.max_data_age_ms * NS_PER_MS)
        self._book_threshold_ns = int(self.params.max_book_age_ms * NS_PER_MS)
        self._hold_ns = int(self.params.regression_hold_ms * NS_PER_MS)
        #: stream -> latest exchange time seen; regressions are per stream, as in
        #: MarketState, since venues interleave streams out of exchange-time order
        self._last_md_ts: dict[str, int] = {}
        self._last_regression_ns = -1
        self._regressions_seen = 0
        self._regressions = 0

    def twin(self) -> DataQualityGateTwin:
        """The compiled twin of this component: same parameters, fresh state
        (see mmkit.twins)."""
        from mmkit.gates.data_quality_twin import DataQualityGateTwin

        return DataQualityGateTwin(self.params, name=self.name)

    def on_event(self, event: Event, now_ns: int) -> None:
        if not event.kind.is_market_data:
            return
        stream = event.stream  # type: ignore[union-attr]
        ts = event.ts
        if ts < self._last_md_ts.get(stream, -1):
            self._regressions += 1
            self._last_regression_ns = now_ns
        else:
            self._last_md_ts[stream] = ts

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's rows, counted as ``on_event`` counts them one by one."""
        times, _, _, _, recv = batch.columns()
        stream = batch.stream
        n, last_row, latest = stream_regressions(self._last_md_ts.get(stream, -1), times)
        if n:
            self._regressions += n
            self._last_regression_ns = recv[last_row]
        if n < len(times):
            self._last_md_ts[stream] = latest

    def _closed(self, reason: str, **detail: float | str) -> GateDecision:
        return GateDecision(
            self.name, reason, detail, mode=GateMode.HALT, emergency=self.params.emergency
        )

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        m = view.market
        if not m.last_update:
            return self._closed(reasons.NO_DATA)
        for stream, up in m.connected.items():
            if not up:
                return self._closed(reasons.FEED_DISCONNECTED, stream=stream)
        stale = self._staleness(view, now_ns)
        if stale is not None:
            return stale
        if m.pending_gap:
            return self._closed(reasons.SEQUENCE_GAP, gaps=float(m.gap_count))
        if m.ts_regressions > self._regressions_seen:
            self._regressions_seen = m.ts_regressions
            self._last_regression_ns = now_ns
        if self._last_regression_ns >= 0 and now_ns - self._last_regression_ns < self._hold_ns:
            return self._closed(
                reasons.TIMESTAMP_REGRESSION, count=float(max(self._regressions, m.ts_regressions))
            )
        bid, ask = m.best_bid, m.best_ask
        if not (math.isfinite(bid) and bid > 0):
            return self._closed(reasons.EMPTY_BOOK, side="bid")
        if not (math.isfinite(ask) and ask > 0):
            return self._closed(reasons.EMPTY_BOOK, side="ask")
        if bid >= ask:
            return self._closed(reasons.CROSSED, bid=bid, ask=ask)
        if self.params.check_position_known and not view.portfolio.position_known:
            return self._closed(reasons.POSITION_UNKNOWN)
        return None

    def _staleness(self, view: View, now_ns: int) -> GateDecision | None:
        """The streams' age first (everything old: the feed is silent), then the book's."""
        stale = self._streams_staleness(view, now_ns)
        if stale is not None:
            return stale
        book_ns = view.market.book_update_ns
        if (
            self._book_threshold_ns > 0
            and book_ns >= 0
            and now_ns - book_ns > self._book_threshold_ns
        ):
            return self._closed(
                reasons.STALE,
                stream="book",
                age_ms=(now_ns - book_ns) / NS_PER_MS,
                threshold_ms=self.params.max_book_age_ms,
            )
        return None

    def _streams_staleness(self, view: View, now_ns: int) -> GateDecision | None:
        updates = view.market.last_update
        threshold_ms = self.params.max_data_age_ms
        if self.params.streams:
            for stream in self.params.streams:
                t = updates.get(stream)
                if t is None:
                    return self._closed(reasons.NO_DATA, stream=stream)
                if now_ns - t > self._threshold_ns:
                    return self._closed(
                        reasons.STALE,
                        stream=stream,
                        age_ms=(now_ns - t) / NS_PER_MS,
                        threshold_ms=threshold_ms,
                    )
            return None
        stream, t = max(updates.items(), key=lambda kv: kv[1])
        if now_ns - t > self._threshold_ns:
            return self._closed(
                reasons.STALE,
                stream=stream,
                age_ms=(now_ns - t) / NS_PER_MS,
                threshold_ms=threshold_ms,
            )
        return None


def build(ctx: BuildContext[DataQualityParams]) -> DataQualityGate:
    return DataQualityGate(ctx.params, name=ctx.name)
