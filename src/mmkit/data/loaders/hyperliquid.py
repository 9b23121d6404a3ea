"""Hyperliquid market data: raw websocket captures and the public S3 archive.

Raw capture lines are ``<local ns> {"channel": "l2Book" | "trades", "data": ...}``.
``l2Book`` is always a full snapshot (``levels[0]`` bids descending, ``levels[1]`` asks
ascending, each ``{px, sz, n}``; ``time`` in ms); ``trades`` is an array of
``{coin, side: "B"|"A" (aggressor), px, sz, time, tid, ...}``. Subscription acks and pongs
are skipped.

The archive (``market_data/<date>/<hour>/l2Book/<COIN>.lz4``) is NDJSON, optionally
lz4-framed, one ``{"time": "<ISO, ns>", "ver_num": 1, "raw": {"channel": "l2Book",
"data": ...}}`` per line; ``time`` is when the archiver received it (the local time).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmkit import safejson
from mmkit.core.types import NS_PER_S
from mmkit.data.loaders._input import as_i64, finite_level, ms_to_ns
from mmkit.data.loaders.base import Loader
from mmkit.data.schema import RecordKind

_CONTROL_CHANNELS = frozenset({"subscriptionResponse", "pong"})


class HyperliquidLoader(Loader):
    format = "hyperliquid"
    description = "Hyperliquid raw websocket capture (l2Book snapshots, trades)"

    def _run(self) -> Iterator[None]:
        for path in self.paths:
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
            if channel == "l2Book":
                self.on_book(where, local, obj["data"])
            elif channel == "trades":
                self.on_trades(where, local, obj["data"])
            elif channel in _CONTROL_CHANNELS:
                self.diag.count("control_messages")
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
        self.out.add_book(RecordKind.BOOK_SNAPSHOT, ts, local, bids, asks, bid_n=bid_n, ask_n=ask_n)

    def on_trades(self, where: str, local: int, data: Any) -> None:
        if not isinstance(data, list):
            raise TypeError("trades data is not a list")
        rows = []
        for t in data:
            side = t["side"]
            if side not in ("B", "A"):
                raise ValueError(f"trade side {side!r}")
            px_s, sz_s = t["px"], t["sz"]
            px, sz = finite_level(px_s, sz_s)
            if sz <= 0.0:
                raise ValueError(f"trade size {sz_s!r}")
            ts = ms_to_ns(t["time"])
            rows.append((ts, 1 if side == "B" else -1, px, sz, as_i64(t.get("tid", -1))))
            self.see_px(str(px_s))
            self.see_sz(str(sz_s))
            if self.coin is None and isinstance(t.get("coin"), str):
                self.coin = t["coin"]
        for ts, side_i, px, sz, tid in rows:  # all validated: no half-written batch
            self.last_ts = ts
            self.out.add(RecordKind.TRADE, ts, local, side_i, px, sz, seq=tid)


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
