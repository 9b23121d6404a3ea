"""The recorder against a local websocket server (127.0.0.1) that drops the connection once."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from mmkit.core.events import BookSnapshot, FeedStatus, Trade
from mmkit.data.adapter import events_from_chunks
from mmkit.data.recorder import Recorder
from mmkit.data.store import iter_chunks, read_meta
from mmkit.errors import DataError

from .helpers import hl_book, hl_trades

pytestmark = pytest.mark.network

BIDS = [("100.0", "1.0")]
ASKS = [("101.0", "1.0")]


class FakeVenue:
    """Sends 3 books + 1 trade per connection; aborts the first connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.subscriptions: list[dict[str, Any]] = []
        self.pings = 0
        self.t = 1_700_000_000_000

    async def handler(self, ws: Any) -> None:
        self.connections += 1
        conn = self.connections
        for _ in range(2):
            msg = json.loads(await ws.recv())
            assert msg["method"] == "subscribe"
            self.subscriptions.append(msg["subscription"])
            await ws.send(json.dumps({"channel": "subscriptionResponse", "data": msg}))
        for i in range(3):
            self.t += 500
            await ws.send(json.dumps(hl_book(self.t, BIDS, ASKS)))
            if i == 1:
                await ws.send(json.dumps(hl_trades(self.t, tid=conn)))
        if conn == 1:
            ws.transport.abort()  # a drop, not a clean close
            return
        async for raw in ws:
            if json.loads(raw).get("method") == "ping":
                self.pings += 1
                await ws.send(json.dumps({"channel": "pong"}))


async def _record(tmp_path: Path, venue: FakeVenue, **kw: Any) -> Any:
    from websockets.asyncio.server import serve

    clock = itertools.count(1_700_000_000_000_000_000, 100_000_000)
    async with serve(venue.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        rec = Recorder(
            f"ws://127.0.0.1:{port}",
            "BTC",
            tmp_path,
            backoff_s=0.01,
            clock=lambda: next(clock),
            **kw,
        )
        return await asyncio.wait_for(rec.run(), timeout=60)


def test_survives_a_drop_and_marks_the_gap(tmp_path: Path) -> None:
    venue = FakeVenue()
    # 2 acks + 3 books + 1 trade per connection = 12 messages over two connections
    stats = asyncio.run(_record(tmp_path, venue, max_messages=12, ping_s=0.02))
    assert venue.connections == 2
    assert (
        venue.subscriptions
        == [{"type": "l2Book", "coin": "BTC"}, {"type": "trades", "coin": "BTC"}] * 2
    )
    assert stats.reconnects == 1 and stats.books == 6 and stats.trades == 2
    files = sorted(tmp_path.glob("*.parquet"))
    assert files and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    evs = [e for f in files for e in events_from_chunks(iter_chunks(f))]
    kinds = [type(e).__name__ for e in evs]
    assert kinds.count("BookSnapshot") == 6 and kinds.count("Trade") == 2
    gaps = [e for e in evs if isinstance(e, FeedStatus)]
    assert [(g.connected, g.detail) for g in gaps] == [
        (False, "disconnect"),
        (True, "resubscribed"),
    ]
    # the gap sits between the two connections' books: never bridged
    first_gap = kinds.index("FeedStatus")
    assert kinds[:first_gap].count("BookSnapshot") == 3
    assert all(isinstance(e, BookSnapshot | Trade | FeedStatus) for e in evs)
    meta = read_meta(files[0])
    assert meta.coin == "BTC" and meta.source.startswith("record:ws://127.0.0.1")


def test_rotates_files(tmp_path: Path) -> None:
    venue = FakeVenue()
    stats = asyncio.run(_record(tmp_path, venue, max_messages=12, rotate_s=0.25, flush_s=0.2))
    files = sorted(tmp_path.glob("*.parquet"))
    assert len(files) >= 2 and len(stats.files) == len(files)
    books = sum(
        isinstance(e, BookSnapshot) for f in files for e in events_from_chunks(iter_chunks(f))
    )
    assert books == 6


def test_rejected_subscription_is_fatal(tmp_path: Path) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(json.dumps({"channel": "error", "data": "Invalid subscription"}))
        await asyncio.sleep(1)

    async def go() -> None:
        from websockets.asyncio.server import serve

        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            await Recorder(f"ws://127.0.0.1:{port}", "BTC", tmp_path, max_messages=5).run()

    with pytest.raises(DataError, match="subscription rejected"):
        asyncio.run(go())


def test_bad_url() -> None:
    with pytest.raises(DataError, match="ws://"):
        Recorder("http://x", "BTC", ".")


def test_pings_keep_the_connection_alive(tmp_path: Path) -> None:
    venue = FakeVenue()
    # 12 data/ack messages, then only pongs can bring the count to 14: two pings answered
    stats = asyncio.run(_record(tmp_path, venue, max_messages=14, ping_s=0.05))
    assert venue.pings >= 2 and stats.messages == 14
