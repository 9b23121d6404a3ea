"""One test per path a private key could leak through (issue 16, item 11).

Each test puts a key where a user could put it by mistake (or where it legitimately is) and
checks the key appears in none of its forms (0x-hex, bare hex, upper case, and the decimal
integer TOML makes of ``0x<key>``) in what the user sees. Each failed on the code before this
work: the decimal form was printed by the ``--set`` type error, key-shaped names and paths
were echoed by "environment variable ... is not set" / "key file ... does not exist", and
``config validate`` accepted (and ``config show`` printed) a key in ``venue.account``.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest

from mmkit.cli.main import main
from mmkit.config.loader import load_settings
from mmkit.errors import ConfigError, VenueError
from mmkit.plugin_manager import get_host
from mmkit.redact import looks_like_key, redact
from mmkit.runtime.journal import Journal
from mmkit.runtime.logs import setup_logging
from mmkit.venues.hyperliquid.keys import SigningKey, load_signing_key

# a valid secp256k1 key used only here (not the one of the other tests: each test must
# register it itself, through the path under test)
KEY = "0x2f0b6c1d3e4a5b697887a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5"
BARE = KEY[2:]
FORMS = [KEY, BARE, BARE.upper(), str(int(BARE, 16))]


def leaked(text: str) -> list[str]:
    low = text.lower()
    return [f for f in FORMS if f.lower() in low]


def _reg() -> object:
    return get_host().registry


def _config_error(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(registry=_reg(), **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# -- configuration: --set, file, environment -------------------------------------------------


def test_set_key_env_to_a_hex_key_is_refused_without_the_integer() -> None:
    """Before: TOML read 0x<key> as an integer and the type error printed it in decimal."""
    msg = _config_error(path=None, sets=[f"venue.key_env={KEY}"], env={})
    assert "looks like a private key; refused" in msg
    assert "venue.key_env" in msg
    assert leaked(msg) == []


@pytest.mark.parametrize("setting", ["key_env", "key_file", "account", "vault", "url"])
def test_key_in_a_non_key_setting_of_the_file_is_refused(tmp_path: Path, setting: str) -> None:
    p = tmp_path / "mmkit.toml"
    p.write_text(f'[venue]\n{setting} = "{KEY}"\n')
    msg = _config_error(path=p, env={})
    assert f"venue.{setting}: value looks like a private key; refused" in msg
    assert leaked(msg) == []


def test_key_as_a_bare_toml_integer_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "mmkit.toml"
    p.write_text(f"[venue]\naccount = {KEY}\n")  # TOML hex integer, 256 bits
    msg = _config_error(path=p, env={})
    assert "venue.account" in msg and "64-bit" in msg
    assert leaked(msg) == []


@pytest.mark.parametrize("value", [KEY, BARE, f"prefix-{BARE}", f"'{KEY}'"])
def test_key_in_an_environment_override_is_refused(value: str) -> None:
    msg = _config_error(path=None, env={"MMKIT__VENUE__ACCOUNT": value})
    assert "MMKIT__VENUE__ACCOUNT" in msg and "looks like a private key" in msg
    assert leaked(msg) == []


def test_key_in_any_string_setting_and_in_a_malformed_set() -> None:
    msg = _config_error(path=None, sets=[f"trade.journal_dir={BARE}", KEY], env={})
    assert "trade.journal_dir" in msg and "expected SECTION.KEY=VALUE" in msg
    assert leaked(msg) == []


# -- the CLI: config validate / show ---------------------------------------------------------


@pytest.mark.parametrize("command", [["config", "validate"], ["config", "show"]])
def test_config_commands_refuse_and_never_print_a_key(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``validate`` said OK to ``account = "<key>"`` and ``show`` printed it."""
    p = tmp_path / "mmkit.toml"
    p.write_text(f'[venue]\naccount = "{KEY}"\n')
    args = [*command, str(p)] if command[1] == "validate" else [*command, "--config", str(p)]
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    assert info.value.code == 2
    assert "looks like a private key; refused" in out.err
    assert leaked(out.out + out.err) == []


def test_config_show_set_hex_integer(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["config", "show", "--json", "--set", f"venue.key_env={KEY}"])
    out = capsys.readouterr()
    assert info.value.code == 2
    assert leaked(out.out + out.err) == []


# -- loading the key -------------------------------------------------------------------------


def test_key_env_holding_a_key_is_refused_without_echo() -> None:
    """Before: "environment variable 0x<key> is not set"."""
    with pytest.raises(VenueError) as info:
        load_signing_key(key_env=KEY, environ={})
    assert "looks like a private key; refused" in str(info.value)
    assert leaked(str(info.value)) == []


def test_key_file_set_to_a_key_is_refused_without_echo() -> None:
    """Before: "key file 0x<key> does not exist"."""
    with pytest.raises(VenueError) as info:
        load_signing_key(key_env="", key_file=BARE, environ={})
    assert "venue.key_file looks like a private key" in str(info.value)
    assert leaked(str(info.value)) == []


def test_key_file_errors_never_show_the_key(tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    loose.write_text(KEY + "\n")
    os.chmod(loose, 0o644)
    two = tmp_path / "two.key"
    two.write_text(f"{KEY}\n{KEY}\n")
    os.chmod(two, 0o600)
    for path in (loose, two):
        with pytest.raises(VenueError) as info:
            load_signing_key(key_env="", key_file=str(path), environ={})
        assert leaked(str(info.value)) == [], path


def test_the_key_is_registered_the_moment_it_is_read() -> None:
    """Any later message carrying the key (even as the integer) is scrubbed: venue errors,
    log records (message and traceback), journal rows."""
    key = load_signing_key(key_env="K", environ={"K": KEY})
    assert isinstance(key, SigningKey) and leaked(repr(key)) == []
    decimal = str(int(BARE, 16))
    # venue errors
    assert leaked(str(VenueError(f"echo {decimal} and {KEY}"))) == []


def test_log_records_are_scrubbed(tmp_path: Path) -> None:
    load_signing_key(key_env="K", environ={"K": KEY})
    buf = io.StringIO()
    setup_logging(json_lines=True, log_file=tmp_path / "log.jsonl", console_level=10, stream=buf)
    log = logging.getLogger("mmkit.test_secret_leaks")
    log.warning("signer %s", int(BARE, 16))
    try:
        raise ValueError(f"bad key {int(BARE, 16)}")
    except ValueError:
        log.exception("failed")
    setup_logging(json_lines=False, log_file=None, console_level=None)
    text = buf.getvalue() + (tmp_path / "log.jsonl").read_text()
    assert "signer" in text and "ValueError" in text
    assert leaked(text) == []


def test_journal_rows_are_scrubbed(tmp_path: Path) -> None:
    load_signing_key(key_env="K", environ={"K": KEY})
    j = Journal(tmp_path / "j.sqlite")
    j.note(1, "warn", f"key {int(BARE, 16)}")
    j.fault(2, "venue", f"key {KEY}")
    j.set_meta("config", f"k = {BARE}")
    j.close()
    blob = (tmp_path / "j.sqlite").read_bytes().decode("latin-1")
    assert "key" in blob
    assert leaked(blob) == []


def test_an_invalid_key_is_still_treated_as_a_secret() -> None:
    """A value read as the key but refused (63 digits) must not leak through later echoes."""
    bad = KEY[:-1]
    with pytest.raises(VenueError) as info:
        load_signing_key(key_env="K", environ={"K": bad})
    assert bad not in str(info.value) and bad[2:] not in str(info.value)
    assert bad not in redact(f"x {bad} y")


def test_looks_like_key_shapes() -> None:
    assert looks_like_key(KEY) and looks_like_key(BARE) and looks_like_key(f"a {KEY} b")
    assert not looks_like_key("0x14791697260e4c9a71f18484c9f997b308e59325")  # an address
    assert not looks_like_key(BARE[:63]) and not looks_like_key("MMKIT_PRIVATE_KEY")
