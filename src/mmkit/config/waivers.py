"""``[audit.waivers]``: UNAUDITED checks a user accepts, each with a reason.

A key names one check, ``"<invariant id>@<kind>.<name>"``; its value is the reason, a
non-empty string the audit report prints beside the check::

    [audit.waivers]
    "estimators.sigma_bounded@estimator.mysigma" = "cap enforced upstream by the risk proxy"

Keys contain dots, so they must be quoted in TOML. A waiver only ever turns an UNAUDITED
result into WAIVED (it never hides a FAIL or a CONCERN), and a waiver that matches no UNAUDITED
result is itself reported, so stale ones do not linger.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: kinds a waiver may name: the component kinds plus the whole-system section's "system"
WAIVABLE_KINDS: tuple[str, ...] = (
    "estimator",
    "gate",
    "quoter",
    "executor",
    "venue",
    "feed",
    "system",
)
_INVARIANT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
EXAMPLE_KEY = "estimators.sigma_bounded@estimator.mysigma"


@dataclass(frozen=True, order=True)
class WaiverKey:
    """One check: an invariant id on one component (``kind`` and ``name``)."""

    invariant: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.invariant}@{self.kind}.{self.name}"


def parse_waiver_key(key: str) -> WaiverKey:
    """Parse ``"<invariant id>@<kind>.<name>"``; ``ValueError`` says what is wrong with it."""
    if not isinstance(key, str):
        raise ValueError(f"waiver key must be a string, got {type(key).__name__}")
    shape = f'expected "<invariant id>@<kind>.<name>", e.g. "{EXAMPLE_KEY}"'
    if key.count("@") != 1:
        raise ValueError(f"{key!r}: {shape}")
    invariant, _, component = key.partition("@")
    if not _INVARIANT_ID.match(invariant) or ".." in invariant or invariant.endswith("."):
        raise ValueError(
            f"{key!r}: {invariant!r} is not an invariant id (letters, digits, '_', '-' and "
            f"dotted parts; see `mmkit audit --list`); {shape}"
        )
    kind, dot, name = component.partition(".")
    if not dot:
        raise ValueError(f"{key!r}: {component!r} names no component; {shape}")
    if kind not in WAIVABLE_KINDS:
        raise ValueError(
            f"{key!r}: unknown kind {kind!r} (expected one of {', '.join(WAIVABLE_KINDS)})"
        )
    if not name.isidentifier():
        raise ValueError(
            f"{key!r}: {name!r} is not a component name (a registered name is a Python identifier)"
        )
    return WaiverKey(invariant, kind, name)


def parse_waivers(
    table: Any, where: str = "audit.waivers", source: Callable[[str], str] | None = None
) -> tuple[dict[WaiverKey, str], list[str]]:
    """The waivers of an ``[audit.waivers]`` table and the problems found (each naming the
    key and, with ``source``, where it was set)."""
    src = source or (lambda _k: where)
    if not isinstance(table, Mapping):
        return {}, [f'{src(where)}: [{where}] must be a table of "<check>" = "<reason>"']
    out: dict[WaiverKey, str] = {}
    problems: list[str] = []
    for raw, reason in table.items():
        full = f"{where}.{raw}"
        try:
            key = parse_waiver_key(raw)
        except ValueError as exc:
            problems.append(f"{src(full)}: [{where}] {exc}")
            continue
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                f"{src(full)}: [{where}] {raw!r}: the reason must be a non-empty string "
                f"(why this check need not run), got {reason!r}"
            )
            continue
        if key in out:
            problems.append(f"{src(full)}: [{where}] {raw!r} waived twice")
            continue
        out[key] = reason.strip()
    return out, problems


def parse_audit_section(
    table: Any, source: Callable[[str], str] | None = None
) -> tuple[dict[WaiverKey, str], list[str]]:
    """The ``[audit]`` section: only ``waivers`` is known in it."""
    src = source or (lambda k: k)
    if not isinstance(table, Mapping):
        return {}, [f"{src('audit')}: [audit] must be a table, got {table!r}"]
    problems = [
        f"{src('audit.' + str(k))}: [audit] unknown key {k!r} (known: waivers)"
        for k in table
        if k != "waivers"
    ]
    waivers, more = parse_waivers(table.get("waivers", {}), "audit.waivers", source)
    return waivers, problems + more
