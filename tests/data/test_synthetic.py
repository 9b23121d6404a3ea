"""The synthetic market: deterministic, sane, and its trades reveal the configured kappa."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.events import BBO, BookSnapshot, Trade
from mmkit.core.types import Instrument
from mmkit.data.params import SyntheticParams
from mmkit.data.schema import FLAG_END, RecordKind, concat_chunks
from mmkit.data.synthetic import SyntheticFeed, generate_chunks, resolve
from mmkit.errors import ConfigError


def _gen(**kw: object) -> dict[str, np.ndarray]:
    p = resolve(SyntheticParams(**kw))  # type: ignore[arg-type]
    return concat_chunks(list(generate_chunks(p)))


def test_deterministic_for_a_seed() -> None:
    a = _gen(duration_s=300, seed=7, chunk_s=60)
    b = _gen(duration_s=300, seed=7, chunk_s=60)
    c = _gen(duration_s=300, seed=8, chunk_s=60)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["px"], c["px"]) or len(a["px"]) != len(c["px"])


def test_time_order_book_and_trades_are_sane() -> None:
    c = _gen(duration_s=600, seed=3, tick=0.5, lot=0.001)
    assert np.all(np.diff(c["ts"]) >= 0)
    np.testing.assert_array_equal(c["ts"], c["local_ts"])
    px = c["px"][c["kind"] != RecordKind.GAP]
    assert np.all(np.isfinite(px)) and np.all(px > 0)
    on_grid = np.abs(px / 0.5 - np.round(px / 0.5))
    assert on_grid.max() < 1e-6
    sz = c["sz"]
    assert np.all(sz > 0) and np.abs(sz / 0.001 - np.round(sz / 0.001)).max() < 1e-6
    # A pinned at 1 /s per side (the default is 0.35) so that 120 s hold ~240 trades to check
    feed = SyntheticFeed(SyntheticParams(duration_s=120, seed=3, tick=0.5, lot=0.001, A=1.0))
    bbo: BBO | None = None
    books = trades = 0
    for ev in feed.events():
        if isinstance(ev, BBO):
            assert ev.bid_px < ev.ask_px
            bbo = ev
        elif isinstance(ev, BookSnapshot):
            books += 1
            assert ev.bid_px[0] < ev.ask_px[0]
            assert np.all(np.diff(ev.bid_px) < 0) and np.all(np.diff(ev.ask_px) > 0)
            assert bbo is not None and (ev.bid_px[0], ev.ask_px[0]) == (bbo.bid_px, bbo.ask_px)
        elif isinstance(ev, Trade):
            trades += 1
            assert bbo is not None
            assert ev.px >= bbo.ask_px if int(ev.side) > 0 else ev.px <= bbo.bid_px
    assert books == 240 and trades > 150


def _fit_k(c: dict[str, np.ndarray], mids: np.ndarray, d0: float) -> tuple[float, float]:
    """Fit rate(depth >= d) = A exp(-k d) to the trades: (MLE k, log-linear k)."""
    tr = c["kind"] == RecordKind.TRADE
    depth = np.abs(c["px"][tr] / mids - 1.0)
    tail = depth[depth >= d0] - d0
    k_mle = 1.0 / tail.mean()
    grid = np.linspace(d0, d0 + 2.0 / k_mle, 12)
    counts = np.array([(depth >= g).sum() for g in grid], dtype=float)
    slope = np.polyfit(grid, np.log(counts), 1)[0]
    return float(k_mle), float(-slope)


@pytest.mark.parametrize("k", [2000.0, 4000.0])
def test_kappa_recovered_from_one_hour(k: float) -> None:
    # the market this test was written on (the defaults before the volatility recalibration:
    # the new ones draw another random stream, on which seed 11's log-linear fit is 5.2% off
    # at k = 4000 while seeds 12-14 are within 1%)
    old = {"informed_frac": 0.65, "informed_impact_bp": 0.0, "sigma_regimes": [5e-5, 1.5e-4]}
    c = _gen(duration_s=3600, seed=11, k=k, A=1.0, tick=1.0, mid0=100_000.0, **old)
    tr = c["kind"] == RecordKind.TRADE
    # the mid a trader sees: the last BBO's mid before each trade
    bbo_end = (c["kind"] == RecordKind.BBO) & ((c["flags"] & FLAG_END) != 0)
    bbo_idx = np.flatnonzero(bbo_end)
    mid_at = 0.5 * (c["px"][bbo_idx] + c["px"][bbo_idx - 1])
    last = np.searchsorted(bbo_idx, np.flatnonzero(tr)) - 1
    book_mid = mid_at[last]
    d0 = 3.0 / 100_000  # beyond a few ticks: rounding and the spread clamp do not matter
    for mids in (book_mid, c["val"][tr]):
        k_mle, k_ls = _fit_k(c, mids, d0)
        assert abs(k_mle / k - 1) < 0.05, (k_mle, k)
        assert abs(k_ls / k - 1) < 0.05, (k_ls, k)
    n_trades = int(tr.sum())
    assert abs(n_trades / (2 * 3600) - 1.0) < 0.05  # A = 1 per side per second


def test_regimes_and_cascades_move_the_mid() -> None:
    # no informed flow: its impact moves the mid too, and this test is about regimes/cascades
    calm = _gen(
        duration_s=1800, seed=5, sigma_regimes=[2e-5], cascade_rate_per_h=0.0, informed_frac=0.0
    )
    wild = _gen(
        duration_s=1800,
        seed=5,
        sigma_regimes=[2e-4],
        cascade_rate_per_h=20.0,
        jump_size=2e-3,
        informed_frac=0.0,
    )

    def vol(c: dict[str, np.ndarray]) -> float:
        tr = c["kind"] == RecordKind.TRADE
        m = c["val"][tr]
        return float(np.std(np.diff(np.log(m))))

    assert vol(wild) > 5 * vol(calm)


def test_resolve_uses_instrument_and_seed() -> None:
    p = resolve(SyntheticParams(), Instrument(coin="ETH", tick=0.1, sz_decimals=4), seed=42)
    assert (p.seed, p.tick, p.lot) == (42, 0.1, 1e-4)
    with pytest.raises(ConfigError):
        resolve(replace(SyntheticParams(), sigma_regimes=[]))
    with pytest.raises(ConfigError):
        list(generate_chunks(SyntheticParams()))


def test_feed_is_registered_and_builds() -> None:
    from mmkit.plugin_manager import get_host
    from mmkit.registry import BuildContext, RiskLimits

    host = get_host()
    spec = host.registry.get("feed", "synthetic")
    feed = spec.build(
        BuildContext(
            "feed", "synthetic", SyntheticParams(duration_s=5), Instrument(), RiskLimits(), seed=1
        )
    )
    evs = list(feed.events())
    assert evs and all(e.ts >= evs[0].ts for e in evs)
    assert {
        "replay",
        "binance_capture",
        "hyperliquid_capture",
        "hyperliquid_archive",
        "lobster",
    } <= set(host.registry.names("feed"))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    tick=st.sampled_from([0.01, 0.5, 1.0, 10.0]),
    spread=st.integers(1, 4),
    sigma=st.floats(0.0, 1e-3),
    cascades=st.floats(0.0, 3600.0),
    A=st.floats(0.1, 20.0),
    k=st.floats(100.0, 20_000.0),
)
def test_any_parameters_give_a_sane_market(
    seed: int, tick: float, spread: int, sigma: float, cascades: float, A: float, k: float
) -> None:
    c = _gen(
        duration_s=20,
        seed=seed,
        tick=tick,
        lot=0.001,
        spread_ticks=spread,
        sigma_regimes=[sigma, 2 * sigma],
        cascade_rate_per_h=cascades,
        A=A,
        k=k,
        chunk_s=7,
        mid0=1000.0,
    )
    assert np.all(np.diff(c["ts"]) >= 0)
    assert np.all(np.isfinite(c["px"])) and np.all(c["px"] > 0) and np.all(c["sz"] > 0)
    bbo = np.flatnonzero((c["kind"] == RecordKind.BBO) & ((c["flags"] & FLAG_END) != 0))
    assert np.all(c["px"][bbo - 1] < c["px"][bbo])  # bid < ask
    gap_ticks = (c["px"][bbo] - c["px"][bbo - 1]) / tick
    assert np.all((np.abs(gap_ticks - spread) < 1e-6) | (np.abs(gap_ticks - spread - 1) < 1e-6))
