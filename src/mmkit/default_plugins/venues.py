"""Built-in venues (registered through the same hook as third-party plugins).

Each venue says what it can be: ``sim`` is simulated only (backtests, paper trading, the
audit), ``hyperliquid`` is live only (the live runner). Runners pick a venue's side by these
capabilities, never by its name.
"""

from __future__ import annotations

from mmkit import hookimpl
from mmkit.hookspecs import RegisterVenue


@hookimpl
def register_venues(register: RegisterVenue) -> None:
    from mmkit.venues.sim.params import SimParams

    register(
        "sim",
        simulated="mmkit.venues.sim.venue:build",
        params=SimParams,
        description="simulated exchange: queue-position and latency models, fees (numba)",
    )
    from mmkit.venues.hyperliquid.params import HyperliquidParams

    register(
        "hyperliquid",
        live="mmkit.venues.hyperliquid.venue:build_live",
        params=HyperliquidParams,
        description="Hyperliquid perps, live (async REST + WebSocket; built by the live runner)",
    )
