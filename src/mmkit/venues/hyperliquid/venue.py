"""The live Hyperliquid venue: the REST client and the WebSocket stream behind one object.

It is the live side of venue ``hyperliquid`` (:func:`build_live`) and follows the
:class:`~mmkit.components.AsyncVenue` protocol:
``start(sink)`` checks the configured instrument against the venue's ``meta``, opens the
stream (book, trades, bbo; orderUpdates, userFills, userEvents for the master address) and
pushes every event to ``sink``, then reads the account and arms the dead-man's switch (the
account is read before anything is signed); ``submit(actions)`` sends actions and pushes
their results; ``close()`` stops everything. After every reconnection the stream backfills
the position, the open orders and recent fills by REST.

Recovery (:mod:`mmkit.venues.hyperliquid.health`): three links, ``market`` (WS market
subscriptions), ``user`` (WS user subscriptions) and ``account`` (the REST account path),
each reported to the engine as a :class:`~mmkit.core.events.FeedStatus` of that stream name
whenever it stops or starts being connected, so the data-quality gate is closed while any
is not connected. A link reconnects only after a fresh snapshot has been emitted: a book
for ``market``; the backfill's position with open orders for ``user``; for ``account`` a
position snapshot with open orders, which a recovery task retries (capped jittered
exponential backoff, never sooner than a 429's ``Retry-After``) after any failed sync,
order query or cancel-all read. /exchange actions are never retried here: an unknown
outcome is resolved by the executor's queries. ``venue.status()`` (and
``venue.health.status()``) give the states and counters for dashboards and metrics.

:func:`from_settings` builds it from the ``[venue]``/``[risk]``/``[instrument]`` config
sections plus the command line's explicit ``--mainnet`` flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from mmkit.core.actions import Action
from mmkit.core.events import BookSnapshot, Event, FeedStatus, PositionSnapshot
from mmkit.core.types import Instrument
from mmkit.errors import VenueError
from mmkit.registry import BuildContext
from mmkit.venues.hyperliquid import info as inf
from mmkit.venues.hyperliquid.client import (
    HyperliquidClient,
    RateLimitedError,
    TransientVenueError,
    unknown_for,
)
from mmkit.venues.hyperliquid.deadman import DeadmanSettings, DeadmanSwitch
from mmkit.venues.hyperliquid.health import Backoff, Fault, LinkState, Transition, VenueHealth
from mmkit.venues.hyperliquid.keys import load_signing_key
from mmkit.venues.hyperliquid.params import HyperliquidParams
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint
from mmkit.venues.hyperliquid.stream import market_subscriptions, user_subscriptions
from mmkit.venues.hyperliquid.ws import HyperliquidStream, StreamSettings, SubscriptionRejected

log = logging.getLogger("mmkit.venues.hyperliquid")
_T = TypeVar("_T")

EventSink = Callable[[Event], None]
BACKFILL_MARGIN_MS = 1_000
#: how long start-up keeps retrying transient failures before giving up
STARTUP_RETRY_S = 60.0
#: market channels whose unreadable frame leaves the book in doubt until the next snapshot
BOOK_CHANNELS = frozenset({"l2Book", "bbo"})


def fault_of(exc: BaseException) -> Fault:
    """The health fault of a failed REST read (the client's error classes)."""
    if isinstance(exc, RateLimitedError):
        return Fault.RATE_LIMITED
    if isinstance(exc, TransientVenueError):
        try:
            return Fault(exc.kind)
        except ValueError:
            return Fault.TRANSPORT
    if isinstance(exc, VenueError):
        return Fault.BAD_REPLY
    return Fault.UNEXPECTED


def check_instrument(meta: Sequence[inf.AssetMeta], inst: Instrument) -> None:
    """Refuse a configured instrument that does not match the venue's ``meta``."""
    a = inf.find_asset(meta, inst.coin)
    problems = []
    if a.asset != inst.asset:
        problems.append(f"asset is {a.asset}, config says instrument.asset = {inst.asset}")
    if a.sz_decimals != inst.sz_decimals:
        problems.append(
            f"szDecimals is {a.sz_decimals}, config says instrument.sz_decimals = "
            f"{inst.sz_decimals}"
        )
    if a.delisted:
        problems.append("it is delisted")
    if problems:
        raise VenueError(f"Hyperliquid meta for {inst.coin}: " + "; ".join(problems))


class HyperliquidVenue:
    def __init__(
        self,
        client: HyperliquidClient,
        instrument: Instrument,
        *,
        stream_settings: StreamSettings | None = None,
        rng: random.Random | None = None,
        bbo: bool = True,
        check_meta: bool = True,
    ) -> None:
        self.client = client
        self.instrument = instrument
        self.stream_settings = stream_settings or StreamSettings()
        self._rng = rng or random.Random()
        self._bbo = bbo
        self._check_meta = check_meta
        self.stream: HyperliquidStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._sink: EventSink | None = None
        self.failure: BaseException | None = None
        #: (fills since ns, trade ids already journaled): set by a runner resuming after a
        #: previous run, so fills made while no process ran are delivered, and only once
        self.resume_fills: tuple[int, frozenset[int]] | None = None
        #: the three links' state machines and counters (see the module docstring)
        self.health = VenueHealth()
        s = self.stream_settings
        self.backoff = Backoff(s.backoff_initial_s, s.backoff_max_s, s.jitter)
        self._recovery: asyncio.Task[None] | None = None
        self._closing = False
        self._ws_ever_connected = False
        client.account_listener = self
        #: the dead-man's switch (scheduleCancel), armed at start, cleared at close (H1b)
        self.deadman: DeadmanSwitch | None = None

    def __repr__(self) -> str:
        return f"HyperliquidVenue({self.instrument.coin}, client={self.client!r})"

    async def _backfill(self) -> list[Event]:
        """Fills missed while disconnected, then the authoritative snapshot, in that order.

        The snapshot is fetched after the fills and emitted last, so it already includes
        every backfilled fill and overrides the position they produced; emitted first, the
        gap's fills would be counted on top of it until the next reconciliation.
        """
        coin = self.instrument.coin
        # every fill since the newest one seen (a margin for fills sharing its ms; the session
        # drops duplicates by trade id), however many happened while disconnected
        cursor_ns = self.stream.fills_cursor_ns if self.stream is not None else 0
        start_ms = max(0, cursor_ns // 1_000_000 - BACKFILL_MARGIN_MS)
        events: list[Event] = []
        try:
            events += await self.client.user_fills_since(start_ms, coin)
        except RateLimitedError:
            raise
        except VenueError as exc:  # a server without userFillsByTime: the newest 2000 fills
            log.warning("userFillsByTime failed (%s); backfilling from userFills", exc)
            events += await self.client.user_fills(coin)
        events.append(await self.client.position_snapshot(coin, orders=True))
        return events

    async def _startup_meta(self, deadline_s: float = STARTUP_RETRY_S) -> list[inf.AssetMeta]:
        """``meta`` at start-up, retried with backoff while the failure is transient (the
        venue restarting, a timeout, a 429); a definite error is raised at once."""
        return await self._startup_read(self.client.meta, deadline_s)

    async def _startup_account(self, deadline_s: float = STARTUP_RETRY_S) -> inf.AccountState:
        """The account's state (``clearinghouseState`` of the master or vault), read at
        start-up before anything is signed, retried like ``meta``."""
        coin = self.instrument.coin
        state = await self._startup_read(lambda: self.client.clearinghouse_state(coin), deadline_s)
        log.info(
            "account %s: value %.2f USD, %s position %g",
            self.client.user,
            state.account_value,
            coin,
            state.position,
        )
        return state

    async def _startup_read(
        self, read: Callable[[], Awaitable[_T]], deadline_s: float = STARTUP_RETRY_S
    ) -> _T:
        """A start-up read, retried with backoff while the failure is transient (the venue
        restarting, a timeout, a 429); a definite error is raised at once."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline_s
        s = self.stream_settings
        delay = s.backoff_initial_s
        while True:
            try:
                return await read()
            except TransientVenueError as exc:
                if loop.time() + delay > give_up:
                    raise
                log.warning("start-up: %s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay * self._rng.uniform(1 - s.jitter, 1 + s.jitter))
                delay = min(s.backoff_max_s, delay * 2)

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        if self._check_meta:
            check_instrument(await self._startup_meta(), self.instrument)
        subs = market_subscriptions(self.instrument.coin, bbo=self._bbo)
        subs += user_subscriptions(self.client.user)
        self.stream = HyperliquidStream(
            self.client.endpoint.ws_url,
            self.instrument.coin,
            subs,
            backfill=self._backfill,
            settings=self.stream_settings,
            rng=self._rng,
            fills_since_ns=None if self.resume_fills is None else self.resume_fills[0],
            clock_ns=self.client.now_ns,  # the runner's clock: local_ts and now agree
            known_fill_tids=() if self.resume_fills is None else self.resume_fills[1],
            on_bad_frame=self._on_bad_frame,
        )
        self._task = asyncio.create_task(self._pump(self.stream, sink))
        if self.deadman is not None:
            # the account is read before the first signed action (the switch; orders come
            # later, after the engine's start-up sync): the exchange's own word on it first
            await self._startup_account()
            await self.deadman.start()

    # ---------------------------------------------------------------- health

    def _feed(self, tr: Transition | None) -> list[Event]:
        """The FeedStatus the engine must see for a transition: one whenever a link stops
        or starts being connected (``gap`` on the way down), none otherwise."""
        if tr is None or not tr.connected_changed:
            return []
        now = self.client.now_ns()
        up = tr.after is LinkState.CONNECTED
        return [
            FeedStatus(
                now,
                tr.link,
                connected=up,
                gap=not up,
                detail=f"{tr.after.value}: {tr.detail}",
                local_ts=now,
            )
        ]

    def _emit(self, events: Sequence[Event]) -> None:
        if self._sink is not None:
            for ev in events:
                self._sink(ev)

    def status(self) -> dict[str, Any]:
        """Link states and counters, plus the WebSocket's own counters (plain data)."""
        out = self.health.status()
        st = self.stream
        out["stream"] = (
            None
            if st is None
            else {
                "connects": st.connects,
                "disconnects": st.disconnects,
                "bad_frames": st.bad_frames,
                "skipped_frames": st.skipped_frames,
            }
        )
        out["failure"] = None if self.failure is None else str(self.failure)
        return out

    # the REST account path (AccountListener of the client)

    def account_failed(self, what: str, exc: VenueError) -> list[Event]:
        """A sync, order query or cancel-all read failed: the account state is in doubt
        until a fresh snapshot; start (or keep) the recovery task."""
        retry = exc.retry_after_s if isinstance(exc, RateLimitedError) else None
        tr = self.health.account.degrade(fault_of(exc), f"{what} failed: {exc}", retry)
        self._ensure_recovery()
        return self._feed(tr)

    def account_snapshot(self, snap: PositionSnapshot) -> list[Event]:
        """A position snapshot with open orders was just read (and is emitted before these
        events): it ends an account outage."""
        if self.health.account.connected:
            return []
        return self._feed(self.health.account.restore("position snapshot with open orders"))

    def _ensure_recovery(self) -> None:
        if self._sink is None or self._closing:
            return
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover_account())

    async def _recover_account(self) -> None:
        """Retry the position snapshot (with open orders) until one succeeds; emit it, then
        the account's reconnection. Backoff: capped, jittered, exponential in the attempts
        of this outage, never shorter than the newest ``Retry-After``."""
        link = self.health.account
        coin = self.instrument.coin
        while not link.connected and not self._closing:
            await asyncio.sleep(link.next_delay(self.backoff, self._rng))
            if link.connected or self._closing:
                return
            attempt = f"position snapshot, attempt {link.attempts + 1}"
            self._emit(self._feed(link.recovering(attempt)))
            try:
                snap = await self.client.position_snapshot(coin, orders=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # transient or not, the account path must come back
                retry = exc.retry_after_s if isinstance(exc, RateLimitedError) else None
                if not isinstance(exc, VenueError):
                    log.exception("hyperliquid account recovery: unexpected error")
                detail = f"recovery snapshot failed: {type(exc).__name__}: {exc}"
                self._emit(self._feed(link.degrade(fault_of(exc), detail, retry)))
                continue
            if link.connected:  # a sync of the executor got there first: nothing to add
                return
            self._emit([snap])
            self._emit(self._feed(link.restore("recovery position snapshot with open orders")))

    # the WebSocket links

    def _on_bad_frame(self, channel: str, what: str, skipped: bool) -> None:
        """Called by the stream for each unreadable frame (before it resyncs, if it does)."""
        h = self.health
        if not skipped:
            h.bad_frames_resynced += 1  # the stream reconnects: the loss status follows
            return
        h.bad_frames_skipped += 1
        if channel in BOOK_CHANNELS:  # the book is in doubt until the next snapshot
            detail = f"unreadable {channel} frame skipped ({what})"
            self._emit(self._feed(h.market.degrade(Fault.BAD_FRAME, detail)))

    def _route(self, stream: HyperliquidStream, ev: Event) -> list[Event]:
        """One stream event as the events the engine sees: the stream's own connection
        statuses become link transitions; snapshots reconnect their links."""
        h = self.health
        if isinstance(ev, FeedStatus) and ev.stream == stream.name:
            if ev.connected:
                out = self._feed(h.market.recovering(ev.detail))
                if not self._ws_ever_connected and h.user.restores == 0:
                    # the very first connection: the session's start-up sync is the snapshot
                    out += self._feed(h.user.restore("subscribed"))
                else:  # the backfill's snapshot will reconnect it
                    out += self._feed(h.user.recovering(ev.detail))
                self._ws_ever_connected = True
                return out
            try:
                fault = Fault(stream.last_fault)
            except ValueError:
                fault = Fault.TRANSPORT
            lost = self._feed(h.market.lose(fault, ev.detail))
            return lost + self._feed(h.user.lose(fault, ev.detail))
        if isinstance(ev, BookSnapshot):
            if h.market.connected:
                return [ev]
            return [ev, *self._feed(h.market.restore("fresh book snapshot"))]
        if isinstance(ev, PositionSnapshot) and ev.open_orders is not None:
            # the backfill after a reconnection: fills first, then this snapshot
            back: list[Event] = [ev]
            back += self._feed(h.user.restore("backfill: fills, position and open orders"))
            back += self._feed(h.account.restore("backfill position snapshot"))
            return back
        return [ev]

    async def _pump(self, stream: HyperliquidStream, sink: EventSink) -> None:
        """Forward the stream's events; restart it after an unexpected exception (a bug
        must not leave a dead stream). Only a rejected subscription ends it."""
        while not self._closing:
            events = stream.events()
            try:
                async for ev in events:
                    for out in self._route(stream, ev):
                        sink(out)
                return
            except asyncio.CancelledError:
                raise
            except SubscriptionRejected as exc:  # fatal: tell the runner
                self.failure = exc
                log.error("hyperliquid stream stopped: %s", exc)
                detail = f"stream failed: {exc}"
                lost = self._feed(self.health.market.lose(Fault.BAD_REPLY, detail))
                lost += self._feed(self.health.user.lose(Fault.BAD_REPLY, detail))
                now = self.client.now_ns()
                lost.append(
                    FeedStatus(
                        now, stream.name, connected=False, gap=True, detail=detail, local_ts=now
                    )
                )
                for ev in lost:
                    sink(ev)
                return
            except Exception as exc:  # a bug somewhere in the loop: restart the stream
                self.health.pump_restarts += 1
                log.exception("hyperliquid stream pump failed; restarting the stream")
                detail = f"stream restarted after {type(exc).__name__}: {exc}"
                for ev in self._feed(self.health.market.lose(Fault.UNEXPECTED, detail)):
                    sink(ev)
                for ev in self._feed(self.health.user.lose(Fault.UNEXPECTED, detail)):
                    sink(ev)
            finally:
                with contextlib.suppress(Exception):
                    await events.aclose()  # closes the socket the failed pass had open
            # only a restart gets here: wait (backoff) before the stream reconnects
            await asyncio.sleep(self.backoff.delay(min(self.health.pump_restarts, 16), self._rng))

    async def submit(self, actions: Sequence[Action]) -> None:
        if self._sink is None:
            raise VenueError("HyperliquidVenue.submit called before start()")
        try:
            events = await self.client.execute(actions, self.instrument)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never lose the fate of an action silently
            log.exception("hyperliquid submit failed")
            events = list(unknown_for(actions, f"submit failed: {exc}", self.client.now_ns()))
        for ev in events:
            self._sink(ev)

    async def close(self) -> None:
        self._closing = True
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._recovery
        if self.deadman is not None:  # a clean stop: after the shutdown's cancels
            with contextlib.suppress(Exception):
                await self.deadman.clear()
        if self.stream is not None:
            await self.stream.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.close()


def from_settings(
    venue: Any,
    instrument: Instrument,
    *,
    max_order_notional: float,
    mainnet_flag: bool = False,
    params: HyperliquidParams | None = None,
    environ: Mapping[str, str] | None = None,
    clock_ns: Callable[[], int] | None = None,
    deadman: DeadmanSettings | None = None,
) -> HyperliquidVenue:
    """Build the venue from a ``[venue]`` section (``network``, ``url``, ``account``,
    ``vault``, ``key_env``, ``key_file``). Mainnet needs ``network = "mainnet"`` *and*
    ``mainnet_flag``; the key comes only from the environment variable or the 0600 file."""
    p = params or HyperliquidParams()
    endpoint = resolve_endpoint(venue.network, venue.url, allow_mainnet=mainnet_flag)
    key = load_signing_key(key_env=venue.key_env, key_file=venue.key_file, environ=environ)
    settings = ClientSettings(
        endpoint=endpoint,
        account=venue.account,
        vault=venue.vault,
        max_order_notional=max_order_notional,
        expires_after_ms=p.expires_after_ms,
        request_timeout_s=p.request_timeout_s,
    )
    stream = StreamSettings(
        ping_interval_s=p.ping_interval_s,
        pong_timeout_s=p.pong_timeout_s,
        idle_ping_s=p.idle_ping_s,
        backoff_initial_s=p.backoff_initial_s,
        backoff_max_s=p.backoff_max_s,
        jitter=p.backoff_jitter,
    )
    client = HyperliquidClient(settings, key, clock_ns=clock_ns or time.time_ns)
    hv = HyperliquidVenue(client, instrument, stream_settings=stream, bbo=p.bbo)
    dm = deadman or DeadmanSettings(
        enabled=p.deadman,
        horizon_s=p.deadman_horizon_s,
        renew_every_s=p.deadman_renew_every_s,
        reserve_fires=p.deadman_reserve_fires,
    )
    if dm.enabled and key is not None:
        hv.deadman = DeadmanSwitch(client, dm)
    return hv


def live_venue(
    settings: Any,
    *,
    mainnet_flag: bool = False,
    environ: Mapping[str, str] | None = None,
    clock_ns: Callable[[], int] | None = None,
    deadman: DeadmanSettings | None = None,
) -> HyperliquidVenue:
    """The venue for ``mmkit trade --venue hyperliquid``, from the merged Settings
    (``settings.venue``, ``settings.instrument``, ``settings.risk`` and, when registered,
    the ``[venues.hyperliquid]`` params)."""
    try:
        params = settings.component_params("venue", "hyperliquid")
    except (KeyError, AttributeError):
        params = None
    if not isinstance(params, HyperliquidParams):
        params = None
    return from_settings(
        settings.venue,
        settings.instrument,
        max_order_notional=settings.risk.max_order_notional,
        mainnet_flag=mainnet_flag,
        params=params,
        environ=environ,
        clock_ns=clock_ns,
        deadman=deadman,
    )


def build_live(ctx: BuildContext[HyperliquidParams]) -> HyperliquidVenue:
    """Registry factory of the venue's live side (venue ``hyperliquid``, live only).

    Built by the live runner with ``ctx.live`` set: the connection comes from the core
    ``[venue]`` section (``ctx.live.connection``: network, url, account, vault, key source),
    the tuning knobs from ``[venues.hyperliquid]`` (``ctx.params``), the order notional cap
    from ``risk.max_order_notional``; mainnet needs ``network = "mainnet"`` *and*
    ``ctx.live.mainnet_flag``; local stamps use ``ctx.live.clock_ns`` (the engine's clock).
    """
    live = ctx.live
    if live is None:
        raise VenueError("the hyperliquid venue is live only: build it with its live context")
    params = ctx.params if isinstance(ctx.params, HyperliquidParams) else None
    return from_settings(
        live.connection,
        ctx.instrument,
        max_order_notional=ctx.risk.max_order_notional,
        mainnet_flag=live.mainnet_flag,
        params=params,
        environ=live.environ,
        clock_ns=live.clock_ns,
    )


__all__ = ["HyperliquidVenue", "build_live", "check_instrument", "from_settings", "live_venue"]
