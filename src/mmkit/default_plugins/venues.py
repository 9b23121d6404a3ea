"""Built-in venues (registered through the same hook as third-party plugins)."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_venues(register: Any) -> None:
    from mmkit.venues.sim.params import SimParams

    register(
        "sim",
        "mmkit.venues.sim.venue:build",
        params=SimParams,
        description="simulated exchange: queue-position and latency models, fees (numba)",
    )
    from mmkit.venues.hyperliquid.params import HyperliquidParams

    register(
        "hyperliquid",
        "mmkit.venues.hyperliquid.venue:build",
        params=HyperliquidParams,
        description="Hyperliquid perps, live (async REST + WebSocket; built by the live runner)",
    )
