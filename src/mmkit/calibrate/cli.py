"""``mmkit calibrate`` (light at import: numpy and friends load inside the command)."""

from __future__ import annotations

from pathlib import Path

import typer

from mmkit.cli.common import ConfigOption, SetOption


def register(cli: typer.Typer) -> None:
    @cli.command("calibrate")
    def calibrate_cmd(
        data: list[Path] = typer.Argument(
            ..., metavar="DATA...", help="Event stores (.parquet) or raw captures."
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Calibrated parameters (TOML overlay) to write."
        ),
        config: Path | None = ConfigOption,
        sets: list[str] = SetOption,
        params: list[Path] = typer.Option(
            [],
            "--params",
            metavar="FILE",
            help="Parameter layers over the config for the engine's estimators (as backtest).",
        ),
        journal: Path | None = typer.Option(
            None, "--journal", metavar="RUN", help="A run journal: own-fill kappa, Brier / IR."
        ),
        plots: Path | None = typer.Option(
            None, "--plots", metavar="DIR", help="Write PNG plots here (needs mmkit[plots])."
        ),
        fmt: str = typer.Option("auto", "--format", help="Input format (auto detects it)."),
        tick: float | None = typer.Option(
            None, "--tick", help="Price tick of the data (default: the store's / inferred)."
        ),
        kappa_method: str = typer.Option(
            "auto",
            "--kappa-method",
            help="Offline fit written as the kappa prior: auto (best fit of the measured "
            "intensity curve), mle, student_t, loglinear.",
        ),
        sample_s: float = typer.Option(
            1.0, "--sample-s", help="Mid sampling interval for the offline sigma (s)."
        ),
        engine: bool = typer.Option(
            True,
            "--engine/--no-engine",
            help="Run the configured estimators over the data (the engine's end state).",
        ),
        progress: bool = typer.Option(
            True, "--progress/--no-progress", help="Progress bar over files."
        ),
    ) -> None:
        """Calibrate A, kappa (trades, book, own fills) and sigma from market data.

        The primary result is the engine's end state: the configured estimators run over
        the data as in a backtest. calibrate's own fits of the whole data are labelled
        "offline fit"; the report says whether the two agree and, if not, why.
        """
        import math

        from mmkit.calibrate.report import report_path, validate_overlay, write
        from mmkit.calibrate.run import calibrate, write_plots
        from mmkit.calibrate.scan import ScanSettings
        from mmkit.cli.common import print_table, resolve_config_path, settings_from_cli
        from mmkit.data.params import check_format
        from mmkit.errors import ConfigError
        from mmkit.output_paths import (
            check_not_an_input,
            check_output_dir,
            check_output_file,
            writing,
        )
        from mmkit.params import option_problems
        from mmkit.plugin_manager import get_host
        from mmkit.runtime.logs import setup_logging

        # the estimators' own log lines (e.g. a cascade-mode warning) are in the report
        setup_logging(json_lines=False, log_file=None, console_level=40)
        if not (math.isfinite(sample_s) and sample_s > 0):
            raise ConfigError([f"--sample-s {sample_s}: must be a positive number of seconds"])
        bad = option_problems({"--tick": tick}, gt=0)  # before the work, not in the scan
        if bad:
            raise ConfigError(bad)
        check_format(fmt, option="--format")
        check_output_file(out, "--out")  # before the work, not after it
        inputs = [*data, *params, resolve_config_path(config), journal]
        check_not_an_input(out, inputs, "--out", also_written=[report_path(out)])
        if plots is not None:
            check_output_dir(plots, "--plots")
        if plots is not None:
            from mmkit.extras import pyplot

            pyplot()  # fail before the work when matplotlib is missing
        host = get_host()
        engine_settings = (
            settings_from_cli(config, sets, host=host, overlays=params) if engine else None
        )
        if engine_settings is not None:  # the engine's estimators: compile them visibly
            from mmkit.data.inputs import check_input_files
            from mmkit.runtime.precompile import warm_up_for_command

            check_input_files(data or [])
            warm_up_for_command("calibrate", engine_settings, host, show=progress)
        settings = ScanSettings(mid_every_s=sample_s, tick=tick, fmt=fmt)
        kw = {
            "journal": journal,
            "settings": settings,
            "kappa_method": kappa_method,
            "engine_settings": engine_settings,
            "registry": host.registry,
            "run_engine": engine,
        }
        if progress:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("calibrating", total=len(data))

                def step(path: Path, events: int) -> None:
                    bar.update(task, advance=1, description=f"{path.name}: {events:,} events")

                def engine_step(events: int) -> None:
                    bar.update(task, description=f"engine estimators: {events:,} events")

                run = calibrate(
                    data,
                    on_file=step,
                    on_engine_events=engine_step,
                    **kw,  # type: ignore[arg-type]
                )
        else:
            run = calibrate(data, **kw)  # type: ignore[arg-type]
        cal = run.calibration
        with writing(out, "--out"):
            report = write(cal, out)
        validate_overlay(out)
        headers = ["parameter", "value", "95% interval", "n", "unit", "note"]

        def row(e: object) -> tuple[object, ...]:
            from mmkit.calibrate.estimate import Estimate

            assert isinstance(e, Estimate)
            ci = f"[{e.lo:.6g}, {e.hi:.6g}]" if e.finite else "-"
            return (e.name, f"{e.value:.6g}", ci, e.n, e.unit, e.note)

        for problem in cal.input_problems:  # first: the fits used only what could be read
            typer.echo(f"input data problems: {problem}")
        typer.echo(f"mmkit calibrate: {cal.trades:,} trades over {cal.duration_s:,.0f} s")
        if cal.engine:
            info = cal.engine_info
            print_table(
                headers,
                [row(e) for e in cal.engine],
                title=f"\nengine end state (primary): estimators {', '.join(info['estimators'])}"
                f" over {info['events']:,} events, {info['span_s']:,.0f} s",
            )
        print_table(
            ["parameter", "method", "value", "95% interval", "n", "unit", "note"],
            [
                (e.name, e.method.removeprefix("offline fit: "), *row(e)[1:])
                for e in cal.offline_estimates()
            ],
            title="\noffline fit (calibrate's own fits of the whole data)",
        )
        from mmkit.calibrate.intensity import in_ticks_and_price

        typer.echo("")
        for name, fit in cal.intensity.items():
            if not math.isfinite(fit.kappa.value):
                continue
            u = in_ticks_and_price(fit.kappa.value, cal.tick, cal.mid_ref)
            typer.echo(
                f"kappa ({name}): {fit.kappa.value:.6g} per unit relative depth = "
                f"{u['per_tick']:.6g} per tick ({cal.tick:g}) = {u['per_price_unit']:.6g} per "
                f"unit of price at mid {cal.mid_ref:.6g}"
            )
        typer.echo(f"kappa fit written: {cal.kappa_method} ({cal.kappa_method_reason})")
        for c in cal.comparisons:
            typer.echo(f"engine vs offline: {c}")
        for m in cal.models:
            typer.echo(
                f"prediction log {m.model} ({m.kind}, n={m.n}): "
                + ", ".join(f"{k} {v:.4g}" for k, v in m.scores.items())
            )
        for w in cal.warnings:
            typer.echo(f"warning: {w}")
        typer.echo(f"overlay: {out}\nreport: {report}")
        if plots is not None:
            with writing(plots, "--plots"):
                written = write_plots(run, plots)
            for p in written:
                typer.echo(f"plot: {p}")
