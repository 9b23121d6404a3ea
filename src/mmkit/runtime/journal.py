"""The run journal: one SQLite file per run (WAL mode), written as the run happens.

Tables hold orders and their state changes, fills, positions, gate and kill-switch events,
reconciliation divergences, estimator snapshots, faults and the calibration prediction log.

Durability: a fill is committed (``synchronous=FULL``) by :meth:`Journal.fill` *before* the
runner hands it to the engine, so that a crash never loses a fill the engine acted on. Other
rows are batched and committed at least every ``flush_every`` rows or on :meth:`flush`.

The journal never stores secrets: values pass through :func:`mmkit.redact.redact`.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
from mmkit.core.events import ActionResult, OrderUpdate, OwnFill
from mmkit.redact import redact
from mmkit.runtime.gate_timeline import GateTimeline, read_timeline
from mmkit.runtime.journal_read import read_fault_counts

#: 2: ``fills.recv_ts`` (engine clock, ns) and ``fills.mid`` (USD) added; schema-1 journals
#: lack them and are still read (:mod:`mmkit.runtime.journal_read` says so in the report).
#: 3: ``faults.kind`` (``fault`` or ``rejected``: a component's bug or its refusal of bad
#: input; NULL in older journals, whose faults are then not counted in the headline)
SCHEMA_VERSION = 3

#: columns added to a table after schema 1: ``ALTER TABLE ... ADD COLUMN`` brings a journal
#: written by an older mmkit up to date when a run appends to it
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("fills", "recv_ts", "INTEGER"),
    ("fills", "mid", "REAL"),
    ("faults", "kind", "TEXT"),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, request_id INTEGER NOT NULL, kind TEXT NOT NULL,
    cloid TEXT, oid INTEGER, side INTEGER, px REAL, sz REAL, tif TEXT, reduce_only INTEGER,
    level INTEGER, emergency INTEGER, reason TEXT);
CREATE TABLE IF NOT EXISTS action_results (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, request_id INTEGER NOT NULL, cloid TEXT,
    oid INTEGER, outcome TEXT NOT NULL, reason TEXT, message TEXT, filled_sz REAL, avg_px REAL);
CREATE TABLE IF NOT EXISTS order_updates (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, oid INTEGER NOT NULL, cloid TEXT,
    status TEXT NOT NULL, side INTEGER, px REAL, sz REAL, orig_sz REAL);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, oid INTEGER NOT NULL, cloid TEXT,
    side INTEGER NOT NULL, px REAL NOT NULL, sz REAL NOT NULL, fee REAL NOT NULL,
    tid INTEGER, crossed INTEGER NOT NULL, liquidation INTEGER NOT NULL,
    recv_ts INTEGER, mid REAL,
    UNIQUE (tid, oid, ts, px, sz));
CREATE TABLE IF NOT EXISTS positions (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, position REAL NOT NULL, source TEXT NOT NULL,
    realized REAL, unrealized REAL, fees REAL, mid REAL);
CREATE TABLE IF NOT EXISTS gate_events (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, gate TEXT NOT NULL, state TEXT NOT NULL,
    reason TEXT, detail TEXT, mode TEXT, emergency INTEGER);
CREATE TABLE IF NOT EXISTS divergences (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, local REAL NOT NULL, venue REAL NOT NULL,
    delta REAL NOT NULL);
CREATE TABLE IF NOT EXISTS estimates (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kappa REAL, kappa_confidence REAL, A REAL,
    sigma REAL, sigma_confidence REAL, warmed_up INTEGER, warmup_waiting TEXT, cascade INTEGER,
    extras TEXT);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, component TEXT NOT NULL, message TEXT NOT NULL,
    kind TEXT);
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, model TEXT NOT NULL, key TEXT NOT NULL,
    prediction REAL NOT NULL, meta TEXT);
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, model TEXT NOT NULL, key TEXT NOT NULL,
    outcome REAL NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_pred ON predictions (model, key);
CREATE INDEX IF NOT EXISTS ix_out ON outcomes (model, key);
"""


def _f(x: float | None) -> float | None:
    """SQLite stores NaN as NULL; keep that explicit."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _bounded(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """Row parameters SQLite can bind: an integer outside signed 64 bits (which parsers
    refuse, so only a bug can produce one) is stored as its decimal text instead of raising
    ``OverflowError`` and ending the run."""
    return tuple(str(v) if type(v) is int and not _I64_MIN <= v <= _I64_MAX else v for v in params)


@dataclass
class JournalSummary:
    path: Path
    meta: dict[str, str]
    counts: dict[str, int]
    position: float | None
    realized: float | None
    fees: float | None
    fill_volume: float
    gate_closures: list[tuple[str, str, int]]
    divergences: int
    #: (component, message) of each distinct fault, in order of first occurrence, a message
    #: that recurred ending in `` (xN)`` (at most 20)
    faults: list[tuple[str, str]]
    #: every gate closure with its times, reason and duration, and the kill-switch trips
    timeline: GateTimeline | None = None
    #: sum of the adopted divergences (venue - local, base units): the position booked as
    #: reconciliation adjustments rather than by fills
    adjusted_position: float | None = None
    #: the live venue's link transitions (wall ns, message), oldest first (at most 200)
    link_events: list[tuple[int, str]] = field(default_factory=list)
    #: (component, count) of the faults proper (not the rejected input), schema 3 on
    fault_counts: list[tuple[str, int]] = field(default_factory=list)

    def fault_headline(self) -> str | None:
        """The run's faults in one line, as the trade summary's (None without any)."""
        from mmkit.faults import fault_headline

        return fault_headline(dict(self.fault_counts))


class Journal:
    """Append-only run journal. Not thread-safe: one runner owns it."""

    def __init__(self, path: Path, *, flush_every: int = 500) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._pending = 0
        self._flush_every = flush_every
        self._in_tx = False
        self.set_meta("schema_version", str(SCHEMA_VERSION))

    def _migrate(self) -> None:
        """Add the columns of :data:`_ADDED_COLUMNS` an existing (older) journal lacks;
        ``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it was."""
        for table, col, decl in _ADDED_COLUMNS:
            have = {str(r[1]) for r in self._db.execute(f"PRAGMA table_info({table})")}
            if col not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {col} {decl}")

    # -- transactions --------------------------------------------------------------------
    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def _row(self, sql: str, params: tuple[Any, ...]) -> None:
        self._begin()
        self._db.execute(sql, _bounded(params))
        self._pending += 1
        if self._pending >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False
        self._pending = 0

    def close(self) -> None:
        self.flush()
        self._db.close()

    def discard(self) -> None:
        """Close and delete this journal, with SQLite's side files: for a run whose set-up
        failed after the journal was made (a configuration the engine refuses, a venue that
        cannot be built), which must leave no journal of a run that never ran."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()

    # -- writers -------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, redact(value)))
        self.flush()

    def fill(self, f: OwnFill, *, recv_ns: int | None = None, mid: float | None = None) -> bool:
        """Record a fill durably (committed on return). False if it was already journaled.

        ``f.ts`` is the venue's time stamp; ``recv_ns`` is the engine time (ns) the fill was
        received and applied at, the clock of the position snapshots, gate events and the
        run summary (a replayed capture's exchange clock can run seconds apart from it);
        ``mid`` is the engine's mid (USD) just before the fill was applied, so a markout
        can be priced at the fill itself rather than at the last 1 s snapshot. Either is
        NULL when not given (or, for ``mid``, not finite: no two-sided book)."""
        self.flush()
        cur = self._db.execute(
            "INSERT OR IGNORE INTO fills (ts, oid, cloid, side, px, sz, fee, tid, crossed, "
            "liquidation, recv_ts, mid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            _bounded(
                (
                    f.ts,
                    f.oid,
                    f.cloid,
                    int(f.side),
                    f.px,
                    f.sz,
                    f.fee,
                    f.tid,
                    int(f.crossed),
                    int(f.liquidation),
                    recv_ns,
                    _f(mid),
                )
            ),
        )
        return cur.rowcount == 1

    def action(self, ts: int, a: Action) -> None:
        if isinstance(a, Place | Modify):
            self._row(
                "INSERT INTO actions (ts, request_id, kind, cloid, oid, side, px, sz, tif, "
                "reduce_only, level) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ts,
                    a.request_id,
                    type(a).__name__.lower(),
                    a.cloid,
                    a.oid if isinstance(a, Modify) else None,
                    int(a.side),
                    _f(a.px),
                    _f(a.sz),
                    a.tif.value,
                    int(a.reduce_only),
                    a.level,
                ),
            )
        elif isinstance(a, Cancel):
            self._row(
                "INSERT INTO actions (ts, request_id, kind, cloid, oid, emergency) "
                "VALUES (?,?,?,?,?,?)",
                (ts, a.request_id, "cancel", a.cloid, a.oid, int(a.emergency)),
            )
        elif isinstance(a, CancelAll):
            self._row(
                "INSERT INTO actions (ts, request_id, kind, emergency, reason) VALUES (?,?,?,?,?)",
                (ts, a.request_id, "cancel_all", int(a.emergency), a.reason),
            )
        elif isinstance(a, SyncState):
            self._row(
                "INSERT INTO actions (ts, request_id, kind, reason) VALUES (?,?,?,?)",
                (ts, a.request_id, "sync_state", a.reason),
            )
        elif isinstance(a, QueryOrder):
            self._row(
                "INSERT INTO actions (ts, request_id, kind, cloid, oid) VALUES (?,?,?,?,?)",
                (ts, a.request_id, "query_order", a.cloid, a.oid),
            )

    def action_result(self, r: ActionResult) -> None:
        self._row(
            "INSERT INTO action_results (ts, request_id, cloid, oid, outcome, reason, message, "
            "filled_sz, avg_px) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                r.ts,
                r.request_id,
                r.cloid,
                r.oid,
                r.outcome.value,
                r.reason.value,
                redact(r.message),
                _f(r.filled_sz),
                _f(r.avg_px),
            ),
        )

    def order_update(self, u: OrderUpdate) -> None:
        self._row(
            "INSERT INTO order_updates (ts, oid, cloid, status, side, px, sz, orig_sz) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                u.ts,
                u.oid,
                u.cloid,
                u.raw_status or u.status.name.lower(),
                int(u.side),
                _f(u.px),
                _f(u.sz),
                _f(u.orig_sz),
            ),
        )

    def position(
        self,
        ts: int,
        position: float,
        source: str,
        *,
        realized: float | None = None,
        unrealized: float | None = None,
        fees: float | None = None,
        mid: float | None = None,
    ) -> None:
        self._row(
            "INSERT INTO positions (ts, position, source, realized, unrealized, fees, mid) "
            "VALUES (?,?,?,?,?,?,?)",
            (ts, position, source, _f(realized), _f(unrealized), _f(fees), _f(mid)),
        )

    def gate(
        self,
        ts: int,
        gate: str,
        state: str,
        reason: str = "",
        detail: Mapping[str, Any] | None = None,
        mode: str = "",
        *,
        emergency: bool = False,
    ) -> None:
        """A gate transition: ``state`` is ``closed`` (also when a closed gate's reason
        changes) or ``opened``; ``emergency`` marks a kill-switch-like closure."""
        self._row(
            "INSERT INTO gate_events (ts, gate, state, reason, detail, mode, emergency) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                ts,
                gate,
                state,
                reason,
                redact(json.dumps(dict(detail or {}), default=str)),
                mode,
                int(emergency),
            ),
        )

    def divergence(self, ts: int, local: float, venue: float) -> None:
        self._row(
            "INSERT INTO divergences (ts, local, venue, delta) VALUES (?,?,?,?)",
            (ts, local, venue, venue - local),
        )

    def estimates(self, ts: int, est: Any) -> None:
        extras = {
            k: v for k, v in est.extras.items() if isinstance(v, int | float) and math.isfinite(v)
        }
        self._row(
            "INSERT INTO estimates (ts, kappa, kappa_confidence, A, sigma, sigma_confidence, "
            "warmed_up, warmup_waiting, cascade, extras) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                ts,
                _f(est.kappa),
                _f(est.kappa_confidence),
                _f(est.A),
                _f(est.sigma),
                _f(est.sigma_confidence),
                int(est.warmed_up),
                est.warmup_waiting,
                int(est.cascade),
                json.dumps(extras),
            ),
        )

    def fault(self, ts: int, component: str, message: str, kind: str = "fault") -> None:
        """A component's fault (``kind`` ``"fault"``: every one) or the first of a kind of
        input it rejected (``"rejected"``)."""
        self._row(
            "INSERT INTO faults (ts, component, message, kind) VALUES (?,?,?,?)",
            (ts, component, redact(message), kind),
        )

    def note(self, ts: int, level: str, message: str) -> None:
        self._row(
            "INSERT INTO notes (ts, level, message) VALUES (?,?,?)", (ts, level, redact(message))
        )

    # -- prediction log (mmkit.prediction's PredictionLog protocol) ----------------------
    def record_prediction(
        self,
        ts: int,
        model: str,
        key: str,
        prediction: float,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if not math.isfinite(prediction):
            return
        self._row(
            "INSERT INTO predictions (ts, model, key, prediction, meta) VALUES (?,?,?,?,?)",
            (ts, model, key, prediction, json.dumps(dict(meta or {}), default=str)),
        )

    def record_outcome(self, ts: int, model: str, key: str, outcome: float) -> None:
        if not math.isfinite(outcome):
            return
        self._row(
            "INSERT INTO outcomes (ts, model, key, outcome) VALUES (?,?,?,?)",
            (ts, model, key, outcome),
        )


@contextmanager
def open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    from mmkit.errors import MmkitError

    if Path(path).is_dir():
        raise MmkitError(f"{path}: is a directory, not a journal file (runs/*.sqlite)")
    if not Path(path).is_file():
        raise MmkitError(f"{path}: no such journal")
    # as a URI (percent-encoded: a '?' or '#' in the name stays part of the path), read-only
    db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        yield db
    finally:
        db.close()


def summarize(path: Path) -> JournalSummary:
    """What ``journal show`` prints. Any file that is not a readable mmkit journal (not
    SQLite, a table missing, a value of the wrong type) is an :class:`MmkitError` naming it."""
    from mmkit.errors import MmkitError

    try:
        return _summarize(path)
    except (sqlite3.DatabaseError, ValueError, TypeError, OverflowError) as exc:
        raise MmkitError(f"{path}: not a readable mmkit journal ({exc})") from None


def _summarize(path: Path) -> JournalSummary:
    with open_readonly(path) as db:
        try:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            from mmkit.errors import MmkitError

            raise MmkitError(f"{path}: not an mmkit journal ({exc})") from None
        counts = {}
        for t in (
            "actions",
            "action_results",
            "order_updates",
            "fills",
            "positions",
            "gate_events",
            "divergences",
            "estimates",
            "faults",
            "predictions",
            "outcomes",
        ):
            counts[t] = int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
        last = db.execute(
            "SELECT position, realized, fees FROM positions ORDER BY id DESC LIMIT 1"
        ).fetchone()
        vol = db.execute("SELECT COALESCE(SUM(px * sz), 0) FROM fills").fetchone()[0]
        try:
            adjusted = db.execute("SELECT COALESCE(SUM(delta), 0) FROM divergences").fetchone()[0]
        except sqlite3.OperationalError:  # a journal from before divergences had a delta
            adjusted = None
        gates = db.execute(
            "SELECT gate, reason, COUNT(*) FROM gate_events WHERE state='closed' "
            "GROUP BY gate, reason ORDER BY 3 DESC"
        ).fetchall()
        # each distinct fault once, in order of first occurrence, with how often it recurred
        faults = [
            (c, m if n == 1 else f"{m} (x{n})")
            for c, m, n in db.execute(
                "SELECT component, message, COUNT(*) FROM faults GROUP BY component, message "
                "ORDER BY MIN(id) LIMIT 20"
            ).fetchall()
        ]
        fault_counts = read_fault_counts(db)
        try:
            links = db.execute(
                "SELECT ts, message FROM notes WHERE message LIKE 'link %' ORDER BY id LIMIT 200"
            ).fetchall()
        except sqlite3.OperationalError:  # a journal from before notes were kept
            links = []
        timeline = read_timeline(db, meta)
    return JournalSummary(
        path=Path(path),
        meta=meta,
        counts=counts,
        position=None if last is None else last[0],
        realized=None if last is None else last[1],
        fees=None if last is None else last[2],
        fill_volume=float(vol),
        gate_closures=[(g, r, int(n)) for g, r, n in gates],
        divergences=counts["divergences"],
        faults=[(c, m) for c, m in faults],
        timeline=timeline,
        adjusted_position=None if adjusted is None else float(adjusted),
        link_events=[(ts if isinstance(ts, int) else -1, str(m)) for ts, m in links],
        fault_counts=fault_counts,
    )


@contextmanager
def discarded_on_failure(journal: Journal | None) -> Iterator[None]:
    """Around a run's set-up after its journal is made: on any exception the journal
    (which holds only its meta then) is discarded (:meth:`Journal.discard`) and the
    exception goes on."""
    try:
        yield
    except BaseException:
        if journal is not None:
            journal.discard()
        raise


def new_run_path(directory: Path, label: str = "run") -> Path:
    """``<label>-YYYYmmdd-HHMMSS-mmm.sqlite`` (UTC, milliseconds): names sort by start time."""
    now_ns = time.time_ns()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now_ns // 1_000_000_000))
    stamp += f"-{(now_ns // 1_000_000) % 1000:03d}"
    path = Path(directory) / f"{label}-{stamp}.sqlite"
    while path.exists():  # same millisecond: wait for the next one
        time.sleep(0.001)
        return new_run_path(directory, label)
    return path


#: fills are accepted from this long before a previous run's last recorded activity
RESUME_MARGIN_NS = 5_000_000_000


def resume_point(
    directory: Path, label: str, match: Mapping[str, str]
) -> tuple[int, frozenset[int]] | None:
    """Where a new run resumes after the newest previous run with the same ``match`` meta.

    Returns ``(since_ns, trade ids)``: fills at or after ``since_ns`` (a margin before the
    previous run's last recorded activity) belong to the new run unless their trade id is in
    the set, which holds the previous journal's fills from that time on. A run killed with
    ``kill -9`` leaves orders resting that may fill before the next run starts; this is how
    those fills reach a journal exactly once. None when there is no such previous run.
    """
    runs = sorted(Path(directory).glob(f"{label}-*.sqlite"), reverse=True)
    for path in runs:
        try:
            db = sqlite3.connect(str(path))  # read-write: lets SQLite recover a killed WAL
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                if any(meta.get(k) != v for k, v in match.items()):
                    continue
                last = max(
                    int(db.execute(f"SELECT COALESCE(MAX(ts), 0) FROM {t}").fetchone()[0])
                    for t in ("fills", "positions", "actions", "action_results", "order_updates")
                )
                since = max(0, last - RESUME_MARGIN_NS)
                tids = frozenset(
                    int(r[0])
                    for r in db.execute(
                        "SELECT tid FROM fills WHERE ts >= ? AND tid >= 0", (since,)
                    )
                )
                return since, tids
            finally:
                db.close()
        except (sqlite3.DatabaseError, ValueError, TypeError):  # not a journal we can read
            continue
    return None
