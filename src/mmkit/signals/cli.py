"""``mmkit signals lead-lag LEADER FOLLOWER``: the lead-lag analysis on two captures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import typer

#: bounds of the options (typer's own range checks use them too; NaN passes those)
MIN_INTERVAL_S = 0.001
MIN_PERMS = 19
ALPHA_RANGE = (1e-6, 0.5)
#: the kernels take lags, permutations and the seed as 64-bit integers
MAX_INT64 = 2**63 - 1
#: numpy's seed range (numba's ``np.random.seed`` keeps only the low 32 bits of others)
MAX_SEED = 2**32 - 1


def lead_lag_option_problems(
    *,
    interval: float,
    min_lag: int,
    max_lag: int,
    perms: int,
    alpha: float,
    seed: int,
    fmt: str,
    formats: Sequence[str],
) -> list[str]:
    """What is wrong with the options of ``mmkit signals lead-lag``, one line per option
    naming it (empty: all usable)."""
    bad = []
    if not (math.isfinite(interval * 1e9) and interval >= MIN_INTERVAL_S):
        bad.append(f"--interval {interval}: must be a finite number of seconds >= {MIN_INTERVAL_S}")
    if not 0 <= min_lag <= MAX_INT64:
        bad.append(f"--min-lag {min_lag}: must be a number of samples in 0..{MAX_INT64}")
    if not 1 <= max_lag <= MAX_INT64:
        bad.append(f"--max-lag {max_lag}: must be a number of samples in 1..{MAX_INT64}")
    elif min_lag > max_lag:
        bad.append(f"--min-lag {min_lag}: must not exceed --max-lag ({max_lag})")
    lo, hi = ALPHA_RANGE
    alpha_ok = lo <= alpha <= hi  # False for NaN
    if not alpha_ok:
        bad.append(f"--alpha {alpha}: must be a significance level in [{lo:g}, {hi:g}]")
    if not MIN_PERMS <= perms <= MAX_INT64:
        bad.append(f"--perms {perms}: must be a number of permutations in {MIN_PERMS}..{MAX_INT64}")
    elif alpha_ok and 1.0 / (1.0 + perms) >= alpha:
        from mmkit.signals.params import min_permutations

        bad.append(
            f"--perms {perms}: {perms} permutations can never reach alpha {alpha}; "
            f"use at least {min_permutations(alpha)}"
        )
    if not 0 <= seed <= MAX_SEED:
        bad.append(f"--seed {seed}: must be in 0..{MAX_SEED}")
    if fmt not in formats:
        bad.append(f"--format: unknown data format {fmt!r}; known: {', '.join(formats)}")
    return bad


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
        interval: float = typer.Option(
            0.05, "--interval", min=MIN_INTERVAL_S, help="grid, seconds"
        ),
        min_lag: int = typer.Option(1, "--min-lag", min=0, help="smallest lag (samples)"),
        max_lag: int = typer.Option(10, "--max-lag", min=1, help="largest lag (samples)"),
        perms: int = typer.Option(199, "--perms", min=MIN_PERMS, help="permutations"),
        alpha: float = typer.Option(
            0.01,
            "--alpha",
            min=ALPHA_RANGE[0],
            max=ALPHA_RANGE[1],
            help="significance level of the permutation test",
        ),
        seed: int = typer.Option(0, "--seed", help=f"seed of the permutations (0..{MAX_SEED})"),
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
        from mmkit.data.loaders import FORMATS
        from mmkit.errors import ConfigError
        from mmkit.signals.captures import capture_lead_lag

        bad = lead_lag_option_problems(
            interval=interval,
            min_lag=min_lag,
            max_lag=max_lag,
            perms=perms,
            alpha=alpha,
            seed=seed,
            fmt=fmt,
            formats=FORMATS,
        )
        if bad:
            raise ConfigError(bad)
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
