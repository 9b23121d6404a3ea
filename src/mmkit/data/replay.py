"""Replay feeds: an event store, or raw captures converted on the fly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmkit.core.events import Event
from mmkit.data.adapter import events_from_chunks
from mmkit.data.clock import ClockAlignment
from mmkit.data.diagnostics import Diagnostics
from mmkit.data.loaders import make_loader
from mmkit.data.schema import Chunk
from mmkit.data.store import iter_chunks
from mmkit.errors import ConfigError

_PARQUET_MAGIC = b"PAR1"


def is_store(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


class ReplayFeed:
    """Events of one or more inputs, in order: stores are streamed, captures converted."""

    def __init__(self, paths: list[str], fmt: str = "auto") -> None:
        if not paths:
            raise ConfigError(
                [f"feed replay: 'path' is empty; give the file(s) to replay (format {fmt})"]
            )
        self.paths = [Path(p) for p in paths]
        self.format = fmt
        self.diagnostics = Diagnostics()
        #: the earliest arrivals' delay after a realignment of the clocks, ms
        self.min_latency_ms = 20.0
        self.clock: ClockAlignment | None = None

    def chunks(self) -> Iterator[Chunk]:
        fmt = self.format
        if fmt == "store" or (fmt == "auto" and all(is_store(p) for p in self.paths)):
            for p in self.paths:
                yield from iter_chunks(p)
            return
        loader = make_loader(fmt, self.paths, diag=self.diagnostics)
        yield from loader.chunks()

    def problems(self) -> list[str]:
        """What the inputs' conversion found wrong in them, one line per input (an event
        store: from its metadata; raw captures: as far as they were read), for the run's
        summary (:func:`mmkit.data.market_stream.data_problems`)."""
        from mmkit.data.market_stream import data_problems, store_problems

        if all(is_store(p) for p in self.paths) and self.format in ("auto", "store"):
            return [said for p in self.paths if (said := store_problems(p)) is not None]
        diag = self.diagnostics  # one for every capture of the feed: named together
        said = data_problems(Path(", ".join(p.name for p in self.paths)), diag.counts, diag.issues)
        return [said] if said is not None else []

    def events(self) -> Iterator[Event]:
        # one clock for the strategy and the simulated exchange (mmkit.data.clock)
        self.clock = ClockAlignment(self.chunks(), min_latency_ms=self.min_latency_ms)
        return events_from_chunks(self.clock)


def build_replay(ctx: Any) -> ReplayFeed:
    return ReplayFeed(list(ctx.params.path), ctx.params.format)


def _capture_factory(fmt: str) -> Any:
    def build(ctx: Any) -> ReplayFeed:
        return ReplayFeed(list(ctx.params.path), fmt)

    build.__name__ = f"build_{fmt}"
    return build


build_binance = _capture_factory("binance")
build_hyperliquid = _capture_factory("hyperliquid")
build_hyperliquid_archive = _capture_factory("hyperliquid_archive")
build_lobster = _capture_factory("lobster")
