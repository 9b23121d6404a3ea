"""pytest plugin (entry point ``pytest11: mmkit``): fixtures for plugin authors.

``mmkit_audit`` runs ``mmkit audit``'s invariants against one component of the plugin under
test, inside that plugin's own test suite, and fails the test with the shrunk counterexample::

    def test_my_quoter_is_safe(mmkit_audit):
        results = mmkit_audit(kind="quoter", name="my_quoter", examples=50)
        assert results  # every applicable invariant ran (or is listed UNAUDITED)

The plugin is found through its ``mmkit`` entry point (install it, e.g. ``pip install -e .``),
or handed in directly with ``plugins=[module_or_object]``. Only cheap imports here: pytest
loads this module in every test session of an environment where mmkit is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest


def format_failures(results: Sequence[Any], strict: bool = False) -> str:
    """A readable account of every FAIL (and CONCERN and UNAUDITED when ``strict``) with its
    counterexample or missing capabilities."""
    wanted = {"FAIL", "CONCERN", "UNAUDITED"} if strict else {"FAIL"}
    parts = []
    for r in results:
        if r.status.value in wanted:
            parts.append(
                f"{r.status.value} {r.invariant.id} ({r.invariant.title}) on "
                f"{r.target_label}:\n  {getattr(r, 'explanation', r.message)}\n"
                + "\n".join("  " + ln for ln in r.counterexample.splitlines())
            )
    return "\n\n".join(parts)


def _make_auditor() -> Callable[..., list[Any]]:
    def run(
        kind: str,
        name: str,
        *,
        examples: int = 50,
        params: dict[str, Any] | None = None,
        only: Sequence[str] = (),
        seed: int = 0,
        strict: bool = False,
        plugins: Sequence[Any] = (),
        load_entrypoints: bool | None = None,
        fail: bool = True,
        instrument: Any = None,
        risk: Any = None,
    ) -> list[Any]:
        from mmkit.audit.runner import audit_component
        from mmkit.plugin_manager import PluginHost

        host = PluginHost(
            load_entrypoints=load_entrypoints,
            extra_modules=[p for p in plugins if isinstance(p, str)],
        )
        for i, p in enumerate(p for p in plugins if not isinstance(p, str)):
            host.register_plugin(p, name=getattr(p, "__name__", f"test_plugin_{i}"))
        results = audit_component(
            host,
            kind,
            name,
            params=params,
            examples=examples,
            seed=seed,
            only=only,
            instrument=instrument,
            risk=risk,
        )
        text = format_failures(results, strict)
        if fail and text:
            pytest.fail(
                f"mmkit audit of {kind} {name!r} found violations:\n\n{text}", pytrace=False
            )
        return results

    return run


@pytest.fixture
def mmkit_audit() -> Callable[..., list[Any]]:
    """``mmkit_audit(kind=..., name=..., examples=50, params=None, only=(), strict=False,
    plugins=(), fail=True, instrument=None, risk=None)`` -> list of results; fails the test
    on FAIL (and CONCERN when ``strict``) with the counterexample. ``instrument`` (an
    :class:`mmkit.core.types.Instrument`) and ``risk`` (a :class:`mmkit.registry.RiskLimits`)
    default to the config defaults."""
    return _make_auditor()
