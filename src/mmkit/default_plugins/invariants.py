"""Built-in invariants and the ``mmkit audit`` command (registered through the same hooks as
third-party plugins).

Every module of the package :mod:`mmkit.audit.invariants` is discovered at hook time (never at
import: this module runs on every ``mmkit`` start) and its ``INVARIANTS`` list registered. A
module that fails to import, or has no valid ``INVARIANTS``, is reported as a plugin error
naming it; the others still register.
"""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl

INVARIANTS_PACKAGE = "mmkit.audit.invariants"


def discover(package: str = INVARIANTS_PACKAGE) -> tuple[list[Any], list[str]]:
    """(invariants, problems) from every module of ``package``, in module-name order."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    found: list[Any] = []
    problems: list[str] = []
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    for short in names:
        mod_name = f"{package}.{short}"
        try:
            mod = importlib.import_module(mod_name)
        except Exception as exc:  # plugin boundary: a broken invariant module is reported
            problems.append(
                f"invariant module {mod_name!r} failed to import: {type(exc).__name__}: {exc}"
            )
            continue
        invs = getattr(mod, "INVARIANTS", None)
        if not isinstance(invs, list | tuple):
            problems.append(f"invariant module {mod_name!r} has no INVARIANTS list")
            continue
        found.extend(invs)
    return found, problems


@hookimpl
def register_invariants(register: Any) -> None:
    from mmkit.errors import PluginError

    found, problems = discover()
    for inv in found:
        try:
            register(inv)
        except PluginError as exc:
            problems.append(exc.fault)
    if problems:
        raise PluginError("invariants", "mmkit", "; ".join(problems))


@hookimpl
def register_commands(cli: Any) -> None:
    from mmkit.audit.cli import register

    register(cli)
