"""The terminal table: one row per invariant and component, then each FAIL, CONCERN,
UNAUDITED (with the missing capabilities) and WAIVED (with its reason) in full."""

from __future__ import annotations

from mmkit.audit.results import AuditReport, Status


def _cut(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def render_table(report: AuditReport) -> str:
    headers = ["status", "invariant", "component", "examples"]
    if report.timings:
        headers.append("time")
    headers.append("finding")
    rows = []
    for r in report.results:
        row = [r.status.value, r.invariant.id, r.target_label, str(r.examples or "-")]
        if report.timings:
            row.append(f"{r.duration_s:.2f}s")
        row.append(_cut(r.explanation, 70) if r.status is not Status.PASS else "")
        rows.append(row)
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    for r in report.results:
        if r.status in (Status.FAIL, Status.CONCERN, Status.UNAUDITED, Status.WAIVED):
            lines += [
                "",
                f"{r.status.value} {r.invariant.id} on {r.target_label}: {r.invariant.title}",
                f"  {r.explanation}",
            ]
            if r.counterexample:
                lines += ["  " + ln for ln in r.counterexample.splitlines()]
    c = report.counts()
    lines += [
        "",
        f"Overall: {report.overall} ({report.go}) — "
        + ", ".join(f"{c[s]} {s.value.lower().replace('_', ' ')}" for s in Status),
    ]
    return "\n".join(lines) + "\n"
