"""A toy simulated venue for mmkit (registers venue ``toy``, simulated side only).

Importing this module is cheap (it runs at every ``mmkit`` start): the matcher lives in
:mod:`mmkit_toy_venue.venue` and is imported only when the venue is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmkit import hookimpl
from mmkit.params import param

if TYPE_CHECKING:
    from mmkit.hookspecs import RegisterVenue

__version__ = "0.1.0"


@dataclass(frozen=True)
class ToyVenueParams:
    """The ``[venues.toy]`` table."""

    maker_fee: float = param(
        0.00015,
        ge=-0.01,
        le=0.01,
        help="fee of a resting order's fill, fraction of notional (negative = rebate)",
    )
    taker_fee: float = param(
        0.00045, ge=-0.01, le=0.01, help="fee of a crossing order's fill, fraction of notional"
    )
    latency_ms: float = param(
        0.0,
        ge=0,
        le=60_000,
        help="simulated ms between an action (or a trade) and the answer reaching the engine",
    )
    fill_at_touch: bool = param(
        False,
        help="also fill a resting order when a trade prints exactly at its price (default: "
        "only strictly through it, since the queue ahead at that price is unknown)",
    )
    enforce_min_notional: bool = param(
        True, help="reject orders below the instrument's min_notional (USD)"
    )


@hookimpl
def register_venues(register: RegisterVenue) -> None:
    register(
        "toy",
        simulated="mmkit_toy_venue.venue:build",
        params=ToyVenueParams,
        description="toy top-of-book matcher: post-only rejects, fills on trades through (pure "
        "Python)",
    )


__all__ = ["ToyVenueParams", "register_venues"]
