"""The benchmark reference strategy ``benchmarks/_fast_glft.py`` (not part of the product).

It was ``mmkit backtest --cadence kernel``; ``benchmarks/backtest.py`` still prints its
figures beside the engine's. These tests keep that reference honest (deterministic, its
books balance, its risk limit holds) so a change to the simulated exchange's kernels it
calls cannot silently break the benchmark. ``benchmarks/`` is not a package nor on the
import path: the module is loaded from its file.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mmkit.config.loader import Settings, load_settings
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost

from . import crossing_plugin

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "_fast_glft.py"
SETS = ["estimators.warmup.max_warmup_secs=5", "instrument.tick=0.1"]


@pytest.fixture(scope="module")
def fast_glft() -> ModuleType:
    """The module under the name the benchmark scripts import it by (``_fast_glft``, with
    ``benchmarks/`` on the path): numba's cache records that name and both must agree to
    share the cached machine code."""
    if "_fast_glft" in sys.modules:
        return sys.modules["_fast_glft"]
    spec = importlib.util.spec_from_file_location("_fast_glft", BENCH)
    assert spec is not None and spec.loader is not None, BENCH
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_fast_glft"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def host() -> PluginHost:
    h = PluginHost(load_entrypoints=False)
    h.register_plugin(crossing_plugin, "crossing_plugin")
    return h


def _settings(host: PluginHost, *sets: str) -> Settings:
    return load_settings(None, host.registry, env={}, sets=[*SETS, *sets])


def test_reference_strategy_is_deterministic_and_its_books_balance(
    fast_glft: ModuleType, host: PluginHost, synthetic_store: Path
) -> None:
    a, path = fast_glft.run_fast_glft(_settings(host), [synthetic_store], duration_s=300.0)
    b, _ = fast_glft.run_fast_glft(_settings(host), [synthetic_store], duration_s=300.0)
    assert a.to_json(timing=False) == b.to_json(timing=False)
    assert a.mode == fast_glft.MODE and "not the engine" in a.mode
    assert a.fills > 0 and a.requotes > 0
    assert math.isclose(a.equity, a.realized + a.unrealized - a.fees, rel_tol=1e-6, abs_tol=1e-6)
    assert a.max_abs_position <= 0.05 + 1e-9  # risk.max_position of the default config
    assert len(path["ts"]) == a.requotes


def test_reference_strategy_refuses_other_quoters(
    fast_glft: ModuleType, host: PluginHost, synthetic_store: Path
) -> None:
    s = _settings(host, "components.quoter=crossing")
    with pytest.raises(ConfigError, match="glft"):
        fast_glft.run_fast_glft(s, [synthetic_store])
