"""Markdown in the seed report's shape.

Title, date, auditor and scope; an executive summary with the overall assessment
(PASS / PASS with CONCERNS / INCOMPLETE / FAIL), a go/no-go line and every UNAUDITED and
WAIVED check listed; one numbered section per seed area marked ✅ / ⚠️ / ❓ / ❌ with a finding
per invariant and component (counterexamples in full; UNAUDITED with the missing capability,
WAIVED with its reason, NOT_APPLICABLE as "not in scope");
recommendations by priority; an appendix of the components, plugins and invariants audited.
Nothing in it depends on the wall clock unless ``--date`` stamps one.
"""

from __future__ import annotations

from collections import defaultdict

from mmkit.audit.results import MARK, AuditReport, Result, Status
from mmkit.audit.sections import ordered_sections, section_key

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_KIND_PLURAL = {
    "estimator": "estimators",
    "gate": "gates",
    "quoter": "quoter",
    "executor": "executor",
}


def _section_status(results: list[Result]) -> str:
    statuses = {r.status for r in results}
    if not results:
        return "➖ NOT AUDITED"
    if Status.FAIL in statuses:
        return "❌ FAIL"
    if Status.CONCERN in statuses:
        return "⚠️ CONCERN"
    if Status.UNAUDITED in statuses:
        return "❓ UNAUDITED"
    waived = sum(1 for r in results if r.status is Status.WAIVED)
    if Status.PASS in statuses:
        return "✅ PASS" + (f" ({waived} waived)" if waived else "")
    if waived:
        return "🔕 WAIVED"
    return "➖ NOT APPLICABLE"


def _target(r: Result) -> str:
    return f"{r.component.kind} `{r.component.name}`" if r.component else "no audited component"


#: worst first: what a group of results is marked with
_STATUS_ORDER: tuple[Status, ...] = (
    Status.FAIL,
    Status.CONCERN,
    Status.UNAUDITED,
    Status.PASS,
    Status.WAIVED,
    Status.NOT_APPLICABLE,
)


def _worst_status(results: list[Result]) -> Status:
    for st in _STATUS_ORDER:
        if any(r.status is st for r in results):
            return st
    return Status.NOT_APPLICABLE


def _detail(r: Result, indent: str) -> list[str]:
    out = [f"{indent}- {MARK[r.status]} {_target(r)}: **{r.status.value}** — {r.explanation}"]
    if r.counterexample:
        label = "Counterexample (shrunk)" if r.status is Status.FAIL else "Details"
        pad = indent + "  "
        out += ["", f"{pad}{label}:", "", f"{pad}```text"]
        out += [(pad + ln).rstrip() for ln in r.counterexample.splitlines()]
        out += [f"{pad}```", ""]
    return out


def _findings(results: list[Result]) -> list[str]:
    """One bullet per invariant: the components it holds for, then each exception in full."""
    inv = results[0].invariant
    passed = [r for r in results if r.status is Status.PASS]
    others = [r for r in results if r.status is not Status.PASS]
    head = f"- {MARK[_worst_status(results)]} **{inv.title}** (`{inv.id}`, {inv.severity})"
    holds = ""
    if passed:
        n = sorted({r.examples for r in passed})
        each = (
            f"{n[0]} examples" + (" each" if len(passed) > 1 else "")
            if len(n) == 1
            else f"{n[0]}–{n[-1]} examples"
        )
        holds = f"holds for {', '.join(_target(r) for r in passed)} ({each})"
    if not others:
        return [f"{head} — {holds}"]
    out = [head + (f" — {holds}" if holds else "")]
    for message, skipped in _not_applicable_groups(others):
        who = ", ".join(_target(r) for r in skipped)
        out.append(f"  - {MARK[Status.NOT_APPLICABLE]} not in scope for {who}: {message}")
    for r in others:
        if r.status is not Status.NOT_APPLICABLE:
            out += _detail(r, "  ")
    return out


def _not_applicable_groups(results: list[Result]) -> list[tuple[str, list[Result]]]:
    """NOT_APPLICABLE results grouped by their reason, in first-seen order."""
    groups: dict[str, list[Result]] = {}
    for r in results:
        if r.status is Status.NOT_APPLICABLE:
            groups.setdefault(r.message, []).append(r)
    return list(groups.items())


def _scope(report: AuditReport) -> str:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for c in report.components:
        by_kind[c.kind].append(c.name)
    parts = [f"{_KIND_PLURAL.get(k, k)} {', '.join(v)}" for k, v in by_kind.items()]
    which = "every registered component" if report.all_components else "the configured components"
    return (
        f"{which} ({'; '.join(parts) or 'none'}) against "
        f"{len({r.invariant.id for r in report.results})} invariants"
    )


def _summary_counts(report: AuditReport) -> str:
    c = report.counts()
    return (
        f"{report.checks} invariant checks (invariant × component): {c[Status.PASS]} passed, "
        f"{c[Status.CONCERN]} with concerns, {c[Status.FAIL]} failed, "
        f"{c[Status.UNAUDITED]} unaudited, {c[Status.WAIVED]} waived; "
        f"{c[Status.NOT_APPLICABLE]} not in scope (not counted)."
    )


def _worst(report: AuditReport) -> Result | None:
    """The FAIL of the highest severity; else the UNAUDITED or CONCERN of the highest
    severity (an UNAUDITED check first at equal severity: nothing is known about it)."""
    rank = {Status.FAIL: 0, Status.UNAUDITED: 1, Status.CONCERN: 1}
    bad = [r for r in report.results if r.status in rank]
    bad.sort(
        key=lambda r: (
            rank[r.status],
            _SEVERITY_ORDER.get(r.invariant.severity, 9),
            r.status is not Status.UNAUDITED,
            r.invariant.id,
        )
    )
    return bad[0] if bad else None


def _listed(results: list[Result], title: str, note: str) -> list[str]:
    """A bold heading and one line per result: its waiver key and explanation."""
    if not results:
        return []
    out = [f"**{title}** ({len(results)}; {note}):", ""]
    out += [f"- `{r.waiver_key}` — {r.explanation}" for r in results]
    return [*out, ""]


def render_markdown(report: AuditReport) -> str:
    L: list[str] = []
    add = L.append
    add("# mmkit Invariant Audit Report")
    add(f"**Date**: {report.date or 'not stamped (reproducible report; `--date` stamps one)'}  ")
    mode = "strict, " if report.strict else ""
    add(
        f"**Auditor**: mmkit audit {report.version} (property-based: hypothesis, {mode}"
        f"{report.examples} examples per invariant, seed {report.seed}, derandomised)  "
    )
    add(f"**Scope**: {_scope(report)}" + (f"; config `{report.config}`" if report.config else ""))
    add("")
    add("---")
    add("")
    add("## Executive Summary")
    add("")
    add(f"**Overall Assessment**: {report.overall}  ")
    add(f"**Go/No-Go Recommendation**: {report.go}")
    add("")
    add(
        _summary_counts(report) + " Every check drives the component directly (or through an "
        "engine or a fake venue) with hypothesis-generated inputs, hostile ones included; a "
        "failure carries its shrunk counterexample."
    )
    add("")
    worst = _worst(report)
    if worst is None:
        add("**Most Severe Finding**: none — every applicable invariant holds.")
    else:
        add(
            f"**Most Severe Finding**: {worst.invariant.title} (`{worst.invariant.id}`, "
            f"{worst.invariant.severity}) — {_target(worst)}: **{worst.status.value}** — "
            f"{worst.explanation}"
        )
    add("")
    L.extend(
        _listed(
            [r for r in report.results if r.status is Status.UNAUDITED],
            "Unaudited checks",
            "NO-GO under --strict until audited or waived"
            if report.strict
            else "--strict would be NO-GO on them",
        )
    )
    L.extend(
        _listed(
            [r for r in report.results if r.status is Status.WAIVED],
            "Waived checks",
            "not audited, accepted in [audit.waivers] with the reason shown",
        )
    )
    add("---")
    add("")

    grouped: dict[tuple[int, str], list[Result]] = defaultdict(list)
    for r in report.results:
        grouped[section_key(r.invariant.section)].append(r)
    sections = ordered_sections([r.invariant.section for r in report.results])
    uncovered: list[str] = []
    number = 0
    for key in sections:
        number += 1
        res = grouped.get(key, [])
        title = key[1]
        add(f"## {number}. {title} {_section_status(res)}")
        add("")
        if not res:
            uncovered.append(title)
            add("No registered invariant covers this area.")
            add("")
            continue
        ids = sorted({r.invariant.id for r in res})
        add(f"**Invariants**: {', '.join(f'`{i}`' for i in ids)}")
        add("")
        add("**Findings**:")
        by_inv: dict[str, list[Result]] = defaultdict(list)
        for r in res:
            by_inv[r.invariant.id].append(r)
        for group in by_inv.values():
            L.extend(_findings(group))
        while L and L[-1] == "":
            L.pop()
        add("")
        add("---")
        add("")

    number += 1
    add(f"## {number}. Recommendations")
    add("")
    fails = [r for r in report.results if r.status is Status.FAIL]
    critical = [r for r in fails if r.invariant.severity in ("critical", "high")]
    high = [r for r in fails if r not in critical]
    high += [r for r in report.results if r.status in (Status.CONCERN, Status.UNAUDITED)]
    skips = [r for r in report.results if r.status is Status.NOT_APPLICABLE]
    waived = [r for r in report.results if r.status is Status.WAIVED]
    add("### Critical (Block Production)")
    if critical:
        for i, r in enumerate(critical, 1):
            add(
                f"{i}. **Fix {_target(r)}**: {r.invariant.title} (`{r.invariant.id}`) — {r.message}"
            )
    else:
        add("None. No critical or high-severity invariant fails.")
    add("")
    add("### High Priority (Monitor in Production)")
    if high:
        for i, r in enumerate(high, 1):
            verb = {Status.FAIL: "Fix", Status.UNAUDITED: "Make auditable"}.get(r.status, "Review")
            add(
                f"{i}. **{verb} {_target(r)}**: {r.invariant.title} (`{r.invariant.id}`) — "
                f"{r.explanation}"
            )
    else:
        add("None.")
    add("")
    add("### Medium Priority (Improve Coverage)")
    if uncovered or waived:
        i = 0
        for i, t in enumerate(uncovered, 1):
            add(f"{i}. **Add invariants for {t}**: no registered invariant covers this area.")
        for j, r in enumerate(waived, i + 1):
            add(f"{j}. **Revisit the waiver `{r.waiver_key}`**: {r.explanation}")
    else:
        add("None. Every seed area has at least one invariant.")
    add("")
    add("### Low Priority (Nice to Have)")
    if skips:
        skipped: dict[str, list[Result]] = defaultdict(list)
        for r in skips:
            skipped[r.invariant.id].append(r)
        for i, (inv_id, rs) in enumerate(skipped.items(), 1):
            reasons = "; ".join(sorted({r.message for r in rs}))
            who = ", ".join(_target(r) for r in rs)
            add(f"{i}. **Confirm that `{inv_id}` is out of scope** for {who} ({reasons}).")
    else:
        add("None.")
    add("")
    add("---")
    add("")
    add("## Appendix: Components and Plugins Audited")
    add("")
    add("### Components")
    add("| kind | name | plugin | distribution |")
    add("| --- | --- | --- | --- |")
    for c in report.components:
        add(f"| {c.kind} | `{c.name}` | {c.plugin} | {_dist(c.distribution, c.version)} |")
    add("")
    add("### Plugins")
    add("| plugin | distribution | source |")
    add("| --- | --- | --- |")
    for p in report.plugins:
        add(f"| {p.name} | {_dist(p.distribution, p.version)} | {p.source} |")
    add("")
    add("### Invariants")
    add("| id | severity | kinds | area | examples |")
    add("| --- | --- | --- | --- | --- |")
    seen: set[str] = set()
    for r in report.results:
        inv = r.invariant
        if inv.id in seen:
            continue
        seen.add(inv.id)
        area = section_key(inv.section)[1]
        add(
            f"| `{inv.id}` | {inv.severity} | {', '.join(inv.kinds)} | {area} | "
            f"{r.examples or '-'} |"
        )
    add("")
    add("---")
    add("")
    add("## Conclusion")
    add("")
    add(
        f"**Go/No-Go**: **{report.go}** — overall assessment {report.overall}. "
        + _summary_counts(report)
    )
    return "\n".join(L) + "\n"


def _dist(distribution: str | None, version: str | None) -> str:
    """``"name version"`` of a distribution, or ``-`` for none."""
    return f"{distribution} {version or ''}".strip() if distribution else "-"
