"""One clock for replays (mmkit.data.clock): a recorder clock behind the exchange is moved
onto the local clock by one constant; a plausible latency is left alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.types import NS_PER_MS, NS_PER_S
from mmkit.data.clock import ClockAlignment
from mmkit.data.market_stream import open_records
from mmkit.data.schema import Chunk

T0 = 1_723_161_255 * NS_PER_S


def _chunk(delays_ns: list[int], skew_ns: int) -> Chunk:
    ts = T0 + np.arange(len(delays_ns), dtype=np.int64) * 1_000_000
    return {
        "ts": ts,
        "local_ts": ts + np.asarray(delays_ns, dtype=np.int64) + skew_ns,
        "px": np.ones(len(delays_ns)),
    }


@settings(max_examples=60, deadline=None)
@given(
    delays=st.lists(st.integers(0, 300 * NS_PER_MS), min_size=5, max_size=200),
    skew_ms=st.integers(-5_000, 5_000),
    min_latency_ms=st.floats(0, 100),
)
def test_shift_only_when_local_times_precede_the_exchange(
    delays: list[int], skew_ms: int, min_latency_ms: float
) -> None:
    chunk = _chunk(delays, skew_ms * NS_PER_MS)
    d = chunk["local_ts"] - chunk["ts"]
    clock = ClockAlignment([chunk, chunk], min_latency_ms=min_latency_ms)
    out = list(clock)
    assert len(out) == 2
    if np.median(d) >= 0:
        assert clock.offset_ns == 0 and clock.note() == ""
        assert np.array_equal(out[0]["ts"], chunk["ts"])
        return
    after = out[0]["local_ts"] - out[0]["ts"]
    # the earliest arrivals (1st percentile) now come min_latency after the exchange
    assert abs(np.percentile(after, 1.0) - int(min_latency_ms * NS_PER_MS)) <= 1
    # one constant: order and spacing of the exchange's times are kept, in every chunk
    assert np.array_equal(np.diff(out[0]["ts"]), np.diff(chunk["ts"]))
    assert np.array_equal(out[1]["ts"] - chunk["ts"], out[0]["ts"] - chunk["ts"])
    assert "behind the exchange" in clock.note()
    assert np.array_equal(out[0]["local_ts"], chunk["local_ts"])  # the local clock is the truth


def test_disabled_passes_through() -> None:
    chunk = _chunk([1, 2, 3, 4, 5], -2 * NS_PER_S)
    clock = ClockAlignment([chunk], enabled=False)
    assert np.array_equal(next(iter(clock))["ts"], chunk["ts"])
    assert clock.median_delay_ns is not None and clock.median_delay_ns < 0
    assert clock.offset_ns == 0


def test_data_without_local_times_are_not_touched() -> None:
    chunk = _chunk([1, 2, 3], 0)
    chunk["local_ts"] = np.full(3, -1, dtype=np.int64)
    clock = ClockAlignment([chunk])
    assert np.array_equal(next(iter(clock))["ts"], chunk["ts"])
    assert clock.median_delay_ns is None


@pytest.mark.slow
def test_real_captures(shared_data: Path) -> None:
    """The data README: the USD-M recorder ran ~1.27 s behind the exchange; the
    Hyperliquid capture's ~0.4 s delay is plausible and kept."""
    usdm = ClockAlignment(open_records(shared_data / "binance-usdm/btcusdt_20240808.gz").chunks)
    first = next(iter(usdm))
    assert usdm.median_delay_ns is not None
    assert -1.35 * NS_PER_S < usdm.median_delay_ns < -1.2 * NS_PER_S
    after = first["local_ts"] - first["ts"]
    ok = first["local_ts"] > 0
    assert 0 <= np.median(after[ok]) < 100 * NS_PER_MS
    hl = ClockAlignment(open_records(shared_data / "hyperliquid/btcusd_20250126.gz").chunks)
    next(iter(hl))
    assert hl.offset_ns == 0 and hl.median_delay_ns is not None and hl.median_delay_ns > 0


def test_the_venue_feed_latency_sets_the_earliest_arrival() -> None:
    from mmkit.config.loader import load_settings
    from mmkit.data.clock import DEFAULT_MIN_LATENCY_MS, venue_feed_latency_ms
    from mmkit.plugin_manager import PluginHost

    reg = PluginHost(load_entrypoints=False).registry
    s = load_settings(None, reg, env={}, sets=["venues.sim.feed_latency_ms=35"])
    assert venue_feed_latency_ms(s) == 35.0
    toy = load_settings(None, reg, env={}, sets=[])
    assert venue_feed_latency_ms(toy) == DEFAULT_MIN_LATENCY_MS == 20.0
