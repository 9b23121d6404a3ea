"""``mmkit plugins``: what is installed, what it registers, and what failed."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import typer

from mmkit.cli.common import print_table
from mmkit.plugin_manager import PluginHost, get_host


def plugins_report(host: PluginHost) -> dict[str, Any]:
    _ = host.registry
    _ = host.invariants
    plugins = []
    for info in host.info.values():
        plugins.append(
            {
                "name": info.name,
                "module": info.module,
                "distribution": info.distribution,
                "version": info.version,
                "source": info.source,
                "hooks": info.hooks,
                "components": [{"kind": k, "name": n} for k, n in info.components],
                "invariants": info.invariants,
            }
        )
    errors = [
        {"plugin": e.plugin, "distribution": e.distribution, "error": e.fault} for e in host.errors
    ]
    return {"plugins": plugins, "errors": errors}


def _wrap(text: str, width: int) -> str:
    """``text`` (a comma-separated list) on lines of at most ``width`` characters, broken
    after commas (a single longer item keeps its own line)."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def register(cli: typer.Typer) -> None:
    @cli.command("plugins")
    def plugins(
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        components: bool = typer.Option(
            False, "--components", help="One row per component instead of per plugin."
        ),
    ) -> None:
        """List installed plugins, the components they register and their hooks."""
        host = get_host()
        rep = plugins_report(host)
        if as_json:
            typer.echo(json.dumps(rep, indent=2))
        elif components:
            rows = [
                (
                    s.kind,
                    s.name + (f" ({s.describe_sides()})" if s.kind == "venue" else ""),
                    s.plugin,
                    s.distribution or "-",
                    s.description,
                )
                for s in host.registry
            ]
            print_table(["kind", "name", "plugin", "distribution", "description"], rows)
        else:
            rows = []
            for p in rep["plugins"]:
                comps = ", ".join(f"{c['kind']}:{c['name']}" for c in p["components"]) or "-"
                if p["invariants"]:
                    comps += f" (+{len(p['invariants'])} invariants)"
                dist = (
                    f"{p['distribution']} {p['version'] or ''}".strip()
                    if p["distribution"]
                    else "-"
                )
                hooks = ", ".join(p["hooks"])
                rows.append((p["name"], dist, p["source"], _wrap(comps, 72), _wrap(hooks, 40)))
            print_table(["plugin", "distribution", "source", "components", "hooks"], rows)
        if rep["errors"]:
            typer.echo("", err=True)
            for e in rep["errors"]:
                dist = f" ({e['distribution']})" if e["distribution"] else ""
                typer.echo(f"error: plugin {e['plugin']!r}{dist}: {e['error']}", err=True)
            raise typer.Exit(1)
