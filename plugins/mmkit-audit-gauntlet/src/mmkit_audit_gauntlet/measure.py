"""Audit every gauntlet component alone and tabulate what ``mmkit audit --strict`` says.

``python -m mmkit_audit_gauntlet.measure [--examples N] [--json FILE] [NAME ...]`` runs
``mmkit audit --strict --component KIND:NAME --format json`` once per component (a
subprocess each, through the installed entry point, exactly as a user would) and prints,
per component: kind, the invariant its bug breaks, the verdict (CAUGHT when that invariant
FAILs, OTHER when only another one does, MISSED when nothing FAILs; for the correct ones
PASS or what went wrong) and every non-PASS result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import CATALOGUE, Entry

#: statuses that make ``--strict`` say NO-GO
BAD = frozenset({"FAIL", "CONCERN", "UNAUDITED"})


@dataclass
class Verdict:
    """What one audit run said about one component."""

    entry: Entry
    returncode: int
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    table: str = ""  # what the audit printed on stdout (its table)

    def with_status(self, *statuses: str) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("status") in statuses]

    @property
    def failed_invariants(self) -> list[str]:
        return sorted({str(r["invariant"]) for r in self.with_status("FAIL")})

    @property
    def caught(self) -> bool:
        """The invariant the bug breaks FAILed on the component."""
        return self.entry.invariant in self.failed_invariants

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if not self.entry.broken:
            return "PASS" if self.returncode == 0 and not self.with_status(*BAD) else "NO-GO"
        if self.caught:
            return "CAUGHT"
        return "OTHER" if self.failed_invariants else "MISSED"


def mmkit_executable() -> str:
    """The ``mmkit`` script next to the running interpreter (the venv's), else on PATH."""
    here = Path(sys.executable).with_name("mmkit")
    if here.exists():
        return str(here)
    found = shutil.which("mmkit")
    if found is None:
        raise FileNotFoundError("no mmkit executable next to the interpreter or on PATH")
    return found


def audit_one(entry: Entry, examples: int | None = None) -> Verdict:
    """Run ``mmkit audit --strict --component KIND:NAME --out REPORT.json`` on ``entry``
    (in a scratch directory, with no config file: the defaults) and read the report."""
    with tempfile.TemporaryDirectory(prefix="gauntlet-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            mmkit_executable(),
            "audit",
            "--strict",
            "--component",
            f"{entry.kind}:{entry.name}",
            "--out",
            str(report),
        ]
        if examples is not None:
            cmd += ["--examples", str(examples)]
        env = dict(os.environ)
        env.pop("MMKIT_CONFIG", None)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, check=False)
        v = Verdict(entry, proc.returncode, table=proc.stdout)
        try:
            doc = json.loads(report.read_text())
        except (OSError, json.JSONDecodeError):
            v.error = (proc.stderr or proc.stdout).strip()[-2000:] or f"exit {proc.returncode}"
            return v
    v.results = [r for r in doc.get("results", []) if r.get("component") == entry.name]
    return v


def table(verdicts: list[Verdict]) -> str:
    """A Markdown table of the verdicts."""
    rows = [
        "| component | kind | bug (condition) | expected invariant | verdict | FAILed invariants "
        "| other NO-GO results |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        e = v.entry
        bug = f"{e.bug} ({e.condition})" if e.broken else "none: " + e.description
        other = ", ".join(
            f"{r['status']} {r['invariant']}" for r in v.with_status("CONCERN", "UNAUDITED")
        )
        rows.append(
            f"| `{e.name}` | {e.kind} | {bug} | {e.invariant or '-'} | {v.verdict} "
            f"| {', '.join(v.failed_invariants) or '-'} | {other or v.error[:80] or '-'} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("names", nargs="*", help="component names (default: all)")
    ap.add_argument("--examples", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write the raw verdicts here")
    args = ap.parse_args(argv)
    chosen = [e for e in CATALOGUE if not args.names or e.name in args.names]
    verdicts = []
    for e in chosen:
        v = audit_one(e, args.examples)
        print(f"{e.name}: {v.verdict} {v.failed_invariants}", file=sys.stderr, flush=True)
        verdicts.append(v)
    print(table(verdicts))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "name": v.entry.name,
                        "kind": v.entry.kind,
                        "expected": v.entry.invariant,
                        "verdict": v.verdict,
                        "returncode": v.returncode,
                        "results": v.results,
                        "error": v.error,
                    }
                    for v in verdicts
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
