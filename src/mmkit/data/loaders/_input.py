"""Opening capture files: compression by magic bytes, numbered lines, truncation."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from mmkit.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"
_LZ4_MAGIC = b"\x04\x22\x4d\x18"


class TruncatedInput(Exception):
    """The compressed stream ended early (or is corrupt) after ``lineno`` complete lines."""

    def __init__(self, lineno: int, why: str) -> None:
        super().__init__(why)
        self.lineno = lineno
        self.why = why


def open_binary(path: Path) -> IO[bytes]:
    """``path`` opened for reading, decompressing gzip or lz4-frame transparently."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if head.startswith(_GZIP_MAGIC):
        return cast(IO[bytes], gzip.open(path, "rb"))
    if head == _LZ4_MAGIC:
        import lz4.frame

        return lz4.frame.open(path, "rb")  # type: ignore[no-any-return]
    return open(path, "rb")


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, line without the newline)`` for every line of ``path``.

    Raises :class:`TruncatedInput` when the decompressor fails part way (a truncated or
    corrupt gzip/lz4 file); lines read before that have been yielded.
    """
    lineno = 0
    with open_binary(path) as fh:
        try:
            for raw in fh:
                lineno += 1
                yield lineno, raw.rstrip(b"\r\n")
        except (EOFError, gzip.BadGzipFile, zlib.error, RuntimeError, OSError) as exc:
            raise TruncatedInput(lineno, f"{type(exc).__name__}: {exc}") from None


def decimals_of(s: str) -> int:
    """Significant decimals of a decimal string (``"61800.10"`` -> 1)."""
    dot = s.find(".")
    if dot < 0:
        return 0
    return len(s[dot + 1 :].rstrip("0"))


_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def as_i64(x: object) -> int:
    """``x`` as an integer that fits the store's int64 columns (ValueError otherwise)."""
    if type(x) is int and _I64_MIN <= x <= _I64_MAX:
        return x
    if isinstance(x, bool) or not isinstance(x, int | str | bytes):
        raise ValueError(f"expected an integer, got {x!r:.40}")
    v = int(x)
    if not _I64_MIN <= v <= _I64_MAX:
        raise ValueError(f"integer {v} out of the 64-bit range")
    return v


def ms_to_ns(x: object) -> int:
    """A millisecond timestamp (>= 0) as ns, checked to fit int64."""
    v = as_i64(as_i64(x) * 1_000_000)
    if v < 0:
        raise ValueError(f"negative timestamp {x!r}")
    return v


def finite_level(p: object, q: object) -> tuple[float, float]:
    """A (price, size) pair from decimal strings: price > 0, size >= 0, both finite."""
    if not isinstance(p, str) or not isinstance(q, str):
        raise TypeError("price and size must be decimal strings")
    px, sz = float(p), float(q)
    if not (0.0 < px < float("inf") and 0.0 <= sz < float("inf")):
        raise ValueError(f"bad level price={p!r} size={q!r}")
    return px, sz
