"""The live Hyperliquid venue: the REST client and the WebSocket stream behind one object.

It follows the live runner's ``AsyncVenue`` protocol (:mod:`mmkit.runtime.live`):
``start(sink)`` checks the configured instrument against the venue's ``meta``, opens the
stream (book, trades, bbo; orderUpdates, userFills, userEvents for the master address) and
pushes every event to ``sink``; ``submit(actions)`` sends actions and pushes their results;
``close()`` stops everything. After every reconnection the stream backfills the position,
the open orders and recent fills by REST.

:func:`from_settings` builds it from the ``[venue]``/``[risk]``/``[instrument]`` config
sections plus the command line's explicit ``--mainnet`` flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mmkit.core.actions import Action
from mmkit.core.events import Event, FeedStatus
from mmkit.core.types import Instrument
from mmkit.errors import VenueError
from mmkit.venues.hyperliquid import info as inf
from mmkit.venues.hyperliquid.client import (
    HyperliquidClient,
    RateLimitedError,
    TransientVenueError,
    unknown_for,
)
from mmkit.venues.hyperliquid.keys import load_signing_key
from mmkit.venues.hyperliquid.params import HyperliquidParams
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint
from mmkit.venues.hyperliquid.stream import market_subscriptions, user_subscriptions
from mmkit.venues.hyperliquid.ws import HyperliquidStream, StreamSettings

log = logging.getLogger("mmkit.venues.hyperliquid")

EventSink = Callable[[Event], None]
BACKFILL_MARGIN_MS = 1_000
#: how long start-up keeps retrying transient failures before giving up
STARTUP_RETRY_S = 60.0


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
        loop = asyncio.get_running_loop()
        give_up = loop.time() + deadline_s
        s = self.stream_settings
        delay = s.backoff_initial_s
        while True:
            try:
                return await self.client.meta()
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
            known_fill_tids=() if self.resume_fills is None else self.resume_fills[1],
        )
        self._task = asyncio.create_task(self._pump(self.stream, sink))

    async def _pump(self, stream: HyperliquidStream, sink: EventSink) -> None:
        try:
            async for ev in stream.events():
                sink(ev)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # fatal (rejected subscription): tell the runner
            self.failure = exc
            log.error("hyperliquid stream stopped: %s", exc)
            now = self.client.now_ns()
            sink(
                FeedStatus(
                    now,
                    stream.name,
                    connected=False,
                    gap=True,
                    detail=f"stream failed: {exc}",
                    local_ts=now,
                )
            )

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
    return HyperliquidVenue(
        HyperliquidClient(settings, key), instrument, stream_settings=stream, bbo=p.bbo
    )


def live_venue(
    settings: Any, *, mainnet_flag: bool = False, environ: Mapping[str, str] | None = None
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
    )


def build(ctx: Any) -> Any:
    """Registry factory. The live venue is asynchronous (``start``/``submit``/``close``), so
    it is not a synchronous :class:`~mmkit.components.Venue`: the live runner builds it with
    :func:`live_venue`. Backtests and paper trading use the ``sim`` venue."""
    raise VenueError(
        "the 'hyperliquid' venue is live and asynchronous: run it with "
        "`mmkit trade --venue hyperliquid` (testnet by default); backtests and paper trading "
        "use components.venue = 'sim'"
    )


__all__ = ["HyperliquidVenue", "build", "check_instrument", "from_settings", "live_venue"]
