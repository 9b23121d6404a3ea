"""Observer hooks: the list comes from the hookspecs, every spec is called by the run
observer, and the position reconciler's divergence reaches plugins."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from tests.foundation.test_engine import T0, toy_engine

from mmkit import PROJECT, hookimpl, hookspecs
from mmkit.components import EMPTY_LADDER, GateDecision
from mmkit.core.events import OwnFill, PositionSnapshot
from mmkit.core.types import Side
from mmkit.plugin_manager import PluginHost
from mmkit.runtime.observer import RunObserver


class EveryHook:
    """Implements every observer hook, recording ``(hook, arguments)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def mmkit_on_fill(self, fill: OwnFill, run: object) -> None:
        self.calls.append(("mmkit_on_fill", {"fill": fill}))

    @hookimpl
    def mmkit_on_gate_closed(self, decision: GateDecision, now_ns: int, run: object) -> None:
        self.calls.append(("mmkit_on_gate_closed", {"decision": decision, "now_ns": now_ns}))

    @hookimpl
    def mmkit_on_gate_opened(self, gate: str, now_ns: int, run: object) -> None:
        self.calls.append(("mmkit_on_gate_opened", {"gate": gate, "now_ns": now_ns}))

    @hookimpl
    def mmkit_on_quote_published(self, ladder: Any, now_ns: int, run: object) -> None:
        self.calls.append(("mmkit_on_quote_published", {"now_ns": now_ns}))

    @hookimpl
    def mmkit_on_fault(self, component: str, message: str, now_ns: int, run: object) -> None:
        self.calls.append(("mmkit_on_fault", {"component": component, "message": message}))

    @hookimpl
    def mmkit_on_divergence(self, local: float, venue: float, now_ns: int, run: object) -> None:
        self.calls.append(("mmkit_on_divergence", {"local": local, "venue": venue}))


def _spec_names() -> set[str]:
    """Every observer spec, found independently of OBSERVER_HOOKS: pluggy's own registry."""
    pm = PluginHost(load_entrypoints=False).pm
    return {
        name
        for name in vars(pm.hook)
        if name.startswith("mmkit_on_") and getattr(pm.hook, name).spec is not None
    }


def test_the_hook_list_is_exactly_the_observer_hookspecs() -> None:
    assert set(hookspecs.OBSERVER_HOOKS) == _spec_names()
    assert len(hookspecs.OBSERVER_HOOKS) == len(set(hookspecs.OBSERVER_HOOKS))
    assert "mmkit_on_divergence" in hookspecs.OBSERVER_HOOKS


def test_every_hookspec_parameter_is_typed_and_none_is_any() -> None:
    for name, fn in vars(hookspecs).items():
        if not hasattr(fn, f"{PROJECT}_spec"):
            continue
        ann = inspect.get_annotations(fn)
        params = inspect.signature(fn).parameters
        assert set(params) <= set(ann), f"{name}: unannotated {set(params) - set(ann)}"
        assert all("Any" not in str(ann[p]) for p in params), f"{name}: {ann}"


def test_observer_hooks_of_a_plugin_cover_every_spec() -> None:
    h = PluginHost(load_entrypoints=False)
    h.register_plugin(EveryHook(), "tests.every_hook")
    assert set(h.observer_hooks()) == set(hookspecs.OBSERVER_HOOKS)


def test_the_run_observer_calls_every_observer_hook() -> None:
    h = PluginHost(load_entrypoints=False)
    plugin = EveryHook()
    h.register_plugin(plugin, "tests.every_hook")
    obs = RunObserver(None, h.observer_hooks())
    decision = GateDecision("g", "Stale")
    obs.on_fill(OwnFill(T0, 7, None, Side.BUY, 100_000.0, 0.01), T0)
    obs.on_gate_closed(decision, T0)
    obs.on_gate_opened("g", T0 + 1)
    obs.on_quotes(EMPTY_LADDER, [], T0 + 2)
    obs.on_fault("quoter q", "NaN price", T0 + 3)
    obs.on_divergence(0.01, 0.03, T0 + 4)
    assert {name for name, _ in plugin.calls} == set(hookspecs.OBSERVER_HOOKS)
    assert ("mmkit_on_divergence", {"local": 0.01, "venue": 0.03}) in plugin.calls


def test_an_unknown_hook_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"mmkit_on_fills.*mmkit_on_fill"):
        RunObserver(None, {"mmkit_on_fills": lambda **kw: None})


def test_an_adopted_divergence_reaches_the_plugin_hook() -> None:
    h = PluginHost(load_entrypoints=False)
    plugin = EveryHook()
    h.register_plugin(plugin, "tests.every_hook")
    eng = toy_engine(RunObserver(None, h.observer_hooks()))
    eng.on_event(PositionSnapshot(T0, 0.0, open_orders=()), T0)
    eng.on_event(OwnFill(T0 + 1, 7, None, Side.BUY, 100_000.0, 0.01), T0 + 1)
    eng.on_event(PositionSnapshot(T0 + 2, 0.03), T0 + 2)
    assert not [c for c in plugin.calls if c[0] == "mmkit_on_divergence"]  # not yet adopted
    later = T0 + 2 + 5 * 10**9
    eng.on_event(PositionSnapshot(later, 0.03), later)
    (div,) = [args for name, args in plugin.calls if name == "mmkit_on_divergence"]
    assert div["local"] == pytest.approx(0.01) and div["venue"] == pytest.approx(0.03)
