"""Lead-lag on two recorded inputs (e.g. Binance USD-M futures vs spot, or Binance vs
Hyperliquid, over the same span).

Each input may be anything the data commands read: an event store (Parquet, from ``mmkit
data convert`` or ``mmkit record``) or a raw capture of any loader's format (Binance combined
streams, Hyperliquid ``l2Book``/``trades``, ...), detected as ``mmkit data info`` does.

Mids come from the input's BBO events (Binance ``bookTicker``) when it has them: they are the
venue's own top of book. An input without BBO events (Hyperliquid publishes only full
``l2Book`` snapshots) gives the mid of its rebuilt book after every snapshot or delta; a
sequence gap suspends it until the next snapshot. Quotes are timed by their local receive
time (the clock a live system would use; Binance spot tickers carry no exchange time),
falling back to exchange time where an input has no receive time. Both series are sampled on
a common grid over the overlap of the two inputs, and :func:`analyse` runs on the aligned
returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmkit.core.events import EventKind, FeedStatus
from mmkit.core.market import MarketState
from mmkit.data.adapter import events_from_chunks
from mmkit.data.inputs import is_parquet
from mmkit.data.market_stream import open_records
from mmkit.errors import DataError
from mmkit.signals.lead_lag import LeadLagResult, analyse, grid_returns
from mmkit.signals.leader import leader_mid

#: where the mids of an input came from (``Mids.source``)
BBO_SOURCE = "bbo"
BOOK_SOURCE = "book"


@dataclass(frozen=True)
class Mids:
    """An input's mid series: times (ns, sorted), mids (price units), and their source."""

    ts_ns: np.ndarray
    mid: np.ndarray
    source: str  # BBO_SOURCE or BOOK_SOURCE
    fmt: str  # "store" or the raw loader's format name

    @property
    def label(self) -> str:
        what = "BBO quotes" if self.source == BBO_SOURCE else "book tops"
        return f"{self.ts_ns.size} {what}"


def input_mids(path: str | Path, fmt: str = "auto") -> Mids:
    """The mid series of one input (event store or raw capture; see the module doc).

    Raises :class:`DataError` naming the file when it cannot be read or holds fewer than two
    usable quotes (both sides present, bid < ask, finite and positive)."""
    p = Path(path)
    # a store is read as one whatever ``fmt`` says: ``fmt`` names the raw inputs' format
    src = open_records(p, "store" if is_parquet(p) else fmt)
    bbo_t: list[int] = []
    bbo_m: list[float] = []
    book_t: list[int] = []
    book_m: list[float] = []
    book: MarketState | None = MarketState()  # dropped once the input shows BBO events
    gap = False
    for ev in events_from_chunks(src.chunks):
        k = ev.kind
        local = getattr(ev, "local_ts", -1)
        t = local if isinstance(local, int) and local >= 0 else ev.ts
        if k is EventKind.BBO:
            book = None
            m = leader_mid(ev)
            if m is not None:
                bbo_t.append(t)
                bbo_m.append(m)
        elif book is not None and k is EventKind.BOOK_SNAPSHOT:
            book.apply(ev, t)
            gap = False
            if 0.0 < book.best_bid < book.best_ask < float("inf"):
                book_t.append(t)
                book_m.append(book.mid)
        elif book is not None and k is EventKind.BOOK_DELTA:
            book.apply(ev, t)
            gap = gap or book.pending_gap
            if not gap and 0.0 < book.best_bid < book.best_ask < float("inf"):
                book_t.append(t)
                book_m.append(book.mid)
        elif k is EventKind.FEED_STATUS:
            assert isinstance(ev, FeedStatus)
            if ev.gap or not ev.connected:
                gap = True
    source, ts, mids = (BBO_SOURCE, bbo_t, bbo_m) if bbo_t else (BOOK_SOURCE, book_t, book_m)
    if len(ts) < 2:
        raise DataError(
            f"{p}: fewer than two usable quotes (best bid and ask, bid < ask) in this "
            f"{src.fmt} input; lead-lag needs a BBO stream or book snapshots/deltas"
        )
    t_arr = np.asarray(ts, dtype=np.int64)
    order = np.argsort(t_arr, kind="stable")
    return Mids(t_arr[order], np.asarray(mids, dtype=np.float64)[order], source, src.fmt)


def capture_mids(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(local_ts_ns, mid)`` of an input, sorted by time (see :func:`input_mids`)."""
    m = input_mids(path)
    return m.ts_ns, m.mid


@dataclass(frozen=True)
class CaptureLeadLag:
    result: LeadLagResult
    interval_s: float
    start_ns: int
    stop_ns: int
    leader_quotes: int
    follower_quotes: int
    leader_source: str = BBO_SOURCE
    follower_source: str = BBO_SOURCE

    @property
    def span_s(self) -> float:
        return (self.stop_ns - self.start_ns) / 1e9

    def describe(self) -> str:
        r = self.result
        return (
            f"lag {r.lag} samples = {r.lag_s(self.interval_s) * 1000:.0f} ms "
            f"(corr {r.corr:.3f}), MI {r.mi:.4f} nats, p = {r.p_value:.4f} "
            f"({'significant' if r.significant else 'not significant'}), "
            f"{r.n} returns over {self.span_s:.0f} s "
            f"({self.leader_quotes} leader {_what(self.leader_source)} / "
            f"{self.follower_quotes} follower {_what(self.follower_source)})"
        )


def _what(source: str) -> str:
    return "quotes" if source == BBO_SOURCE else "book tops"


def capture_lead_lag(
    leader: str | Path,
    follower: str | Path,
    *,
    interval_s: float = 0.1,
    min_lag: int = 1,
    max_lag: int = 20,
    max_samples: int = 20_000,
    n_permutations: int = 200,
    alpha: float = 0.01,
    seed: int = 0,
    circular: bool = True,
    fmt: str = "auto",
) -> CaptureLeadLag:
    """Lead-lag of ``follower`` on ``leader`` (see the module doc); ``fmt`` is the format of
    the raw inputs ("auto": detected; event stores are always recognised)."""
    lead = input_mids(leader, fmt)
    fol = input_mids(follower, fmt)
    lt, lm, ft, fm = lead.ts_ns, lead.mid, fol.ts_ns, fol.mid
    start = max(int(lt[0]), int(ft[0])) + 1
    stop = min(int(lt[-1]), int(ft[-1]))
    dt = round(interval_s * 1e9)
    stop = min(stop, start + (max_samples + 1) * dt)
    if stop - start < (max_lag + 20) * dt:
        need = (max_lag + 20) * interval_s
        raise DataError(
            f"{leader} and {follower} overlap for {_span(lt, ft)}; the analysis needs at "
            f"least {need:g} s in common (max lag {max_lag} + 20 samples of {interval_s:g} s)"
        )
    x = grid_returns(lt, lm, start, stop, dt)
    y = grid_returns(ft, fm, start, stop, dt)
    res = analyse(
        x,
        y,
        min_lag=min_lag,
        max_lag=max_lag,
        n_permutations=n_permutations,
        alpha=alpha,
        seed=seed,
        circular=circular,
    )
    return CaptureLeadLag(
        res, interval_s, start, stop, int(lt.size), int(ft.size), lead.source, fol.source
    )


def _span(a: np.ndarray, b: np.ndarray) -> str:
    """The overlap of two sorted time series in words (or how far apart they are)."""
    lo, hi = max(int(a[0]), int(b[0])), min(int(a[-1]), int(b[-1]))
    if hi <= lo:
        return f"no time at all (they are {(lo - hi) / 1e9:,.0f} s apart)"
    return f"only {(hi - lo) / 1e9:,.3f} s"
