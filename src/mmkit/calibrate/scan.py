"""Streaming pass over market data files: trade depths, mid samples and book-kappa fits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.calibrate._kernels_scan import ST_BOOK_TRIES, ST_SIZE, scan_chunk
from mmkit.core.types import NS_PER_S
from mmkit.data.market_stream import MarketStream, open_records
from mmkit.errors import DataError
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim.arrays import MarketArrays
from mmkit.venues.sim.convert import empty_grid, widen_grid

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class ScanSettings:
    mid_every_s: float = 1.0
    book_every_s: float = 1.0
    book_levels: int = 20
    book_max_depth: float = 0.01
    book_min_levels: int = 4
    tick: float | None = None
    fmt: str = "auto"


@dataclass
class ScanResult:
    """What the fits need, as flat arrays (times in ns)."""

    tick: float
    duration_s: float
    trade_ts: I64
    trade_depth: F64
    trade_side: npt.NDArray[np.int8]
    trade_mid: F64
    mid_ts: I64
    mid: F64
    book_ts: I64
    book_kappa: F64
    book_r2: F64
    files: list[str] = field(default_factory=list)
    market_events: int = 0
    #: book regressions attempted (every ``book_every_s`` with a valid mid); the fitted
    #: ones are in ``book_kappa`` (a failed fit: too few levels, or a book that thickens
    #: away from mid)
    book_tries: int = 0
    #: each input's data problems, as its conversion found them
    #: (:func:`mmkit.data.market_stream.data_problems`)
    problems: list[str] = field(default_factory=list)

    @property
    def mid_ref(self) -> float:
        """Median mid of the data (converts relative depths to ticks and price)."""
        m = self.trade_mid if self.trade_mid.size else self.mid[np.isfinite(self.mid)]
        return float(np.median(m)) if m.size else float("nan")


class _Acc:
    def __init__(self) -> None:
        self.parts: dict[str, list[npt.NDArray[np.generic]]] = {}

    def add(self, name: str, a: npt.NDArray[np.generic]) -> None:
        self.parts.setdefault(name, []).append(a)

    def get(self, name: str, dtype: type) -> npt.NDArray[np.generic]:
        p = self.parts.get(name)
        return np.concatenate(p) if p else np.zeros(0, dtype=dtype)


def scan_files(
    paths: Sequence[Path],
    settings: ScanSettings | None = None,
    on_file: Callable[[Path, int], None] | None = None,
) -> ScanResult:
    """One streaming pass over every file (each file is its own book and clock)."""
    s = settings or ScanSettings()
    acc = _Acc()
    duration = 0.0
    tick = float("nan")
    events = 0
    book_tries = 0
    problems: list[str] = []
    mid_ns = max(1, int(s.mid_every_s * NS_PER_S))
    book_ns = max(1, int(s.book_every_s * NS_PER_S))
    for path in paths:
        src = open_records(Path(path), s.fmt)
        stream: MarketStream | None = None
        grid: F64 | None = None
        st = np.zeros(ST_SIZE, np.int64)
        first = last = -1
        for chunk in src.chunks:
            if stream is None:
                stream = MarketStream(s.tick or src.tick)
                tick = stream.tick
            m: MarketArrays = stream.convert(chunk)
            if not len(m):
                continue
            if grid is None:
                grid, si, sf = empty_grid(stream.base, stream.n_ticks, stream.tick)
            elif (stream.base, stream.n_ticks) != (si[lay.SI_BASE], si[lay.SI_NT]):
                # the conversion followed the market beyond its grid: so does this book
                grid = widen_grid(grid, si, stream.base, stream.n_ticks)
            if first < 0:
                first = int(m.ts[0])
            last = int(m.ts[-1])
            span = int(m.ts[-1] - m.ts[0])
            n_tr = int(np.count_nonzero(m.kind == lay.EV_TRADE))
            n_mid = span // mid_ns + 3
            n_bk = span // book_ns + 3
            out: tuple[npt.NDArray[Any], ...] = (
                np.empty(n_tr, np.int64),
                np.empty(n_tr, np.float64),
                np.empty(n_tr, np.int8),
                np.empty(n_tr, np.float64),
                np.empty(n_mid, np.int64),
                np.empty(n_mid, np.float64),
                np.empty(n_bk, np.int64),
                np.empty(n_bk, np.float64),
                np.empty(n_bk, np.float64),
            )
            nt, nm, nb = scan_chunk(
                m.ts,
                m.kind,
                m.side,
                m.px,
                m.sz,
                grid,
                si,
                sf,
                st,
                mid_ns,
                book_ns,
                s.book_levels,
                s.book_max_depth,
                s.book_min_levels,
                *out,
            )
            for name, arr, n in zip(
                ("tts", "tdep", "tside", "tmid", "mts", "mid", "bts", "bk", "br2"),
                out,
                (nt, nt, nt, nt, nm, nm, nb, nb, nb),
                strict=True,
            ):
                acc.add(name, arr[:n])
            events += len(m)
        book_tries += int(st[ST_BOOK_TRIES])
        said = src.problems()
        if said is not None:
            problems.append(said)
        if first >= 0:
            duration += (last - first) / NS_PER_S
            acc.add("mts", np.array([last], np.int64))  # restart marker between files
            acc.add("mid", np.array([np.nan]))
        if on_file is not None:
            on_file(Path(path), events)
    if not events:
        raise DataError(f"{', '.join(map(str, paths))}: no market data (book levels or trades)")
    return ScanResult(
        tick=tick,
        duration_s=duration,
        trade_ts=acc.get("tts", np.int64),  # type: ignore[arg-type]
        trade_depth=acc.get("tdep", np.float64),  # type: ignore[arg-type]
        trade_side=acc.get("tside", np.int8),  # type: ignore[arg-type]
        trade_mid=acc.get("tmid", np.float64),  # type: ignore[arg-type]
        mid_ts=acc.get("mts", np.int64),  # type: ignore[arg-type]
        mid=acc.get("mid", np.float64),  # type: ignore[arg-type]
        book_ts=acc.get("bts", np.int64),  # type: ignore[arg-type]
        book_kappa=acc.get("bk", np.float64),  # type: ignore[arg-type]
        book_r2=acc.get("br2", np.float64),  # type: ignore[arg-type]
        files=[str(p) for p in paths],
        market_events=events,
        book_tries=book_tries,
        problems=problems,
    )
