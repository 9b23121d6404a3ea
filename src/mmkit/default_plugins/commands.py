"""Built-in commands: ``mmkit plugins`` and ``mmkit config``.

Each command module registers itself here through the same ``register_commands`` hook a
third-party plugin uses. Command bodies import their heavy modules lazily.
"""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from mmkit.cli import config_cmd, plugins_cmd

    plugins_cmd.register(cli)
    config_cmd.register(cli)
