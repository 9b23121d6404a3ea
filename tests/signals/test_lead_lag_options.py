"""The options of ``mmkit signals lead-lag`` are checked before any input is read: a NaN or
infinite ``--interval``, ``--min-lag`` above ``--max-lag``, a NaN ``--alpha``, an unknown
``--format`` and integers beyond what the kernels take were internal errors (exit 70) or
accepted silently; each is now one line naming the option, exit 2."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.cli.helpers import run_cli

from mmkit.data.loaders import FORMATS
from mmkit.signals.cli import MAX_INT64, lead_lag_option_problems
from mmkit.signals.params import min_permutations

OPTIONS = ("--interval", "--min-lag", "--max-lag", "--perms", "--alpha", "--seed", "--format")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two Binance bookTicker captures of 600 quotes 50 ms apart over the same span (the
    analysis runs on them when the options are usable)."""
    d = tmp_path_factory.mktemp("pair")
    rng = np.random.default_rng(7)
    paths = []
    for name in ("lead", "fol"):
        mids = 60_000.0 + np.cumsum(rng.normal(0.0, 5.0, 600))
        p = d / f"{name}.gz"
        with gzip.open(p, "wt") as fh:
            for i, m in enumerate(mids.tolist()):
                q = {"u": i + 1, "s": "BTCUSDT", "b": f"{m - 0.01:.2f}", "B": "1.0"}
                q |= {"a": f"{m + 0.01:.2f}", "A": "1.0"}
                msg = {"stream": "btcusdt@bookTicker", "data": q}
                fh.write(f"{1_723_161_253_000_000_000 + i * 50_000_000} {json.dumps(msg)}\n")
        paths.append(p)
    return paths[0], paths[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--interval", "nan"], "--interval nan: must be a finite number of seconds"),
        (["--interval", "inf"], "--interval inf: must be a finite number of seconds"),
        (["--interval", "1e300"], "--interval 1e+300: must be a finite number of seconds"),
        (["--min-lag", "5", "--max-lag", "2"], "--min-lag 5: must not exceed --max-lag (2)"),
        (["--alpha", "nan"], "--alpha nan: must be a significance level in [1e-06, 0.5]"),
        (["--format", "foo"], "--format: unknown data format 'foo'; known: auto, binance"),
        (["--perms", str(2**64)], f"--perms {2**64}: must be a number of permutations"),
        (["--perms", "50"], "--perms 50: 50 permutations can never reach alpha 0.01"),
        (["--seed", "-1"], "--seed -1: must be in 0..4294967295"),
        (["--seed", str(2**64)], f"--seed {2**64}: must be in 0..4294967295"),
    ],
)
def test_a_bad_option_is_named(
    pair: tuple[Path, Path], args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lead, fol = pair
    code, out, err = run_cli(["signals", "lead-lag", str(lead), str(fol), *args], capsys)
    assert code == 2, (code, out, err)
    assert err.startswith("error: ") and needle in err, err
    assert "internal error" not in err and "Traceback" not in err


def test_usable_options_run(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    lead, fol = pair
    args = ["--format", "binance", "--seed", str(2**32 - 1), "--alpha", "0.5", "--perms", "19"]
    code, out, err = run_cli(["signals", "lead-lag", str(lead), str(fol), *args], capsys)
    assert code == 0, err
    assert "corr by lag 0..10:" in out


def _usable(
    interval: float, min_lag: int, max_lag: int, perms: int, alpha: float, seed: int, fmt: str
) -> bool:
    """Whether the analysis can take these values: the conversions the command makes (the
    grid step in whole nanoseconds, 64-bit integers for the kernels, numpy's seed range),
    and the rules between them, each tried here rather than restated."""
    try:
        round(interval * 1e9)  # the grid step in whole nanoseconds
        np.array([min_lag, max_lag, perms], dtype=np.int64)
        np.random.RandomState(seed)  # raises outside numpy's seed range
        reach = 1.0 / (1.0 + perms) < alpha and min_permutations(alpha) <= perms
    except (ValueError, OverflowError):
        return False
    return (
        interval >= 0.001  # the option's floor, 1 ms
        and 0 <= min_lag <= max_lag
        and max_lag >= 1
        and perms >= 19
        and 1e-6 <= alpha <= 0.5
        and reach
        and fmt in FORMATS
    )


@given(
    interval=st.floats(allow_nan=True, allow_infinity=True) | st.floats(1e-4, 10.0),
    min_lag=st.integers(-5, 2**70) | st.integers(0, 30),
    max_lag=st.integers(-5, 2**70) | st.integers(0, 30),
    perms=st.integers(-5, 2**70) | st.integers(0, 20_000),
    alpha=st.floats(allow_nan=True, allow_infinity=True) | st.floats(1e-7, 0.6),
    seed=st.integers(-(2**40), 2**70) | st.integers(0, 2**32 + 5),
    fmt=st.sampled_from([*FORMATS, "", "foo", "Binance"]),
)
def test_problems_are_exactly_the_unusable_options(
    interval: float, min_lag: int, max_lag: int, perms: int, alpha: float, seed: int, fmt: str
) -> None:
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
    assert (not bad) == _usable(interval, min_lag, max_lag, perms, alpha, seed, fmt), bad
    for line in bad:
        assert "\n" not in line and line.split(" ")[0].rstrip(":") in OPTIONS, line
    if not bad:
        assert math.isfinite(interval) and max_lag <= MAX_INT64
