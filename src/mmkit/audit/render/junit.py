"""JUnit XML for CI: one testcase per invariant and component.

FAIL is a ``<failure>`` carrying the counterexample; CONCERN is a ``<failure type="concern">``
and UNAUDITED a ``<failure type="unaudited">`` (naming the missing capabilities) under
``--strict`` (which fails the run on them), otherwise a ``<skipped>`` (UNAUDITED) or a passing
testcase with the finding in ``<system-out>`` (CONCERN); WAIVED is ``<skipped>`` with its
reason; NOT_APPLICABLE is ``<skipped>`` "not in scope: ..." .
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mmkit.audit.results import AuditReport, Status


def render_junit(report: AuditReport) -> str:
    c = report.counts()
    strict_fails = c[Status.CONCERN] + c[Status.UNAUDITED] if report.strict else 0
    skipped = c[Status.WAIVED] + c[Status.NOT_APPLICABLE]
    if not report.strict:
        skipped += c[Status.UNAUDITED]
    suite = ET.Element(
        "testsuite",
        {
            "name": "mmkit-audit",
            "tests": str(len(report.results)),
            "failures": str(c[Status.FAIL] + strict_fails),
            "errors": "0",
            "skipped": str(skipped),
        },
    )
    if report.timings:
        suite.set("time", f"{sum(r.duration_s for r in report.results):.3f}")
    props = ET.SubElement(suite, "properties")
    for k, v in (
        ("examples", report.examples),
        ("seed", report.seed),
        ("strict", report.strict),
        ("overall", report.overall),
    ):
        ET.SubElement(props, "property", {"name": k, "value": str(v)})
    for r in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": r.invariant.id,
                "name": r.target_label,
            },
        )
        if report.timings:
            case.set("time", f"{r.duration_s:.3f}")
        body = (r.message + ("\n\n" + r.counterexample if r.counterexample else "")).strip()
        if r.status is Status.FAIL:
            el = ET.SubElement(case, "failure", {"message": r.message, "type": "invariant"})
            el.text = body
        elif r.status is Status.UNAUDITED:
            if report.strict:
                el = ET.SubElement(case, "failure", {"message": r.explanation, "type": "unaudited"})
                el.text = "UNAUDITED: " + r.explanation
            else:
                ET.SubElement(case, "skipped", {"message": "UNAUDITED: " + r.explanation})
        elif r.status in (Status.WAIVED, Status.NOT_APPLICABLE):
            ET.SubElement(case, "skipped", {"message": r.status.value + ": " + r.explanation})
        elif r.status is Status.CONCERN:
            if report.strict:
                el = ET.SubElement(case, "failure", {"message": r.message, "type": "concern"})
                el.text = body
            else:
                ET.SubElement(case, "system-out").text = "CONCERN: " + body
    root = ET.Element("testsuites", {"name": "mmkit audit"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
