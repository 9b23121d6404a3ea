"""Property tests: whatever bytes a loader is fed, it gives records or a clear DataError."""

from __future__ import annotations

import gzip
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.data.loaders import LOADERS, make_loader
from mmkit.data.schema import COLUMN_NAMES, chunk_len
from mmkit.errors import DataError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["100.5", "0", "1e400", "-1", "B", "A", "nan"]),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "px",
                    "sz",
                    "n",
                    "time",
                    "levels",
                    "side",
                    "tid",
                    "coin",
                    "U",
                    "u",
                    "pu",
                    "b",
                    "a",
                    "B",
                    "A",
                    "m",
                    "t",
                    "p",
                    "q",
                    "E",
                    "T",
                    "lastUpdateId",
                    "bids",
                    "asks",
                    "data",
                    "channel",
                    "stream",
                    "raw",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)
envelope = st.one_of(
    st.fixed_dictionaries(
        {"channel": st.sampled_from(["l2Book", "trades", "pong", "x"]), "data": json_value}
    ),
    st.fixed_dictionaries(
        {
            "stream": st.sampled_from(
                ["btcusdt@depth@0ms", "btcusdt@trade", "btcusdt@bookTicker", "x@y"]
            ),
            "data": json_value,
        }
    ),
    st.fixed_dictionaries({"lastUpdateId": json_value, "bids": json_value, "asks": json_value}),
    st.fixed_dictionaries(
        {"time": st.sampled_from(["2024-08-05T00:00:05.1", "x", "2024"]), "raw": json_value}
    ),
)


def _drain(fmt: str, paths: list[Path]) -> None:
    try:
        loader = make_loader(fmt, paths)
        for chunk in loader.chunks():
            assert set(chunk) == set(COLUMN_NAMES)
            n = chunk_len(chunk)
            assert all(len(v) == n for v in chunk.values())
        loader.meta()
    except DataError as exc:
        assert str(exc)  # a message for the user


def _file(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


@SETTINGS
@given(data=st.binary(max_size=2000), gz=st.booleans(), fmt=st.sampled_from(sorted(LOADERS)))
def test_any_bytes(data: bytes, gz: bool, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        body = gzip.compress(data) if gz else data
        if fmt == "lobster":
            _drain(
                fmt,
                [_file(tmp, "X_message_1.csv", data), _file(tmp, "X_orderbook_1.csv", data[::-1])],
            )
            _drain(fmt, [_file(tmp, "X.zip", data)])
        else:
            _drain(fmt, [_file(tmp, "in.gz", body)])


@SETTINGS
@given(
    lines=st.lists(st.tuples(st.integers(-5, 2**63), envelope), max_size=12),
    fmt=st.sampled_from(["binance", "hyperliquid", "hyperliquid_archive"]),
)
def test_any_json_lines(lines: list[tuple[int, Any]], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if fmt == "hyperliquid_archive":
            text = "".join(json.dumps(obj) + "\n" for _, obj in lines)
        else:
            text = "".join(f"{ts} {json.dumps(obj)}\n" for ts, obj in lines)
        _drain(fmt, [_file(tmp, "in", text.encode())])


csv_cell = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["34200.5", "1", "-1", "7", "9999999999", "-9999999999", "", "x", "1.5"]),
)


@SETTINGS
@given(
    msgs=st.lists(st.lists(csv_cell, min_size=5, max_size=7), max_size=8),
    books=st.lists(st.lists(csv_cell, min_size=3, max_size=9), max_size=9),
)
def test_lobster_any_csv(msgs: list[list[str]], books: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        z = tmp / "T_2012-01-02_1_2_1.zip"
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("T_message_1.csv", "".join(",".join(r) + "\n" for r in msgs))
            zf.writestr("T_orderbook_1.csv", "".join(",".join(r) + "\n" for r in books))
        _drain("lobster", [z])
