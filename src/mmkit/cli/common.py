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
    """A plain aligned table (rich is used only where live display needs it); a cell with
    line breaks spans as many lines, the row's other cells blank below their first."""
    typer.echo("\n".join(table_lines(headers, rows, title)))


def table_lines(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> list[str]:
    """The lines :func:`print_table` prints."""
    cells = [[str(c).split("\n") for c in r] for r in rows]
    widths = [
        max([len(h)] + [len(ln) for r in cells for ln in r[i]]) for i, h in enumerate(headers)
    ]
    out = [title] if title else []
    out.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    out.append("  ".join("-" * w for w in widths))
    for r in cells:
        for k in range(max(len(c) for c in r)):
            parts = (c[k] if k < len(c) else "" for c in r)
            out.append("  ".join(p.ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip())
    return out
