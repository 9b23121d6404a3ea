"""mmkit.reports.run: time quoting against a per-nanosecond-free loop oracle, and the verdict
and headline of crafted runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.reports.run import RunAccount, WarmupInfo, account_run, quoting_seconds
from mmkit.runtime.gate_timeline import GateRow

S = 1_000_000_000


def oracle_quoting(ts: list[int], both: list[bool], a: int, b: int) -> float:
    """Walk the timeline segment by segment: each sample's state holds until the next."""
    total = 0
    for i, t in enumerate(ts):
        seg_end = ts[i + 1] if i + 1 < len(ts) else max(b, t)
        lo, hi = max(t, a), min(seg_end, b)
        if both[i] and hi > lo:
            total += hi - lo
    return total / S


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10 * S), st.booleans(), st.booleans()), max_size=40),
    st.integers(0, 12 * S),
    st.integers(0, 12 * S),
)
def test_quoting_seconds_matches_oracle(
    samples: list[tuple[int, bool, bool]], a: int, b: int
) -> None:
    samples.sort(key=lambda x: x[0])
    ts = [s[0] for s in samples]
    bid = np.array([100.0 if s[1] else math.nan for s in samples])
    ask = np.array([101.0 if s[2] else math.nan for s in samples])
    got = quoting_seconds(np.array(ts, dtype=np.int64), bid, ask, a, b)
    want = oracle_quoting(ts, [s[1] and s[2] for s in samples], a, b) if b > a else 0.0
    assert got == pytest.approx(want, abs=1e-9)
    assert 0.0 <= got <= max(0, b - a) / S + 1e-9


def _quotes(
    both_from_s: float, end_s: float, off_s: float = math.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples every 0.1 s to ``end_s``; both sides rest from ``both_from_s`` until ``off_s``."""
    ts = np.arange(0, int(end_s * 10) + 1, dtype=np.int64) * (S // 10)
    on = (ts >= int(both_from_s * S)) & (ts < off_s * S)
    bid = np.where(on, 99.0, math.nan)
    ask = np.where(on, 101.0, math.nan)
    return ts, bid, ask


WU = WarmupInfo(
    first_ns=0, warmed_up=True, timed_out=False, finished_after_s=10.0, trades=60, buckets=31
)


def test_ok_run_and_shutdown_not_halted() -> None:
    ts, bid, ask = _quotes(10.0, 100.0)
    rows = [
        GateRow(0, "warmup", "closed", "Warmup", "", "halt", False),
        GateRow(10 * S, "warmup", "opened"),
        GateRow(100 * S, "engine", "closed", "Shutdown", "", "halt", True),
    ]
    r = account_run(
        start_ns=0, end_ns=100 * S, rows=rows, warmup=WU, quote_ts_ns=ts, quote_bid=bid,
        quote_ask=ask, fills=3, equity_usd=1.5,
    )  # fmt: skip
    assert r.verdict == "ok"
    assert r.halted_s == 0.0 and not r.kill_switch_trips
    assert r.warmup_s == 10.0 and r.warmup_ended_by == "ready"
    assert r.warmup_data_frac == pytest.approx(0.1)
    assert r.post_warmup_s == 90.0
    assert r.quoting_frac == pytest.approx(1.0)
    assert r.headline.startswith("OK: quoted 100% of the 90.0 s after warmup")
    assert "warmup used 10% of the data (10.0 s, ended by ready)" in r.headline
    assert [c.gate for c in r.gate_closures] == ["warmup"]


def test_kill_switch_trip_is_the_headline() -> None:
    ts, bid, ask = _quotes(10.0, 100.0, off_s=40.0)  # nothing rests from 40 s
    rows = [
        GateRow(40 * S, "kill_switch", "closed", "TooManyRejections", "TooManyRejections {n: 21}",
                "halt", True),
        GateRow(100 * S, "engine", "closed", "Shutdown", "", "halt", True),
    ]  # fmt: skip
    r = account_run(
        start_ns=0, end_ns=100 * S, rows=rows, warmup=WU, quote_ts_ns=ts, quote_bid=bid,
        quote_ask=ask, fills=0, equity_usd=math.nan,
    )  # fmt: skip
    assert r.verdict == "halted"
    assert r.headline.startswith("HALTED by kill switch at 40.0 s (TooManyRejections): 60% of")
    assert r.halted_s == 60.0
    assert r.kill_switch_trips[0].description == "TooManyRejections {n: 21}"
    assert r.quoting_s == pytest.approx(30.0)  # 10..40 s
    assert r.to_json()["quoting_frac"] is not None


def test_mostly_halted_and_never_quoted_and_no_estimator() -> None:
    ts, bid, ask = _quotes(10.0, 100.0)
    rows = [GateRow(20 * S, "volatility", "closed", "Vol", "", "halt", False)]
    r = account_run(
        start_ns=0, end_ns=100 * S, rows=rows, warmup=WU, quote_ts_ns=ts, quote_bid=bid,
        quote_ask=ask, fills=0, equity_usd=0.0,
    )  # fmt: skip
    assert r.verdict == "mostly_halted"
    assert "gates closed 89% of the 90.0 s after warmup (gates closed: volatility 80.0 s)" in (
        r.headline
    )
    # a reduce-only closure is not a halt
    rows_ro = [GateRow(20 * S, "inventory", "closed", "Inv", "", "reduce_only", False)]
    r2 = account_run(
        start_ns=0, end_ns=100 * S, rows=rows_ro, warmup=None, quote_ts_ns=ts, quote_bid=bid,
        quote_ask=ask, fills=0, equity_usd=0.0,
    )  # fmt: skip
    assert r2.verdict == "ok" and r2.halted_s == 0.0
    assert r2.warmup_ended_by == "none" and "no warmup estimator" in r2.headline
    assert r2.post_warmup_s == 100.0
    never = account_run(
        start_ns=0, end_ns=100 * S, rows=[], warmup=WU, quote_ts_ns=ts,
        quote_bid=np.full(ts.size, math.nan), quote_ask=ask, fills=0, equity_usd=0.0,
    )  # fmt: skip
    assert never.verdict == "never_quoted" and never.headline.startswith("NEVER QUOTED")
    wu_never = WarmupInfo(0, False, False, math.nan, 3, 0)
    only = account_run(
        start_ns=0, end_ns=100 * S, rows=[], warmup=wu_never, quote_ts_ns=ts,
        quote_bid=bid, quote_ask=ask, fills=0, equity_usd=0.0,
    )  # fmt: skip
    assert only.verdict == "warmup_only" and only.warmup_data_frac == 1.0
    assert only.quoting_s == 0.0


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["estimator flaky", "quoter q", "gate g"]),
                    st.integers(0, 10_000), max_size=3),
    st.sampled_from(["clean", "trip", "mostly_halted", "never_quoted"]),
)  # fmt: skip
def test_a_run_with_component_faults_is_not_ok(faults: dict[str, int], shape: str) -> None:
    """Faults proper turn what would be ``ok`` into ``faulted`` (a halted, never-quoting or
    mostly halted run keeps its verdict, which says more); zero counts are no faults. The
    rest of the account does not depend on them."""
    ts, bid, ask = _quotes(10.0, 100.0)
    rows: list[GateRow] = []
    if shape == "trip":
        rows = [GateRow(40 * S, "kill_switch", "closed", "Loss", "Loss", "halt", True)]
    elif shape == "mostly_halted":
        rows = [GateRow(20 * S, "volatility", "closed", "Vol", "", "halt", False)]
    elif shape == "never_quoted":
        bid = np.full(ts.size, math.nan)

    def run(f: dict[str, int] | None) -> RunAccount:
        return account_run(
            start_ns=0, end_ns=100 * S, rows=rows, warmup=WU, quote_ts_ns=ts, quote_bid=bid,
            quote_ask=ask, fills=4, equity_usd=2.0, faults=f,
        )  # fmt: skip

    clean, got = run(None), run(faults)
    n = sum(faults.values())
    assert got.component_faults == n
    if shape == "clean" and n > 0:
        assert got.verdict == "faulted"
        what = "fault" if n == 1 else "faults"
        assert got.headline == (
            f"FAULTED: {n:,} component {what}; " + clean.headline.removeprefix("OK: ")
        )
    else:
        assert got.verdict == clean.verdict
        assert got.headline == clean.headline
    assert got.to_json()["component_faults"] == n
    assert got.quoting_s == clean.quoting_s
    assert got.halted_s == clean.halted_s
