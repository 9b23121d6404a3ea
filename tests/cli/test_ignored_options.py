"""Options and settings that were silently ignored or misreported are refused, naming them:

* ``backtest DATA --market model`` ran the model market and never read DATA;
* ``backtest/calibrate DATA --format nosuch`` said DATA "is an event store ... needs no
  conversion" instead that the format is unknown;
* ``config validate`` said OK to ``[venue] account = "0xnothex"`` (the live client refused it
  only when trading started);
* ``MMKIT_LOAD_ENTRYPOINTS=abc`` meant "on".
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.cli.helpers import out_args, run_cli

from mmkit.cli.main import main
from mmkit.config.loader import load_settings
from mmkit.data.market_stream import open_records
from mmkit.data.params import READ_FORMATS, check_format
from mmkit.errors import ConfigError, DataError
from mmkit.plugin_manager import (
    ENV_LOAD_ENTRYPOINTS,
    FALSE_WORDS,
    TRUE_WORDS,
    PluginHost,
    env_flag,
)


def _refused(args: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    code, out, err = run_cli(args, capsys)
    assert code == 2, (args, code, out, err)
    assert err.startswith("error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)
    return err


# -- backtest --market model with DATA ----------------------------------------------------------


def test_the_model_market_refuses_data_it_would_not_read(
    synthetic_store: Path, capsys: pytest.CaptureFixture[str], cold: list[list[str]]
) -> None:
    _refused(
        ["backtest", str(synthetic_store), "--market", "model", "--paths", "2"],
        capsys,
        "--market model simulates its own market and reads no DATA",
        synthetic_store.name,
    )
    _refused(["backtest", str(synthetic_store), "--market", "nope"], capsys, "--market 'nope'")
    assert cold == []


@pytest.mark.parametrize(
    "option",
    [
        ["--format", "binance"],
        ["--tick", "0.1"],
        ["--cadence", "timer"],
        ["--requote-ms", "50"],
        ["--no-market-cache"],
    ],
)
def test_the_model_market_refuses_the_options_of_data(
    option: list[str], capsys: pytest.CaptureFixture[str], cold: list[list[str]]
) -> None:
    """Data-only options were ignored without a word by ``--market model``."""
    _refused(
        ["backtest", "--market", "model", "--paths", "2", *option],
        capsys,
        f"{option[0]}: applies to --market data only; --market model would ignore it",
    )
    assert cold == []


def test_replayed_data_refuses_the_model_markets_paths(
    synthetic_store: Path, capsys: pytest.CaptureFixture[str], cold: list[list[str]]
) -> None:
    _refused(
        ["backtest", str(synthetic_store), "--paths", "5"],
        capsys,
        "--paths: applies to --market model only; --market data would ignore it",
    )
    assert cold == []


# -- --format -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["backtest", "calibrate"])
def test_an_unknown_format_is_said_as_such(
    command: str,
    synthetic_store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cold: list[list[str]],
) -> None:
    extra = out_args(command, tmp_path)
    err = _refused(
        [command, str(synthetic_store), "--format", "nosuch", *extra],
        capsys,
        "--format: unknown data format 'nosuch'; known: " + ", ".join(READ_FORMATS),
    )
    assert "event store" not in err
    assert cold == []


def test_convert_says_an_unknown_format_before_what_the_input_is(
    synthetic_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(
        ["data", "convert", "-f", "nosuch", str(synthetic_store), str(tmp_path / "o.parquet")],
        capsys,
        "unknown data format 'nosuch'; known: auto, binance",
    )
    assert "store" not in err.split("known:")[1]  # convert does not read stores


@given(st.one_of(st.sampled_from(READ_FORMATS), st.text(max_size=12)))
@example("Store")
@example(" auto")
def test_a_format_is_known_or_refused_listing_the_known(fmt: str) -> None:
    try:
        check_format(fmt, option="--format")
    except DataError as exc:
        assert fmt not in READ_FORMATS
        assert str(exc) == (
            f"--format: unknown data format {fmt!r}; known: {', '.join(READ_FORMATS)}"
        )
        with pytest.raises(DataError, match="unknown data format"):
            open_records(Path("/nonexistent/x.parquet"), fmt)  # before the file is looked at
    else:
        assert fmt in READ_FORMATS


# -- [venue] account / vault ------------------------------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_hex = st.text(alphabet="0123456789abcdefABCDEF", min_size=38, max_size=42)
_accounts = st.one_of(
    st.builds(lambda h: "0x" + h, _hex),
    st.builds(lambda p, h: p + h, st.sampled_from(["0X", "", "0x ", "x"]), _hex),
    st.text(max_size=44),
)


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(["account", "vault"]), value=_accounts)
@example(key="account", value="0xnothex")
@example(key="vault", value="0x" + "ab" * 20)
def test_a_venue_address_is_checked_when_the_config_is_loaded(key: str, value: str) -> None:
    host = PluginHost(load_entrypoints=False)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mmkit.toml"
        path.write_text(tomli_w.dumps({"venue": {key: value}}))
        try:
            s = load_settings(path, host.registry, env={})
        except ConfigError as exc:
            assert value and not _ADDRESS.fullmatch(value)
            assert exc.problems == [
                f"{path}: venue.{key}: {value!r} is not an address (0x + 40 hex digits)"
            ] or any("private key" in p for p in exc.problems)
        else:
            assert not value or _ADDRESS.fullmatch(value)
            assert getattr(s.venue, key) == value


def test_config_validate_refuses_an_account_that_is_not_an_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "mmkit.toml"
    p.write_text('[venue]\naccount = "0xnothex"\n')
    _refused(
        ["config", "validate", str(p)],
        capsys,
        f"{p}: venue.account: '0xnothex' is not an address (0x + 40 hex digits)",
    )


# -- MMKIT_LOAD_ENTRYPOINTS ----------------------------------------------------------------------


@given(st.one_of(st.sampled_from([*TRUE_WORDS, *FALSE_WORDS, "", " "]), st.text(max_size=8)))
@example("TRUE")
@example("abc")
@example(" off ")
def test_an_on_off_variable_takes_only_on_off_words(value: str) -> None:
    word = value.strip().lower()
    for default in (True, False):
        try:
            got = env_flag(ENV_LOAD_ENTRYPOINTS, default, {ENV_LOAD_ENTRYPOINTS: value})
        except ConfigError as exc:
            assert word and word not in (*TRUE_WORDS, *FALSE_WORDS)
            (problem,) = exc.problems
            assert problem.startswith(f"{ENV_LOAD_ENTRYPOINTS}=")
            assert "expected on (1, true, yes, on) or off (0, false, no, off)" in problem
        else:
            assert got == (default if not word else word in TRUE_WORDS)


def test_mmkit_plugins_refuses_a_load_entrypoints_that_is_no_boolean(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_LOAD_ENTRYPOINTS, "abc")
    with pytest.raises(SystemExit) as info:
        main(["plugins"])  # not --no-entrypoints: the variable is what decides
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("error: ") and "MMKIT_LOAD_ENTRYPOINTS='abc': expected on" in err
