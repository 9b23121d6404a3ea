"""JSON for tools: the report as plain data (deterministic unless ``--timings``)."""

from __future__ import annotations

import json

from mmkit.audit.results import AuditReport


def render_json(report: AuditReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
