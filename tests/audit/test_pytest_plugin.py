"""The ``mmkit_audit`` fixture plugin authors use in their own test suites."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mmkit.audit import reference
from mmkit.audit.results import Status

from .conftest import BROKEN_SRC


def test_fixture_passes_a_sound_component(mmkit_audit: Any) -> None:
    results = mmkit_audit(
        kind="quoter",
        name="audit_reference",
        examples=15,
        plugins=[reference],
        load_entrypoints=False,
        only=["engine"],
    )
    assert [r.status for r in results] == [Status.PASS]


def test_fixture_fails_the_test_with_the_counterexample(
    mmkit_audit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BROKEN_SRC))
    import mmkit_broken_fixtures

    with pytest.raises(pytest.fail.Exception) as info:
        mmkit_audit(
            kind="quoter",
            name="broken_nan_quoter",
            examples=15,
            only=["engine"],
            plugins=[mmkit_broken_fixtures],
            load_entrypoints=False,
        )
    text = str(info.value)
    assert "FAIL engine.no_nonfinite_output" in text
    assert "Event sequence (local time since start):" in text
    results = mmkit_audit(
        kind="quoter",
        name="broken_nan_quoter",
        examples=15,
        only=["engine"],
        plugins=[mmkit_broken_fixtures],
        load_entrypoints=False,
        fail=False,
    )
    assert results[0].status is Status.FAIL


def test_the_fixture_is_found_through_the_pytest11_entry_point(tmp_path: Path) -> None:
    test_file = tmp_path / "test_plugin_author.py"
    test_file.write_text(
        "from mmkit.audit import reference\n"
        "def test_audit(mmkit_audit):\n"
        "    res = mmkit_audit(kind='executor', name='audit_reference', examples=5,\n"
        "                      plugins=[reference], load_entrypoints=False,\n"
        "                      only=['engine'])\n"
        "    assert {r.status.value for r in res} == {'PASS'}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout


def test_fixture_validates_params_like_the_config(mmkit_audit: Any) -> None:
    from mmkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"quoters\.audit_reference.*half_spred"):
        mmkit_audit(
            kind="quoter",
            name="audit_reference",
            params={"half_spred": 0.1},
            plugins=[reference],
            load_entrypoints=False,
        )
    results = mmkit_audit(
        kind="quoter",
        name="audit_reference",
        params={"half_spread": 0.01},
        plugins=[reference],
        load_entrypoints=False,
        only=["engine"],
        examples=5,
    )
    assert results[0].status is Status.PASS
