"""``mmkit backtest`` (light at import: the engine, numba and matplotlib load in the body)."""

from __future__ import annotations

from pathlib import Path

import typer

from mmkit.cli.common import ConfigOption, SetOption


def register(cli: typer.Typer) -> None:
    @cli.command("backtest")
    def backtest_cmd(
        data: list[Path] = typer.Argument(
            None, metavar="DATA...", help="Event stores or raw captures (not with --market model)."
        ),
        config: Path | None = ConfigOption,
        sets: list[str] = SetOption,
        params: list[Path] = typer.Option(
            [], "--params", metavar="FILE", help="Calibrated parameters layered over the config."
        ),
        market: str = typer.Option(
            "data", "--market", help="data (replay DATA) or model (Monte Carlo)."
        ),
        cadence: str = typer.Option(
            "event",
            "--cadence",
            help="event: engine on every market event (executor's min requote interval); "
            "timer: requote every --requote-ms, market applied in bulk in between (fast). "
            "The former 'kernel' cadence was removed (see docs/research.md).",
        ),
        requote_ms: float | None = typer.Option(
            None, "--requote-ms", help="Timer period in ms (default: engine.timer_ms)."
        ),
        seed: int | None = typer.Option(None, "--seed", help="Seed (default: engine.seed)."),
        duration: float | None = typer.Option(
            None, "--duration", help="Simulated seconds at most."
        ),
        fmt: str = typer.Option("auto", "--format", help="Input format of DATA."),
        tick: float | None = typer.Option(None, "--tick", help="Price tick of DATA."),
        out: Path | None = typer.Option(
            None, "--out", "-o", metavar="DIR", help="Write report.json, report.md (and plots)."
        ),
        plots: bool = typer.Option(False, "--plots", help="PNG plots into --out (mmkit[plots])."),
        paths: int = typer.Option(1000, "--paths", help="Model market: independent paths."),
        json_out: bool = typer.Option(False, "--json", help="Print the JSON report."),
        market_cache: bool = typer.Option(
            True,
            "--market-cache/--no-market-cache",
            help="Timer cadence: read the converted market from mmkit's cache when it holds "
            "this very data, else keep it there (see `mmkit data cache`).",
        ),
    ) -> None:
        """Backtest the configured engine on market data or on the Avellaneda–Stoikov model."""
        import json

        from mmkit.backtest.cadence import check_cadence, check_duration_s, check_requote_ms
        from mmkit.cli.common import settings_from_cli
        from mmkit.data.params import check_format
        from mmkit.errors import ConfigError
        from mmkit.output_paths import check_output_dir, writing
        from mmkit.params import option_problems
        from mmkit.plugin_manager import get_host
        from mmkit.runtime.logs import setup_logging

        setup_logging(json_lines=False, log_file=None, console_level=40)
        if market not in ("data", "model"):
            raise ConfigError([f"--market {market!r}: choose data or model"])
        if market == "model" and data:
            files = ", ".join(str(d) for d in data)
            raise ConfigError(
                [
                    f"--market model simulates its own market and reads no DATA ({files}): "
                    "leave DATA out, or use --market data"
                ]
            )
        # options of the other kind of market would be ignored without a word
        data_only = {
            "--format": fmt != "auto",
            "--tick": tick is not None,
            "--cadence": cadence != "event",
            "--requote-ms": requote_ms is not None,
            "--no-market-cache": not market_cache,
        }
        unused = ([o for o, given in data_only.items() if given] if market == "model" else []) + (
            ["--paths"] if market == "data" and paths != 1000 else []
        )
        if unused:
            raise ConfigError(
                [
                    f"{o}: applies to --market {'data' if market == 'model' else 'model'} "
                    f"only; --market {market} would ignore it"
                    for o in unused
                ]
            )
        bad = option_problems({"--tick": tick}, gt=0)
        if bad:
            raise ConfigError(bad)
        if market == "data":
            check_format(fmt, option="--format")
        checked_cadence = check_cadence(cadence, "--cadence")
        if out is not None:
            check_output_dir(out, "--out")  # before the run, not after it
        checked_requote_ms = check_requote_ms(requote_ms)
        checked_duration_s = check_duration_s(duration)
        if plots:
            if out is None:
                raise ConfigError(["--plots needs --out DIR"])
            from mmkit.extras import pyplot

            pyplot()
        host = get_host()
        flags = {"engine.seed": seed}
        settings = settings_from_cli(config, sets, flags=flags, host=host, overlays=params)
        if market == "model":
            from mmkit.backtest.model_market import ModelOptions, run_model

            mopts = ModelOptions(paths=paths)
            if duration is not None:
                mopts.horizon_s = checked_duration_s
            rep = run_model(settings, host, mopts)
            text, payload = rep.to_markdown(), rep.to_json()
        else:
            if not data:
                raise ConfigError(["mmkit backtest: give DATA files (or --market model)"])
            from mmkit.runtime.heap import frozen_heap

            # the engine, numba and the data load only allocate for the run: no collection
            # until the run settles before its loop (mmkit.runtime.heap)
            with frozen_heap(collect_during_setup=False):
                from mmkit.backtest.report import plot
                from mmkit.backtest.runner import BacktestOptions, run_backtest
                from mmkit.data.inputs import check_input_files
                from mmkit.runtime.precompile import warm_up_for_command

                check_input_files(data)
                # a cold cache compiles for seconds: progress to stderr, not --json's stdout
                warm_up_for_command("backtest", settings, host)

                opts = BacktestOptions(
                    cadence=checked_cadence,
                    requote_ms=checked_requote_ms,
                    duration_s=checked_duration_s,
                    data_format=fmt,
                    tick=tick,
                    market_cache=market_cache,
                )
                res = run_backtest(settings, host, data, opts)
            text, payload = res.report.to_markdown(), res.report.to_json()
            if out is not None:
                with writing(out, "--out"):
                    res.report.write(out)
                    write_path_csv(res.path, out / "path.csv")
                    if plots:
                        png = plot(res.report, res.path, out / "backtest.png", res.fills)
                        typer.echo(f"plot: {png}")
        if out is not None and market == "model":
            with writing(out, "--out"):
                out.mkdir(parents=True, exist_ok=True)
                (out / "report.json").write_text(json.dumps(payload, indent=2) + "\n")
                (out / "report.md").write_text(text)
        typer.echo(json.dumps(payload, indent=2) if json_out else text)


def write_path_csv(path: dict[str, object], out: Path) -> Path:
    """The sampled inventory / equity / mid path (one row per sample)."""
    import numpy as np

    cols = ["ts", "mid", "position", "equity"]
    arrs = [np.asarray(path[c]) for c in cols]
    with out.open("w") as fh:
        fh.write(",".join(cols) + "\n")
        for row in zip(*(a.tolist() for a in arrs), strict=True):
            fh.write(",".join(str(v) for v in row) + "\n")
    return out
