"""Async REST client of Hyperliquid: ``POST /info`` queries and signed ``POST /exchange`` actions.

* Every query is made for the master (or sub-account/vault) address, never for an agent key.
* Every order is checked (venue price/size grid, maximum notional) before it is signed.
* HTTP 429 blocks further requests until ``Retry-After`` (default 1 s) has passed; /exchange
  actions sent meanwhile are refused locally with ``RATE_LIMITED_IP``.
* A transport failure (or timeout, or an unreadable reply) of an /exchange call gives
  ``Outcome.UNKNOWN`` for every entry: the action may have been applied, so it is **never
  retried**; the executor resolves the fate by query. Only a failure to *connect* (the
  request provably never left) is a definite ``REJECTED`` with reason ``SERVER``.

:meth:`HyperliquidClient.execute` turns mmkit actions into venue actions (cancels first,
then modifies, then places, ALO batched apart from GTC/IOC) and answers with mmkit events.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import aiohttp

from mmkit import safejson
from mmkit.core.actions import (
    Action,
    Cancel,
    CancelAll,
    Modify,
    Place,
    QueryOrder,
    SyncState,
    is_valid_cloid,
)
from mmkit.core.events import (
    ActionResult,
    BookSnapshot,
    Event,
    FeedStatus,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Instrument, Side, Tif
from mmkit.errors import VenueError
from mmkit.execution.rate_limit import MAX_BATCH, MAX_CANCELS  # the batches the tracker weighs
from mmkit.venues.hyperliquid import info as inf
from mmkit.venues.hyperliquid import wire
from mmkit.venues.hyperliquid.errors import ClassifiedError
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.nonce import NonceSource
from mmkit.venues.hyperliquid.replies import (
    ExchangeReply,
    Pending,
    parse_exchange_http,
    parse_retry_after,
    results_of,
    unknown_results,
)
from mmkit.venues.hyperliquid.settings import ClientSettings
from mmkit.venues.hyperliquid.signing import signed_envelope
from mmkit.venues.priority import in_emergency_lane

DEFAULT_RETRY_AFTER_S = 1.0
#: rows per userFills / userFillsByTime reply at most
FILLS_PAGE = 2000
#: failures that prove the request never reached the venue (a definite, harmless failure)
_NOT_SENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
)


class TransientVenueError(VenueError):
    """A failure that may pass: transport error, timeout, 5xx or 429. Worth retrying an
    /info read after a delay (never an /exchange action, whose outcome is unknown).

    ``kind`` says which (``"transport"``, ``"timeout"``, ``"server"``, ``"rate_limited"``)
    so recovery can count faults by cause without parsing messages."""

    def __init__(self, message: str, kind: str = "transport") -> None:
        self.kind = kind
        super().__init__(message)


class RateLimitedError(TransientVenueError):
    """HTTP 429 on /info; ``retry_after_s`` is how long to wait."""

    def __init__(self, endpoint: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"Hyperliquid {endpoint}: HTTP 429 (IP rate limit); retry after {retry_after_s:.1f} s",
            "rate_limited",
        )


class AccountListener(Protocol):
    """Told when the REST account path fails or returns a fresh snapshot (the live venue's
    recovery, :mod:`mmkit.venues.hyperliquid.health`); returns the events to emit."""

    def account_failed(self, what: str, exc: VenueError) -> list[Event]: ...

    def account_snapshot(self, snap: PositionSnapshot) -> list[Event]: ...


def _chunks(items: Sequence[Any], n: int) -> list[Sequence[Any]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


class HyperliquidClient:
    def __init__(
        self,
        settings: ClientSettings,
        key: SigningKey | None,
        *,
        session: aiohttp.ClientSession | None = None,
        nonces: NonceSource | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        self._key = key
        self.user = settings.query_user(key.address if key is not None else None)
        self._vault = settings.vault.lower() or None
        self._session = session
        self._own_session = session is None
        self.nonces = nonces or NonceSource()
        self._clock_ns = clock_ns
        self._monotonic = monotonic
        self._blocked_until = 0.0
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s)
        # what we sent, by cloid, to describe an order the venue has forgotten
        self._sent: OrderedDict[str, tuple[Side, float, float]] = OrderedDict()
        #: told about failures and fresh snapshots of the account path (the live venue
        #: sets it to run recovery); None: a failure is reported as a plain FeedStatus
        self.account_listener: AccountListener | None = None

    def __repr__(self) -> str:
        url = self.endpoint.rest_url
        return f"HyperliquidClient(url={url}, user={self.user}, key={self._key!r})"

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> HyperliquidClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    # ---------------------------------------------------------------- rate limit

    @property
    def blocked_for_s(self) -> float:
        return max(0.0, self._blocked_until - self._monotonic())

    def _note_429(self, retry_after_s: float | None) -> float:
        wait = retry_after_s if retry_after_s is not None else DEFAULT_RETRY_AFTER_S
        self._blocked_until = max(self._blocked_until, self._monotonic() + wait)
        return wait

    # ---------------------------------------------------------------- /info

    async def info(self, body: dict[str, Any]) -> Any:
        """POST /info. Waits out a 429 block first; raises VenueError on any failure."""
        kind = str(body.get("type", "?"))
        wait = self.blocked_for_s
        if wait > 0 and not in_emergency_lane():  # emergency cancels do not wait it out
            await asyncio.sleep(wait)
        url = self.endpoint.rest_url + "/info"
        try:
            async with self._http().post(url, json=body, timeout=self._timeout) as resp:
                text = await resp.text()
                status = resp.status
                retry = resp.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientVenueError(
                f"Hyperliquid info {kind}: request failed: {type(exc).__name__}: {exc}",
                "timeout" if isinstance(exc, TimeoutError) else "transport",
            ) from None
        if status == 429:
            raise RateLimitedError(f"info {kind}", self._note_429(parse_retry_after(retry)))
        if status >= 500:
            raise TransientVenueError(
                f"Hyperliquid info {kind}: HTTP {status}: {text.strip()[:200]}", "server"
            )
        if status != 200:
            raise VenueError(f"Hyperliquid info {kind}: HTTP {status}: {text.strip()[:200]}")
        try:
            return safejson.loads(text)  # JsonRefused is a ValueError
        except ValueError:
            raise VenueError(f"Hyperliquid info {kind}: reply is not JSON: {text[:80]!r}") from None

    async def meta(self) -> list[inf.AssetMeta]:
        return inf.parse_meta(await self.info(inf.info_body("meta", dex="")))

    async def instrument(self, coin: str) -> Instrument:
        book = await self.l2_book(coin)
        ref = None
        if len(book.bid_px) and len(book.ask_px):
            ref = 0.5 * (float(book.bid_px[0]) + float(book.ask_px[0]))
        return inf.find_asset(await self.meta(), coin).instrument(ref_px=ref)

    async def l2_book(self, coin: str) -> BookSnapshot:
        return inf.parse_l2_book(
            await self.info(inf.info_body("l2Book", coin=coin)), local_ts=self._clock_ns()
        )

    async def clearinghouse_state(self, coin: str) -> inf.AccountState:
        body = inf.info_body("clearinghouseState", user=self.user, dex="")
        return inf.parse_clearinghouse_state(await self.info(body), coin)

    async def open_orders(self) -> list[inf.OpenOrderRow]:
        body = inf.info_body("openOrders", user=self.user, dex="")
        return inf.parse_open_orders(await self.info(body))

    async def user_fills(self, coin: str | None = None) -> list[OwnFill]:
        body = inf.info_body("userFills", user=self.user, aggregateByTime=False)
        return inf.parse_user_fills(await self.info(body), coin)

    async def user_fills_since(
        self, start_ms: int, coin: str | None = None, *, max_pages: int = 20
    ) -> list[OwnFill]:
        """Fills (of ``coin``) from ``start_ms`` on, oldest first: ``userFillsByTime`` paged
        by its 2000-row limit, de-duplicated by trade id."""
        out: dict[int, OwnFill] = {}
        start = start_ms
        for _ in range(max_pages):
            body = inf.info_body(
                "userFillsByTime", user=self.user, startTime=start, aggregateByTime=False
            )
            raw = await self.info(body)
            rows = inf.parse_user_fills(raw, None, endpoint="userFillsByTime")
            for f in inf.parse_user_fills(raw, coin, endpoint="userFillsByTime"):
                out.setdefault(f.tid, f)
            if len(rows) < FILLS_PAGE:
                break
            last_ms = max(f.ts for f in rows) // 1_000_000
            # the next page starts at the newest ms seen (inclusive: fills sharing it are
            # de-duplicated by tid); a full page within one ms moves on to the next ms
            start = last_ms if last_ms > start else start + 1
        return sorted(out.values(), key=lambda f: (f.ts, f.tid))

    async def order_status(self, oid_or_cloid: int | str) -> OrderUpdate | None:
        body = inf.info_body("orderStatus", user=self.user, oid=oid_or_cloid)
        return inf.parse_order_status(await self.info(body))

    async def user_rate_limit(self) -> inf.RateLimitState:
        body = inf.info_body("userRateLimit", user=self.user)
        return inf.parse_user_rate_limit(await self.info(body))

    async def position_snapshot(
        self, coin: str, *, orders: bool = True, startup: bool = False
    ) -> PositionSnapshot:
        state = await self.clearinghouse_state(coin)
        open_orders = inf.orders_of(await self.open_orders(), coin) if orders else None
        return state.snapshot(open_orders, local_ts=self._clock_ns(), startup=startup)

    # ---------------------------------------------------------------- /exchange

    def _signing_key(self) -> SigningKey:
        if self._key is None:
            raise VenueError("Hyperliquid: no signing key loaded; actions cannot be sent")
        return self._key

    async def post_action(self, action: dict[str, Any]) -> ExchangeReply:
        """Sign and send one L1 action. Never raises for venue or transport failures: a
        reply that cannot be trusted comes back with ``unknown=True``."""
        key = self._signing_key()
        # the local 429 block holds normal traffic; emergency cancels (runtime.live's emergency
        # lane) go through: they are what the rate-limit reserve is for
        if self.blocked_for_s > 0 and not in_emergency_lane():
            return ExchangeReply(
                0,
                "http",
                error=ClassifiedError(
                    RejectReason.RATE_LIMITED_IP,
                    f"IP rate limited for {self.blocked_for_s:.1f} s more (HTTP 429); not sent",
                ),
            )
        nonce = self.nonces.next()
        expires = nonce + self.settings.expires_after_ms if self.settings.expires_after_ms else None
        body = signed_envelope(key, action, nonce, self._vault, expires, self.endpoint.is_mainnet)
        url = self.endpoint.rest_url + "/exchange"
        try:
            async with self._http().post(url, json=body, timeout=self._timeout) as resp:
                text = await resp.text()
                status = resp.status
                retry = resp.headers.get("Retry-After")
        except _NOT_SENT as exc:  # no connection was made: the action never left
            return ExchangeReply(
                0,
                "http",
                error=ClassifiedError(
                    RejectReason.SERVER, f"not sent, cannot connect: {type(exc).__name__}: {exc}"
                ),
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return ExchangeReply(
                0,
                "http",
                unknown=True,
                error=ClassifiedError(
                    RejectReason.NONE, f"transport failure: {type(exc).__name__}: {exc}"
                ),
            )
        try:
            reply = parse_exchange_http(status, text, retry)
        except VenueError as exc:
            return ExchangeReply(
                status, "http", unknown=True, error=ClassifiedError(RejectReason.NONE, str(exc))
            )
        if status == 429:
            self._note_429(reply.retry_after_s)
        return reply

    async def schedule_cancel(self, time_ms: int | None) -> ExchangeReply:
        return await self.post_action(wire.schedule_cancel_action(time_ms))

    async def update_leverage(
        self, asset: int, leverage: int, *, is_cross: bool = True
    ) -> ExchangeReply:
        return await self.post_action(wire.update_leverage_action(asset, is_cross, leverage))

    async def noop(self) -> ExchangeReply:
        return await self.post_action(wire.noop_action())

    # ---------------------------------------------------------------- mmkit actions

    def now_ns(self) -> int:
        return self._clock_ns()

    def _refused(self, a: Place | Modify, exc: wire.LocalRefusal) -> ActionResult:
        now = self.now_ns()
        return ActionResult(
            now,
            a.request_id,
            a.cloid,
            a.oid if isinstance(a, Modify) else None,
            Outcome.REJECTED,
            exc.reason,
            str(exc),
            local_ts=now,
        )

    def _remember(self, a: Place | Modify) -> None:
        self._sent[a.cloid] = (a.side, a.px, a.sz)
        while len(self._sent) > 4096:
            self._sent.popitem(last=False)

    async def _send_batches(
        self,
        entries: list[tuple[Pending, Any]],
        build: Callable[[list[Any]], dict[str, Any]],
        size: int,
    ) -> list[ActionResult]:
        out: list[ActionResult] = []
        for chunk in _chunks(entries, size):
            pending = [p for p, _ in chunk]
            reply = await self.post_action(build([w for _, w in chunk]))
            now = self.now_ns()
            out += results_of(reply, pending, now, now)
        return out

    async def _places(self, places: Sequence[Place], inst: Instrument) -> list[Event]:
        events: list[Event] = []
        for alo in (True, False):  # ALO-only batches apart (the venue prioritises them)
            entries: list[tuple[Pending, Any]] = []
            for p in places:
                if (p.tif is Tif.ALO) != alo:
                    continue
                try:
                    w = wire.order_wire_of(p, inst, self.settings.max_order_notional)
                except wire.LocalRefusal as exc:
                    events.append(self._refused(p, exc))
                    continue
                self._remember(p)
                entries.append((Pending(p.request_id, p.cloid), w))
            events += await self._send_batches(entries, wire.order_action, MAX_BATCH)
        return events

    async def _modifies(self, modifies: Sequence[Modify], inst: Instrument) -> list[Event]:
        events: list[Event] = []
        entries: list[tuple[Pending, Any]] = []
        for m in modifies:
            try:
                w = wire.order_wire_of(m, inst, self.settings.max_order_notional)
            except wire.LocalRefusal as exc:
                events.append(self._refused(m, exc))
                continue
            self._remember(m)
            entries.append((Pending(m.request_id, m.cloid, m.oid), (wire.modify_target(m), w)))
        events += await self._send_batches(entries, wire.batch_modify_action, MAX_BATCH)
        return events

    async def _cancels(self, cancels: Sequence[Cancel], inst: Instrument) -> list[Event]:
        events: list[Event] = []
        now = self.now_ns()
        for c in cancels:
            if c.oid is None and (c.cloid is None or not is_valid_cloid(c.cloid)):
                events.append(
                    ActionResult(
                        now,
                        c.request_id,
                        c.cloid,
                        None,
                        Outcome.REJECTED,
                        RejectReason.OTHER,
                        f"cancel names no oid and no valid cloid ({c.cloid!r}); not sent",
                        local_ts=now,
                    )
                )
        by_oid = [
            (Pending(c.request_id, c.cloid, c.oid), (inst.asset, c.oid))
            for c in cancels
            if c.oid is not None
        ]
        by_cloid = [
            (Pending(c.request_id, c.cloid), (inst.asset, c.cloid))
            for c in cancels
            if c.oid is None and c.cloid is not None and is_valid_cloid(c.cloid)
        ]
        events += await self._send_batches(by_oid, wire.cancel_action, MAX_CANCELS)
        events += await self._send_batches(by_cloid, wire.cancel_by_cloid_action, MAX_CANCELS)
        return events

    def _account_failed(self, what: str, exc: VenueError) -> list[Event]:
        """Events for a failed read of the account state: what the listener (recovery)
        says, or a disconnect of stream ``account`` when nobody listens."""
        if self.account_listener is not None:
            return self.account_listener.account_failed(what, exc)
        now = self.now_ns()
        return [
            FeedStatus(
                now,
                "account",
                connected=False,
                gap=True,
                detail=f"{what} failed: {exc}",
                local_ts=now,
            )
        ]

    async def _cancel_all(self, ca: CancelAll, inst: Instrument) -> list[Event]:
        now = self.now_ns()
        try:
            resting = inf.orders_of(await self.open_orders(), inst.coin)
        except VenueError as exc:
            return [
                ActionResult(
                    now,
                    ca.request_id,
                    None,
                    None,
                    Outcome.UNKNOWN,
                    RejectReason.NONE,
                    f"cancel-all: open orders unknown: {exc}",
                    local_ts=now,
                ),
                *(
                    self._account_failed("cancel-all open orders", exc)
                    if self.account_listener is not None
                    else []
                ),
            ]
        entries = [(Pending(ca.request_id, o.cloid, o.oid), (inst.asset, o.oid)) for o in resting]
        results = await self._send_batches(entries, wire.cancel_action, MAX_CANCELS)
        now = self.now_ns()
        bad = [
            r
            for r in results
            if r.outcome is Outcome.UNKNOWN
            or (r.outcome is Outcome.REJECTED and not r.reason.order_is_gone)
        ]
        if not bad:
            return [
                ActionResult(
                    now,
                    ca.request_id,
                    None,
                    None,
                    Outcome.CANCELED,
                    message=f"cancelled {len(resting)} orders",
                    local_ts=now,
                )
            ]
        worst = next((r for r in bad if r.outcome is Outcome.UNKNOWN), bad[0])
        return [
            ActionResult(
                now,
                ca.request_id,
                None,
                None,
                worst.outcome,
                worst.reason,
                f"cancel-all: {len(bad)} of {len(resting)} cancels failed: {worst.message}",
                local_ts=now,
            )
        ]

    async def _sync(self, s: SyncState, inst: Instrument) -> list[Event]:
        try:
            snap = await self.position_snapshot(inst.coin, orders=s.orders)
        except VenueError as exc:
            return self._account_failed(f"sync ({s.reason})", exc)
        if s.orders and self.account_listener is not None:
            # position + open orders: a full account snapshot, which also ends an outage
            return [snap, *self.account_listener.account_snapshot(snap)]
        return [snap]

    async def _query(self, q: QueryOrder) -> list[Event]:
        target: int | str | None = q.oid if q.oid is not None else q.cloid
        now = self.now_ns()
        if target is None:
            return []
        try:
            upd = await self.order_status(target)
        except VenueError as exc:
            return self._account_failed(f"order query {target}", exc)
        if upd is not None:
            return [upd]
        side, px, sz = self._sent.get(q.cloid or "", (Side.BUY, 0.0, 0.0))
        return [
            OrderUpdate(
                now,
                q.oid if q.oid is not None else -1,
                q.cloid,
                OrderStatus.REJECTED,
                side,
                px,
                0.0,
                sz,
                local_ts=now,
                raw_status="unknownOid",
            )
        ]

    async def execute(self, actions: Sequence[Action], inst: Instrument) -> list[Event]:
        """Send mmkit actions; return one ActionResult per order action (and snapshots /
        order updates for SyncState / QueryOrder). Never raises for venue failures."""
        events: list[Event] = []
        for ca in (a for a in actions if isinstance(a, CancelAll)):
            events += await self._cancel_all(ca, inst)
        events += await self._cancels([a for a in actions if isinstance(a, Cancel)], inst)
        events += await self._modifies([a for a in actions if isinstance(a, Modify)], inst)
        events += await self._places([a for a in actions if isinstance(a, Place)], inst)
        for s in (a for a in actions if isinstance(a, SyncState)):
            events += await self._sync(s, inst)
        for q in (a for a in actions if isinstance(a, QueryOrder)):
            events += await self._query(q)
        return events


def unknown_for(actions: Sequence[Action], message: str, ts: int) -> list[ActionResult]:
    """UNKNOWN results for order actions whose sending was interrupted."""
    pending = [
        Pending(a.request_id, getattr(a, "cloid", None), getattr(a, "oid", None))
        for a in actions
        if isinstance(a, Place | Modify | Cancel | CancelAll)
    ]
    return unknown_results(pending, ts, message, local_ts=ts)


__all__ = [
    "MAX_BATCH",
    "MAX_CANCELS",
    "AccountListener",
    "HyperliquidClient",
    "RateLimitedError",
    "TransientVenueError",
    "unknown_for",
]
