"""The component registry: every estimator, gate, quoter, executor, venue and feed by name.

Filled through the ``register_*`` hooks by :mod:`mmkit.plugin_manager`; each entry remembers
the plugin and distribution that registered it, so that every error can name them.

**Venues have capabilities.** A venue plugin registers what it can be and how to build each
side (:class:`VenueSide`):

* *simulated*: a synchronous :class:`mmkit.components.Venue` (``on_market``/``submit``/
  ``drain``), used by ``mmkit backtest``, paper ``mmkit trade`` and the audit;
* *live*: an asynchronous :class:`mmkit.components.AsyncVenue` (``start``/``submit``/
  ``close``), used by the live runner; its factory gets a :class:`LiveContext` in
  ``ctx.live`` (the engine's clock, the ``--mainnet`` opt-in, the connection settings).

``register("sim", "mod:build")`` (a plain factory) registers a simulated side;
``register("x", simulated="mod:build", live="mod:build_live")`` both;
``register("x", live="mod:build_live")`` a live-only venue. Runners pick the side they
need with :meth:`ComponentRegistry.venue`, never by a venue's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from mmkit.core.types import Instrument
from mmkit.errors import ComponentNotFound, ConfigError, PluginError
from mmkit.params import NoParams

KINDS: tuple[str, ...] = ("estimator", "gate", "quoter", "executor", "venue", "feed")
#: TOML table holding each kind's parameter tables, e.g. ``[estimators.kappa]``
SECTION_OF_KIND: dict[str, str] = {k: k + "s" for k in KINDS}

P = TypeVar("P")


@dataclass(frozen=True)
class RiskLimits:
    """Global risk settings every component may read (the ``[risk]`` table)."""

    max_position: float = 0.01
    order_size: float = 0.001
    max_order_notional: float = 10_000.0


class VenueSide(StrEnum):
    """What a venue plugin can be: which runners can use it."""

    SIMULATED = "simulated"  # synchronous Venue: backtest, paper trading, the audit
    LIVE = "live"  # asynchronous AsyncVenue: the live runner


@dataclass(frozen=True)
class LiveContext:
    """What a live venue's factory gets besides the usual :class:`BuildContext` fields.

    ``clock_ns`` is the engine's clock (integer ns, monotonic; the live runner stamps
    dispatches with the same clock): stamp events' ``local_ts`` with it. ``mainnet_flag`` is
    the command line's explicit real-money opt-in (``mmkit trade --mainnet``); a venue that
    can trade real money must refuse to unless it is set. ``connection`` is the core
    ``[venue]`` section (``network``, ``url``, ``account``, ``vault``, ``key_env``,
    ``key_file``: where to connect and as whom), ``settings`` the whole merged
    :class:`mmkit.config.loader.Settings`. ``environ`` replaces ``os.environ`` where keys
    are read from the environment (tests hand keys over without exporting them).
    """

    clock_ns: Callable[[], int]
    mainnet_flag: bool = False
    connection: Any = None
    settings: Any = None
    environ: Mapping[str, str] | None = None


@dataclass(frozen=True)
class BuildContext(Generic[P]):
    """What a factory receives when the engine builds a component.

    ``live`` is set only when the live side of a venue is built (:class:`LiveContext`).
    """

    kind: str
    name: str
    params: P
    instrument: Instrument
    risk: RiskLimits
    seed: int = 0
    config: Mapping[str, Any] = field(default_factory=dict)
    live: LiveContext | None = None


Factory = Callable[[BuildContext[Any]], Any]


@dataclass(frozen=True)
class ComponentSpec:
    """One registered component. For a venue, ``factory`` builds its simulated side (None for
    a live-only venue) and ``live`` its live side (None for a simulated-only venue)."""

    kind: str
    name: str
    factory: Factory | str | None
    params: type
    description: str
    plugin: str
    distribution: str | None = None
    version: str | None = None
    live: Factory | str | None = None

    @property
    def sides(self) -> frozenset[VenueSide]:
        """The venue sides this entry can build (empty for other kinds)."""
        if self.kind != "venue":
            return frozenset()
        out: set[VenueSide] = set()
        if self.factory is not None:
            out.add(VenueSide.SIMULATED)
        if self.live is not None:
            out.add(VenueSide.LIVE)
        return frozenset(out)

    def has_side(self, side: VenueSide) -> bool:
        return side in self.sides

    def describe_sides(self) -> str:
        """``simulated``, ``live`` or ``simulated + live`` (for listings and errors)."""
        return " + ".join(s.value for s in VenueSide if s in self.sides)

    def missing_side(self, side: VenueSide, purpose: str = "") -> str:
        """The configuration problem of running this venue where ``side`` is needed
        (``purpose``, e.g. ``"backtests"``), naming the venue and its plugin."""
        have = self.describe_sides() or "nothing"
        only = f"{have}-only" if len(self.sides) == 1 else f"registered as {have}"
        dist = f", distribution {self.distribution}" if self.distribution else ""
        need = f"{purpose} need" if purpose else "this run needs"
        return (
            f"venue {self.name!r} (plugin {self.plugin!r}{dist}) is {only}; "
            f"{need} a {side.value} venue"
        )

    def resolve_factory(self, side: VenueSide = VenueSide.SIMULATED) -> Factory:
        """The factory callable (of ``side``, for a venue), imported if given as a string."""
        target = self.live if side is VenueSide.LIVE else self.factory
        what = f"{side.value} factory" if self.kind == "venue" else "factory"
        if target is None:
            raise ConfigError([self.missing_side(side)])
        if callable(target):
            return target
        mod_name, _, attr = target.partition(":")
        try:
            obj = getattr(importlib.import_module(mod_name), attr)
        except Exception as exc:
            raise PluginError(
                self.plugin,
                self.distribution,
                f"cannot import {what} {target!r} of {self.kind} {self.name!r}: {exc}",
            ) from exc
        if not callable(obj):
            raise PluginError(
                self.plugin,
                self.distribution,
                f"{what} {target!r} of {self.kind} {self.name!r} is not callable",
            )
        return obj  # type: ignore[no-any-return]

    def build(self, ctx: BuildContext[Any]) -> Any:
        """Build and check the component: it must satisfy its kind's protocol (for a venue:
        its simulated side, a :class:`mmkit.components.Venue`)."""
        from mmkit.components import COMPONENT_PROTOCOLS  # numpy: not at CLI start-up

        return self._build(ctx, VenueSide.SIMULATED, COMPONENT_PROTOCOLS[self.kind])

    def build_live(self, ctx: BuildContext[Any]) -> Any:
        """Build and check a venue's live side (an :class:`mmkit.components.AsyncVenue`);
        ``ctx.live`` must be set. A venue without a live side is a :class:`ConfigError`."""
        from mmkit.components import AsyncVenue

        if self.kind != "venue":
            raise PluginError(
                self.plugin, self.distribution, f"{self.kind} {self.name!r} has no live side"
            )
        if ctx.live is None:
            raise ValueError(f"building the live side of venue {self.name!r} needs ctx.live")
        return self._build(ctx, VenueSide.LIVE, AsyncVenue)

    def _build(self, ctx: BuildContext[Any], side: VenueSide, proto: type) -> Any:
        from mmkit.components import ignores_problem, optional_contract_problem

        factory = self.resolve_factory(side)
        what = f"{self.kind} {self.name!r}"
        if self.kind == "venue":
            what += f" ({side.value} side)"
        try:
            comp = factory(ctx)
        except (PluginError, ConfigError):
            raise
        except Exception as exc:
            raise PluginError(
                self.plugin,
                self.distribution,
                f"{what} failed to build: {type(exc).__name__}: {exc}",
            ) from exc
        if not isinstance(comp, proto):
            missing = [m for m in _protocol_methods(proto) if not callable(getattr(comp, m, None))]
            valid = f"{side.value} venue ({proto.__name__})" if self.kind == "venue" else self.kind
            raise PluginError(
                self.plugin,
                self.distribution,
                f"{what}: factory returned {type(comp).__name__!s}, "
                f"which is not a valid {valid} (missing: {', '.join(missing) or '?'})",
            )
        problem = optional_contract_problem(self.kind, comp)
        if problem is None and self.kind in ("estimator", "gate"):
            problem = ignores_problem(comp)
        if problem is not None:
            raise PluginError(
                self.plugin,
                self.distribution,
                f"{what} ({type(comp).__name__}): {problem}",
            )
        return comp


def _protocol_methods(proto: type) -> list[str]:
    return sorted(n for n, v in vars(proto).items() if callable(v) and not n.startswith("_"))


class ComponentRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, dict[str, ComponentSpec]] = {k: {} for k in KINDS}

    def add(self, spec: ComponentSpec) -> None:
        if spec.kind not in self._specs:
            raise PluginError(
                spec.plugin, spec.distribution, f"unknown component kind {spec.kind!r}"
            )
        existing = self._specs[spec.kind].get(spec.name)
        if existing is not None:
            raise PluginError(
                spec.plugin,
                spec.distribution,
                f"duplicate {spec.kind} name {spec.name!r}: already registered by plugin "
                f"{existing.plugin!r}"
                + (f" ({existing.distribution})" if existing.distribution else ""),
            )
        self._specs[spec.kind][spec.name] = spec

    def get(self, kind: str, name: str, where: str = "") -> ComponentSpec:
        try:
            return self._specs[kind][name]
        except KeyError:
            raise ComponentNotFound(kind, name, list(self._specs.get(kind, {})), where) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self._specs[kind])

    def of_kind(self, kind: str) -> list[ComponentSpec]:
        return [self._specs[kind][n] for n in sorted(self._specs[kind])]

    def __iter__(self) -> Iterator[ComponentSpec]:
        for kind in KINDS:
            yield from self.of_kind(kind)

    def venue(self, name: str, side: VenueSide, purpose: str = "") -> ComponentSpec:
        """The venue ``name``, which must be able to be ``side``: otherwise a
        :class:`ConfigError` under ``components.venue`` saying what the venue is and what
        ``purpose`` (e.g. ``"backtests"``) needs."""
        spec = self.get("venue", name, where="components.venue")
        if not spec.has_side(side):
            raise ConfigError([f"components.venue: {spec.missing_side(side, purpose)}"])
        return spec

    def venues_with(self, side: VenueSide) -> list[ComponentSpec]:
        """Every registered venue that has ``side``, by name."""
        return [s for s in self.of_kind("venue") if s.has_side(side)]

    def trading_venue(
        self, name: str, *, live_asked: bool, chosen: bool = True
    ) -> tuple[ComponentSpec, VenueSide]:
        """Which venue and side ``mmkit trade`` runs, by capability (never by name).

        Not ``live_asked``: the configured venue's simulated side (paper trading) when it
        has one, otherwise its live side. ``live_asked`` (a connection URL is set, or
        ``--live``): the configured venue's live side. If it has none, was not ``chosen``
        explicitly for this run (``--venue``, ``--live``) and exactly one registered venue
        has a live side, that one: ``mmkit trade --url URL`` goes live on the one live venue
        installed, as it always did. Otherwise a :class:`ConfigError` listing the live
        venues to choose from.
        """
        spec = self.get("venue", name, where="components.venue")
        if not live_asked:
            side = VenueSide.SIMULATED if spec.has_side(VenueSide.SIMULATED) else VenueSide.LIVE
            return spec, side
        if spec.has_side(VenueSide.LIVE):
            return spec, VenueSide.LIVE
        live = self.venues_with(VenueSide.LIVE)
        if len(live) == 1 and not chosen:
            return live[0], VenueSide.LIVE
        names = ", ".join(s.name for s in live) or "(none registered)"
        raise ConfigError(
            [
                f"components.venue: a live run was asked for (venue.url or --live), but "
                f"{spec.missing_side(VenueSide.LIVE, 'live runs')}; choose one with "
                f"--venue NAME (venues with a live side: {names})"
            ]
        )

    def make_register(
        self,
        kind: str,
        plugin: str,
        distribution: str | None,
        version: str | None,
        errors: list[PluginError],
    ) -> Callable[..., None]:
        """The ``register`` callable handed to one plugin's ``register_<kind>s`` hook."""

        def valid_factory(f: object) -> bool:
            return callable(f) or (isinstance(f, str) and ":" in f)

        def register(
            name: str,
            factory: Factory | str | None = None,
            *,
            params: type | None = None,
            description: str = "",
            simulated: Factory | str | None = None,
            live: Factory | str | None = None,
        ) -> None:
            try:
                if not isinstance(name, str) or not name.isidentifier():
                    raise PluginError(
                        plugin,
                        distribution,
                        f"{kind} name {name!r} must be an identifier-like string",
                    )
                if kind != "venue" and (simulated is not None or live is not None):
                    raise PluginError(
                        plugin,
                        distribution,
                        f"{kind} {name!r}: only venues have simulated/live sides; "
                        "register(name, factory)",
                    )
                if factory is not None and simulated is not None:
                    raise PluginError(
                        plugin,
                        distribution,
                        f"{kind} {name!r}: give the simulated factory once (the positional "
                        "factory of a venue is its simulated side)",
                    )
                factory = factory if factory is not None else simulated
                if kind == "venue" and factory is None and live is None:
                    raise PluginError(
                        plugin,
                        distribution,
                        f"venue {name!r}: register at least one side "
                        "(simulated='module:attr' and/or live='module:attr')",
                    )
                # a venue may lack either side (not both: checked above); others need one
                checks = [("factory", factory), ("live factory", live)]
                if kind == "venue":
                    checks = [(label, f) for label, f in checks if f is not None]
                else:
                    checks = checks[:1]
                for label, f in checks:
                    if not valid_factory(f):
                        raise PluginError(
                            plugin,
                            distribution,
                            f"{kind} {name!r}: {label} must be callable or 'module:attr'",
                        )
                p = params if params is not None else NoParams
                if not hasattr(p, "__dataclass_fields__"):
                    raise PluginError(
                        plugin,
                        distribution,
                        f"{kind} {name!r}: params must be a dataclass, got {p!r}",
                    )
                self.add(
                    ComponentSpec(
                        kind, name, factory, p, description, plugin, distribution, version, live
                    )
                )
            except PluginError as exc:
                errors.append(exc)

        return register
