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
    """The outcome of one invariant on one component.

    * ``PASS`` / ``CONCERN`` / ``FAIL``: the check ran (a CONCERN is a finding that is not a
      proven violation);
    * ``UNAUDITED``: the invariant applies to the component (by kind or by a role or field it
      has) but the component lacks a capability the check needs (``Result.missing``);
      ``--strict`` is NO-GO on it;
    * ``WAIVED``: an UNAUDITED result waived by ``[audit.waivers]`` with a reason
      (``Result.waiver``); it does not fail the audit but every report lists it;
    * ``NOT_APPLICABLE``: the component is out of the invariant's scope by what it was observed
      (and declared) to do, or nothing of the invariant's kind is configured; not a check.

    ``SKIP`` (reports written before these statuses existed) reads back as ``NOT_APPLICABLE``.
    """

    PASS = "PASS"
    CONCERN = "CONCERN"
    FAIL = "FAIL"
    UNAUDITED = "UNAUDITED"
    WAIVED = "WAIVED"
    NOT_APPLICABLE = "NOT_APPLICABLE"

    @classmethod
    def _missing_(cls, value: object) -> Status | None:
        if isinstance(value, str) and value.strip().upper() in ("SKIP", "N/A", "NOT APPLICABLE"):
            return cls.NOT_APPLICABLE
        return None


#: the marks of the seed report (and ours for the statuses it did not have)
MARK: dict[Status, str] = {
    Status.PASS: "✅",
    Status.CONCERN: "⚠️",
    Status.FAIL: "❌",
    Status.UNAUDITED: "❓",
    Status.WAIVED: "🔕",
    Status.NOT_APPLICABLE: "➖",
}

#: statuses that are checks (NOT_APPLICABLE is listed, not counted)
CHECK_STATUSES: tuple[Status, ...] = (
    Status.PASS,
    Status.CONCERN,
    Status.FAIL,
    Status.UNAUDITED,
    Status.WAIVED,
)


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
    #: the examples the check actually ran (hypothesis's own count, plus any
    #: ``ctx.count_example()``), not the budget it was given
    examples: int = 0
    duration_s: float = 0.0
    #: UNAUDITED/WAIVED: the capabilities the component lacks (e.g. ``("sigma_cap()",)``)
    missing: tuple[str, ...] = ()
    #: WAIVED: the reason given in ``[audit.waivers]``
    waiver: str = ""

    @property
    def target_label(self) -> str:
        return self.component.label if self.component else "(no applicable component)"

    @property
    def waiver_key(self) -> str:
        """``"<invariant id>@<kind>.<name>"``, the key ``[audit.waivers]`` uses for it."""
        if self.component is None:
            return self.invariant.id
        return f"{self.invariant.id}@{self.component.kind}.{self.component.name}"

    @property
    def explanation(self) -> str:
        """The message with what the status needs said: the missing capabilities of an
        UNAUDITED result, the reason of a WAIVED one, "not in scope" for NOT_APPLICABLE."""
        if self.status is Status.UNAUDITED:
            miss = f"missing {', '.join(self.missing)}" if self.missing else ""
            return "; ".join(x for x in (miss, self.message) if x) or "not audited"
        if self.status is Status.WAIVED:
            miss = f" (missing {', '.join(self.missing)})" if self.missing else ""
            return f"waived: {self.waiver}{miss}" + (f" — {self.message}" if self.message else "")
        if self.status is Status.NOT_APPLICABLE:
            return f"not in scope: {self.message}" if self.message else "not in scope"
        return self.message


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
    def checks(self) -> int:
        """Results that are checks: everything but NOT_APPLICABLE."""
        return sum(1 for r in self.results if r.status is not Status.NOT_APPLICABLE)

    @property
    def overall(self) -> str:
        """``FAIL``, ``INCOMPLETE`` (something applicable was not audited), ``PASS with
        CONCERNS`` or ``PASS`` (the seed report's assessments, plus INCOMPLETE)."""
        c = self.counts()
        if c[Status.FAIL]:
            return "FAIL"
        if c[Status.UNAUDITED]:
            return "INCOMPLETE"
        if c[Status.CONCERN]:
            return "PASS with CONCERNS"
        return "PASS"

    @property
    def go(self) -> str:
        """NO-GO on a FAIL, and under ``--strict`` on anything UNAUDITED (not waived)."""
        overall = self.overall
        if overall == "FAIL" or (overall == "INCOMPLETE" and self.strict):
            return "NO-GO"
        if overall == "INCOMPLETE":
            return "GO (with unaudited checks)"
        if overall == "PASS with CONCERNS":
            return "GO (with monitoring)"
        return "GO"

    def exit_code(self) -> int:
        """1 on a FAIL, and with ``--strict`` on a CONCERN or an UNAUDITED check; else 0
        (a WAIVED check never fails the run)."""
        c = self.counts()
        if c[Status.FAIL] or (self.strict and (c[Status.CONCERN] or c[Status.UNAUDITED])):
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
            "checks": self.checks,
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
            if r.missing:
                item["missing"] = list(r.missing)
            if r.waiver:
                item["waiver"] = r.waiver
            if self.timings:
                item["duration_s"] = round(r.duration_s, 4)
            out["results"].append(item)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditReport:
        """Read back what :meth:`to_dict` wrote (also reports from before UNAUDITED, WAIVED and
        NOT_APPLICABLE existed: their ``SKIP`` reads as NOT_APPLICABLE). Invariant kinds and
        descriptions are not in the JSON and come back empty; ``ValueError`` names a bad
        entry."""
        components = [ComponentInfo(**c) for c in data.get("components", [])]
        by_label = {(c.kind, c.name): c for c in components}
        results: list[Result] = []
        for i, item in enumerate(data.get("results", [])):
            try:
                status = Status(item["status"])
                info = InvariantInfo(
                    id=str(item["invariant"]),
                    title=str(item.get("title", item["invariant"])),
                    section=str(item.get("section", "")),
                    severity=str(item.get("severity", "medium")),
                    kinds=(),
                    plugin=str(item.get("plugin", "")),
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"results[{i}]: not an audit result ({exc})") from None
            kind, name = item.get("kind"), item.get("component")
            comp = None
            if kind is not None and name is not None:
                comp = by_label.get((kind, name)) or ComponentInfo(str(kind), str(name), "")
            results.append(
                Result(
                    info,
                    comp,
                    status,
                    str(item.get("message", "")),
                    str(item.get("counterexample", "")),
                    int(item.get("examples", 0) or 0),
                    float(item.get("duration_s", 0.0) or 0.0),
                    tuple(str(m) for m in item.get("missing", ())),
                    str(item.get("waiver", "")),
                )
            )
        return cls(
            results=results,
            components=components,
            plugins=[PluginInfoLite(**p) for p in data.get("plugins", [])],
            examples=int(data.get("examples", 0) or 0),
            seed=int(data.get("seed", 0) or 0),
            strict=bool(data.get("strict", False)),
            date=str(data.get("date") or ""),
            config=str(data.get("config") or ""),
            version=str(data.get("version", "")),
            all_components=bool(data.get("all_components", False)),
        )
