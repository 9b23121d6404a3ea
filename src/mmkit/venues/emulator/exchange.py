"""``POST /exchange``: authenticate, rate-limit and apply actions on the simulated exchange.

Checks in the venue's order: body shape (HTTP 422), IP weight (HTTP 429), signer recovery
(unknown signer: ``User or API Wallet 0x… does not exist.``), expiry, nonce, address budget,
then the action itself: each order's price and size rules and minimum value, then matching
by the account's :class:`~mmkit.venues.sim.venue.SimVenue`. Every error string comes from
:data:`mmkit.venues.hyperliquid.errors.MESSAGES` (or the simulated exchange, which formats
the same catalogue).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mmkit import rounding
from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place
from mmkit.core.events import ActionResult, Trade
from mmkit.core.outcomes import Outcome
from mmkit.core.types import Side, Tif
from mmkit.errors import VenueError
from mmkit.venues.emulator.accounts import Account, AccountBook, PendingMeta, UserMessage, side_of
from mmkit.venues.emulator.clock import Clock
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.faults import POST_ONLY_MESSAGE, FaultState
from mmkit.venues.emulator.limits import IpLimiter, NonceBook, exchange_weight
from mmkit.venues.emulator.rows import Json, num
from mmkit.venues.emulator.schema import (
    USER_SIGNED_ACTIONS,
    SchemaError,
    batch_length,
    check_envelope,
    check_order_wire,
)
from mmkit.venues.hyperliquid.errors import MESSAGES, fmt_amount
from mmkit.venues.hyperliquid.signing import (
    APPROVE_AGENT_TYPES,
    recover_signer,
    recover_user_signer,
)

MAX_BATCH_WEIGHT = 200
MAX_PRICE_DEVIATION = 0.8
SCHEDULE_CANCEL_LEAD_MS = 5_000
#: scheduleCancel fires per account and UTC day (the venue's documented limit)
SCHEDULE_CANCEL_DAILY_FIRES = 10
MS_PER_DAY = 86_400_000
#: the emulator's wording (the venue's text for this case is not documented)
SCHEDULE_CANCEL_LIMIT_MESSAGE = (
    "Scheduled cancel triggered too many times today (max {limit} per day); resets at 00:00 UTC."
)

Publish = Callable[[list[UserMessage]], None]


@dataclass
class Reply:
    """An HTTP answer: JSON (``payload`` is a dict/list) or text."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_json(self) -> bool:
        return not isinstance(self.payload, str)


def ok_default() -> Reply:
    return Reply(200, {"status": "ok", "response": {"type": "default"}})


def err(message: str) -> Reply:
    return Reply(200, {"status": "err", "response": message})


def statuses(kind: str, rows: list[Any]) -> Reply:
    return Reply(200, {"status": "ok", "response": {"type": kind, "data": {"statuses": rows}}})


def _suffix(msg: str, asset: int) -> str:
    return f"{msg} asset={asset}"


@dataclass
class _Entry:
    """One order of a batch after validation: an mmkit action, or its error status."""

    action: Action | None = None
    error: str | None = None


class ExchangeHandler:
    def __init__(
        self,
        cfg: EmulatorConfig,
        book: AccountBook,
        clock: Clock,
        faults: FaultState,
        ip_limits: IpLimiter,
        publish: Publish,
        mid: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self.cfg = cfg
        self.book = book
        self.clock = clock
        self.faults = faults
        self.ip_limits = ip_limits
        self.publish = publish
        self.mid = mid
        self.monotonic = monotonic
        self.nonces = NonceBook()
        self._rid = itertools.count(1)
        self._internal = itertools.count(1)
        self.asset = cfg.asset
        self.inst = book.instrument
        #: the signer recovered by the latest :meth:`handle` (None: not recovered)
        self.last_signer: str | None = None

    # ------------------------------------------------------------------ entry point
    def handle(self, raw: object, ip: str) -> Reply:
        self.last_signer = None
        try:
            body = check_envelope(raw)
        except SchemaError as exc:
            return Reply(422, str(exc))
        action: Mapping[str, Any] = body["action"]
        n = batch_length(action)
        if not self.ip_limits.admit(ip, exchange_weight(n), self.monotonic()):
            return Reply(
                429, "429 Too Many Requests", {"Retry-After": f"{self.cfg.retry_after_s:g}"}
            )
        if n > MAX_BATCH_WEIGHT:
            return err(MESSAGES["batch_too_large"])
        nonce: int = body["nonce"]
        vault = body.get("vaultAddress")
        expires = body.get("expiresAfter")
        kind = action["type"]
        try:
            if kind in USER_SIGNED_ACTIONS:
                signer = self._user_signer(action, body["signature"])
            else:
                signer = recover_signer(
                    action,
                    nonce,
                    vault.lower() if vault else None,
                    expires,
                    body["signature"],
                    False,
                )
        except (VenueError, ValueError, TypeError, OverflowError):
            # SignatureError, a user-signed action without its chain id, or an action that
            # cannot be hashed (an integer beyond 64 bits): the venue's answer to all of them
            return err(MESSAGES["unrecoverable"])
        self.last_signer = signer  # for the server's order-arrival log
        now_ms = self.clock.now_ms()
        if kind in USER_SIGNED_ACTIONS:
            return self._approve_agent(action, nonce, signer, now_ms)
        master = self.book.master_of(signer)
        if master is None:
            return err(MESSAGES["unknown_signer"].format(address=signer))
        owner = vault.lower() if isinstance(vault, str) else master
        if expires is not None and expires < now_ms:
            return err(MESSAGES["expired"])
        problem = self.nonces.check(signer, nonce, now_ms)
        if problem is not None:
            return err(problem)
        acct = self.book.open(owner)
        cancels_only = kind in ("cancel", "cancelByCloid")
        problem = acct.budget.charge(n, now_ms, cancels_only=cancels_only)
        if problem is not None:
            return err(problem)
        self.nonces.record(signer, nonce)
        return self._apply(acct, action, now_ms)

    def _user_signer(self, action: Mapping[str, Any], signature: Any) -> str:
        msg = dict(action)
        msg.setdefault("agentName", "")
        return recover_user_signer(
            msg, "HyperliquidTransaction:ApproveAgent", APPROVE_AGENT_TYPES, signature
        )

    def _approve_agent(
        self, action: Mapping[str, Any], nonce: int, signer: str, now_ms: int
    ) -> Reply:
        if action.get("nonce") != nonce:
            return err("Action nonce does not match the request nonce.")
        if signer in self.book.agents or self.book.master_of(signer) != signer:
            return err(MESSAGES["must_deposit"].format(address=signer))
        problem = self.nonces.check(signer, nonce, now_ms)
        if problem is not None:
            return err(problem)
        self.nonces.record(signer, nonce)
        self.book.open(signer)
        agent = str(action["agentAddress"]).lower()
        # a new unnamed agent (or one with the same name) replaces the previous one
        name = str(action.get("agentName", ""))
        for a, m in list(self.book.agents.items()):
            if m == signer and self.book.agent_names.get(a, "") == name:
                del self.book.agents[a]
        self.book.agents[agent] = signer
        self.book.agent_names[agent] = name
        return ok_default()

    # ------------------------------------------------------------------ actions
    def _apply(self, acct: Account, action: Mapping[str, Any], now_ms: int) -> Reply:
        kind = action["type"]
        if kind == "order":
            rows = self._orders(acct, action["orders"])
            return statuses("order", rows)
        if kind == "cancel":
            targets: list[int | str] = [c["o"] for c in action["cancels"]]
            assets = [c["a"] for c in action["cancels"]]
            return statuses("cancel", self._cancels(acct, targets, assets))
        if kind == "cancelByCloid":
            targets = [c["cloid"] for c in action["cancels"]]
            assets = [c["asset"] for c in action["cancels"]]
            return statuses("cancel", self._cancels(acct, targets, assets))
        if kind == "batchModify":
            mods = [(m["oid"], m["order"]) for m in action["modifies"]]
            return statuses("order", self._modifies(acct, mods))
        if kind == "modify":
            row = self._modifies(acct, [(action["oid"], action["order"])])[0]
            if isinstance(row, dict) and "error" in row:
                return err(str(row["error"]))
            return ok_default()
        if kind == "scheduleCancel":
            return self._schedule_cancel(acct, action.get("time"), now_ms)
        if kind == "updateLeverage":
            return self._update_leverage(acct, action)
        if kind == "reserveRequestWeight":
            acct.budget.reserved += max(0, int(action["weight"]))
            return ok_default()
        return ok_default()  # noop: the nonce is burnt

    def place_unsigned(self, address: str, wires: list[Mapping[str, Any]]) -> list[Any]:
        """Orders placed for ``address`` without a signature (the control endpoint's
        ``place``: an order the client did not send, e.g. from another process)."""
        for i, w in enumerate(wires):
            check_order_wire(w, f"place[{i}]")
        return self._orders(self.book.open(address), list(wires))

    def _check_wire(self, w: Mapping[str, Any]) -> str | None:
        """The status error of an order wire that fails the venue's rules, else None."""
        a = self.asset
        if w["a"] != a:
            return f"Invalid asset {w['a']}."
        if "trigger" in w["t"]:
            return "Trigger orders are not supported by the emulator."
        p, s = w["p"], w["s"]
        szd = self.inst.sz_decimals
        if not rounding.is_valid_price_str(p, szd, self.inst.max_decimals):
            return MESSAGES["invalid_price"]
        if not rounding.is_valid_size_str(s, szd):
            return MESSAGES["invalid_size"]
        px, sz = float(p), float(s)
        if not w["r"] and px * sz < self.cfg.min_notional:
            amount = fmt_amount(self.cfg.min_notional)
            return _suffix(MESSAGES["min_notional"].format(amount=amount), a)
        mid = self.mid()
        if mid == mid and mid > 0 and abs(px / mid - 1.0) > MAX_PRICE_DEVIATION:
            return MESSAGES["price_too_far"]
        tif = w["t"]["limit"]["tif"]
        if tif != "Alo" and self.faults.active("post_only", self.monotonic()):
            return POST_ONLY_MESSAGE
        return None

    def _margin(
        self, acct: Account, w: Mapping[str, Any], replacing: int | None = None
    ) -> str | None:
        """``Insufficient margin…`` when the worst-case position on the order's side (open
        orders of that side filled, plus this one) needs more margin at the account's
        leverage than the account is worth; reduce-only orders are exempt."""
        if w["r"]:
            return None
        px, sz = float(w["p"]), float(w["s"])
        mark = self.mid()
        if not (mark == mark and mark > 0):
            mark = px
        pf = acct.portfolio
        side = 1.0 if w["b"] else -1.0
        resting = sum(
            o.sz for o in acct.open_orders() if float(o.side) == side and o.oid != replacing
        )
        worst = abs(pf.position + side * (resting + sz))
        value = acct.balance_usd + pf.cash + pf.position * mark
        if worst * mark / max(1, acct.leverage) > value:
            return _suffix(MESSAGES["margin"], self.asset)
        return None

    def _sim_cloid(self, acct: Account, public: str | None, w: Mapping[str, Any]) -> str:
        cloid = public if public is not None else f"0x{(0xE0 << 120) | next(self._internal):032x}"
        acct.meta_by_cloid[cloid] = PendingMeta(public, bool(w["r"]), Tif(w["t"]["limit"]["tif"]))
        return cloid

    def _place(self, acct: Account, w: Mapping[str, Any]) -> _Entry:
        problem = self._check_wire(w) or self._margin(acct, w)
        if problem is not None:
            return _Entry(error=problem)
        cloid = self._sim_cloid(acct, w.get("c"), w)
        return _Entry(
            Place(
                next(self._rid),
                cloid,
                side_of(w["b"]),
                float(w["p"]),
                float(w["s"]),
                Tif(w["t"]["limit"]["tif"]),
                bool(w["r"]),
            )
        )

    def _orders(self, acct: Account, wires: list[Mapping[str, Any]]) -> list[Any]:
        entries = [self._place(acct, w) for w in wires]
        return self._run(acct, entries)

    def _run(self, acct: Account, entries: list[_Entry]) -> list[Any]:
        actions = [e.action for e in entries if e.action is not None]
        results: dict[int, ActionResult] = {}
        if actions:
            results, msgs = self.book.run(acct, actions, self.clock.now_ns())
            self.publish(msgs)
        return [self._status(e, results, acct) for e in entries]

    def _status(self, e: _Entry, results: Mapping[int, ActionResult], acct: Account) -> Any:
        if e.action is None:
            return {"error": e.error or "Unknown error."}
        r = results.get(e.action.request_id)
        if r is None:
            return {"error": "Order was not processed."}
        if r.outcome is Outcome.CANCELED:
            return "success"
        if r.outcome is Outcome.REJECTED:
            return {"error": r.message or "Order rejected."}
        cloid = None
        if r.cloid is not None:
            meta = acct.meta_by_cloid.get(r.cloid)
            cloid = meta.public_cloid if meta is not None else r.cloid
        if r.outcome is Outcome.FILLED:
            body: Json = {"totalSz": num(r.filled_sz), "avgPx": num(r.avg_px), "oid": r.oid}
            if cloid is not None:
                body["cloid"] = cloid
            return {"filled": body}
        rest: Json = {"oid": r.oid}
        if cloid is not None:
            rest["cloid"] = cloid
        return {"resting": rest}

    def _race(self, acct: Account, oid: int) -> None:
        """``fill_race``: the order is filled by the market just before the request lands."""
        if not self.faults.active("fill_race", self.monotonic()):
            return
        rec = acct.orders.get(oid)
        if rec is None or rec.status != "open":
            return
        tick = self.inst.tick
        px = rec.limit_px - tick if rec.side is Side.BUY else rec.limit_px + tick
        now = self.clock.now_ns()
        trade = Trade(now, px, rec.sz * 1000.0, rec.side.opposite)
        acct.venue.on_market(trade, now)
        self.publish(self.book.ingest(acct, acct.venue.drain(now)))

    def _cancels(self, acct: Account, targets: list[int | str], assets: list[int]) -> list[Any]:
        entries = []
        gone = _suffix(MESSAGES["cancel_gone"], self.asset)
        for t, a in zip(targets, assets, strict=True):
            rec = acct.find(t) if a == self.asset else None
            if rec is None or rec.status != "open":
                entries.append(_Entry(error=_suffix(MESSAGES["cancel_gone"], a)))
                continue
            self._race(acct, rec.oid)
            if rec.status != "open":
                entries.append(_Entry(error=gone))
                continue
            entries.append(_Entry(Cancel(next(self._rid), None, rec.oid)))
        return self._run(acct, entries)

    def _modifies(
        self, acct: Account, mods: list[tuple[int | str, Mapping[str, Any]]]
    ) -> list[Any]:
        entries = []
        for target, w in mods:
            rec = acct.find(target)
            if rec is None or rec.status != "open":
                entries.append(_Entry(error=MESSAGES["modify_gone"]))
                continue
            problem = self._check_wire(w) or self._margin(acct, w, rec.oid)
            if problem is not None:
                entries.append(_Entry(error=problem))
                continue
            self._race(acct, rec.oid)
            if rec.status != "open":
                entries.append(_Entry(error=MESSAGES["modify_gone"]))
                continue
            public = w.get("c") if w.get("c") is not None else rec.cloid
            cloid = self._sim_cloid(acct, public, w)
            entries.append(
                _Entry(
                    Modify(
                        next(self._rid),
                        cloid,
                        rec.oid,
                        side_of(w["b"]),
                        float(w["p"]),
                        float(w["s"]),
                        Tif(w["t"]["limit"]["tif"]),
                        bool(w["r"]),
                    )
                )
            )
        return self._run(acct, entries)

    def _schedule_cancel(self, acct: Account, time_ms: int | None, now_ms: int) -> Reply:
        if time_ms is None:
            acct.schedule_cancel_ms = None
            return ok_default()
        if acct.schedule_cancel_day != now_ms // MS_PER_DAY:
            acct.schedule_cancel_day, acct.schedule_cancel_fires = now_ms // MS_PER_DAY, 0
        if acct.schedule_cancel_fires >= SCHEDULE_CANCEL_DAILY_FIRES:
            return err(SCHEDULE_CANCEL_LIMIT_MESSAGE.format(limit=SCHEDULE_CANCEL_DAILY_FIRES))
        need = self.cfg.schedule_cancel_min_volume
        if acct.budget.volume_usd < need:
            return err(
                MESSAGES["schedule_cancel_volume"].format(
                    required=num(need, 2), traded=f"{acct.budget.volume_usd:.2f}"
                )
            )
        if time_ms < now_ms + SCHEDULE_CANCEL_LEAD_MS:
            return err("Scheduled cancel time too early, must be at least 5 seconds from now.")
        acct.schedule_cancel_ms = time_ms
        return ok_default()

    def fire_scheduled_cancels(self) -> None:
        """Cancel every open order of the accounts whose dead man's switch has expired."""
        now = self.clock.now_ns()
        now_ms = now // 1_000_000
        for acct in self.book.accounts.values():
            t = acct.schedule_cancel_ms
            if t is None or now_ms < t:
                continue
            acct.schedule_cancel_ms = None
            day = now_ms // MS_PER_DAY
            if acct.schedule_cancel_day != day:
                acct.schedule_cancel_day, acct.schedule_cancel_fires = day, 0
            acct.schedule_cancel_fires += 1
            _, msgs = self.book.run(
                acct, [CancelAll(next(self._rid), "scheduleCancel")], now, status="scheduledCancel"
            )
            self.publish(msgs)

    def _update_leverage(self, acct: Account, action: Mapping[str, Any]) -> Reply:
        if action["asset"] != self.asset:
            return err(f"Invalid asset {action['asset']}.")
        lev = int(action["leverage"])
        if not 1 <= lev <= self.cfg.max_leverage:
            return err(f"Invalid leverage value {lev}; max leverage is {self.cfg.max_leverage}.")
        cross = bool(action["isCross"])
        if cross != acct.is_cross and acct.portfolio.position != 0.0:
            return err(MESSAGES["leverage_switch"])
        acct.leverage, acct.is_cross = lev, cross
        return ok_default()


__all__ = ["ExchangeHandler", "Reply", "err", "ok_default", "statuses"]
