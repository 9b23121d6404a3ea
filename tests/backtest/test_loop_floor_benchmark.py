"""The timer loop's floor in ``benchmarks/backtest.py`` (a measuring device, not the product).

The benchmark prints, beside the engine's steady state, the same backtest with every event
dropped before the engine (``engine_stubbed``): what the loop, the exchange's kernels, the
book snapshots and the path recorder cost alone. docs/twins.md argues from that figure, so
these tests hold it to what it claims: the loop still walks the whole market (the same
market events and requote steps as the real run), nothing at all reaches the engine or the
exchange (no fills, no orders, no requote cycles counted by the engine), and the real
session is back once the device is left (the next run quotes and trades as before).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """``benchmarks/backtest.py`` loaded from its file (``benchmarks/`` is not a package;
    the script imports its helpers with that directory on the path)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("_bench_backtest", BENCH_DIR / "backtest.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(bench: ModuleType, store: Path, config: Path) -> Any:
    return bench._run_mmkit(store, config, "timer", "timer")


@pytest.mark.slow
def test_the_floor_walks_the_same_market_with_nothing_reaching_the_engine(
    bench: ModuleType, synthetic_store: Path, tmp_path: Path
) -> None:
    config = tmp_path / "bench.toml"
    config.write_text(bench.MMKIT_CONFIG)  # the benchmark's own configuration
    real = _run(bench, synthetic_store, config)
    assert real.fills > 0 and real.orders_sent > 0, "the real run must trade to compare with"
    with bench.engine_stubbed():
        floor = _run(bench, synthetic_store, config)
    assert floor.market_events == real.market_events
    assert floor.requotes == real.requotes  # the loop stepped to the same end, 100 ms a step
    assert floor.fills == 0 and floor.orders_sent == 0  # nothing sent, nothing matched
    # left: the session dispatches again (the device does not leak into later runs)
    again = _run(bench, synthetic_store, config)
    assert (again.fills, again.orders_sent) == (real.fills, real.orders_sent)
