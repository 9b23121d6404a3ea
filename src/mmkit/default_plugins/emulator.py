"""Built-in ``mmkit venue emulate`` command (the loopback Hyperliquid emulator)."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from mmkit.venues.emulator.cli import register

    register(cli)
