"""Config errors one by one, layering and precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.foundation.toy_plugin import TOY_SETS

from mmkit.config.loader import Settings, load_settings
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost


@pytest.fixture
def host() -> PluginHost:
    h = PluginHost(load_entrypoints=False, extra_modules=["tests.foundation.toy_plugin"])
    assert not h.errors, h.errors
    return h


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mmkit.toml"
    p.write_text(text)
    return p


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return exc.value.problems


def load(
    host: PluginHost,
    path: Path | None = None,
    env: dict[str, str] | None = None,
    sets: list[str] | None = None,
    flags: dict[str, object] | None = None,
) -> Settings:
    return load_settings(
        path, host.registry, env=env or {}, sets=[*TOY_SETS, *(sets or [])], flags=flags
    )


def test_defaults_load(host: PluginHost) -> None:
    s = load(host)
    assert s.components.quoter == "toy_quoter"
    assert s.component_params("quoter", "toy_quoter").half_spread_bps == 5.0
    assert s.instrument.coin == "BTC"


def test_unknown_key_with_suggestion_names_file_and_path(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[risk]\nmax_positon = 1.0\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    assert problems(e) == [f"{p}: [risk] unknown key 'max_positon'; did you mean 'max_position'?"]


def test_unknown_section(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[instrumnet]\ncoin = 'ETH'\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    assert problems(e) == [f"{p}: unknown section [instrumnet]; did you mean [instrument]?"]


def test_wrong_type(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[quoters.toy_quoter]\nlevels = 'three'\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    assert problems(e) == [f"{p}: quoters.toy_quoter.levels: expected an integer, got str 'three'"]


def test_out_of_range(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[quoters.toy_quoter]\nhalf_spread_bps = -1\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    assert problems(e) == [
        f"{p}: quoters.toy_quoter.half_spread_bps: -1.0 is out of range (must be > 0 and <= 10000)"
    ]


def test_bad_syntax_reports_line(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[risk]\nmax_position = 1.0\norder_size = = 2\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    (msg,) = problems(e)
    assert msg.startswith(f"{p}: TOML syntax error") and "line 3" in msg


def test_unknown_component_lists_available(host: PluginHost) -> None:
    with pytest.raises(ConfigError) as e:
        load(host, sets=["components.quoter='toy_qouter'"])
    (msg,) = [m for m in problems(e) if "components.quoter" in m]
    assert "unknown quoter 'toy_qouter'; did you mean 'toy_quoter'?" in msg
    assert "toy_quoter" in msg.split("available: ")[1].split(", ")


def test_unknown_component_table(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[quoters.nope]\nx = 1\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    (msg,) = problems(e)
    assert msg.startswith(f"{p}: [quoters.nope] unknown quoter 'nope'; available: ")
    assert "toy_quoter" in msg.split("available: ")[1].split(", ")


def test_env_overrides_file(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[risk]\nmax_position = 1.0\n")
    s = load(host, p, env={"MMKIT__RISK__MAX_POSITION": "2.5", "OTHER": "x"})
    assert s.risk.max_position == 2.5
    assert s.sources["risk.max_position"] == "environment variable MMKIT__RISK__MAX_POSITION"


def test_env_error_names_the_variable(host: PluginHost) -> None:
    with pytest.raises(ConfigError) as e:
        load(host, env={"MMKIT__QUOTERS__TOY_QUOTER__LEVELS": "lots"})
    assert problems(e) == [
        "environment variable MMKIT__QUOTERS__TOY_QUOTER__LEVELS: "
        "quoters.toy_quoter.levels: expected an integer, got str 'lots'"
    ]


def test_cli_overrides_env_and_flags_override_cli(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[instrument]\ncoin = 'SOL'\n")
    s = load(host, p, env={"MMKIT__INSTRUMENT__COIN": "ETH"}, sets=["instrument.coin='DOGE'"])
    assert s.instrument.coin == "DOGE"
    s = load(
        host,
        p,
        env={"MMKIT__INSTRUMENT__COIN": "ETH"},
        sets=["instrument.coin='DOGE'"],
        flags={"instrument.coin": "BTC"},
    )
    assert s.instrument.coin == "BTC"
    assert s.sources["instrument.coin"] == "command line option for instrument.coin"


def test_bad_set_syntax(host: PluginHost) -> None:
    with pytest.raises(ConfigError) as e:
        load(host, sets=["risk.max_position"])
    assert "command line --set 'risk.max_position': expected SECTION.KEY=VALUE" in problems(e)


def test_private_key_in_config_is_refused(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[venue]\nprivate_key = '0xabc'\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    joined = "\n".join(problems(e))
    assert "private keys are never read from config" in joined
    assert "0xabc" not in str(e.value)


def test_all_problems_reported_together(host: PluginHost, tmp_path: Path) -> None:
    p = write(tmp_path, "[risk]\nmax_position = 0\norder_size = 'x'\n")
    with pytest.raises(ConfigError) as e:
        load(host, p)
    assert len(problems(e)) == 2


def test_instrument_cross_field_check(host: PluginHost) -> None:
    with pytest.raises(ConfigError) as e:
        load(host, sets=["instrument.sz_decimals=7", "instrument.max_decimals=6"])
    assert any("sz_decimals=7 must lie in [0, max_decimals=6]" in m for m in problems(e))
