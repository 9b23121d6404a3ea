"""Report renderers: seed-report-shaped Markdown, JSON, JUnit XML, the table, the catalogue."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.audit.render import render
from mmkit.audit.render.catalogue import render_catalogue
from mmkit.audit.results import (
    AuditReport,
    ComponentInfo,
    InvariantInfo,
    PluginInfoLite,
    Result,
    Status,
)
from mmkit.audit.sections import SEED_SECTIONS, section_key

KAPPA = InvariantInfo(
    "estimators.kappa_positive",
    "kappa finite and > 0",
    "1. Kappa Estimation Integrity",
    "critical",
    ("estimator",),
    "desc",
    "estimators",
)
CROSS = InvariantInfo(
    "quoting.no_cross", "bid < ask", "Quoting", "high", ("quoter",), "", "quoters"
)
EST = ComponentInfo("estimator", "kappa", "estimators", "mmkit", "0.1.0")
BAD = ComponentInfo(
    "quoter", "broken_crossing", "broken_fixtures", "mmkit-broken-fixtures", "0.1.0"
)


def _report(*results: Result, strict: bool = True) -> AuditReport:
    return AuditReport(
        results=list(results),
        components=[EST, BAD],
        plugins=[PluginInfoLite("estimators", "mmkit", "0.1.0", "builtin")],
        examples=100,
        seed=0,
        strict=strict,
        version="0.1.0",
    )


PASSING = Result(KAPPA, EST, Status.PASS, examples=100)
FAILING = Result(
    CROSS,
    BAD,
    Status.FAIL,
    "quotes cross: bid 101 >= ask 99",
    "Falsifying example: run(stream=[...])\nt=+0.000s BOOK bids 99x1 | asks 101x1",
    examples=100,
)
CONCERNING = Result(KAPPA, EST, Status.CONCERN, "slow warmup", examples=100)


def test_markdown_follows_the_seed_shape() -> None:
    md = render(_report(PASSING, FAILING), "md")
    assert md.startswith("# mmkit Invariant Audit Report\n**Date**: not stamped")
    assert "## Executive Summary" in md
    assert "**Overall Assessment**: FAIL" in md
    assert "**Go/No-Go Recommendation**: NO-GO" in md
    assert "## 1. Kappa Estimation Integrity ✅ PASS" in md
    assert "## 6. Calibration Feedback Loop Integrity ➖ NOT AUDITED" in md
    assert "## 9. Quoting ❌ FAIL" in md  # a plugin's own area follows the seed areas
    assert "## 10. Recommendations" in md
    assert "### Critical (Block Production)\n1. **Fix quoter `broken_crossing`**" in md
    assert "t=+0.000s BOOK bids 99x1 | asks 101x1" in md
    assert "## Appendix: Components and Plugins Audited" in md
    assert "| quoter | `broken_crossing` | broken_fixtures | mmkit-broken-fixtures 0.1.0 |" in md


def test_overall_assessments() -> None:
    assert _report(PASSING).overall == "PASS"
    assert _report(PASSING).go == "GO"
    r = _report(PASSING, CONCERNING)
    assert (r.overall, r.go, r.exit_code()) == ("PASS with CONCERNS", "GO (with monitoring)", 1)
    assert _report(PASSING, CONCERNING, strict=False).exit_code() == 0
    assert "## 1. Kappa Estimation Integrity ⚠️ CONCERN" in render(r, "md")


def test_date_is_stamped_only_when_given() -> None:
    r = _report(PASSING)
    r.date = "2026-02-09"
    assert "**Date**: 2026-02-09" in render(r, "md")


def test_json_is_plain_and_deterministic() -> None:
    data = json.loads(render(_report(PASSING, FAILING), "json"))
    assert data["overall"] == "FAIL" and data["counts"] == {
        "PASS": 1,
        "CONCERN": 0,
        "FAIL": 1,
        "UNAUDITED": 0,
        "WAIVED": 0,
        "NOT_APPLICABLE": 0,
    }
    fail = data["results"][1]
    assert fail["invariant"] == "quoting.no_cross" and fail["component"] == "broken_crossing"
    assert "Falsifying example" in fail["counterexample"]
    assert "duration_s" not in fail
    assert render(_report(PASSING, FAILING), "json") == render(_report(PASSING, FAILING), "json")


def test_junit_has_one_testcase_per_invariant_and_component() -> None:
    skip = Result(KAPPA, None, Status.NOT_APPLICABLE, "nothing of kind estimator is configured")
    root = ET.fromstring(render(_report(PASSING, FAILING, CONCERNING, skip), "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == [KAPPA.id, CROSS.id, KAPPA.id, KAPPA.id]
    failure = cases[1].find("failure")
    assert failure is not None and "BOOK bids 99x1" in (failure.text or "")
    lenient = ET.fromstring(render(_report(CONCERNING, strict=False), "junit"))
    case = lenient.find("testsuite/testcase")
    assert case is not None and case.find("failure") is None


def test_table_names_failures_in_full() -> None:
    text = render(_report(PASSING, FAILING), "table")
    assert "FAIL    quoting.no_cross" in text
    assert "Falsifying example" in text
    assert "Overall: FAIL (NO-GO)" in text


def test_catalogue_lists_every_invariant_under_its_area() -> None:
    text = render_catalogue([KAPPA, CROSS])
    assert "2 invariants registered." in text
    assert "## 1. Kappa Estimation Integrity\n\n### `estimators.kappa_positive`" in text
    assert "## 9. Quoting" in text
    assert "[`quoting.no_cross`](#quotingno_cross)" in text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("1. Kappa Estimation Integrity", (1, SEED_SECTIONS[0])),
        ("7", (7, SEED_SECTIONS[6])),
        ("numerical stability", (8, SEED_SECTIONS[7])),
        ("Data Staleness", (3, SEED_SECTIONS[2])),
        ("12. Quoting", (0, "Quoting")),
        ("", (0, "Other")),
    ],
)
def test_section_keys(text: str, key: tuple[int, str]) -> None:
    assert section_key(text) == key


@given(st.lists(st.sampled_from(list(Status)), min_size=1, max_size=12))
def test_every_format_renders_any_mix_of_outcomes(statuses: list[Status]) -> None:
    results = [
        Result(KAPPA if i % 2 else CROSS, EST if i % 3 else None, s, f"m{i}", "ce\nx")
        for i, s in enumerate(statuses)
    ]
    rep = _report(*results)
    for fmt in ("table", "md", "json", "junit"):
        assert render(rep, fmt)
    failing = {Status.FAIL, Status.CONCERN, Status.UNAUDITED}  # strict: UNAUDITED fails too
    assert rep.exit_code() == (1 if failing & set(statuses) else 0)
