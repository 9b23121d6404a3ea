"""Registration of the built-in invariants through the hook, and plugin errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from mmkit import hookimpl
from mmkit.audit.invariant import Invariant, Severity
from mmkit.default_plugins import invariants as builtin
from mmkit.errors import PluginError
from mmkit.plugin_manager import PluginHost


def test_every_module_of_the_package_registers() -> None:
    host = PluginHost(load_entrypoints=False)
    ids = [i.id for i in host.invariants]
    assert "engine.no_nonfinite_output" in ids
    assert "engine.request_ids_increasing" in ids
    assert all(i.plugin == "invariants" for i in host.invariants)
    assert not [e for e in host.errors if e.plugin == "invariants"]


def test_importing_the_default_plugin_stays_light() -> None:
    import subprocess

    code = (
        "import sys, mmkit.default_plugins.invariants, mmkit.audit.cli; "
        "print(sorted(m for m in ('numpy', 'hypothesis', 'mmkit.audit.invariants.engine') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _fake_package(tmp_path: Path, modules: dict[str, str]) -> str:
    pkg = tmp_path / "fake_invariants_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in modules.items():
        (pkg / f"{name}.py").write_text(text)
    return pkg.name


GOOD = """
from mmkit.audit.invariant import Invariant, Severity
INVARIANTS = [Invariant(id="fake.ok", title="ok", section="8", severity=Severity.LOW,
                        kinds=("quoter",), check=lambda t, c: None)]
"""


def test_a_module_that_fails_to_import_is_a_plugin_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _fake_package(
        tmp_path, {"good": GOOD, "broken": "raise ImportError('no numba')", "empty": "X = 1"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found, problems = builtin.discover(name)
    assert [i.id for i in found] == ["fake.ok"]
    assert problems == [
        f"invariant module '{name}.broken' failed to import: ImportError: no numba",
        f"invariant module '{name}.empty' has no INVARIANTS list",
    ]
    monkeypatch.setattr(builtin, "INVARIANTS_PACKAGE", name)
    monkeypatch.setattr(builtin.discover, "__defaults__", (name,))
    host = PluginHost(load_entrypoints=False)
    host.check()  # commands that run the engine check the components only
    with pytest.raises(PluginError, match="broken"):
        host.check(invariants=True)  # the audit refuses a broken invariant set
    assert [i.id for i in host.invariants] == ["fake.ok"]  # the good one still registers
    (err,) = [e for e in host.errors if e.plugin == "invariants"]
    assert f"'{name}.broken' failed to import" in str(err)
    sys.modules.pop(name, None)


def test_third_party_invariants_register_through_the_hook() -> None:
    class Plugin:
        @hookimpl
        def register_invariants(self, register: Any) -> None:
            register(
                Invariant(
                    id="acme.spread_floor",
                    title="spread floor",
                    section="Acme checks",
                    severity=Severity.MEDIUM,
                    kinds=("quoter",),
                    check=lambda t, c: None,
                )
            )

    host = PluginHost(load_entrypoints=False)
    host.register_plugin(Plugin(), "acme")
    inv = next(i for i in host.invariants if i.id == "acme.spread_floor")
    assert inv.plugin == "acme"
