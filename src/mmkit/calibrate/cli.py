"""``mmkit calibrate`` (light at import: numpy and friends load inside the command)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(cli: typer.Typer) -> None:
    @cli.command("calibrate")
    def calibrate_cmd(
        data: list[Path] = typer.Argument(
            ..., metavar="DATA...", help="Event stores (.parquet) or raw captures."
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Calibrated parameters (TOML overlay) to write."
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
            "mle",
            "--kappa-method",
            help="Fit written as the kappa prior: mle, student_t, loglinear.",
        ),
        sample_s: float = typer.Option(
            1.0, "--sample-s", help="Mid sampling interval for sigma (s)."
        ),
        progress: bool = typer.Option(
            True, "--progress/--no-progress", help="Progress bar over files."
        ),
    ) -> None:
        """Calibrate A, kappa (trades, book, own fills) and sigma from market data."""
        from mmkit.calibrate.report import validate_overlay, write
        from mmkit.calibrate.run import calibrate, write_plots
        from mmkit.calibrate.scan import ScanSettings
        from mmkit.cli.common import print_table

        if plots is not None:
            from mmkit.extras import pyplot

            pyplot()  # fail before the work when matplotlib is missing
        settings = ScanSettings(mid_every_s=sample_s, tick=tick, fmt=fmt)
        if progress:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("calibrating", total=len(data))

                def step(path: Path, events: int) -> None:
                    bar.update(task, advance=1, description=f"{path.name}: {events:,} events")

                run = calibrate(
                    data,
                    journal=journal,
                    settings=settings,
                    kappa_method=kappa_method,
                    on_file=step,
                )
        else:
            run = calibrate(data, journal=journal, settings=settings, kappa_method=kappa_method)
        cal = run.calibration
        report = write(cal, out)
        validate_overlay(out)
        rows = [
            (e.name, e.method, f"{e.value:.6g}", f"[{e.lo:.6g}, {e.hi:.6g}]", e.n, e.unit)
            for e in cal.estimates()
        ]
        print_table(
            ["parameter", "method", "value", "95% interval", "n", "unit"],
            rows,
            title=f"mmkit calibrate: {cal.trades:,} trades over {cal.duration_s:,.0f} s",
        )
        from mmkit.calibrate.intensity import in_ticks_and_price

        for name, fit in cal.intensity.items():
            u = in_ticks_and_price(fit.kappa.value, cal.tick, cal.mid_ref)
            typer.echo(
                f"kappa ({name}): {fit.kappa.value:.6g} per unit relative depth = "
                f"{u['per_tick']:.6g} per tick ({cal.tick:g}) = {u['per_price_unit']:.6g} per "
                f"unit of price at mid {cal.mid_ref:.6g}"
            )
        for m in cal.models:
            typer.echo(
                f"prediction log {m.model} ({m.kind}, n={m.n}): "
                + ", ".join(f"{k} {v:.4g}" for k, v in m.scores.items())
            )
        typer.echo(f"overlay: {out}\nreport: {report}")
        if plots is not None:
            for p in write_plots(run, plots):
                typer.echo(f"plot: {p}")
