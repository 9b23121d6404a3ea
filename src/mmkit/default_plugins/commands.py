"""Built-in commands: ``mmkit plugins``, ``config``, ``trade`` and ``journal``.

Each command module registers itself here through the same ``register_commands`` hook a
third-party plugin uses. Command bodies import their heavy modules lazily.
"""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from mmkit.cli import config_cmd, journal_cmd, plugins_cmd, trade_cmd

    plugins_cmd.register(cli)
    config_cmd.register(cli)
    trade_cmd.register(cli)
    journal_cmd.register(cli)
