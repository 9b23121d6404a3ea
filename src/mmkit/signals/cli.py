"""``mmkit signals lead-lag LEADER FOLLOWER``: the lead-lag analysis on two captures."""

from __future__ import annotations

from pathlib import Path

import typer


def register(cli: typer.Typer) -> None:
    signals = typer.Typer(
        name="signals", help="Signal research: lead-lag between captures.", no_args_is_help=True
    )
    cli.add_typer(signals, name="signals")

    @signals.command("lead-lag")
    def lead_lag_cmd(
        leader: Path = typer.Argument(
            ...,
            metavar="LEADER",
            help="leader: an event store (Parquet) or a raw capture (Binance, Hyperliquid, ...)",
        ),
        follower: Path = typer.Argument(
            ..., metavar="FOLLOWER", help="follower: store or raw capture over the same span"
        ),
        interval: float = typer.Option(0.05, "--interval", min=0.001, help="grid, seconds"),
        min_lag: int = typer.Option(1, "--min-lag", min=0, help="smallest lag (samples)"),
        max_lag: int = typer.Option(10, "--max-lag", min=1, help="largest lag (samples)"),
        perms: int = typer.Option(199, "--perms", min=19, help="permutations"),
        alpha: float = typer.Option(0.01, "--alpha", min=1e-6, max=0.5),
        seed: int = typer.Option(0, "--seed"),
        fmt: str = typer.Option(
            "auto",
            "--format",
            help="format of raw inputs: auto, binance, hyperliquid, hyperliquid_archive, "
            "lobster (event stores are always recognised)",
        ),
    ) -> None:
        """Cross-correlation over lags and the MI permutation test on two inputs.

        Each input is an event store or a raw capture of any supported venue; its mids come
        from its BBO stream when it has one, else from the top of its rebuilt book.
        """
        from mmkit.data.inputs import check_input_file
        from mmkit.signals.captures import capture_lead_lag
        from mmkit.signals.params import min_permutations

        if 1.0 / (1.0 + perms) >= alpha:
            raise typer.BadParameter(
                f"{perms} permutations can never reach alpha {alpha}; "
                f"use at least {min_permutations(alpha)}",
                param_hint="--perms",
            )
        for p in (leader, follower):
            check_input_file(p)  # both checked before the (slower) reading starts
        found = capture_lead_lag(
            leader,
            follower,
            interval_s=interval,
            min_lag=min_lag,
            max_lag=max_lag,
            n_permutations=perms,
            alpha=alpha,
            seed=seed,
            fmt=fmt,
        )
        typer.echo(found.describe())
        corrs = ", ".join(f"{c:+.3f}" for c in found.result.corrs)
        typer.echo(f"corr by lag 0..{max_lag}: {corrs}")
