"""Streaming market data for research commands: files -> store chunks -> market arrays.

Every research command (calibrate, backtest, sweep) reads its ``DATA`` arguments through
:func:`open_records`: an event store is streamed with :func:`mmkit.data.store.iter_chunks`
(bounded memory), a raw capture goes through its loader. :class:`MarketStream` then turns
chunks into the simulated exchange's columnar market (``EV_DEPTH`` level changes and
``EV_TRADE`` rows) with the conversion kernel of :mod:`mmkit.venues.sim`, keeping the book
between chunks so that a month of data converts chunk by chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.data import market_cache
from mmkit.data.diagnostics import ISSUE_NAMES
from mmkit.data.inputs import check_input_file, printable
from mmkit.data.params import check_format
from mmkit.errors import DataError
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim.arrays import MarketArrays
from mmkit.venues.sim.convert import convert_records, empty_grid, widen_grid
from mmkit.venues.sim.state import MAX_FIT_TICKS, roi_grid

Chunk = dict[str, npt.NDArray[Any]]


@dataclass
class RecordSource:
    """One input: its chunks and, once known, its tick."""

    path: Path
    fmt: str
    chunks: Iterator[Chunk]
    _tick: float
    _loader: Any = None

    @property
    def tick(self) -> float:
        if self._loader is not None:
            return float(self._loader.tick)
        return self._tick

    @property
    def lot(self) -> float:
        """The size lot, where the input says it (NaN otherwise)."""
        if self._loader is not None:
            return float(getattr(self._loader, "lot", math.nan))
        return math.nan

    def problems(self) -> str | None:
        """The input's data problems, once its chunks are read (:func:`data_problems`): a
        raw capture's from its conversion, an event store's from its metadata (what its
        own conversion found)."""
        if self._loader is not None:
            diag = self._loader.diag
            return data_problems(self.path, dict(diag.counts), diag.issues)
        return store_problems(self.path)


def store_problems(path: Path) -> str | None:
    """:func:`data_problems` of an event store, from its metadata (what its conversion
    found)."""
    from mmkit.data.store import read_meta

    meta = read_meta(path)
    return data_problems(path, meta.stats, meta.issues)


def data_problems(path: Path, counts: dict[str, int], issues: Sequence[str]) -> str | None:
    """One line for a run's report naming what was wrong in an input (the conversion's
    counted problems: truncated, malformed lines, gaps, crossed books, time regressions,
    unknown messages, BBO mismatches) and the first one found; None when nothing was."""
    found = [(k, int(counts.get(k, 0))) for k in ISSUE_NAMES if counts.get(k, 0)]
    if not found:
        return None
    said = ", ".join(f"{k} {n:,}" for k, n in found)
    first = f"; the first: {printable(issues[0], 240)}" if issues else ""
    return f"{path.name}: {said}{first}"


def open_records(
    path: Path,
    fmt: str = "auto",
    *,
    batch_rows: int = 1 << 20,
    columns: Sequence[str] | None = None,
) -> RecordSource:
    """Stream an event store (``.parquet``) or a raw capture as store chunks.

    ``columns``: read only these of an event store's columns (a chunk of a raw capture
    always has every column; a consumer must not rely on the others being absent)."""
    from mmkit.data.replay import is_store

    check_format(fmt)  # an unknown one is said as such, not as what the file is not
    p = Path(path)
    check_input_file(p)  # missing, a directory or empty: said in those words
    if fmt in ("auto", "store") and is_store(p):
        from mmkit.data.store import iter_chunks, read_meta

        meta = read_meta(p)
        chunks = iter_chunks(p, batch_rows=batch_rows, columns=columns)
        return RecordSource(p, "store", chunks, float(meta.tick))
    if fmt == "store":
        raise DataError(f"{p}: not an event store (Parquet)")
    from mmkit.data.loaders import make_loader

    loader = make_loader(fmt, [p])
    return RecordSource(p, loader.format, loader.chunks(), math.nan, loader)


#: ticks of margin beyond a chunk's lowest and highest prices in the conversion's grid
_MARGIN_TICKS = 16


class MarketStream:
    """Converts store chunks to market arrays, keeping the converted book between chunks."""

    #: the store columns :meth:`convert` reads (the others need not be read from disk:
    #: on the USD-M capture's store, 6 of 10 columns, ~40 % less to decode and allocate)
    COLUMNS = ("ts", "kind", "side", "flags", "px", "sz")

    def __init__(self, tick: float, *, price_range: float = 0.5) -> None:
        if not (math.isfinite(tick) and tick > 0):
            raise DataError(
                f"market data: tick {tick!r} unknown or invalid (pass --tick, or convert the "
                "capture to an event store with `mmkit data convert`)"
            )
        self.tick = float(tick)
        self.price_range = price_range
        self._grid: npt.NDArray[np.float64] | None = None
        self._si = np.zeros(lay.SI_SIZE, dtype=np.int64)
        self._sf = np.zeros(lay.SF_SIZE, dtype=np.float64)
        self.base = 0
        self.n_ticks = 0
        self._last_ts = -(2**63)

    def _region(self, px: npt.NDArray[np.float64]) -> tuple[int, int]:
        """(lowest tick, ticks) a chunk's valid book prices ``px`` need: all of them, with a
        margin, when a grid that wide is allowed (:data:`MAX_FIT_TICKS` columns: so a market
        that moves far within one chunk, a crash, keeps its book); else their region of
        interest, the median +- ``price_range`` (a stray price far off is dropped)."""
        lo = max(1, math.floor(float(px.min()) / self.tick) - _MARGIN_TICKS)
        hi = math.ceil(float(px.max()) / self.tick) + _MARGIN_TICKS
        if hi - lo + 1 <= MAX_FIT_TICKS:
            return lo, hi - lo + 1
        return roi_grid(px, self.tick, self.price_range)

    def _init_grid(self, px: npt.NDArray[np.float64]) -> bool:
        ok = np.isfinite(px) & (px > 0)
        if not ok.any():
            return False
        self._grid, self._si, self._sf = empty_grid(*self._region(px[ok]), self.tick)
        self.base, self.n_ticks = int(self._si[lay.SI_BASE]), int(self._si[lay.SI_NT])
        return True

    def convert(self, chunk: Chunk) -> MarketArrays:
        """Market arrays of one chunk (exchange time, clamped to be monotone across chunks)."""
        kind = np.ascontiguousarray(chunk["kind"], dtype=np.int64)
        side = np.ascontiguousarray(chunk["side"], dtype=np.int64)
        flags = np.ascontiguousarray(chunk["flags"], dtype=np.int64)
        px = np.ascontiguousarray(chunk["px"], dtype=np.float64)
        sz = np.ascontiguousarray(chunk["sz"], dtype=np.float64)
        ts = np.ascontiguousarray(chunk["ts"], dtype=np.int64)
        if ts.size:
            ts = np.maximum.accumulate(np.maximum(ts, self._last_ts))
            self._last_ts = int(ts[-1])
        book = np.isin(kind, (1, 2, 3))
        if self._grid is None:
            if not self._init_grid(px[book]):
                return MarketArrays.build(*([np.zeros(0)] * 5))
        else:
            self._follow(px[book])
        assert self._grid is not None
        return convert_records(ts, kind, side, flags, px, sz, self._grid, self._si, self._sf)

    def _follow(self, px: npt.NDArray[np.float64]) -> None:
        """Grow the grid to this chunk's prices (:meth:`_region`) when the market has
        travelled beyond it, the book carried over at its prices: a level outside the grid
        is dropped by the conversion, and a market that left the first chunk's range lost
        its book for the rest of the data. Beyond :data:`MAX_FIT_TICKS` columns in all the
        grid stays as it is."""
        ok = px[np.isfinite(px) & (px > 0)]
        if not ok.size:
            return
        lo, nt = self._region(ok)
        base, n = self.base, self.n_ticks
        new_lo, new_hi = min(base, lo), max(base + n, lo + nt)
        if (new_lo, new_hi) == (base, base + n) or new_hi - new_lo > MAX_FIT_TICKS:
            return
        assert self._grid is not None
        self._grid = widen_grid(self._grid, self._si, new_lo, new_hi - new_lo)
        self.base, self.n_ticks = new_lo, new_hi - new_lo


def load_market(
    paths: Sequence[Path],
    fmt: str = "auto",
    tick: float | None = None,
    *,
    cache: bool = False,
    info: MarketLoad | None = None,
) -> tuple[MarketArrays, float]:
    """Every input converted and concatenated into one market (backtests).

    ``cache``: read the market from the converted-market cache when it holds this very
    data, else convert and keep it there (:mod:`mmkit.data.market_cache`); ``info`` gets
    which happened, and why the cache could not be used when it could not."""
    info = MarketLoad() if info is None else info
    key = None
    if cache:
        for p in paths:
            check_input_file(Path(p))  # missing, a directory or empty: said in those words
        try:
            key = market_cache.market_key(paths, fmt, tick)
        except OSError as exc:
            info.note(f"the market cache was not used: {exc.strerror or exc}")
        if key is not None:
            got = market_cache.load(key)
            if got.problem is not None:
                info.note(got.problem)
            if got.market is not None:
                info.from_cache = True
                info.problems = list(got.problems)  # as found when it was converted
                return got.market, got.tick
    market, out_tick, problems = _convert(paths, fmt, tick)
    info.problems = problems
    if key is not None:
        why = market_cache.store(key, market, out_tick, paths, problems=problems)
        if why is not None:
            info.note(why)
    return market, out_tick


@dataclass
class MarketLoad:
    """How :func:`load_market` got its market: from the converted-market cache or not, and
    what went wrong with the cache when something did (for the run's notes: an ordinary
    hit or miss is no news, and two runs of the same data give the same report)."""

    from_cache: bool = False
    notes: list[str] = field(default_factory=list)
    #: each input's data problems (:func:`data_problems`), for the report's first line
    problems: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(f"market data: {text}")


def _convert(
    paths: Sequence[Path], fmt: str, tick: float | None
) -> tuple[MarketArrays, float, list[str]]:
    stream: MarketStream | None = None
    parts: list[MarketArrays] = []
    problems: list[str] = []
    for p in paths:
        src = open_records(p, fmt, columns=MarketStream.COLUMNS)
        for chunk in src.chunks:
            if stream is None:
                t = tick if tick else src.tick
                stream = MarketStream(t)
            m = stream.convert(chunk)
            if len(m):
                parts.append(m)
        said = src.problems()
        if said is not None:
            problems.append(said)
    if stream is None or not parts:
        raise DataError(f"{', '.join(str(p) for p in paths)}: no market data (book or trades)")
    if len(parts) == 1:
        return parts[0], stream.tick, problems  # validated when built
    cols = [
        np.concatenate([getattr(m, c) for m in parts]) for c in ("ts", "kind", "side", "px", "sz")
    ]
    return MarketArrays.build(*cols, source="market data"), stream.tick, problems
