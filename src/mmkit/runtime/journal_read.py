"""Reading a finished (or running) run journal into arrays, for ``journal show / export /
plot / compare``.

:func:`check_journal` turns every file that is not a journal this mmkit can read into one
:class:`~mmkit.errors.MmkitError` line naming the file: missing, a directory, empty, not
SQLite, or written by another mmkit version (a table or column missing). :func:`load_run`
then reads the rows the reports need as numpy arrays (:class:`RunData`); a value of the wrong
type (text in a price column, say) is also an error naming the file, table and column.

Units: engine times in nanoseconds (``*_ns``), run times in seconds since the run's first
event (``*_s``), prices and money in USD, sizes in base units (BTC for BTC).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mmkit.core.types import NS_PER_S
from mmkit.errors import MmkitError
from mmkit.runtime.gate_timeline import (
    GateRow,
    GateTimeline,
    build_timeline,
    read_gate_rows,
    read_span,
)
from mmkit.runtime.order_quotes import Quote, quote_of

#: the first 16 bytes of every SQLite 3 database file
SQLITE_MAGIC = b"SQLite format 3\x00"

#: the tables and columns the journal commands read. A journal missing one was written by a
#: different mmkit version (or is not a journal); columns added later (``gate_events.emergency``,
#: ``divergences.delta``, the ``notes`` table, schema 2's ``fills.recv_ts`` and ``fills.mid``)
#: are optional and not listed.
REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "actions": (
        "id", "ts", "request_id", "kind", "cloid", "oid", "side", "px", "sz", "tif",
        "reduce_only", "level", "emergency", "reason",
    ),
    "action_results": (
        "id", "ts", "request_id", "cloid", "oid", "outcome", "reason", "message", "filled_sz",
        "avg_px",
    ),
    "order_updates": ("id", "ts", "oid", "cloid", "status", "side", "px", "sz", "orig_sz"),
    "fills": (
        "id", "ts", "oid", "cloid", "side", "px", "sz", "fee", "tid", "crossed", "liquidation",
    ),
    "positions": ("id", "ts", "position", "source", "realized", "unrealized", "fees", "mid"),
    "gate_events": ("id", "ts", "gate", "state", "reason", "detail", "mode"),
    "divergences": ("id", "ts", "local", "venue"),
    "estimates": (
        "id", "ts", "kappa", "kappa_confidence", "A", "sigma", "sigma_confidence", "warmed_up",
        "warmup_waiting", "cascade", "extras",
    ),
    "faults": ("id", "ts", "component", "message"),
    "predictions": ("id", "ts", "model", "key", "prediction"),
    "outcomes": ("id", "ts", "model", "key", "outcome"),
}  # fmt: skip


#: rejection reasons that are not a venue's refusal: the runner never sent the order
NOT_SENT_REASONS = frozenset({"not_sent"})

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def check_journal(path: Path) -> None:
    """Raise an :class:`MmkitError` (one line, naming ``path``) unless ``path`` is an SQLite
    file holding every table and column of :data:`REQUIRED_COLUMNS`."""
    p = Path(path)
    if p.is_dir():
        raise MmkitError(f"{p}: is a directory, not a journal file (runs/*.sqlite)")
    if not p.exists():
        raise MmkitError(f"{p}: no such journal file")
    if not p.is_file():
        raise MmkitError(f"{p}: not a regular file, so not a journal (runs/*.sqlite)")
    try:
        with p.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise MmkitError(f"{p}: cannot read the journal ({exc.strerror or exc})") from None
    if not head:
        raise MmkitError(f"{p}: empty file, not an mmkit journal (runs/*.sqlite)")
    if head != SQLITE_MAGIC:
        raise MmkitError(f"{p}: not an SQLite file, so not an mmkit journal (runs/*.sqlite)")
    with open_journal(p, checked=False) as db:
        missing = missing_columns(db)
        if missing:
            version = _meta_version(db)
            raise MmkitError(
                f"{p}: not a journal this mmkit can read ({version}): missing " + "; ".join(missing)
            )


def missing_columns(db: sqlite3.Connection) -> list[str]:
    """``table X`` or ``X.col`` for every required table or column the database lacks."""
    out: list[str] = []
    for table, cols in REQUIRED_COLUMNS.items():
        have = {str(r[1]) for r in db.execute(f"PRAGMA table_info({table})").fetchall()}
        if not have:
            out.append(f"table {table}")
            continue
        out += [f"{table}.{c}" for c in cols if c not in have]
    return out


def _meta_version(db: sqlite3.Connection) -> str:
    """ "written by mmkit V, schema S" from the meta table, or why that is unknown."""
    from mmkit.runtime.journal import SCHEMA_VERSION

    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError:
        return f"no meta table; this mmkit writes schema {SCHEMA_VERSION}"
    return (
        f"written by mmkit {meta.get('mmkit_version', '?')}, schema "
        f"{meta.get('schema_version', '?')}; this mmkit writes schema {SCHEMA_VERSION}"
    )


@contextmanager
def open_journal(path: Path, *, checked: bool = True) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a journal (checked first unless ``checked=False``). SQLite
    errors while it is open become an :class:`MmkitError` naming the file."""
    if checked:
        check_journal(path)
    try:
        db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise MmkitError(f"{path}: cannot open the journal ({exc})") from None
    try:
        yield db
    except sqlite3.DatabaseError as exc:
        raise MmkitError(f"{path}: not a readable mmkit journal ({exc})") from None
    finally:
        db.close()


@dataclass(frozen=True)
class FillArrays:
    """The run's fills in the order the engine applied them. ``ts_ns`` is the engine time
    (ns) each was received at (``fills.recv_ts``: the clock of the position snapshots, gate
    events and run summary), or the venue's stamp where the journal does not have it
    (schema-1 journals; ``recv_known`` False); ``venue_ts_ns`` is the venue's stamp.
    ``side`` +1 bought / -1 sold; ``px`` USD; ``sz`` base units; ``fee`` USD paid (negative:
    a rebate received); ``crossed`` took liquidity; ``mid`` the engine's mid (USD) when the
    fill arrived, NaN when not journaled or unknown."""

    ts_ns: I64
    side: I64
    px: F64
    sz: F64
    fee: F64
    oid: I64
    crossed: npt.NDArray[np.bool_]
    venue_ts_ns: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    recv_known: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    mid: F64 = field(default_factory=lambda: np.zeros(0, dtype=np.float64))

    @property
    def clock_note(self) -> str:
        """Empty when every fill has its engine receive time; else a sentence saying which
        fills fall back to the venue's clock and what that does to the statistics."""
        n = len(self)
        known = int(np.count_nonzero(self.recv_known)) if self.recv_known.size == n else 0
        if n == 0 or known == n:
            return ""
        which = "no fill" if known == 0 else f"{n - known} of {n} fills"
        return (
            f"fill times: {which} journaled with the engine receive time (fills.recv_ts; "
            "written from schema 2 on), so they use the venue's time stamp: spread captured "
            "and markouts are priced on a different clock from the snapshots and may differ "
            "from the run summary's"
        )

    def __len__(self) -> int:
        return int(self.ts_ns.size)


@dataclass(frozen=True)
class RunData:
    """What the journal commands compute from. ``equity_*`` and ``mid`` come from the
    engine's periodic ``local`` position snapshots (one a second by default) with every value
    known: equity = realized + unrealized - fees (USD; reconciliation adjustments, kept apart
    by the portfolio, are not in it). ``start_ns``/``end_ns`` bound the run (the timeline's
    span)."""

    path: Path
    meta: dict[str, str]
    start_ns: int
    end_ns: int
    fills: FillArrays
    snap_ts_ns: I64
    equity_usd: F64
    position: F64
    mid: F64
    realized: F64
    unrealized: F64
    #: rejections the venue (or the local risk check) returned, by reason (not-sent excluded)
    rejections_by_reason: dict[str, int]
    #: orders dropped before sending because a halt gate closed (reason ``not_sent``)
    not_sent: int
    #: placements sent (place + modify actions)
    orders_sent: int
    timeline: GateTimeline
    #: the journal's gate transitions, in journal order
    gate_rows: list[GateRow] = field(default_factory=list)
    #: the venue's order updates in time order (quoting time, quotes around the mid)
    quotes: list[Quote] = field(default_factory=list)
    #: the faults proper by component (a component raised or was refused; rejected input
    #: left out); empty for a journal from before faults had a kind (schema 3)
    fault_counts: dict[str, int] = field(default_factory=dict)

    @property
    def run_s(self) -> float:
        """The run's length (s)."""
        return (self.end_ns - self.start_ns) / NS_PER_S


def load_run(path: Path) -> RunData:
    """Read a journal (see the module docstring for the errors)."""
    with open_journal(path) as db:
        try:
            return _load(Path(path), db)
        except (ValueError, TypeError, OverflowError) as exc:
            raise MmkitError(f"{path}: not a readable mmkit journal ({exc})") from None


def _load(path: Path, db: sqlite3.Connection) -> RunData:
    meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta").fetchall()}
    gate_rows = read_gate_rows(db)
    timeline = build_timeline(gate_rows, *read_span(db, meta, gate_rows))
    fills = read_fills(db)
    bad = ~np.isin(fills.side, (-1, 1))
    if bad.any():
        raise ValueError(f"fills.side must be +1 or -1, got {int(fills.side[bad][0])}")
    snaps = db.execute(
        "SELECT ts, realized, unrealized, fees, position, mid FROM positions "
        "WHERE source = 'local' AND realized IS NOT NULL AND unrealized IS NOT NULL "
        "AND fees IS NOT NULL AND mid > 0 ORDER BY ts, id"
    ).fetchall()
    realized = floats(snaps, 1, "positions.realized")
    unrealized = floats(snaps, 2, "positions.unrealized")
    fees = floats(snaps, 3, "positions.fees")
    rejections: dict[str, int] = {}
    not_sent = 0
    for reason, n in db.execute(
        "SELECT COALESCE(reason, 'unknown'), COUNT(*) FROM action_results "
        "WHERE outcome = 'rejected' GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall():
        if str(reason) in NOT_SENT_REASONS:
            not_sent += int(n)
        else:
            rejections[str(reason)] = int(n)
    sent = int(
        db.execute("SELECT COUNT(*) FROM actions WHERE kind IN ('place', 'modify')").fetchone()[0]
    )
    quotes = [
        quote_of(_int(ts, "order_updates.ts"), _int(oid, "order_updates.oid"), side, status,
                 sz, px)
        for ts, oid, side, status, sz, px in db.execute(
            "SELECT ts, oid, side, status, sz, px FROM order_updates ORDER BY ts, id"
        )
    ]  # fmt: skip
    return RunData(
        path=path,
        meta=meta,
        start_ns=timeline.start_ns,
        end_ns=timeline.end_ns,
        fills=fills,
        snap_ts_ns=ints(snaps, 0, "positions.ts"),
        equity_usd=realized + unrealized - fees,
        position=floats(snaps, 4, "positions.position"),
        mid=floats(snaps, 5, "positions.mid"),
        realized=realized,
        unrealized=unrealized,
        rejections_by_reason=rejections,
        not_sent=not_sent,
        orders_sent=sent,
        timeline=timeline,
        gate_rows=gate_rows,
        quotes=quotes,
        fault_counts=dict(read_fault_counts(db)),
    )


def read_fault_counts(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """The journal's faults proper by component, (component, count) in the order of each
    component's first fault; none for a journal from before faults had a kind (schema 3:
    which were bugs is unknown, so none is counted)."""
    try:
        rows = db.execute(
            "SELECT component, COUNT(*) FROM faults WHERE kind='fault' GROUP BY component "
            "ORDER BY MIN(id)"
        ).fetchall()
    except sqlite3.OperationalError:  # no kind column
        return []
    return [(str(c), int(n)) for c, n in rows]


def read_fills(db: sqlite3.Connection) -> FillArrays:
    """The journal's fills on the engine clock where it was journaled (see
    :class:`FillArrays`), in the order the engine applied them (journal order: a fill is
    journaled just before the engine applies it). Schema-1 journals have no ``recv_ts`` or
    ``mid`` column: their fills keep the venue's stamp, ordered by it as before."""
    have = {str(r[1]) for r in db.execute("PRAGMA table_info(fills)").fetchall()}
    recv = "recv_ts" if "recv_ts" in have else "NULL"
    mid = "mid" if "mid" in have else "NULL"
    order = "id" if "recv_ts" in have else "ts, id"
    rows = db.execute(
        f"SELECT ts, side, px, sz, fee, oid, crossed, {recv}, {mid} FROM fills ORDER BY {order}"
    ).fetchall()
    venue = ints(rows, 0, "fills.ts")
    known = np.array([r[7] is not None for r in rows], dtype=bool)
    recv_ns = venue.copy()
    for k, r in enumerate(rows):
        if r[7] is not None:
            recv_ns[k] = _int(r[7], "fills.recv_ts")
    fill_mid = floats(rows, 8, "fills.mid")
    fill_mid[~(np.isfinite(fill_mid) & (fill_mid > 0))] = math.nan  # no mid known
    return FillArrays(
        ts_ns=recv_ns,
        side=ints(rows, 1, "fills.side"),
        px=floats(rows, 2, "fills.px"),
        sz=floats(rows, 3, "fills.sz"),
        fee=floats(rows, 4, "fills.fee"),
        oid=ints(rows, 5, "fills.oid"),
        crossed=ints(rows, 6, "fills.crossed").astype(bool),
        venue_ts_ns=venue,
        recv_known=known,
        mid=fill_mid,
    )


def ints(rows: Sequence[Sequence[object]], i: int, where: str) -> I64:
    """Column ``i`` of ``rows`` as int64; a non-integer value is a ValueError naming ``where``."""
    return np.array([_int(r[i], where) for r in rows], dtype=np.int64)


def floats(rows: Sequence[Sequence[object]], i: int, where: str) -> F64:
    """Column ``i`` of ``rows`` as float64 (NULL becomes NaN); text is a ValueError."""
    out = np.empty(len(rows), dtype=np.float64)
    for k, r in enumerate(rows):
        v = r[i]
        if v is None:
            out[k] = math.nan
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = float(v)
        else:
            raise ValueError(f"{where}: expected a number, got {v!r}")
    return out


def _int(v: object, where: str) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63:
        return v
    raise ValueError(f"{where}: expected an integer, got {v!r}")


def best_quotes(quotes: Sequence[Quote]) -> tuple[I64, F64, F64]:
    """Our best resting bid and ask (USD; NaN when that side has none) after each update
    time, as step series ``(ts_ns, best_bid, best_ask)`` (one point per distinct time)."""
    book: dict[int, tuple[int, float]] = {}  # oid -> (side, px)
    ts_out: list[int] = []
    bid_out: list[float] = []
    ask_out: list[float] = []
    for i, q in enumerate(quotes):
        book.pop(q.oid, None)
        if q.resting and q.side in (1, -1) and math.isfinite(q.px):
            book[q.oid] = (q.side, q.px)
        if i + 1 < len(quotes) and quotes[i + 1].ts_ns == q.ts_ns:
            continue  # the book after the last update of this instant
        bids = [p for s, p in book.values() if s == 1]
        asks = [p for s, p in book.values() if s == -1]
        ts_out.append(q.ts_ns)
        bid_out.append(max(bids) if bids else math.nan)
        ask_out.append(min(asks) if asks else math.nan)
    return (
        np.array(ts_out, dtype=np.int64),
        np.array(bid_out, dtype=np.float64),
        np.array(ask_out, dtype=np.float64),
    )
