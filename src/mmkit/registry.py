"""The component registry: every estimator, gate, quoter, executor, venue and feed by name.

Filled through the ``register_*`` hooks by :mod:`mmkit.plugin_manager`; each entry remembers
the plugin and distribution that registered it, so that every error can name them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mmkit.core.types import Instrument
from mmkit.errors import ComponentNotFound, PluginError
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


@dataclass(frozen=True)
class BuildContext(Generic[P]):
    """What a factory receives when the engine builds a component."""

    kind: str
    name: str
    params: P
    instrument: Instrument
    risk: RiskLimits
    seed: int = 0
    config: Mapping[str, Any] = field(default_factory=dict)


Factory = Callable[[BuildContext[Any]], Any]


@dataclass(frozen=True)
class ComponentSpec:
    kind: str
    name: str
    factory: Factory | str
    params: type
    description: str
    plugin: str
    distribution: str | None = None
    version: str | None = None

    def resolve_factory(self) -> Factory:
        if callable(self.factory):
            return self.factory
        mod_name, _, attr = self.factory.partition(":")
        try:
            obj = getattr(importlib.import_module(mod_name), attr)
        except Exception as exc:
            raise PluginError(
                self.plugin,
                self.distribution,
                f"cannot import factory {self.factory!r} of {self.kind} {self.name!r}: {exc}",
            ) from exc
        if not callable(obj):
            raise PluginError(
                self.plugin,
                self.distribution,
                f"factory {self.factory!r} of {self.kind} {self.name!r} is not callable",
            )
        return obj  # type: ignore[no-any-return]

    def build(self, ctx: BuildContext[Any]) -> Any:
        """Build and check the component: it must satisfy its kind's protocol."""
        factory = self.resolve_factory()
        try:
            comp = factory(ctx)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                self.plugin,
                self.distribution,
                f"{self.kind} {self.name!r} failed to build: {type(exc).__name__}: {exc}",
            ) from exc
        from mmkit.components import COMPONENT_PROTOCOLS  # numpy: not at CLI start-up

        proto = COMPONENT_PROTOCOLS[self.kind]
        if not isinstance(comp, proto):
            missing = [m for m in _protocol_methods(proto) if not callable(getattr(comp, m, None))]
            raise PluginError(
                self.plugin,
                self.distribution,
                f"{self.kind} {self.name!r}: factory returned {type(comp).__name__!s}, "
                f"which is not a valid {self.kind} (missing: {', '.join(missing) or '?'})",
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

    def make_register(
        self,
        kind: str,
        plugin: str,
        distribution: str | None,
        version: str | None,
        errors: list[PluginError],
    ) -> Callable[..., None]:
        """The ``register`` callable handed to one plugin's ``register_<kind>s`` hook."""

        def register(
            name: str,
            factory: Factory | str,
            *,
            params: type | None = None,
            description: str = "",
        ) -> None:
            try:
                if not isinstance(name, str) or not name.isidentifier():
                    raise PluginError(
                        plugin,
                        distribution,
                        f"{kind} name {name!r} must be an identifier-like string",
                    )
                if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
                    raise PluginError(
                        plugin,
                        distribution,
                        f"{kind} {name!r}: factory must be callable or 'module:attr'",
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
                        kind, name, factory, p, description, plugin, distribution, version
                    )
                )
            except PluginError as exc:
                errors.append(exc)

        return register
