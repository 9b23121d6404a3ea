"""The signals plugin registers its components and they build from default params."""

from __future__ import annotations

from mmkit.components import Estimator
from mmkit.core.types import Instrument
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, RiskLimits


def test_registered_and_buildable() -> None:
    reg = PluginHost(load_entrypoints=False).registry
    for name in ("adverse_selection", "lead_lag", "rl_skew"):
        spec = reg.get("estimator", name)
        est = spec.build(BuildContext("estimator", name, spec.params(), Instrument(), RiskLimits()))
        assert isinstance(est, Estimator)
    feed = reg.get("feed", "binance_leader")
    f = feed.build(
        BuildContext("feed", "binance_leader", feed.params(), Instrument(), RiskLimits())
    )
    assert list(f.events()) == []
