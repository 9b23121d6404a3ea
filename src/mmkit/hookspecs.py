"""The hooks a plugin can implement.

Two families, as in ``llm`` and ``datasette``:

* ``register_*`` hooks run once at start-up. Each receives a ``register`` callable; a plugin
  calls it once per component it provides. Built-in components are registered through these
  very hooks by the modules in :mod:`mmkit.default_plugins`.
* Observer hooks (``mmkit_on_*``) are called by the runners for logging, metrics or alerts.
  They are off the hot path: the engine calls its resolved components directly, and a runner
  calls an observer hook only when some plugin implements it. :data:`OBSERVER_HOOKS` is
  derived from the ``mmkit_on_*`` specs below (nothing else lists them), and every one of
  them is called by :class:`mmkit.runtime.observer.RunObserver` (a test holds both to this
  module). A hook that raises is logged and ignored: an observer never stops trading.
  ``run`` is reserved for a handle on the run; the built-in runners pass ``None``.

Parameter types are real (pluggy ignores annotations; ``mypy`` checks an implementation
against them when a plugin annotates its own); their imports are under ``TYPE_CHECKING``,
so loading this module (at every CLI start) imports none of numpy, typer or the engine.

``register`` for components has the signature::

    register(name: str, factory, *, params: type | None = None, description: str = "")

where ``factory`` is a callable taking a :class:`mmkit.registry.BuildContext` and returning
the component (or a ``"module:attribute"`` string naming such a callable, imported only when
the component is built, which keeps ``mmkit --help`` fast), and ``params`` is the dataclass
of its parameters (see :mod:`mmkit.params`); its fields become the ``[<kind>s.<name>]``
table of ``mmkit.toml``. A venue's ``register`` (:class:`RegisterVenue`) also takes
``simulated=`` and ``live=``, one factory per side the venue has (the positional factory is
the simulated side); see :mod:`mmkit.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pluggy

from mmkit import PROJECT

if TYPE_CHECKING:
    import typer

    from mmkit.audit.invariant import Invariant
    from mmkit.components import GateDecision, Ladder
    from mmkit.core.events import OwnFill
    from mmkit.registry import Factory

hookspec = pluggy.HookspecMarker(PROJECT)


class RegisterComponent(Protocol):
    """The ``register`` callable a ``register_<kind>s`` hook receives (see the module
    docstring): one call per component the plugin provides."""

    def __call__(
        self,
        name: str,
        factory: Factory | str,
        *,
        params: type | None = None,
        description: str = "",
    ) -> None: ...


class RegisterVenue(Protocol):
    """The ``register`` callable of ``register_venues``: one call per venue, with a factory
    per side the venue has (see :mod:`mmkit.registry`). The positional ``factory`` is the
    simulated side (``register("sim", "mod:build")``, as for other kinds); ``simulated=`` is
    the same spelled out, ``live=`` the live side; at least one side must be given."""

    def __call__(
        self,
        name: str,
        factory: Factory | str | None = None,
        *,
        params: type | None = None,
        description: str = "",
        simulated: Factory | str | None = None,
        live: Factory | str | None = None,
    ) -> None: ...


class RegisterInvariant(Protocol):
    """The ``register`` callable of ``register_invariants``: one call per invariant."""

    def __call__(self, invariant: Invariant, /) -> None: ...


# -- registration (start-up) -------------------------------------------------------------


@hookspec
def register_estimators(register: RegisterComponent) -> None:
    """Register estimator components (kappa, sigma, warmup, signals...)."""


@hookspec
def register_gates(register: RegisterComponent) -> None:
    """Register gate components (data-quality gate, kill switch, ...)."""


@hookspec
def register_quoters(register: RegisterComponent) -> None:
    """Register quoter components (GLFT, Avellaneda–Stoikov, ...)."""


@hookspec
def register_executors(register: RegisterComponent) -> None:
    """Register executor components (reconciliation, rate limits, budget, ...)."""


@hookspec
def register_venues(register: RegisterVenue) -> None:
    """Register venues and their capabilities: each venue says which sides it has and how to
    build each (``simulated=``: a synchronous :class:`mmkit.components.Venue` for backtests,
    paper trading and the audit; ``live=``: an :class:`mmkit.components.AsyncVenue` for the
    live runner, whose factory gets ``ctx.live``). Its parameters are the
    ``[venues.<name>]`` table. Built in: ``sim`` (simulated), ``hyperliquid`` (live)."""


@hookspec
def register_feeds(register: RegisterComponent) -> None:
    """Register market-data feeds (synthetic market, capture replays, live feeds)."""


@hookspec
def register_invariants(register: RegisterInvariant) -> None:
    """Register audit invariants: ``register(invariant)`` with a
    :class:`mmkit.audit.invariant.Invariant`."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add commands to the ``mmkit`` command line; ``cli`` is the root ``typer.Typer``."""


# -- observers (off the hot path) --------------------------------------------------------


@hookspec
def mmkit_on_fill(fill: OwnFill, run: object) -> None:
    """An own fill was booked by the engine (a repeated trade id is not reported again)."""


@hookspec
def mmkit_on_gate_closed(decision: GateDecision, now_ns: int, run: object) -> None:
    """A gate closed, or a closed gate's reason changed (``now_ns``: engine time, ns)."""


@hookspec
def mmkit_on_gate_opened(gate: str, now_ns: int, run: object) -> None:
    """The gate named ``gate`` that was closed opened again (``now_ns``: engine time, ns)."""


@hookspec
def mmkit_on_quote_published(ladder: Ladder, now_ns: int, run: object) -> None:
    """The executor sent actions for a new desired ``ladder`` (prices USD, sizes coins)."""


@hookspec
def mmkit_on_fault(component: str, message: str, now_ns: int, run: object) -> None:
    """The engine refused a component's output or caught it raising: ``component`` is
    ``"<kind> <name>"`` (or ``"venue"``), ``message`` says what was wrong."""


@hookspec
def mmkit_on_divergence(local: float, venue: float, now_ns: int, run: object) -> None:
    """The position reconciler adopted the venue's position over ours: ``local`` is what our
    fills added up to, ``venue`` what the venue reports (both signed, in coins; the venue is
    authoritative), after the difference persisted past ``engine.divergence_min_age_s``."""


#: the observer hooks, in the order they are defined above: every ``mmkit_on_*`` spec
#: (pluggy marks a spec with a ``<project>_spec`` attribute)
OBSERVER_HOOKS: tuple[str, ...] = tuple(
    name
    for name, obj in list(globals().items())
    if name.startswith("mmkit_on_") and hasattr(obj, f"{PROJECT}_spec")
)
