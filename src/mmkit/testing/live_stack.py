"""The live path in one process, for tests: settings, the Hyperliquid venue at a URL (the
loopback emulator), the default engine, a session and the live runner, wired as
``mmkit trade --url`` wires them, but with the key given directly and no journal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mmkit.assembly import build_engine
from mmkit.config.loader import Settings, load_settings
from mmkit.core.types import NS_PER_MS
from mmkit.plugin_manager import get_host
from mmkit.runtime.live import LiveRunner
from mmkit.runtime.observer import RunObserver
from mmkit.runtime.session import Session
from mmkit.venues.hyperliquid.params import HyperliquidParams
from mmkit.venues.hyperliquid.venue import HyperliquidVenue, from_settings


@dataclass
class LiveStack:
    settings: Settings
    venue: HyperliquidVenue
    observer: RunObserver
    session: Session
    runner: LiveRunner


def live_stack(
    url: str,
    *,
    key: str,
    sets: Sequence[str] = (),
    params: HyperliquidParams | None = None,
    settle_s: float = 1.0,
    key_env: str = "MMKIT_LIVE_STACK_TEST_KEY",
) -> LiveStack:
    """Everything ``mmkit trade --url URL --set ...`` builds, for a key held in memory (it
    reaches the venue through a private environment mapping, never ``os.environ``)."""
    host = get_host()
    settings = load_settings(
        None,
        host.registry,
        env={},
        sets=list(sets),
        flags={"venue.url": url, "venue.key_env": key_env},
    )
    venue = from_settings(
        settings.venue,
        settings.instrument,
        max_order_notional=settings.risk.max_order_notional,
        params=params,
        environ={key_env: key},
    )
    observer = RunObserver(None, host.observer_hooks())
    engine = build_engine(settings, host, observer=observer)
    session = Session(engine, observer, None)
    observer.run = session
    runner = LiveRunner(
        session, venue, timer_ns=settings.engine.timer_ms * NS_PER_MS, settle_s=settle_s
    )
    return LiveStack(settings, venue, observer, session, runner)


__all__ = ["LiveStack", "live_stack"]
