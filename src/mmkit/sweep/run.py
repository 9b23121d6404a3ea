"""Running a sweep: validate every combination, run them on Dask, rank the reports."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkit.errors import ConfigError
from mmkit.sweep.grid import SweepSpec, nested
from mmkit.sweep.worker import Task, run_task, settings_for


@dataclass
class SweepResult:
    spec: SweepSpec
    rows: list[dict[str, Any]]  # ranked, best first

    @property
    def best(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def best_overlay(self) -> dict[str, Any]:
        return nested(self.rows[0]["params"]) if self.rows else {}


def make_tasks(
    spec: SweepSpec,
    data: Sequence[Path],
    *,
    config: Path | None = None,
    overlays: Sequence[Path] = (),
    sets: Sequence[str] = (),
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


def rank(spec: SweepSpec, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key = spec.metric_key

    def score(r: dict[str, Any]) -> float:
        v = r["report"].get(key)
        if v is None or not math.isfinite(float(v)):
            return -math.inf
        return float(v) if spec.descending else -float(v)

    return sorted(results, key=lambda r: (-score(r), r["index"]))


def run_sweep(
    spec: SweepSpec,
    tasks: list[Task],
    client: Any,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    from dask.distributed import as_completed

    futures = client.map(run_task, tasks, pure=False)
    results = []
    for fut in as_completed(futures):  # type: ignore[no-untyped-call]
        r = fut.result()
        results.append(r)
        if on_done is not None:
            on_done(r)
    return SweepResult(spec, rank(spec, results))


def run_local(spec: SweepSpec, tasks: list[Task]) -> SweepResult:
    """Without Dask, one after the other (tests, debugging)."""
    return SweepResult(spec, rank(spec, [run_task(t) for t in tasks]))
