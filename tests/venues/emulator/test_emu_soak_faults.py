"""The emulator faults the fault soak needs: ``http_timeout`` (before/after applying),
``bad_frame``, the order-arrival log, and ``stale_book`` as a book-only stall (trades keep
flowing). In-process emulator, real loopback sockets; plus hypothesis over the fault parameter
checker and the soak's pure judging functions."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.errors import ConfigError
from mmkit.testing.soak import fill_diff, gated_arrivals, halt_windows, worst_overfill
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.faults import CATALOGUE, MAX_HANG_S, check_fault
from mmkit.venues.emulator.hub import BAD_FRAMES
from mmkit.venues.emulator.server import Emulator, arrival_of
from mmkit.venues.hyperliquid import wire
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.signing import signed_envelope

KEY = SigningKey.from_hex("0x" + "42" * 32)
ME = KEY.address.lower()


def _order(px: str) -> Any:
    w = wire.order_wire(0, True, px, "0.001", False, wire.limit_type("Alo"), None)
    return wire.order_action([w])


async def _with_emulator(body: Any, **kw: Any) -> None:
    cfg = EmulatorConfig(accounts=(ME,), speed=kw.pop("speed", 1.0), **kw)
    async with Emulator(cfg) as emu, aiohttp.ClientSession() as http:
        await body(emu, http)


async def _ctl(emu: Emulator, http: aiohttp.ClientSession, cmd: Any) -> Any:
    async with http.post(emu.url + "/_control", json=cmd) as r:
        return r.status, await r.json()


def _bid(emu: Emulator) -> int:
    book = emu.market.book
    assert book is not None
    return int(book.bid_px[0])


@pytest.mark.network
@pytest.mark.parametrize("when", ["before", "after"])
def test_http_timeout_hangs_past_the_client_timeout(when: str) -> None:
    """The client gives up (its timeout is shorter than the hang); with ``before`` the order
    never reaches the exchange, with ``after`` it rests although no reply was seen."""

    async def body(emu: Emulator, http: aiohttp.ClientSession) -> None:
        status, _ = await _ctl(
            emu, http, {"fault": "http_timeout", "duration": 5, "when": when, "hang_s": 1.0}
        )
        assert status == 200
        nonce = int(time.time() * 1000)
        env = signed_envelope(KEY, _order(str(_bid(emu) - 300)), nonce, None, None, False)
        with pytest.raises(TimeoutError):
            async with http.post(
                emu.url + "/exchange", json=env, timeout=aiohttp.ClientTimeout(total=0.3)
            ) as r:
                await r.read()
        await asyncio.sleep(1.0)  # the hang ends on the server's side
        resting = emu.book.get(ME)
        n_open = len(resting.open_orders()) if resting is not None else 0
        assert n_open == (1 if when == "after" else 0)
        (entry,) = emu.arrival_log()
        assert entry["nonce"] == nonce and entry["type"] == "order" and entry["orders"] == 1
        assert entry["handled"] is (when == "after")
        assert entry["signer"] == (ME if when == "after" else None)
        # a cleared fault answers at once again
        await _ctl(emu, http, {"clear": "http_timeout"})
        async with http.post(emu.url + "/info", json={"type": "meta"}) as r:
            assert r.status == 200

    asyncio.run(_with_emulator(body))


@pytest.mark.network
def test_bad_frame_reaches_every_socket_once_and_trades_keep_flowing_in_stale_book() -> None:
    async def body(emu: Emulator, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(emu.url + "/ws") as ws:
            await ws.receive_str()  # greeting
            for sub in ({"type": "trades", "coin": "BTC"}, {"type": "l2Book", "coin": "BTC"}):
                await ws.send_json({"method": "subscribe", "subscription": sub})
            _, reply = await _ctl(emu, http, {"fault": "bad_frame"})
            assert reply["response"]["sent_to"] == 1
            _, reply = await _ctl(emu, http, {"fault": "stale_book", "duration": 3})
            seen: list[str] = []
            books: list[Any] = []
            trades = 0
            deadline = asyncio.get_running_loop().time() + 2.5
            while asyncio.get_running_loop().time() < deadline and trades < 3:
                try:
                    text = await ws.receive_str(timeout=0.5)
                except TimeoutError:
                    continue
                seen.append(text)
                try:
                    msg = json.loads(text)
                except ValueError:
                    continue
                if msg.get("channel") == "trades" and text not in BAD_FRAMES:
                    trades += 1
                elif msg.get("channel") == "l2Book" and text not in BAD_FRAMES:
                    books.append(msg["data"]["levels"])
        for bad in BAD_FRAMES:
            assert seen.count(bad) == 1
        assert trades >= 3, "stale_book must keep the trades channel flowing"
        assert all(b == books[0] for b in books), "the book must stay frozen"

    asyncio.run(_with_emulator(body, speed=20.0))


@pytest.mark.network
def test_arrival_log_control_command() -> None:
    async def body(emu: Emulator, http: aiohttp.ClientSession) -> None:
        nonce = int(time.time() * 1000)
        env = signed_envelope(KEY, _order(str(_bid(emu) - 300)), nonce, None, None, False)
        async with http.post(emu.url + "/exchange", json=env) as r:
            assert r.status == 200
        async with http.post(emu.url + "/exchange", data=b"{not json") as r:
            assert r.status == 422
        status, reply = await _ctl(emu, http, {"log": True})
        assert status == 200
        first, second = reply["response"]["arrivals"]
        assert first["nonce"] == nonce and first["signer"] == ME and first["status"] == 200
        # applied: on the venue clock, no earlier than its arrival; an order names no target
        assert first["wall_ms"] <= first["venue_ms"] <= first["venue_done_ms"]
        assert first["targets"] == []
        assert second["type"] is None and second["status"] == 422
        assert second["venue_ms"] is None  # never applied
        _, reply = await _ctl(emu, http, {"log": {"since": first["seq"]}})
        assert [e["seq"] for e in reply["response"]["arrivals"]] == [second["seq"]]
        status, reply = await _ctl(emu, http, {"log": {"since": -1}})
        assert status == 400 and "log takes" in reply["response"]

    asyncio.run(_with_emulator(body))


# ------------------------------------------------------------------ hypothesis: parsers
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=10,
)


@given(name=st.sampled_from(sorted(CATALOGUE)), params=st.dictionaries(st.text(max_size=8), _json))
def test_check_fault_accepts_or_names_the_problem(name: str, params: dict[str, Any]) -> None:
    try:
        out = check_fault(name, params, "here")
    except ConfigError as exc:
        assert "here" in str(exc)
        return
    for v in out.values():  # what passes is finite and bounded
        if isinstance(v, float):
            assert math.isfinite(v)
    if "hang_s" in out:
        assert 0 < out["hang_s"] <= MAX_HANG_S
    if "when" in out:
        assert out["when"] in ("before", "after")


@given(hang=st.floats(allow_nan=True, allow_infinity=True))
def test_http_timeout_hang_is_bounded(hang: float) -> None:
    try:
        out = check_fault("http_timeout", {"hang_s": hang}, "x")
    except ConfigError:
        assert not 0 < hang <= MAX_HANG_S
    else:
        assert 0 < out["hang_s"] <= MAX_HANG_S


@given(body=_json)
def test_arrival_of_any_body(body: Any) -> None:
    e = arrival_of(body, "rest", 1.0, 2)
    assert e["nonce"] is None or isinstance(e["nonce"], int)
    assert min(e["orders"], e["modifies"], e["cancels"]) >= 0
    assert all(isinstance(t, int | str) and not isinstance(t, bool) for t in e["targets"])
    json.dumps(e)


def test_arrival_of_names_the_targets() -> None:
    mods = [{"oid": 7, "order": {}}, {"oid": "0xAB", "order": {}}, {"oid": True}, "junk"]
    e = arrival_of({"action": {"type": "batchModify", "modifies": mods}}, "ws", 0.0, 1)
    assert e["targets"] == [7, "0xab"] and e["modifies"] == 4
    e = arrival_of({"action": {"type": "cancel", "cancels": [{"a": 0, "o": 3}]}}, "rest", 0, 1)
    assert e["targets"] == [3]
    e = arrival_of({"action": {"type": "modify", "oid": 9}}, "rest", 0.0, 1)
    assert e["targets"] == [9] and e["venue_ms"] is None


# ------------------------------------------------------------------ hypothesis: soak judges
_ms = st.integers(min_value=1_700_000_000_000, max_value=1_700_000_100_000)


@given(t0=_ms, length=st.integers(3, 10_000), nonce=_ms)
def test_gated_arrivals_counts_exactly_the_nonces_inside(t0: int, length: int, nonce: int) -> None:
    windows = [(t0 * 10**6, (t0 + length) * 10**6, "data_quality", "NoData")]
    arrivals = [{"type": "order", "nonce": nonce}, {"type": "cancel", "nonce": nonce}]
    hit = gated_arrivals(arrivals, windows)
    inside = t0 + 1 < nonce < t0 + length - 1
    assert hit == ([(nonce, "order", "data_quality")] if inside else [])


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["closed", "opened"]))))
def test_halt_windows_are_ordered_and_inside_the_run(events: list[tuple[str, str]]) -> None:
    rows = [(i * 10, g, s, "r", "halt" if s == "closed" else "") for i, (g, s) in enumerate(events)]
    end = 10 * len(events) + 10
    windows = halt_windows(rows, end)
    for t0, t1, gate, _ in windows:
        assert t0 < t1 <= end and gate in ("a", "b")
    # a gate closed and never reopened stays closed to the end
    last = {g: s for _, g, s, _, _ in rows}
    for g, s in last.items():
        if s == "closed":
            assert any(w[2] == g and w[1] == end for w in windows)


@given(
    sizes=st.lists(st.integers(1, 100), min_size=1, max_size=6),
    extra=st.integers(0, 50),
)
def test_worst_overfill_sees_a_level_filled_past_its_size(sizes: list[int], extra: int) -> None:
    orders = [{"cloid": "c", "oid": i, "origSz": str(s)} for i, s in enumerate(sizes)]
    fills = [{"cloid": "c", "oid": 0, "sz": str(max(sizes) + extra)}]
    ratio, which = worst_overfill(fills, orders)
    assert which == "c"
    assert (ratio > 1.0) == (extra > 0)


@given(tids=st.lists(st.integers(1, 30), max_size=20), drop=st.integers(0, 30))
def test_fill_diff_finds_lost_and_doubled(tids: list[int], drop: int) -> None:
    venue = [{"tid": t} for t in sorted(set(tids))]
    journal = [(t, 1.0) for t in tids if t != drop]
    lost, doubled = fill_diff(venue, journal)
    assert lost == ([drop] if drop in tids else [])
    assert doubled == sorted({t for t in tids if t != drop and tids.count(t) > 1})


@settings(max_examples=20)
@given(st.integers(0, 5))
def test_a_deliberately_broken_judge_is_caught(shift: int) -> None:
    """The gated-order check is not vacuous: a judge that ignores the windows passes
    everything, this one does not."""
    windows = [(10**15, 2 * 10**15, "g", "r")]
    arrivals = [{"type": "order", "nonce": 10**9 + 2 + shift}]
    assert gated_arrivals(arrivals, windows) != []
    assert gated_arrivals(arrivals, []) == []
