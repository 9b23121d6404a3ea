"""``mmkit audit``: run the invariants against the configured plugin set and report.

Kept light at import (it is imported when the CLI starts): the runner, hypothesis and the
components are imported inside the command body.
"""

from __future__ import annotations

from pathlib import Path

import typer

from mmkit.cli.common import ConfigOption, SetOption

#: the default example count (mirrors mmkit.audit.runner.DEFAULT_EXAMPLES, which this
#: light module must not import)
DEFAULT_EXAMPLES = 100
EXAMPLES_HELP = "Examples per invariant (scaled by each invariant's weight)."


def _infer_format(path: Path, explicit: str | None) -> str:
    from mmkit.audit.render import SUFFIX_FORMATS

    return explicit or SUFFIX_FORMATS.get(path.suffix.lower(), "table")


def _write(path: Path, text: str) -> None:
    from mmkit.errors import ConfigError

    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"--out {path}: cannot write: {exc}"]) from None


def register(cli: typer.Typer) -> None:
    @cli.command("audit")
    def audit(
        config: Path | None = ConfigOption,
        sets: list[str] = SetOption,
        strict: bool = typer.Option(
            False,
            "--strict",
            help="Exit 1 on any FAIL, CONCERN or UNAUDITED check not waived in "
            "[audit.waivers] (CI mode; runs are always deterministic).",
        ),
        only: list[str] = typer.Option(
            [],
            "--only",
            metavar="ID",
            help="Run only these invariants (repeatable; comma lists, globs and dotted "
            "prefixes such as 'engine' or 'quoting.*').",
        ),
        all_components: bool = typer.Option(
            False, "--all", help="Audit every registered component, not only the configured ones."
        ),
        component: list[str] = typer.Option(
            [],
            "--component",
            metavar="KIND:NAME",
            help="Audit only this component, configured or not, with the rest of the "
            "configuration as configured (repeatable; comma lists; e.g. "
            "quoter:avellaneda_stoikov). Runs the invariants of its kind.",
        ),
        examples: int = typer.Option(
            DEFAULT_EXAMPLES, "--examples", min=1, metavar="N", help=EXAMPLES_HELP
        ),
        seed: int = typer.Option(
            0,
            "--seed",
            min=0,
            metavar="S",
            help="0 = derandomised (default); any other value forces hypothesis's seed.",
        ),
        fmt: str | None = typer.Option(
            None,
            "--format",
            "-f",
            metavar="table|md|json|junit",
            help="Report format (default: table on stdout; for --out, from the suffix: "
            ".md, .json, .xml).",
        ),
        out: list[Path] = typer.Option(
            [], "--out", "-o", metavar="FILE", help="Write the report here (repeatable)."
        ),
        date: str = typer.Option(
            "",
            "--date",
            metavar="YYYY-MM-DD",
            help="Date to stamp on the report (none by default, so that reports are reproducible).",
        ),
        timings: bool = typer.Option(
            False, "--timings", help="Include per-check wall times (table, JSON, JUnit)."
        ),
        catalogue: bool = typer.Option(
            False,
            "--catalogue",
            help="Write the invariant catalogue (Markdown) instead of running the audit.",
        ),
        allow_broken: bool = typer.Option(
            False,
            "--allow-broken-plugins",
            help="Audit what loaded even if a plugin failed to load, register or build "
            "(each failure is reported as a finding).",
        ),
        list_only: bool = typer.Option(
            False, "--list", help="List the registered invariants and exit."
        ),
        jobs: int = typer.Option(
            0,
            "--jobs",
            "-j",
            min=0,
            metavar="N",
            help="Worker processes running the checks: 0 = one per usable core (default), "
            "1 = in this process. The report is the same either way; a check that crashes "
            "its worker is a FAIL instead of the end of the audit (Linux; elsewhere 1).",
        ),
    ) -> None:
        """Prove the seed report's invariants for the configured plugins, or show a shrunk
        counterexample. Exit 0 pass, 1 failure (or, with --strict, a concern or an unaudited
        check), 2 config/plugin error."""
        from mmkit.audit.render import FORMATS, render
        from mmkit.errors import ConfigError
        from mmkit.plugin_manager import get_host

        if fmt is not None and fmt not in FORMATS:
            raise ConfigError([f"--format {fmt!r}: expected one of {', '.join(FORMATS)}"])
        if date:
            import datetime as dt

            try:  # a calendar date, as the help says (2026-13-45 was stamped as given)
                dt.date.fromisoformat(date)
                ok = len(date) == 10
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError([f"--date {date!r}: a calendar date as YYYY-MM-DD"])
        host = get_host()
        if catalogue or list_only:
            if not allow_broken:
                host.check(invariants=True)
            from mmkit.audit.results import InvariantInfo

            infos = [InvariantInfo.of(i) for i in host.invariants]
            if list_only:
                for i in sorted(infos, key=lambda i: i.id):
                    typer.echo(f"{i.id}  [{i.severity}; {', '.join(i.kinds)}]  {i.title}")
                return
            from mmkit.audit.render.catalogue import render_catalogue

            text = render_catalogue(infos)
            if out:
                for p in out:
                    _write(p, text)
            else:
                typer.echo(text, nl=False)
            return

        from mmkit.audit.progress import ProgressDisplay
        from mmkit.audit.runner import AuditOptions, run_audit
        from mmkit.cli.common import resolve_config_path, settings_from_cli

        cfg = resolve_config_path(config)
        if allow_broken:
            # settings_from_cli refuses a broken plugin set (exit 2) before the runner could
            # report it: load the config against what did register instead
            from mmkit.config.loader import load_settings

            settings = load_settings(cfg, host.registry, sets=sets)
        else:
            settings = settings_from_cli(config, sets, host=host)
        opts = AuditOptions(
            examples=examples,
            seed=seed,
            strict=strict,
            only=only,
            all_components=all_components,
            date=date,
            config=str(cfg) if cfg else "",
            timings=timings,
            allow_broken_plugins=allow_broken,
            components=component,
            jobs=jobs,
        )
        with ProgressDisplay() as progress:
            report = run_audit(
                host,
                settings,
                opts,
                on_start=progress.start,
                before=progress.before,
                on_result=progress.done,
            )
        if out:
            for p in out:
                _write(p, render(report, _infer_format(p, fmt)))
            typer.echo(render(report, "table"), nl=False)
            typer.echo("wrote " + ", ".join(str(p) for p in out))
        else:
            typer.echo(render(report, fmt or "table"), nl=False)
        raise typer.Exit(report.exit_code())
