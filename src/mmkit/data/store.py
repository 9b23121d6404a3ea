"""The event store: Parquet files of :mod:`mmkit.data.schema` records.

Writing is atomic: rows go to a hidden temporary file next to the target, which is renamed
over the target only after the footer and the metadata are written. A conversion that fails
half way removes its temporary file, so a store file that exists is always complete.

Reading is streaming: :func:`iter_chunks` yields column dicts of numpy arrays (zero-copy
from Arrow where possible) one batch at a time, so a month of data never has to fit in
memory. :func:`read_meta` returns the instrument (coin, tick, lot), the source and the
problem counters written by the producer.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmkit import safejson
from mmkit.data.schema import (
    COLUMN_NAMES,
    COLUMNS,
    FORMAT_VERSION,
    META_KEY,
    Chunk,
    chunk_len,
    concat_chunks,
)
from mmkit.errors import DataError

DEFAULT_BATCH_ROWS = 1 << 20
DEFAULT_ROW_GROUP = 1 << 20
#: Uncompressed pages decode several times faster than lz4/zstd ones (the replay path reads
#: > 20 M records/s only without compression); pass ``compression="zstd"`` for archives.
DEFAULT_COMPRESSION = "none"
COMPRESSIONS: tuple[str, ...] = ("none", "lz4", "zstd", "snappy", "gzip")

ARROW_SCHEMA = pa.schema(
    [pa.field(name, pa.from_numpy_dtype(np.dtype(dt)), nullable=False) for name, dt in COLUMNS]
)


@dataclass
class StoreMeta:
    """What a store file says about itself (Parquet key-value metadata ``mmkit.data``)."""

    coin: str = ""
    tick: float = float("nan")
    lot: float = float("nan")
    source: str = ""
    stats: dict[str, int] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    rows: int = 0
    first_ts: int = -1
    last_ts: int = -1
    extra: dict[str, Any] = field(default_factory=dict)
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "coin": self.coin,
                "tick": _json_float(self.tick),
                "lot": _json_float(self.lot),
                "source": self.source,
                "stats": self.stats,
                "issues": self.issues,
                "rows": self.rows,
                "first_ts": self.first_ts,
                "last_ts": self.last_ts,
                "extra": self.extra,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> StoreMeta:
        try:
            d = safejson.loads(text)
            return cls(
                coin=str(d.get("coin", "")),
                tick=_float(d.get("tick")),
                lot=_float(d.get("lot")),
                source=str(d.get("source", "")),
                stats={str(k): int(v) for k, v in dict(d.get("stats", {})).items()},
                issues=[str(x) for x in d.get("issues", [])],
                rows=int(d.get("rows", 0)),
                first_ts=int(d.get("first_ts", -1)),
                last_ts=int(d.get("last_ts", -1)),
                extra=dict(d.get("extra", {})),
                version=int(d.get("version", 0)),
            )
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            raise DataError(f"{where}: unreadable mmkit metadata: {exc}") from None


def _json_float(x: float) -> float | None:
    return None if x != x else x  # NaN -> null


def _float(x: Any) -> float:
    return float("nan") if x is None else float(x)


class StoreWriter:
    """Write chunks to ``path`` atomically. Use as a context manager::

        with StoreWriter(out, meta) as w:
            for chunk in chunks:
                w.write(chunk)

    Leaving the block by an exception removes the temporary file and leaves ``path`` as it
    was. ``meta.stats``/``issues`` may be filled in until the block ends.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: StoreMeta | None = None,
        *,
        compression: str = DEFAULT_COMPRESSION,
        row_group_rows: int = DEFAULT_ROW_GROUP,
    ) -> None:
        if compression not in COMPRESSIONS:
            raise DataError(
                f"unknown compression {compression!r}; choose one of {', '.join(COMPRESSIONS)}"
            )
        self.path = Path(path)
        self.meta = meta or StoreMeta()
        self.row_group_rows = row_group_rows
        self._tmp = self.path.with_name(
            f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        )
        self._compression = compression
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[Chunk] = []
        self._pending_rows = 0
        self.rows = 0
        self._first_ts = -1
        self._last_ts = -1

    def __enter__(self) -> StoreWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(
            str(self._tmp),
            ARROW_SCHEMA,
            compression=self._compression,
            write_statistics=["ts", "local_ts"],
        )
        return self

    def write(self, chunk: Chunk) -> None:
        n = chunk_len(chunk)
        if n == 0:
            return
        if self._first_ts < 0:
            self._first_ts = int(chunk["ts"][0])
        self._last_ts = int(chunk["ts"][-1])
        self._pending.append(chunk)
        self._pending_rows += n
        if self._pending_rows >= self.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending or self._writer is None:
            return
        chunk = concat_chunks(self._pending)
        self._pending = []
        self._pending_rows = 0
        arrays = [pa.array(np.ascontiguousarray(chunk[name])) for name in COLUMN_NAMES]
        self._writer.write_table(
            pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA), row_group_size=self.row_group_rows
        )
        self.rows += len(chunk["ts"])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
            return
        self.commit()

    def commit(self) -> None:
        if self._writer is None:
            raise RuntimeError("StoreWriter used outside its 'with' block")
        try:
            self._flush()
            self.meta.rows = self.rows
            self.meta.first_ts = self._first_ts
            self.meta.last_ts = self._last_ts
            self._writer.add_key_value_metadata({META_KEY: self.meta.to_json()})
            self._writer.close()
            self._writer = None
            with open(self._tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self._tmp, self.path)
            _fsync_dir(self.path.parent)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def _fsync_dir(d: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_store(
    path: str | os.PathLike[str],
    chunks: Iterable[Chunk],
    meta: StoreMeta | None = None,
    **kwargs: Any,
) -> StoreMeta:
    """Write every chunk of ``chunks`` to ``path`` atomically; returns the final metadata."""
    with StoreWriter(path, meta, **kwargs) as w:
        for chunk in chunks:
            w.write(chunk)
    return w.meta


def _open(path: str | os.PathLike[str]) -> pq.ParquetFile:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    try:
        # pre_buffer off: reading ahead whole row groups doubles peak memory and is no faster
        return pq.ParquetFile(str(p), pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{p}: not a readable event store (Parquet): {exc}") from None


def read_meta(path: str | os.PathLike[str]) -> StoreMeta:
    pf = _open(path)
    kv: Mapping[bytes, bytes] = pf.metadata.metadata or {}
    raw = kv.get(META_KEY.encode())
    if raw is None:
        raise DataError(f"{path}: a Parquet file without mmkit metadata (not an event store)")
    meta = StoreMeta.from_json(raw, str(path))
    names = tuple(pf.schema_arrow.names)
    if names != COLUMN_NAMES:
        raise DataError(f"{path}: columns {names} differ from the event store's {COLUMN_NAMES}")
    return meta


def iter_chunks(
    path: str | os.PathLike[str],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: Iterable[str] | None = None,
) -> Iterator[Chunk]:
    """Stream the store at ``path`` as column dicts of numpy arrays, ``batch_rows`` at a time."""
    read_meta(path)  # validates
    pf = _open(path)
    cols = list(columns) if columns is not None else list(COLUMN_NAMES)
    unknown = [c for c in cols if c not in COLUMN_NAMES]
    if unknown:
        raise DataError(f"{path}: unknown column(s) {unknown}; columns are {list(COLUMN_NAMES)}")
    try:
        for batch in pf.iter_batches(batch_size=batch_rows, columns=cols, use_threads=True):
            yield {
                name: batch.column(i).to_numpy(zero_copy_only=False) for i, name in enumerate(cols)
            }
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: corrupt event store: {exc}") from None


def read_all(path: str | os.PathLike[str]) -> Chunk:
    """The whole store in memory (tests and small files)."""
    return concat_chunks(list(iter_chunks(path)))
