"""The recorder against a local websocket server (127.0.0.1) that drops the connection once."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.helpers import run_cli

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
    assert stats.reconnects == 1 and stats.connections == 2
    assert stats.books == 6 and stats.trades == 2
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


# -- the command: a source never reached, and the line after the progress box ---------------


def _closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, read back, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("quiet", [True, False])
def test_never_connected_is_an_error(
    quiet: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was exit 0 with "recorded 0 messages ... 4 reconnect(s)"."""
    url = f"ws://127.0.0.1:{_closed_port()}/ws"
    args = ["record", "--url", url, "--duration-s", "1", "--out", str(tmp_path)]
    code, out, err = run_cli(args + (["--quiet"] if quiet else []), capsys)
    assert code == 2, (code, out, err)
    assert err.startswith(f"error: --url {url}: never connected within --duration-s 1 (")
    assert "last error: ConnectionRefusedError" in err and "nothing was recorded" in err
    assert "recorded 0 messages" not in out and list(tmp_path.glob("*.parquet")) == []
    assert out == "" or out.endswith("┘\n")  # the box's last line ends (see below)


@pytest.fixture
def venue_url() -> Iterator[str]:
    """A :class:`FakeVenue` served on 127.0.0.1 from a thread of its own (the command runs
    its own event loop)."""
    from websockets.asyncio.server import serve

    loop = asyncio.new_event_loop()
    ready: list[int] = []
    started = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        async with serve(FakeVenue().handler, "127.0.0.1", 0) as server:
            ready.append(server.sockets[0].getsockname()[1])
            started.set()
            await stop.wait()

    t = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    t.start()
    assert started.wait(10)
    try:
        yield f"ws://127.0.0.1:{ready[0]}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        t.join(10)


def test_summary_starts_its_own_line_after_the_box(
    venue_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not on a terminal rich leaves the box's last line open: the summary was glued to
    it ("┘recorded 0 messages")."""
    args = ["record", "--url", venue_url, "--duration-s", "1.5", "--out", str(tmp_path)]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-2].endswith("┘") and lines[-1].startswith("recorded "), out[-400:]
    assert "1 reconnect(s)" in lines[-1]
