"""Building an engine from settings: components are resolved and built once, here."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from mmkit.components import Estimates
from mmkit.config.loader import Settings
from mmkit.engine import Engine, EngineObserver
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, ComponentRegistry
from mmkit.twins import TwinChoice, TwinError, choose


def build_component(
    registry: ComponentRegistry, settings: Settings, kind: str, name: str, *, seed_offset: int = 0
) -> Any:
    spec = registry.get(kind, name, where=f"components ({kind})")
    ctx = BuildContext(
        kind=kind,
        name=name,
        params=settings.component_params(kind, name),
        instrument=settings.instrument,
        risk=settings.risk,
        seed=settings.engine.seed + seed_offset,
        config=settings.merged,
    )
    return spec.build(ctx)


def build_estimators(
    registry: ComponentRegistry, settings: Settings, choices: list[TwinChoice] | None = None
) -> list[tuple[str, Any]]:
    """The configured ``[components] estimators``, built in order (seed offset = position),
    each as its compiled twin when ``[engine] twins`` asks for it (see :mod:`mmkit.twins`;
    the choices are appended to ``choices``): the one way an engine's estimators are made
    (``mmkit calibrate`` builds the same list to report the engine's end state on a
    capture)."""
    return [
        (
            n,
            _twinned(
                settings,
                "estimator",
                n,
                build_component(registry, settings, "estimator", n, seed_offset=i),
                choices,
            ),
        )
        for i, n in enumerate(settings.components.estimators)
    ]


def _twinned(
    settings: Settings, kind: str, name: str, component: Any, choices: list[TwinChoice] | None
) -> Any:
    try:
        chosen, choice = choose(kind, name, component, settings.engine.twins)
    except TwinError as exc:
        raise ConfigError([f"engine.twins: {exc}"]) from None
    if choices is not None:
        choices.append(choice)
    return chosen


@dataclass
class Parts:
    """The configured components, built and each chosen as its twin or its Python code."""

    estimators: list[tuple[str, Any]]
    gates: list[tuple[str, Any]]
    quoter: tuple[str, Any]
    executor: tuple[str, Any]
    choices: list[TwinChoice]


def build_twinned(
    registry: ComponentRegistry,
    settings: Settings,
    kind: str,
    name: str,
    choices: list[TwinChoice] | None = None,
) -> Any:
    """One configured gate, quoter or executor, as its compiled twin or its Python code by
    ``[engine] twins`` (the choice appended to ``choices``)."""
    component = build_component(registry, settings, kind, name)
    return _twinned(settings, kind, name, component, choices)


def build_parts(
    registry: ComponentRegistry, settings: Settings, *, python_kinds: Collection[str] = ()
) -> Parts:
    """Build every configured estimator, gate, quoter and executor, each as its compiled
    twin or its Python code by ``[engine] twins`` (see :mod:`mmkit.twins`): what
    :func:`build_engine` wires, and what the audit's whole-system target runs.
    ``python_kinds``: gate, quoter or executor kinds built as their Python code whatever
    ``[engine] twins`` says (the kernel warm-up's twins worker leaves the quoter's twin to
    a worker of its own; nothing else should need it)."""
    c = settings.components
    choices: list[TwinChoice] = []
    estimators = build_estimators(registry, settings, choices)

    def built(kind: str, name: str) -> Any:
        if kind in python_kinds:
            return build_component(registry, settings, kind, name)
        return build_twinned(registry, settings, kind, name, choices)

    gates = [(n, built("gate", n)) for n in c.gates]
    quoter = (c.quoter, built("quoter", c.quoter))
    executor = (c.executor, built("executor", c.executor))
    return Parts(estimators, gates, quoter, executor, choices)


def engine_of(parts: Parts, settings: Settings, **kwargs: Any) -> Engine:
    """An :class:`Engine` of ``parts`` with the engine settings of ``settings``
    (``kwargs``: the engine's observer and estimates)."""
    engine = Engine(
        instrument=settings.instrument,
        max_position=settings.risk.max_position,
        estimators=parts.estimators,
        gates=parts.gates,
        quoter=parts.quoter,
        executor=parts.executor,
        requote_on_market_events=settings.engine.requote == "event",
        divergence_min_age_s=settings.engine.divergence_min_age_s,
        **kwargs,
    )
    engine.twin_choices = parts.choices
    return engine


def build_engine(
    settings: Settings,
    host: PluginHost,
    *,
    observer: EngineObserver | None = None,
    estimates: Estimates | None = None,
) -> Engine:
    """Resolve the configured components once and wire them into an :class:`Engine`; each
    component runs as its compiled twin or its Python code by ``[engine] twins`` (the
    choices are in :attr:`Engine.twin_choices`)."""
    host.check()
    parts = build_parts(host.registry, settings)
    return engine_of(parts, settings, observer=observer, estimates=estimates)
