"""Helpers shared by commands: locating and loading the config, printing tables."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from mmkit.config.loader import Settings, load_settings
from mmkit.plugin_manager import PluginHost, get_host

DEFAULT_CONFIG_NAME = "mmkit.toml"
ENV_CONFIG = "MMKIT_CONFIG"

ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    metavar="FILE",
    help=f"Config file (default: $MMKIT_CONFIG, else ./{DEFAULT_CONFIG_NAME} if present).",
)
SetOption = typer.Option(
    [],
    "--set",
    metavar="SECTION.KEY=VALUE",
    help="Override one config key (repeatable; highest precedence after dedicated flags).",
)


def resolve_config_path(config: Path | None) -> Path | None:
    if config is not None:
        return config
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.is_file() else None


def settings_from_cli(
    config: Path | None,
    sets: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
    host: PluginHost | None = None,
    overlays: Sequence[Path] = (),
) -> Settings:
    host = host or get_host()
    host.check()  # a broken plugin is reported before the config errors it would cause
    return load_settings(
        resolve_config_path(config), host.registry, sets=sets, flags=flags, overlays=overlays
    )


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    """A plain aligned table (rich is used only where live display needs it)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if title:
        typer.echo(title)
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    typer.echo("  ".join("-" * w for w in widths))
    for r in cells:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
