"""``mmkit audit`` through the real command line and the entry-point path.

The broken components come from the installed ``mmkit-broken-fixtures`` distribution
(``pip install -e plugins/mmkit-broken-fixtures``; CI installs it), found through the ``mmkit``
entry-point group like any third-party plugin.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HERE, REFERENCE_TOML

REPO = Path(__file__).resolve().parents[2]


def _installed() -> bool:
    try:
        importlib.metadata.distribution("mmkit-broken-fixtures")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_broken = pytest.mark.skipif(
    not _installed(), reason="pip install -e plugins/mmkit-broken-fixtures (CI installs it)"
)


def mmkit(*args: str, examples: int = 25) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    cmd = [
        sys.executable,
        "-m",
        "mmkit",
        "--plugin",
        "mmkit.audit.reference",
        "--plugin",
        "null_plugin",
        "audit",
        "-c",
        str(REFERENCE_TOML),
        "--examples",
        str(examples),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_the_reference_set_passes_strict() -> None:
    # the reference executor has no rate limits or budget: the execution.* invariants are not
    # meant for it; everything else must hold for the reference components
    out = mmkit("--strict", "--only", "engine,estimators,quoting,gates")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Overall: PASS (GO)" in out.stdout


def _registered_ids() -> set[str]:
    from mmkit.plugin_manager import PluginHost

    return {i.id for i in PluginHost(load_entrypoints=False).invariants}


REGISTERED = _registered_ids()
#: (--set, invariant that must FAIL, component label): one per defect of the broken plugin
BROKEN_CASES = [
    (
        "components.quoter=broken_nan_quoter",
        "engine.no_nonfinite_output",
        "quoter:broken_nan_quoter",
    ),
    (
        'components.estimators=["broken_kappa"]',
        "engine.no_nonfinite_output",
        "estimator:broken_kappa",
    ),
    (
        'components.estimators=["broken_kappa"]',
        "estimators.kappa_positive",
        "estimator:broken_kappa",
    ),
    (
        'components.estimators=["broken_sigma"]',
        "estimators.sigma_bounded",
        "estimator:broken_sigma",
    ),
    (
        'components.estimators=["broken_batch_kappa"]',
        "estimators.batch_equivalence",
        "estimator:broken_batch_kappa",
    ),
    ("components.quoter=broken_crossing", "quoting.no_self_cross", "quoter:broken_crossing"),
    (
        'components.gates=["broken_never_closes"]',
        "gates.data_quality_closes",
        "gate:broken_never_closes",
    ),
    (
        "components.executor=broken_modify_drop",
        "execution.modify_place_fallback",
        "executor:broken_modify_drop",
    ),
    ("components.executor=broken_budget", "execution.emergency_reserve", "executor:broken_budget"),
    (
        'components.estimators=["broken_twin_vol"]',
        "twins.estimator_equivalence",
        "estimator:broken_twin_vol",
    ),
    (
        'components.estimators=["broken_exp2_vol"]',
        "twins.estimator_equivalence",
        "estimator:broken_exp2_vol",
    ),
    (
        'components.estimators=["broken_deaf_throttle"]',
        "delivery.ignored_kinds",
        "estimator:broken_deaf_throttle",
    ),
    (
        'components.gates=["broken_deaf_pause"]',
        "delivery.ignored_kinds",
        "gate:broken_deaf_pause",
    ),
]


@needs_broken
@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "invariant", "component"),
    BROKEN_CASES,
    ids=[f"{c[2]}-{c[1]}" for c in BROKEN_CASES],
)
def test_a_broken_plugin_fails_strict_naming_the_invariant(
    setting: str, invariant: str, component: str
) -> None:
    if invariant not in REGISTERED:
        pytest.skip(f"invariant {invariant} is not registered in this tree")
    out = mmkit("--strict", "--set", setting, "--only", invariant)
    assert out.returncode == 1, out.stdout + out.stderr
    header = f"FAIL {invariant} on {component}: "
    assert header in out.stdout, out.stdout
    detail = out.stdout.split(header, 1)[1].split("\n\nOverall:", 1)[0].splitlines()
    assert len(detail) >= 3, out.stdout  # title, message, then the shrunk counterexample
    assert any(
        "Falsifying example" in ln
        or "Failing test case" in ln
        or "Failing explicit example" in ln
        or "sequence" in ln
        or "the code that shows it" in ln  # a finding read in a twin's kernels
        for ln in detail
    ), out.stdout
    assert "Overall: FAIL (NO-GO)" in out.stdout


@needs_broken
def test_the_broken_engine_cases_show_an_event_sequence() -> None:
    out = mmkit("--strict", "--set", "components.quoter=broken_nan_quoter", "--only", "engine")
    assert out.returncode == 1
    assert "Event sequence (local time since start):" in out.stdout


@needs_broken
def test_reports_are_written_in_every_format(tmp_path: Path) -> None:
    md, js, xml = tmp_path / "a.md", tmp_path / "a.json", tmp_path / "a.xml"
    out = mmkit(
        "--set",
        "components.quoter=broken_nan_quoter",
        "--only",
        "engine",
        "--out",
        str(md),
        "--out",
        str(js),
        "--out",
        str(xml),
        examples=10,
    )
    assert out.returncode == 1  # a FAIL fails even without --strict
    assert "**Overall Assessment**: FAIL" in md.read_text()
    assert '"overall": "FAIL"' in js.read_text()
    assert "<failure" in xml.read_text()


def test_config_and_selection_errors_exit_2() -> None:
    out = mmkit("--set", "components.quoter=nope")
    assert out.returncode == 2
    assert "unknown quoter 'nope'" in out.stderr
    out = mmkit("--only", "no.such.invariant")
    assert out.returncode == 2
    assert "--only 'no.such.invariant': no such invariant" in out.stderr
    out = mmkit("--format", "pdf")
    assert out.returncode == 2 and "--format 'pdf'" in out.stderr


def test_list_and_catalogue() -> None:
    out = mmkit("--list")
    assert out.returncode == 0 and "engine.no_nonfinite_output" in out.stdout
    out = mmkit("--catalogue")
    assert out.returncode == 0 and out.stdout.startswith("# Invariant catalogue")


@pytest.mark.parametrize("date", ["2026-13-45", "2026-02-30", "20261205", "x"])
def test_a_date_that_is_not_a_calendar_date_is_refused(date: str) -> None:
    """``--date`` is stamped on the report: 2026-13-45 was stamped as given."""
    import contextlib
    import io

    from mmkit.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main(["--no-entrypoints", "audit", "--date", date, "--list"])
    assert exit_.value.code == 2 and "--date" in err.getvalue() and "YYYY-MM-DD" in err.getvalue()
