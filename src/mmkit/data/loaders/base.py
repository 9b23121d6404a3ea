"""What every loader shares: diagnostics, chunking, instrument inference, metadata."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mmkit import safejson
from mmkit.data.diagnostics import Diagnostics
from mmkit.data.inputs import (
    ACCEPTED_INPUTS,
    TruncatedInput,
    as_i64,
    decimals_of,
    describe_file,
    numbered_lines,
    printable,
)
from mmkit.data.schema import Chunk, GapReason, RecordBuilder, RecordKind
from mmkit.data.store import StoreMeta
from mmkit.errors import DataError


class Loader(ABC):
    """Turns input files into store chunks. Subclasses implement :meth:`_run`, which fills
    ``self.out`` and yields whenever it is worth handing a chunk out."""

    format: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        diag: Diagnostics | None = None,
        coin: str | None = None,
        tick: float | None = None,
        lot: float | None = None,
        chunk_rows: int = 1 << 18,
    ) -> None:
        if not paths:
            raise DataError(f"{self.format}: no input file given")
        self.paths = [Path(p) for p in paths]
        self.diag = diag or Diagnostics()
        self.coin = coin
        self._tick = tick
        self._lot = lot
        self.px_decimals = -1
        self.sz_decimals = -1
        self.out = RecordBuilder(chunk_rows)
        self.records_in = 0  # input lines / rows read
        self.last_local = -1
        self.last_ts = -1

    # -- to implement ---------------------------------------------------------------------
    @abstractmethod
    def _run(self) -> Iterator[None]:
        """Read every input; yield after adding rows so that full chunks can be taken."""

    # -- shared helpers -------------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        emitted = 0  # data rows (gap records alone do not make a usable file)
        for _ in self._run():
            if self.out.full():
                chunk = self.out.take()
                emitted += int(np.count_nonzero(chunk["kind"] != RecordKind.GAP))
                yield chunk
        if len(self.out):
            chunk = self.out.take()
            emitted += int(np.count_nonzero(chunk["kind"] != RecordKind.GAP))
            yield chunk
        if emitted == 0 and self.diag.counts:
            first = self.diag.issues[0] if self.diag.issues else "see counters"
            looks = describe_file(self.paths[0])
            raise DataError(
                f"{self.paths[0]}: no usable {self.format} records "
                f"({dict(self.diag.counts)}); first problem: {printable(first, 200)}"
                + (f"; the file looks like {looks}" if looks else "")
                + f"; {ACCEPTED_INPUTS}"
            )

    def lines(self, path: Path) -> Iterator[tuple[int, bytes]]:
        """Lines of ``path``; a truncated file is counted and marked by a gap record."""
        lineno = 0
        try:
            for lineno, line in numbered_lines(path):
                self.records_in += 1
                yield lineno, line
        except TruncatedInput as exc:
            self.diag.issue(
                "truncated",
                f"{path}:{exc.lineno + 1}",
                f"input ends early ({exc.why}); a gap is marked here",
            )
            ts = max(self.last_ts, 0)
            self.out.add_gap(ts, max(self.last_local, ts), GapReason.TRUNCATED)

    def split_capture_line(self, path: Path, lineno: int, line: bytes) -> tuple[int, Any] | None:
        """Parse ``<local ns> <json>``; None (counted as malformed) when it is not that."""
        if not line.strip():
            return None
        head, sep, body = line.partition(b" ")
        try:
            if not sep:
                raise ValueError("no space between timestamp and message")
            if not head.removeprefix(b"-").isdigit():
                # said in words: int()'s own message would quote the raw bytes
                raise ValueError("the line does not start with a timestamp in ns (digits)")
            local = as_i64(head)
            if local < 0:
                raise ValueError("negative timestamp")
            obj = safejson.loads(body)  # 64-bit ints, finite numbers, bounded depth
        except UnicodeDecodeError:
            self.diag.issue("malformed", f"{path}:{lineno}", "not '<ns> <json>': not UTF-8 text")
            return None
        except ValueError as exc:
            why = printable(str(exc), 120)
            self.diag.issue("malformed", f"{path}:{lineno}", f"not '<ns> <json>': {why}")
            return None
        self.check_local(path, lineno, local)
        return local, obj

    def check_local(self, path: Path | str, lineno: int, local: int) -> None:
        if local < self.last_local:
            self.diag.issue(
                "ts_regression",
                f"{path}:{lineno}",
                f"local timestamp {local} < previous {self.last_local}",
            )
        else:
            self.last_local = local

    def see_px(self, s: str) -> None:
        d = decimals_of(s)
        if d > self.px_decimals:
            self.px_decimals = d

    def see_sz(self, s: str) -> None:
        d = decimals_of(s)
        if d > self.sz_decimals:
            self.sz_decimals = d

    @property
    def tick(self) -> float:
        if self._tick is not None:
            return self._tick
        return float(10.0**-self.px_decimals) if self.px_decimals >= 0 else float("nan")

    @property
    def lot(self) -> float:
        if self._lot is not None:
            return self._lot
        return float(10.0**-self.sz_decimals) if self.sz_decimals >= 0 else float("nan")

    def meta(self) -> StoreMeta:
        """Metadata for the store (call after :meth:`chunks` is exhausted)."""
        return StoreMeta(
            coin=self.coin or "",
            tick=self.tick,
            lot=self.lot,
            source=f"{self.format}:" + ",".join(p.name for p in self.paths),
            stats={"input_records": self.records_in, **self.diag.as_dict()},
            issues=list(self.diag.issues),
        )
