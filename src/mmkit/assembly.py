"""Building an engine from settings: components are resolved and built once, here."""

from __future__ import annotations

from typing import Any

from mmkit.components import Estimates
from mmkit.config.loader import Settings
from mmkit.engine import Engine, EngineObserver
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, ComponentRegistry


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


def build_estimators(registry: ComponentRegistry, settings: Settings) -> list[tuple[str, Any]]:
    """The configured ``[components] estimators``, built in order (seed offset = position):
    the one way an engine's estimators are made (``mmkit calibrate`` builds the same list
    to report the engine's end state on a capture)."""
    return [
        (n, build_component(registry, settings, "estimator", n, seed_offset=i))
        for i, n in enumerate(settings.components.estimators)
    ]


def build_engine(
    settings: Settings,
    host: PluginHost,
    *,
    observer: EngineObserver | None = None,
    estimates: Estimates | None = None,
) -> Engine:
    """Resolve the configured components once and wire them into an :class:`Engine`."""
    host.check()
    reg = host.registry
    c = settings.components
    estimators = build_estimators(reg, settings)
    gates = [(n, build_component(reg, settings, "gate", n)) for n in c.gates]
    quoter = (c.quoter, build_component(reg, settings, "quoter", c.quoter))
    executor = (c.executor, build_component(reg, settings, "executor", c.executor))
    return Engine(
        instrument=settings.instrument,
        max_position=settings.risk.max_position,
        estimators=estimators,
        gates=gates,
        quoter=quoter,
        executor=executor,
        estimates=estimates,
        observer=observer,
        requote_on_market_events=settings.engine.requote == "event",
        divergence_min_age_s=settings.engine.divergence_min_age_s,
    )
