"""Where the client talks to, for whom, and with which safety limits.

Testnet is the default. Mainnet needs **both** ``network = "mainnet"`` in the config and
the explicit command-line flag (``allow_mainnet``); either one alone is refused, and mainnet
signatures are only ever sent to the mainnet URL. ``account`` is the master (or
sub-account) address every query is made for: with an agent (API) wallet as signing key,
querying the agent's own address returns empty data (reference §1).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from mmkit.errors import ConfigError

MAINNET_URL = "https://api.hyperliquid.xyz"
TESTNET_URL = "https://api.hyperliquid-testnet.xyz"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

Network = Literal["testnet", "mainnet"]


def ws_url_of(rest_url: str) -> str:
    """``http(s)://host`` -> ``ws(s)://host/ws``, the way the SDK derives it."""
    if not rest_url.startswith("http"):
        raise ConfigError([f"venue.url: {rest_url!r} must start with http:// or https://"])
    return "ws" + rest_url[len("http") :].rstrip("/") + "/ws"


@dataclass(frozen=True, slots=True)
class Endpoint:
    rest_url: str
    ws_url: str
    is_mainnet: bool


def resolve_endpoint(network: str, url: str = "", *, allow_mainnet: bool = False) -> Endpoint:
    """The REST/WS URLs and the signing source; refuses an unconfirmed mainnet."""
    problems: list[str] = []
    if network not in ("testnet", "mainnet"):
        problems.append(f"venue.network: expected 'testnet' or 'mainnet', got {network!r}")
    elif network == "mainnet" and not allow_mainnet:
        problems.append("venue.network = 'mainnet' also needs the explicit --mainnet flag")
    elif network == "testnet" and allow_mainnet:
        problems.append(
            "--mainnet was given but venue.network is 'testnet'; set both to trade on mainnet"
        )
    is_mainnet = network == "mainnet"
    rest = (url or (MAINNET_URL if is_mainnet else TESTNET_URL)).rstrip("/")
    if is_mainnet and rest != MAINNET_URL:
        problems.append(f"venue.url: mainnet-signed actions go only to {MAINNET_URL}, not {rest!r}")
    if problems:
        raise ConfigError(problems)
    return Endpoint(rest, ws_url_of(rest), is_mainnet)


def check_address(value: str, key: str) -> str:
    """A lowercase ``0x`` + 40 hex address, or ConfigError naming ``key``."""
    if not _ADDRESS.fullmatch(value):  # fullmatch: "$" would let a final newline in
        raise ConfigError([f"{key}: {value!r} is not an address (0x + 40 hex digits)"])
    return value.lower()


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Everything the client needs besides the key.

    ``account``: master address (``""`` = the signing key's own address);
    ``vault``: sub-account / vault to trade for (signed into every action, and the address
    queried); ``max_order_notional``: any order above this USD value is refused before it is
    signed; ``expires_after_ms``: if > 0, every L1 action carries ``expiresAfter = nonce +
    expires_after_ms``.
    """

    endpoint: Endpoint
    account: str = ""
    vault: str = ""
    max_order_notional: float = 10_000.0
    expires_after_ms: int = 0
    request_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.account:
            check_address(self.account, "venue.account")
        if self.vault:
            check_address(self.vault, "venue.vault")
        if not (math.isfinite(self.max_order_notional) and self.max_order_notional > 0):
            raise ConfigError(
                [f"risk.max_order_notional: {self.max_order_notional!r} must be finite and > 0"]
            )

    def query_user(self, signer_address: str | None) -> str:
        """The address every info query and user subscription is made for."""
        if self.vault:
            return self.vault.lower()
        if self.account:
            return self.account.lower()
        if signer_address is None:
            raise ConfigError(["venue.account: required when no signing key is loaded"])
        return signer_address.lower()


__all__ = [
    "MAINNET_URL",
    "TESTNET_URL",
    "ClientSettings",
    "Endpoint",
    "check_address",
    "resolve_endpoint",
    "ws_url_of",
]
