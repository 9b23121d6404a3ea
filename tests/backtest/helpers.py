"""Helpers shared by the backtest tests."""

from __future__ import annotations

from typing import Any

from mmkit.config.loader import load_settings
from mmkit.plugin_manager import PluginHost


def quick_settings(*sets: str) -> tuple[PluginHost, Any]:
    """The built-in plugins (no entry points) and the default settings with a 5 s warmup
    limit and tick 0.1, then ``sets``: what a short backtest over a small market needs."""
    host = PluginHost(load_entrypoints=False)
    s = load_settings(
        None,
        host.registry,
        env={},
        sets=["estimators.warmup.max_warmup_secs=5", "instrument.tick=0.1", *sets],
    )
    return host, s
