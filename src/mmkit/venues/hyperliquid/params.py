"""Parameters of the live Hyperliquid venue (``[venues.hyperliquid]``). Standard library only.

Where to connect, for whom and with which key live in the core ``[venue]`` section
(``network``, ``url``, ``account``, ``vault``, ``key_env``, ``key_file``); the maximum order
notional is ``risk.max_order_notional``. These are the connection's tuning knobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmkit.params import param


@dataclass(frozen=True)
class HyperliquidParams:
    ping_interval_s: float = param(
        50.0, gt=0, lt=60, help="WebSocket ping period (the server drops a client silent for 60 s)"
    )
    idle_ping_s: float = param(
        2.0,
        gt=0,
        lt=60,  # the server drops a client silent for 60 s
        help="also ping after this long without any frame, s (the book ticks every ~0.5 s, "
        "so a mute socket is suspected after 2 s)",
    )
    pong_timeout_s: float = param(
        2.0,
        gt=0,
        le=60,
        help="no frame this long after a ping = stalled connection, reconnect, s "
        "(with idle_ping_s: a mute socket is replaced within ~4 s)",
    )
    # bounded: a delay of 1e300 s reconnects never, and a session would sit unlinked
    backoff_initial_s: float = param(
        0.5, gt=0, le=300, help="first reconnect delay (doubles each try)"
    )
    backoff_max_s: float = param(30.0, gt=0, le=3600, help="longest reconnect delay")
    backoff_jitter: float = param(0.5, ge=0, lt=1, help="random +- fraction of each delay")
    request_timeout_s: float = param(
        10.0,
        ge=0.1,
        le=300,
        help="REST timeout; an /exchange timeout is an UNKNOWN outcome, never retried",
    )
    expires_after_ms: int = param(
        0,
        ge=0,
        le=3_600_000,  # an hour; 2**62 ms signed a timestamp no exchange would take
        help="if > 0, actions expire this long after their nonce (expiresAfter)",
    )
    bbo: bool = param(True, help="subscribe to the bbo channel besides l2Book and trades")
    deadman: bool = param(
        True,
        help="arm the venue's scheduleCancel dead-man's switch (cancels our orders if this "
        "process stops renewing it; the venue refuses it below $1M traded volume)",
    )
    deadman_horizon_s: float = param(
        15.0,
        ge=6,
        le=86_400,  # a day; 1e300 s overflowed the cancel time's milliseconds
        help="each arming sets the cancel time this far ahead, s (venue: >= 5 s)",
    )
    deadman_renew_every_s: float = param(
        5.0, gt=0, help="renew the cancel time this often, s (<= deadman_horizon_s - 5)"
    )
    deadman_reserve_fires: int = param(
        2,
        ge=0,
        lt=10,
        help="stop arming when this few of the venue's 10 daily triggers are left",
    )


__all__ = ["HyperliquidParams"]
