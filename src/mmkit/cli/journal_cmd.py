"""``mmkit journal show RUN``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mmkit.cli.common import print_table

if TYPE_CHECKING:
    from mmkit.runtime.gate_timeline import GateEpisode, GateTimeline


def timeline_headline(tl: GateTimeline) -> list[str]:
    """Kill-switch trips (when, why) or that there was none, then the time halted."""
    lines = [
        f"KILL SWITCH TRIPPED at {e.closed_s:,.1f} s"
        + (f" ({e.closed_utc} UTC)" if e.closed_utc else "")
        + f": {_reason(e)}"
        for e in tl.kill_trips
    ] or ["kill switch: not tripped"]
    pct = f" ({100.0 * tl.halted_s / tl.run_s:.0f}%)" if tl.run_s > 0 else ""
    lines.append(f"halted {tl.halted_s:,.1f} s of {tl.run_s:,.1f} s{pct}")
    return lines


def _reason(e: GateEpisode) -> str:
    return f"{e.reason} {e.detail}" if e.detail else e.reason


def _episode_row(e: GateEpisode) -> tuple[str, ...]:
    if e.ended_by == "reopened":
        end = f"{e.end_s:,.3f}"
    elif e.ended_by == "reason changed":
        end = f"{e.end_s:,.3f} (reason changed)"
    else:
        end = "still closed at end"
    gate = f"{e.gate} (KILL SWITCH)" if e.kill_switch else e.gate
    return (
        gate,
        _reason(e),
        e.closed_utc or "-",
        f"{e.closed_s:,.3f}",
        end,
        f"{e.duration_s:,.3f}",
    )


def register(cli: typer.Typer) -> None:
    app = typer.Typer(help="Read run journals.", no_args_is_help=True)
    cli.add_typer(app, name="journal")

    @app.command("show")
    def show(
        run: Path = typer.Argument(..., help="A journal file (runs/*.sqlite)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Summarise one run: kill switch, time halted, counts, final position and PnL, every
        gate closure and reopening (UTC and seconds since the run's first event, reason,
        duration), faults."""
        from mmkit.runtime.gate_timeline import utc_text
        from mmkit.runtime.journal import summarize

        s = summarize(run)
        if as_json:
            d = asdict(s)
            d["path"] = str(s.path)
            d["meta"].pop("config", None)
            typer.echo(json.dumps(d, indent=2, default=str))
            return
        tl = s.timeline
        if tl is not None:
            for line in timeline_headline(tl):
                typer.echo(line)
            typer.echo("")
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
            ("divergences adopted (reconciliation adjustments)", s.divergences),
            ("adjusted position (venue - fills)", s.adjusted_position),
        ]
        print_table(["", ""], rows)
        if s.gate_closures:
            typer.echo("")
            print_table(["gate", "reason", "closures"], s.gate_closures)
        if tl is not None and tl.episodes:
            typer.echo("")
            print_table(
                ["gate", "reason", "closed (UTC)", "closed (s)", "reopened (s)", "duration (s)"],
                [_episode_row(e) for e in tl.episodes],
                title="gate closures (s: seconds since the run's first event)",
            )
        if s.link_events:
            typer.echo("")
            print_table(
                ["at (UTC)", "venue link"],
                [(utc_text(ts), m) for ts, m in s.link_events],
                title="venue link transitions (live)",
            )
        if s.faults:
            typer.echo("")
            print_table(["component", "fault"], s.faults)
