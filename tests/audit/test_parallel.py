"""The audit on several cores (``mmkit audit --jobs``, :mod:`mmkit.audit.parallel`).

What must hold: forked workers give the one-process audit's report, result for result (a
shrunk counterexample and the waivers included); a check that kills its worker is a FAIL
naming how, and every other check still runs; workers that die before their first check
leave the plan to the audit's own process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.audit import parallel
from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, Severity, Unaudited
from mmkit.audit.results import InvariantInfo, Result, Status
from mmkit.audit.runner import AuditOptions, run_audit
from mmkit.config.loader import load_settings
from mmkit.cores import usable_cores
from mmkit.plugin_manager import PluginHost

from .conftest import HERE, REFERENCE_TOML

needs_fork = pytest.mark.skipif(not parallel.can_fork(), reason="workers are forked (Linux)")


# -- the same report ----------------------------------------------------------------------


def _needs_cap(t: AuditTarget, ctx: AuditContext) -> None:
    raise Unaudited("no cap published", missing=("sigma_cap()",))


class _Waivable:
    from mmkit import hookimpl

    @hookimpl
    def register_invariants(self, register: Any) -> None:
        register(
            Invariant(
                id="t.needs_cap",
                title="needs a cap",
                section="8. Numerical Stability",
                severity=Severity.HIGH,
                kinds=("quoter",),
                check=_needs_cap,
            )
        )


@needs_fork
@pytest.mark.slow
def test_two_workers_give_the_one_process_report(host: PluginHost, tmp_path: Path) -> None:
    host.register_plugin(_Waivable(), "waivable")
    toml = tmp_path / "mmkit.toml"
    toml.write_text(
        REFERENCE_TOML.read_text()
        + '\n[audit.waivers]\n"t.needs_cap@quoter.broken_nan_quoter" = "capped upstream"\n'
        + '"t.gone@quoter.broken_nan_quoter" = "stale"\n'
    )
    cfg = load_settings(toml, host.registry, env={}, sets=["components.quoter=broken_nan_quoter"])
    only = ["engine.no_nonfinite_output", "quoting.no_self_cross", "quoting.post_only", "t.*"]
    one = run_audit(host, cfg, AuditOptions(examples=5, only=only, strict=True, jobs=1))
    seen: list[str] = []
    two = run_audit(
        host,
        cfg,
        AuditOptions(examples=5, only=only, strict=True, jobs=2),
        on_result=lambda r: seen.append(r.waiver_key),
    )
    for report in (one, two):  # timings are the one field allowed to differ
        for r in report.results:
            r.duration_s = 0.0
    assert two.to_dict() == one.to_dict()
    statuses = {r.status for r in two.results}
    assert {Status.FAIL, Status.PASS, Status.WAIVED, Status.CONCERN} <= statuses
    fails = [r for r in two.results if r.status is Status.FAIL]
    assert all(r.counterexample for r in fails)  # the shrunk examples came back
    checks = [r for r in two.results if r.invariant.id != "mmkit.waivers_used"]
    assert sorted(seen) == sorted(r.waiver_key for r in checks)  # each reported once


# -- crashes ------------------------------------------------------------------------------


def _mmkit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env.pop("PYTHONFAULTHANDLER", None)
    cmd = [sys.executable, "-m", "mmkit", "--no-entrypoints", "--plugin", "crashing_plugin"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=600)


@needs_fork
@pytest.mark.slow
def test_a_plugin_that_segfaults_fails_its_checks_and_the_audit_completes(
    tmp_path: Path,
) -> None:
    only = ("--only", "engine.no_nonfinite_output,estimators.*", "--examples", "10")
    out = tmp_path / "report.json"
    args = ("audit", "--strict", "--component", "estimator:segfault_vol", *only)
    run = _mmkit(*args, "--jobs", "2", "--out", str(out))
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(out.read_text())
    crashed = [r for r in report["results"] if "killed by SIGSEGV" in r["message"]]
    assert crashed, run.stdout
    assert all(r["status"] == "FAIL" for r in crashed)
    assert report["go"] == "NO-GO"
    assert f"FAIL {crashed[0]['invariant']} on estimator:segfault_vol" in run.stdout
    # every planned check has its result: the audit went on after each crash
    ids = {r["invariant"] for r in report["results"]}
    listed = _mmkit("audit", "--list").stdout.splitlines()
    wanted = {ln.split()[0] for ln in listed if "estimator" in ln.split("]")[0]}
    wanted = {i for i in wanted if i == "engine.no_nonfinite_output" or i.startswith("estimators.")}
    assert wanted <= ids
    # in one process the same crash ends the audit with no report at all
    alone = _mmkit(*args, "--jobs", "1", "--out", str(tmp_path / "alone.json"))
    assert alone.returncode == -signal.SIGSEGV
    assert not (tmp_path / "alone.json").exists()


Behaviour = str  # "ok", "exit", "kill", "raise"


def _plan(behaviours: list[Behaviour], costs: list[float]) -> list[tuple[Any, Any]]:
    return [
        (SimpleNamespace(id=f"t.{i}.{b}", title="t", section="s", kinds=(), cost=c, b=b), None)
        for i, (b, c) in enumerate(zip(behaviours, costs, strict=True))
    ]


def _run_one(inv: Any, target: Any) -> Result:
    if inv.b == "exit":
        os._exit(7)
    if inv.b == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if inv.b == "raise":
        raise SystemExit(4)
    return Result(InvariantInfo.of(inv), None, Status.PASS, message=f"ran {inv.id}")


EXPECTED = {
    "ok": (Status.PASS, "ran "),
    "exit": (Status.FAIL, "it exited with status 7"),
    "kill": (Status.FAIL, "it was killed by SIGKILL"),
    "raise": (Status.FAIL, "the check raised SystemExit: 4"),
}


@needs_fork
@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ok", "ok", "ok", "exit", "kill", "raise"]),
            st.floats(0.1, 20.0),
        ),
        min_size=1,
        max_size=9,
    ),
    st.integers(2, 3),
)
def test_every_check_gets_one_result_in_plan_order(
    checks: list[tuple[Behaviour, float]], jobs: int
) -> None:
    plan = _plan([b for b, _ in checks], [c for _, c in checks])
    handed: list[str] = []
    arrived: list[str] = []
    results = parallel.run_plan(
        plan,
        _run_one,
        jobs=jobs,
        before=lambda inv, t: handed.append(inv.id),
        on_result=lambda r: arrived.append(r.invariant.id),
        post=lambda r: Result(r.invariant, r.component, r.status, r.message + " (post)"),
    )
    assert [r.invariant.id for r in results] == [inv.id for inv, _ in plan]
    assert sorted(handed) == sorted(arrived) == sorted(inv.id for inv, _ in plan)
    for (inv, _), res in zip(plan, results, strict=True):
        status, words = EXPECTED[inv.b]
        assert res.status is status and words in res.message, (inv.b, res)
        assert res.message.endswith(" (post)")


@needs_fork
def test_workers_that_die_before_any_check_leave_the_plan_to_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def dies(conn: Any, plan: Any, run_one: Any) -> None:
        os._exit(3)

    monkeypatch.setattr(parallel, "_worker", dies)
    plan = _plan(["ok"] * 5, [1.0] * 5)
    results = parallel.run_plan(plan, _run_one, jobs=2)
    assert [r.status for r in results] == [Status.PASS] * 5
    assert [r.message for r in results] == [f"ran {inv.id}" for inv, _ in plan]


# -- scheduling ---------------------------------------------------------------------------


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True), st.booleans(), st.integers())))
def test_dispatch_hands_out_the_longest_expected_check_first(costs: list[Any]) -> None:
    plan = [(SimpleNamespace(cost=c), None) for c in costs]
    order = parallel.dispatch_order(plan)
    assert sorted(order) == list(range(len(plan)))  # each check exactly once
    expected = [parallel.expected_cost(plan[i][0]) for i in order]
    assert expected == sorted(expected, reverse=True)
    assert all(0 < e < 1e9 for e in expected)  # NaN, bools, <= 0: the default 1.0
    for (a, ea), (b, eb) in pairwise(zip(order, expected, strict=True)):
        assert ea > eb or a < b  # ties keep the plan's order


@given(st.integers(0, 64), st.integers(0, 500))
def test_the_worker_count_is_bounded(jobs: int, checks: int) -> None:
    n = parallel.resolve_jobs(jobs, checks)
    asked = usable_cores() if jobs == 0 else jobs
    if parallel.can_fork() and asked >= 2:
        assert 2 <= n <= asked and n <= max(2, checks)  # a lone check still gets a worker
    else:
        assert n == 1


def test_a_negative_worker_count_is_refused() -> None:
    with pytest.raises(ValueError, match="jobs must be >= 0"):
        parallel.resolve_jobs(-1, 10)


def test_the_cli_refuses_a_negative_jobs(tmp_path: Path) -> None:
    run = _mmkit("audit", "--jobs", "-2")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "--jobs" in run.stderr


def test_the_system_twins_check_is_handed_out_first() -> None:
    host = PluginHost(load_entrypoints=False)
    inv = {i.id: i for i in host.invariants}
    heaviest = max(host.invariants, key=parallel.expected_cost)
    assert heaviest is inv["twins.system_equivalence"]
