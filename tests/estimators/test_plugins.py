"""The estimators as plugins: registration, config into params, and inside the engine."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from mmkit.assembly import build_component
from mmkit.components import Estimates, GateDecision, Ladder, Quote, View
from mmkit.config.loader import load_settings
from mmkit.core.actions import Action, Place, make_cloid
from mmkit.core.events import Event
from mmkit.core.types import Side
from mmkit.engine import Engine
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost

from .helpers import NS, T0, book, trade


def test_registered_through_the_default_plugin() -> None:
    reg = PluginHost(load_entrypoints=False).registry
    for name in ("kappa", "sigma", "warmup"):
        assert reg.get("estimator", name).plugin == "estimators"
    assert reg.get("gate", "warmup").plugin == "estimators"


def test_params_come_from_config_and_are_validated() -> None:
    host = PluginHost(load_entrypoints=False)
    s = load_settings(
        None,
        host.registry,
        env={},
        sets=["estimators.kappa.prior_kappa=3000", "estimators.sigma.seed=7"],
    )
    kappa = build_component(host.registry, s, "estimator", "kappa")
    assert kappa.p.prior_kappa == 3000.0
    assert kappa.kappa_value() == 3000.0
    with pytest.raises(ConfigError, match="did you mean 'prior_kappa'"):
        load_settings(None, host.registry, env={}, sets=["estimators.kappa.prior_kapa=1"])
    with pytest.raises(ConfigError, match="kappa_floor"):
        load_settings(
            None,
            host.registry,
            env={},
            sets=["estimators.kappa.kappa_floor=10", "estimators.kappa.kappa_cap=5"],
        )
    with pytest.raises(ConfigError, match="bipower_half_lives"):
        load_settings(None, host.registry, env={}, sets=["estimators.sigma.bipower_half_lives=[]"])
    with pytest.raises(ConfigError, match="max_warmup_secs"):
        load_settings(None, host.registry, env={}, sets=["estimators.warmup.max_warmup_secs=0"])


def test_params_modules_are_light() -> None:
    code = (
        "import sys; import mmkit.estimators.params, mmkit.default_plugins.estimators;"
        "print(any(m in sys.modules for m in ('numpy', 'numba', 'scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _OneLevelQuoter:
    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        mid = view.mid
        return Ladder(
            (Quote(Side.BUY, round(mid * 0.999, 1), 0.01),),
            (Quote(Side.SELL, round(mid * 1.001, 1), 0.01),),
        )


class _PlaceEveryCycle:
    def __init__(self) -> None:
        self.n = 0

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        return []

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        out: list[Action] = []
        for q in (*ladder.bids, *ladder.asks):
            self.n += 1
            out.append(Place(self.n, make_cloid(self.n), q.side, q.px, q.sz))
        return out

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        return []


def test_warmup_gate_halts_the_engine_until_timeout() -> None:
    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={}, sets=["estimators.warmup.max_warmup_secs=60"])
    reg = host.registry
    engine = Engine(
        instrument=s.instrument,
        max_position=1.0,
        estimators=[
            (n, build_component(reg, s, "estimator", n)) for n in ("kappa", "sigma", "warmup")
        ],
        gates=[("warmup", build_component(reg, s, "gate", "warmup"))],
        quoter=("one", _OneLevelQuoter()),
        executor=("every", _PlaceEveryCycle()),
    )
    placed_before = placed_after = 0
    for i in range(200):  # one book per second, a trade every 2 s
        t = T0 + i * NS
        acts = engine.on_event(book(t, 100.0), t)
        if i % 2:
            acts += engine.on_event(trade(t, 100.01, 0.01), t)
        n = sum(isinstance(a, Place) for a in acts)
        if i < 59:
            placed_before += n
            assert engine.closed["warmup"].reason == "Warmup"
            assert "market trades" in str(engine.closed["warmup"].detail["waiting"])
        elif i > 60:
            placed_after += n
    assert placed_before == 0
    assert placed_after > 0
    est = engine.estimates
    assert est.warmed_up and est.extras["warmup.timed_out"] == 1.0
    assert math.isfinite(est.kappa) and est.kappa > 0
    assert 0 < est.sigma <= 10 * 1e-4
    assert engine.faults == 0
