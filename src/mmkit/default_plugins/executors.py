"""Built-in executors (registered through the same hook as third-party plugins)."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_executors(register: Any) -> None:
    from mmkit.execution.params import SmartExecutorParams

    register(
        "smart",
        "mmkit.execution.smart_executor:build",
        params=SmartExecutorParams,
        description="smart reconcile (MODIFY with PLACE fallback), rate limits, budget, "
        "rejection backoff, position sync, startup sync, orphan tracking",
    )
