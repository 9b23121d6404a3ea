"""A run that never sends an order says why in its first line (a configuration for another
coin: orders below the venue's minimum value)."""

from __future__ import annotations

from pathlib import Path

from tests.backtest.helpers import quick_settings

from mmkit.backtest.runner import BacktestOptions, run_backtest


def _run(store: Path, *sets: str) -> dict[str, object]:
    host, s = quick_settings(*sets)
    rep = run_backtest(s, host, [store], BacktestOptions(duration_s=60.0)).report
    out: dict[str, object] = rep.to_json()
    return out


def test_orders_below_min_notional_are_named(synthetic_store: Path) -> None:
    # the synthetic mid is ~100,000: 0.00005 x 100,000 = 5 USD < the 10 USD minimum
    rep = _run(synthetic_store, "risk.order_size=0.00005", "instrument.sz_decimals=5")
    run = rep["run"]
    assert isinstance(run, dict)
    assert rep["orders_sent"] == 0
    assert run["verdict"] == "never_quoted"
    assert "below instrument.min_notional" in str(run["headline"])
    assert any("risk.order_size" in n for n in run["notes"])


def test_a_quoting_run_has_no_such_note(synthetic_store: Path) -> None:
    rep = _run(synthetic_store)
    run = rep["run"]
    assert isinstance(run, dict)
    assert isinstance(rep["orders_sent"], int) and rep["orders_sent"] > 0
    assert not any("no order was sent" in n for n in run["notes"])
