"""Built-in gates (registered through the same hook as third-party plugins)."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_gates(register: Any) -> None:
    from mmkit.gates.params import DataQualityParams, KillSwitchParams

    register(
        "data_quality",
        "mmkit.gates.data_quality:build",
        params=DataQualityParams,
        description="closes on no/stale data, crossed or empty book, gaps, unknown position",
    )
    register(
        "kill_switch",
        "mmkit.gates.kill_switch:build",
        params=KillSwitchParams,
        description="latching kill switch: drawdown from peak, daily loss, position, "
        "stale data, liquidation suspicion, rejections, broken PnL",
    )
