"""Binance leader feed: combined-stream parsing shared with the capture loader, websockets
client on 127.0.0.1 (disconnects reach the channel), capture replay."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.events import BBO, BookDelta, BookSnapshot, FeedStatus, Trade, TradeBatch
from mmkit.core.types import Side
from mmkit.errors import ConfigError, DataError
from mmkit.signals.binance_feed import BinanceLeaderFeed, BinanceMessageParser, stream_url
from mmkit.signals.leader import LeaderChannel
from mmkit.signals.params import BinanceFeedParams

TICKER = {
    "stream": "btcusdt@bookTicker",
    "data": {
        "e": "bookTicker",
        "u": 7,
        "E": 1723161255208,
        "T": 1723161255207,
        "s": "BTCUSDT",
        "b": "61737.60",
        "B": "1.5",
        "a": "61737.70",
        "A": "2.0",
    },
}
TRADE = {
    "stream": "btcusdt@trade",
    "data": {
        "e": "trade",
        "E": 1723161255300,
        "T": 1723161255299,
        "s": "BTCUSDT",
        "t": 11,
        "p": "61737.70",
        "q": "0.01",
        "m": False,
    },
}


def test_parser_turns_messages_into_prefixed_events() -> None:
    p = BinanceMessageParser("ws://x", "leader:binance:")
    (bbo,) = p.parse(json.dumps(TICKER), 5)
    assert isinstance(bbo, BBO) and bbo.stream == "leader:binance:bbo"
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (61737.6, 1.5, 61737.7, 2.0)
    assert bbo.ts == 1723161255208 * 1_000_000 and bbo.local_ts == 5
    (tr,) = p.parse(json.dumps(TRADE).encode(), 6)
    assert isinstance(tr, Trade) and tr.side is Side.BUY and tr.stream == "leader:binance:trades"


@settings(max_examples=80, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
            lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
            max_leaves=12,
        ).map(json.dumps),
        st.fixed_dictionaries(
            {
                "stream": st.sampled_from(["btcusdt@bookTicker", "btcusdt@trade", "x@y"]),
                "data": st.dictionaries(
                    st.sampled_from(list("uEbBaAtpqmT")),
                    st.one_of(st.text(max_size=5), st.integers(), st.none()),
                ),
            }
        ).map(json.dumps),
    )
)
def test_parser_never_raises(raw: str) -> None:
    p = BinanceMessageParser("ws://x", "leader:")
    for ev in p.parse(raw, 1):
        # only market events carry a stream name (an own fill or an order update has none)
        assert isinstance(ev, BBO | Trade | BookSnapshot | BookDelta | TradeBatch | FeedStatus)
        assert ev.stream.startswith("leader:")


def test_stream_url() -> None:
    assert stream_url("wss://h/stream", "BTCUSDT", ["bookTicker", "trade"]) == (
        "wss://h/stream?streams=btcusdt@bookTicker/btcusdt@trade"
    )
    with pytest.raises(ConfigError, match="ws://"):
        stream_url("http://h", "btcusdt", ["bookTicker"])


def test_websocket_client_on_loopback() -> None:
    from websockets.asyncio.server import serve

    paths: list[str] = []

    async def handler(ws: Any) -> None:
        paths.append(ws.request.path)
        for i in range(3):
            msg = json.loads(json.dumps(TICKER))
            msg["data"]["u"] = i
            msg["data"]["b"] = f"{61737.6 + i:.1f}"
            msg["data"]["a"] = f"{61737.7 + i:.1f}"
            await ws.send(json.dumps(msg))
        await ws.send("garbage")
        # then close: the client must report the disconnect

    async def main() -> tuple[BinanceLeaderFeed, LeaderChannel]:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            ch = LeaderChannel("t")
            clock = iter(range(1, 10_000))
            feed = BinanceLeaderFeed(
                BinanceFeedParams(url=f"ws://127.0.0.1:{port}/stream", backoff_s=0.05),
                ch,
                clock=lambda: next(clock),
            )
            task = asyncio.create_task(feed.run())
            for _ in range(400):
                await asyncio.sleep(0.01)
                if feed.reconnects >= 1:
                    break
            feed.stop()
            await asyncio.wait_for(task, 5)
            return feed, ch

    feed, ch = asyncio.run(main())
    assert paths[0] == "/stream?streams=btcusdt@bookTicker"
    quotes = ch.take_until(10**9)
    mids = [q.mid for q in quotes if q.connected]
    assert mids[:3] == pytest.approx([61737.65, 61738.65, 61739.65])
    assert any(not q.connected for q in quotes)  # the close was pushed as a disconnect
    assert feed.parser.diag.counts.get("malformed", 0) >= 1


def test_capture_replay_fills_the_channel(tmp_path: Path) -> None:
    path = tmp_path / "cap.gz"
    with gzip.open(path, "wt") as fh:
        for i in range(5):
            msg = json.loads(json.dumps(TICKER))
            msg["data"]["u"] = i
            fh.write(f"{1723161255208000000 + i * 10**8} {json.dumps(msg)}\n")
    ch = LeaderChannel("r")
    feed = BinanceLeaderFeed(BinanceFeedParams(paths=[str(path)]), ch)
    assert feed.fill_channel() == 5
    got = ch.take_until(1723161255208000000 + 2 * 10**8)
    assert len(got) == 3 and all(q.mid == pytest.approx(61737.65) for q in got)
    with pytest.raises(DataError, match="does not exist"):
        list(BinanceLeaderFeed(BinanceFeedParams(paths=[str(tmp_path / "nope")]), ch).events())


def test_channel_push_event_ignores_unusable() -> None:
    ch = LeaderChannel("u")
    ch.push_event(BBO(1, 2.0, 1.0, 1.0, 1.0), 1)  # crossed
    ch.push_event(FeedStatus(2, "leader:bbo", connected=True), 2)
    ch.push_event(FeedStatus(3, "leader:bbo", connected=False), 3)
    (q,) = ch.take_until(10)
    assert not q.connected
