"""Hyperliquid market data: raw websocket captures and the public S3 archive.

Raw capture lines are ``<local ns> {"channel": "l2Book" | "trades", "data": ...}``.
``l2Book`` is always a full snapshot (``levels[0]`` bids descending, ``levels[1]`` asks
ascending, each ``{px, sz, n}``; ``time`` in ms); ``trades`` is an array of
``{coin, side: "B"|"A" (aggressor), px, sz, time, tid, ...}``. Subscription acks and pongs
are skipped.

**Subscription replay.** The first ``trades`` message of a subscription replays recent
trades that happened *before* we subscribed (in the shared BTC capture: 30 of its 64 trades,
up to 49 s old). Counted as fresh they inflate the trade intensity (the fitted ``A`` about
2x) and feed the engine stale prints. Rule: in the first ``trades`` message of each
subscription, a trade whose ``time`` is earlier than the subscription's start is a replay;
the start is the exchange ``time`` of the first ``l2Book`` received in that subscription
before the trades message, or, when no book came first, the local receive time of the
subscription's first message. Later ``trades`` messages are live, whatever their times. A
subscription begins at the start of each input file, at a ``subscriptionResponse`` for
``trades`` and when :meth:`HyperliquidLoader.begin_subscription` is called (the recorder,
on reconnect). Replays are dropped by default and counted (``replay_trades_excluded`` in
the diagnostics, shown by ``mmkit data info``); with ``include_replay=True`` they are kept,
flagged :data:`~mmkit.data.schema.FLAG_REPLAY` and counted as ``replay_trades_included``.

The archive (``market_data/<date>/<hour>/l2Book/<COIN>.lz4``) is NDJSON, optionally
lz4-framed, one ``{"time": "<ISO, ns>", "ver_num": 1, "raw": {"channel": "l2Book",
"data": ...}}`` per line; ``time`` is when the archiver received it (the local time).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mmkit import safejson
from mmkit.core.types import NS_PER_S
from mmkit.data.diagnostics import Diagnostics
from mmkit.data.inputs import as_i64, finite_level, ms_to_ns
from mmkit.data.loaders.base import Loader
from mmkit.data.schema import FLAG_END, FLAG_REPLAY, RecordKind

_CONTROL_CHANNELS = frozenset({"subscriptionResponse", "pong"})


class HyperliquidLoader(Loader):
    format = "hyperliquid"
    description = "Hyperliquid raw websocket capture (l2Book snapshots, trades)"

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        diag: Diagnostics | None = None,
        coin: str | None = None,
        tick: float | None = None,
        lot: float | None = None,
        chunk_rows: int = 1 << 18,
        include_replay: bool = False,
    ) -> None:
        super().__init__(paths, diag=diag, coin=coin, tick=tick, lot=lot, chunk_rows=chunk_rows)
        #: keep the subscription's replayed trades (flagged FLAG_REPLAY) instead of dropping
        self.include_replay = include_replay
        self.begin_subscription()

    def begin_subscription(self) -> None:
        """A (re)subscription starts: its first ``trades`` message replays history."""
        self._sub_book_ms: int | None = None  # exchange time of its first book, ms
        self._sub_first_local = -1  # local receive time of its first message, ns
        self._sub_trades_seen = False

    def replay_cutoff_ms(self) -> float:
        """The subscription's start in exchange ms (trades of its first ``trades`` message
        strictly earlier than this are replays): the first book's exchange time, else the
        first message's local receive time."""
        if self._sub_book_ms is not None:
            return float(self._sub_book_ms)
        return self._sub_first_local / 1e6 if self._sub_first_local >= 0 else math.inf

    def _run(self) -> Iterator[None]:
        for path in self.paths:
            self.begin_subscription()  # each input file is its own capture session
            for lineno, line in self.lines(path):
                parsed = self.split_capture_line(path, lineno, line)
                if parsed is None:
                    continue
                local, obj = parsed
                self.on_message(path, lineno, local, obj)
                yield None

    def on_message(self, path: Path | str, lineno: int, local: int, obj: Any) -> None:
        """Handle one ``{"channel", "data"}`` message (also used by the recorder)."""
        where = f"{path}:{lineno}"
        try:
            if not isinstance(obj, dict):
                raise TypeError("message is not a JSON object")
            channel = obj.get("channel")
            if self._sub_first_local < 0:
                self._sub_first_local = local
            if channel == "l2Book":
                self.on_book(where, local, obj["data"])
            elif channel == "trades":
                self.on_trades(where, local, obj["data"])
            elif channel in _CONTROL_CHANNELS:
                self.diag.count("control_messages")
                if channel == "subscriptionResponse" and _is_trades_ack(obj.get("data")):
                    self.begin_subscription()
                    self._sub_first_local = local
            else:
                self.diag.issue("unknown_type", where, f"channel {channel!r}")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            self.diag.issue(
                "malformed", where, f"unexpected message shape: {type(exc).__name__}: {exc}"
            )

    def _levels(self, raw: Any) -> tuple[list[tuple[float, float]], list[float]]:
        out: list[tuple[float, float]] = []
        counts: list[float] = []
        for lvl in raw:
            px_s, sz_s = lvl["px"], lvl["sz"]
            px, sz = finite_level(px_s, sz_s)
            self.see_px(px_s)
            self.see_sz(sz_s)
            out.append((px, sz))
            n = lvl.get("n")
            counts.append(
                float(n)
                if isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**53
                else float("nan")
            )
        return out, counts

    def on_book(self, where: str, local: int, data: Any) -> None:
        levels = data["levels"]
        if not isinstance(levels, list) or len(levels) != 2:
            raise ValueError("levels must be [bids, asks]")
        bids, bid_n = self._levels(levels[0])
        asks, ask_n = self._levels(levels[1])
        if any(bids[i][0] <= bids[i + 1][0] for i in range(len(bids) - 1)) or any(
            asks[i][0] >= asks[i + 1][0] for i in range(len(asks) - 1)
        ):
            raise ValueError("levels not sorted (bids descending, asks ascending)")
        coin = data.get("coin")
        if self.coin is None and isinstance(coin, str):
            self.coin = coin
        ts = ms_to_ns(data["time"])
        if bids and asks and bids[0][0] >= asks[0][0]:
            self.diag.issue("crossed", where, f"best bid {bids[0][0]} >= best ask {asks[0][0]}")
        self.last_ts = ts
        if self._sub_book_ms is None:
            self._sub_book_ms = int(data["time"])
        self.out.add_book(RecordKind.BOOK_SNAPSHOT, ts, local, bids, asks, bid_n=bid_n, ask_n=ask_n)

    def on_trades(self, where: str, local: int, data: Any) -> None:
        if not isinstance(data, list):
            raise TypeError("trades data is not a list")
        rows = []
        first_message = not self._sub_trades_seen
        cutoff_ms = self.replay_cutoff_ms()
        for t in data:
            side = t["side"]
            if side not in ("B", "A"):
                raise ValueError(f"trade side {side!r}")
            px_s, sz_s = t["px"], t["sz"]
            px, sz = finite_level(px_s, sz_s)
            if sz <= 0.0:
                raise ValueError(f"trade size {sz_s!r}")
            ts = ms_to_ns(t["time"])
            replay = first_message and t["time"] < cutoff_ms
            rows.append((ts, 1 if side == "B" else -1, px, sz, as_i64(t.get("tid", -1)), replay))
            self.see_px(str(px_s))
            self.see_sz(str(sz_s))
            if self.coin is None and isinstance(t.get("coin"), str):
                self.coin = t["coin"]
        self._sub_trades_seen = True
        for ts, side_i, px, sz, tid, replay in rows:  # all validated: no half-written batch
            if replay and not self.include_replay:
                self.diag.count("replay_trades_excluded")
                continue
            if replay:
                self.diag.count("replay_trades_included")
            self.last_ts = ts
            flags = FLAG_END | (FLAG_REPLAY if replay else 0)
            self.out.add(RecordKind.TRADE, ts, local, side_i, px, sz, seq=tid, flags=flags)


def _is_trades_ack(data: Any) -> bool:
    """``{"method": "subscribe", "subscription": {"type": "trades", ...}}``: a trades
    subscription was (re)made, so its next trades message replays history."""
    if not isinstance(data, dict):
        return False
    sub = data.get("subscription")
    return (
        data.get("method") == "subscribe" and isinstance(sub, dict) and sub.get("type") == "trades"
    )


def parse_iso_ns(s: str) -> int:
    """``"2024-08-05T00:00:05.402514755"`` (UTC, up to ns) -> ns since the epoch."""
    if not isinstance(s, str) or len(s) < 19 or s[10] not in "T ":
        raise ValueError(f"not an ISO timestamp: {s!r}")
    date, clock = s[:10], s[11:].rstrip("Z")
    y, mo, d = (int(x) for x in date.split("-"))
    hms, _, frac = clock.partition(".")
    h, mi, sec = (int(x) for x in hms.split(":"))
    if not frac.isdigit() and frac:
        raise ValueError(f"bad fraction in {s!r}")
    if not (
        1970 <= y <= 2200 and 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 61
    ):
        raise ValueError(f"timestamp out of range: {s!r}")
    secs = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    return secs * NS_PER_S + (int(frac[:9].ljust(9, "0")) if frac else 0)


class HyperliquidArchiveLoader(HyperliquidLoader):
    format = "hyperliquid_archive"
    description = "Hyperliquid public archive NDJSON l2Book (plain or lz4)"

    def _run(self) -> Iterator[None]:
        for path in self.paths:
            for lineno, line in self.lines(path):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    rec = safejson.loads(line)
                    if not isinstance(rec, dict):
                        raise TypeError("line is not a JSON object")
                    local = parse_iso_ns(rec["time"])
                    msg = rec["raw"]
                except (ValueError, KeyError, TypeError, UnicodeDecodeError, OverflowError) as exc:
                    self.diag.issue(
                        "malformed", where, f"not an archive record: {type(exc).__name__}: {exc}"
                    )
                    continue
                self.check_local(path, lineno, local)
                self.on_message(path, lineno, local, msg)
                yield None
