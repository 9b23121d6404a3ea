"""What an invariant is.

An :class:`Invariant` is a named, documented property of one component kind, taken from a
section of the seed report, with a hypothesis-driven ``check``. The runner calls
``check(target, ctx)`` once per configured component the invariant applies to:

* the check builds fresh components with ``target.build()`` as often as it likes and drives
  them directly (component invariants) or through a stateful machine against a fake venue
  (executor invariants);
* it runs hypothesis with ``ctx.settings()`` (example count, seed, derandomised, no example
  database) so that results are reproducible in CI;
* it returns normally on PASS, raises :class:`Concern` for a finding that is not a violation,
  :class:`Skip` when the component does not offer what the invariant is about (e.g. an
  estimator that does not publish kappa), and lets the failing assertion propagate on FAIL;
  hypothesis attaches the shrunk falsifying example to the exception, and the check should
  ``hypothesis.note()`` a readable event sequence.

Plugins register their own invariants through the ``register_invariants`` hook::

    @hookimpl
    def register_invariants(register):
        register(Invariant(id="myplugin.spread_floor", title="...", section="3. ...",
                           severity=Severity.HIGH, kinds=("quoter",), check=check_floor))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mmkit.core.types import Instrument
from mmkit.registry import BuildContext, ComponentSpec, RiskLimits

if TYPE_CHECKING:  # hypothesis is imported when a check asks for its settings, not before
    import hypothesis


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Concern(Exception):
    """Raised by a check for a finding that is worth reporting but is not a violation."""


class NotApplicable(Exception):
    """Raised by a check when the component is outside the invariant's scope *by what it was
    observed or declared to do* (e.g. an estimator shown not to publish kappa, a gate whose
    verified roles do not include the data-quality role). Never raise it for a missing
    capability: that is :class:`Unaudited`."""


class Unaudited(Exception):
    """Raised by a check when the invariant applies to the component (its kind or role) but
    the component lacks a capability the check needs (e.g. a sigma estimator without
    ``sigma_cap()``). ``missing`` names the capabilities; ``--strict`` fails on it unless
    ``[audit.waivers]`` waives it with a reason."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


#: the old name; a third-party check raising it is reported UNAUDITED, never silently skipped
Skip = Unaudited


@dataclass
class AuditTarget:
    """One configured component under audit."""

    spec: ComponentSpec
    params: Any
    instrument: Instrument
    risk: RiskLimits
    seed: int = 0

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def name(self) -> str:
        return self.spec.name

    def build(self, params: Any | None = None, **risk_overrides: Any) -> Any:
        """A fresh instance (optionally with other params or risk limits)."""
        risk = self.risk
        if risk_overrides:
            from dataclasses import replace

            risk = replace(risk, **risk_overrides)
        ctx = BuildContext(
            kind=self.spec.kind,
            name=self.spec.name,
            params=self.params if params is None else params,
            instrument=self.instrument,
            risk=risk,
            seed=self.seed,
        )
        return self.spec.build(ctx)


@dataclass
class AuditContext:
    """Run-wide settings handed to every check."""

    examples: int = 100
    seed: int = 0
    deadline_ms: int | None = None
    #: examples a check ran outside hypothesis (see :meth:`count_example`)
    counted: int = field(default=0, compare=False)

    def count_example(self, n: int = 1) -> None:
        """Count ``n`` examples a check ran by itself (a plain loop, not ``@given``): the
        report's examples column shows what actually ran. Examples run by hypothesis are
        counted by the runner from hypothesis's own statistics; do not count those again."""
        self.counted += n

    def settings(self, **overrides: Any) -> hypothesis.settings:
        """hypothesis settings: derandomised with ``seed``, no database, our example count."""
        from hypothesis import HealthCheck, settings

        kw: dict[str, Any] = {
            "max_examples": self.examples,
            "derandomize": True,
            "database": None,
            "deadline": None if self.deadline_ms is None else self.deadline_ms,
            "suppress_health_check": [
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
            "print_blob": False,
        }
        kw.update(overrides)
        return settings(**kw)


CheckFn = Callable[[AuditTarget, AuditContext], None]


@dataclass(frozen=True)
class Invariant:
    id: str
    title: str
    section: str  # seed report section, e.g. "1. Kappa Estimation Integrity"
    severity: Severity
    kinds: tuple[str, ...]
    check: CheckFn
    description: str = ""
    #: examples = ctx.examples * weight (stateful machines may want fewer, cheap checks more)
    weight: float = 1.0
    plugin: str = field(default="", compare=False)
    #: the check's expected run time relative to a typical check (1.0): with several
    #: workers (``mmkit audit --jobs``) the longest expected checks are handed out first,
    #: so that none starts last while the other cores idle. A hint only: results and
    #: reports do not depend on it.
    cost: float = field(default=1.0, compare=False)
