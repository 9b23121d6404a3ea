"""Compiled twins: numba implementations of the built-in components, chosen per component.

A **twin** is a compiled implementation of one component. It subclasses the Python class it
twins (which stays the reference: readable, and what the audit compares against), keeps the
reference's public surface (the attributes reports and the audit read, its rejections and
logs) and runs its hot methods (``on_event`` / ``on_trades`` / ``estimate`` / ``check`` /
``quote`` / the executor's ladder diff) as numba kernels over state held in numpy arrays.
A component offers its twin through one optional method::

    def twin(self) -> <a component of the same kind>:
        '''Same parameters, fresh state.'''

The engine is assembled with twins according to ``[engine] twins``:

* ``"auto"`` (default): every component that offers a twin runs it, every other one (a
  third-party plugin, say) runs its Python code, paying only for itself;
* ``"off"``: every component runs its Python reference (figures to compare against);
* ``"require"``: like ``"auto"``, but a configured component without a working twin is a
  configuration error (for a deployment that must run fully compiled).

A twin must give **identical** outputs to its reference on every stream: estimates, gate
decisions, ladders and actions, compared with ``==`` (NaN equal to NaN); where a twin states a
floating-point tolerance (``TWIN_TOLERANCE`` in its module, with the reason) that tolerance is
used instead. ``mmkit audit`` proves it per component (invariant ``twins.equivalence``) on the
audit's hypothesis streams, faults and trade batches included, so a twin that drifts from its
reference fails the audit with a shrunk counterexample.

A twin may run its reference's Python for inputs where that is cheaper than its kernel
(the executor's: small trade batches, and its reconcile core at every ladder size measured).
Such a twin has a ``use_kernels_always()`` method that switches every kernel on; the audit
calls it, so what it proves equal is the kernels (the reference's own code needs no proof).

A ``twin()`` that raises or returns something that is not a component of the same kind is
never run: under ``"auto"`` the reference runs instead and the reason is recorded in the
run's component list (:class:`TwinChoice`); under ``"require"`` it is an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

TwinMode = Literal["auto", "off", "require"]

#: the values ``[engine] twins`` accepts
TWIN_MODES: tuple[TwinMode, ...] = ("auto", "off", "require")

#: the method a component of each kind must have (its twin must have it too)
_KIND_METHODS: dict[str, tuple[str, ...]] = {
    "estimator": ("on_event", "estimate"),
    "gate": ("on_event", "check"),
    "quoter": ("quote",),
    "executor": ("on_event", "reconcile", "halt"),
}


@dataclass(frozen=True)
class TwinChoice:
    """What runs for one configured component: its compiled twin or its Python code, and
    why (``"compiled twin"``, ``"no twin"``, ``"twins off"``, ``"twin failed: ..."``)."""

    kind: str
    name: str
    compiled: bool
    why: str

    def describe(self) -> str:
        how = "compiled" if self.compiled else "python"
        return f"{self.kind} {self.name}: {how} ({self.why})"


class TwinError(Exception):
    """A component has no working twin while ``[engine] twins = "require"``."""


def twin_method(component: object) -> Callable[[], Any] | None:
    """The component's ``twin`` method, or None when it offers none (a non-callable
    ``twin`` attribute counts as none)."""
    fn = getattr(component, "twin", None)
    return fn if callable(fn) else None


def make_twin(kind: str, component: object) -> Any:
    """The component's twin, checked: raises :class:`TwinError` naming the problem when
    ``twin()`` raises, returns the component itself, or returns an object without the
    kind's methods."""
    fn = twin_method(component)
    if fn is None:
        raise TwinError("no twin")
    owner = next((c for c in type(component).__mro__ if "twin" in vars(c)), None)
    if owner is not None and owner is not type(component):
        # a subclass of a component with a twin (a plugin extending a built-in) inherits
        # ``twin()``, whose twin is the base's: running it would silently drop the
        # subclass's own code, so it runs its Python code unless it offers its own twin
        raise TwinError(
            f"no twin of its own ({type(component).__name__} inherits twin() from "
            f"{owner.__name__}, whose twin would not run {type(component).__name__}'s code)"
        )
    try:
        twin = fn()
    except Exception as exc:  # plugin boundary: a twin that cannot be built is not run
        raise TwinError(f"twin() raised {type(exc).__name__}: {exc}") from exc
    if twin is component:
        raise TwinError("twin() returned the component itself")
    missing = [m for m in _KIND_METHODS.get(kind, ()) if not callable(getattr(twin, m, None))]
    if missing:
        raise TwinError(
            f"twin() returned a {type(twin).__name__} without {', '.join(missing)} (not a {kind})"
        )
    return twin


def choose(kind: str, name: str, component: object, mode: TwinMode) -> tuple[Any, TwinChoice]:
    """The component to run for ``component`` under ``mode``, and the record of the choice."""
    if mode == "off":
        return component, TwinChoice(kind, name, False, "twins off")
    try:
        twin = make_twin(kind, component)
    except TwinError as exc:
        why = str(exc)
        if mode == "require":
            raise TwinError(
                f"{kind} {name!r} ({type(component).__name__}): {why}; [engine] twins = "
                "'require' needs a compiled twin for every component (use 'auto' to run "
                "components without one in Python)"
            ) from None
        if not why.startswith("no twin"):
            log.warning("%s %s: %s; running its Python code", kind, name, why)
            why = f"twin failed: {why}"
        return component, TwinChoice(kind, name, False, why)
    return twin, TwinChoice(kind, name, True, "compiled twin")


def summary(choices: list[TwinChoice]) -> str:
    """One line for reports: how many components run compiled, and which run Python."""
    if not choices:
        return "components: none"
    compiled = sum(c.compiled for c in choices)
    py = [f"{c.kind} {c.name} ({c.why})" for c in choices if not c.compiled]
    head = f"components: {compiled} of {len(choices)} compiled twins"
    return head + (f"; python: {', '.join(py)}" if py else "")
