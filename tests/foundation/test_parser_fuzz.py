"""Every parser of outside input turns ANY input into records or its documented error.

Documented errors: ``VenueError`` (WS frames, /info and /exchange replies), ``SchemaError``
(emulator request bodies, answered as HTTP 422), ``DataError``/``MmkitError`` (loaders, event
store, journal reader), ``ConfigError`` (TOML, env vars, ``--set``). Anything else (a
RecursionError, OverflowError, zlib.error, BadZipFile, KeyError...) is a crash and fails.

Inputs: random bytes and text, random JSON-like structures (deep nesting, integers beyond
64 bits, non-finite and huge floats, wrong types, missing keys), and mutations of valid
samples (the canned venue replies of ``hl_canned`` and capture lines in the real captures'
formats, built here). Valid samples must still parse, and whatever is accepted must be
sane: integers within 64 bits, prices and sizes finite.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import math
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.data.helpers import bn_diff, bn_snapshot, bn_ticker, bn_trade, hl_book, hl_trades
from tests.venues.hyperliquid import hl_canned as canned

from mmkit import safejson
from mmkit.core.events import Event
from mmkit.data.loaders import make_loader
from mmkit.data.store import StoreMeta, iter_chunks, read_meta
from mmkit.errors import ConfigError, DataError, MmkitError, VenueError
from mmkit.runtime.journal import Journal, summarize
from mmkit.venues.emulator.schema import SchemaError, check_envelope
from mmkit.venues.hyperliquid import info as inf
from mmkit.venues.hyperliquid import replies, stream

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
I64 = 2**63

# --------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------

FIELD_NAMES = [
    "channel", "data", "coin", "px", "sz", "time", "oid", "tid", "side", "levels", "n",
    "fills", "isSnapshot", "bbo", "order", "status", "statusTimestamp", "limitPx", "origSz",
    "timestamp", "cloid", "fee", "crossed", "universe", "szDecimals", "maxLeverage", "name",
    "response", "type", "statuses", "resting", "filled", "error", "totalSz", "avgPx",
    "marginSummary", "accountValue", "withdrawable", "assetPositions", "position", "szi",
    "entryPx", "cumVlm", "nRequestsUsed", "nRequestsCap", "nonUserCancel", "stream",
]  # fmt: skip

bad_ints = st.sampled_from(
    [I64, -I64 - 1, 2**64, 10**40, -(10**30), 2**256 - 1, I64 - 1, -I64, 0, -1]
)
numbers = st.one_of(
    st.integers(),
    bad_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324]),
)
decimal_text = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-0", "0", "1_000", " 12 ", "0x10", "9" * 400]),
    st.decimals(allow_nan=False, allow_infinity=False, places=5).map(str),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    decimal_text,
    st.text(max_size=20),
    st.sampled_from(["B", "A", "BTC", "ETH", "ok", "err", "order", "l2Book", "trades"]),
)
json_like = st.recursive(
    scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), kids,
                        max_size=6),
    ),
    max_leaves=30,
)  # fmt: skip


def deep(depth: int, kind: str = "list") -> Any:
    """A structure nested ``depth`` levels (built without recursion)."""
    node: Any = 0
    for _ in range(depth):
        node = [node] if kind == "list" else {"data": node}
    return node


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def _paths(obj: Any) -> list[tuple[Any, ...]]:
    """Paths of the nodes of ``obj`` down to 12 levels (iterative: it may be very deep)."""
    out: list[tuple[Any, ...]] = []
    todo: list[tuple[Any, tuple[Any, ...]]] = [(obj, ())]
    while todo:
        node, prefix = todo.pop()
        out.append(prefix)
        if len(prefix) >= 12:
            continue
        if isinstance(node, dict):
            todo.extend((v, (*prefix, k)) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, (*prefix, i)) for i, v in enumerate(node))
    return sorted(out, key=repr)


@st.composite
def mutated(draw: st.DrawFn, sample: Any) -> Any:
    """``sample`` with 1-3 nodes replaced by random values, removed, or nested very deep."""
    obj = copy.deepcopy(sample)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(obj)
        path = draw(st.sampled_from(paths))
        if not path:
            return draw(json_like)
        parent = obj
        for p in path[:-1]:
            parent = parent[p]
        how = draw(st.sampled_from(["replace", "replace", "bad_int", "delete", "deep"]))
        key = path[-1]
        if how == "delete" and isinstance(parent, dict):
            del parent[key]
        elif how == "bad_int":
            parent[key] = draw(bad_ints)
        elif how == "deep":
            parent[key] = deep(draw(st.sampled_from([70, 2000, 50_000])))
        else:
            parent[key] = draw(json_like)
    return obj


def _dumps(obj: Any) -> str:
    """JSON text of ``obj`` as a hostile producer would write it (NaN, Infinity, huge ints).

    ``json.dumps`` itself recurses, so the very deep mutations are spliced in as text."""
    try:
        return json.dumps(obj)
    except RecursionError:
        return deep_text(60_000)


def finite_events(events: tuple[Event, ...] | list[Any]) -> None:
    """Whatever a parser accepted must be sane: no NaN/inf, integers within 64 bits."""
    for ev in events:
        for name in ("px", "sz", "bid_px", "bid_sz", "ask_px", "ask_sz", "fee", "orig_sz"):
            v = getattr(ev, name, None)
            if v is not None:
                assert np.all(np.isfinite(np.asarray(v, dtype=float))), (name, ev)
        for name in ("ts", "oid", "tid"):
            v = getattr(ev, name, None)
            if isinstance(v, int):
                assert -I64 <= v < I64, (name, ev)


# --------------------------------------------------------------------------------------
# the JSON decoder every parser uses
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        deep_text(100_000),
        deep_text(65),
        '{"a":' * 5000 + "1" + "}" * 5000,
        "9" * 400,
        '{"oid": ' + "9" * 400 + "}",
        '{"oid": 9223372036854775808}',
        '{"oid": -9223372036854775809}',
        '{"px": 1e400}',
        '{"px": NaN}',
        '{"px": -Infinity}',
        "\xff\xfe",
    ],
)
def test_safejson_refuses_cleanly(text: str) -> None:
    with pytest.raises(safejson.JsonRefused):
        safejson.loads(text)


def test_safejson_accepts_the_edges() -> None:
    obj = safejson.loads('{"a": 9223372036854775807, "b": -9223372036854775808, "c": [1.5]}')
    assert obj == {"a": I64 - 1, "b": -I64, "c": [1.5]}
    assert safejson.loads(deep_text(64)) is not None  # exactly the limit


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_safejson_random_input(raw: bytes | str) -> None:
    with contextlib.suppress(safejson.JsonRefused):
        safejson.loads(raw)


# --------------------------------------------------------------------------------------
# WebSocket frames (all channels)
# --------------------------------------------------------------------------------------


def _fill(tid: int = 7) -> dict[str, Any]:
    return {
        "coin": "BTC", "px": "100.5", "sz": "0.01", "side": "B", "time": 1754450974231,
        "startPosition": "0.0", "dir": "Open Long", "closedPnl": "0.0", "hash": "0x0",
        "oid": 42, "crossed": False, "fee": "0.001", "tid": tid, "feeToken": "USDC",
        "cloid": canned.CLOID1,
    }  # fmt: skip


WS_SAMPLES: list[dict[str, Any]] = [
    {"channel": "l2Book", "data": canned.L2BOOK},
    {"channel": "trades", "data": hl_trades(1754450974231)["data"]},
    {
        "channel": "bbo",
        "data": {
            "coin": "BTC",
            "time": 1754450974231,
            "bbo": [{"px": "100.0", "sz": "1", "n": 1}, {"px": "101.0", "sz": "2", "n": 1}],
        },
    },
    {"channel": "orderUpdates", "data": [canned.ORDER_STATUS["order"]]},
    {"channel": "userFills", "data": {"isSnapshot": True, "user": canned.USER, "fills": [_fill()]}},
    {"channel": "user", "data": {"fills": [_fill(8)]}},
    {"channel": "user", "data": {"nonUserCancel": [{"coin": "BTC", "oid": 42}]}},
    {"channel": "error", "data": "Invalid subscription"},
    {"channel": "pong"},
]


def test_ws_samples_parse() -> None:
    counts = [len(stream.parse_ws_text(json.dumps(s), "BTC", 5).events) for s in WS_SAMPLES]
    assert counts == [1, 1, 1, 1, 1, 1, 0, 0, 0]


def _ws(text: str) -> None:
    try:
        msg = stream.parse_ws_text(text, "BTC", 1)
    except VenueError as exc:
        assert "websocket" in str(exc)  # names where
        return
    finite_events(msg.events)


@FUZZ
@given(st.sampled_from(WS_SAMPLES).flatmap(mutated))
def test_ws_mutated_frames(obj: Any) -> None:
    _ws(_dumps(obj))


@FUZZ
@given(st.sampled_from([s["channel"] for s in WS_SAMPLES]), json_like)
def test_ws_random_data_every_channel(channel: str, data: Any) -> None:
    _ws(_dumps({"channel": channel, "data": data}))


@FUZZ
@given(st.text(max_size=300))
def test_ws_random_text(text: str) -> None:
    _ws(text)


@pytest.mark.parametrize(
    "frame",
    [
        deep_text(100_000),
        '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"1","sz":"1",'
        '"time":1,"tid":' + "9" * 400 + "}]}",
        '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"1","sz":"1",'
        '"time":1,"tid":18446744073709551615}]}',
        '{"channel":"user","data":{"fills":[' + json.dumps({**_fill(), "oid": 2**63}) + "]}}",
        json.dumps({"channel": "l2Book", "data": {**canned.L2BOOK, "time": 2**62}}),
        '{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":1e400,"sz":"1"}],[]]}}',
        '{"channel":"bbo","data":{"coin":"BTC","time":1,"bbo":[{"px":"NaN","sz":"1"},'
        '{"px":"2","sz":"1"}]}}',
        '{"channel":"error","data":' + deep_text(10_000) + "}",
    ],
)
def test_ws_hostile_frames_are_venue_errors(frame: str) -> None:
    """Measured crashes before this work: RecursionError, OverflowError later in the
    journal, an OverflowError converting a 400-digit number. Now: a VenueError."""
    with pytest.raises(VenueError, match="websocket"):
        stream.parse_ws_text(frame, "BTC")


def test_ws_obj_refuses_deep_structures() -> None:
    with pytest.raises(VenueError):
        stream.parse_ws_obj({"channel": "error", "data": deep(5000, "dict")}, "BTC")


# --------------------------------------------------------------------------------------
# /info replies: every parse_* function
# --------------------------------------------------------------------------------------

INFO_PARSERS: list[tuple[str, Callable[[Any], Any], Any]] = [
    ("meta", inf.parse_meta, canned.META),
    ("l2Book", inf.parse_l2_book, canned.L2BOOK),
    ("clearinghouseState", lambda o: inf.parse_clearinghouse_state(o, "ETH"), canned.CLEARINGHOUSE),
    ("openOrders", inf.parse_open_orders, canned.OPEN_ORDERS),
    ("userFills", inf.parse_user_fills, [_fill(1), _fill(2)]),
    ("orderStatus", inf.parse_order_status, canned.ORDER_STATUS),
    ("userRateLimit", inf.parse_user_rate_limit, canned.RATE_LIMIT),
]


@pytest.mark.parametrize("name,parse,sample", INFO_PARSERS, ids=[p[0] for p in INFO_PARSERS])
def test_info_samples_parse(name: str, parse: Callable[[Any], Any], sample: Any) -> None:
    assert parse(copy.deepcopy(sample)) is not None


def _info(parse: Callable[[Any], Any], obj: Any) -> None:
    try:
        out = parse(obj)
    except VenueError:
        return
    items = out if isinstance(out, list) else [out]
    finite_events([getattr(x, "order", x) for x in items])


@FUZZ
@given(st.data())
def test_info_mutated_replies(data: st.DataObject) -> None:
    _name, parse, sample = data.draw(st.sampled_from(INFO_PARSERS))
    _info(parse, data.draw(mutated(sample)))


@FUZZ
@given(st.sampled_from(INFO_PARSERS), json_like)
def test_info_random_replies(entry: tuple[str, Any, Any], obj: Any) -> None:
    _info(entry[1], obj)


def test_info_deep_and_huge() -> None:
    for _, parse, _sample in INFO_PARSERS:
        for obj in (deep(50_000), deep(50_000, "dict")):
            _info(parse, obj)
    with pytest.raises(VenueError, match="64-bit"):
        inf.parse_open_orders([{**canned.OPEN_ORDERS[0], "oid": 2**64}])
    with pytest.raises(VenueError, match="not a number"):
        inf.parse_l2_book({**canned.L2BOOK, "levels": [[{"px": 10**400, "sz": "1"}], []]})


# --------------------------------------------------------------------------------------
# /exchange replies
# --------------------------------------------------------------------------------------

EXCHANGE_SAMPLES: list[Any] = [
    canned.DEFAULT_OK,
    {
        "status": "ok",
        "response": {
            "type": "order",
            "data": {
                "statuses": [
                    {"resting": {"oid": 77, "cloid": canned.CLOID1}},
                    {"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 78}},
                    {"error": "Order must have minimum value of $10."},
                    "success",
                ]
            },
        },
    },
    {"status": "err", "response": "User or API Wallet 0x00 does not exist."},
]


def test_exchange_samples_parse() -> None:
    kinds = [replies.parse_exchange_http(200, json.dumps(s)).kind for s in EXCHANGE_SAMPLES]
    assert kinds == ["default", "order", "err"]


def _exchange(status: int, text: str) -> None:
    try:
        reply = replies.parse_exchange_http(status, text, retry_after=text[:10])
    except VenueError as exc:
        assert status == 200 and "exchange" in str(exc)
        return
    for s in reply.statuses:
        assert math.isfinite(s.total_sz) and math.isfinite(s.avg_px)
        assert s.oid is None or -I64 <= s.oid < I64


@FUZZ
@given(st.sampled_from(EXCHANGE_SAMPLES).flatmap(mutated))
def test_exchange_mutated_replies(obj: Any) -> None:
    _exchange(200, _dumps(obj))


@FUZZ
@given(st.sampled_from([200, 200, 422, 429, 500, 503, 404]), st.text(max_size=200) | json_like)
def test_exchange_random_replies(status: int, body: Any) -> None:
    _exchange(status, body if isinstance(body, str) else _dumps(body))


# --------------------------------------------------------------------------------------
# the emulator's request parsing
# --------------------------------------------------------------------------------------

ENVELOPE: dict[str, Any] = {
    "action": {
        "type": "order",
        "orders": [
            {"a": 0, "b": True, "p": "100", "s": "0.01", "r": False,
             "t": {"limit": {"tif": "Alo"}}, "c": canned.CLOID1}
        ],
        "grouping": "na",
    },
    "nonce": 1754450974231,
    "signature": {"r": "0x1", "s": "0x2", "v": 27},
    "vaultAddress": None,
}  # fmt: skip


def test_envelope_sample_passes() -> None:
    assert check_envelope(copy.deepcopy(ENVELOPE))["nonce"] == ENVELOPE["nonce"]


@FUZZ
@given(mutated(ENVELOPE) | json_like)
def test_emulator_envelope_never_crashes(body: Any) -> None:
    try:
        check_envelope(body)
    except SchemaError as exc:
        assert str(exc).startswith("Failed to deserialize the JSON body into the target type")


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, 2**200])
def test_emulator_refuses_integers_beyond_64_bits(bad: int) -> None:
    body = copy.deepcopy(ENVELOPE)
    body["action"]["orders"][0]["a"] = bad
    with pytest.raises(SchemaError, match="64 bits"):
        check_envelope(body)
    with pytest.raises(SchemaError, match="64 bits"):
        check_envelope({**ENVELOPE, "nonce": bad})


def test_emulator_refuses_deep_bodies() -> None:
    with pytest.raises(SchemaError, match="nested"):
        check_envelope({**ENVELOPE, "signature": deep(5000, "dict")})


# --------------------------------------------------------------------------------------
# data loaders (+ gzip / zip / lz4 wrappers)
# --------------------------------------------------------------------------------------

HL_LINES: list[Any] = [
    hl_book(1737918843893, [("105055.0", "3.03622"), ("105054.0", "0.1428")],
            [("105056.0", "6.34472"), ("105057.0", "0.0001")]),
    hl_trades(1737918843900, "A", "105055.0", "0.001", 5),
    {"channel": "subscriptionResponse", "data": {"method": "subscribe"}},
]  # fmt: skip
BN_LINES: list[Any] = [
    bn_snapshot(100, [("61800.20", "2.5"), ("61800.10", "1.0")], [("61800.30", "2.5")]),
    bn_diff(99, 101, 99, b=[("61800.20", "2.0")], a=[("61800.40", "1.0")]),
    bn_ticker(101, "61800.20", "61800.30"),
    bn_trade(5266583935, "61800.30", "0.006", False),
    bn_diff(102, 103, 101, b=[("61800.00", "0.0")]),
]
ARCHIVE_LINES: list[Any] = [
    {"time": "2024-08-05T00:00:05.402514755", "ver_num": 1, "raw": HL_LINES[0]},
]


def _capture_text(objs: list[Any], t0: int = 1_737_918_843_893_903_000) -> str:
    return "".join(f"{t0 + i * 1000} {_dumps(o)}\n" for i, o in enumerate(objs))


def _archive_text(objs: list[Any]) -> str:
    return "".join(_dumps(o) + "\n" for o in objs)


def _load(path: Path, fmt: str) -> None:
    """Run a loader to the end: records, or a DataError naming the file."""
    try:
        loader = make_loader(fmt, [path])
        for chunk in loader.chunks():
            for col in ("px", "sz"):
                vals = chunk[col][chunk["kind"] != 0]  # gap rows carry NaN by design
                assert not np.any(np.isinf(vals)), col
    except DataError as exc:
        assert str(path) in str(exc) or path.name in str(exc) or "no input" not in str(exc)


def test_loader_samples_parse(tmp_path: Path) -> None:
    for fmt, text in (
        ("hyperliquid", _capture_text(HL_LINES)),
        ("binance", _capture_text(BN_LINES)),
        ("hyperliquid_archive", _archive_text(ARCHIVE_LINES)),
    ):
        p = tmp_path / f"{fmt}.gz"
        p.write_bytes(gzip.compress(text.encode()))
        rows = sum(len(c["ts"]) for c in make_loader(fmt, [p]).chunks())
        assert rows > 0, fmt


LOADER_CASES = [
    ("hyperliquid", HL_LINES, _capture_text),
    ("binance", BN_LINES, _capture_text),
    ("hyperliquid_archive", ARCHIVE_LINES, _archive_text),
]


@FUZZ
@given(st.data())
def test_loaders_mutated_lines(tmp_path: Path, data: st.DataObject) -> None:
    fmt, lines, render = data.draw(st.sampled_from(LOADER_CASES))
    objs = [data.draw(mutated(o)) if data.draw(st.booleans()) else o for o in lines]
    p = tmp_path / f"m.{fmt}"
    p.write_text(render(objs))
    _load(p, fmt)


@FUZZ
@given(st.data())
def test_loaders_random_bytes_and_corrupt_compression(tmp_path: Path, data: st.DataObject) -> None:
    fmt, lines, render = data.draw(st.sampled_from(LOADER_CASES))
    raw = render(lines).encode()
    how = data.draw(st.sampled_from(["bytes", "gzip_flip", "gzip_cut", "lz4_flip", "plain_flip"]))
    if how == "bytes":
        blob = data.draw(st.binary(max_size=300))
    elif how.startswith("gzip"):
        blob = gzip.compress(raw)
    elif how == "lz4_flip":
        import lz4.frame

        blob = lz4.frame.compress(raw)
    else:
        blob = raw
    if how.endswith("flip") and len(blob) > 4:
        i = data.draw(st.integers(4, len(blob) - 1))
        blob = blob[:i] + bytes([blob[i] ^ data.draw(st.integers(1, 255))]) + blob[i + 1 :]
    elif how.endswith("cut"):
        blob = blob[: data.draw(st.integers(2, len(blob)))]
    p = tmp_path / f"c.{fmt}"
    p.write_bytes(blob)
    _load(p, data.draw(st.sampled_from([fmt, "auto"])))


def _lobster_zip(path: Path, msg: str, book: str) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("TEST_2012-06-21_34200000_57600000_message_1.csv", msg)
        zf.writestr("TEST_2012-06-21_34200000_57600000_orderbook_1.csv", book)
    return path


LOB_MSG = "34200.004241176,1,16113575,18,5853300,1\n34200.025552,1,16120456,18,5859100,-1\n"
LOB_BOOK = "5859400,200,5853300,18\n5859100,18,5853300,18\n"


def test_lobster_bad_crc_is_a_data_error(tmp_path: Path) -> None:
    """Measured before this work: zipfile.BadZipFile escaped the loader."""
    z = _lobster_zip(tmp_path / "TEST_2012-06-21_1_2_1.zip", LOB_MSG * 200, LOB_BOOK * 200)
    blob = bytearray(z.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(blob))).infolist()[0]
    at = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    blob[at] ^= 0xFF
    z.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"message_1\.csv"):
        list(make_loader("lobster", [z]).chunks())


@FUZZ
@given(st.data())
def test_lobster_mutated_rows(tmp_path: Path, data: st.DataObject) -> None:
    cell = st.one_of(
        st.sampled_from(["9" * 30, "-9" * 20, "", "1e9", "NaN", "34200.1", "0", "-1"]),
        st.integers(-(2**70), 2**70).map(str),
        st.text(max_size=6),
    )
    rows = [r.split(",") for r in (LOB_MSG + LOB_MSG).splitlines()]
    brows = [r.split(",") for r in (LOB_BOOK + LOB_BOOK).splitlines()]
    for _ in range(data.draw(st.integers(1, 4))):
        table = data.draw(st.sampled_from([rows, brows]))
        r = data.draw(st.integers(0, len(table) - 1))
        table[r][data.draw(st.integers(0, len(table[r]) - 1))] = data.draw(cell)
    z = _lobster_zip(
        tmp_path / "TEST_2012-06-21_1_2_1.zip",
        "\n".join(",".join(r) for r in rows),
        "\n".join(",".join(r) for r in brows),
    )
    _load(z, "lobster")


# --------------------------------------------------------------------------------------
# the event store (Parquet) and the journal reader
# --------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=400))
def test_store_random_bytes(tmp_path: Path, blob: bytes) -> None:
    p = tmp_path / "s.parquet"
    p.write_bytes(b"PAR1" + blob + b"PAR1")
    with pytest.raises(DataError):
        read_meta(p)
        list(iter_chunks(p))


@FUZZ
@given(json_like | st.just(deep(5000, "dict")))
def test_store_metadata_random_json(obj: Any) -> None:
    try:
        StoreMeta.from_json(_dumps(obj), "x.parquet")
    except DataError as exc:
        assert "x.parquet" in str(exc)


def test_store_metadata_deep_json() -> None:
    with pytest.raises(DataError, match=r"x\.parquet"):
        StoreMeta.from_json(deep_text(100_000), "x.parquet")


@FUZZ
@given(st.binary(max_size=300))
def test_journal_reader_random_files(tmp_path: Path, blob: bytes) -> None:
    p = tmp_path / "run.sqlite"
    p.write_bytes(blob)
    try:
        summarize(p)
    except MmkitError as exc:
        assert str(p) in str(exc)


def test_journal_reader_partial_schema(tmp_path: Path) -> None:
    p = tmp_path / "run.sqlite"
    db = sqlite3.connect(p)
    db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    db.commit()
    db.close()
    with pytest.raises(MmkitError, match="not a readable mmkit journal"):
        summarize(p)


def test_journal_never_overflows_on_huge_integers(tmp_path: Path) -> None:
    """Before: sqlite3 OverflowError on an id >= 2**63 ended the process (exit 70)."""
    from mmkit.core.events import OwnFill
    from mmkit.core.types import Side

    j = Journal(tmp_path / "j.sqlite")
    fill = OwnFill(1, 2**63, None, Side.BUY, 1.0, 1.0, tid=2**64)
    assert j.fill(fill)
    j.fault(2**70, "x", "y")
    j.close()
    assert summarize(tmp_path / "j.sqlite").counts["fills"] == 1


# --------------------------------------------------------------------------------------
# the config loader (TOML, env vars, --set)
# --------------------------------------------------------------------------------------


def _registry() -> Any:
    from mmkit.plugin_manager import get_host

    return get_host().registry


toml_values = st.one_of(
    st.sampled_from(['"x"', "1", "-1", "1.5", "nan", "inf", "true", "[1, 2]", "{a = 1}",
                     "9" * 30, "0x" + "f" * 64, '"' + "a" * 64 + '"', "[" * 3000 + "]" * 3000]),
    st.text(max_size=20),
)  # fmt: skip
config_keys = st.sampled_from(
    ["venue.url", "venue.account", "venue.key_env", "risk.max_position", "engine.seed",
     "trade.metrics_port", "instrument.tick", "components.quoter", "x.y", "venue", "a.b.c.d"]
)  # fmt: skip


@FUZZ
@given(st.lists(st.tuples(config_keys, toml_values), max_size=4), st.text(max_size=120))
def test_config_loader_random_input(
    tmp_path: Path, pairs: list[tuple[str, str]], junk: str
) -> None:
    reg = _registry()
    sets = [f"{k}={v}" for k, v in pairs]
    env = {f"MMKIT__{k.replace('.', '__').upper()}": v for k, v in pairs}
    text = "\n".join(f"{k} = {v}" for k, v in pairs) + "\n" + junk
    p = tmp_path / "c.toml"
    p.write_bytes(text.encode("utf-8", "replace"))
    cases: list[tuple[Path | None, dict[str, Any]]] = [
        (None, {"sets": sets, "env": {}}),  # --set
        (None, {"env": env}),  # MMKIT__SECTION__KEY variables
        (p, {"env": {}}),  # a TOML file
    ]
    for path, kwargs in cases:
        with contextlib.suppress(ConfigError):
            load_settings_any(path, reg, **kwargs)


def load_settings_any(path: Path | None, reg: Any, **kwargs: Any) -> Any:
    from mmkit.config.loader import load_settings

    return load_settings(path, reg, **kwargs)


@pytest.mark.parametrize(
    "setting", ["engine.seed=9223372036854775808", "trade.metrics_port=" + "9" * 400]
)
def test_config_integers_beyond_64_bits(setting: str) -> None:
    with pytest.raises(ConfigError, match="64-bit"):
        load_settings_any(None, _registry(), sets=[setting], env={})


# --------------------------------------------------------------------------------------
# the CLI on corrupt files: exit 2, one line, no traceback
# --------------------------------------------------------------------------------------


def _corrupt_files(tmp_path: Path) -> dict[str, Path]:
    gz = tmp_path / "capture.gz"
    gz.write_bytes(gzip.compress(_capture_text(HL_LINES).encode())[:15] + b"\x00" * 40)
    deepf = tmp_path / "deep.txt"
    deepf.write_text("1 " + deep_text(100_000) + "\n")
    lob = _lobster_zip(tmp_path / "TEST_2012-06-21_1_2_1.zip", LOB_MSG * 200, LOB_BOOK * 200)
    blob = bytearray(lob.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(blob))).infolist()[0]
    blob[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    lob.write_bytes(bytes(blob))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x07" * 200)
    toml = tmp_path / "bad.toml"
    toml.write_text("[venue]\nurl = " + "[" * 5000 + "\n")
    return {"gz": gz, "deep": deepf, "lob": lob, "journal": junk, "toml": toml}


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "info", "{gz}"],
        ["data", "convert", "{gz}", "{out}"],
        ["data", "convert", "{deep}", "--format", "hyperliquid", "{out}"],
        ["data", "info", "{lob}"],
        ["data", "convert", "{lob}", "{out}"],
        ["journal", "show", "{journal}"],
        ["config", "validate", "{toml}"],
    ],
)
def test_cli_on_corrupt_files(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from mmkit.cli.main import main

    files = {k: str(v) for k, v in _corrupt_files(tmp_path).items()}
    args = [a.format(out=str(tmp_path / "out.parquet"), **files) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code in (0, 2), err
    assert "Traceback" not in err and "internal error" not in err
    if exit_info.value.code == 2:
        assert err.startswith("error: ")
        assert len(err.strip().splitlines()) <= 3, err  # config lists one problem per line
