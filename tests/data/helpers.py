"""Helpers shared by the data tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from mmkit.data.schema import RecordBuilder, RecordKind


def write_capture(path: Path, lines: Iterable[tuple[int, Any] | str], gz: bool = True) -> Path:
    """Write ``<ns> <json>`` lines (or raw strings) as a capture file."""
    text = "".join(
        (ln if isinstance(ln, str) else f"{ln[0]} {json.dumps(ln[1])}") + "\n" for ln in lines
    )
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def hl_book(
    t_ms: int, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]], coin: str = "BTC"
) -> dict[str, Any]:
    return {
        "channel": "l2Book",
        "data": {
            "coin": coin,
            "time": t_ms,
            "levels": [
                [{"px": p, "sz": s, "n": 1} for p, s in bids],
                [{"px": p, "sz": s, "n": 1} for p, s in asks],
            ],
        },
    }


def hl_trades(
    t_ms: int, side: str = "B", px: str = "100.0", sz: str = "0.1", tid: int = 1
) -> dict[str, Any]:
    return {
        "channel": "trades",
        "data": [
            {
                "coin": "BTC",
                "side": side,
                "px": px,
                "sz": sz,
                "time": t_ms,
                "hash": "0x0",
                "tid": tid,
                "users": ["0xa", "0xb"],
            }
        ],
    }


def bn_snapshot(
    last_id: int, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    return {
        "lastUpdateId": last_id,
        "E": 1,
        "T": 1,
        "bids": [list(b) for b in bids],
        "asks": [list(a) for a in asks],
    }


def bn_diff(
    U: int, u: int, pu: int, b: Sequence[tuple[str, str]] = (), a: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    return {
        "stream": "btcusdt@depth@0ms",
        "data": {
            "e": "depthUpdate",
            "E": 1000,
            "T": 1000,
            "s": "BTCUSDT",
            "U": U,
            "u": u,
            "pu": pu,
            "b": [list(x) for x in b],
            "a": [list(x) for x in a],
        },
    }


def bn_ticker(u: int, b: str, a: str) -> dict[str, Any]:
    return {
        "stream": "btcusdt@bookTicker",
        "data": {
            "e": "bookTicker",
            "u": u,
            "s": "BTCUSDT",
            "b": b,
            "B": "1.0",
            "a": a,
            "A": "1.0",
            "T": 1000,
            "E": 1000,
        },
    }


def bn_trade(t: int, px: str, qty: str, m: bool) -> dict[str, Any]:
    return {
        "stream": "btcusdt@trade",
        "data": {
            "e": "trade",
            "E": 1000,
            "T": 1000,
            "s": "BTCUSDT",
            "t": t,
            "p": px,
            "q": qty,
            "X": "MARKET",
            "m": m,
        },
    }


_PX = st.integers(900, 1100).map(lambda k: k / 10)
_SZ = st.integers(0, 50).map(lambda k: k / 10)
_LEVELS = st.lists(st.tuples(_PX, _SZ), max_size=4)


@st.composite
def market_records(draw: st.DrawFn) -> RecordBuilder:
    """A small market's store records: an opening snapshot, then deltas, snapshots, trades
    and BBOs in any order (prices on a 0.1 grid, times that may repeat)."""
    b = RecordBuilder()
    t = 1_000
    b.add_book(RecordKind.BOOK_SNAPSHOT, t, t + 1, [(99.9, 1.0)], [(100.1, 1.0)], seq=1)
    for k in range(draw(st.integers(1, 40))):
        t += draw(st.integers(0, 5_000_000))
        what = draw(st.sampled_from(["delta", "snap", "trade", "bbo"]))
        if what == "trade":
            side = draw(st.sampled_from([1, -1]))
            b.add(RecordKind.TRADE, t, t + 7, side, draw(_PX), draw(_SZ), seq=k, aux=k)
        elif what == "bbo":
            b.add(RecordKind.BBO, t, t + 3, 1, draw(_PX), draw(_SZ), seq=k)
        else:
            kind = RecordKind.BOOK_DELTA if what == "delta" else RecordKind.BOOK_SNAPSHOT
            b.add_book(kind, t, t + 2, draw(_LEVELS), draw(_LEVELS), seq=k, aux=k)
    return b
