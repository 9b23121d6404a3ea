"""``mmkit sweep`` (light at import: dask and the engine load in the body)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mmkit.cli.common import ConfigOption, SetOption

if TYPE_CHECKING:
    from mmkit.sweep.run import SweepResult


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
        workers: int | None = typer.Option(
            None, "--workers", help="Local cluster workers, >= 1 (default: one per core)."
        ),
        out: Path | None = typer.Option(
            None, "--out", "-o", metavar="FILE", help="Best parameters as TOML (+ .results.json)."
        ),
        top: int = typer.Option(
            20,
            "--top",
            help="Ranked rows of the results table to print, >= 1 (the runs not ranked are "
            "always listed).",
        ),
        include_halted: bool = typer.Option(
            False,
            "--include-halted",
            help="Also rank runs the kill switch halted, that never quoted, were mostly "
            "halted or had component faults (by default they are listed but not ranked, and "
            "never chosen as best).",
        ),
        tie_break: str = typer.Option(
            "first",
            "--tie-break",
            metavar="first|refuse",
            help="When several runs tie for best: 'first' writes the first in grid order and "
            "lists every tied set in best.toml; 'refuse' writes no best.toml (exit status 4).",
        ),
        market_cache: bool = typer.Option(
            True,
            "--market-cache/--no-market-cache",
            help="Timer cadence: the runs read the converted market from mmkit's cache, which "
            "a local cluster's sweep fills once before the runs (see `mmkit data cache`).",
        ),
    ) -> None:
        """Run many backtests (grid or random search) on Dask and rank the runs that traded.

        Exit status: 0 done (best.toml written with --out); 2 bad configuration or input;
        4 no best parameters: no run could be ranked (every run halted, never quoted, ...),
        or a tie for best with --tie-break refuse."""
        import json

        from mmkit.cli.common import print_table, resolve_config_path
        from mmkit.errors import ConfigError
        from mmkit.output_paths import check_not_an_input, check_output_file, writing
        from mmkit.runtime.logs import setup_logging
        from mmkit.sweep.cluster import cluster_problems, dask_client
        from mmkit.sweep.grid import load_sweep
        from mmkit.sweep.run import make_tasks, run_sweep

        problems = cluster_problems(scheduler, workers)  # at once, not when the runs start
        if tie_break not in ("first", "refuse"):
            problems.append(f"--tie-break {tie_break!r}: choose first or refuse")
        if top < 1:
            problems.append(f"--top {top}: must be an integer >= 1")
        if problems:
            raise ConfigError(problems)
        setup_logging(json_lines=False, log_file=None, console_level=40)
        cfg = resolve_config_path(config)
        if out is not None:  # before the runs, not after them
            check_output_file(out, "--out", make_parents=True)
            inputs = [*data, grid, *params, cfg]
            check_not_an_input(out, inputs, "--out", also_written=[results_path(out)])
        spec = load_sweep(grid)
        tasks = make_tasks(
            spec, data, config=cfg, overlays=params, sets=sets, market_cache=market_cache
        )
        if tasks and scheduler is None:
            # the local cluster's workers load the kernels from the cache this fills (an
            # existing --scheduler's workers may be on other machines: it is left alone)
            from mmkit.data.inputs import check_input_files
            from mmkit.plugin_manager import get_host
            from mmkit.runtime.precompile import warm_up_for_command
            from mmkit.sweep.worker import settings_for

            check_input_files(data)
            warm_up_for_command("sweep", settings_for(tasks[0]), get_host())
            if market_cache and tasks[0].cadence == "timer":
                # converted once here, not by every worker of the first wave at once; data
                # that cannot be converted is reported by each run, in its row, as before
                import contextlib

                from mmkit.data.market_stream import load_market
                from mmkit.errors import DataError

                with contextlib.suppress(DataError):
                    load_market(list(data), cache=True)
        from rich.progress import Progress

        with dask_client(scheduler, workers) as client, Progress(transient=True) as bar:
            task = bar.add_task(f"sweep ({len(tasks)} runs)", total=len(tasks))
            result = run_sweep(
                spec,
                tasks,
                client,
                lambda r: bar.update(task, advance=1),
                include_halted=include_halted,
            )
        keys = list(tasks[0].overrides) if tasks else []
        headers, rows = table_rows(result, keys, top)
        print_table(headers, rows, title=table_title(result))
        for line in verdict_lines(result, tie_break):
            typer.echo(line)
        best_text = (
            best_toml(result) if tie_break == "first" or len(result.tied_best) == 1 else None
        )
        if out is not None:
            res_path = results_path(out)
            with writing(out, "--out"):
                out.parent.mkdir(parents=True, exist_ok=True)
                res_path.write_text(json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n")
                if best_text is not None:
                    out.write_text(best_text)
            if best_text is not None:
                typer.echo(f"best parameters: {out}")
            elif out.exists():
                typer.echo(f"best parameters: not written; {out} is left as it was (older run)")
            typer.echo(f"results: {res_path}")
        if best_text is None:
            raise typer.Exit(EXIT_NO_BEST)


def results_path(out: Path) -> Path:
    """Where ``--out best.toml`` puts every run's results: ``best.results.json``."""
    return out.with_suffix(".results.json")


#: exit status of ``mmkit sweep`` when it has no best parameters to give (no run ranked, or
#: a tie for best refused): a script chaining ``sweep -o best.toml && backtest --params
#: best.toml`` must not go on with a stale or arbitrary best.toml
EXIT_NO_BEST = 4


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _param(v: object) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _pct(v: object) -> str:
    return f"{100.0 * v:.0f}%" if isinstance(v, float) else "?"


def table_title(result: SweepResult) -> str:
    """``mmkit sweep: 3 runs ranked by equity (2 ranked, 1 not ranked)``."""
    n = len(result.rows)
    k = len(result.ranked)
    return f"mmkit sweep: {n} runs ranked by {result.spec.metric} ({k} ranked, {n - k} not ranked)"


def table_rows(result: SweepResult, keys: list[str], top: int) -> tuple[list[str], list[list[str]]]:
    """The results table: the ``top`` first ranked rows, then every row that was not ranked
    (always shown: they are what the ranking left out). Columns: rank ("-" when not
    ranked), the swept keys, the metric and the usual figures, time quoting (% of the
    post-warmup time, "?" when the report does not measure it), time halted (s), kill-switch
    trips, the verdict, a note ("tie", or why the row is not ranked) and the run's headline."""
    m = result.spec.metric_key
    cols = [m] + [c for c in ("equity", "fills", "max_drawdown") if c != m]
    headers = ["rank", *keys, *cols, "quoting", "halted_s", "trips", "verdict", "note", "headline"]
    shown = result.ranked[:top] + [r for r in result.rows if r.get("rank") is None]
    rows = []
    for r in shown:
        o = r["outcome"]
        if r.get("rank") is None:
            note = f"not ranked: {r['unranked']}"
        elif o["excluded"]:
            note = f"included by --include-halted: {o['excluded']}"
        else:
            note = ""
        if r.get("tie"):
            note = "tie" + (f"; {note}" if note else "")
        report = r.get("report") or {}
        rows.append(
            [
                "-" if r.get("rank") is None else str(r["rank"]),
                *(_param(r["params"].get(k)) for k in keys),
                *(_fmt(report.get(c)) for c in cols),
                _pct(o["quoting_frac"]),
                "-" if o["halted_s"] is None else f"{o['halted_s']:.1f}",
                str(o["kill_switch_trips"]),
                o["verdict"],
                note,
                o["headline"],
            ]
        )
    return headers, rows


def verdict_lines(result: SweepResult, tie_break: str) -> list[str]:
    """What the ranking concluded, in words: how many runs were left out and why, which
    run is best, or that there is none, and any tie for best."""
    lines = []
    left = [r for r in result.rows if r.get("rank") is None]
    if left:
        why: dict[str, int] = {}
        for r in left:
            head = str(r["unranked"]).split(":")[0]
            why[head] = why.get(head, 0) + 1
        parts = ", ".join(f"{n} {w}" for w, n in sorted(why.items()))
        hint = "" if result.include_halted else " (--include-halted ranks halted runs too)"
        lines.append(f"not ranked: {len(left)} of {len(result.rows)} runs: {parts}{hint}")
    tied = result.tied_best
    if not tied:
        lines.append(
            "no best parameters: no run could be ranked; best.toml is not written (exit status "
            f"{EXIT_NO_BEST})"
        )
    elif len(tied) > 1:
        sets = "; ".join(_params_text(r["params"]) for r in tied)
        tol = result.spec.tie_tolerance
        if tie_break == "first":
            lines.append(
                f"TIE for best: {len(tied)} runs within tie_tolerance {tol:g} ({sets}); "
                "best.toml takes the first in grid order and lists them all"
            )
        else:
            lines.append(
                f"TIE for best: {len(tied)} runs within tie_tolerance {tol:g} ({sets}); "
                f"--tie-break refuse: best.toml is not written (exit status {EXIT_NO_BEST})"
            )
    return lines


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {_param(v)}" for k, v in params.items())


def best_toml(result: SweepResult) -> str | None:
    """best.toml's text: a header saying how the best was chosen (metric value, verdict,
    headline, runs left out, every tied parameter set when there is a tie) and the best
    run's parameters as a config overlay; None when no run was ranked."""
    import tomli_w

    best = result.best
    if best is None:
        return None
    spec = result.spec
    n = len(result.rows)
    lines = [
        f"# mmkit sweep: best of {len(result.ranked)} ranked runs ({n} ran) by {spec.metric}",
        f"# {spec.metric_key} = {_fmt(best.get('value'))}; run {best['index']}: "
        f"{best['outcome']['headline']}",
    ]
    if n > len(result.ranked):
        lines.append(f"# {n - len(result.ranked)} runs not ranked (halted, never quoted, ...)")
    if result.include_halted and best["outcome"]["excluded"]:
        lines.append(f"# WARNING: ranked with --include-halted: {best['outcome']['excluded']}")
    tied = result.tied_best
    if len(tied) > 1:
        lines.append(
            f"# TIE: {len(tied)} runs equal within tie_tolerance {spec.tie_tolerance:g}; this "
            "file takes the first in grid order. Tied parameter sets:"
        )
        lines += [f"#   run {r['index']}: {_params_text(r['params'])}" for r in tied]
    return "\n".join(lines) + "\n" + tomli_w.dumps(result.best_overlay())
