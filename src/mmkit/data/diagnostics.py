"""Counting and reporting problems found in market data.

Tolerated problems (a malformed line, an unknown message type, a sequence gap, a crossed
book, a timestamp going backwards, a truncated file) are counted by name and the first few
are kept with their ``file:line``; they end up in the store's metadata and in
``mmkit data info``. Fatal problems raise :class:`~mmkit.errors.DataError` naming the place.
With ``strict=True`` every problem is fatal.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mmkit.errors import DataError

MAX_KEPT_ISSUES = 50

#: counters every loader reports (zero when nothing happened), in display order
ISSUE_NAMES: tuple[str, ...] = (
    "malformed",
    "unknown_type",
    "sequence_gap",
    "crossed",
    "ts_regression",
    "truncated",
    "bbo_mismatch",
)


@dataclass
class Diagnostics:
    strict: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    issues: list[str] = field(default_factory=list)

    def issue(self, name: str, where: str, message: str) -> None:
        """Record a tolerated problem ``name`` at ``where`` (``file:line``)."""
        self.counts[name] += 1
        text = f"{where}: {name}: {message}"
        if self.strict:
            raise DataError(text)
        if len(self.issues) < MAX_KEPT_ISSUES:
            self.issues.append(text)

    def count(self, name: str, n: int = 1) -> None:
        """Count something that is not a problem (e.g. ``bbo_checked``)."""
        self.counts[name] += n

    @staticmethod
    def fatal(where: str, message: str) -> DataError:
        return DataError(f"{where}: {message}")

    def as_dict(self) -> dict[str, int]:
        out = dict.fromkeys(ISSUE_NAMES, 0)
        out.update(self.counts)
        return out
