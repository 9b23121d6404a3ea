"""Built-in feeds (registered through the same hook as third-party plugins) and the
``mmkit data`` / ``mmkit record`` commands."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_feeds(register: Any) -> None:
    from mmkit.data.params import CaptureParams, ReplayParams, SyntheticParams

    register(
        "synthetic",
        "mmkit.data.synthetic:build",
        params=SyntheticParams,
        description="seeded synthetic market (SV + regimes + jump cascades, known kappa)",
    )
    register(
        "replay",
        "mmkit.data.replay:build_replay",
        params=ReplayParams,
        description="replay an event store or raw capture files",
    )
    register(
        "binance_capture",
        "mmkit.data.replay:build_binance",
        params=CaptureParams,
        description="Binance raw websocket capture (futures/spot, REST snapshot + diffs)",
    )
    register(
        "hyperliquid_capture",
        "mmkit.data.replay:build_hyperliquid",
        params=CaptureParams,
        description="Hyperliquid raw websocket capture",
    )
    register(
        "hyperliquid_archive",
        "mmkit.data.replay:build_hyperliquid_archive",
        params=CaptureParams,
        description="Hyperliquid public archive l2Book NDJSON (lz4)",
    )
    register(
        "lobster",
        "mmkit.data.replay:build_lobster",
        params=CaptureParams,
        description="LOBSTER message + orderbook files (zip or CSV pair)",
    )


@hookimpl
def register_commands(cli: Any) -> None:
    from mmkit.data.cli import register

    register(cli)
