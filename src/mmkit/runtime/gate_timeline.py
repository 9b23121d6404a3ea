"""The gate timeline of a run, rebuilt from the journal's ``gate_events`` rows.

The observer journals one row per transition: ``closed`` when a gate closes (and again when a
closed gate's reason changes), ``opened`` when it reopens. Here those rows become closures
(:class:`GateEpisode`): when each began and ended, in engine nanoseconds, in UTC and in
seconds since the run's first event, its reason and how long it lasted. A closure still open
when the journal ends is reported as such ("still closed at end") and lasts until the run's
last event. Kill-switch trips are the closures journaled as emergencies by a gate other than
the engine's own shutdown (journals written before the ``emergency`` column existed fall back
to the kill switch's reason codes).

Everything here is a pure function of the rows, so it can be tested without a journal file.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mmkit.core.types import NS_PER_S
from mmkit.gates.reasons import KILL_SWITCH_REASONS

#: engine times in this range are wall-clock nanoseconds and get a UTC rendering
_EPOCH_MIN_NS = 946_684_800 * NS_PER_S  # 2000-01-01
_EPOCH_MAX_NS = 4_102_444_800 * NS_PER_S  # 2100-01-01

REOPENED = "reopened"
REASON_CHANGED = "reason changed"
STILL_CLOSED = "still closed at end"


@dataclass(frozen=True)
class GateRow:
    """One ``gate_events`` row. ``emergency`` is None for journals that predate the column."""

    ts: int
    gate: str
    state: str
    reason: str = ""
    detail: str = ""
    mode: str = ""
    emergency: bool | None = None


@dataclass(frozen=True)
class GateEpisode:
    """One closure of one gate. Times: engine ns, UTC text ("" when the engine clock is not
    wall time) and seconds since the run's first event; ``duration_s`` in seconds."""

    gate: str
    reason: str
    detail: str
    mode: str
    kill_switch: bool
    closed_ns: int
    closed_utc: str
    closed_s: float
    end_ns: int
    end_utc: str
    end_s: float
    duration_s: float
    ended_by: str  # REOPENED, REASON_CHANGED or STILL_CLOSED


@dataclass(frozen=True)
class GateTimeline:
    """The closures in the order they began, the kill-switch trips among them, and the time
    spent halted (the union of closures in ``halt`` mode), all over ``[start_ns, end_ns]``."""

    start_ns: int
    end_ns: int
    run_s: float
    halted_s: float
    episodes: list[GateEpisode]
    kill_trips: list[GateEpisode]


def utc_text(ns: int) -> str:
    """``YYYY-mm-dd HH:MM:SS.mmm`` (UTC) for wall-clock nanoseconds, else ``""``."""
    if not _EPOCH_MIN_NS <= ns < _EPOCH_MAX_NS:
        return ""
    t = _dt.datetime.fromtimestamp(ns // NS_PER_S, tz=_dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S") + f".{(ns // 1_000_000) % 1000:03d}"


def is_kill_row(row: GateRow) -> bool:
    """Whether a ``closed`` row is a kill-switch trip (see the module's docstring)."""
    if row.gate == "engine":
        return False
    if row.emergency is not None:
        return row.emergency
    return row.gate == "kill_switch" or row.reason in KILL_SWITCH_REASONS


def build_timeline(rows: Sequence[GateRow], start_ns: int, end_ns: int) -> GateTimeline:
    """Closures from transition rows in journal order. ``start_ns``/``end_ns`` bound the run;
    they are widened to cover every row, so no duration is negative."""
    if rows:
        start_ns = min(start_ns, min(r.ts for r in rows))
        end_ns = max(end_ns, max(r.ts for r in rows))
    end_ns = max(end_ns, start_ns)
    open_: dict[str, GateRow] = {}
    done: list[tuple[GateRow, int, str]] = []
    for r in rows:
        was = open_.get(r.gate)
        if r.state == "closed":
            if was is not None:
                if was.reason == r.reason:  # a repeated row adds no transition
                    continue
                done.append((was, r.ts, REASON_CHANGED))
            open_[r.gate] = r
        elif r.state == "opened" and was is not None:
            done.append((was, r.ts, REOPENED))
            del open_[r.gate]
    done += [(r, end_ns, STILL_CLOSED) for r in open_.values()]
    done.sort(key=lambda e: e[0].ts)

    def since(ns: int) -> float:
        return (ns - start_ns) / NS_PER_S

    episodes = [
        GateEpisode(
            gate=r.gate,
            reason=r.reason,
            detail=r.detail,
            mode=r.mode,
            kill_switch=is_kill_row(r),
            closed_ns=r.ts,
            closed_utc=utc_text(r.ts),
            closed_s=since(r.ts),
            end_ns=end,
            end_utc=utc_text(end),
            end_s=since(end),
            duration_s=(end - r.ts) / NS_PER_S,
            ended_by=how,
        )
        for r, end, how in done
    ]
    halts = [(e.closed_ns, e.end_ns) for e in episodes if e.mode != "reduce_only"]
    return GateTimeline(
        start_ns=start_ns,
        end_ns=end_ns,
        run_s=(end_ns - start_ns) / NS_PER_S,
        halted_s=union_length(halts) / NS_PER_S,
        episodes=episodes,
        kill_trips=[e for e in episodes if e.kill_switch],
    )


def union_length(intervals: Iterable[tuple[int, int]]) -> int:
    """Total length covered by ``[a, b)`` intervals (overlaps counted once)."""
    total = 0
    cur_a = cur_b = None
    for a, b in sorted(iv for iv in intervals if iv[1] > iv[0]):
        if cur_b is None or a > cur_b:
            if cur_b is not None and cur_a is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    if cur_a is not None and cur_b is not None:
        total += cur_b - cur_a
    return total


_TIME_TABLES = ("gate_events", "estimates", "positions", "actions", "action_results", "fills")


def read_timeline(db: sqlite3.Connection, meta: dict[str, str]) -> GateTimeline:
    """The timeline of an open journal. The run's span is the meta ``first_event_ns`` /
    ``last_event_ns`` a session writes when it closes, else the span of the journaled rows.
    A value of the wrong type raises ``ValueError`` / ``TypeError`` (the caller names the
    file)."""
    rows = read_gate_rows(db)
    start, end = read_span(db, meta, rows)
    return build_timeline(rows, start, end)


def read_span(
    db: sqlite3.Connection, meta: dict[str, str], rows: Sequence[GateRow]
) -> tuple[int, int]:
    """The run's ``(start_ns, end_ns)``: the meta ``first_event_ns`` / ``last_event_ns``,
    else the span of the journaled rows (an empty journal starts at its first gate row)."""
    lo, hi = _span(db)
    start = _int(meta["first_event_ns"]) if "first_event_ns" in meta else lo
    end = _int(meta["last_event_ns"]) if "last_event_ns" in meta else hi
    if start < 0:  # an empty journal: the timeline starts at its first row, if any
        start = min((r.ts for r in rows), default=0)
    return start, max(end, start)


def read_gate_rows(db: sqlite3.Connection) -> list[GateRow]:
    """The journal's ``gate_events`` rows in journal order (``emergency`` None for journals
    that predate the column)."""
    cols = {str(c[1]) for c in db.execute("PRAGMA table_info(gate_events)").fetchall()}
    emergency_col = "emergency" if "emergency" in cols else "NULL"
    return [
        GateRow(
            ts=_int(ts),
            gate=str(gate),
            state=str(state),
            reason="" if reason is None else str(reason),
            detail="" if detail is None or detail == "{}" else str(detail),
            mode="" if mode is None else str(mode),
            emergency=None if em is None else bool(_int(em)),
        )
        for ts, gate, state, reason, detail, mode, em in db.execute(
            f"SELECT ts, gate, state, reason, detail, mode, {emergency_col} "
            "FROM gate_events ORDER BY id"
        )
    ]


def _span(db: sqlite3.Connection) -> tuple[int, int]:
    """Earliest and latest ``ts`` over the journal's timed tables (-1, -1 when empty)."""
    lo, hi = -1, -1
    for t in _TIME_TABLES:
        a, b = db.execute(f"SELECT MIN(ts), MAX(ts) FROM {t}").fetchone()
        if a is None:
            continue
        a, b = _int(a), _int(b)
        lo = a if lo < 0 else min(lo, a)
        hi = max(hi, b)
    return lo, hi


def _int(v: object) -> int:
    """An integer column value (text of an integer accepted); anything else is a ValueError."""
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise ValueError(f"expected an integer time, got {v!r}")
    return int(v)
