"""``mmkit signals lead-lag`` on any input the data commands read (issue 19): event stores
(Parquet) and raw captures of either venue, a Hyperliquid capture as follower (mids from its
``l2Book`` snapshots, it has no BBO stream).

Oracles: the mids are compared with ones parsed here straight from the capture's JSON lines
(not through mmkit's loaders), the lead found is the one injected into synthetic data, and a
store converted from a capture gives exactly the raw capture's result.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.cli.helpers import run_cli

from mmkit.data.loaders import convert
from mmkit.signals.captures import BBO_SOURCE, BOOK_SOURCE, capture_lead_lag, input_mids
from mmkit.signals.synthetic import lead_lag_mids

T0 = 1_723_161_253_000_000_000  # ns
STEP = 50_000_000  # 50 ms between quotes


def bn_ticker_capture(path: Path, mids: np.ndarray, t0: int, step: int) -> Path:
    """A Binance combined-stream capture of bookTicker quotes, one-cent wide around ``mids``."""
    with gzip.open(path, "wt") as fh:
        for i, m in enumerate(mids):
            d = {"u": i + 1, "s": "BTCUSDT", "b": f"{m - 0.01:.2f}", "B": "1.0"}
            d |= {"a": f"{m + 0.01:.2f}", "A": "1.0"}
            msg = {"stream": "btcusdt@bookTicker", "data": d}
            fh.write(f"{t0 + i * step} {json.dumps(msg)}\n")
    return path


def hl_book_capture(path: Path, mids: np.ndarray, t0: int, step: int) -> Path:
    """A Hyperliquid capture of ``l2Book`` snapshots (3 levels a side, 1-unit tick) whose
    best bid/ask straddle ``mids`` (rounded to the half tick)."""
    with gzip.open(path, "wt") as fh:
        for i, m in enumerate(mids):
            bid = np.floor(m)
            levels = [
                [{"px": f"{bid - k:.0f}", "sz": "0.5", "n": 1} for k in range(3)],
                [{"px": f"{bid + 1 + k:.0f}", "sz": "0.5", "n": 1} for k in range(3)],
            ]
            t = t0 + i * step
            msg = {"channel": "l2Book", "data": {"coin": "BTC", "time": t // 1_000_000}}
            msg["data"]["levels"] = levels  # type: ignore[index]
            fh.write(f"{t} {json.dumps(msg)}\n")
    return path


@pytest.fixture(scope="module")
def synthetic_pair() -> tuple[np.ndarray, np.ndarray]:
    # follower's returns repeat the leader's 3 samples (150 ms) later, plus noise
    return lead_lag_mids(3, 2500, 3, mid0=60_000.0, sigma_step=3e-4, noise_ratio=0.5)


def test_parquet_leader_and_hyperliquid_follower(
    tmp_path: Path,
    synthetic_pair: tuple[np.ndarray, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    lead, fol = synthetic_pair
    raw_lead = bn_ticker_capture(tmp_path / "lead.gz", lead, T0, STEP)
    store = tmp_path / "lead.parquet"
    convert([raw_lead], store)
    hl = hl_book_capture(tmp_path / "hl.gz", fol, T0 + 1000, STEP)
    args = ["signals", "lead-lag", str(store), str(hl), "--interval", "0.05", "--max-lag", "8"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "lag 3 samples = 150 ms" in out and "(significant)" in out
    assert f"{lead.size} leader quotes / {fol.size} follower book tops" in out
    # --format names the raw inputs' format; the store is recognised whatever it says
    code, out2, err = run_cli([*args, "--format", "hyperliquid"], capsys)
    assert code == 0 and out2 == out, err
    code, _, err = run_cli([*args, "--format", "nope"], capsys)
    assert code == 2 and "unknown data format 'nope'" in err and "Traceback" not in err
    # the store gives exactly what its raw capture gives
    a = capture_lead_lag(store, hl, interval_s=0.05, max_lag=8, n_permutations=199)
    b = capture_lead_lag(raw_lead, hl, interval_s=0.05, max_lag=8, n_permutations=199)
    np.testing.assert_array_equal(a.result.corrs, b.result.corrs)
    assert a.result.p_value == b.result.p_value and a.result.lag == b.result.lag == 3


def test_hyperliquid_store_as_follower_equals_its_capture(
    tmp_path: Path, synthetic_pair: tuple[np.ndarray, np.ndarray]
) -> None:
    _lead, fol = synthetic_pair
    hl = hl_book_capture(tmp_path / "hl.gz", fol, T0, STEP)
    store = tmp_path / "hl.parquet"
    convert([hl], store)
    raw, st_ = input_mids(hl), input_mids(store)
    assert raw.source == st_.source == BOOK_SOURCE and st_.fmt == "store"
    np.testing.assert_array_equal(raw.ts_ns, st_.ts_ns)
    np.testing.assert_array_equal(raw.mid, st_.mid)
    # the oracle: best bid floor(m), best ask floor(m) + 1
    np.testing.assert_allclose(st_.mid, np.floor(fol) + 0.5)


def test_no_overlap_is_said_in_seconds(
    tmp_path: Path,
    synthetic_pair: tuple[np.ndarray, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    lead, fol = synthetic_pair
    a = bn_ticker_capture(tmp_path / "a.gz", lead[:100], T0, STEP)
    b = hl_book_capture(tmp_path / "b.gz", fol[:100], T0 + 3600 * 10**9, STEP)
    code, _, err = run_cli(["signals", "lead-lag", str(a), str(b)], capsys)
    assert code == 2 and "Traceback" not in err
    assert re.search(r"overlap for no time at all \(they are 3,59\d s apart\)", err), err


def test_an_input_without_quotes_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trades_only = tmp_path / "t.gz"
    with gzip.open(trades_only, "wt") as fh:
        for i in range(5):
            tr = {"coin": "BTC", "side": "B", "px": "100.0", "sz": "0.1", "time": 1000 + i}
            tr |= {"hash": "0x0", "tid": i, "users": ["0xa", "0xb"]}
            fh.write(f"{T0 + i} {json.dumps({'channel': 'trades', 'data': [tr]})}\n")
    code, _, err = run_cli(["signals", "lead-lag", str(trades_only), str(trades_only)], capsys)
    assert code == 2 and "t.gz: fewer than two usable quotes" in err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.integers(-3, 3), min_size=2, max_size=40),
    gaps_ms=st.lists(st.integers(1, 5_000), min_size=40, max_size=40),
)
def test_book_mids_are_the_written_ones(steps: list[int], gaps_ms: list[int]) -> None:
    """Whatever path the book takes, the mids read back are the ones written, at the
    receive times written (an oracle computed here from the generated numbers)."""
    mids = 50_000.5 + np.cumsum(np.asarray(steps, dtype=np.float64))
    t = T0 + np.cumsum(np.asarray(gaps_ms[: len(steps)], dtype=np.int64)) * 1_000_000
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "hl.gz"
        with gzip.open(p, "wt") as fh:
            for ti, m in zip(t.tolist(), mids.tolist(), strict=True):
                lv = [[{"px": f"{m - 0.5:.0f}", "sz": "1", "n": 1}]]
                lv.append([{"px": f"{m + 0.5:.0f}", "sz": "1", "n": 1}])
                msg = {"channel": "l2Book", "data": {"coin": "BTC", "time": ti // 10**6}}
                msg["data"]["levels"] = lv  # type: ignore[index]
                fh.write(f"{ti} {json.dumps(msg)}\n")
        got = input_mids(p)
    np.testing.assert_array_equal(got.ts_ns, t)
    np.testing.assert_array_equal(got.mid, mids)


# -- the real captures --------------------------------------------------------------------


def _messages(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(receive ns, decoded JSON) of every line of a raw capture, read here without mmkit."""
    with gzip.open(path, "rt") as fh:
        for line in fh:
            head, _, body = line.partition(" ")
            yield int(head), json.loads(body)


def _hl_mids_by_hand(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(receive ns, mid) of every l2Book line."""
    rows = [
        (t, 0.5 * (float(m["data"]["levels"][0][0]["px"]) + float(m["data"]["levels"][1][0]["px"])))
        for t, m in _messages(path)
        if m.get("channel") == "l2Book"
    ]
    return np.asarray([t for t, _ in rows]), np.asarray([x for _, x in rows])


def test_real_hyperliquid_capture_mids(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "hyperliquid" / "btcusd_20250126.gz"
    ts, mids = _hl_mids_by_hand(src)
    got = input_mids(src)
    assert got.source == BOOK_SOURCE and got.ts_ns.size == ts.size == 46
    np.testing.assert_array_equal(got.ts_ns, ts)
    np.testing.assert_allclose(got.mid, mids, rtol=0, atol=1e-9)
    store = tmp_path / "hl.parquet"
    convert([src], store)
    np.testing.assert_array_equal(input_mids(store).mid, got.mid)


def test_real_hyperliquid_capture_as_follower(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real Hyperliquid capture follows a leader store that shows its own book 250 ms
    earlier (5 samples of 50 ms): the lead found is those 5 samples."""
    src = shared_data / "hyperliquid" / "btcusd_20250126.gz"
    ts, mids = _hl_mids_by_hand(src)
    lead_raw = tmp_path / "lead.gz"
    with gzip.open(lead_raw, "wt") as fh:
        for i, (t, m) in enumerate(zip(ts.tolist(), mids.tolist(), strict=True)):
            d = {"u": i + 1, "s": "BTCUSD", "b": f"{m - 0.5:.1f}", "B": "1.0"}
            d |= {"a": f"{m + 0.5:.1f}", "A": "1.0"}
            msg = {"stream": "btcusd@bookTicker", "data": d}
            fh.write(f"{t - 250_000_000} {json.dumps(msg)}\n")
    store = tmp_path / "lead.parquet"
    convert([lead_raw], store)
    args = ["signals", "lead-lag", str(store), str(src), "--interval", "0.05", "--max-lag", "8"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "lag 5 samples = 250 ms" in out, out
    assert "46 leader quotes / 46 follower book tops" in out


def _bn_ticker_mids_by_hand(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(receive ns, mid) of every bookTicker line with bid < ask, sorted by time."""
    rows = []
    for t, m in _messages(path):
        if str(m.get("stream", "")).endswith("@bookTicker"):
            b, a = float(m["data"]["b"]), float(m["data"]["a"])
            if 0 < b < a:
                rows.append((t, 0.5 * (b + a)))
    rows.sort(key=lambda r: r[0])
    return np.asarray([t for t, _ in rows]), np.asarray([x for _, x in rows])


@pytest.mark.slow
def test_real_binance_store_leader_matches_raw(shared_data: Path, tmp_path: Path) -> None:
    fut = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    spot = shared_data / "binance-spot" / "btcusdt_20240808.gz"
    ts, mids = _bn_ticker_mids_by_hand(fut)
    raw = input_mids(fut)
    assert raw.source == BBO_SOURCE
    np.testing.assert_array_equal(raw.ts_ns, ts)
    np.testing.assert_allclose(raw.mid, mids, rtol=0, atol=1e-9)
    store = tmp_path / "fut.parquet"
    convert([fut], store)
    a = capture_lead_lag(store, spot, interval_s=0.05, max_lag=10, n_permutations=199)
    b = capture_lead_lag(fut, spot, interval_s=0.05, max_lag=10, n_permutations=199)
    np.testing.assert_array_equal(a.result.corrs, b.result.corrs)
    assert a.result.lag == b.result.lag and 1 <= a.result.lag <= 10
