"""``mmkit audit --component KIND:NAME``: one component alone, through the real command line
(typer's CliRunner, in process) and the target selection it uses."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mmkit.audit.runner import component_targets
from mmkit.cli.main import build_app
from mmkit.config.loader import load_settings
from mmkit.errors import MmkitError
from mmkit.plugin_manager import PluginHost, reset_host
from mmkit.registry import KINDS

TOY = "tests.foundation.toy_plugin"
REPO = Path(__file__).resolve().parents[2]
BROKEN_SRC = REPO / "plugins" / "mmkit-broken-fixtures" / "src"


def _audit(*args: str) -> tuple[int, str]:
    """``mmkit --no-entrypoints`` with the toy, broken-fixtures and Avellaneda-Stoikov
    plugins named on the command line, ``audit ARGS``."""
    pytest.importorskip("mmkit_avellaneda_stoikov")
    if importlib.util.find_spec("mmkit_broken_fixtures") is None:
        sys.path.insert(0, str(BROKEN_SRC))
    reset_host(None)
    argv = [
        "--no-entrypoints",
        "--plugin",
        TOY,
        "--plugin",
        "mmkit_broken_fixtures",
        "--plugin",
        "mmkit_avellaneda_stoikov",
        "audit",
        "--examples",
        "3",
        *args,
    ]
    res = CliRunner().invoke(build_app(argv), argv)
    exc = res.exception
    if isinstance(exc, MmkitError):  # what mmkit.cli.main.main prints, exiting 2
        return 2, res.output + str(exc)
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc  # a traceback is a bug of the command, not a verdict
    return res.exit_code, res.output


def _quoter_invariants() -> set[str]:
    h = PluginHost(load_entrypoints=False, extra_modules=[TOY])
    return {i.id for i in h.invariants if "quoter" in i.kinds}


def test_a_component_alone_runs_exactly_the_invariants_of_its_kind(tmp_path: Path) -> None:
    # a third-party quoter that is not the configured one (glft is): audited alone, GO
    out = tmp_path / "r.json"
    code, text = _audit("--strict", "--component", "quoter:avellaneda_stoikov", "--out", str(out))
    assert code == 0, text
    rep = json.loads(out.read_text())
    assert [(c["kind"], c["name"]) for c in rep["components"]] == [("quoter", "avellaneda_stoikov")]
    ran = {r["invariant"] for r in rep["results"]}
    assert ran == _quoter_invariants() and ran
    assert {(r["kind"], r["component"]) for r in rep["results"]} == {
        ("quoter", "avellaneda_stoikov")
    }


def test_repeats_and_comma_lists_name_each_component_once(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, text = _audit(
        "--component",
        "estimator:toy_est, gate:toy_gate",
        "--component",
        "estimator:toy_est",
        "--out",
        str(out),
    )
    assert code in (0, 1), text  # a verdict on the toy components, whichever it is
    rep = json.loads(out.read_text())
    assert sorted((c["kind"], c["name"]) for c in rep["components"]) == [
        ("estimator", "toy_est"),
        ("gate", "toy_gate"),
    ]
    assert {(r["kind"], r["component"]) for r in rep["results"]} == {
        ("estimator", "toy_est"),
        ("gate", "toy_gate"),
    }


def test_a_broken_component_alone_fails() -> None:
    # not configured anywhere: audited because it was named, and its bug is caught
    code, text = _audit("--component", "quoter:broken_crossing")
    assert code == 1, text
    assert "FAIL" in text and "broken_crossing" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--component", "quoter"), "expected KIND:NAME"),
        (("--component", "quoters:toy_quoter"), "expected KIND:NAME"),
        (("--component", "quoter:"), "expected KIND:NAME"),
        (("--component", "quoter:nope"), "unknown quoter 'nope'"),
        (("--component", "quoter:toy_quoter", "--all"), "exclude each other"),
        (("--component", "feed:toy_feed"), "no selected invariant applies"),
        (("--component", "gate:toy_gate", "--only", "quoting"), "no selected invariant applies"),
    ],
)
def test_bad_selections_are_configuration_errors(args: tuple[str, ...], expected: str) -> None:
    code, text = _audit(*args)
    assert code != 0 and code != 1, text  # not an audit verdict
    assert expected in text


def test_targets_take_their_parameters_and_limits_from_the_configuration() -> None:
    h = PluginHost(load_entrypoints=False, extra_modules=[TOY])
    s = load_settings(
        None,
        h.registry,
        env={},
        sets=["quoters.toy_quoter.levels=3", "risk.max_position=0.5"],
    )
    (t,) = component_targets(h, s, ["quoter:toy_quoter"])
    assert t.params.levels == 3 and t.risk.max_position == 0.5
    assert t.instrument == s.instrument and t.seed == s.engine.seed


_HOST = PluginHost(load_entrypoints=False, extra_modules=[TOY])
_SETTINGS = load_settings(None, _HOST.registry, env={}, sets=[])
_NAMES = sorted({spec.name for spec in _HOST.registry})


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.builds(
                lambda k, n: f"{k}:{n}",
                st.sampled_from([*KINDS, "Quoter", "x"]),
                st.one_of(st.sampled_from(_NAMES), st.text(max_size=12)),
            ),
        ),
        max_size=4,
    )
)
def test_any_component_list_gives_targets_or_a_clear_error(items: list[str]) -> None:
    try:
        targets = component_targets(_HOST, _SETTINGS, items)
    except MmkitError as exc:
        assert "--component" in str(exc)
        return
    named = {
        (k.strip(), n.strip())
        for raw in items
        for p in raw.split(",")
        if p.strip()
        for k, _, n in [p.strip().partition(":")]
    }
    got = [(t.kind, t.name) for t in targets]
    assert len(got) == len(set(got)) and set(got) == named
