"""The live venue's time settings are bounded: a session against the loopback emulator with
``deadman_horizon_s = 1e300`` ended in an internal error (the cancel time's milliseconds
overflowed); a reconnect delay of 1e300 s never reconnects, a request timeout of 1e300 s
never times out, an ``expiresAfter`` 2**62 ms ahead is a timestamp no exchange takes. Each is
now a configuration error naming the key; the defaults and the values the soak and the docs
use stay accepted."""

from __future__ import annotations

import pytest

from mmkit.config.loader import load_settings
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost


def _load(*sets: str) -> object:
    host = PluginHost(load_entrypoints=False)
    return load_settings(None, host.registry, env={}, sets=list(sets))


@pytest.mark.parametrize(
    "kv",
    [
        "deadman_horizon_s=1e300",
        "backoff_initial_s=1e300",
        "backoff_max_s=1e300",
        "request_timeout_s=1e300",
        "request_timeout_s=1e-300",
        "idle_ping_s=1e300",
        "pong_timeout_s=1e300",
        f"expires_after_ms={2**62}",
    ],
)
def test_an_unusable_time_is_refused(kv: str) -> None:
    key = kv.split("=")[0]
    with pytest.raises(ConfigError, match=f"venues.hyperliquid.{key}"):
        _load(f"venues.hyperliquid.{kv}")


def test_the_soak_and_docs_values_are_accepted() -> None:
    _load(
        "venues.hyperliquid.idle_ping_s=0.3",
        "venues.hyperliquid.pong_timeout_s=0.4",
        "venues.hyperliquid.backoff_initial_s=0.05",
        "venues.hyperliquid.backoff_max_s=0.3",
        "venues.hyperliquid.request_timeout_s=2.0",
        "venues.hyperliquid.expires_after_ms=5000",
        "venues.hyperliquid.deadman_horizon_s=15",
    )
