"""Running a sweep: validate every combination, run them on Dask, rank the reports."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkit.errors import ConfigError
from mmkit.sweep.grid import SweepSpec, nested
from mmkit.sweep.outcome import outcome_of
from mmkit.sweep.worker import Task, run_task, settings_for


@dataclass
class SweepResult:
    """The runs of a sweep, annotated and ordered by :func:`rank`: ranked rows first (rank
    ascending; grid order within a tie), then the rows that were not ranked (grid order)."""

    spec: SweepSpec
    rows: list[dict[str, Any]]
    include_halted: bool = False

    @property
    def ranked(self) -> list[dict[str, Any]]:
        """The rows that got a rank."""
        return [r for r in self.rows if r.get("rank") is not None]

    @property
    def tied_best(self) -> list[dict[str, Any]]:
        """Every row of rank 1: one when the best is unique, several on a tie, none when no
        run could be ranked."""
        return [r for r in self.rows if r.get("rank") == 1]

    @property
    def best(self) -> dict[str, Any] | None:
        """The first row of rank 1 (grid order breaks a tie: see :attr:`tied_best`), or None
        when no run could be ranked."""
        tied = self.tied_best
        return tied[0] if tied else None

    def best_overlay(self) -> dict[str, Any]:
        """The best row's parameters as a nested config overlay (``{}`` without a best)."""
        best = self.best
        return nested(best["params"]) if best is not None else {}

    def to_json(self) -> dict[str, Any]:
        """The ``.results.json`` content: how the runs were ranked, then every row (strict
        JSON: a NaN in a report becomes null)."""
        spec = self.spec
        return {
            "metric": spec.metric,
            "tie_tolerance": spec.tie_tolerance,
            "tie_rule": "|a - b| <= tie_tolerance * max(1, |a|, |b|)",
            "max_halted_frac": spec.max_halted_frac,
            "min_quoting_frac": spec.min_quoting_frac,
            "include_halted": self.include_halted,
            "runs": len(self.rows),
            "ranked": len(self.ranked),
            "best_index": None if self.best is None else self.best["index"],
            "tied_best_indices": [r["index"] for r in self.tied_best],
            "rows": _json_safe(self.rows),
        }


def _json_safe(x: Any) -> Any:
    """``x`` with every non-finite float as None (strict JSON has no NaN or infinity)."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def make_tasks(
    spec: SweepSpec,
    data: Sequence[Path],
    *,
    config: Path | None = None,
    overlays: Sequence[Path] = (),
    sets: Sequence[str] = (),
    market_cache: bool = True,
) -> list[Task]:
    tasks = [
        Task(
            i,
            combo,
            str(config) if config else None,
            tuple(str(p) for p in overlays),
            tuple(sets),
            tuple(str(Path(p).resolve()) for p in data),
            spec.cadence,
            spec.requote_ms,
            spec.duration_s,
            market_cache,
        )
        for i, combo in enumerate(spec.combinations())
    ]
    problems = []
    for t in tasks:  # every combination must be a valid config before anything runs
        try:
            settings_for(t)
        except ConfigError as exc:
            problems += [f"combination {t.index} {t.overrides}: {p}" for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    return tasks


def metric_value(spec: SweepSpec, report: dict[str, Any]) -> float | None:
    """The row's objective, oriented so that higher is better (``-max_drawdown`` negates
    it); None when the report has no finite number under the metric's key."""
    v = report.get(spec.metric_key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v) if spec.descending else -float(v)


def ties(a: float, b: float, tolerance: float) -> bool:
    """Whether two objective values are equal within ``tolerance``:
    ``|a - b| <= tolerance * max(1, |a|, |b|)`` (absolute below 1, relative above)."""
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def rank(
    spec: SweepSpec, results: list[dict[str, Any]], *, include_halted: bool = False
) -> list[dict[str, Any]]:
    """Annotate each run and order them: ranked rows first, best first, then the others.

    Each row gains ``outcome`` (:class:`~mmkit.sweep.outcome.Outcome` as JSON: verdict,
    headline, time quoting, halts, trips, fills, exclusion reason), ``value`` (the metric,
    as reported), ``rank`` (int, or None when not ranked), ``tie`` (shares its rank) and
    ``unranked`` (why it has no rank, ``""`` when ranked). A run the policy excludes
    (halted, never quoted, ...) is not ranked unless ``include_halted``; a run with no
    finite metric is never ranked. Ranks are competition ranks ("1, 1, 3"): rows sorted by
    the oriented metric, a row within :func:`ties` of the first (best) row of the current
    group joins that group's rank (so ties do not chain past the tolerance); rows of one
    rank are listed in grid order, which is how ``best`` picks among tied rows."""
    rows = []
    for r in results:
        row = dict(r)
        out = outcome_of(r.get("report") or {}, r.get("engine"), spec.policy, r.get("error", ""))
        row["outcome"] = out.to_json()
        v = metric_value(spec, row.get("report") or {})
        row["value"] = None if v is None else (v if spec.descending else -v)
        if out.excluded and (not include_halted or out.verdict == "failed"):
            row["unranked"] = out.excluded
        elif v is None:
            row["unranked"] = f"{spec.metric_key} is not a number in this run's report"
        else:
            row["unranked"] = ""
        row["rank"] = None
        row["tie"] = False
        rows.append((v, row))
    ok = sorted(
        ((v, row) for v, row in rows if not row["unranked"] and v is not None),
        key=lambda vr: (-vr[0], vr[1]["index"]),
    )
    leader: float | None = None
    group: list[dict[str, Any]] = []
    current = 0
    for pos, (v, row) in enumerate(ok):
        if leader is None or not ties(leader, v, spec.tie_tolerance):
            leader, group = v, []
            current = pos + 1
        row["rank"] = current
        group.append(row)
        if len(group) > 1:
            for g in group:
                g["tie"] = True
    ranked = sorted((row for _v, row in ok), key=lambda r: (r["rank"], r["index"]))
    rest = sorted((row for _v, row in rows if row["rank"] is None), key=lambda r: r["index"])
    return ranked + rest


def run_sweep(
    spec: SweepSpec,
    tasks: list[Task],
    client: Any,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    *,
    include_halted: bool = False,
) -> SweepResult:
    from dask.distributed import as_completed

    futures = client.map(run_task, tasks, pure=False)
    results = []
    for fut in as_completed(futures):  # type: ignore[no-untyped-call]
        r = fut.result()
        results.append(r)
        if on_done is not None:
            on_done(r)
    return SweepResult(spec, rank(spec, results, include_halted=include_halted), include_halted)


def run_local(spec: SweepSpec, tasks: list[Task], *, include_halted: bool = False) -> SweepResult:
    """Without Dask, one after the other (tests, debugging)."""
    rows = rank(spec, [run_task(t) for t in tasks], include_halted=include_halted)
    return SweepResult(spec, rows, include_halted)
