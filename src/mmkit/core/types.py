"""Small value types shared by every layer: sides, time-in-force, the instrument."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final


class Side(IntEnum):
    """Order / trade side. The integer value is the sign of the position change."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> Side:
        return SELL if self is BUY else BUY

    @property
    def wire(self) -> str:
        """Hyperliquid's side letter: ``"B"`` for bid/buy, ``"A"`` for ask/sell."""
        return "B" if self is BUY else "A"

    @classmethod
    def from_wire(cls, s: str) -> Side:
        if s == "B":
            return cls.BUY
        if s == "A":
            return cls.SELL
        raise ValueError(f"unknown side {s!r} (expected 'B' or 'A')")


#: the two sides as module constants (``BUY is Side.BUY``): hot paths compare sides per
#: order and per quote, and on Python 3.11 reading an Enum class's attribute costs ~65 ns
#: against ~5 ns for a global (see :class:`mmkit.core.events.Kinds`)
BUY: Final = Side.BUY
SELL: Final = Side.SELL


class Tif(StrEnum):
    """Time in force, with Hyperliquid's wire spelling as the value."""

    ALO = "Alo"  # add-liquidity-only (post-only)
    GTC = "Gtc"
    IOC = "Ioc"


@dataclass(frozen=True, slots=True)
class Instrument:
    """What the venue says about one perpetual contract.

    Hyperliquid prices have no fixed tick: at most 5 significant figures and at most
    ``max_decimals - sz_decimals`` decimals (``max_decimals`` is 6 for perps). ``tick`` is
    the tick a simulated market uses and the spacing a ladder aims for; the venue rules in
    :mod:`mmkit.rounding` are authoritative for what a price may be.
    """

    coin: str = "BTC"
    asset: int = 0
    sz_decimals: int = 5
    max_decimals: int = 6
    tick: float = 1.0
    min_notional: float = 10.0
    max_leverage: int = 50

    @property
    def lot(self) -> float:
        return float(10.0 ** (-self.sz_decimals))

    @property
    def px_decimals(self) -> int:
        return max(0, self.max_decimals - self.sz_decimals)

    def __post_init__(self) -> None:
        if not self.coin:
            raise ValueError("instrument coin must not be empty")
        if not (0 <= self.sz_decimals <= self.max_decimals):
            raise ValueError(
                f"sz_decimals={self.sz_decimals} must lie in [0, max_decimals={self.max_decimals}]"
            )
        if not (math.isfinite(self.tick) and self.tick > 0):
            raise ValueError(f"tick={self.tick} must be finite and > 0")
        if not (math.isfinite(self.min_notional) and self.min_notional >= 0):
            raise ValueError(f"min_notional={self.min_notional} must be finite and >= 0")


NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
