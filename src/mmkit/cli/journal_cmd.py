"""``mmkit journal show RUN``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from mmkit.cli.common import print_table


def register(cli: typer.Typer) -> None:
    app = typer.Typer(help="Read run journals.", no_args_is_help=True)
    cli.add_typer(app, name="journal")

    @app.command("show")
    def show(
        run: Path = typer.Argument(..., help="A journal file (runs/*.sqlite)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Summarise one run: counts, final position and PnL, gate closures, faults."""
        from mmkit.runtime.journal import summarize

        s = summarize(run)
        if as_json:
            d = asdict(s)
            d["path"] = str(s.path)
            d["meta"].pop("config", None)
            typer.echo(json.dumps(d, indent=2, default=str))
            return
        meta = {k: v for k, v in s.meta.items() if k != "config"}
        print_table(["key", "value"], sorted(meta.items()), title=f"journal {s.path}")
        typer.echo("")
        print_table(["table", "rows"], sorted(s.counts.items()))
        typer.echo("")
        rows = [
            ("final position", s.position),
            ("realized PnL", s.realized),
            ("fees", s.fees),
            ("fill volume (USD)", round(s.fill_volume, 2)),
            ("divergences", s.divergences),
        ]
        print_table(["", ""], rows)
        if s.gate_closures:
            typer.echo("")
            print_table(["gate", "reason", "closures"], s.gate_closures)
        if s.faults:
            typer.echo("")
            print_table(["component", "fault"], s.faults)
