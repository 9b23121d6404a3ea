"""The areas of the seed report, in its order: reports group invariants by them."""

from __future__ import annotations

import re

SEED_SECTIONS: tuple[str, ...] = (
    "Kappa Estimation Integrity",
    "Sigma Estimation Under Regime Change",
    "Data Staleness Handling",
    "Exchange State Synchronization",
    "Recovery from Desync",
    "Calibration Feedback Loop Integrity",
    "Execution Budget Protection",
    "Numerical Stability",
)

_NUMBERED = re.compile(r"^\s*(\d+)\s*(?:[.)]\s*(.*))?$")


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def section_key(section: str) -> tuple[int, str]:
    """``(index, title)``: index 1..8 for a seed area (by number or by title), else 0.

    ``"1. Kappa Estimation Integrity"``, ``"1"`` and ``"kappa estimation integrity"`` all name
    area 1; anything else (a plugin's own area) keeps its text as the title.
    """
    m = _NUMBERED.match(section)
    if m:
        n = int(m.group(1))
        if 1 <= n <= len(SEED_SECTIONS):
            return n, SEED_SECTIONS[n - 1]
        section = m.group(2) or ""
    wanted = _norm(section)
    for i, title in enumerate(SEED_SECTIONS, start=1):
        if wanted and (_norm(title) == wanted or _norm(title).startswith(wanted)):
            return i, title
    return 0, section.strip() or "Other"


def ordered_sections(sections: list[str]) -> list[tuple[int, str]]:
    """Every seed area in order, then the other areas named by ``sections`` alphabetically."""
    keys = {section_key(s) for s in sections}
    extra = sorted(k for k in keys if k[0] == 0)
    return [(i, t) for i, t in enumerate(SEED_SECTIONS, start=1)] + extra
