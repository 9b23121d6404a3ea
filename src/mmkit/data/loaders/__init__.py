"""Loaders: input files -> store records. ``LOADERS`` maps a format name to its class."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmkit.data.diagnostics import Diagnostics
from mmkit.data.loaders._input import open_binary
from mmkit.data.loaders.base import Loader
from mmkit.data.loaders.binance import BinanceLoader
from mmkit.data.loaders.hyperliquid import HyperliquidArchiveLoader, HyperliquidLoader
from mmkit.data.loaders.lobster import LobsterLoader
from mmkit.data.store import DEFAULT_COMPRESSION, StoreMeta, StoreWriter
from mmkit.errors import DataError

LOADERS: dict[str, type[Loader]] = {
    cls.format: cls
    for cls in (BinanceLoader, HyperliquidLoader, HyperliquidArchiveLoader, LobsterLoader)
}
FORMATS: tuple[str, ...] = ("auto", *LOADERS)


def detect_format(path: Path) -> str:
    """Guess an input's format from its first line (or a zip / CSV name for LOBSTER)."""
    if path.suffix == ".zip" or zipfile.is_zipfile(path):
        return "lobster"
    if path.suffix == ".csv" and ("_message_" in path.name or "_orderbook_" in path.name):
        return "lobster"
    try:
        with open_binary(path) as fh:
            head = fh.readline(1 << 20)
    except (OSError, EOFError, zlib.error, RuntimeError) as exc:  # RuntimeError: lz4
        raise DataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
    text = head.decode("utf-8", "replace").lstrip()
    if text.startswith("{"):
        return "hyperliquid_archive"
    if '"stream"' in text or '"lastUpdateId"' in text:
        return "binance"
    if '"channel"' in text:
        return "hyperliquid"
    raise DataError(
        f"{path}:1: cannot tell the format of this file; pass --format ({', '.join(LOADERS)})"
    )


def make_loader(fmt: str, paths: Sequence[str | Path], **kwargs: Any) -> Loader:
    ps = [Path(p) for p in paths]
    if not ps:
        raise DataError("no input file given")
    for p in ps:
        if not p.is_file():
            raise DataError(f"{p}: no such file")
    if fmt == "auto":
        fmt = detect_format(ps[0])
    cls = LOADERS.get(fmt)
    if cls is None:
        raise DataError(f"unknown data format {fmt!r}; known: {', '.join(FORMATS)}")
    return cls(ps, **kwargs)


def convert(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    fmt: str = "auto",
    strict: bool = False,
    compression: str = DEFAULT_COMPRESSION,
    **kwargs: Any,
) -> StoreMeta:
    """Convert input files to an event store at ``out`` (atomically)."""
    loader = make_loader(fmt, paths, diag=Diagnostics(strict=strict), **kwargs)
    with StoreWriter(out, compression=compression) as w:
        for chunk in loader.chunks():
            w.write(chunk)
        w.meta = loader.meta()
    return w.meta


__all__ = ["FORMATS", "LOADERS", "Loader", "convert", "detect_format", "make_loader"]
