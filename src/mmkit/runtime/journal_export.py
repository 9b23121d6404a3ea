"""``mmkit journal export``: a journal's tables as CSV or Parquet files, one file per table.

The tables and their columns are :data:`TABLES` (``mmkit journal export --schema`` prints
them). Units are in the column names: ``_ns`` engine nanoseconds (wall-clock epoch ns for live
and paper runs on a wall clock), ``_s`` seconds since the run's first event, ``_utc`` text
``YYYY-mm-dd HH:MM:SS.mmm`` (empty when the engine clock is not wall time), ``_usd`` US
dollars, ``_base`` base-asset units (BTC for BTC), ``_ms`` milliseconds. Sides are +1 (bid /
buy) and -1 (ask / sell). A value the journal does not hold is empty in CSV and null in
Parquet; numbers keep full precision (CSV floats are Python's shortest round-trip text).

Files are written next to their final name and renamed into place, so an interrupted export
never leaves a half-written table under the final name.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkit.errors import MmkitError
from mmkit.runtime.gate_timeline import GateTimeline, read_timeline, utc_text
from mmkit.runtime.journal_read import open_journal

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class Column:
    """One exported column: its name (with its unit), its type and what it holds."""

    name: str
    type: str  # "int64", "float64", "string" or "bool"
    help: str


def _c(name: str, type_: str, help_: str) -> Column:
    return Column(name, type_, help_)


_TIME = [
    _c("ts_ns", "int64", "engine time of the row (ns)"),
    _c("t_s", "float64", "seconds since the run's first event"),
    _c("time_utc", "string", "the engine time in UTC (empty if not wall time)"),
]


@dataclass(frozen=True)
class Table:
    """An exported table: its columns and the SQL that reads them (``:start`` is the run's
    first event in ns; the query returns every column but the computed ``t_s`` and
    ``time_utc``, which follow ``ts_ns``)."""

    name: str
    help: str
    columns: tuple[Column, ...]
    sql: str


TABLES: Mapping[str, Table] = {
    t.name: t
    for t in (
        Table(
            "fills",
            "our fills, in time order",
            (
                *_TIME,
                _c("oid", "int64", "venue order id"),
                _c("cloid", "string", "client order id"),
                _c("side", "int64", "+1 bought (bid filled), -1 sold (ask filled)"),
                _c("px_usd", "float64", "fill price (USD)"),
                _c("sz_base", "float64", "fill size (base units)"),
                _c("notional_usd", "float64", "px_usd * sz_base (USD)"),
                _c("fee_usd", "float64", "fee paid (USD; negative: rebate received)"),
                _c("tid", "int64", "venue trade id"),
                _c("crossed", "bool", "true: we took liquidity (taker)"),
                _c("liquidation", "bool", "true: a liquidation fill"),
                _c(
                    "recv_ns",
                    "int64",
                    "when the engine received the fill (engine ns; empty in journals of "
                    "schema 1, which have only the venue's time above)",
                ),
                _c("mid_at_fill_usd", "float64", "the engine's mid when it received the fill"),
            ),
            "SELECT ts, oid, cloid, side, px, sz, px * sz, fee, tid, crossed, liquidation, "
            "{recv_ts}, {mid} FROM fills ORDER BY ts, id",
        ),
        Table(
            "orders",
            "every action sent (place, modify, cancel, ...) joined with the venue's first "
            "answer to it (same request_id)",
            (
                *_TIME,
                _c("request_id", "int64", "the action's request id"),
                _c("kind", "string", "place, modify, cancel, cancel_all, sync_state, query_order"),
                _c("cloid", "string", "client order id"),
                _c("oid", "int64", "venue order id (the action's, else the answer's)"),
                _c("side", "int64", "+1 bid, -1 ask (place / modify)"),
                _c("px_usd", "float64", "limit price (USD)"),
                _c("sz_base", "float64", "size (base units)"),
                _c("tif", "string", "time in force (Alo: post-only, Gtc, Ioc)"),
                _c("reduce_only", "bool", "reduce-only order"),
                _c("level", "int64", "quote level (0: nearest the mid)"),
                _c("emergency", "bool", "an emergency cancel"),
                _c("action_reason", "string", "why a cancel-all or sync was sent"),
                _c("result_ts_ns", "int64", "engine time of the answer (ns; empty: none)"),
                _c("latency_ms", "float64", "answer time - action time (ms)"),
                _c("outcome", "string", "resting, filled, canceled, rejected, unknown"),
                _c("reject_reason", "string", "the rejection's reason code ('none' if none)"),
                _c("message", "string", "the venue's message"),
                _c("filled_sz_base", "float64", "size filled at once (base units)"),
                _c("avg_px_usd", "float64", "average price of that fill (USD)"),
                _c("answers", "int64", "how many answers the journal holds for the request"),
            ),
            "WITH r1 AS (SELECT request_id, MIN(id) AS id, COUNT(*) AS n FROM action_results "
            "GROUP BY request_id) "
            "SELECT a.ts, a.request_id, a.kind, a.cloid, COALESCE(a.oid, r.oid), a.side, a.px, "
            "a.sz, a.tif, a.reduce_only, a.level, a.emergency, a.reason, r.ts, "
            "(r.ts - a.ts) / 1e6, r.outcome, r.reason, r.message, r.filled_sz, r.avg_px, "
            "COALESCE(r1.n, 0) "
            "FROM actions a LEFT JOIN r1 ON r1.request_id = a.request_id "
            "LEFT JOIN action_results r ON r.id = r1.id ORDER BY a.ts, a.id",
        ),
        Table(
            "gate_events",
            "every gate transition as journaled: 'closed' when a gate closes or its reason "
            "changes, 'opened' when it reopens",
            (
                *_TIME,
                _c("gate", "string", "gate name"),
                _c("state", "string", "closed or opened"),
                _c("reason", "string", "why it closed"),
                _c("detail", "string", "the gate's details (JSON)"),
                _c("mode", "string", "halt or reduce_only"),
                _c("emergency", "bool", "closed as an emergency (a kill-switch trip)"),
            ),
            "SELECT ts, gate, state, reason, detail, mode, {emergency} "
            "FROM gate_events ORDER BY id",
        ),
        Table(
            "gate_closures",
            "each closure of each gate with when it began and ended and how long it lasted "
            "(rebuilt from gate_events)",
            (
                _c("gate", "string", "gate name"),
                _c("reason", "string", "why it closed"),
                _c("detail", "string", "the gate's details (JSON)"),
                _c("mode", "string", "halt or reduce_only"),
                _c("kill_switch", "bool", "a kill-switch trip"),
                _c("start_ns", "int64", "when it closed (engine ns)"),
                _c("start_s", "float64", "when it closed (s since the run's first event)"),
                _c("start_utc", "string", "when it closed (UTC)"),
                _c("end_ns", "int64", "when it ended (engine ns)"),
                _c("end_s", "float64", "when it ended (s since the run's first event)"),
                _c("end_utc", "string", "when it ended (UTC)"),
                _c("duration_s", "float64", "how long it lasted (s)"),
                _c("ended_by", "string", "reopened, reason changed, still closed at end"),
            ),
            "",
        ),
        Table(
            "estimates",
            "the estimators' published values, one row per snapshot (1 s by default)",
            (
                *_TIME,
                _c("kappa", "float64", "order-arrival decay per unit of relative depth"),
                _c("kappa_confidence", "float64", "0-1"),
                _c("A_per_s", "float64", "fill intensity at zero depth (per second)"),
                _c("sigma_per_sqrt_s", "float64", "relative mid volatility per sqrt(second)"),
                _c("sigma_confidence", "float64", "0-1"),
                _c("warmed_up", "bool", "the warmup estimator was ready"),
                _c("warmup_waiting", "string", "what warmup was waiting for"),
                _c("cascade", "bool", "cascade (liquidation) mode"),
                _c("extras_json", "string", "every other published number (JSON object)"),
            ),
            "SELECT ts, kappa, kappa_confidence, A, sigma, sigma_confidence, warmed_up, "
            "warmup_waiting, cascade, extras FROM estimates ORDER BY ts, id",
        ),
        Table(
            "positions",
            "position snapshots: 'local' (the engine's books, 1 s apart, with PnL) and "
            "'venue' / 'venue-startup' (the venue's word, position only)",
            (
                *_TIME,
                _c("source", "string", "local, venue or venue-startup"),
                _c("position_base", "float64", "position (base units, + long)"),
                _c("realized_usd", "float64", "PnL realized by fills, average cost (USD)"),
                _c("unrealized_usd", "float64", "position marked at the mid (USD)"),
                _c("fees_usd", "float64", "fees paid so far, net of rebates (USD)"),
                _c("equity_usd", "float64", "realized + unrealized - fees (USD)"),
                _c("mid_usd", "float64", "the mid the row was marked at (USD)"),
            ),
            "SELECT ts, source, position, realized, unrealized, fees, "
            "realized + unrealized - fees, mid FROM positions ORDER BY ts, id",
        ),
    )
}

#: other names accepted by ``--table``
ALIASES: Mapping[str, tuple[str, ...]] = {
    "gates": ("gate_events", "gate_closures"),
    "equity": ("positions",),
    "actions": ("orders",),
    "all": tuple(TABLES),
}


def parse_tables(text: str) -> tuple[str, ...]:
    """``fills,orders`` -> the table names, in :data:`TABLES` order, each once; aliases
    expanded; an unknown name is an :class:`MmkitError` listing the choices."""
    wanted: set[str] = set()
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name in TABLES:
            wanted.add(name)
        elif name in ALIASES:
            wanted.update(ALIASES[name])
        else:
            choices = ", ".join([*TABLES, *ALIASES])
            raise MmkitError(f"--table: unknown table {raw.strip()!r}; choose from {choices}")
    if not wanted:
        raise MmkitError("--table: no table named; choose from " + ", ".join(TABLES))
    return tuple(t for t in TABLES if t in wanted)


def schema_text() -> str:
    """Every exported table and column with its type and unit, for ``--schema``."""
    lines: list[str] = []
    for t in TABLES.values():
        lines.append(f"{t.name}: {t.help}")
        width = max(len(c.name) for c in t.columns)
        lines += [f"  {c.name:<{width}}  {c.type:<7}  {c.help}" for c in t.columns]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def prepare_out_dir(out: Path) -> Path:
    """The output directory, created if missing and its parent exists; an error otherwise."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise MmkitError(f"--out {out}: exists and is not a directory")
        return out
    parent = out.parent
    if not parent.is_dir():
        raise MmkitError(
            f"--out {out}: its parent directory {parent} does not exist (create it first)"
        )
    try:
        out.mkdir()
    except OSError as exc:
        raise MmkitError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    return out


def export(
    journal: Path,
    out: Path,
    *,
    fmt: str = "csv",
    tables: Sequence[str] = tuple(TABLES),
    force: bool = False,
) -> list[Path]:
    """Write ``tables`` of ``journal`` into ``out`` as ``<table>.csv`` / ``<table>.parquet``.

    Refuses (before writing anything) to overwrite an existing file unless ``force``.
    Returns the files written, in table order."""
    if fmt not in FORMATS:
        raise MmkitError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise MmkitError(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLES)}")
    writer = _write_parquet if fmt == "parquet" else _write_csv
    with open_journal(journal) as db:
        meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta").fetchall()}
        try:
            timeline = read_timeline(db, meta)
        except (ValueError, TypeError) as exc:
            raise MmkitError(f"{journal}: not a readable mmkit journal ({exc})") from None
        # read everything first: a journal that cannot be read leaves no file behind
        data = {t: read_table(db, journal, TABLES[t], timeline) for t in tables}
    out = prepare_out_dir(out)
    targets = {t: out / f"{t}.{fmt}" for t in tables}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not force:
        raise MmkitError(
            f"--out {out}: would overwrite {', '.join(existing)} (use --force to replace)"
        )
    written: list[Path] = []
    for t in tables:
        path = targets[t]
        tmp = path.with_name(f".{path.name}.partial")
        try:
            writer(tmp, TABLES[t], data[t])
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise MmkitError(f"{path}: cannot write ({exc.strerror or exc})") from None
        written.append(path)
    return written


def read_table(
    db: sqlite3.Connection, journal: Path, table: Table, timeline: GateTimeline
) -> list[tuple[Any, ...]]:
    """The rows of one exported table, each value checked against its column's type (a
    value of the wrong type is an :class:`MmkitError` naming the journal, table and column).
    ``timeline`` gives the run's start (for ``t_s``) and the gate closures."""
    if table.name == "gate_closures":
        raw = _closure_rows(timeline)
    else:
        sql = table.sql
        # columns later schema versions added: NULL when an older journal lacks them
        optional = {"emergency": "gate_events", "recv_ts": "fills", "mid": "fills"}
        present = {
            name
            for name, tab in optional.items()
            if "{" + name + "}" in sql
            and name in {str(c[1]) for c in db.execute(f"PRAGMA table_info({tab})").fetchall()}
        }
        if any("{" + name + "}" in sql for name in optional):
            sql = sql.format(**{n: (n if n in present else "NULL") for n in optional})
        raw = [_with_time(r, timeline.start_ns) for r in db.execute(sql).fetchall()]
    checks = [_CHECK[c.type] for c in table.columns]
    out: list[tuple[Any, ...]] = []
    for i, row in enumerate(raw):
        vals: list[Any] = []
        for col, check, v in zip(table.columns, checks, row, strict=True):
            try:
                vals.append(None if v is None else check(v))
            except (TypeError, ValueError):
                raise MmkitError(
                    f"{journal}: table {table.name}, row {i + 1}, column {col.name}: "
                    f"expected {col.type}, got {v!r}"
                ) from None
        out.append(tuple(vals))
    return out


def _with_time(row: Sequence[Any], start_ns: int) -> tuple[Any, ...]:
    """Insert ``t_s`` and ``time_utc`` after the row's leading ``ts`` (left as it is when it
    is not an integer: the type check then names it)."""
    ts = row[0]
    if isinstance(ts, int) and not isinstance(ts, bool):
        return (ts, (ts - start_ns) / 1e9, utc_text(ts), *row[1:])
    return (ts, None, None, *row[1:])


def _closure_rows(tl: GateTimeline) -> list[tuple[Any, ...]]:
    return [
        (e.gate, e.reason, e.detail, e.mode, e.kill_switch, e.closed_ns, e.closed_s,
         e.closed_utc, e.end_ns, e.end_s, e.end_utc, e.duration_s, e.ended_by)
        for e in tl.episodes
    ]  # fmt: skip


def _as_int(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63:
        return v
    raise ValueError(v)


def _as_float(v: Any) -> float:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    raise ValueError(v)


def _as_bool(v: Any) -> bool:
    if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)):
        return bool(v)
    raise ValueError(v)


def _as_str(v: Any) -> str:
    if isinstance(v, bytes):
        raise ValueError(v)
    return str(v)


_CHECK: Mapping[str, Callable[[Any], Any]] = {
    "int64": _as_int,
    "float64": _as_float,
    "bool": _as_bool,
    "string": _as_str,
}


def _csv_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)  # floats: shortest text that reads back to the same float


def _write_csv(path: Path, table: Table, rows: list[tuple[Any, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([c.name for c in table.columns])
        for r in rows:
            w.writerow([_csv_text(v) for v in r])


def _write_parquet(path: Path, table: Table, rows: list[tuple[Any, ...]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
             "string": pa.string()}  # fmt: skip
    schema = pa.schema(
        [pa.field(c.name, types[c.type], metadata={"help": c.help}) for c in table.columns],
        metadata={"table": table.name, "help": table.help},
    )
    arrays = [
        pa.array([r[i] for r in rows], type=types[c.type]) for i, c in enumerate(table.columns)
    ]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), str(path))
