"""Proactive rate tracking: Hyperliquid's IP weight and address budget (protocol §6).

* **IP**: every REST request has a weight (exchange actions ``1 + batch // 40``, info
  requests 2 or 20); 1,200 per rolling minute. Normal traffic is held below
  ``throttle_frac`` of the limit so that kill-switch cancels always fit under the limit
  itself; a warning is raised above ``warn_frac``. The tracker throttles **before** the
  limit: the rolling sum never exceeds ``limit``. One submission's actions are weighed as
  the venue client sends them (:func:`batch_ip_weight`): its cancels, its modifies and its
  places each go out as batches (cancels by oid apart from cancels by cloid, post-only
  places apart from the rest), at most :data:`MAX_BATCH` orders or :data:`MAX_CANCELS`
  cancels a request; a ``CancelAll`` lists the open orders (20) and cancels them in one
  request (1, fewer than 40 resting), a ``SyncState`` and a ``QueryOrder`` are their info
  requests. Requests the venue adapter makes on its own (its start-up and recovery reads,
  the dead-man switch) are not seen here: the share of the limit kept back from normal
  traffic covers them (``docs/execution.md``).
* **Address**: exchange actions only, 10,000 + 1 per USDC of volume traded; a batch of n
  counts n. Once spent, one request per ``exhausted_interval_s``. Cancels have their own,
  larger cap (``min(limit + 100000, 2 * limit)``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from mmkit.core.actions import Action, Cancel, CancelAll, Modify, Place, QueryOrder, SyncState
from mmkit.core.types import NS_PER_S, Tif

log = logging.getLogger("mmkit.execution")

WINDOW_NS = 60 * NS_PER_S
#: info request weights (§6)
WEIGHT_CLEARINGHOUSE_STATE = 2
WEIGHT_OPEN_ORDERS = 20
WEIGHT_ORDER_STATUS = 2


#: action classes as tuples: ``isinstance`` on a tuple costs half what it does on a union,
#: and these checks run for every action sent
_ONE_ORDER = (Place, Modify, Cancel)
_PRICED = (Place, Modify)
_CANCELS = (Cancel, CancelAll)


def exchange_weight(batch_length: int) -> int:
    """IP weight of one /exchange action carrying ``batch_length`` entries."""
    return 1 + max(0, batch_length) // 40


#: one order action (an /exchange action of one entry)
_ORDER_WEIGHT = exchange_weight(1)
#: orders per ``order`` / ``batchModify`` request the venue client sends (its weight stays 1)
MAX_BATCH = 39
#: cancels per ``cancel`` / ``cancelByCloid`` request (the venue refuses more than 200)
MAX_CANCELS = 200
_ALO = Tif.ALO


def batches_weight(n: int, per: int) -> int:
    """IP weight of ``n`` entries of one kind sent in requests of at most ``per`` each."""
    if n <= 0:
        return 0
    full, rest = divmod(n, per)
    return full * exchange_weight(per) + (exchange_weight(rest) if rest else 0)


def ip_weight(action: Action) -> int:
    """IP weight of the requests one action costs (CancelAll first lists open orders)."""
    if isinstance(action, _ONE_ORDER):
        return _ORDER_WEIGHT
    if isinstance(action, CancelAll):
        return WEIGHT_OPEN_ORDERS + exchange_weight(1)
    if isinstance(action, SyncState):
        return WEIGHT_CLEARINGHOUSE_STATE + (WEIGHT_OPEN_ORDERS if action.orders else 0)
    if isinstance(action, QueryOrder):
        return WEIGHT_ORDER_STATUS
    raise TypeError(f"unknown action {action!r}")


def address_weight(action: Action) -> int:
    """Address-budget requests one action costs (info requests cost none)."""
    return 1 if isinstance(action, Place | Modify | Cancel | CancelAll) else 0


def batch_ip_weight(actions: list[Action]) -> tuple[int, int, bool]:
    """(IP weight, address requests, cancels only) of ``actions`` submitted together, as the
    venue client sends them (module docstring): modifies in batches of :data:`MAX_BATCH`,
    post-only places and the other places in batches of their own, cancels by oid and by
    cloid in batches of :data:`MAX_CANCELS`; every other action is its own requests
    (:func:`ip_weight`). The action classes cannot be subclassed (:mod:`mmkit.core.records`),
    so an action's class is exactly one of them."""
    k = len(actions)
    if k and list(map(type, actions)).count(Modify) == k:
        # modifies only (a busy market's quoting cycle): counted by C loops (~0.3 against
        # ~0.8 µs for ten), weighed as the loop below weighs them
        return (1 + k // 40 if k <= MAX_BATCH else batches_weight(k, MAX_BATCH)), k, False
    # the three order actions counted by type (one addition each); any other action
    # weighed by ip_weight and counted by kind
    modifies = alo = places = by_oid = by_cloid = 0
    other_priced = other_cancels = other_weight = 0
    for a in actions:
        t = type(a)
        if t is Modify:
            modifies += 1
        elif t is Place:
            if a.tif is _ALO:  # type: ignore[union-attr]  # a Place: checked by type
                alo += 1
            else:
                places += 1
        elif t is Cancel:
            if a.oid is None:  # type: ignore[union-attr]  # a Cancel: checked by type
                by_cloid += 1
            else:
                by_oid += 1
        else:
            other_weight += ip_weight(a)
            if isinstance(a, _PRICED):
                other_priced += 1
            elif isinstance(a, _CANCELS):
                other_cancels += 1
    # each kind present: one request of 1 + n // 40 when it fits one, else its batches
    weight = other_weight
    for k, per in (
        (modifies, MAX_BATCH),
        (alo, MAX_BATCH),
        (places, MAX_BATCH),
        (by_oid, MAX_CANCELS),
        (by_cloid, MAX_CANCELS),
    ):
        if k:
            weight += 1 + k // 40 if k <= per else batches_weight(k, per)
    priced = modifies + alo + places
    n = priced + by_oid + by_cloid + other_priced + other_cancels
    return weight, n, priced == 0 and other_priced == 0


def requests_of(actions: Sequence[Action]) -> tuple[list[int], list[int]]:
    """How the venue client sends ``actions`` submitted together, request by request:
    each action's request (an index) and each request's IP weight. The same grouping as
    :func:`batch_ip_weight` (whose sum of weights this gives), kept as requests for a
    venue model that admits or refuses each request whole (the audit's fake venue)."""
    of: list[int] = []
    weights: list[int] = []
    #: the open batch of each kind: [its request index, entries so far]
    batch: dict[tuple[int, bool], list[int]] = {}
    for a in actions:
        t = type(a)
        if t is Modify:
            key, cap = (0, False), MAX_BATCH
        elif t is Place:
            key, cap = (1, a.tif is _ALO), MAX_BATCH  # type: ignore[union-attr]
        elif t is Cancel:
            key, cap = (2, a.oid is None), MAX_CANCELS  # type: ignore[union-attr]
        else:
            of.append(len(weights))
            weights.append(ip_weight(a))
            continue
        cur = batch.get(key)
        if cur is None or cur[1] == cap:
            cur = batch[key] = [len(weights), 0]
            weights.append(0)
        cur[1] += 1
        weights[cur[0]] = exchange_weight(cur[1])
        of.append(cur[0])
    return of, weights


def log_ip_warning(used: int, limit: float) -> None:
    """The rate tracker's warning (logged once per episode): ``used`` of ``limit``."""
    log.warning("IP rate limit warning: %d of %d weight used in the last minute", used, limit)


class RateTracker:
    """Rolling IP weight and the address budget, checked before anything is sent."""

    def __init__(
        self,
        *,
        ip_limit: float = 1200.0,
        throttle_frac: float = 0.9,
        warn_frac: float = 0.8,
        address_initial: float = 10_000.0,
        exhausted_interval_s: float = 10.0,
    ) -> None:
        self.ip_limit = ip_limit
        self.ip_soft = ip_limit * throttle_frac
        self.ip_warn = ip_limit * warn_frac
        self._window: deque[tuple[int, int]] = deque()
        self._ip_used = 0
        self.address_initial = address_initial
        self.address_used = 0.0
        self.volume_usd = 0.0
        self._exhausted_interval_ns = int(exhausted_interval_s * NS_PER_S)
        self._last_exhausted_send = -(1 << 62)
        self.throttled = 0
        self.warnings = 0
        self._warn_armed = True
        self.peak_ip = 0

    # -- IP -----------------------------------------------------------------------------
    def _prune(self, now_ns: int) -> None:
        w = self._window
        while w and now_ns - w[0][0] >= WINDOW_NS:
            self._ip_used -= w.popleft()[1]

    def ip_used(self, now_ns: int) -> int:
        self._prune(now_ns)
        return self._ip_used

    def ip_warning(self, now_ns: int) -> bool:
        return self.ip_used(now_ns) >= self.ip_warn

    # -- address ------------------------------------------------------------------------
    @property
    def address_cap(self) -> float:
        return self.address_initial + self.volume_usd

    @property
    def cancel_cap(self) -> float:
        cap = self.address_cap
        return min(cap + 100_000.0, 2.0 * cap)

    def on_fill_volume(self, usd: float) -> None:
        if usd > 0:
            self.volume_usd += usd

    def mark_address_exhausted(self) -> None:
        """The venue said the address budget is spent (sync our count to its word)."""
        self.address_used = max(self.address_used, self.address_cap)

    def _address_ok(self, n: int, cancels_only: bool, now_ns: int) -> bool:
        if n == 0:
            return True
        cap = self.cancel_cap if cancels_only else self.address_cap
        if self.address_used + n <= cap:
            return True
        return n == 1 and now_ns - self._last_exhausted_send >= self._exhausted_interval_ns

    # -- the check ----------------------------------------------------------------------
    #: (IP weight, address requests, cancels only) of a batch of actions sent together
    #: (:func:`batch_ip_weight`, bound as is: no call of its own on the sending path)
    weigh = staticmethod(batch_ip_weight)

    def allows(
        self,
        actions: list[Action],
        now_ns: int,
        *,
        emergency: bool = False,
        weighed: tuple[int, int, bool] | None = None,
    ) -> bool:
        """Whether all of ``actions`` may go out now (nothing is recorded)."""
        weight, n, cancels_only = weighed if weighed is not None else self.weigh(actions)
        limit = self.ip_limit if emergency else self.ip_soft
        if self.ip_used(now_ns) + weight > limit:
            self.throttled += 1
            return False
        if not self._address_ok(n, cancels_only, now_ns):
            self.throttled += 1
            return False
        return True

    def record(
        self, actions: list[Action], now_ns: int, weighed: tuple[int, int, bool] | None = None
    ) -> None:
        weight, n, _ = weighed if weighed is not None else self.weigh(actions)
        if weight:
            self._window.append((now_ns, weight))
            self._ip_used += weight
        if n:
            if self.address_used + n > self.address_cap:
                self._last_exhausted_send = now_ns
            self.address_used += n
        used = self._ip_used
        self.peak_ip = max(self.peak_ip, used)
        if used >= self.ip_warn:
            # warn once per episode: re-armed only after use falls back below 70 % of the
            # limit, so hovering at the 80 % line does not log on every requote
            if self._warn_armed:
                log_ip_warning(used, self.ip_limit)
                self._warn_armed = False
            self.warnings += 1
        elif used < 0.7 * self.ip_limit:
            self._warn_armed = True

    def status(self, now_ns: int) -> dict[str, float]:
        used = self.ip_used(now_ns)
        return {
            "ip_used": float(used),
            "ip_limit": self.ip_limit,
            "ip_frac": used / self.ip_limit,
            "ip_warning": float(used >= self.ip_warn),
            "ip_peak": float(self.peak_ip),
            "address_used": self.address_used,
            "address_cap": self.address_cap,
            "throttled": float(self.throttled),
        }


class RequoteInterval:
    """The minimum time between two requotes (seed §7 ``can_requote``)."""

    def __init__(self, min_interval_ms: float) -> None:
        self._min_ns = int(min_interval_ms * 1_000_000)
        self._last = -(1 << 62)
        self.skipped = 0

    def can_requote(self, now_ns: int) -> bool:
        if now_ns - self._last >= self._min_ns:
            return True
        self.skipped += 1
        return False

    def mark(self, now_ns: int) -> None:
        self._last = now_ns
