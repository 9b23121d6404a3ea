"""One sweep task: a backtest with some config keys overridden (runs on a Dask worker)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Task:
    index: int
    overrides: dict[str, Any]
    config: str | None
    overlays: tuple[str, ...]
    sets: tuple[str, ...]
    data: tuple[str, ...]
    cadence: str
    requote_ms: float | None
    duration_s: float | None
    #: read / keep the converted market in mmkit's cache (mmkit.data.market_cache)
    market_cache: bool = True


def settings_for(task: Task) -> Any:
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import get_host

    return load_settings(
        task.config,
        get_host().registry,
        sets=task.sets,
        flags=task.overrides,
        overlays=task.overlays,
        flags_source="the sweep grid's value",
    )


def run_task(task: Task) -> dict[str, Any]:
    """The report of one run as JSON-able data, with the overrides and index.

    ``engine`` carries what the worker read from the engine itself (kill-switch trips, time
    halted: :func:`~mmkit.sweep.outcome.engine_facts`), the fallback for reports without a
    ``run`` object. A backtest that raises gives a row with ``error`` (its type and message)
    and an empty report, so one bad run is reported in its row instead of ending the sweep."""
    import logging

    logging.getLogger("mmkit").setLevel(logging.ERROR)  # the ranked table is the output
    from mmkit.backtest.runner import BacktestOptions, run_backtest
    from mmkit.plugin_manager import get_host

    row: dict[str, Any] = {"index": task.index, "params": task.overrides}
    settings = settings_for(task)
    opts = BacktestOptions(
        cadence=task.cadence,  # type: ignore[arg-type]
        requote_ms=task.requote_ms,
        duration_s=task.duration_s if task.duration_s else math.inf,
        market_cache=task.market_cache,
    )
    try:
        res = run_backtest(settings, get_host(), [Path(p) for p in task.data], opts)
    except Exception as exc:  # reported in the run's row: the other runs still count
        return {**row, "report": {}, "error": f"{type(exc).__name__}: {exc}"}
    row["report"] = res.report.to_json()
    row["engine"] = _engine_facts(res.session)
    return row


def _engine_facts(session: Any) -> dict[str, Any] | None:
    """Kill-switch trips and time halted as the session's observer kept them (None when the
    session has no halt report, e.g. a runner that does not keep one)."""
    from mmkit.core.types import NS_PER_S
    from mmkit.sweep.outcome import engine_facts

    try:
        hr = session.halt_report()
    except AttributeError:
        return None
    trips = [
        (
            (t.ts - hr.start_ns) / NS_PER_S if hr.start_ns >= 0 else None,
            t.gate,
            t.reason,
            t.description,
        )
        for t in hr.kill_trips
    ]
    return engine_facts(trips, hr.run_s, hr.halted_s)
