"""The default synthetic market selects adversely: the engine's fills there mark out
negative and the adverse-selection classifier finds toxic fills, where the market without
informed flow gives positive markouts and almost no toxic fill."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mmkit.backtest.runner import BacktestOptions, run_backtest
from mmkit.config.loader import load_settings
from mmkit.data.params import SyntheticParams
from mmkit.data.store import write_store
from mmkit.data.synthetic import generate_chunks, resolve, store_meta
from mmkit.plugin_manager import PluginHost
from mmkit.signals.adverse_selection import AdverseSelectionEstimator

_SETS = [
    'components.estimators=["kappa", "sigma", "warmup", "adverse_selection"]',
    "estimators.warmup.max_warmup_secs=30",
]


@dataclass
class _Run:
    fills: int
    outcomes: int
    toxic: int
    markout_5s_bp: float


def _run(tmp: Path, informed_frac: float, seed: int) -> _Run:
    p = resolve(SyntheticParams(seed=seed, duration_s=3600.0, informed_frac=informed_frac))
    store = tmp / f"syn_{informed_frac}_{seed}.parquet"
    write_store(store, generate_chunks(p), store_meta(p))
    host = PluginHost(load_entrypoints=False)
    settings = load_settings(None, host.registry, env={}, sets=_SETS)
    res = run_backtest(settings, host, [store], BacktestOptions())
    comps = res.session.engine.components()
    est = [e for _, _, e in comps if isinstance(e, AdverseSelectionEstimator)]
    assert len(est) == 1
    return _Run(res.report.fills, est[0].outcomes, est[0].toxic, res.report.markouts_bp["5s"])


@pytest.mark.slow
def test_classifier_finds_toxic_fills_on_the_default_market(tmp_path: Path) -> None:
    # measured (3600 s, seeds 1 / 2): 1095 of 1604 and 1261 of 1854 fills toxic (68 % / 68 %),
    # 5 s markouts -1.5 / -1.1 bp; without informed flow 122 of 521 / 180 of 595 (23 % / 30 %),
    # +0.9 / +0.7 bp. The default market's orders are shallow (1/k = 0.5 bp), so the engine's
    # fills sit ~1 bp from the mid and plain mid noise alone makes some of them "toxic": the
    # test asks for informed flow to at least double the toxic share, not for a fixed share.
    informed = _run(tmp_path, SyntheticParams().informed_frac, seed=1)
    plain = _run(tmp_path, 0.0, seed=1)
    assert informed.outcomes > 300 and plain.outcomes > 300
    assert informed.toxic / informed.outcomes > 0.35
    assert plain.toxic / plain.outcomes < 0.5 * informed.toxic / informed.outcomes
    assert informed.markout_5s_bp < 0.0 < plain.markout_5s_bp
