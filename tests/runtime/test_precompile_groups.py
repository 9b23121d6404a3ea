"""The cold-cache warm-up workers: the venue worker's delta market is a sane book, and both
ways of exercising the simulated exchange run every action type without error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmkit.core.market import MarketState
from mmkit.core.types import Instrument
from mmkit.runtime import precompile as warmup
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.venue import SimVenue

INST = Instrument(coin="BTC", sz_decimals=3, tick=0.1)


@pytest.mark.parametrize("deltas", [False, True])
def test_the_toy_market_is_a_sane_moving_book(deltas: bool) -> None:
    m = MarketState()
    books = 0
    for ev in warmup._toy_market(INST, n=60, deltas=deltas):
        m.apply(ev, ev.local_ts)
        if ev.kind.name in ("BOOK_SNAPSHOT", "BOOK_DELTA"):
            books += 1
            assert m.best_bid < m.best_ask  # deltas remove the levels the book left
            assert m.bid_px.size == m.ask_px.size == 20
    assert books == 60


@pytest.mark.parametrize("deltas", [False, True])
def test_exercise_venue_runs_every_action_type(deltas: bool) -> None:
    venue = SimVenue(SimParams(), INST, 1)
    warmup.exercise_venue(venue, INST, deltas=deltas)


def test_every_probe_is_a_cached_numba_kernel() -> None:
    """A probe that does not resolve would make its group look cold on every run."""
    import importlib

    from numba.core.caching import FunctionCache

    assert set(warmup.GROUPS) == {"venue", "market", "twins", "quoter"}  # main()'s workers
    for probes in warmup.GROUPS.values():
        for probe in probes:
            mod, _, name = probe.partition(":")
            kernel = getattr(importlib.import_module(mod), name)
            assert isinstance(kernel._cache, FunctionCache), probe  # njit(cache=True)


@pytest.mark.slow
def test_the_twins_worker_compiles_twins_and_no_exchange_kernel(tmp_path: Path) -> None:
    """In a fresh process, the twins' worker on a BTC config (three size decimals) calls
    the twins' kernels and none of the simulated exchange's: those are the ``venue``
    group's (``mmkit calibrate`` warms no venue group, and paid 13 s of CPU for them when
    the worker drove the engine against the audit's venue, which runs them), nor the GLFT
    twin's: those are the ``quoter`` group's, compiled in a process of their own. Kernels
    whose explicit signatures wait for their first use (mmkit.deferred_kernels) are all
    compiled by the end, reached by the drive or not, so that no path of a run compiles
    one."""
    cfg = tmp_path / "btc.toml"
    cfg.write_text(
        '[instrument]\ncoin = "BTC"\nsz_decimals = 3\ntick = 0.1\n\n'
        "[risk]\nmax_position = 0.05\norder_size = 0.002\n"
    )
    got = _after_worker(
        "twins",
        cfg,
        """
from mmkit.deferred_kernels import _made
deferred = [d.py_func.__name__ for d in _made if d.deferred]  # before the probe's imports
from mmkit.venues.sim import _kernels_orders, _kernels_replay, _kernels_snapshot
from mmkit.execution import _kernels_reconciler_twin as rec
from mmkit.execution import _kernels_permit as permit
from mmkit.quoting import _kernels_glft_quoter_twin as q
got = {
    "exchange": [len(k.overloads) for k in (
        _kernels_replay.advance, _kernels_orders.process_pending,
        _kernels_orders.enqueue, _kernels_snapshot.apply_snapshot_side)],
    "twins": [len(rec.tape_marks_kernel.overloads), len(permit.permit.overloads),
              len(permit.record.overloads)],
    "quoter": [len(q.glft_quote.overloads), len(q._side.overloads)],
    "deferred": deferred,
    "made": len(_made),
}
""",
    )
    assert got["exchange"] == [0, 0, 0, 0]
    assert all(n >= 1 for n in got["twins"]), got
    assert got["quoter"] == [0, 0], got
    assert got["made"] >= 3 and got["deferred"] == [], got


@pytest.mark.slow
def test_the_quoter_worker_compiles_the_quoter_twin_alone(tmp_path: Path) -> None:
    """The ``quoter`` group's worker, in a fresh process on a BTC config: the GLFT twin's
    kernels, every one of its module's deferred kernels, and nothing of the other groups
    (the estimators' and executor's twins, the exchange). With twins off it compiles
    nothing."""
    cfg = tmp_path / "btc.toml"
    cfg.write_text(
        '[instrument]\ncoin = "BTC"\nsz_decimals = 3\ntick = 0.1\n\n'
        "[risk]\nmax_position = 0.05\norder_size = 0.002\n"
    )
    probe = """
from mmkit.deferred_kernels import _made
deferred = [d.py_func.__name__ for d in _made if d.deferred]  # before the probe's imports
from mmkit.venues.sim import _kernels_replay, _kernels_snapshot
from mmkit.execution import _kernels_permit as permit
from mmkit.estimators import _kernels_kappa_orchestrator_twin as kappa
from mmkit.quoting import _kernels_glft_quoter_twin as q
got = {
    "quoter": [len(k.overloads) for k in (q.glft_quote, q.glft_quote_depths, q._side)],
    "others": [len(k.overloads) for k in (_kernels_replay.advance,
        _kernels_snapshot.apply_snapshot_side, permit.permit, kappa.estimate)],
    "deferred": deferred,
}
"""
    got = _after_worker("quoter", cfg, probe)
    assert all(n >= 1 for n in got["quoter"]), got
    assert got["others"] == [0, 0, 0, 0] and got["deferred"] == [], got
    off = tmp_path / "off.toml"
    off.write_text(cfg.read_text() + '\n[engine]\ntwins = "off"\n')
    got = _after_worker("quoter", off, probe)
    assert got["quoter"] == [0, 0, 0], got


def test_the_echo_venue_answers_every_action_the_executor_sends() -> None:
    from mmkit.core.actions import Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
    from mmkit.core.events import ActionResult, OrderUpdate, OwnFill, PositionSnapshot, Trade
    from mmkit.core.outcomes import Outcome
    from mmkit.core.types import Side

    v = warmup.EchoVenue()
    ms = v.LATENCY_NS
    v.submit([Place(1, "a", Side.BUY, 99.0, 0.5), Place(2, "b", Side.SELL, 101.0, 0.5)], 0)
    assert v.drain(ms - 1) == [] and v.pending == 2
    acks = v.drain(ms)
    assert [(r.request_id, r.outcome) for r in acks if isinstance(r, ActionResult)] == [
        (1, Outcome.RESTING),
        (2, Outcome.RESTING),
    ]
    oid_a = acks[0].oid
    v.submit([Modify(3, "a", oid_a, Side.BUY, 98.0, 0.5), Cancel(4, "zz", None)], ms)
    mod, gone = v.drain(2 * ms)
    assert isinstance(mod, ActionResult) and mod.outcome is Outcome.RESTING
    assert mod.oid != oid_a
    assert isinstance(gone, ActionResult) and gone.outcome is Outcome.REJECTED
    v.on_market(Trade(3 * ms, 97.5, 1.0, Side.SELL), 3 * ms)  # a seller reaches our bid
    (fill,) = v.drain(3 * ms)
    assert isinstance(fill, OwnFill) and fill.oid == mod.oid and fill.px == 98.0
    assert v.position == 0.5
    v.submit([QueryOrder(5, "b", None), SyncState(6, "startup"), CancelAll(7, "x")], 4 * ms)
    q, snap, cancelled = v.drain(5 * ms)
    assert isinstance(q, OrderUpdate) and q.cloid == "b"
    assert isinstance(snap, PositionSnapshot) and snap.startup and snap.position == 0.5
    assert snap.open_orders is not None and [o.cloid for o in snap.open_orders] == ["b"]
    assert isinstance(cancelled, OrderUpdate) and cancelled.cloid == "b"
    assert v.pending == 0


@pytest.mark.slow
def test_the_twins_worker_runs_on_a_btc_config_with_a_fine_price_grid(tmp_path: Path) -> None:
    """BTC with three size decimals: the audit's venue, on which the twins' worker drives
    the engine, needed a 180-million-column grid at 100,000 and refused, so the twins'
    group failed on every backtest of this config and the run compiled lazily."""
    cfg = tmp_path / "btc.toml"
    cfg.write_text(
        '[instrument]\ncoin = "BTC"\nsz_decimals = 3\ntick = 0.1\n\n'
        "[risk]\nmax_position = 0.05\norder_size = 0.002\n"
    )
    warmup._warm_twins(cfg)


@pytest.mark.slow
def test_the_market_worker_compiles_the_depth_grid_for_a_depth_feed(tmp_path: Path) -> None:
    """A feed of depth deltas (the USD-M capture through ``binance_capture``): the market
    group's worker, in a fresh process, runs its deltas through a market state, so the depth
    grid's kernels are compiled before a session's first delta instead of during it."""
    import json
    import subprocess
    import sys

    capture = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    capture = capture / "binance-usdm" / "btcusdt_20240808.gz"
    if not capture.exists():
        pytest.skip("the USD-M capture is not here")
    cfg = tmp_path / "btc.toml"
    cfg.write_text(
        '[instrument]\ncoin = "BTC"\nsz_decimals = 3\ntick = 0.1\n\n'
        "[risk]\nmax_position = 0.05\norder_size = 0.002\n\n"
        '[components]\nfeed = "binance_capture"\n\n'
        f"[feeds.binance_capture]\npath = [{str(capture)!r}]\n"
    )
    code = f"""
import json, pathlib
from mmkit.runtime import precompile
precompile._warm_market(pathlib.Path({str(cfg)!r}))
from mmkit.core import _kernels_book as kb
print(json.dumps([len(k.overloads) for k in (kb.grid_fill, kb.grid_delta, kb.grid_side_levels)]))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    assert all(n >= 1 for n in json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_the_twins_worker_reaches_the_lead_lag_model_tests(tmp_path: Path) -> None:
    """A set naming lead_lag: in a fresh process, the twins' worker leaves the lead-lag
    model's significance test and its betas compiled (kernels compiled on first use, which
    the worker compiles at its end; before, lazy kernels that the toy market, which has no
    leader, never reached: they compiled inside the run, at its first test), besides the
    twins' own kernels, which compile when the twins are built."""
    cfg = tmp_path / "signals.toml"
    cfg.write_text(
        "[components]\n"
        'estimators = ["kappa", "sigma", "warmup", "lead_lag", "adverse_selection", "rl_skew"]\n'
    )
    got = _after_worker(
        "twins",
        cfg,
        """
from mmkit.signals import _kernels_leadlag as tests, _kernels_leadlag_twin as ll
from mmkit.signals import _kernels_features as feat
got = {
    "tests": {k: len(getattr(tests, k).overloads)
              for k in ("xcorr", "quantile_bins", "permutation_test", "lag_betas")},
    "twins": {k: len(getattr(mod, k).overloads) for mod, ks in (
        (ll, ("advance", "follower", "leader", "catch_up")),
        (feat, ("top", "trade", "toxicities"))) for k in ks},
}
""",
    )
    assert all(n >= 1 for n in got["tests"].values()), got
    assert all(n >= 1 for n in got["twins"].values()), got


def _after_worker(group: str, config: Path, probe: str) -> Any:
    """In a fresh process, ``group``'s worker on ``config``, then ``probe`` (code that sets
    ``got`` to JSON-able data on what is compiled): ``got``."""
    import json
    import subprocess
    import sys

    code = (
        "import json\nfrom mmkit.runtime import precompile\n"
        f"precompile.main([{group!r}, {str(config)!r}])\n{probe}\nprint(json.dumps(got))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=900
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


_BROKEN_FACTORY = """
from mmkit import hookimpl


@hookimpl
def register_estimators(register):
    register("badest", "badfactory_plugin:build")


def build(ctx):
    raise RuntimeError("factory exploded")
"""


def test_a_configuration_that_does_not_build_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin whose factory raises: the warm-up's worker steps aside (exit
    ``EXIT_CONFIG_ERROR``) without logging the error or repeating it in its closing line,
    since the command builds the same engine next and says why (the error was printed
    twice, once as a warm-up warning)."""
    import io
    import logging

    from mmkit.config.loader import load_settings
    from mmkit.plugin_manager import PluginHost

    (tmp_path / "badfactory_plugin.py").write_text(_BROKEN_FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the worker process imports it too
    host = PluginHost(load_entrypoints=False, extra_modules=["badfactory_plugin"])
    s = load_settings(
        None,
        host.registry,
        env={},
        sets=['components.estimators=["kappa","sigma","warmup","badest"]'],
    )
    out = io.StringIO()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger("mmkit").addHandler(handler)
    try:
        warmup.warm_up(
            s.merged_full(), groups=("twins",), stream=out, plugins=["badfactory_plugin"]
        )
    finally:
        logging.getLogger("mmkit").removeHandler(handler)
    text = out.getvalue()
    assert "factory exploded" not in text and "the configuration does not build" in text
    assert not [r for r in records if "factory exploded" in r.getMessage()]
