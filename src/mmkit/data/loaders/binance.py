"""Binance raw websocket captures (combined streams), USD-M futures and spot.

Each line is ``<local ns> <json>``; the JSON is a combined-stream envelope
``{"stream": "<sym>@depth@..|@trade|@bookTicker", "data": {...}}`` or, once per sync, the
REST depth snapshot ``{"lastUpdateId", "bids", "asks"}``.

Book sync (Binance's documented procedure):

* diffs received before the snapshot are buffered;
* diffs with ``u < lastUpdateId`` (futures; ``u <= lastUpdateId`` spot) are dropped;
* the first applied diff must straddle the snapshot: ``U <= lastUpdateId <= u`` (futures) or
  ``U <= lastUpdateId + 1 <= u`` (spot);
* after that every diff must chain: ``pu == previous u`` (futures), ``U == previous u + 1``
  (spot). A break is a sequence gap: a gap record is written and no book is emitted until
  the next snapshot (never bridged).

The snapshot and the buffered diffs it absorbs are written as one book snapshot at the
snapshot line's local time, so the store stays in local-time order. Quantity 0 deletes a
level. Trades: ``m`` true means the buyer was the maker, so the aggressor sold.

Exactness check: every ``bookTicker`` whose update id equals a diff's ``u`` is compared with
the rebuilt best bid/ask (``bbo_checked`` / ``bbo_mismatch`` counters).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmkit.data.inputs import as_i64, finite_level, ms_to_ns
from mmkit.data.loaders.base import Loader
from mmkit.data.schema import GapReason, RecordKind

_INF = float("inf")
_MAX_BUFFER = 100_000
_MAX_REMEMBERED = 20_000


class _Side:
    """One side of the rebuilt book: price -> size, with a cached best price."""

    __slots__ = ("best", "bid", "levels")

    def __init__(self, bid: bool) -> None:
        self.bid = bid
        self.levels: dict[float, float] = {}
        self.best = -_INF if bid else _INF

    def load(self, rows: list[tuple[float, float]]) -> None:
        self.levels = {p: q for p, q in rows if q > 0.0}
        self._recompute()

    def _recompute(self) -> None:
        if not self.levels:
            self.best = -_INF if self.bid else _INF
        else:
            self.best = max(self.levels) if self.bid else min(self.levels)

    def apply(self, p: float, q: float) -> None:
        if q == 0.0:
            if self.levels.pop(p, None) is not None and p == self.best:
                self._recompute()
            return
        self.levels[p] = q
        if (p > self.best) if self.bid else (p < self.best):
            self.best = p

    def sorted_levels(self) -> list[tuple[float, float]]:
        return sorted(self.levels.items(), reverse=self.bid)


def _pairs(raw: Any) -> list[tuple[float, float]]:
    """``[[price, qty], ...]`` decimal strings -> (price, qty) floats, validated at once."""
    if not isinstance(raw, list):
        raise TypeError("levels are not a list")
    if not raw:
        return []
    arr = np.asarray(raw, dtype=np.float64)  # ValueError on ragged or non-numeric input
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError("levels are not [price, qty] pairs")
    px, qty = arr[:, 0], arr[:, 1]
    if not (np.all(px > 0.0) and np.all(np.isfinite(arr)) and np.all(qty >= 0.0)):
        raise ValueError("a level has a non-positive or non-finite price or a negative qty")
    return list(zip(px.tolist(), qty.tolist(), strict=True))


def _event_ns(d: dict[str, Any], local: int, *keys: str) -> int:
    for k in keys:
        if k in d:
            return ms_to_ns(d[k]) or local
    return local


class BinanceLoader(Loader):
    format = "binance"
    description = "Binance raw websocket capture (combined streams; USD-M futures or spot)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bids = _Side(True)
        self.asks = _Side(False)
        self.state = "nosnap"  # nosnap | await_first | synced
        self.futures: bool | None = None
        self.snapshot_id = -1
        self.last_u = -1
        self.buffer: list[tuple[Path, int, int, dict[str, Any]]] = []
        self.diff_best: OrderedDict[int, tuple[float, float]] = OrderedDict()
        self.ticker_best: OrderedDict[int, tuple[float, float]] = OrderedDict()

    # -- reading --------------------------------------------------------------------------
    def _run(self) -> Iterator[None]:
        for path in self.paths:
            for lineno, line in self.lines(path):
                parsed = self.split_capture_line(path, lineno, line)
                if parsed is None:
                    continue
                local, obj = parsed
                try:
                    self._dispatch(path, lineno, local, obj)
                except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                    self.diag.issue(
                        "malformed",
                        f"{path}:{lineno}",
                        f"unexpected message shape: {type(exc).__name__}: {exc}",
                    )
                yield None

    def _dispatch(self, path: Path, lineno: int, local: int, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise TypeError("message is not a JSON object")
        if "stream" not in obj:
            if "lastUpdateId" in obj:
                self._on_snapshot(path, lineno, local, obj)
                return
            self.diag.issue("unknown_type", f"{path}:{lineno}", "neither a stream nor a snapshot")
            return
        stream = str(obj["stream"])
        data = obj["data"]
        if not isinstance(data, dict):
            raise TypeError("data is not an object")
        sym, _, name = stream.partition("@")
        if self.coin is None:
            self.coin = sym.upper()
        if name.startswith("depth"):
            self._on_diff(path, lineno, local, data)
        elif name == "trade":
            self._on_trade(local, data)
        elif name == "bookTicker":
            self._on_ticker(path, lineno, local, data)
        else:
            self.diag.issue("unknown_type", f"{path}:{lineno}", f"stream {stream!r}")

    # -- messages -------------------------------------------------------------------------
    def _on_trade(self, local: int, d: dict[str, Any]) -> None:
        px, sz = d["p"], d["q"]
        price, size = finite_level(px, sz)
        if size <= 0.0:
            raise ValueError(f"trade size {sz!r}")
        self.see_px(px)
        self.see_sz(sz)
        ts = _event_ns(d, local, "T", "E")
        tid = as_i64(d["t"])
        self.last_ts = ts
        m = d["m"]
        if not isinstance(m, bool):
            raise TypeError("'m' is not a boolean")
        self.out.add(RecordKind.TRADE, ts, local, -1 if m else 1, price, size, seq=tid)

    def _on_ticker(self, path: Path, lineno: int, local: int, d: dict[str, Any]) -> None:
        u = as_i64(d["u"])
        bp, bq = finite_level(d["b"], d["B"])
        ap, aq = finite_level(d["a"], d["A"])
        ts = _event_ns(d, local, "E", "T")
        self.out.add(RecordKind.BBO, ts, local, 1, bp, bq, seq=u, flags=0)
        self.out.add(RecordKind.BBO, ts, local, -1, ap, aq, seq=u)
        seen = self.diff_best.get(u)
        if seen is not None:
            self._compare_bbo(path, lineno, u, seen, (bp, ap))
        else:
            _remember(self.ticker_best, u, (bp, ap))

    def _compare_bbo(
        self,
        path: Path,
        lineno: int,
        u: int,
        book: tuple[float, float],
        ticker: tuple[float, float],
    ) -> None:
        self.diag.count("bbo_checked")
        if book != ticker:
            self.diag.issue(
                "bbo_mismatch",
                f"{path}:{lineno}",
                f"update {u}: rebuilt best {book} != bookTicker {ticker}",
            )

    def _on_snapshot(self, path: Path, lineno: int, local: int, d: dict[str, Any]) -> None:
        last_id = as_i64(d["lastUpdateId"])
        bids, asks = _pairs(d["bids"]), _pairs(d["asks"])
        for p, q in d["bids"][:50]:
            self.see_px(p)
            self.see_sz(q)
        self.bids.load(bids)
        self.asks.load(asks)
        self.snapshot_id = last_id
        self.last_u = last_id
        self.state = "await_first"
        ts = _event_ns(d, local, "E", "T")
        buffered, self.buffer = self.buffer, []
        for bpath, blineno, _blocal, data in buffered:
            self._apply_diff(bpath, blineno, data, emit=None)
        self.last_ts = ts
        self.out.add_book(
            RecordKind.BOOK_SNAPSHOT,
            ts,
            local,
            self.bids.sorted_levels(),
            self.asks.sorted_levels(),
            seq=self.last_u,
        )
        self.diag.count("snapshots")

    def _on_diff(self, path: Path, lineno: int, local: int, d: dict[str, Any]) -> None:
        if self.futures is None:
            self.futures = "pu" in d
        if self.state == "nosnap":
            as_i64(d["U"]), as_i64(d["u"])  # validate now, not when the buffer is replayed
            _pairs(d["b"]), _pairs(d["a"])
            if self.futures:
                as_i64(d["pu"])
            if len(self.buffer) >= _MAX_BUFFER:
                self.buffer.pop(0)
            self.buffer.append((path, lineno, local, d))
            return
        self._apply_diff(path, lineno, d, emit=local)

    def _apply_diff(self, path: Path, lineno: int, d: dict[str, Any], emit: int | None) -> None:
        """Apply one diff under the sync rules; write it as a delta when ``emit`` is its
        local time (None: it is being folded into a snapshot)."""
        U, u = as_i64(d["U"]), as_i64(d["u"])
        futures = bool(self.futures)
        if self.state == "nosnap":
            return
        if self.state == "await_first":
            if u < self.snapshot_id or (not futures and u <= self.snapshot_id):
                self.diag.count("dropped_before_sync")
                return
            edge = self.snapshot_id if futures else self.snapshot_id + 1
            if not (U <= edge <= u):
                self._gap(
                    path,
                    lineno,
                    emit,
                    f"first diff [{U}, {u}] does not cover snapshot id {self.snapshot_id}",
                )
                return
        else:
            prev = as_i64(d["pu"]) if futures else U - 1
            if prev != self.last_u:
                self._gap(path, lineno, emit, f"diff [{U}, {u}] does not chain onto {self.last_u}")
                return
        b, a = _pairs(d["b"]), _pairs(d["a"])
        for p, q in b:
            self.bids.apply(p, q)
        for p, q in a:
            self.asks.apply(p, q)
        prev_u = self.last_u
        self.last_u = u
        self.state = "synced"
        best = (self.bids.best, self.asks.best)
        if self.bids.best >= self.asks.best:
            self.diag.issue("crossed", f"{path}:{lineno}", f"update {u}: best bid/ask {best}")
        ticker = self.ticker_best.pop(u, None)
        if ticker is not None:
            self._compare_bbo(path, lineno, u, best, ticker)
        else:
            _remember(self.diff_best, u, best)
        if emit is not None:
            ts = _event_ns(d, emit, "E")
            self.last_ts = ts
            self.out.add_book(RecordKind.BOOK_DELTA, ts, emit, b, a, seq=u, aux=prev_u)

    def _gap(self, path: Path, lineno: int, local: int | None, why: str) -> None:
        self.diag.issue(
            "sequence_gap", f"{path}:{lineno}", why + "; book unknown until the next snapshot"
        )
        ts = max(self.last_ts, 0)
        self.out.add_gap(
            ts,
            local if local is not None else max(self.last_local, 0),
            GapReason.SEQUENCE,
            seq=self.last_u,
        )
        self.state = "nosnap"
        self.bids.load([])
        self.asks.load([])


def _remember(
    store: OrderedDict[int, tuple[float, float]], key: int, value: tuple[float, float]
) -> None:
    store[key] = value
    if len(store) > _MAX_REMEMBERED:
        store.popitem(last=False)
