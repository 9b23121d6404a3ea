"""The audit's twin-equivalence invariants: a correct third-party twin passes, a twin that
drifts from its reference fails with a shrunk counterexample, a component without a twin is
not applicable."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

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


def _with_broken_kernel(monkeypatch: Any, item: str, module: Any, name: str, kernel: Any) -> Result:
    """The estimator twin equivalence of ``item`` with its twin module's kernel entry
    ``name`` replaced by ``kernel`` (the entry points not bound over it): a FAIL."""
    monkeypatch.setattr(module, "_bind", lambda: None)
    monkeypatch.setattr(module, name, kernel)
    r = _run(item, "twins.estimator_equivalence")
    assert r.status is Status.FAIL, r.message
    return r


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


def test_the_audit_proves_the_kernels_a_twin_only_runs_where_they_pay(monkeypatch: Any) -> None:
    """The executor's twin runs its reference's diff by default (cheaper than packing its
    orders); the audit switches its kernels on, so a reconcile kernel one ulp off is caught
    although the default twin would never run it."""
    import numpy as np

    from mmkit.audit.invariants.twins import build_pair
    from mmkit.execution import smart_executor_twin as tw
    from mmkit.execution.reconciler import OpKind

    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={})
    (target,) = component_targets(host, s, ["executor:smart"])
    ref, twin = build_pair(target)
    assert isinstance(twin, tw.SmartExecutorTwin) and twin.reconcile_in_kernel
    assert not ref.twin().reconcile_in_kernel  # what a run gets

    real = tw._ops_of

    def one_ulp_off(*args: Any) -> Any:
        return [
            (bid, op._replace(sz=float(np.nextafter(op.sz, np.inf))))
            if op.kind is OpKind.MODIFY
            else (bid, op)
            for bid, op in real(*args)
        ]

    monkeypatch.setattr(tw, "_ops_of", one_ulp_off)
    r = run_check(BY_ID["twins.executor_equivalence"], target, RunContext(examples=30, seed=0))
    assert r.status is Status.FAIL, r.message


def test_the_signals_twins_pass() -> None:
    """The adverse-selection classifier's, the RL skew agent's and the lead-lag
    estimator's twins, on the audit's streams and its fixed markets of a moving top of book
    (which trains the models) and of a leader venue (which makes a lead significant)."""
    for item in ("estimator:adverse_selection", "estimator:rl_skew", "estimator:lead_lag"):
        r = _run(item, "twins.estimator_equivalence")
        assert r.status is Status.PASS, (item, r.message)


def test_a_twin_off_only_once_its_model_has_learnt_fails(monkeypatch: Any) -> None:
    """A classifier twin whose prediction kernel is wrong only with a trained model (the
    sides swapped: equal while the weights are zero) fails on the fixed market of a moving
    top of book, which drawn streams alone never train the model on."""
    from mmkit.signals import _kernels_features as kern
    from mmkit.signals import adverse_selection_twin as tw

    real = kern.toxicities.py_func

    def swapped(f: Any, w: Any, x: Any, weight: float, base: float) -> tuple[float, float]:
        ta, tb = real(f, w, x, weight, base)
        return tb, ta

    r = _with_broken_kernel(monkeypatch, "estimator:adverse_selection", tw, "_toxicities", swapped)
    assert "twin differs" in r.message and "adverse.toxicity_" in r.message
    assert "top_of_book_session()" in r.counterexample, r.counterexample


def test_a_lead_lag_twin_off_only_with_a_live_leader_fails(monkeypatch: Any) -> None:
    """A lead-lag twin whose follower kernel stores the new mid before sampling the grid
    points due (the samples then see it early: equal while no leader is live, as on every
    drawn stream) fails on the audit's fixed market of a leader venue."""
    from mmkit.signals import _kernels_leadlag_twin as kern
    from mmkit.signals import lead_lag_twin as tw

    def early(f: Any, i: Any, x: Any, y: Any, mid: float, now: int) -> int:
        f[kern.F_FOLLOW_MID] = mid
        return int(kern.advance.py_func(f, i, x, y, now))

    r = _with_broken_kernel(monkeypatch, "estimator:lead_lag", tw, "_follower", early)
    assert "twin differs" in r.message and "lead_lag." in r.message
    assert "lead_lag_session()" in r.counterexample, r.counterexample
