"""What an audit run produces: one :class:`Result` per invariant and component.

Kept free of hypothesis, numpy and typer so that reports can be rendered (and read back from
JSON) cheaply.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "PASS"
    CONCERN = "CONCERN"
    FAIL = "FAIL"
    SKIP = "SKIP"


#: the marks of the seed report
MARK: dict[Status, str] = {
    Status.PASS: "✅",
    Status.CONCERN: "⚠️",
    Status.FAIL: "❌",
    Status.SKIP: "➖",
}


@dataclass(frozen=True)
class InvariantInfo:
    """The documented part of an :class:`~mmkit.audit.invariant.Invariant` (no check)."""

    id: str
    title: str
    section: str
    severity: str
    kinds: tuple[str, ...]
    description: str = ""
    plugin: str = ""
    weight: float = 1.0

    @classmethod
    def of(cls, inv: Any) -> InvariantInfo:
        sev = getattr(inv, "severity", "medium")
        return cls(
            id=str(inv.id),
            title=str(getattr(inv, "title", inv.id)),
            section=str(getattr(inv, "section", "")),
            severity=str(getattr(sev, "value", sev)),
            kinds=tuple(getattr(inv, "kinds", ())),
            description=str(getattr(inv, "description", "")),
            plugin=str(getattr(inv, "plugin", "")),
            weight=float(getattr(inv, "weight", 1.0)),
        )


@dataclass(frozen=True)
class ComponentInfo:
    kind: str
    name: str
    plugin: str
    distribution: str | None = None
    version: str | None = None
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class PluginInfoLite:
    name: str
    distribution: str | None
    version: str | None
    source: str


@dataclass
class Result:
    invariant: InvariantInfo
    component: ComponentInfo | None
    status: Status
    message: str = ""
    #: the shrunk falsifying example and the check's notes (readable event sequence)
    counterexample: str = ""
    examples: int = 0
    duration_s: float = 0.0

    @property
    def target_label(self) -> str:
        return self.component.label if self.component else "(no applicable component)"


@dataclass
class AuditReport:
    results: list[Result]
    components: list[ComponentInfo]
    plugins: list[PluginInfoLite]
    examples: int
    seed: int
    strict: bool
    date: str = ""
    config: str = ""
    version: str = ""
    all_components: bool = False
    timings: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[Status, int]:
        c = Counter(r.status for r in self.results)
        return {s: c.get(s, 0) for s in Status}

    @property
    def overall(self) -> str:
        """``PASS``, ``PASS with CONCERNS`` or ``FAIL`` (the seed report's assessments)."""
        c = self.counts()
        if c[Status.FAIL]:
            return "FAIL"
        if c[Status.CONCERN]:
            return "PASS with CONCERNS"
        return "PASS"

    @property
    def go(self) -> str:
        return {"FAIL": "NO-GO", "PASS with CONCERNS": "GO (with monitoring)"}.get(
            self.overall, "GO"
        )

    def exit_code(self) -> int:
        c = self.counts()
        if c[Status.FAIL] or (self.strict and c[Status.CONCERN]):
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        c = self.counts()
        out: dict[str, Any] = {
            "tool": "mmkit audit",
            "version": self.version,
            "date": self.date or None,
            "config": self.config or None,
            "strict": self.strict,
            "all_components": self.all_components,
            "examples": self.examples,
            "seed": self.seed,
            "overall": self.overall,
            "go": self.go,
            "counts": {s.value: c[s] for s in Status},
            "components": [asdict(x) for x in self.components],
            "plugins": [asdict(p) for p in self.plugins],
            "results": [],
        }
        for r in self.results:
            item: dict[str, Any] = {
                "invariant": r.invariant.id,
                "title": r.invariant.title,
                "section": r.invariant.section,
                "severity": r.invariant.severity,
                "plugin": r.invariant.plugin,
                "kind": r.component.kind if r.component else None,
                "component": r.component.name if r.component else None,
                "status": r.status.value,
                "message": r.message,
                "counterexample": r.counterexample,
                "examples": r.examples,
            }
            if self.timings:
                item["duration_s"] = round(r.duration_s, 4)
            out["results"].append(item)
        return out
