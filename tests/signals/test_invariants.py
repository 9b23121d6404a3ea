"""The signal invariants PASS on the built-ins and FAIL on deliberately broken estimators."""

from __future__ import annotations

import pytest

from mmkit.audit.invariant import Invariant
from mmkit.audit.invariants.signals import INVARIANTS
from mmkit.components import Estimates
from mmkit.testing.verdicts import VerdictContext, builtin_target, target_of, verdict

from .broken_plugin import (
    NanExtras,
    OverconfidentToxicity,
    SilentGate,
    StickyLeadLag,
    UnboundedAgent,
)

BY_ID: dict[str, Invariant] = {inv.id: inv for inv in INVARIANTS}


CTX = VerdictContext(examples=25, seed=0)


EXPECTED = {
    "adverse_selection": {
        "signals.bounded_actions": "not_applicable",
        "signals.finite_published": "pass",
        "signals.leader_gating": "not_applicable",
        "signals.toxicity_range": "pass",
    },
    "lead_lag": {
        "signals.bounded_actions": "not_applicable",
        "signals.finite_published": "pass",
        "signals.leader_gating": "pass",
        "signals.toxicity_range": "not_applicable",
    },
    "rl_skew": {
        "signals.bounded_actions": "pass",
        "signals.finite_published": "pass",
        "signals.leader_gating": "not_applicable",
        "signals.toxicity_range": "not_applicable",
    },
    # kappa publishes extras only: their finiteness is in scope, the signal fields are not
    "kappa": {
        **{inv.id: "not_applicable" for inv in INVARIANTS},
        "signals.finite_published": "pass",
    },
}


@pytest.mark.parametrize(("name", "inv_id"), [(n, i) for n, exp in EXPECTED.items() for i in exp])
def test_builtins(name: str, inv_id: str) -> None:
    assert verdict(BY_ID[inv_id], builtin_target("estimator", name), CTX) == EXPECTED[name][inv_id]


BROKEN = [
    ("signals.bounded_actions", UnboundedAgent),
    ("signals.finite_published", NanExtras),
    ("signals.leader_gating", StickyLeadLag),
    ("signals.leader_gating", SilentGate),
    ("signals.toxicity_range", OverconfidentToxicity),
]


@pytest.mark.parametrize(("inv_id", "cls"), BROKEN, ids=[c.__name__ for _, c in BROKEN])
def test_broken_estimators_fail(inv_id: str, cls: type) -> None:
    assert verdict(BY_ID[inv_id], target_of("estimator", lambda ctx: cls()), CTX) == "fail"


def test_builtin_lead_lag_is_active_before_the_leader_stops() -> None:
    """The gating check is not vacuous: with the leader live the shift is non-zero."""
    from mmkit.signals.synthetic import lead_lag_events

    est = builtin_target("estimator", "lead_lag").build()
    out = Estimates()
    nonzero = 0
    for ev in lead_lag_events(1, 700, 3, noise_ratio=0.5):
        est.on_event(ev, ev.ts)
        est.estimate(out, ev.ts)
        nonzero += out.fair_value_shift != 0.0
    assert nonzero > 0


@pytest.mark.slow
def test_mmkit_audit_strict_fails_on_the_broken_plugin() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from .broken_plugin import BROKEN_ESTIMATORS

    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tests_dir), env.get("PYTHONPATH", "")])
    env["MMKIT_PLUGINS"] = "signals.broken_plugin"
    names = ",".join(f'"{n}"' for n in ["lead_lag", *BROKEN_ESTIMATORS])
    cmd = [
        sys.executable,
        "-m",
        "mmkit",
        "audit",
        "--strict",
        "--only",
        "signals",
        "--examples",
        "20",
        "--set",
        f"components.estimators=[{names}]",
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    for name in BROKEN_ESTIMATORS:
        assert any(
            line.startswith("FAIL") and f"estimator:{name}" in line
            for line in res.stdout.splitlines()
        ), f"{name} did not fail:\n{res.stdout}"
