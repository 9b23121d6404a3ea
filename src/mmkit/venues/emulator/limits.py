"""The venue's request limits: signer nonces, per-IP weights and per-address budgets.

* **Nonces** (reference §7.3): per signer the 100 highest nonces are kept; a new nonce must
  not be one of them and must exceed the smallest once 100 are stored, and it must lie within
  (now - 2 days, now + 1 day).
* **IP weight** (§6): 1200 per rolling minute; a request that would exceed it is refused
  (HTTP 429) and costs nothing.
* **Address budget** (§6): 10 000 requests plus 1 per USDC traded; every order or cancel of
  a batch counts. An exhausted address still gets one request per 10 s; cancels have their
  own, larger cap ``min(cap + 100000, 2 * cap)``.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from mmkit.venues.hyperliquid.errors import MESSAGES

NONCES_KEPT = 100
DAY_MS = 86_400_000
NONCE_PAST_MS = 2 * DAY_MS
NONCE_FUTURE_MS = 1 * DAY_MS
THROTTLED_PERIOD_MS = 10_000


class NonceBook:
    """The stored nonces of every signer."""

    def __init__(self, kept: int = NONCES_KEPT) -> None:
        self._kept = kept
        self._by_signer: dict[str, list[int]] = {}

    def check(self, signer: str, nonce: int, now_ms: int) -> str | None:
        """The venue's error for this nonce, or None (without recording it)."""
        stored = self._by_signer.get(signer, [])
        i = bisect.bisect_left(stored, nonce)
        if i < len(stored) and stored[i] == nonce:
            return MESSAGES["nonce_duplicate"].format(nonce=nonce)
        if len(stored) >= self._kept and nonce < stored[0]:
            return MESSAGES["nonce_low"].format(nonce=nonce, least=stored[0])
        if nonce <= now_ms - NONCE_PAST_MS:
            return MESSAGES["nonce_low"].format(nonce=nonce, least=now_ms - NONCE_PAST_MS)
        if nonce >= now_ms + NONCE_FUTURE_MS:
            return f"Invalid nonce: nonce too high {nonce} > {now_ms + NONCE_FUTURE_MS}"
        return None

    def record(self, signer: str, nonce: int) -> None:
        stored = self._by_signer.setdefault(signer, [])
        bisect.insort(stored, nonce)
        if len(stored) > self._kept:
            del stored[0]

    def lowest(self, signer: str) -> int | None:
        stored = self._by_signer.get(signer)
        return stored[0] if stored else None


class IpLimiter:
    """Rolling one-minute weight per client IP."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._used: dict[str, deque[tuple[float, int]]] = {}
        self._sum: dict[str, int] = {}

    def used(self, ip: str, now_s: float) -> int:
        q = self._used.get(ip)
        if q is None:
            return 0
        total = self._sum.get(ip, 0)
        while q and q[0][0] <= now_s - 60.0:
            total -= q.popleft()[1]
        self._sum[ip] = total
        return total

    def admit(self, ip: str, weight: int, now_s: float) -> bool:
        """Charge ``weight`` and return True, or refuse (nothing charged)."""
        if self.used(ip, now_s) + weight > self.per_minute:
            return False
        self._used.setdefault(ip, deque()).append((now_s, weight))
        self._sum[ip] = self._sum.get(ip, 0) + weight
        return True


@dataclass
class AddressBudget:
    """One address's request allowance (cumulative over the account's life)."""

    initial: int = 10_000
    used: int = 0
    volume_usd: float = 0.0
    reserved: int = 0
    last_throttled_ms: int = -THROTTLED_PERIOD_MS

    @property
    def cap(self) -> int:
        return self.initial + int(self.volume_usd) + self.reserved

    def charge(self, n: int, now_ms: int, *, cancels_only: bool = False) -> str | None:
        """Charge ``n`` requests, or return the venue's error (nothing charged)."""
        cap = self.cap
        if cancels_only:
            cap = min(cap + 100_000, 2 * cap)
        if self.used + n <= cap:
            self.used += n
            return None
        if now_ms - self.last_throttled_ms >= THROTTLED_PERIOD_MS:
            self.last_throttled_ms = now_ms  # the one request per 10 s an exhausted address gets
            self.used += n
            return None
        return MESSAGES["address_limit"].format(
            used=self.used + n, cap=cap, volume=f"{self.volume_usd:.2f}"
        )


def exchange_weight(batch_length: int) -> int:
    """IP weight of an /exchange action: ``1 + floor(batch_length / 40)``."""
    return 1 + batch_length // 40


_LIGHT_INFO = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState"}
)
_ROWS_WEIGHTED = frozenset({"userFills", "userFillsByTime", "historicalOrders"})


def info_weight(kind: str, rows: int = 0) -> int:
    """IP weight of an /info request (2, 20 or 60, plus 1 per 20 rows for fill histories)."""
    if kind in _LIGHT_INFO or kind == "exchangeStatus":
        return 2
    if kind == "userRole":
        return 60
    base = 20
    if kind in _ROWS_WEIGHTED:
        base += rows // 20
    return base


__all__ = [
    "AddressBudget",
    "IpLimiter",
    "NonceBook",
    "exchange_weight",
    "info_weight",
]
