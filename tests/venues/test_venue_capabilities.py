"""Venue capabilities: what a venue plugin registers (simulated, live, both), how each side is
built and checked, and how the runners choose a side by capability, never by name."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.venues.capability_plugin import PaperVenue, WireVenue

import mmkit.runtime.live as live_module
from mmkit.components import AsyncVenue, Venue
from mmkit.config.loader import load_settings
from mmkit.core.types import Instrument
from mmkit.errors import ConfigError, PluginError
from mmkit.plugin_manager import PluginHost
from mmkit.registry import (
    BuildContext,
    ComponentRegistry,
    ComponentSpec,
    LiveContext,
    RiskLimits,
    VenueSide,
)

PLUGIN = "tests.venues.capability_plugin"
SIM, LIVE = VenueSide.SIMULATED, VenueSide.LIVE


@pytest.fixture(scope="module")
def host() -> PluginHost:
    h = PluginHost(load_entrypoints=False, extra_modules=[PLUGIN])
    _ = h.registry
    return h


def ctx(name: str, live: LiveContext | None = None) -> BuildContext[object]:
    return BuildContext("venue", name, object(), Instrument(), RiskLimits(), live=live)


# -- registration ------------------------------------------------------------------------


def test_each_registration_form_gives_its_sides(host: PluginHost) -> None:
    reg = host.registry
    assert reg.get("venue", "paper_only").sides == {SIM}  # a plain factory: simulated
    assert reg.get("venue", "wire").sides == {LIVE}
    assert reg.get("venue", "both_sides").sides == {SIM, LIVE}
    assert reg.get("venue", "both_sides").describe_sides() == "simulated + live"
    # the built-ins, through the same hook
    assert reg.get("venue", "sim").sides == {SIM}
    assert reg.get("venue", "hyperliquid").sides == {LIVE}
    assert reg.get("quoter", "glft").sides == frozenset()  # not a venue: no sides


def test_bad_registrations_are_plugin_errors_naming_the_plugin(host: PluginHost) -> None:
    faults = [e.fault for e in host.errors if e.plugin == PLUGIN]
    expected = {
        "no_side": "register at least one side",
        "twice": "give the simulated factory once",
        "bad_string": "live factory must be callable or 'module:attr'",
        "liveish_quoter": "only venues have simulated/live sides",
    }
    for name, text in expected.items():
        assert any(name in f and text in f for f in faults), (name, faults)
        kind = "quoter" if name == "liveish_quoter" else "venue"
        assert name not in host.registry.names(kind)


def test_each_side_is_built_and_checked_against_its_contract(host: PluginHost) -> None:
    reg = host.registry
    assert isinstance(reg.get("venue", "both_sides").build(ctx("both_sides")), Venue)
    clock = lambda: 7  # noqa: E731
    lc = LiveContext(clock_ns=clock, mainnet_flag=True, connection="conn")
    wire = reg.get("venue", "both_sides").build_live(ctx("both_sides", lc))
    assert isinstance(wire, WireVenue) and isinstance(wire, AsyncVenue)
    assert wire.live.clock_ns is clock and wire.live.mainnet_flag and wire.live.connection == "conn"
    with pytest.raises(PluginError) as e:  # a broken live factory: caught at build time
        reg.get("venue", "bad_live").build_live(ctx("bad_live", lc))
    msg = str(e.value)
    assert PLUGIN in msg and "'bad_live' (live side)" in msg and "AsyncVenue" in msg
    assert "missing: close, start" in msg
    with pytest.raises(ConfigError, match=r"'wire'.*live-only"):  # no simulated side to build
        reg.get("venue", "wire").build(ctx("wire"))
    with pytest.raises(ValueError, match=r"needs ctx\.live"):
        reg.get("venue", "wire").build_live(ctx("wire"))


def test_sync_venue_adapter_is_gone_and_the_live_contract_moved() -> None:
    assert not hasattr(live_module, "SyncVenueAdapter")
    assert live_module.AsyncVenue is AsyncVenue  # old import path still works


# -- choosing a side ---------------------------------------------------------------------

SIDE_SETS = st.sampled_from([frozenset({SIM}), frozenset({LIVE}), frozenset({SIM, LIVE})])


def registry_of(sides: list[frozenset[VenueSide]]) -> ComponentRegistry:
    reg = ComponentRegistry()
    for i, s in enumerate(sides):
        sim = "m:build" if SIM in s else None
        live = "m:build_live" if LIVE in s else None
        reg.add(ComponentSpec("venue", f"v{i}", sim, object, "", "p", None, None, live))
    return reg


@given(
    st.lists(SIDE_SETS, min_size=1, max_size=4),
    st.integers(0, 3),
    st.booleans(),
    st.booleans(),
)
def test_trade_chooses_by_capability(
    sides: list[frozenset[VenueSide]], pick: int, live_asked: bool, chosen: bool
) -> None:
    reg = registry_of(sides)
    name = f"v{pick % len(sides)}"
    have = sides[pick % len(sides)]
    live_names = [f"v{i}" for i, s in enumerate(sides) if LIVE in s]
    try:
        spec, side = reg.trading_venue(name, live_asked=live_asked, chosen=chosen)
    except ConfigError as exc:
        # refused only when live was asked of a venue without a live side and no single
        # live venue could stand in for an unchosen one
        assert live_asked and LIVE not in have
        assert chosen or len(live_names) != 1
        assert f"'{name}'" in str(exc) and "simulated-only" in str(exc)
        return
    assert side in spec.sides  # never a side the venue does not have
    if not live_asked:
        assert spec.name == name and side is (SIM if SIM in have else LIVE)
    elif LIVE in have:
        assert (spec.name, side) == (name, LIVE)
    else:
        assert not chosen and [spec.name] == live_names and side is LIVE


def test_backtest_refuses_a_live_only_venue_by_capability() -> None:
    from mmkit.backtest.runner import build_venue

    h = PluginHost(load_entrypoints=False, extra_modules=[PLUGIN])
    settings = load_settings(None, h.registry, env={}, sets=["components.venue='wire'"])
    with pytest.raises(ConfigError) as e:
        build_venue(settings, h, tick=1.0)
    assert (
        "venue 'wire' (plugin 'tests.venues.capability_plugin') is live-only; backtests "
        "need a simulated venue" in str(e.value)
    )
    settings = load_settings(None, h.registry, env={}, sets=["components.venue='paper_only'"])
    assert isinstance(build_venue(settings, h, tick=0.5), PaperVenue)  # not a SimVenue: fine
    with pytest.raises(ConfigError, match="cannot run --cadence timer"):
        build_venue(settings, h, tick=0.5, cadence="timer")


def test_backtest_builds_the_simulated_venue_on_the_datas_tick() -> None:
    from mmkit.backtest.runner import build_venue
    from mmkit.venues.sim.venue import SimVenue

    h = PluginHost(load_entrypoints=False)
    settings = load_settings(None, h.registry, env={}, sets=["instrument.tick=1.0"])
    v = build_venue(settings, h, tick=0.1)
    assert isinstance(v, SimVenue) and v.cfg.tick == 0.1  # the data's tick
    assert settings.instrument.tick == 1.0  # the engine's grid is untouched
    fixed = load_settings(None, h.registry, env={}, sets=["venues.sim.tick=0.5"])
    v = build_venue(fixed, h, tick=0.1)
    assert isinstance(v, SimVenue) and v.cfg.tick == 0.5  # the venue's own config wins
    v = build_venue(settings, h, tick=float("nan"))  # no usable data tick: the configured one
    assert isinstance(v, SimVenue) and v.cfg.tick == 1.0


def test_live_runner_builds_the_live_side_through_the_registry(tmp_path: Path) -> None:
    from mmkit.runtime.live_run import build_live_venue

    h = PluginHost(load_entrypoints=False, extra_modules=[PLUGIN])
    settings = load_settings(
        None, h.registry, env={}, sets=["components.venue='wire'", "venue.url='http://x:1'"]
    )
    clock = lambda: 11  # noqa: E731
    v = build_live_venue(settings, h, "wire", mainnet_flag=True, clock_ns=clock)
    assert isinstance(v, WireVenue)
    assert v.live.clock_ns is clock and v.live.mainnet_flag
    assert v.live.connection.url == "http://x:1" and v.live.settings is settings
    asyncio.run(v.start(lambda ev: None))
    with pytest.raises(ConfigError, match=r"'paper_only'.*simulated-only; live trading need"):
        build_live_venue(settings, h, "paper_only", mainnet_flag=False, clock_ns=clock)
