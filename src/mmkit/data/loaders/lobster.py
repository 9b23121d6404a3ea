"""LOBSTER message + orderbook CSV pairs (NASDAQ, order level).

Input: a LOBSTER zip (holding ``*_message_L.csv`` and ``*_orderbook_L.csv``) or the two CSV
files. Row i of the message file caused the book in row i of the orderbook file.

Written per message, at its time: an order record (kind ORDER: type, order id, size, price,
direction), a trade for executions (types 4 and 5; the aggressor is the opposite of the
resting order's direction), a gap for trading halts (type 7), and the change of the
visible book as a delta (levels that left the visible window are deleted, levels that
entered it carry their size), so that the store's book equals the orderbook file at every
row. The first row's book is written as a snapshot.

Check: for messages that add to or take from a price that is visible before and after, the
book's change at that price must equal the message size (``book_message_mismatch``).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

from mmkit.core.types import NS_PER_S
from mmkit.data.inputs import as_i64
from mmkit.data.loaders.base import Loader
from mmkit.data.schema import FLAG_CONNECTED, FLAG_END, GapReason, RecordKind
from mmkit.errors import DataError

PRICE_SCALE = 10_000
DUMMY_ASK = 9_999_999_999
DUMMY_BID = -9_999_999_999
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

Book = dict[int, int]  # price x 10000 -> size (integers: exact)


def parse_seconds(s: str) -> int:
    """Seconds after midnight -> ns, exactly (digits past the ninth decimal are dropped)."""
    whole, _, frac = s.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(whole) > 6:
        raise ValueError(f"bad time {s!r}")
    return int(whole) * NS_PER_S + int(frac[:9].ljust(9, "0") or "0")


def parse_book_row(row: list[str], where: str) -> tuple[Book, Book]:
    if len(row) % 4 or not row:
        raise DataError(f"{where}: orderbook row has {len(row)} columns (need 4 per level)")
    asks: Book = {}
    bids: Book = {}
    try:
        vals = [as_i64(x) for x in row]  # 64-bit: sizes become floats, prices int64 ticks
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from None
    for i in range(0, len(vals), 4):
        ap, asz, bp, bsz = vals[i : i + 4]
        if ap != DUMMY_ASK and asz > 0:
            asks[ap] = asz
        if bp != DUMMY_BID and bsz > 0:
            bids[bp] = bsz
    return bids, asks


def book_diff(old: Book, new: Book) -> list[tuple[int, int]]:
    out = [(p, s) for p, s in new.items() if old.get(p) != s]
    out.extend((p, 0) for p in old if p not in new)
    return out


class LobsterLoader(Loader):
    format = "lobster"
    description = "LOBSTER message + orderbook CSV pair (zip or two files)"

    def __init__(self, *args: Any, day: str | None = None, **kwargs: Any) -> None:
        if kwargs.get("tick") is None:
            kwargs["tick"] = 1.0 / 100  # prices are in cents
        if kwargs.get("lot") is None:
            kwargs["lot"] = 1.0  # sizes are in shares
        super().__init__(*args, **kwargs)
        self.day = day
        self._book_seq = -1

    def _open_pair(self) -> tuple[str, IO[str], str, IO[str], list[Any]]:
        closers: list[Any] = []
        if len(self.paths) == 1:
            p = self.paths[0]
            try:
                zf = zipfile.ZipFile(p)
            except (OSError, zipfile.BadZipFile) as exc:
                raise DataError(f"{p}: not a LOBSTER zip: {exc}") from None
            closers.append(zf)
            names = zf.namelist()
            msg = [n for n in names if "_message_" in n and n.endswith(".csv")]
            book = [n for n in names if "_orderbook_" in n and n.endswith(".csv")]
            if len(msg) != 1 or len(book) != 1:
                zf.close()
                raise DataError(
                    f"{p}: expected one *_message_*.csv and one *_orderbook_*.csv "
                    f"in the zip, found {names}"
                )
            zmf: IO[str] = io.TextIOWrapper(zf.open(msg[0]), encoding="ascii", newline="")
            zbf: IO[str] = io.TextIOWrapper(zf.open(book[0]), encoding="ascii", newline="")
            closers += [zmf, zbf]
            return f"{p}!{msg[0]}", zmf, f"{p}!{book[0]}", zbf, closers
        if len(self.paths) == 2:
            a, b = self.paths
            mpath, bpath = (a, b) if "orderbook" in b.name else (b, a)
            try:  # closed by _run through the returned closers
                mf = open(mpath, encoding="ascii", newline="")  # noqa: SIM115
                bf = open(bpath, encoding="ascii", newline="")  # noqa: SIM115
            except OSError as exc:
                raise DataError(f"cannot open LOBSTER files: {exc}") from None
            return str(mpath), mf, str(bpath), bf, [mf, bf]
        raise DataError("lobster: give a LOBSTER zip or the message and orderbook CSV files")

    def _midnight_ns(self, name: str) -> int:
        m = _DATE.search(self.day or name)
        if m is None:
            return 0
        try:
            d = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise DataError(f"{name}: bad date {m[0]!r} in the file name") from None
        return (d - date(1970, 1, 1)).days * 86_400 * NS_PER_S

    def _run(self) -> Iterator[None]:
        mname, mf, bname, bf, closers = self._open_pair()
        try:
            yield from self._read(mname, mf, bname, bf)
        finally:
            for c in reversed(closers):
                c.close()

    def _read(self, mname: str, mf: IO[str], bname: str, bf: IO[str]) -> Iterator[None]:
        if self.coin is None:
            self.coin = Path(mname.split("!")[-1]).name.split("_")[0]
        midnight = self._midnight_ns(mname)
        prev: tuple[Book, Book] | None = None
        out = self.out
        mrows, brows = csv.reader(mf), csv.reader(bf)
        lineno = 0
        try:
            for lineno, mrow in enumerate(mrows, 1):
                brow = next(brows, None)
                if brow is None:
                    raise DataError(
                        f"{bname}:{lineno}: orderbook file ends before the message "
                        f"file ({mname} has more rows)"
                    )
                self.records_in += 1
                where = f"{mname}:{lineno}"
                try:
                    if len(mrow) != 6:
                        raise ValueError(f"{len(mrow)} columns (need 6)")
                    t = midnight + parse_seconds(mrow[0])
                    typ, oid, size, price, direction = (as_i64(x) for x in mrow[1:])
                    if typ not in (1, 2, 3, 4, 5, 7) or direction not in (1, -1):
                        raise ValueError(f"type {typ} / direction {direction}")
                    book = parse_book_row(brow, f"{bname}:{lineno}")
                except (ValueError, DataError) as exc:
                    self.diag.issue("malformed", where, str(exc))
                    continue
                if t < self.last_ts:
                    self.diag.issue("ts_regression", where, f"time {t} < previous {self.last_ts}")
                self.last_ts = self.last_local = t
                out.add(
                    RecordKind.ORDER,
                    t,
                    t,
                    direction,
                    price / PRICE_SCALE,
                    float(size),
                    val=float(typ),
                    seq=lineno,
                    aux=oid,
                )
                if typ in (4, 5):
                    out.add(
                        RecordKind.TRADE,
                        t,
                        t,
                        -direction,
                        price / PRICE_SCALE,
                        float(size),
                        seq=lineno,
                    )
                elif typ == 7:
                    out.add(
                        RecordKind.GAP,
                        t,
                        t,
                        0,
                        float(price),
                        0.0,
                        seq=lineno,
                        aux=int(GapReason.HALT),
                        flags=FLAG_END | (FLAG_CONNECTED if price == 1 else 0),
                    )
                if prev is None:
                    self._emit(
                        RecordKind.BOOK_SNAPSHOT, t, book[0].items(), book[1].items(), lineno
                    )
                else:
                    self._check(where, typ, size, price, direction, prev, book)
                    bd, ad = book_diff(prev[0], book[0]), book_diff(prev[1], book[1])
                    if bd or ad:
                        self._emit(RecordKind.BOOK_DELTA, t, bd, ad, lineno)
                prev = book
                yield None
        except csv.Error as exc:
            raise DataError(f"{mname}:{lineno + 1}: unreadable CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{mname}:{lineno + 1}: not a text CSV: {exc}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            # a damaged zip member (bad CRC, truncated deflate stream) fails while it is read
            raise DataError(
                f"{mname}:{lineno + 1}: corrupt LOBSTER zip: {type(exc).__name__}: {exc}"
            ) from None
        if next(brows, None) is not None:
            self.diag.issue(
                "malformed",
                f"{bname}:{lineno + 1}",
                "orderbook file has more rows than the message file",
            )

    def _emit(self, kind: RecordKind, t: int, bids: Any, asks: Any, lineno: int) -> None:
        b = sorted(((p / PRICE_SCALE, float(s)) for p, s in bids), reverse=True)
        a = sorted((p / PRICE_SCALE, float(s)) for p, s in asks)
        self.out.add_book(kind, t, t, b, a, seq=lineno, aux=self._book_seq)
        self._book_seq = lineno
        crossed = kind == RecordKind.BOOK_SNAPSHOT and b and a and b[0][0] >= a[0][0]
        if crossed:
            self.diag.issue("crossed", f"row {lineno}", f"best bid {b[0][0]} >= ask {a[0][0]}")

    def _check(
        self,
        where: str,
        typ: int,
        size: int,
        price: int,
        direction: int,
        prev: tuple[Book, Book],
        cur: tuple[Book, Book],
    ) -> None:
        if typ not in (1, 2, 3, 4):
            return
        side = 0 if direction == 1 else 1
        old, new = prev[side], cur[side]
        if not old or not new:
            return
        lo = max(min(old), min(new))
        hi = min(max(old), max(new))
        if not lo <= price <= hi:
            return  # not visible before and after: nothing to compare
        want = size if typ == 1 else -size
        got = new.get(price, 0) - old.get(price, 0)
        self.diag.count("book_message_checked")
        if got != want:
            self.diag.issue(
                "book_message_mismatch",
                where,
                f"type {typ} size {size} at {price}: visible book changed by {got}",
            )
