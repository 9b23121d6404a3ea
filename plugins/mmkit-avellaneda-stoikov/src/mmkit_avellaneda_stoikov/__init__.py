"""Avellaneda–Stoikov quoter for mmkit (registers quoter ``avellaneda_stoikov``).

Importing this module is cheap (it runs at every ``mmkit`` start): the quoter itself lives in
:mod:`mmkit_avellaneda_stoikov.quoter` and is imported only when a quoter is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mmkit import hookimpl
from mmkit.params import param
from mmkit.quoting.params import LadderParams

__version__ = "0.1.0"


@dataclass(frozen=True)
class AvellanedaStoikovParams(LadderParams):
    """Avellaneda–Stoikov parameters (plus the ladder's: levels, spacing, sizes, post-only)."""

    gamma: float = param(1.0, gt=0, help="risk aversion, per lot of relative P&L")
    horizon_s: float = param(3600.0, gt=0, help="horizon T in seconds")
    horizon_mode: Literal["rolling", "session"] = param(
        "session", help="session: tau = T - (now mod T); rolling: tau = T always"
    )
    min_tau_s: float = param(1.0, ge=0, help="tau never goes below this (seconds)")
    kappa_floor: float = param(1.0, gt=0, help="kappa is floored here where used")


@hookimpl
def register_quoters(register: Any) -> None:
    register(
        "avellaneda_stoikov",
        "mmkit_avellaneda_stoikov.quoter:build",
        params=AvellanedaStoikovParams,
        description="Avellaneda–Stoikov reservation price and finite-horizon spread",
    )


__all__ = ["AvellanedaStoikovParams", "register_quoters"]
