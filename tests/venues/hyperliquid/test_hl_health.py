"""The per-link recovery state machine (pure, clock injected) and the venue's routing of
stream events through it, without sockets."""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.core.events import BookSnapshot, Event, FeedStatus, PositionSnapshot, Trade, levels
from mmkit.core.types import Instrument, Side
from mmkit.errors import VenueError
from mmkit.venues.hyperliquid.client import (
    HyperliquidClient,
    RateLimitedError,
    TransientVenueError,
)
from mmkit.venues.hyperliquid.health import (
    Backoff,
    Fault,
    Link,
    LinkState,
    Transition,
    VenueHealth,
)
from mmkit.venues.hyperliquid.params import HyperliquidParams
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint
from mmkit.venues.hyperliquid.venue import HyperliquidVenue, fault_of
from mmkit.venues.hyperliquid.ws import HyperliquidStream, StreamSettings

USER = "0x" + "ab" * 20
BTC = Instrument(coin="BTC", asset=0, sz_decimals=5)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0

    def __call__(self) -> int:
        self.t += 1_000_000  # every read moves 1 ms on
        return self.t


# ------------------------------------------------------------------ the state machine

OPS = st.lists(
    st.sampled_from(["degrade", "lose", "recovering", "restore", "degrade429"]), max_size=40
)


def drive(link: Link, ops: Sequence[str]) -> list[Transition]:
    out: list[Transition] = []
    for op in ops:
        if op == "degrade":
            tr = link.degrade(Fault.SERVER, "HTTP 503")
        elif op == "degrade429":
            tr = link.degrade(Fault.RATE_LIMITED, "HTTP 429", retry_after_s=1.0)
        elif op == "lose":
            tr = link.lose(Fault.TRANSPORT, "socket closed")
        elif op == "recovering":
            tr = link.recovering("retry")
        else:
            tr = link.restore("fresh snapshot")
        if tr is not None:
            out.append(tr)
    return out


def check_machine(factory: Callable[[bool], Link], start: bool, ops: Sequence[str]) -> None:
    link = factory(start)
    trs = drive(link, ops)
    faults = [i for i, op in enumerate(ops) if op in ("degrade", "lose", "degrade429")]
    restores = [i for i, op in enumerate(ops) if op == "restore"]
    # connected exactly when a snapshot (restore) came after the last fault
    last_fault = faults[-1] if faults else -1
    last_restore = restores[-1] if restores else -1
    expect = last_restore > last_fault if (faults or restores) else start
    assert link.connected is expect
    # never connected without a snapshot: every entry into CONNECTED is a restore
    for tr in trs:
        if tr.after is LinkState.CONNECTED:
            assert tr.detail == "fresh snapshot"
    # what the gate sees alternates down/up, starting from the initial state
    flips = [tr.after is LinkState.CONNECTED for tr in trs if tr.connected_changed]
    for k, up in enumerate(flips):
        assert up is ((k % 2 == 1) if start else (k % 2 == 0))
    # counters agree with the transitions
    assert link.outages == sum(1 for tr in trs if tr.before is LinkState.CONNECTED)
    assert sum(link.entered.values()) == len(trs)
    assert sum(link.faults.values()) == len(faults)


def make_link(start: bool) -> Link:
    return Link("account", connected=start, clock_ns=FakeClock())


@settings(max_examples=300)
@given(st.booleans(), OPS)
def test_connected_only_after_a_snapshot_that_follows_the_last_fault(
    start: bool, ops: list[str]
) -> None:
    check_machine(make_link, start, ops)


class EagerLink(Link):
    """Broken on purpose: believes a retry that merely started has already worked."""

    def recovering(self, detail: str) -> Transition | None:
        super().recovering(detail)
        return self.restore(detail)


def test_the_property_catches_a_machine_that_reconnects_without_a_snapshot() -> None:
    with pytest.raises(AssertionError):
        check_machine(
            lambda s: EagerLink("x", connected=s, clock_ns=FakeClock()),
            True,
            ["degrade", "recovering"],
        )


def test_states_of_an_account_outage() -> None:
    link = make_link(True)
    assert link.degrade(Fault.SERVER, "sync failed").after is LinkState.DEGRADED  # type: ignore[union-attr]
    assert link.degrade(Fault.SERVER, "query failed") is None  # counted, same state
    assert link.recovering("attempt 1").after is LinkState.RECOVERING  # type: ignore[union-attr]
    assert link.degrade(Fault.TIMEOUT, "attempt failed").after is LinkState.DISCONNECTED  # type: ignore[union-attr]
    assert link.recovering("attempt 2").after is LinkState.RECOVERING  # type: ignore[union-attr]
    tr = link.restore("snapshot")
    assert tr is not None and tr.after is LinkState.CONNECTED and tr.connected_changed
    st_ = link.status()
    assert st_["state"] == "connected" and st_["outages"] == 1 and st_["restores"] == 1
    assert st_["faults"] == {"server": 2, "timeout": 1}
    assert st_["attempts"] == 0  # reset on reconnection
    assert st_["last_outage_s"] is not None and st_["last_outage_s"] > 0


def test_recovering_is_ignored_while_connected() -> None:
    link = make_link(True)
    assert link.recovering("spurious") is None and link.connected and link.attempts == 0


def test_each_transition_is_logged_once_not_per_failure(caplog: pytest.LogCaptureFixture) -> None:
    link = make_link(True)
    with caplog.at_level(logging.DEBUG, logger="mmkit.venues.hyperliquid.health"):
        link.degrade(Fault.RATE_LIMITED, "429")
        for _ in range(50):  # a storm of failed requests inside the outage
            link.degrade(Fault.RATE_LIMITED, "429")
        for _ in range(5):  # five failed recovery attempts
            link.recovering("attempt")
            link.degrade(Fault.RATE_LIMITED, "429")
        link.recovering("attempt")
        link.restore("snapshot")
    above_debug = [r for r in caplog.records if r.levelno >= logging.INFO]
    warnings = [r.getMessage() for r in above_debug if r.levelno == logging.WARNING]
    # the loss and the return, each once
    assert len(warnings) == 2 and "degraded" in warnings[0]
    assert "connected again after" in warnings[1]
    # plus once into recovering and once into disconnected (info)
    assert len(above_debug) == 4
    assert link.faults[Fault.RATE_LIMITED] == 56


@given(
    st.integers(0, 200),
    st.floats(0.01, 5.0),
    st.floats(0.1, 60.0),
    st.floats(0.0, 0.99),
    st.one_of(st.none(), st.floats(0.0, 120.0)),
    st.integers(0, 2**32),
)
def test_backoff_is_capped_jittered_and_honours_retry_after(
    attempt: int,
    initial: float,
    cap: float,
    jitter: float,
    retry_after: float | None,
    seed: int,
) -> None:
    b = Backoff(initial, cap, jitter)
    d = b.delay(attempt, random.Random(seed), retry_after)
    base = min(cap, initial * 2.0 ** min(attempt, 62))
    assert d >= base * (1 - jitter) - 1e-12
    if retry_after is not None:
        assert d >= retry_after
        assert d <= max(retry_after, base * (1 + jitter)) + 1e-12
    else:
        assert d <= base * (1 + jitter) + 1e-12


def test_retry_after_is_consumed_by_the_next_delay() -> None:
    link = make_link(True)
    link.degrade(Fault.RATE_LIMITED, "429", retry_after_s=7.5)
    b = Backoff(0.01, 0.05, 0.5)
    assert link.next_delay(b, random.Random(1)) == 7.5
    assert link.next_delay(b, random.Random(1)) < 1.0


def test_a_listener_that_raises_does_not_stop_recovery() -> None:
    h = VenueHealth(clock_ns=FakeClock())
    seen: list[Transition] = []

    def bad(tr: Transition) -> None:
        raise RuntimeError("observer bug")

    h.listeners += [bad, seen.append]
    h.account.degrade(Fault.SERVER, "x")
    h.account.restore("y")
    assert [t.after for t in seen] == [LinkState.DEGRADED, LinkState.CONNECTED]
    assert h.status()["links"]["account"]["state"] == "connected"


def test_fault_of_classifies_client_errors() -> None:
    assert fault_of(RateLimitedError("info x", 1.0)) is Fault.RATE_LIMITED
    assert fault_of(TransientVenueError("HTTP 502", "server")) is Fault.SERVER
    assert fault_of(TransientVenueError("timed out", "timeout")) is Fault.TIMEOUT
    assert fault_of(TransientVenueError("odd", "no-such-kind")) is Fault.TRANSPORT
    assert fault_of(VenueError("HTTP 400")) is Fault.BAD_REPLY
    assert fault_of(KeyError("bug")) is Fault.UNEXPECTED


# ------------------------------------------------------------------ the venue's routing


def book(ts: int = 1) -> BookSnapshot:
    return BookSnapshot(ts, levels([99.0]), levels([1.0]), levels([101.0]), levels([1.0]))


def venue_and_stream() -> tuple[HyperliquidVenue, HyperliquidStream, list[Event]]:
    settings_ = ClientSettings(
        endpoint=resolve_endpoint("testnet", "http://127.0.0.1:9"),
        account=USER,
        max_order_notional=1e6,
    )
    venue = HyperliquidVenue(HyperliquidClient(settings_, None), BTC, check_meta=False)
    stream = HyperliquidStream("ws://127.0.0.1:9/ws", "BTC", [])
    got: list[Event] = []
    venue._sink = got.append
    return venue, stream, got


STREAM_EVENTS = st.lists(
    st.sampled_from(["up", "down", "stall", "book", "trade", "backfill", "badbook"]),
    max_size=40,
)


@settings(max_examples=200)
@given(STREAM_EVENTS)
def test_routing_never_reports_a_link_connected_before_its_snapshot(kinds: list[str]) -> None:
    venue, stream, got = venue_and_stream()
    out: list[Event] = []
    for k in kinds:
        if k == "up":
            ev: Event = FeedStatus(1, stream.name, connected=True, gap=venue._ws_ever_connected)
        elif k in ("down", "stall"):
            stream.last_fault = "stall" if k == "stall" else "transport"
            ev = FeedStatus(1, stream.name, connected=False, gap=True, detail=k)
        elif k == "book":
            ev = book()
        elif k == "trade":
            ev = Trade(1, 100.0, 1.0, Side.BUY)
        elif k == "badbook":
            venue._on_bad_frame("l2Book", "ReplyError: bad", True)
            out += got
            got.clear()
            continue
        else:
            ev = PositionSnapshot(1, 0.0, open_orders=())
        out += venue._route(stream, ev)
    # the stream's own statuses never reach the engine: only the links'
    statuses = [e for e in out if isinstance(e, FeedStatus)]
    assert all(s.stream in ("market", "user", "account") for s in statuses)
    for i, e in enumerate(out):
        if isinstance(e, FeedStatus) and e.connected and e.stream == "market":
            assert isinstance(out[i - 1], BookSnapshot), "market up without a fresh book"
        if isinstance(e, FeedStatus) and e.connected and e.stream == "user":
            prev = out[i - 1]
            first = not any(isinstance(x, FeedStatus) and x.stream == "user" for x in out[:i])
            assert isinstance(prev, PositionSnapshot) or (first and "subscribed" in e.detail)
    # the final state matches the last relevant event of each link
    h = venue.health
    last_market = [k for k in kinds if k in ("down", "stall", "book", "badbook")]
    if last_market and kinds.count("up") and last_market[-1] == "book":
        assert h.market.connected
    if last_market and last_market[-1] in ("down", "stall", "badbook"):
        assert not h.market.connected
    # per link, the statuses the engine sees alternate down/up
    for name in ("market", "user"):
        ups = [s.connected for s in statuses if s.stream == name]
        assert all(a != b for a, b in itertools.pairwise(ups))


def test_routing_of_a_reconnection() -> None:
    venue, stream, _ = venue_and_stream()
    r = venue._route
    first = r(stream, FeedStatus(1, stream.name, connected=True))
    assert [(e.stream, e.connected) for e in first] == [("user", True)]  # type: ignore[union-attr]
    assert [type(e).__name__ for e in r(stream, book())] == ["BookSnapshot", "FeedStatus"]
    stream.last_fault = "stall"
    lost = r(stream, FeedStatus(2, stream.name, connected=False, gap=True, detail="stall"))
    assert [(e.stream, e.connected, e.gap) for e in lost] == [  # type: ignore[union-attr]
        ("market", False, True),
        ("user", False, True),
    ]
    assert venue.health.market.faults[Fault.STALL] == 1
    assert r(stream, FeedStatus(3, stream.name, connected=True, gap=True)) == []  # recovering
    assert venue.health.user.state is LinkState.RECOVERING
    snap = PositionSnapshot(4, 0.0, open_orders=())
    assert [type(e).__name__ for e in r(stream, snap)] == ["PositionSnapshot", "FeedStatus"]
    assert venue.health.user.connected and not venue.health.market.connected
    r(stream, book())
    assert venue.health.all_connected
    assert venue.status()["links"]["market"]["outages"] == 1


def test_a_skipped_bad_book_frame_holds_the_market_until_the_next_book() -> None:
    venue, stream, got = venue_and_stream()
    venue._route(stream, FeedStatus(1, stream.name, connected=True))
    venue._route(stream, book())
    venue._on_bad_frame("trades", "ValueError", True)  # a lost trade: counted only
    assert venue.health.market.connected and got == []
    venue._on_bad_frame("l2Book", "ReplyError", True)
    assert [(e.stream, e.connected) for e in got] == [("market", False)]  # type: ignore[union-attr]
    assert venue.health.bad_frames_skipped == 2
    out = venue._route(stream, book())
    assert isinstance(out[-1], FeedStatus) and out[-1].connected


def test_default_heartbeat_notices_a_mute_socket_in_a_few_seconds() -> None:
    """idle ping + pong timeout bound the time a mute socket goes unnoticed; the config
    defaults and the stream's own defaults agree."""
    p, ws = HyperliquidParams(), StreamSettings()
    assert (p.idle_ping_s, p.pong_timeout_s) == (ws.idle_ping_s, ws.pong_timeout_s)
    assert p.idle_ping_s + p.pong_timeout_s <= 5.0
    # but not so eager that the book's normal ~0.5 s ticks could look like silence
    assert p.idle_ping_s >= 4 * 0.5
