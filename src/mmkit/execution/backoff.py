"""Backoffs: per-side rejection backoff (seed §7) and HTTP 429 / transport backoff.

Rejection backoff: after ``threshold`` consecutive rejections on a side, that side skips
placing for ``initial`` seconds; every further rejection multiplies the skip by ``mult``,
capped at ``max``; a success resets the side. With the defaults the skips after the 3rd,
4th, 5th, ... consecutive rejection are 5, 10, 20, 40, 80, 120, 120, ... seconds.

429 backoff: exponential from ``initial`` to ``max`` with multiplicative jitter drawn from a
seeded RNG (deterministic runs), or exactly the venue's ``Retry-After`` when it gives one.
"""

from __future__ import annotations

import random
import re

from mmkit.core.types import NS_PER_S, Side

_RETRY_AFTER = re.compile(
    r"retry[-_ ]after[\"']?\s*[:=]?\s*[\"']?([0-9]+(?:\.[0-9]+)?)", re.IGNORECASE
)


def parse_retry_after(message: str) -> float | None:
    """Seconds from a ``Retry-After`` mention in a venue message (``None`` if absent)."""
    m = _RETRY_AFTER.search(message or "")
    if m is None:
        return None
    try:
        v = float(m.group(1))
    except ValueError:
        return None
    return v if v >= 0 else None


def rejection_backoff_s(
    consecutive: int, threshold: int, initial: float, mult: float, cap: float
) -> float:
    """Seconds a side skips after ``consecutive`` rejections in a row (0 below threshold)."""
    if consecutive < threshold:
        return 0.0
    return float(min(cap, initial * mult ** (consecutive - threshold)))


class RejectionBackoff:
    def __init__(
        self, threshold: int = 3, initial_s: float = 5.0, max_s: float = 120.0, mult: float = 2.0
    ) -> None:
        self.threshold = threshold
        self.initial_s = initial_s
        self.max_s = max_s
        self.mult = mult
        self.consecutive = {Side.BUY: 0, Side.SELL: 0}
        self.until_ns = {Side.BUY: -1, Side.SELL: -1}
        self.total = 0

    def on_rejection(self, side: Side, now_ns: int) -> float:
        """Record a rejection; returns the skip in seconds it starts (0 if none)."""
        self.total += 1
        self.consecutive[side] += 1
        s = rejection_backoff_s(
            self.consecutive[side], self.threshold, self.initial_s, self.mult, self.max_s
        )
        if s > 0:
            self.until_ns[side] = now_ns + int(s * NS_PER_S)
        return s

    def on_success(self, side: Side) -> None:
        self.consecutive[side] = 0
        self.until_ns[side] = -1

    def should_skip(self, side: Side, now_ns: int) -> bool:
        return now_ns < self.until_ns[side]

    def status(self, now_ns: int) -> dict[str, float]:
        out: dict[str, float] = {"rejections_total": float(self.total)}
        for side in (Side.BUY, Side.SELL):
            name = side.name.lower()
            out[f"rejections_{name}"] = float(self.consecutive[side])
            out[f"backoff_{name}_s"] = max(0.0, (self.until_ns[side] - now_ns) / NS_PER_S)
        return out


class RetryBackoff:
    """Global pause after HTTP 429 (or address limiting), honouring ``Retry-After``."""

    def __init__(
        self, initial_s: float = 1.0, max_s: float = 60.0, jitter: float = 0.25, seed: int = 0
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.jitter = jitter
        self._rng = random.Random(seed)
        self.attempt = 0
        self.until_ns = -1
        self.count = 0

    def on_rate_limited(self, now_ns: int, message: str = "") -> float:
        """Start (or extend) the pause; returns its length in seconds."""
        self.count += 1
        retry_after = parse_retry_after(message)
        if retry_after is not None:
            delay = retry_after
        else:
            base = min(self.max_s, self.initial_s * 2.0**self.attempt)
            delay = min(self.max_s, base * (1.0 + self.jitter * self._rng.random()))
        self.attempt += 1
        self.until_ns = max(self.until_ns, now_ns + int(delay * NS_PER_S))
        return delay

    def on_success(self) -> None:
        self.attempt = 0

    def active(self, now_ns: int) -> bool:
        return now_ns < self.until_ns
