"""Facts computed from the records themselves (not from the producer's counters): book
rebuilt by a numba kernel, crossed books, local-time regressions, gaps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numba import types
from numba.typed import Dict

from mmkit.data import _kernels_scan as kern
from mmkit.data.schema import Chunk


@dataclass(frozen=True)
class ScanResult:
    books: int
    crossed: int
    ts_regressions: int
    gaps: int
    best_bid: float
    best_ask: float


def scan(chunks: Iterable[Chunk]) -> ScanResult:
    bids = Dict.empty(key_type=types.float64, value_type=types.float64)
    asks = Dict.empty(key_type=types.float64, value_type=types.float64)
    state = np.zeros(kern.STATE_LEN, dtype=np.float64)
    state[kern.ST_BEST_BID] = -np.inf
    state[kern.ST_BEST_ASK] = np.inf
    state[kern.ST_LAST_LOCAL] = -np.inf
    for c in chunks:
        kern.scan_chunk(
            c["kind"], c["side"], c["flags"], c["px"], c["sz"], c["local_ts"], bids, asks, state
        )
    return ScanResult(
        books=int(state[kern.ST_BOOKS]),
        crossed=int(state[kern.ST_CROSSED]),
        ts_regressions=int(state[kern.ST_REGRESSIONS]),
        gaps=int(state[kern.ST_GAPS]),
        best_bid=float(state[kern.ST_BEST_BID]),
        best_ask=float(state[kern.ST_BEST_ASK]),
    )
