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


def settings_for(task: Task) -> Any:
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import get_host

    return load_settings(
        task.config,
        get_host().registry,
        sets=task.sets,
        flags=task.overrides,
        overlays=task.overlays,
    )


def run_task(task: Task) -> dict[str, Any]:
    """The report of one run as JSON-able data, with the overrides and index."""
    import logging

    logging.getLogger("mmkit").setLevel(logging.ERROR)  # the ranked table is the output
    from mmkit.backtest.runner import BacktestOptions, run_backtest
    from mmkit.plugin_manager import get_host

    settings = settings_for(task)
    opts = BacktestOptions(
        cadence=task.cadence,  # type: ignore[arg-type]
        requote_ms=task.requote_ms,
        duration_s=task.duration_s if task.duration_s else math.inf,
    )
    res = run_backtest(settings, get_host(), [Path(p) for p in task.data], opts)
    return {"index": task.index, "params": task.overrides, "report": res.report.to_json()}
