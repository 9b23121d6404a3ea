"""``mmkit sweep`` (light at import: dask and the engine load in the body)."""

from __future__ import annotations

from pathlib import Path

import typer

from mmkit.cli.common import ConfigOption, SetOption


def register(cli: typer.Typer) -> None:
    @cli.command("sweep")
    def sweep_cmd(
        data: list[Path] = typer.Argument(..., metavar="DATA...", help="Market data files."),
        grid: Path = typer.Option(..., "--grid", metavar="FILE", help="The sweep file (TOML)."),
        config: Path | None = ConfigOption,
        sets: list[str] = SetOption,
        params: list[Path] = typer.Option([], "--params", metavar="FILE", help="Overlays."),
        scheduler: str | None = typer.Option(
            None,
            "--scheduler",
            metavar="tcp://HOST:PORT",
            help="Use an existing Dask scheduler (default: a local cluster on 127.0.0.1).",
        ),
        workers: int | None = typer.Option(None, "--workers", help="Local cluster workers."),
        out: Path | None = typer.Option(
            None, "--out", "-o", metavar="FILE", help="Best parameters as TOML (+ .results.json)."
        ),
        top: int = typer.Option(20, "--top", help="Rows of the results table to print."),
    ) -> None:
        """Run many backtests (grid or random search) on Dask and rank them."""
        import json

        import tomli_w

        from mmkit.cli.common import print_table, resolve_config_path
        from mmkit.runtime.logs import setup_logging
        from mmkit.sweep.cluster import dask_client
        from mmkit.sweep.grid import load_sweep
        from mmkit.sweep.run import make_tasks, run_sweep

        setup_logging(json_lines=False, log_file=None, console_level=40)
        spec = load_sweep(grid)
        cfg = resolve_config_path(config)
        tasks = make_tasks(spec, data, config=cfg, overlays=params, sets=sets)
        from rich.progress import Progress

        with dask_client(scheduler, workers) as client, Progress(transient=True) as bar:
            task = bar.add_task(f"sweep ({len(tasks)} runs)", total=len(tasks))
            result = run_sweep(spec, tasks, client, lambda r: bar.update(task, advance=1))
        keys = list(tasks[0].overrides) if tasks else []
        m = spec.metric_key
        cols = [m] + [c for c in ("equity", "fills", "max_drawdown") if c != m]
        rows = [
            [
                str(i + 1),
                *(
                    f"{r['params'][k]:.6g}"
                    if isinstance(r["params"][k], float)
                    else str(r["params"][k])
                    for k in keys
                ),
                *(_fmt(r["report"].get(c)) for c in cols),
            ]
            for i, r in enumerate(result.rows[:top])
        ]
        print_table(
            ["rank", *keys, *cols],
            rows,
            title=f"mmkit sweep: {len(tasks)} runs ranked by {spec.metric}",
        )
        if out is not None:
            best = result.best_overlay()
            out.parent.mkdir(parents=True, exist_ok=True)
            head = f"# mmkit sweep: best of {len(tasks)} runs by {spec.metric}\n"
            out.write_text(head + tomli_w.dumps(best))
            res_path = out.with_suffix(".results.json")
            res_path.write_text(json.dumps(result.rows, indent=2) + "\n")
            typer.echo(f"best parameters: {out}\nresults: {res_path}")


def _fmt(v: object) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)
