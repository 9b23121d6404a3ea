"""The runner: classification of outcomes, selection, planning, determinism."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, note
from hypothesis import strategies as st

from mmkit.audit.invariant import AuditContext, AuditTarget, Concern, Invariant, Severity, Skip
from mmkit.audit.results import Status
from mmkit.audit.runner import (
    AuditOptions,
    RunContext,
    audit_targets,
    explain,
    plan,
    run_audit,
    run_check,
    select_invariants,
)
from mmkit.errors import ConfigError, PluginError
from mmkit.plugin_manager import PluginHost

from .conftest import settings_for


def _inv(
    check: Any, inv_id: str = "t.check", kinds: tuple[str, ...] = ("quoter",), weight: float = 1.0
) -> Invariant:
    return Invariant(
        id=inv_id,
        title="a test invariant",
        section="8. Numerical Stability",
        severity=Severity.HIGH,
        kinds=kinds,
        check=check,
        weight=weight,
    )


@pytest.fixture
def target(host: PluginHost) -> AuditTarget:
    settings = settings_for(host)
    (t,) = [t for t in audit_targets(host, settings) if t.kind == "quoter"]
    return t


def test_pass(target: AuditTarget) -> None:
    res = run_check(_inv(lambda t, c: None), target, RunContext(examples=5))
    assert res.status is Status.PASS
    assert res.component is not None and res.component.name == "audit_reference"


def test_skip_and_concern(target: AuditTarget) -> None:
    def skip(t: AuditTarget, c: AuditContext) -> None:
        raise Skip("no kappa published")

    def concern(t: AuditTarget, c: AuditContext) -> None:
        raise Concern("warmup is slow")

    assert run_check(_inv(skip), target, RunContext()).status is Status.UNAUDITED  # no silent skip
    res = run_check(_inv(concern), target, RunContext())
    assert (res.status, res.message) == (Status.CONCERN, "warmup is slow")


def test_fail_carries_the_shrunk_counterexample_and_notes(target: AuditTarget) -> None:
    def check(t: AuditTarget, ctx: AuditContext) -> None:
        @ctx.settings()
        @given(st.integers(0, 10_000))
        def run(n: int) -> None:
            note(f"readable: n is {n}")
            assert n < 17, f"n={n} is too large"

        run()

    res = run_check(_inv(check), target, RunContext(examples=200))
    assert res.status is Status.FAIL
    assert res.message == "n=17 is too large"  # first line; the rest goes with the example
    assert "Falsifying example" in res.counterexample or "Failing" in res.counterexample
    assert "readable: n is 17" in res.counterexample


def test_any_exception_is_a_failure_naming_where(target: AuditTarget) -> None:
    def check(t: AuditTarget, ctx: AuditContext) -> None:
        empty: dict[str, int] = {}
        empty["missing"]

    res = run_check(_inv(check), target, RunContext())
    assert res.status is Status.FAIL
    assert res.message.startswith("KeyError: 'missing' (at test_runner.py:")


def test_hypothesis_health_check_is_a_concern(target: AuditTarget) -> None:
    def check(t: AuditTarget, ctx: AuditContext) -> None:
        @ctx.settings(suppress_health_check=[HealthCheck.too_slow])
        @given(st.integers())
        def run(n: int) -> None:
            assume(False)

        run()

    res = run_check(_inv(check), target, RunContext(examples=10))
    assert res.status is Status.CONCERN
    assert "hypothesis could not settle" in res.message


def test_weight_scales_examples(target: AuditTarget) -> None:
    seen: list[int] = []

    def check(t: AuditTarget, ctx: AuditContext) -> None:
        seen.append(ctx.examples)

    run_check(_inv(check, weight=0.25), target, RunContext(examples=100))
    run_check(_inv(check, weight=0.001), target, RunContext(examples=100))
    assert seen == [25, 1]


def test_seed_zero_derandomises_and_others_force_the_seed(target: AuditTarget) -> None:
    drawn: dict[int, list[int]] = {}

    def check_for(seed: int) -> Any:
        def check(t: AuditTarget, ctx: AuditContext) -> None:
            @ctx.settings()
            @given(st.integers(0, 10**9))
            def run(n: int) -> None:
                drawn.setdefault(seed, []).append(n)

            run()

        return check

    for seed in (0, 0, 7, 7):
        run_check(_inv(check_for(seed)), target, RunContext(examples=10, seed=seed))
    assert drawn[0][:10] == drawn[0][10:]
    assert drawn[7][:10] == drawn[7][10:]
    assert drawn[0][:10] != drawn[7][:10]


def test_select_invariants_by_id_glob_and_prefix() -> None:
    invs = [_inv(lambda t, c: None, i) for i in ("a.x", "a.y", "b.z")]
    assert [i.id for i in select_invariants(invs, ["a"])] == ["a.x", "a.y"]
    assert [i.id for i in select_invariants(invs, ["*.z,a.x"])] == ["a.x", "b.z"]
    with pytest.raises(ConfigError, match=r"no such invariant; registered: a\.x, a\.y, b\.z"):
        select_invariants(invs, ["c"])


def test_plan_skips_invariants_without_a_component(host: PluginHost) -> None:
    targets = audit_targets(host, settings_for(host))
    pairs = plan([_inv(lambda t, c: None, kinds=("venue",))], targets)
    assert pairs[0][1] is None
    res = run_check(pairs[0][0], None, RunContext())
    assert res.status is Status.NOT_APPLICABLE and "venue" in res.message


def test_all_components_audits_every_registered_one(host: PluginHost) -> None:
    targets = audit_targets(host, settings_for(host), all_components=True)
    names = {(t.kind, t.name) for t in targets}
    assert ("quoter", "broken_crossing") in names
    assert ("estimator", "audit_reference") in names


def test_run_audit_is_deterministic_and_exit_codes(host: PluginHost) -> None:
    settings = settings_for(host, "components.quoter=broken_nan_quoter")
    opts = AuditOptions(examples=15, only=["engine.no_nonfinite_output"], strict=True)
    a = run_audit(host, settings, opts)
    b = run_audit(host, settings, opts)
    assert a.to_dict() == b.to_dict()
    assert a.overall == "FAIL" and a.exit_code() == 1
    ok = run_audit(host, settings_for(host), AuditOptions(examples=5, only=["engine"]))
    assert ok.overall == "PASS" and ok.exit_code() == 0


def test_plugin_errors_refuse_the_audit(host: PluginHost) -> None:
    def bad_factory(ctx: Any) -> object:
        raise RuntimeError("boom")

    class Plugin:
        from mmkit import hookimpl

        @hookimpl
        def register_quoters(self, register: Any) -> None:
            register("explodes", bad_factory)

    host.register_plugin(Plugin(), "exploding")
    settings = settings_for(host, "components.quoter=explodes")
    with pytest.raises(PluginError, match=r"explodes.*failed to build"):
        run_audit(host, settings, AuditOptions(examples=2))


def test_explain_exception_groups() -> None:
    group = ExceptionGroup("two", [AssertionError("first"), ValueError("second")])
    msg, ce = explain(group)
    assert msg == "first (and 1 other distinct failure(s))"
    assert "[failure 2] ValueError: second" in ce


def test_cli_default_examples_match_the_runner() -> None:
    from mmkit.audit import cli, runner

    assert cli.DEFAULT_EXAMPLES == runner.DEFAULT_EXAMPLES


def test_loaded_modules_do_not_change_what_hypothesis_draws() -> None:
    from hypothesis.internal.conjecture import providers

    from mmkit.audit.runner import _Reproducible

    before = providers._get_local_constants
    with _Reproducible(0):
        assert len(providers._get_local_constants()) == 0
    assert providers._get_local_constants is before


def test_progress_display_follows_the_run(host: PluginHost) -> None:
    import io

    from rich.console import Console

    from mmkit.audit.progress import ProgressDisplay

    settings = settings_for(host, "components.quoter=broken_nan_quoter")
    display = ProgressDisplay(force=True)
    display.console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with display as progress:
        run_audit(
            host,
            settings,
            AuditOptions(examples=5, only=["engine"]),
            on_start=progress.start,
            before=progress.before,
            on_result=progress.done,
        )
    text = display.console.file.getvalue()  # type: ignore[attr-defined]
    assert "FAIL engine.no_nonfinite_output on quoter:broken_nan_quoter" in text


def test_venues_and_feeds_are_audited_only_when_an_invariant_wants_them(host: PluginHost) -> None:
    seen: list[str] = []

    class Plugin:
        from mmkit import hookimpl

        @hookimpl
        def register_invariants(self, register: Any) -> None:
            register(_inv(lambda t, c: seen.append(t.name), "t.venue", kinds=("venue",)))

    settings = settings_for(host)
    report = run_audit(host, settings, AuditOptions(examples=2, only=["engine"]))
    assert {c.kind for c in report.components} == {"estimator", "gate", "quoter", "executor"}
    host.register_plugin(Plugin(), "venue_checks")
    report = run_audit(host, settings, AuditOptions(examples=2, only=["t.venue"]))
    assert seen == ["audit_null"]
    assert [r.status for r in report.results] == [Status.PASS]


def test_allow_broken_plugins_turns_plugin_errors_into_concerns(host: PluginHost) -> None:
    class Broken:
        from mmkit import hookimpl

        @hookimpl
        def register_gates(self, register: Any) -> None:
            raise RuntimeError("half-installed")

    host.register_plugin(Broken(), "half")
    settings = settings_for(host)
    with pytest.raises(PluginError, match="half-installed"):
        run_audit(host, settings, AuditOptions(examples=2, only=["engine"]))
    report = run_audit(
        host,
        settings,
        AuditOptions(examples=2, only=["engine"], strict=True, allow_broken_plugins=True),
    )
    (first, *rest) = report.results
    assert (first.invariant.id, first.status) == ("mmkit.plugins_load", Status.CONCERN)
    assert "half-installed" in first.message and first.target_label == "plugin:half"
    assert report.overall == "PASS with CONCERNS" and report.exit_code() == 1
    assert all(r.status is Status.PASS for r in rest)
