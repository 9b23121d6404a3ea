"""Helpers for testing invariants themselves: does a check PASS or FAIL a component, or is
the component out of its scope (NOT_APPLICABLE) or missing a capability it needs
(UNAUDITED)?

Used by mmkit's own tests (each invariant PASSes on the built-ins and FAILs on a broken
component) and by plugin authors who write invariants with broken fixtures of their own.
"""

from __future__ import annotations

from typing import Any, Literal

from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, NotApplicable, Unaudited
from mmkit.core.types import Instrument
from mmkit.params import NoParams
from mmkit.registry import ComponentSpec, RiskLimits

Verdict = Literal["pass", "fail", "not_applicable", "unaudited"]


class VerdictContext(AuditContext):
    """The audit's settings without the shrink phase: a verdict needs no minimal example."""

    def settings(self, **overrides: Any) -> Any:
        from hypothesis import Phase

        overrides.setdefault("phases", [Phase.explicit, Phase.reuse, Phase.generate])
        return super().settings(**overrides)


def target_of(
    kind: str,
    factory: Any,
    params: Any = None,
    *,
    instrument: Instrument | None = None,
    risk: RiskLimits | None = None,
    name: str = "under_test",
) -> AuditTarget:
    """An audit target for a component built by ``factory(ctx)`` (no registry needed)."""
    spec = ComponentSpec(
        kind, name, factory, NoParams if params is None else type(params), "", "tests"
    )
    return AuditTarget(
        spec,
        NoParams() if params is None else params,
        instrument or Instrument(),
        risk or RiskLimits(),
    )


def builtin_target(kind: str, name: str) -> AuditTarget:
    """An audit target for a registered component with its default parameters."""
    from mmkit.plugin_manager import PluginHost

    spec = PluginHost(load_entrypoints=False).registry.get(kind, name)
    return AuditTarget(spec, spec.params(), Instrument(), RiskLimits())


def verdict(inv: Invariant, target: AuditTarget, ctx: AuditContext) -> Verdict:
    try:
        inv.check(target, ctx)
    except NotApplicable:
        return "not_applicable"
    except Unaudited:  # also the old name Skip
        return "unaudited"
    except AssertionError:
        return "fail"
    return "pass"
