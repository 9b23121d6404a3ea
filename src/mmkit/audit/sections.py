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

#: mmkit's own areas, numbered after the seed's: the whole-system invariants (the configured
#: set assembled into an engine against a faulty venue; :mod:`mmkit.audit.invariants.system`)
OWN_SECTIONS: tuple[str, ...] = ("Whole System",)
_AREAS: tuple[str, ...] = SEED_SECTIONS + OWN_SECTIONS

_NUMBERED = re.compile(r"^\s*(\d+)\s*(?:[.)]\s*(.*))?$")


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def section_key(section: str) -> tuple[int, str]:
    """``(index, title)``: index 1..8 for a seed area (by number or by title), 9 for
    ``"9. Whole System"`` (mmkit's own areas follow the seed's), else 0.

    ``"1. Kappa Estimation Integrity"``, ``"1"`` and ``"kappa estimation integrity"`` all name
    area 1; anything else (a plugin's own area) keeps its text as the title.
    """
    m = _NUMBERED.match(section)
    if m:
        n = int(m.group(1))
        if 1 <= n <= len(_AREAS):
            return n, _AREAS[n - 1]
        section = m.group(2) or ""
    wanted = _norm(section)
    for i, title in enumerate(_AREAS, start=1):
        if wanted and (_norm(title) == wanted or _norm(title).startswith(wanted)):
            return i, title
    return 0, section.strip() or "Other"


def ordered_sections(sections: list[str]) -> list[tuple[int, str]]:
    """Every seed area in order, then mmkit's own areas named by ``sections`` (in order),
    then the other areas named by ``sections`` alphabetically."""
    keys = {section_key(s) for s in sections}
    extra = sorted(k for k in keys if k[0] == 0)
    own = sorted(k for k in keys if k[0] > len(SEED_SECTIONS))
    return [(i, t) for i, t in enumerate(SEED_SECTIONS, start=1)] + own + extra
