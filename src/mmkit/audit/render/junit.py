"""JUnit XML for CI: one testcase per invariant and component.

FAIL is a ``<failure>`` carrying the counterexample; SKIP is ``<skipped>``; CONCERN is a
``<failure type="concern">`` under ``--strict`` (which fails the run) and otherwise a passing
testcase with the finding in ``<system-out>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mmkit.audit.results import AuditReport, Status


def render_junit(report: AuditReport) -> str:
    c = report.counts()
    concerns_fail = report.strict and c[Status.CONCERN]
    suite = ET.Element(
        "testsuite",
        {
            "name": "mmkit-audit",
            "tests": str(len(report.results)),
            "failures": str(c[Status.FAIL] + (c[Status.CONCERN] if concerns_fail else 0)),
            "errors": "0",
            "skipped": str(c[Status.SKIP]),
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
        elif r.status is Status.SKIP:
            ET.SubElement(case, "skipped", {"message": r.message})
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
