"""Settings of the loopback emulator (standard library only)."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Literal

from mmkit.errors import ConfigError
from mmkit.venues.hyperliquid.settings import check_address

#: who may trade: any recovered signer; addresses "seen" in an info query or user
#: subscription (and listed ones); or only the listed accounts
Funding = Literal["any", "seen", "listed"]
FUNDING_MODES: tuple[str, ...] = ("any", "seen", "listed")


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback address (or ``localhost``), else :class:`ConfigError`."""
    if host == "localhost":
        return host
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            [
                f"emulator host {host!r}: the emulator binds to loopback only "
                "(127.0.0.1, ::1 or localhost); it is a test venue, never a public server"
            ]
        )
    return host


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator needs; defaults mimic the venue's documented limits."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 = a free port chosen by the OS
    coin: str = "BTC"
    sz_decimals: int = 5
    max_leverage: int = 50
    data: str = ""  # capture/store to replay; "" = the built-in synthetic market
    data_format: str = "auto"
    scenario: str = ""  # TOML scenario file of timed fault steps
    seed: int = 0
    speed: float = 1.0  # market seconds per wall second
    funding: Funding = "seen"
    accounts: tuple[str, ...] = ()  # addresses that are funded from the start
    agents: dict[str, str] = field(default_factory=dict)  # agent address -> master address
    balance_usd: float = 1_000_000.0  # starting account value of a funded account
    maker_fee: float = 0.00015
    taker_fee: float = 0.00045
    ip_weight_per_min: int = 1200
    address_initial_budget: int = 10_000
    open_order_cap: int = 1000
    min_notional: float = 10.0
    book_interval_s: float = 0.5  # l2Book snapshots at most this often (wall seconds)
    ws_idle_timeout_s: float = 60.0  # the server drops a client that sent nothing this long
    schedule_cancel_min_volume: float = 1_000_000.0
    max_fills_kept: int = 10_000
    order_status_memory: int = 2000  # orderStatus forgets older orders (like the venue)
    retry_after_s: float = 1.0  # Retry-After header of a 429

    def __post_init__(self) -> None:
        check_loopback(self.host)
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"emulator port {self.port} is not in [0, 65535]")
        if not (math.isfinite(self.speed) and self.speed > 0):
            problems.append(f"emulator speed {self.speed!r} must be finite and > 0")
        if self.funding not in FUNDING_MODES:
            problems.append(f"emulator funding {self.funding!r} is not one of {FUNDING_MODES}")
        if not 0 <= self.sz_decimals <= 6:
            problems.append(f"emulator sz_decimals {self.sz_decimals} is not in [0, 6]")
        if self.ip_weight_per_min < 1 or self.open_order_cap < 1:
            problems.append("emulator ip_weight_per_min and open_order_cap must be >= 1")
        if not 1 <= self.open_order_cap <= 4096:
            problems.append(f"emulator open_order_cap {self.open_order_cap} is not in [1, 4096]")
        v = self.schedule_cancel_min_volume
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            problems.append(
                f"emulator schedule_cancel_min_volume {v!r} must be a finite number of USD >= 0"
            )
        for key, address in [
            *(("emulator account (--account)", a) for a in self.accounts),
            *(("emulator agent", a) for pair in self.agents.items() for a in pair),
        ]:
            try:
                check_address(address, key)  # as the live venue checks venue.account
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)

    @property
    def asset(self) -> int:
        return 0


__all__ = ["FUNDING_MODES", "EmulatorConfig", "Funding", "check_loopback"]
