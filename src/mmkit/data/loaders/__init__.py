"""Loaders: input files -> store records. ``LOADERS`` maps a format name to its class."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmkit.data.diagnostics import Diagnostics
from mmkit.data.inputs import (
    ACCEPTED_INPUTS,
    check_input_file,
    describe_file,
    is_parquet,
    looks_binary,
    open_binary,
)
from mmkit.data.loaders.base import Loader
from mmkit.data.loaders.binance import BinanceLoader
from mmkit.data.loaders.hyperliquid import HyperliquidArchiveLoader, HyperliquidLoader
from mmkit.data.loaders.lobster import LobsterLoader
from mmkit.data.params import check_format
from mmkit.data.store import DEFAULT_COMPRESSION, StoreMeta, StoreWriter
from mmkit.errors import DataError

LOADERS: dict[str, type[Loader]] = {
    cls.format: cls
    for cls in (BinanceLoader, HyperliquidLoader, HyperliquidArchiveLoader, LobsterLoader)
}
FORMATS: tuple[str, ...] = ("auto", *LOADERS)


def detect_format(path: Path) -> str:
    """Guess an input's format from its first non-blank line (or a zip / CSV name for
    LOBSTER). Anything else is a :class:`DataError` that says what the file looks like
    (never its raw bytes) and what is accepted."""
    check_input_file(path)
    if path.suffix == ".zip" or zipfile.is_zipfile(path):
        return "lobster"
    if path.suffix == ".csv" and ("_message_" in path.name or "_orderbook_" in path.name):
        return "lobster"
    if is_parquet(path):
        raise DataError(
            f"{path}: is already an event store (Parquet), not a raw capture: it needs no "
            "conversion (give it directly to backtest, calibrate, trade --data or data info)"
        )
    head = b""
    lines = 0
    try:
        with open_binary(path) as fh:
            while lines < 64:  # skip leading blank lines; a line is read up to 1 MiB
                head = fh.readline(1 << 20)
                if not head or head.strip():
                    break
                lines += 1
    except (OSError, EOFError, zlib.error, RuntimeError, ValueError) as exc:  # lz4: Runtime
        raise DataError(
            f"{path}: cannot read it as {describe_file(path)} ({type(exc).__name__}); "
            + ACCEPTED_INPUTS
        ) from None
    if not head.strip():
        if lines == 0:
            raise DataError(f"{path}: is empty once decompressed ({describe_file(path)})")
        raise DataError(f"{path}: holds only blank lines (first {lines}): nothing to read")
    if not looks_binary(head):
        text = head.decode("utf-8", "replace").lstrip()
        if text.startswith("{"):
            return "hyperliquid_archive"
        if '"stream"' in text or '"lastUpdateId"' in text:
            return "binance"
        if '"channel"' in text:
            return "hyperliquid"
    raise DataError(
        f"{path}:{lines + 1}: cannot tell the format: it looks like {describe_file(path)}; "
        f"{ACCEPTED_INPUTS}; or pass --format ({', '.join(LOADERS)})"
    )


def make_loader(fmt: str, paths: Sequence[str | Path], **kwargs: Any) -> Loader:
    check_format(fmt, FORMATS)  # before the files: a typo is said as a typo
    ps = [Path(p) for p in paths]
    if not ps:
        raise DataError("no input file given")
    for p in ps:
        check_input_file(p)
        if is_parquet(p):
            raise DataError(
                f"{p}: is an event store (Parquet), not a raw input of any loader; it needs "
                "no conversion (give it directly to backtest, calibrate, trade --data or "
                "data info)"
            )
    if fmt == "auto":
        fmt = detect_format(ps[0])
    cls = LOADERS[fmt]
    if kwargs.get("include_replay") is not None and not issubclass(cls, HyperliquidLoader):
        if kwargs["include_replay"]:
            raise DataError(
                f"{ps[0]}: --include-replay applies to Hyperliquid captures (the replay of "
                f"a trades subscription); a {fmt} input has no replay"
            )
        del kwargs["include_replay"]
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
