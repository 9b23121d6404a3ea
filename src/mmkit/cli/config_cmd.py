"""``mmkit config init | show | validate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mmkit.cli.common import ConfigOption, SetOption, resolve_config_path, settings_from_cli
from mmkit.config.loader import default_toml
from mmkit.plugin_manager import get_host


def register(cli: typer.Typer) -> None:
    app = typer.Typer(help="Write, show and check mmkit.toml.", no_args_is_help=True)
    cli.add_typer(app, name="config")

    @app.command("init")
    def init(
        path: Path = typer.Argument(Path("mmkit.toml"), help="Where to write the file."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a complete default config: every section, every registered component."""
        import tomli_w

        from mmkit.output_paths import check_output_file, writing

        if path.exists() and not path.is_dir() and not force:
            typer.echo(f"error: {path} exists (use --force to overwrite)", err=True)
            raise typer.Exit(2)
        check_output_file(path, "config init")
        host = get_host()
        host.check()
        data = default_toml(host.registry)
        header = (
            "# mmkit configuration: every key at its default. Precedence: defaults < this file\n"
            "# < MMKIT__SECTION__KEY environment variables < command-line flags.\n"
            "# Private keys never go here: see [venue] key_env / key_file.\n\n"
        )
        with writing(path, "config init"):
            path.write_text(header + tomli_w.dumps(data), encoding="utf-8")
        typer.echo(f"wrote {path}")

    @app.command("show")
    def show(
        config: Path | None = ConfigOption,
        sets: list[str] = SetOption,
        as_json: bool = typer.Option(False, "--json", help="JSON instead of TOML."),
        sources: bool = typer.Option(
            False, "--sources", help="Also print where each key came from."
        ),
    ) -> None:
        """Print the merged configuration (defaults, file, environment, flags), secrets redacted."""
        import tomli_w

        host = get_host()
        settings = settings_from_cli(config, sets, host=host)
        data = settings.to_toml_dict(redact=True)
        typer.echo(json.dumps(data, indent=2) if as_json else tomli_w.dumps(data))
        if sources:
            for key, src in sorted(settings.sources.items()):
                typer.echo(f"# {key}: {src}")

    @app.command("validate")
    def validate(
        config: Path | None = typer.Argument(None, help="File to check (default: as --config)."),
        sets: list[str] = SetOption,
    ) -> None:
        """Check a config file; exit non-zero and list every problem if it is invalid."""
        path = resolve_config_path(config)
        settings = settings_from_cli(path, sets)
        host = get_host()
        reg = host.registry
        for kind, name in settings.selected():
            reg.get(kind, name)
        typer.echo(f"{path or 'defaults'}: OK ({len(settings.selected())} components selected)")
