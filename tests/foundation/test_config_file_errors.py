"""A config path that is not a TOML file: one clear line naming it, never a codec message."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.config.loader import read_toml
from mmkit.errors import ConfigError


def test_a_directory_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a config file"):
        read_toml(tmp_path)


def test_binary_bytes_are_not_a_codec_message(tmp_path: Path) -> None:
    p = tmp_path / "run.sqlite"
    p.write_bytes(b"SQLite format 3\x00\xe0\xff")
    with pytest.raises(ConfigError) as e:
        read_toml(p)
    text = str(e.value)
    assert "not a TOML config file" in text and str(p) in text
    assert "codec" not in text


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_bytes_give_a_config_error_or_a_table(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "mmkit.toml"
    p.write_bytes(data)
    try:
        got = read_toml(p)
    except ConfigError as exc:
        assert str(p) in str(exc) and "codec" not in str(exc)
    else:
        assert isinstance(got, dict)
