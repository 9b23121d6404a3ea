"""A backtest's requote period and length: a value that would never end the run (a
negative, zero, NaN or sub-nanosecond period) or overflow its clock, and a length that is
not a number of seconds > 0, are refused with the option's name, from the CLI before
anything compiles, from a sweep file before any run starts, and from the library call."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.backtest.cadence import (
    MAX_REQUOTE_MS,
    MIN_REQUOTE_MS,
    check_duration_s,
    check_requote_ms,
)
from mmkit.errors import ConfigError

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)


@given(_ANY)
def test_a_requote_period_is_one_nanosecond_to_its_cap_or_refused(value: Any) -> None:
    ok = value is None or (
        not isinstance(value, bool | str) and MIN_REQUOTE_MS <= value <= MAX_REQUOTE_MS
    )
    if ok:
        got = check_requote_ms(value, "where")
        assert got is None if value is None else got == float(value)
        if got is not None:  # the loop's step: at least one ns, far from int64's end
            assert 1 <= int(got * 1_000_000) <= int(MAX_REQUOTE_MS * 1_000_000) < 2**62 // 256
    else:
        with pytest.raises(ConfigError) as e:
            check_requote_ms(value, "where")
        assert e.value.problems[0].startswith(f"where {value!r}: ")


@given(_ANY)
def test_a_length_is_seconds_above_zero_or_refused(value: Any) -> None:
    ok = value is None or (not isinstance(value, bool | str) and value > 0)
    if ok:
        got = check_duration_s(value, "where")
        assert got == (math.inf if value is None else float(value))
    else:
        with pytest.raises(ConfigError) as e:
            check_duration_s(value, "where")
        assert e.value.problems[0].startswith(f"where {value!r}: ")


@pytest.mark.parametrize(
    "args",
    [
        ["--requote-ms", "-5"],
        ["--requote-ms", "0"],
        ["--requote-ms", "nan"],
        ["--requote-ms", "1e-9"],
        ["--requote-ms", "1e300"],
        ["--duration", "-1"],
        ["--duration", "0"],
        ["--duration", "nan"],
    ],
)
def test_the_cli_refuses_them_before_anything_compiles(
    args: list[str],
    synthetic_store: Path,
    cold: list[list[str]],
) -> None:
    from mmkit.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main(["--no-entrypoints", "backtest", str(synthetic_store), "--cadence", "timer", *args])
    text = err.getvalue()
    assert exit_.value.code == 2, text
    assert text.startswith("error: ") and args[0] in text, text
    assert cold == [] and "compil" not in text  # said at once, no worker started


@pytest.mark.parametrize(
    ("line", "key"),
    [("requote_ms = -5", "requote_ms"), ("duration_s = 0", "duration_s")],
)
def test_a_sweep_file_with_them_is_refused(line: str, key: str, tmp_path: Path) -> None:
    from mmkit.sweep.grid import parse_sweep

    with pytest.raises(ConfigError) as e:
        import tomllib

        parse_sweep(tomllib.loads(f"[sweep]\n{line}\n[grid]\n'risk.order_size' = [0.1]\n"), "f")
    assert e.value.problems[0].startswith(f"f: [sweep] {key} ")


def test_the_library_call_refuses_them_too(synthetic_store: Path) -> None:
    from mmkit.backtest.runner import BacktestOptions, run_backtest
    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={})
    with pytest.raises(ConfigError, match=r"requote_ms -1\.0"):
        run_backtest(s, host, [synthetic_store], BacktestOptions("timer", requote_ms=-1.0))
    with pytest.raises(ConfigError, match="duration_s nan"):
        run_backtest(s, host, [synthetic_store], BacktestOptions("timer", duration_s=math.nan))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--paths", "1000000000"], "--paths 1,000,000,000 is more than"),
        (["--duration", "1e300"], "steps"),
        (["--duration", "inf"], "steps"),
    ],
)
def test_a_model_market_too_large_for_memory_or_a_lifetime_is_refused(
    args: list[str], needle: str
) -> None:
    """A billion paths asked for ~40 GB of arrays; an endless horizon never ended."""
    from mmkit.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main(["--no-entrypoints", "backtest", "--market", "model", *args])
    assert exit_.value.code == 2 and needle in err.getvalue(), err.getvalue()
