"""The hooks a plugin can implement.

Two families, as in ``llm`` and ``datasette``:

* ``register_*`` hooks run once at start-up. Each receives a ``register`` callable; a plugin
  calls it once per component it provides. Built-in components are registered through these
  very hooks by the modules in :mod:`mmkit.default_plugins`.
* Observer hooks (``mmkit_on_*``) are called by the runners for logging, metrics or alerts.
  They are off the hot path: the engine calls its resolved components directly, and a runner
  calls an observer hook only when some plugin implements it.

``register`` for components has the signature::

    register(name: str, factory, *, params: type | None = None, description: str = "")

where ``factory`` is a callable taking a :class:`mmkit.registry.BuildContext` and returning
the component (or a ``"module:attribute"`` string naming such a callable, imported only when
the component is built, which keeps ``mmkit --help`` fast), and ``params`` is the dataclass
of its parameters (see :mod:`mmkit.params`); its fields become the ``[<kind>s.<name>]``
table of ``mmkit.toml``.
"""

from __future__ import annotations

from typing import Any

import pluggy

from mmkit import PROJECT

hookspec = pluggy.HookspecMarker(PROJECT)


# -- registration (start-up) -------------------------------------------------------------


@hookspec
def register_estimators(register: Any) -> None:
    """Register estimator components (kappa, sigma, warmup, signals...)."""


@hookspec
def register_gates(register: Any) -> None:
    """Register gate components (data-quality gate, kill switch, ...)."""


@hookspec
def register_quoters(register: Any) -> None:
    """Register quoter components (GLFT, Avellaneda–Stoikov, ...)."""


@hookspec
def register_executors(register: Any) -> None:
    """Register executor components (reconciliation, rate limits, budget, ...)."""


@hookspec
def register_venues(register: Any) -> None:
    """Register venues (simulated exchange, Hyperliquid, the loopback emulator)."""


@hookspec
def register_feeds(register: Any) -> None:
    """Register market-data feeds (synthetic market, capture replays, live feeds)."""


@hookspec
def register_invariants(register: Any) -> None:
    """Register audit invariants: ``register(invariant)`` with a
    :class:`mmkit.audit.invariant.Invariant`."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``mmkit`` command line; ``cli`` is the root ``typer.Typer``."""


# -- observers (off the hot path) --------------------------------------------------------


@hookspec
def mmkit_on_fill(fill: Any, run: Any) -> None:
    """An own fill was recorded (``fill``: :class:`mmkit.core.events.OwnFill`)."""


@hookspec
def mmkit_on_gate_closed(decision: Any, now_ns: int, run: Any) -> None:
    """A gate closed (``decision``: :class:`mmkit.components.GateDecision`)."""


@hookspec
def mmkit_on_gate_opened(gate: str, now_ns: int, run: Any) -> None:
    """A gate that was closed opened again."""


@hookspec
def mmkit_on_quote_published(ladder: Any, now_ns: int, run: Any) -> None:
    """The executor sent actions for a new desired ladder."""


@hookspec
def mmkit_on_fault(component: str, message: str, now_ns: int, run: Any) -> None:
    """A component produced invalid output (e.g. a NaN price) that the engine refused."""
