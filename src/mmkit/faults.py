"""Component faults, reported rather than counted (not the emulator's injected faults).

Two kinds of trouble come out of a component, and they are kept apart on purpose:

* a **rejection**: the component was handed input it cannot use (a trade with a non-finite
  or non-positive price or size, a book without a valid touch, an event older than the last
  one, ...). Input validation is the component's job and is done explicitly where the input
  enters; the component skips what it cannot use (its estimates are not changed by it) and
  records *why* in its :class:`Rejections` as a structured :class:`Rejection` (event kind,
  reason). Inside an engine, every rejection is passed on to the engine, which counts it per
  component and reports the first of each distinct ``(component, event kind, reason)``
  through its fault path (observer ``on_fault``: log, journal, metrics, the
  ``mmkit_on_fault`` hook). Quoting goes on: bad market data is expected, not a bug.
* a **fault**: an exception raised out of a component (``TypeError``, ``AttributeError``,
  ``KeyError``, ``ZeroDivisionError``... from a bug). Components do not catch these; the
  engine, the one boundary that isolates components, catches them, reports them with the
  component's name, the exception type and message, and treats the component as failed
  for that cycle (an estimator that raised in ``estimate`` or a gate that raised halts
  quoting).

:class:`FaultLog` is the engine's account of both over a run: counts per component, and
each distinct message once, with how many times it happened (the run summary).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "FaultCategory",
    "FaultEntry",
    "FaultLog",
    "Rejection",
    "RejectionListener",
    "Rejections",
]

#: longest ``repr`` of an offending value kept as the example of a rejection (characters)
_EXAMPLE_CHARS = 60


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a component could not use an event: the event kind (``EventKind`` name, e.g.
    ``"TRADE"``) and a fixed reason (no values in it, so that repeats compare equal)."""

    event_kind: str
    reason: str

    @property
    def message(self) -> str:
        return f"rejected {self.event_kind}: {self.reason}"


#: ``(rejection, how many events, repr of the first offending value or "", now_ns)``
RejectionListener = Callable[[Rejection, int, str, int], None]


class Rejections:
    """A component's record of the input it rejected (kept whether or not an engine
    listens, so a component driven directly, in a test or the audit, can be asked too).

    The owner calls :meth:`reject`; an engine :meth:`attach`-es a listener that gets every
    rejection as it happens.
    """

    __slots__ = ("_listener", "counts", "examples", "total")

    def __init__(self) -> None:
        #: rejection -> number of events rejected for it
        self.counts: Counter[Rejection] = Counter()
        #: rejection -> ``repr`` of the first offending value (when one was given)
        self.examples: dict[Rejection, str] = {}
        self.total = 0
        self._listener: RejectionListener | None = None

    def attach(self, listener: RejectionListener | None) -> None:
        """Pass every future rejection to ``listener`` (None: stop)."""
        self._listener = listener

    def reject(
        self,
        event_kind: str,
        reason: str,
        value: object = None,
        now_ns: int = 0,
        count: int = 1,
    ) -> None:
        """Record ``count`` events of kind ``event_kind`` rejected for ``reason``.

        ``value`` is the offending value (its short ``repr`` is kept for the first one);
        ``now_ns`` the engine time the event was handled at.
        """
        if count <= 0:
            return
        key = Rejection(event_kind, reason)
        self.counts[key] += count
        self.total += count
        example = ""
        if value is not None:
            example = repr(value)[:_EXAMPLE_CHARS]
            self.examples.setdefault(key, example)
        if self._listener is not None:
            self._listener(key, count, example, now_ns)

    def count(self, reason: str | None = None) -> int:
        """Events rejected for ``reason`` (any reason when None)."""
        if reason is None:
            return self.total
        return sum(n for r, n in self.counts.items() if r.reason == reason)

    def reasons(self) -> set[str]:
        """The distinct reasons seen so far."""
        return {r.reason for r in self.counts}


class FaultCategory(Enum):
    """A fault proper (a component raised, or produced something refused) or a rejection
    (a component could not use its input)."""

    FAULT = "fault"
    REJECTED = "rejected"


@dataclass(slots=True)
class FaultEntry:
    """One distinct ``(component, message)`` over a run: first seen at ``first_ns``
    (engine ns), ``count`` times in all."""

    component: str
    category: FaultCategory
    message: str
    count: int
    first_ns: int

    def describe(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"{self.component}: {self.message}{times}"


class FaultLog:
    """Counts per component and the distinct messages of a run's faults and rejections."""

    __slots__ = ("by_component", "entries")

    def __init__(self) -> None:
        #: (component, message) -> entry, in order of first occurrence
        self.entries: dict[tuple[str, str], FaultEntry] = {}
        #: component -> faults plus rejected events
        self.by_component: Counter[str] = Counter()

    def add(
        self,
        component: str,
        message: str,
        now_ns: int,
        category: FaultCategory = FaultCategory.FAULT,
        count: int = 1,
    ) -> bool:
        """Account ``count`` occurrences; True when this message is new for the component."""
        self.by_component[component] += count
        key = (component, message)
        entry = self.entries.get(key)
        if entry is None:
            self.entries[key] = FaultEntry(component, category, message, count, now_ns)
            return True
        entry.count += count
        return False

    def __len__(self) -> int:
        return len(self.entries)

    def summary(self) -> list[str]:
        """One line per distinct message, in order of first occurrence."""
        return [e.describe() for e in self.entries.values()]

    def counts(self) -> dict[str, int]:
        """The run's faults proper by component. Rejected input is left out: a component
        refusing bad data is working as it should."""
        per: Counter[str] = Counter()
        for e in self.entries.values():
            if e.category is FaultCategory.FAULT:
                per[e.component] += e.count
        return dict(per)

    def headline(self) -> str | None:
        """The run's faults proper in one line for its report's first lines (None without
        any): :func:`fault_headline` of :meth:`counts`."""
        return fault_headline(self.counts())


def fault_headline(per_component: Mapping[str, int]) -> str | None:
    """A run's faults (``per_component``: how many each component had) in one line: how
    many, by component (most first), and what they did; None without any."""
    per = {c: n for c, n in per_component.items() if n > 0}
    if not per:
        return None
    total = sum(per.values())
    who = ", ".join(f"{c} {n:,}" for c, n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])))
    return (
        f"COMPONENT FAULTS: {total:,} ({who}): a quoting cycle after a component "
        "raised or was refused is halted; each distinct fault is in the log"
    )
