"""Accounts of the emulator: each one trades on its own simulated exchange.

Every funded address has a :class:`~mmkit.venues.sim.venue.SimVenue` (no latency; the
matching of the built-in simulated exchange) that sees the same market, a portfolio for the
``clearinghouseState`` figures, the venue-style order and fill records behind ``/info``, a
request budget and its leverage. Agents (API wallets) act for a master account.

:meth:`Account.run` submits mmkit actions and turns what the simulated exchange answers
into records and into the user messages the WebSocket publishes (``orderUpdates``,
``userFills``, ``user``).
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmkit.core.actions import Action
from mmkit.core.events import ActionResult, BookSnapshot, Event, OrderStatus, OrderUpdate, OwnFill
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_MS, Instrument, Side, Tif
from mmkit.errors import MmkitError
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.limits import AddressBudget
from mmkit.venues.emulator.rows import Json, OrderRecord, fill_direction, num
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.venue import SimVenue

log = logging.getLogger("mmkit.emulator")

_STATUS_TEXT = {
    OrderStatus.OPEN: "open",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.OTHER_CANCELED: "canceled",
}


@dataclass
class UserMessage:
    """A message for the subscribers of one user: ``channel`` is ``orderUpdates`` or ``fills``
    (published on ``userFills`` and on ``user``)."""

    user: str
    channel: str
    rows: list[Json]


@dataclass
class PendingMeta:
    """What the emulator knows of an order it submitted that the simulator does not."""

    public_cloid: str | None
    reduce_only: bool
    tif: Tif


@dataclass
class Account:
    address: str
    venue: SimVenue
    instrument: Instrument
    balance_usd: float
    budget: AddressBudget
    portfolio: Portfolio = field(default_factory=Portfolio)
    orders: OrderedDict[int, OrderRecord] = field(default_factory=OrderedDict)
    fills: deque[Json] = field(default_factory=deque)
    leverage: int = 20
    is_cross: bool = True
    schedule_cancel_ms: int | None = None
    #: scheduleCancel fires on ``schedule_cancel_day`` (UTC day number): at most 10 a day
    schedule_cancel_fires: int = 0
    schedule_cancel_day: int = -1
    meta_by_cloid: dict[str, PendingMeta] = field(default_factory=dict)
    open_oids: set[int] = field(default_factory=set)

    # -- queries ---------------------------------------------------------------------------
    def open_orders(self) -> list[OrderRecord]:
        return [self.orders[o] for o in sorted(self.open_oids)]

    def find(self, target: int | str) -> OrderRecord | None:
        """An order by oid, or by cloid (the open one first, else the newest)."""
        if isinstance(target, int):
            return self.orders.get(target)
        hit = None
        for o in reversed(self.orders.values()):
            if o.cloid == target:
                if o.status == "open":
                    return o
                hit = hit or o
        return hit

    def open_by_cloid(self, cloid: str) -> OrderRecord | None:
        for oid in self.open_oids:
            o = self.orders[oid]
            if o.cloid == cloid:
                return o
        return None


class AccountBook:
    """All accounts and agents; decides who may trade."""

    def __init__(self, cfg: EmulatorConfig, instrument: Instrument) -> None:
        self.cfg = cfg
        self.instrument = instrument
        self.accounts: dict[str, Account] = {}
        self.agents: dict[str, str] = {k.lower(): v.lower() for k, v in cfg.agents.items()}
        self.agent_names: dict[str, str] = {}
        self.seen: set[str] = {a.lower() for a in cfg.accounts}
        self._tids = itertools.count(1)
        self._sim_params = SimParams(
            maker_fee=cfg.maker_fee,
            taker_fee=cfg.taker_fee,
            entry_latency_ms=0.0,
            response_latency_ms=0.0,
            feed_latency_ms=0.0,
            max_orders=cfg.open_order_cap,
            enforce_min_notional=True,
            enforce_lot=True,
            tick=instrument.tick,
        )
        self.last_book: Event | None = None
        self.market_errors = 0
        #: the current true book, given to an account opened mid-session
        self.book_source: Callable[[], BookSnapshot | None] | None = None
        self.last_trade_px = float("nan")
        for a in cfg.accounts:
            self.open(a)

    # -- who is who ------------------------------------------------------------------------
    def note_seen(self, address: str) -> None:
        """An address used in a query or subscription (funded in ``seen`` mode)."""
        a = address.lower()
        if a not in self.agents:
            self.seen.add(a)

    def master_of(self, signer: str) -> str | None:
        """The account a signer acts for, or None if the signer does not exist."""
        s = signer.lower()
        if s in self.agents:
            return self.agents[s]
        if s in self.accounts:
            return s
        mode = self.cfg.funding
        if mode == "any" or (mode == "seen" and s in self.seen):
            return s
        return None

    def get(self, address: str) -> Account | None:
        return self.accounts.get(address.lower())

    def warm_up(self) -> None:
        """Compile the simulated exchange's kernels on a throwaway venue (no-op when cached)."""
        from mmkit.runtime.precompile import exercise_venue

        exercise_venue(SimVenue(self._sim_params, self.instrument, self.cfg.seed), self.instrument)

    def open(self, address: str) -> Account:
        a = address.lower()
        acct = self.accounts.get(a)
        if acct is not None:
            return acct
        venue = SimVenue(self._sim_params, self.instrument, self.cfg.seed)
        current = self.book_source() if self.book_source is not None else None
        first = current if current is not None else self.last_book
        if first is not None:
            venue.on_market(first, first.ts)
        acct = Account(
            a,
            venue,
            self.instrument,
            self.cfg.balance_usd,
            AddressBudget(initial=self.cfg.address_initial_budget),
        )
        self.accounts[a] = acct
        return acct

    # -- running the simulated exchanges ---------------------------------------------------
    def on_market(self, ev: Event) -> list[UserMessage]:
        if isinstance(ev, BookSnapshot):
            self.last_book = ev
        out: list[UserMessage] = []
        for acct in self.accounts.values():
            try:
                acct.venue.on_market(ev, ev.ts)
            except MmkitError as exc:  # data the simulated exchange cannot take: skip it
                self.market_errors += 1
                if self.market_errors <= 5:
                    log.error("emulator: market event skipped for %s: %s", acct.address, exc)
                continue
            out += self.ingest(acct, acct.venue.drain(ev.ts))
        return out

    def run(
        self,
        acct: Account,
        actions: Sequence[Action],
        now_ns: int,
        *,
        status: str | None = None,
    ) -> tuple[dict[int, ActionResult], list[UserMessage]]:
        """Submit actions now; the results by request id and the user messages.

        ``status`` names the final state of the orders these actions end (e.g.
        ``scheduledCancel``) instead of the plain ``canceled``."""
        acct.venue.submit(list(actions), now_ns)
        events = acct.venue.drain(now_ns)
        results = {e.request_id: e for e in events if isinstance(e, ActionResult)}
        return results, self.ingest(acct, events, status=status)

    def ingest(
        self, acct: Account, events: Sequence[Event], *, status: str | None = None
    ) -> list[UserMessage]:
        updates: list[Json] = []
        fills: list[Json] = []
        for ev in events:
            if isinstance(ev, OrderUpdate):
                rec = self._order(acct, ev, status)
                if rec is not None:
                    updates.append(rec.update_row())
            elif isinstance(ev, OwnFill):
                fills.append(self._fill(acct, ev))
        out = []
        if updates:
            out.append(UserMessage(acct.address, "orderUpdates", updates))
        if fills:
            out.append(UserMessage(acct.address, "fills", fills))
        return out

    def _order(self, acct: Account, u: OrderUpdate, status: str | None) -> OrderRecord | None:
        ts_ms = u.ts // NS_PER_MS
        rec = acct.orders.get(u.oid)
        if rec is None:
            meta = acct.meta_by_cloid.get(u.cloid or "")
            rec = OrderRecord(
                oid=u.oid,
                coin=acct.instrument.coin,
                side=u.side,
                limit_px=u.px,
                sz=u.sz,
                orig_sz=u.orig_sz,
                timestamp_ms=ts_ms,
                cloid=meta.public_cloid if meta else u.cloid,
                reduce_only=meta.reduce_only if meta else False,
                tif=meta.tif if meta else Tif.GTC,
                status_ts_ms=ts_ms,
            )
            acct.orders[u.oid] = rec
            self._forget_old(acct)
        rec.sz = u.sz
        rec.status = u.raw_status or _STATUS_TEXT[u.status]
        if status is not None and u.status is OrderStatus.CANCELED:
            rec.status = status
        rec.status_ts_ms = ts_ms
        if u.status is OrderStatus.OPEN:
            acct.open_oids.add(u.oid)
        else:
            acct.open_oids.discard(u.oid)
        return rec

    def _forget_old(self, acct: Account) -> None:
        keep = self.cfg.order_status_memory
        while len(acct.orders) > keep:
            oid = next(iter(acct.orders))
            if oid in acct.open_oids:
                acct.orders.move_to_end(oid)  # open orders are never forgotten
                if all(o in acct.open_oids for o in acct.orders):
                    return
                continue
            del acct.orders[oid]

    def _fill(self, acct: Account, f: OwnFill) -> Json:
        pf = acct.portfolio
        start = pf.position
        realized = pf.realized
        pf.apply_fill(f)
        tid = next(self._tids)
        notional = f.px * f.sz
        acct.budget.volume_usd += notional
        rec = acct.orders.get(f.oid)
        cloid = rec.cloid if rec is not None else f.cloid
        row: Json = {
            "coin": acct.instrument.coin,
            "px": num(f.px),
            "sz": num(f.sz),
            "side": f.side.wire,
            "time": f.ts // NS_PER_MS,
            "startPosition": num(start),
            "dir": fill_direction(start, float(f.side) * f.sz),
            "closedPnl": num(pf.realized - realized, 6),
            "hash": f"0x{tid:064x}",
            "oid": f.oid,
            "crossed": f.crossed,
            "fee": num(f.fee, 6),
            "feeToken": "USDC",
            "tid": tid,
        }
        if cloid is not None:
            row["cloid"] = cloid
        acct.fills.append(row)
        while len(acct.fills) > self.cfg.max_fills_kept:
            acct.fills.popleft()
        return row

    def position(self, address: str) -> float:
        acct = self.get(address)
        return acct.portfolio.position if acct is not None else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            a.address: {
                "position": a.portfolio.position,
                "open_orders": [o.open_row() for o in a.open_orders()],
                "fills": len(a.fills),
                "requests_used": a.budget.used,
                "volume_usd": a.budget.volume_usd,
            }
            for a in self.accounts.values()
        }


def side_of(is_buy: bool) -> Side:
    return Side.BUY if is_buy else Side.SELL


__all__ = ["Account", "AccountBook", "PendingMeta", "UserMessage", "side_of"]
