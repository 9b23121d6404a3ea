"""``POST /info``: the read-only queries, answered from the emulator's records.

Queries are keyed by address only; an address nobody funded gets empty data (like an agent
address on the venue). In ``funding = "seen"`` mode the address queried becomes fundable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from mmkit.core.events import BookSnapshot
from mmkit.venues.emulator.accounts import Account, AccountBook
from mmkit.venues.emulator.clock import Clock
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.exchange import Reply
from mmkit.venues.emulator.limits import IpLimiter, info_weight
from mmkit.venues.emulator.rows import Json, asset_ctx, l2_book, meta, num
from mmkit.venues.hyperliquid.errors import MESSAGES

FILLS_PAGE = 2000
_USER_QUERIES = frozenset(
    {
        "clearinghouseState",
        "openOrders",
        "frontendOpenOrders",
        "userFills",
        "userFillsByTime",
        "orderStatus",
        "userRateLimit",
        "historicalOrders",
    }
)


class InfoError(Exception):
    """A body that does not fit: HTTP 422."""


def _user(body: Mapping[str, Any]) -> str:
    u = body.get("user")
    if not isinstance(u, str) or len(u) != 42 or not u.startswith("0x"):
        raise InfoError(f"user: expected an address (0x + 40 hex digits), got {u!r}")
    return u.lower()


def _int_field(body: Mapping[str, Any], key: str, default: int | None = None) -> int:
    v = body.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise InfoError(f"{key}: expected an integer, got {v!r}")
    return v


class InfoHandler:
    def __init__(
        self,
        cfg: EmulatorConfig,
        book: AccountBook,
        clock: Clock,
        ip_limits: IpLimiter,
        book_view: Callable[[], BookSnapshot | None],
        mid: Callable[[], float],
        day_volume: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self.cfg = cfg
        self.book = book
        self.clock = clock
        self.ip_limits = ip_limits
        self.book_view = book_view
        self.mid = mid
        self.day_volume = day_volume
        self.monotonic = monotonic
        #: requests answered, by type (tests check that a client backfilled)
        self.counts: dict[str, int] = {}

    def handle(self, raw: object, ip: str) -> Reply:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
            return Reply(422, f"{MESSAGES['schema_422']}: missing field `type`")
        kind = raw["type"]
        try:
            payload = self._answer(kind, raw)
        except InfoError as exc:
            return Reply(422, f"{MESSAGES['schema_422']}: {exc}")
        rows = len(payload) if isinstance(payload, list) else 0
        if not self.ip_limits.admit(ip, info_weight(kind, rows), self.monotonic()):
            return Reply(
                429, "429 Too Many Requests", {"Retry-After": f"{self.cfg.retry_after_s:g}"}
            )
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return Reply(200, payload)

    def _answer(self, kind: str, body: Mapping[str, Any]) -> Any:
        cfg = self.cfg
        if kind in _USER_QUERIES:
            user = _user(body)
            self.book.note_seen(user)
            return self._user_query(kind, body, self.book.get(user))
        if kind == "meta":
            return meta(cfg.coin, cfg.sz_decimals, cfg.max_leverage)
        if kind == "spotMeta":
            return {"universe": [], "tokens": []}
        if kind == "metaAndAssetCtxs":
            return [
                meta(cfg.coin, cfg.sz_decimals, cfg.max_leverage),
                [asset_ctx(self.mid(), self.day_volume())],
            ]
        if kind == "allMids":
            m = self.mid()
            return {cfg.coin: num(m)} if math.isfinite(m) else {}
        if kind == "l2Book":
            if body.get("coin") != cfg.coin:
                return None  # the venue answers null for an unknown coin
            return l2_book(cfg.coin, self.book_view(), self.clock.now_ms())
        if kind == "exchangeStatus":
            return {"time": self.clock.now_ms(), "specialStatuses": None}
        if kind == "perpDexs":
            return [None]
        raise InfoError(f"type: unknown variant {kind!r}")

    def _user_query(self, kind: str, body: Mapping[str, Any], acct: Account | None) -> Any:
        if kind == "clearinghouseState":
            return self._clearinghouse(acct)
        if kind == "userRateLimit":
            if acct is None:
                return {
                    "cumVlm": "0.0",
                    "nRequestsUsed": 0,
                    "nRequestsCap": 10000,
                    "nRequestsSurplus": 0,
                }
            b = acct.budget
            return {
                "cumVlm": num(b.volume_usd, 2),
                "nRequestsUsed": b.used,
                "nRequestsCap": b.cap,
                "nRequestsSurplus": 0,
            }
        if acct is None:
            return {"status": "unknownOid"} if kind == "orderStatus" else []
        if kind == "openOrders":
            return [o.open_row() for o in acct.open_orders()]
        if kind == "frontendOpenOrders":
            return [o.frontend_row() for o in acct.open_orders()]
        if kind == "userFills":
            fills = list(acct.fills)[-FILLS_PAGE:]
            return fills[::-1]  # newest first
        if kind == "userFillsByTime":
            start = _int_field(body, "startTime")
            end = body.get("endTime")
            end_ms = _int_field(body, "endTime") if end is not None else None
            rows = [
                f
                for f in acct.fills
                if f["time"] >= start and (end_ms is None or f["time"] <= end_ms)
            ]
            return rows[:FILLS_PAGE]
        if kind == "historicalOrders":
            return [
                {"order": o.frontend_row(), "status": o.status, "statusTimestamp": o.status_ts_ms}
                for o in list(acct.orders.values())[-FILLS_PAGE:]
            ]
        # orderStatus
        target = body.get("oid")
        if isinstance(target, bool) or not isinstance(target, int | str):
            raise InfoError(f"oid: expected an integer or a cloid, got {target!r}")
        rec = acct.find(target)
        return rec.status_reply() if rec is not None else {"status": "unknownOid"}

    def _clearinghouse(self, acct: Account | None) -> Json:
        now = self.clock.now_ms()
        if acct is None:
            zero = {
                "accountValue": "0.0",
                "totalNtlPos": "0.0",
                "totalRawUsd": "0.0",
                "totalMarginUsed": "0.0",
            }
            return {
                "assetPositions": [],
                "marginSummary": zero,
                "crossMarginSummary": zero,
                "crossMaintenanceMarginUsed": "0.0",
                "withdrawable": "0.0",
                "time": now,
            }
        pf = acct.portfolio
        mark = self.mid()
        if not math.isfinite(mark):
            mark = pf.avg_entry
        pos = pf.position
        value = abs(pos) * mark
        margin = value / max(1, acct.leverage)
        account_value = acct.balance_usd + pf.cash + pos * mark
        positions: list[Json] = []
        if pos != 0.0:
            unreal = pf.unrealized(mark)
            lev: Json = {"type": "cross" if acct.is_cross else "isolated", "value": acct.leverage}
            if not acct.is_cross:
                lev["rawUsd"] = num(-value + margin, 6)
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": acct.instrument.coin,
                        "szi": num(pos),
                        "entryPx": num(pf.avg_entry, 6),
                        "positionValue": num(value, 6),
                        "unrealizedPnl": num(unreal, 6),
                        "returnOnEquity": num(unreal / margin if margin else 0.0, 6),
                        "liquidationPx": None,
                        "marginUsed": num(margin, 6),
                        "maxLeverage": self.cfg.max_leverage,
                        "leverage": lev,
                        "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                    },
                }
            )
        summary = {
            "accountValue": num(account_value, 6),
            "totalNtlPos": num(value, 6),
            "totalRawUsd": num(account_value - pos * mark, 6),
            "totalMarginUsed": num(margin, 6),
        }
        return {
            "assetPositions": positions,
            "marginSummary": summary,
            "crossMarginSummary": summary,
            "crossMaintenanceMarginUsed": num(margin / 2, 6),
            "withdrawable": num(max(0.0, account_value - margin), 6),
            "time": now,
        }


__all__ = ["InfoError", "InfoHandler"]
