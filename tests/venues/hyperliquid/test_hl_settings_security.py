"""Network selection (testnet default, mainnet needs two switches) and secret hygiene."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.venues.hyperliquid.hl_canned import USER

from mmkit.core.types import Instrument
from mmkit.errors import ConfigError, VenueError
from mmkit.venues.hyperliquid.settings import (
    MAINNET_URL,
    TESTNET_URL,
    ClientSettings,
    resolve_endpoint,
    ws_url_of,
)
from mmkit.venues.hyperliquid.venue import from_settings

SECRET = "ab" * 32


def test_testnet_is_default() -> None:
    ep = resolve_endpoint("testnet")
    assert ep.rest_url == TESTNET_URL and not ep.is_mainnet
    assert ep.ws_url == "wss://api.hyperliquid-testnet.xyz/ws"


def test_mainnet_needs_both_switches() -> None:
    with pytest.raises(ConfigError, match="--mainnet"):
        resolve_endpoint("mainnet")
    with pytest.raises(ConfigError, match=r"venue\.network is 'testnet'"):
        resolve_endpoint("testnet", allow_mainnet=True)
    ep = resolve_endpoint("mainnet", allow_mainnet=True)
    assert ep.is_mainnet and ep.rest_url == MAINNET_URL and ep.ws_url.startswith("wss://")


def test_mainnet_signatures_only_to_mainnet_url() -> None:
    with pytest.raises(ConfigError, match="mainnet-signed"):
        resolve_endpoint("mainnet", "http://127.0.0.1:3001", allow_mainnet=True)


def test_loopback_url_signs_as_testnet() -> None:
    ep = resolve_endpoint("testnet", "http://127.0.0.1:3001/")
    assert ep.rest_url == "http://127.0.0.1:3001" and ep.ws_url == "ws://127.0.0.1:3001/ws"
    assert not ep.is_mainnet
    with pytest.raises(ConfigError):
        ws_url_of("ftp://x")


def test_bad_addresses_and_limits() -> None:
    ep = resolve_endpoint("testnet")
    with pytest.raises(ConfigError, match=r"venue\.account"):
        ClientSettings(ep, account="0x123")
    with pytest.raises(ConfigError, match="max_order_notional"):
        ClientSettings(ep, max_order_notional=float("nan"))
    s = ClientSettings(ep, account=USER.upper().replace("0X", "0x"))
    assert s.query_user("0x" + "ee" * 20) == USER
    vault = "0x" + "12" * 20
    assert ClientSettings(ep, account=USER, vault=vault).query_user(None) == vault
    with pytest.raises(ConfigError, match=r"venue\.account"):
        ClientSettings(ep).query_user(None)


def _venue_section(**kw: str) -> SimpleNamespace:
    base = {
        "network": "testnet",
        "url": "",
        "account": USER,
        "vault": "",
        "key_env": "MMKIT_TEST_KEY",
        "key_file": "",
    }
    base.update(kw)
    return SimpleNamespace(**base)


def test_secret_never_in_repr_logs_or_errors(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    venue = from_settings(
        _venue_section(url="http://127.0.0.1:9"),
        Instrument(),
        max_order_notional=100.0,
        environ={"MMKIT_TEST_KEY": SECRET},
    )
    texts = [repr(venue), str(venue), repr(venue.client), repr(vars(venue))]

    async def fail_to_connect() -> None:
        try:
            await venue.start(lambda e: None)
        except VenueError as exc:
            texts.append(str(exc))
            texts.append(repr(exc.__context__))
        await venue.close()

    asyncio.run(fail_to_connect())
    f = tmp_path / "k"
    f.write_text(SECRET)
    os.chmod(f, 0o644)
    with pytest.raises(VenueError) as e:
        from_settings(_venue_section(key_file=str(f)), Instrument(), max_order_notional=1.0)
    texts.append(str(e.value))
    texts.append(caplog.text)
    for t in texts:
        assert SECRET not in t and SECRET.upper() not in t


def test_mainnet_refused_by_from_settings() -> None:
    with pytest.raises(ConfigError, match="--mainnet"):
        from_settings(
            _venue_section(network="mainnet"),
            Instrument(),
            max_order_notional=1.0,
            environ={"MMKIT_TEST_KEY": SECRET},
        )


def test_registered_venue_is_live_only_and_builds_from_its_live_context() -> None:
    """The venue registers a live side only (no factory that always raises): asking it for a
    simulated side is a configuration error naming it; its live factory reads the
    connection, the --mainnet opt-in and the clock from ``ctx.live``."""
    from mmkit.plugin_manager import PluginHost
    from mmkit.registry import BuildContext, LiveContext, RiskLimits, VenueSide
    from mmkit.venues.hyperliquid.params import HyperliquidParams
    from mmkit.venues.hyperliquid.venue import HyperliquidVenue

    spec = PluginHost(load_entrypoints=False).registry.get("venue", "hyperliquid")
    assert spec.sides == frozenset({VenueSide.LIVE})
    with pytest.raises(ConfigError, match=r"'hyperliquid'.*live-only; backtests need a simulated"):
        PluginHost(load_entrypoints=False).registry.venue(
            "hyperliquid", VenueSide.SIMULATED, purpose="backtests"
        )

    def ctx(network: str, mainnet_flag: bool) -> BuildContext[HyperliquidParams]:
        return BuildContext(
            "venue",
            "hyperliquid",
            HyperliquidParams(expires_after_ms=7000),
            Instrument(coin="ETH", asset=1, sz_decimals=4),
            RiskLimits(max_order_notional=321.0),
            live=LiveContext(
                clock_ns=lambda: 42,
                mainnet_flag=mainnet_flag,
                connection=_venue_section(network=network),
                environ={"MMKIT_TEST_KEY": SECRET},
            ),
        )

    v = spec.build_live(ctx("testnet", False))
    assert isinstance(v, HyperliquidVenue)
    assert v.client.settings.max_order_notional == 321.0
    assert v.client.settings.expires_after_ms == 7000 and not v.client.endpoint.is_mainnet
    with pytest.raises(ConfigError, match="--mainnet"):  # network = mainnet alone: refused
        spec.build_live(ctx("mainnet", False))
    assert spec.build_live(ctx("mainnet", True)).client.endpoint.is_mainnet


def test_live_venue_reads_settings_and_params() -> None:
    from mmkit.registry import RiskLimits
    from mmkit.venues.hyperliquid.params import HyperliquidParams
    from mmkit.venues.hyperliquid.venue import live_venue

    params = HyperliquidParams(ping_interval_s=20.0, expires_after_ms=5000, bbo=False)
    settings = SimpleNamespace(
        venue=_venue_section(),
        instrument=Instrument(coin="ETH", asset=1, sz_decimals=4),
        risk=RiskLimits(max_order_notional=123.0),
        component_params=lambda kind, name: params,
    )
    v = live_venue(settings, environ={"MMKIT_TEST_KEY": SECRET})
    assert v.client.settings.max_order_notional == 123.0
    assert v.client.settings.expires_after_ms == 5000
    assert v.stream_settings.ping_interval_s == 20.0 and v.instrument.coin == "ETH"
    assert v.client.user == USER and not v.client.endpoint.is_mainnet


def test_params_validate_through_build_params() -> None:
    from mmkit.params import build_params
    from mmkit.venues.hyperliquid.params import HyperliquidParams

    p, problems = build_params(
        HyperliquidParams, {"ping_interval_s": 30, "bbo": False}, "venues.hyperliquid"
    )
    assert problems == [] and p is not None and p.ping_interval_s == 30.0 and not p.bbo
    _, problems = build_params(
        HyperliquidParams, {"ping_interval_s": 90.0, "bogus": 1}, "venues.hyperliquid"
    )
    text = "\n".join(problems)
    assert "venues.hyperliquid.ping_interval_s" in text and "bogus" in text
