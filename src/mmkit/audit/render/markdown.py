"""Markdown in the seed report's shape.

Title, date, auditor and scope; an executive summary with the overall assessment
(PASS / PASS with CONCERNS / FAIL) and a go/no-go line; one numbered section per seed area
marked ✅ / ⚠️ / ❌ with a finding per invariant and component (counterexamples in full);
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
    if Status.PASS in statuses:
        return "✅ PASS"
    return "➖ NOT APPLICABLE"


def _target(r: Result) -> str:
    return f"{r.component.kind} `{r.component.name}`" if r.component else "no audited component"


def _worst_status(results: list[Result]) -> Status:
    for st in (Status.FAIL, Status.CONCERN, Status.PASS):
        if any(r.status is st for r in results):
            return st
    return Status.SKIP


def _detail(r: Result, indent: str) -> list[str]:
    out = [f"{indent}- {MARK[r.status]} {_target(r)}: **{r.status.value}** — {r.message}"]
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
    for message, skipped in _skip_groups(others):
        who = ", ".join(_target(r) for r in skipped)
        out.append(f"  - {MARK[Status.SKIP]} not applicable to {who}: {message}")
    for r in others:
        if r.status is not Status.SKIP:
            out += _detail(r, "  ")
    return out


def _skip_groups(results: list[Result]) -> list[tuple[str, list[Result]]]:
    """Skipped results grouped by their message, in first-seen order."""
    groups: dict[str, list[Result]] = {}
    for r in results:
        if r.status is Status.SKIP:
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
    n = len(report.results)
    return (
        f"{n} invariant checks (invariant × component): {c[Status.PASS]} passed, "
        f"{c[Status.CONCERN]} with concerns, {c[Status.FAIL]} failed, "
        f"{c[Status.SKIP]} skipped."
    )


def _worst(report: AuditReport) -> Result | None:
    bad = [r for r in report.results if r.status in (Status.FAIL, Status.CONCERN)]
    bad.sort(
        key=lambda r: (
            r.status is not Status.FAIL,
            _SEVERITY_ORDER.get(r.invariant.severity, 9),
            r.invariant.id,
        )
    )
    return bad[0] if bad else None


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
            f"{worst.invariant.severity}) — {_target(worst)}: {worst.message}"
        )
    add("")
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
    high += [r for r in report.results if r.status is Status.CONCERN]
    skips = [r for r in report.results if r.status is Status.SKIP]
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
            verb = "Fix" if r.status is Status.FAIL else "Review"
            add(
                f"{i}. **{verb} {_target(r)}**: {r.invariant.title} (`{r.invariant.id}`) — "
                f"{r.message}"
            )
    else:
        add("None.")
    add("")
    add("### Medium Priority (Improve Coverage)")
    if uncovered:
        for i, t in enumerate(uncovered, 1):
            add(f"{i}. **Add invariants for {t}**: no registered invariant covers this area.")
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
            add(f"{i}. **Confirm that `{inv_id}` does not apply** to {who} ({reasons}).")
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
