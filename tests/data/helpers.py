"""Helpers shared by the data tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


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
