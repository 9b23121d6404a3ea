"""Opening capture files: compression by magic bytes, numbered lines, truncation."""

from __future__ import annotations

import gzip
import stat
import zlib
from collections.abc import Iterable, Iterator
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


#: what the loaders accept, in words (error messages end with it)
ACCEPTED_INPUTS = (
    "accepted: an event store (Parquet, from `mmkit data convert`), a raw websocket capture "
    "('<ns> <json>' lines of Binance combined streams or Hyperliquid l2Book/trades, plain, "
    "gzip or lz4), Hyperliquid archive JSON lines, or LOBSTER message/orderbook CSVs (or "
    "their zip)"
)

#: leading bytes of file types a user may pass by mistake -> what they are
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "an event store (Parquet)"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (_GZIP_MAGIC, "gzip-compressed data"),
    (_LZ4_MAGIC, "lz4-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data (not supported: decompress it first)"),
    (b"BZh", "bzip2-compressed data (not supported: decompress it first)"),
    (b"\xfd7zXZ\x00", "xz-compressed data (not supported: decompress it first)"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database (a run journal?)"),
    (b"\x7fELF", "an executable"),
)


def check_input_file(path: Path) -> None:
    """Raise a :class:`DataError` unless ``path`` is a readable, non-empty regular file.

    The message says what is wrong in words: missing, a directory (with how many files it
    holds, since the user probably meant one of them), not a regular file, or empty.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror or type(exc).__name__}") from None
    if stat.S_ISDIR(info.st_mode):
        try:
            n = sum(1 for c in path.iterdir() if c.is_file())
        except OSError:
            n = -1
        inside = f"; it holds {n} file(s)" if n >= 0 else ""
        raise DataError(
            f"{path}: is a directory, not a data file{inside}; give the file(s) themselves "
            f"(e.g. {path}/*.parquet)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: not a regular file (a pipe, socket or device); give a file")
    if info.st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")


def check_input_files(paths: Iterable[Path]) -> None:
    """:func:`check_input_file` of each of ``paths``: the research commands call it before
    a cold cache's kernel warm-up, so that a bad argument is said at once, not after it."""
    for path in paths:
        check_input_file(Path(path))


def printable(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters with anything unprintable shown as ``?``."""
    cut = text[:limit]
    shown = "".join(c if c.isprintable() and c.isascii() else "?" for c in cut)
    return shown + ("..." if len(text) > limit else "")


def looks_binary(head: bytes) -> bool:
    """True when ``head`` is not text: a NUL byte, invalid UTF-8 (other than a character cut
    at the end of ``head``), or more than 5% control characters."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # a multi-byte character cut by the read is fine
            return True
        text = head[: exc.start].decode("utf-8", "replace")
    ctrl = sum(1 for c in text if not c.isprintable() and c not in "\r\n\t")
    return ctrl > 0.05 * max(len(text), 1)


def describe_head(head: bytes) -> str:
    """What a file whose first bytes are ``head`` looks like, in words, for error messages
    (never the bytes themselves: binary content is summarised, text is shown printable)."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if not head:
        return "an empty file"
    if looks_binary(head):
        return "binary data, not text"
    line = head.decode("utf-8", "replace").lstrip().split("\n", 1)[0].strip()
    if not line:
        return "text with only blank lines at the start"
    return f"text starting {printable(line)!r}"


def describe_file(path: Path, size: int = 512) -> str:
    """:func:`describe_head` of ``path``'s first ``size`` bytes (of the decompressed stream
    for gzip/lz4, prefixed by the compression); '' when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(size)
    except OSError:
        return ""
    what = describe_head(raw)
    if raw.startswith((_GZIP_MAGIC, _LZ4_MAGIC)):
        kind = "gzip" if raw.startswith(_GZIP_MAGIC) else "lz4"
        try:
            with open_binary(path) as fh:
                inner = fh.read(size)
        except (OSError, EOFError, zlib.error, RuntimeError, ValueError) as exc:
            return f"{kind}-compressed data that does not decompress ({type(exc).__name__})"
        if not inner:
            return f"{kind}-compressed data that decompresses to nothing"
        return f"{kind}-compressed {describe_head(inner)}"
    return what


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


def is_parquet(path: Path) -> bool:
    """True when ``path`` starts with Parquet's magic bytes (an event store)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False
