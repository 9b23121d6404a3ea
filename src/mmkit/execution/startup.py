"""Startup sync: before the first quote, fetch the position and open orders.

The executor's very first action is ``SyncState(reason="startup")``; it quotes nothing until
the snapshot has arrived. Open orders we did not place are then adopted or cancelled
(``startup_policy``, default cancel), and "Synced N open orders, position X" is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("mmkit.execution")


@dataclass(slots=True)
class StartupState:
    policy: str = "cancel"
    requested: bool = False
    done: bool = False
    open_orders: int = 0
    adopted: int = 0
    cancelled: int = 0
    position: float = 0.0
    message: str = ""

    def complete(self, n_orders: int, position: float, adopted: int, cancelled: int) -> str:
        self.done = True
        self.open_orders = n_orders
        self.position = position
        self.adopted = adopted
        self.cancelled = cancelled
        self.message = (
            f"Synced {n_orders} open orders, position {position:g} "
            f"(adopted {adopted}, cancelled {cancelled})"
        )
        log.info(self.message)
        return self.message
