"""The audit's twin-equivalence invariants: a correct third-party twin passes, a twin that
drifts from its reference fails with a shrunk counterexample, a component without a twin is
not applicable."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from mmkit.audit.invariants.twins import INVARIANTS
from mmkit.audit.results import Result, Status
from mmkit.audit.runner import RunContext, component_targets, run_check
from mmkit.config.loader import load_settings
from mmkit.plugin_manager import PluginHost

REPO = Path(__file__).resolve().parents[2]
BROKEN_SRC = REPO / "plugins" / "mmkit-broken-fixtures" / "src"
BY_ID = {inv.id: inv for inv in INVARIANTS}


def _run(item: str, invariant: str, examples: int = 30) -> Result:
    if importlib.util.find_spec("mmkit_broken_fixtures") is None:
        sys.path.insert(0, str(BROKEN_SRC))
    host = PluginHost(load_entrypoints=False, extra_modules=["mmkit_broken_fixtures"])
    s = load_settings(None, host.registry, env={})
    (target,) = component_targets(host, s, [item])
    return run_check(BY_ID[invariant], target, RunContext(examples=examples, seed=0))


def test_a_correct_third_party_twin_passes() -> None:
    r = _run("estimator:ewma_vol", "twins.estimator_equivalence")
    assert r.status is Status.PASS, r.message


def test_a_drifting_twin_fails_with_its_counterexample() -> None:
    r = _run("estimator:broken_twin_vol", "twins.estimator_equivalence")
    assert r.status is Status.FAIL
    assert "twin differs: extras['ewma_vol.var']" in r.message
    # the fixed jumpy market every stream starts with already shows it: the op is named
    assert "fixed-market op" in r.message and "('trade', 0.0, 0.5, True)" in r.message
    assert "Failing test case" in r.counterexample


def test_a_component_without_twin_is_not_applicable() -> None:
    r = _run("estimator:broken_kappa", "twins.estimator_equivalence")
    assert r.status is Status.NOT_APPLICABLE
    assert "no compiled twin" in r.message
