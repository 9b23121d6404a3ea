"""The execution budget (seed §7): a token bucket earned per filled USD, spent per action.

Normal actions may only spend tokens above the ``emergency_reserve``; emergency (kill
switch) cancels may use the reserve and are never refused: their cost is taken from what
is left, down to zero. When the budget cannot pay for a reconciliation the executor skips
it and leaves its orders resting: exhaustion never cancels anything by itself.
"""

from __future__ import annotations

from mmkit.core.types import NS_PER_S


class ExecutionBudget:
    def __init__(
        self,
        *,
        initial: float = 1_000.0,
        capacity: float = 10_000.0,
        per_usd: float = 1.0,
        refill_per_s: float = 0.0,
        cost_per_action: float = 1.0,
        reserve: float = 20.0,
    ) -> None:
        self.capacity = capacity
        self.tokens = min(initial, capacity)
        self.per_usd = per_usd
        self.refill_per_s = refill_per_s
        self.cost = cost_per_action
        self.reserve = reserve
        self._last_ns: int | None = None
        self.spent = 0.0
        self.emergency_spent = 0.0
        self.skips = 0

    def _refill(self, now_ns: int) -> None:
        if self._last_ns is not None and now_ns > self._last_ns and self.refill_per_s > 0:
            dt = (now_ns - self._last_ns) / NS_PER_S
            self.tokens = min(self.capacity, self.tokens + dt * self.refill_per_s)
        if self._last_ns is None or now_ns > self._last_ns:
            self._last_ns = now_ns

    def earn_fill(self, usd: float) -> None:
        if usd > 0:
            self.tokens = min(self.capacity, self.tokens + usd * self.per_usd)

    def available(self, now_ns: int) -> float:
        """Tokens normal actions may spend (above the reserve)."""
        self._refill(now_ns)
        return max(0.0, self.tokens - self.reserve)

    def can_afford(self, n_actions: int, now_ns: int) -> bool:
        return n_actions * self.cost <= self.available(now_ns) + 1e-12

    def spend(self, n_actions: int, now_ns: int, *, emergency: bool = False) -> bool:
        """Charge ``n_actions``; normal spends are refused if unaffordable, emergency never."""
        if n_actions <= 0:
            return True
        cost = n_actions * self.cost
        if emergency:
            self._refill(now_ns)
            paid = min(cost, self.tokens)
            self.tokens -= paid
            self.emergency_spent += paid
            return True
        if not self.can_afford(n_actions, now_ns):
            self.skips += 1
            return False
        self.tokens -= cost
        self.spent += cost
        return True

    def exhaust(self) -> None:
        """Spend every normal token, keeping only the reserve (tests and audits)."""
        self.tokens = min(self.tokens, self.reserve)

    def status(self) -> dict[str, float]:
        return {
            "budget_tokens": self.tokens,
            "budget_reserve": self.reserve,
            "budget_exhausted": float(self.tokens - self.reserve < self.cost),
            "budget_skips": float(self.skips),
            "budget_emergency_spent": self.emergency_spent,
        }
