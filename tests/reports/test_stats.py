"""mmkit.reports.stats against loop-based oracles (stdlib ``statistics``) and hand-checked cases."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.reports.stats import (
    MARKOUT_HORIZONS_S,
    MIN_WINDOWS,
    EquityStats,
    FillStats,
    equity_stats,
    fill_stats,
    to_rows,
)

S = 1_000_000_000


# -- oracles: plain Python loops, no numpy ------------------------------------------------
def oracle_window_returns(ts: list[int], eq: list[float], window_s: float) -> list[float]:
    w = round(window_s * S)
    t0 = ts[0]
    ends = []
    k = 1
    while t0 + k * w <= ts[-1]:
        ends.append(t0 + k * w)
        k += 1
    vals: list[float] = []
    for b in [t0, *ends]:
        last = None
        for t, e in zip(ts, eq, strict=True):
            if t <= b:
                last = e
        assert last is not None
        vals.append(last)
    return [vals[i + 1] - vals[i] for i in range(len(ends))]


def oracle_mdd(eq: list[float]) -> float:
    best = 0.0
    for i in range(len(eq)):
        for j in range(i, len(eq)):
            best = max(best, eq[i] - eq[j])
    return best


def mid_before(mts: list[int] | list[float], mids: list[float], t: float) -> float | None:
    out = None
    for a, b in zip(mts, mids, strict=True):
        if a <= t:
            out = b
    return out


@st.composite
def equity_paths(draw: st.DrawFn) -> tuple[list[int], list[float], float]:
    n = draw(st.integers(1, 60))
    gaps = draw(st.lists(st.integers(0, 30 * S), min_size=n - 1, max_size=n - 1))
    ts = [1_700_000_000 * S]
    for g in gaps:
        ts.append(ts[-1] + g)
    eq = draw(
        st.lists(
            st.floats(-1e4, 1e4, allow_nan=False).map(lambda x: round(x, 3)),
            min_size=n,
            max_size=n,
        )
    )
    window = draw(st.sampled_from([1.0, 5.0, 10.0, 60.0]))
    return ts, eq, window


@settings(max_examples=150, deadline=None)
@given(equity_paths())
def test_equity_stats_matches_loop_oracle(case: tuple[list[int], list[float], float]) -> None:
    ts, eq, window = case
    s = equity_stats(np.array(ts, dtype=np.int64), np.array(eq), window_s=window)
    r = oracle_window_returns(ts, eq, window)
    assert s.n_windows == len(r)
    assert s.max_drawdown_usd == pytest.approx(oracle_mdd(eq), abs=1e-9)
    assert s.return_usd == pytest.approx(eq[-1] - eq[0], abs=1e-9)
    if len(r) >= 2 and statistics.stdev(r) > 1e-9:
        sh = statistics.mean(r) / statistics.stdev(r)
        assert s.sharpe == pytest.approx(sh, rel=1e-6, abs=1e-9)
        assert s.sharpe_daily == pytest.approx(sh * math.sqrt(86400 / window), rel=1e-6, abs=1e-9)
    else:
        assert math.isnan(s.sharpe) or len(r) >= 2
    down = [min(x, 0.0) ** 2 for x in r]
    if len(r) >= 2 and sum(down) > 1e-12:
        sortino = statistics.mean(r) / math.sqrt(sum(down) / len(r))
        assert s.sortino == pytest.approx(sortino, rel=1e-6, abs=1e-9)
    # every NaN carries a caveat
    for v in (s.sharpe, s.sortino, s.return_over_max_dd):
        if math.isnan(v):
            assert s.caveat
    if 0 < len(r) < MIN_WINDOWS:
        assert "not meaningful" in s.caveat or "need at least 2" in s.caveat


def test_equity_stats_hand_checked() -> None:
    # samples every 30 s; windows of 60 s: equity at 0, 60, 120, 180 s = 0, 2, 1, 4
    ts = np.array([0, 30, 60, 90, 120, 150, 180, 200], dtype=np.int64) * S
    eq = np.array([0.0, 5.0, 2.0, -3.0, 1.0, 1.0, 4.0, 9.0])
    s = equity_stats(ts, eq, window_s=60.0)
    # returns 2, -1, 3: mean 4/3, sample sd sqrt(((2/3)^2 + (7/3)^2 + (5/3)^2) / 2) = sqrt(39/9)
    assert s.n_windows == 3
    assert s.sharpe == pytest.approx((4 / 3) / math.sqrt(39 / 9))
    # downside deviation sqrt((0 + 1 + 0) / 3)
    assert s.sortino == pytest.approx((4 / 3) / math.sqrt(1 / 3))
    assert s.max_drawdown_usd == 8.0  # 5 -> -3
    assert s.return_usd == 9.0
    assert s.return_over_max_dd == pytest.approx(9 / 8)
    assert "only 3 windows of 60 s" in s.caveat
    assert s.sharpe_daily == pytest.approx(s.sharpe * math.sqrt(1440))


def test_equity_stats_too_short_has_reason() -> None:
    s = equity_stats(np.array([0, 47 * S], dtype=np.int64), np.array([0.0, 1.0]), window_s=60.0)
    assert s.n_windows == 0
    assert math.isnan(s.sharpe) and math.isnan(s.sharpe_daily)
    assert "only 0 windows of 60 s in 47.0 s" in s.caveat
    empty = equity_stats(np.zeros(0, dtype=np.int64), np.zeros(0))
    assert empty.caveat == "no equity samples"


def test_equity_stats_notional_pct() -> None:
    s = equity_stats(
        np.array([0, S], dtype=np.int64), np.array([100.0, 101.0]), window_s=1.0, notional_usd=200.0
    )
    assert s.return_pct == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("ts", "eq", "msg"),
    [
        ([0, 1], [0.0], "equity: length 1 differs from ts_ns"),
        ([0, 2, 1], [0.0, 1.0, 2.0], "ts_ns: times must not decrease"),
        ([0, 1], [0.0, math.nan], "equity: value nan at index 1"),
    ],
)
def test_equity_stats_bad_input(ts: list[int], eq: list[float], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        equity_stats(np.array(ts, dtype=np.int64), np.array(eq))
    with pytest.raises(ValueError, match="window_s"):
        equity_stats(np.array([0], dtype=np.int64), np.array([0.0]), window_s=0.0)


@st.composite
def fill_cases(draw: st.DrawFn) -> dict[str, object]:
    nm = draw(st.integers(1, 40))
    mts = sorted(draw(st.lists(st.integers(0, 200 * S), min_size=nm, max_size=nm)))
    mids = draw(st.lists(st.floats(90.0, 110.0), min_size=nm, max_size=nm))
    nf = draw(st.integers(0, 25))
    fts = draw(st.lists(st.integers(0, 200 * S), min_size=nf, max_size=nf))
    side = draw(st.lists(st.sampled_from([1, -1]), min_size=nf, max_size=nf))
    px = draw(st.lists(st.floats(90.0, 110.0), min_size=nf, max_size=nf))
    sz = draw(st.lists(st.floats(0.001, 5.0), min_size=nf, max_size=nf))
    fee = draw(st.lists(st.floats(-1.0, 1.0), min_size=nf, max_size=nf))
    run_s = draw(st.floats(1.0, 10_000.0))
    return {
        "mts": mts, "mids": mids, "fts": fts, "side": side,
        "px": px, "sz": sz, "fee": fee, "run_s": run_s,
    }  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(fill_cases())
def test_fill_stats_matches_loop_oracle(c: dict[str, list[float]]) -> None:
    mts, mids, fts = c["mts"], c["mids"], c["fts"]
    side, px, sz, fee = c["side"], c["px"], c["sz"], c["fee"]
    run_s = float(c["run_s"])  # type: ignore[arg-type]
    s = fill_stats(
        np.array(fts, dtype=np.int64), np.array(side), np.array(px), np.array(sz), np.array(fee),
        run_s=run_s, mids_ts_ns=np.array(mts, dtype=np.int64), mids=np.array(mids),
    )  # fmt: skip
    n = len(fts)
    assert s.fills == n
    assert s.fills_bid == sum(1 for x in side if x == 1)
    assert s.fills_ask == sum(1 for x in side if x == -1)
    vb = sum(p * q for p, q, d in zip(px, sz, side, strict=True) if d == 1)
    va = sum(p * q for p, q, d in zip(px, sz, side, strict=True) if d == -1)
    assert s.volume_bid_usd == pytest.approx(vb)
    assert s.volume_ask_usd == pytest.approx(va)
    assert s.fills_per_hour == pytest.approx(n / run_s * 3600)
    assert s.turnover == pytest.approx((va + vb) / run_s * 3600)
    assert s.fees_paid_usd == pytest.approx(sum(f for f in fee if f > 0))
    assert s.rebates_usd == pytest.approx(sum(-f for f in fee if f < 0))
    assert s.rebates_usd >= 0
    # spread captured
    num = den = 0.0
    for t, d, p, q in zip(fts, side, px, sz, strict=True):
        m = mid_before(mts, mids, t)
        if m is not None:
            num += d * (m - p) / m * 1e4 * q
            den += q
    if den > 0:
        assert s.spread_captured_bp == pytest.approx(num / den, rel=1e-9, abs=1e-9)
    else:
        assert math.isnan(s.spread_captured_bp)
        assert s.caveat
    for h in MARKOUT_HORIZONS_S:
        key = f"{h:g}s"
        num = den = usd = 0.0
        cnt = 0
        for t, d, p, q in zip(fts, side, px, sz, strict=True):
            th = t + round(h * S)
            if th > mts[-1]:
                continue
            m = mid_before(mts, mids, th)
            if m is None:
                continue
            num += d * (m - p) / p * 1e4 * q
            usd += d * (m - p) * q
            den += q
            cnt += 1
        assert s.markouts_n[key] == cnt
        if cnt:
            assert s.markouts_bp[key] == pytest.approx(num / den, rel=1e-9, abs=1e-9)
            assert s.markouts_usd[key] == pytest.approx(usd, rel=1e-9, abs=1e-9)
        else:
            assert math.isnan(s.markouts_bp[key])
            assert s.caveat


def test_fill_stats_hand_checked() -> None:
    # mid 100 throughout then 101 from t=5 s; buy 1 @ 99.9 at t=0, sell 2 @ 100.2 at t=1 s
    mts = np.array([0, 5 * S, 100 * S], dtype=np.int64)
    mids = np.array([100.0, 101.0, 101.0])
    s = fill_stats(
        np.array([0, S], dtype=np.int64), np.array([1, -1]), np.array([99.9, 100.2]),
        np.array([1.0, 2.0]), np.array([0.01, -0.02]), run_s=1800.0,
        mids_ts_ns=mts, mids=mids,
    )  # fmt: skip
    assert (s.fills, s.fills_bid, s.fills_ask) == (2, 1, 1)
    assert s.fills_per_hour == 4.0
    # spread: buy +0.1 -> 10 bp (w 1); sell +0.2 -> 20 bp (w 2): (10 + 40) / 3
    assert s.spread_captured_bp == pytest.approx(50 / 3)
    assert s.spread_captured_usd == pytest.approx(0.1 + 0.4)
    # 5 s markout: buy at 0 sees mid(5 s) = 101 -> +1.1; sell at 1 s sees mid(6 s)=101 -> -0.8*2
    assert s.markouts_usd["5s"] == pytest.approx(1.1 - 1.6)
    assert s.markouts_usd["1s"] == pytest.approx(0.1 + 2 * (100.2 - 100.0))
    assert s.fees_paid_usd == pytest.approx(0.01)
    assert s.rebates_usd == pytest.approx(0.02)
    assert s.net_fees_usd == pytest.approx(-0.01)
    labels = dict(to_rows(s))
    assert labels["fills (bid / ask)"] == "2 (1 / 1)"
    assert labels["turnover (USD/hour)"] == f"{(99.9 + 200.4) * 2:,.2f}"


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"side": [2]}, "side: value 2.0 at index 0 is not"),
        ({"px": [0.0]}, "px: value 0.0 at index 0 is not positive"),
        ({"sz": [math.inf]}, "sz: value inf at index 0 is not finite"),
        ({"fee": [1.0, 2.0]}, "fee: length 2 differs from ts_ns"),
        ({"mids": [0.0]}, "mids: value 0.0 at index 0 is not positive"),
    ],
)
def test_fill_stats_bad_input(kw: dict[str, list[float]], msg: str) -> None:
    args: dict[str, list[float]] = {
        "side": [1], "px": [1.0], "sz": [1.0], "fee": [0.0], "mids": [1.0],
    }  # fmt: skip
    args.update(kw)
    with pytest.raises(ValueError, match=msg):
        fill_stats(
            np.array([0], dtype=np.int64), np.array(args["side"]), np.array(args["px"]),
            np.array(args["sz"]), np.array(args["fee"]), run_s=1.0,
            mids_ts_ns=np.array([0], dtype=np.int64), mids=np.array(args["mids"]),
        )  # fmt: skip


def test_to_rows_states_window_and_caveat() -> None:
    s = equity_stats(np.array([0, 47 * S], dtype=np.int64), np.array([0.0, 1.0]))
    rows = dict(to_rows(s))
    assert rows["Sharpe (daily, from 60 s windows)"] == "n/a"
    assert "Sharpe (per 60 s window, 0 windows)" in rows
    assert "not" in rows["caveat"] or "need" in rows["caveat"]
    assert isinstance(s, EquityStats)
    with pytest.raises(TypeError):
        to_rows(object())  # type: ignore[arg-type]
    assert isinstance(fill_stats(
        np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0),
        run_s=0.0, mids_ts_ns=np.zeros(0, dtype=np.int64), mids=np.zeros(0),
    ), FillStats)  # fmt: skip
