"""Plugin loading, attribution and fault reporting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.foundation.toy_plugin import TOY_SETS

from mmkit.config.loader import load_settings
from mmkit.core.types import Instrument
from mmkit.errors import ComponentNotFound, PluginError
from mmkit.plugin_manager import DEFAULT_PLUGINS, PluginHost, argv_plugin_options
from mmkit.registry import BuildContext, RiskLimits

TOY = "tests.foundation.toy_plugin"
BAD = "tests.foundation.bad_plugins."


def host(*extra: str) -> PluginHost:
    return PluginHost(load_entrypoints=False, extra_modules=[TOY, *extra])


def test_builtins_are_registered_through_the_hooks() -> None:
    h = host()
    assert [i.module for i in h.info.values() if i.source == "builtin"] == list(DEFAULT_PLUGINS)
    assert all(i.distribution == "mmkit" for i in h.info.values() if i.source == "builtin")


def test_components_are_attributed_to_their_plugin() -> None:
    h = host()
    spec = h.registry.get("quoter", "toy_quoter")
    assert spec.plugin == TOY and spec.params.__name__ == "ToyQuoterParams"
    assert ("quoter", "toy_quoter") in h.info[TOY].components


def test_import_failure_is_reported_not_raised() -> None:
    h = host("no.such.module")
    (err,) = h.errors
    assert err.plugin == "no.such.module"
    assert "failed to import 'no.such.module': ModuleNotFoundError" in str(err)


def test_duplicate_name_names_both_plugins() -> None:
    h = host(BAD + "dup_quoter")
    _ = h.registry
    (err,) = h.errors
    assert err.plugin == BAD + "dup_quoter"
    assert f"duplicate quoter name 'toy_quoter': already registered by plugin '{TOY}'" in str(err)


def test_invalid_component_is_refused_at_build_with_missing_methods() -> None:
    h = host(BAD + "not_a_quoter")
    spec = h.registry.get("quoter", "not_a_quoter")
    ctx = BuildContext("quoter", "not_a_quoter", None, Instrument(), RiskLimits())
    with pytest.raises(PluginError) as e:
        spec.build(ctx)
    msg = str(e.value)
    assert msg.startswith(f"plugin '{BAD}not_a_quoter'")
    assert "factory returned Nothing, which is not a valid quoter (missing: quote)" in msg


def test_raising_hook_is_reported() -> None:
    h = host(BAD + "raising_hook")
    _ = h.registry
    (err,) = h.errors
    assert "hook register_gates raised RuntimeError: boom in register_gates" in str(err)


def test_hook_name_typo_is_reported() -> None:
    h = host(BAD + "typo_hook")
    (err,) = h.errors
    assert err.plugin == BAD + "typo_hook" and "register_quoter" in str(err)


def test_bad_registration_arguments() -> None:
    h = host(BAD + "bad_params")
    _ = h.registry
    msgs = sorted(str(e) for e in h.errors)
    assert any("name 'bad params' must be an identifier-like string" in m for m in msgs)
    assert any("params must be a dataclass" in m for m in msgs)


def test_check_raises_first_error() -> None:
    h = host(BAD + "raising_hook")
    with pytest.raises(PluginError):
        h.check()


def test_unknown_component_lists_available() -> None:
    h = host()
    with pytest.raises(ComponentNotFound) as e:
        h.registry.get("quoter", "glfft", where="components.quoter")
    assert str(e.value).startswith("components.quoter: unknown quoter 'glfft'; available: ")
    assert "toy_quoter" in e.value.available


def test_env_var_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMKIT_PLUGINS", f"{TOY}, {BAD}observer")
    h = PluginHost(load_entrypoints=False)
    assert TOY in h.info and BAD + "observer" in h.info
    assert "mmkit_on_fill" in h.observer_hooks()
    assert h.info[BAD + "observer"].hooks == ["mmkit_on_fill"]


def test_entrypoints_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMKIT_LOAD_ENTRYPOINTS", "0")
    h = PluginHost()
    assert all(i.source != "entrypoint" for i in h.info.values())


def test_argv_preparse() -> None:
    assert argv_plugin_options(["--plugin", "a", "--plugin=b", "plugins", "--no-entrypoints"]) == (
        ["a", "b"],
        False,
    )
    assert argv_plugin_options(["plugins"]) == ([], None)


def test_settings_select_toy_components() -> None:
    h = host()
    s = load_settings(None, h.registry, env={}, sets=TOY_SETS)
    assert s.selected()[-2:] == [("quoter", "toy_quoter"), ("executor", "toy_exec")]


def run_cli(
    *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "mmkit", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_plugins_json_lists_builtins_and_extra() -> None:
    r = run_cli("--no-entrypoints", "--plugin", TOY, "plugins", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    names = {p["name"]: p for p in rep["plugins"]}
    assert "commands" in names and names["commands"]["distribution"] == "mmkit"
    assert {"kind": "quoter", "name": "toy_quoter"} in names[TOY]["components"]
    assert "register_quoters" in names[TOY]["hooks"]


def test_cli_plugins_reports_broken_plugin_and_exits_1() -> None:
    r = run_cli("--no-entrypoints", "--plugin", "no.such.module", "plugins")
    assert r.returncode == 1
    assert "error: plugin 'no.such.module': failed to import" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_table_output() -> None:
    r = run_cli("--no-entrypoints", "--plugin", TOY, "plugins")
    assert r.returncode == 0, r.stderr
    assert TOY in r.stdout and "quoter:toy_quoter" in r.stdout
