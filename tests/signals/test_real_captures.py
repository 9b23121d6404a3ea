"""Lead-lag on the real captures: Binance USD-M futures (leader) vs spot (follower), same span.

Prints what it finds (the finding is written up in docs/signals.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FUT = DATA / "binance-usdm" / "btcusdt_20240808.gz"
SPOT = DATA / "binance-spot" / "btcusdt_20240808.gz"


@pytest.mark.slow
def test_futures_vs_spot_lead_lag() -> None:
    if not (FUT.exists() and SPOT.exists()):
        pytest.skip("real captures not available")
    from mmkit.signals.captures import capture_lead_lag

    found = capture_lead_lag(FUT, SPOT, interval_s=0.05, max_lag=10, n_permutations=199)
    print("\nfutures -> spot:", found.describe())
    r = found.result
    assert 1 <= r.lag <= 10 and 0.0 < r.p_value <= 1.0 and r.n > 1000
    assert found.span_s > 60
