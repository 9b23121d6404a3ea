"""Renderers of an :class:`~mmkit.audit.results.AuditReport`: terminal table, Markdown in the
seed report's shape, JSON for tools, JUnit XML for CI, and the invariant catalogue."""

from __future__ import annotations

from collections.abc import Callable

from mmkit.audit.results import AuditReport

FORMATS: tuple[str, ...] = ("table", "md", "json", "junit")
SUFFIX_FORMATS: dict[str, str] = {".md": "md", ".json": "json", ".xml": "junit", ".txt": "table"}


def renderer(fmt: str) -> Callable[[AuditReport], str]:
    if fmt == "md":
        from mmkit.audit.render.markdown import render_markdown

        return render_markdown
    if fmt == "json":
        from mmkit.audit.render.json_report import render_json

        return render_json
    if fmt == "junit":
        from mmkit.audit.render.junit import render_junit

        return render_junit
    if fmt == "table":
        from mmkit.audit.render.table import render_table

        return render_table
    raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")


def render(report: AuditReport, fmt: str) -> str:
    return renderer(fmt)(report)
