"""Statuses of issue 18: nothing is silently skipped.

UNAUDITED fails ``--strict`` and shows, with the missing capability, in every report format;
``[audit.waivers]`` turns it into WAIVED (printed with its reason) and an unused waiver is
reported; an exception out of a component is a FAIL naming the component's own frame;
``--allow-broken-plugins`` audits what loaded; the examples column counts what ran.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mmkit import hookimpl
from mmkit.audit.invariant import (
    AuditContext,
    AuditTarget,
    Invariant,
    NotApplicable,
    Severity,
    Skip,
    Unaudited,
)
from mmkit.audit.render import render
from mmkit.audit.results import AuditReport, Status
from mmkit.audit.runner import AuditOptions, RunContext, run_audit, run_check
from mmkit.config.loader import load_settings
from mmkit.config.waivers import WaiverKey, parse_waiver_key, parse_waivers
from mmkit.errors import ConfigError, MmkitError
from mmkit.plugin_manager import PluginHost, reset_host
from mmkit.testing.verdicts import target_of

from .conftest import REFERENCE_TOML, settings_for

CAP = "sigma_cap()"
UNAUDITED_ID = "t.needs_cap"


def _inv(check: Any, inv_id: str, kinds: tuple[str, ...] = ("quoter",)) -> Invariant:
    return Invariant(
        id=inv_id,
        title=f"test invariant {inv_id}",
        section="8. Numerical Stability",
        severity=Severity.HIGH,
        kinds=kinds,
        check=check,
    )


def _needs_cap(t: AuditTarget, ctx: AuditContext) -> None:
    raise Unaudited("the quoter publishes no cap to check against", missing=(CAP,))


def _passes(t: AuditTarget, ctx: AuditContext) -> None:
    return None


class _Checks:
    """A plugin registering the invariants these tests run."""

    @hookimpl
    def register_invariants(self, register: Any) -> None:
        register(_inv(_needs_cap, UNAUDITED_ID))
        register(_inv(_passes, "t.passes"))


def _host(host: PluginHost) -> PluginHost:
    host.register_plugin(_Checks(), "status_checks")
    return host


def _settings_with(tmp_path: Path, host: PluginHost, waivers: dict[str, str]) -> Any:
    lines = [REFERENCE_TOML.read_text(), "", "[audit.waivers]"]
    lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in waivers.items()]
    path = tmp_path / "mmkit.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_settings(path, host.registry, env={})


def _audit(host: PluginHost, settings: Any, strict: bool = True) -> AuditReport:
    return run_audit(host, settings, AuditOptions(examples=3, only=["t.*"], strict=strict))


# -- UNAUDITED, NOT_APPLICABLE ------------------------------------------------------------


def test_unaudited_is_no_go_under_strict_and_shows_in_every_format(host: PluginHost) -> None:
    rep = _audit(_host(host), settings_for(host))
    (res,) = [r for r in rep.results if r.invariant.id == UNAUDITED_ID]
    assert res.status is Status.UNAUDITED and res.missing == (CAP,)
    assert (rep.overall, rep.go, rep.exit_code()) == ("INCOMPLETE", "NO-GO", 1)
    lenient = _audit(host, settings_for(host), strict=False)
    assert lenient.exit_code() == 0 and lenient.go != "GO"  # never a plain GO

    table = render(rep, "table")
    assert "UNAUDITED  t.needs_cap" in table and f"missing {CAP}" in table
    md = render(rep, "md")
    assert "**Go/No-Go Recommendation**: NO-GO" in md
    assert "1 unaudited, 0 waived" in md
    assert "**Unaudited checks** (1; NO-GO under --strict" in md
    assert f"`{UNAUDITED_ID}@quoter.audit_reference`" in md
    assert "**Most Severe Finding**: test invariant t.needs_cap" in md
    data = json.loads(render(rep, "json"))
    (item,) = [r for r in data["results"] if r["invariant"] == UNAUDITED_ID]
    assert (item["status"], item["missing"]) == ("UNAUDITED", [CAP])
    assert data["counts"]["UNAUDITED"] == 1 and data["go"] == "NO-GO"
    suite = ET.fromstring(render(rep, "junit")).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    (case,) = [c for c in suite.findall("testcase") if c.get("classname") == UNAUDITED_ID]
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "unaudited"
    assert CAP in (failure.get("message") or "")


def test_skip_is_unaudited_and_not_applicable_is_not_a_check(host: PluginHost) -> None:
    def old_skip(t: AuditTarget, c: AuditContext) -> None:
        raise Skip("third-party check from before issue 18")

    def out_of_scope(t: AuditTarget, c: AuditContext) -> None:
        raise NotApplicable("observed to publish no kappa")

    (target,) = [t for t in _targets(host) if t.kind == "quoter"]
    assert run_check(_inv(old_skip, "t.a"), target, RunContext()).status is Status.UNAUDITED
    res = run_check(_inv(out_of_scope, "t.b"), target, RunContext())
    assert res.status is Status.NOT_APPLICABLE
    rep = AuditReport([res], [], [], 3, 0, True)
    assert rep.checks == 0 and rep.overall == "PASS" and rep.exit_code() == 0
    assert "not in scope" in render(rep, "md") and "not in scope" in render(rep, "table")
    assert "NOT_APPLICABLE: not in scope" in render(rep, "junit")


def test_nothing_configured_of_a_kind_is_not_applicable(host: PluginHost) -> None:
    res = run_check(_inv(_passes, "t.c", kinds=("nosuchkind",)), None, RunContext())
    assert res.status is Status.NOT_APPLICABLE and "nothing of kind nosuchkind" in res.message


def test_old_reports_with_skip_read_back_as_not_applicable(host: PluginHost) -> None:
    rep = _audit(_host(host), settings_for(host))
    data = json.loads(render(rep, "json"))
    back = AuditReport.from_dict(data)
    assert [r.status for r in back.results] == [r.status for r in rep.results]
    assert [r.missing for r in back.results] == [r.missing for r in rep.results]
    data["results"][0]["status"] = "SKIP"
    assert AuditReport.from_dict(data).results[0].status is Status.NOT_APPLICABLE
    data["results"][0]["status"] = "MAYBE"
    with pytest.raises(ValueError, match=r"results\[0\]"):
        AuditReport.from_dict(data)


def _targets(host: PluginHost) -> list[AuditTarget]:
    from mmkit.audit.runner import audit_targets

    return audit_targets(host, settings_for(host))


# -- waivers ------------------------------------------------------------------------------


def test_a_waiver_turns_unaudited_into_waived_and_go(host: PluginHost, tmp_path: Path) -> None:
    reason = "the cap is enforced upstream by the risk proxy"
    settings = _settings_with(
        tmp_path, _host(host), {f"{UNAUDITED_ID}@quoter.audit_reference": reason}
    )
    assert settings.to_toml_dict()["audit"] == {
        "waivers": {f"{UNAUDITED_ID}@quoter.audit_reference": reason}
    }
    rep = _audit(host, settings)
    (res,) = [r for r in rep.results if r.invariant.id == UNAUDITED_ID]
    assert (res.status, res.waiver, res.missing) == (Status.WAIVED, reason, (CAP,))
    assert (rep.overall, rep.go, rep.exit_code()) == ("PASS", "GO", 0)
    for fmt in ("md", "table", "json", "junit"):
        assert reason in render(rep, fmt), fmt
    assert "**Waived checks" in render(rep, "md")


def test_an_unused_waiver_is_reported(host: PluginHost, tmp_path: Path) -> None:
    waivers = {
        "t.passes@quoter.audit_reference": "stale: the check runs now",
        "t.gone@quoter.audit_reference": "invariant removed since",
        f"{UNAUDITED_ID}@quoter.not_configured": "component replaced",
    }
    rep = _audit(_host(host), _settings_with(tmp_path, host, waivers))
    unused = [r for r in rep.results if r.invariant.id == "mmkit.waivers_used"]
    assert [r.status for r in unused] == [Status.CONCERN] * 3
    text = "\n".join(r.message for r in unused)
    assert "is PASS, not UNAUDITED" in text
    assert "no invariant 't.gone' is registered" in text
    assert "'not_configured' is not audited" in text
    assert rep.exit_code() == 1  # strict: stale waivers fail CI until removed


def test_waivers_of_invariants_left_out_by_only_are_not_unused(
    host: PluginHost, tmp_path: Path
) -> None:
    settings = _settings_with(tmp_path, _host(host), {"t.passes@quoter.audit_reference": "x"})
    rep = run_audit(host, settings, AuditOptions(examples=3, only=[UNAUDITED_ID]))
    assert not [r for r in rep.results if r.invariant.id == "mmkit.waivers_used"]


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("no-at-sign", "r", "expected"),
        ("a.b@estimator", "r", "names no component"),
        ("a.b@estimater.kappa", "r", "unknown kind 'estimater'"),
        ("a.b@gate.1bad", "r", "not a component name"),
        ("a.b@gate.warmup", "", "reason must be a non-empty string"),
        ("a.b@gate.warmup", 3, "reason must be a non-empty string"),
    ],
)
def test_bad_waivers_are_clear_config_errors(
    host: PluginHost, tmp_path: Path, key: str, value: Any, error: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[audit.waivers]\n{json.dumps(key)} = {json.dumps(value)}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, host.registry, env={})
    text = str(err.value)
    assert error in text and repr(key) in text and "audit.waivers" in text


def test_unknown_audit_keys_are_refused(host: PluginHost, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[audit]\nwaiver = {}\n")
    with pytest.raises(ConfigError, match="unknown key 'waiver'"):
        load_settings(path, host.registry, env={})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"[a-z_.]{1,12}@[a-z]{1,9}\.[\w]{1,8}")))
def test_waiver_key_parser_parses_or_says_what_is_wrong(text: str) -> None:
    try:
        key = parse_waiver_key(text)
    except ValueError as exc:
        assert repr(text) in str(exc) or "must be a string" in str(exc)
        return
    assert isinstance(key, WaiverKey) and str(key) == text
    assert parse_waiver_key(str(key)) == key


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.text(max_size=30), st.one_of(st.text(max_size=10), st.integers(), st.none()))
)
def test_waiver_tables_never_raise(table: dict[str, Any]) -> None:
    parsed, problems = parse_waivers(table)
    assert len(parsed) + len(problems) == len(table)
    for k, reason in parsed.items():
        assert table[str(k)].strip() == reason and reason


# -- exceptions out of components -----------------------------------------------------------


class ExplodingEstimator:
    """Takes the square root of whatever price it sees: a negative one raises ValueError."""

    def on_event(self, event: Any, now_ns: int) -> None:
        self.root = math.sqrt(float(event))

    def estimate(self, out: Any, now_ns: int) -> None:
        return None


def _feeds_negative_price(t: AuditTarget, ctx: AuditContext) -> None:
    est = t.build()

    @ctx.settings()
    @given(st.floats(-10.0, 10.0))
    def run(price: float) -> None:
        est.on_event(price, 0)

    run()


def test_an_exception_in_a_component_is_a_fail_naming_its_frame() -> None:
    target = target_of("estimator", lambda ctx: ExplodingEstimator(), name="exploding")
    inv = _inv(_feeds_negative_price, "t.exploding", kinds=("estimator",))
    res = run_check(inv, target, RunContext(examples=50))
    assert res.status is Status.FAIL
    assert res.message.startswith("estimator 'exploding' raised ValueError: math domain error")
    assert "test_statuses.py:" in res.message and "in ExplodingEstimator.on_event" in res.message
    assert "_feeds_negative_price" not in res.message  # the component's frame, not the check's


def test_an_exception_outside_the_component_says_so() -> None:
    def broken_check(t: AuditTarget, ctx: AuditContext) -> None:
        raise KeyError("oops")

    from mmkit.testing.verdicts import builtin_target

    target = builtin_target("estimator", "kappa")  # a component defined elsewhere
    res = run_check(_inv(broken_check, "t.k", kinds=("estimator",)), target, RunContext())
    assert res.status is Status.FAIL
    assert "in broken_check" in res.message and "not inside the code of" in res.message


# -- --allow-broken-plugins -------------------------------------------------------------------


class _HalfInstalled:
    @hookimpl
    def register_gates(self, register: Any) -> None:
        raise RuntimeError("half-installed plugin")


@pytest.fixture
def broken_host(host: PluginHost) -> Iterator[PluginHost]:
    _host(host)
    host.register_plugin(_HalfInstalled(), "half_installed")
    reset_host(host)
    try:
        yield host
    finally:
        reset_host(None)


def _cli(*args: str) -> tuple[int, str]:
    from mmkit.cli.main import build_app

    argv = ["--no-entrypoints", "audit", "-c", str(REFERENCE_TOML), "--examples", "3", *args]
    res = CliRunner().invoke(build_app(argv), argv)
    if isinstance(res.exception, MmkitError):
        return 2, res.output + str(res.exception)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


def test_allow_broken_plugins_audits_what_loaded(broken_host: PluginHost, tmp_path: Path) -> None:
    code, text = _cli("--only", "t.passes")
    assert code == 2 and "half-installed plugin" in text  # refused without the flag
    out = tmp_path / "r.json"
    code, text = _cli("--only", "t.passes", "--allow-broken-plugins", "--out", str(out))
    assert code == 0, text
    rep = json.loads(out.read_text())
    by_id = {(r["invariant"], r["component"]): r["status"] for r in rep["results"]}
    assert by_id[("mmkit.plugins_load", "half_installed")] == "CONCERN"
    assert by_id[("t.passes", "audit_reference")] == "PASS"
    assert "half-installed plugin" in text
    code, _ = _cli("--only", "t.passes", "--allow-broken-plugins", "--strict")
    assert code == 1  # the broken plugin still fails CI


def test_allow_broken_plugins_keeps_a_component_that_cannot_build(host: PluginHost) -> None:
    class Explodes:
        @hookimpl
        def register_quoters(self, register: Any) -> None:
            register("explodes", _raise_on_build)

    host.register_plugin(Explodes(), "exploding")
    _host(host)
    settings = settings_for(host, "components.quoter=explodes")
    rep = run_audit(
        host, settings, AuditOptions(examples=2, only=["t.passes"], allow_broken_plugins=True)
    )
    (res,) = [r for r in rep.results if r.invariant.id == "mmkit.plugins_load"]
    assert res.status is Status.FAIL and "failed to build" in res.message
    assert res.target_label == "quoter:explodes" and "no such thing" in res.message
    assert rep.exit_code() == 1


def _raise_on_build(ctx: Any) -> object:
    raise RuntimeError("no such thing")


# -- the examples column ----------------------------------------------------------------------


def test_the_examples_column_counts_what_ran(host: PluginHost) -> None:
    ran: list[int] = []

    def capped(t: AuditTarget, ctx: AuditContext) -> None:
        @ctx.settings(max_examples=7)
        @given(st.integers(0, 10**9))
        def run(n: int) -> None:
            ran.append(n)

        run()

    def by_hand(t: AuditTarget, ctx: AuditContext) -> None:
        for _ in range(4):
            ctx.count_example()

    (target,) = [t for t in _targets(host) if t.kind == "quoter"]
    res = run_check(_inv(capped, "t.capped"), target, RunContext(examples=100))
    assert res.status is Status.PASS
    assert res.examples == len(ran) == 7  # not the budget of 100
    assert run_check(_inv(by_hand, "t.hand"), target, RunContext(examples=100)).examples == 4
    rep = AuditReport([res], [], [], 100, 0, True)
    assert "holds for quoter `audit_reference` (7 examples)" in render(rep, "md")
    row = [ln for ln in render(rep, "table").splitlines() if "t.capped" in ln]
    assert row and row[0].split()[3] == "7"


# -- readable counterexamples -----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_drawn_op_has_named_fields_and_a_relative_time(data: st.DataObject) -> None:
    from mmkit.audit.invariants.estimators import adversarial_ops
    from mmkit.audit.notes import OP_FIELDS, describe_ops, rel_time

    ops = data.draw(adversarial_ops(horizon_s=60.0))
    lines = describe_ops(ops).splitlines()[1:]
    if not ops:
        assert lines == ["  (none)"]
        return
    t = 0
    for (step, op), line in zip(ops, lines, strict=True):
        t += step
        assert op[0] in OP_FIELDS, f"op {op[0]!r} has no field names in mmkit.audit.notes"
        assert len(op) - 1 <= len(OP_FIELDS[op[0]]), f"op {op[0]!r} has unnamed fields"
        assert line.startswith(f"  {rel_time(t)}  {op[0]}(")
        assert "arg" not in line.split("(", 1)[1] or "=" in line


def test_a_counterexample_reads_as_named_events_at_relative_times(host: PluginHost) -> None:
    from mmkit.audit.invariants.estimators import adversarial_ops
    from mmkit.audit.notes import describe_ops

    def check(t: AuditTarget, ctx: AuditContext) -> None:
        @ctx.settings()
        @given(adversarial_ops(horizon_s=60.0))
        def run(ops: list[tuple[int, tuple[Any, ...]]]) -> None:
            from hypothesis import note

            note(describe_ops(ops))
            assert not any(op[0] == "trade" for _, op in ops), "a trade arrived"

        run()

    (target,) = [t for t in _targets(host) if t.kind == "quoter"]
    res = run_check(_inv(check, "t.trade"), target, RunContext(examples=200))
    assert res.status is Status.FAIL and res.message == "a trade arrived"
    assert "events (time since the drawn stream's start):" in res.counterexample
    assert "s  trade(px=" in res.counterexample and ", size=" in res.counterexample


def test_a_plugin_component_frame_is_found_anywhere_in_its_package(host: PluginHost) -> None:
    from mmkit.audit.runner import _Component, audit_targets, component_code

    settings_ = settings_for(host, 'components.estimators=["broken_kappa"]')
    (target,) = [t for t in audit_targets(host, settings_) if t.kind == "estimator"]
    files, prefixes = component_code(target)
    import mmkit_broken_fixtures

    pkg = Path(str(mmkit_broken_fixtures.__file__)).parent
    comp = _Component("estimator 'broken_kappa'", files, prefixes)
    assert comp.owns(str(pkg / "estimators.py")) and comp.owns(str(pkg / "params.py"))
    assert not comp.owns(__file__)  # a check's own file is not the component's code
