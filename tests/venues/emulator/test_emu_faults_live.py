"""The mmkit client survives every fault of the emulator's catalogue, over real loopback
sockets: LiveRunner + HyperliquidVenue (key from an environment variable) + the default
engine trade for a few seconds while the fault hits. Each scenario must end with no order
left on the emulator (the kill switch cancelled everything) and the client's position equal
to the emulator's; connection faults must show a reconnection, a resubscription and a REST
backfill.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.venues.emulator.emu_live import run_with_faults

from mmkit.venues.emulator.faults import CATALOGUE

pytestmark = [pytest.mark.network, pytest.mark.slow]

SCENARIOS: dict[str, list[tuple[float, str, dict[str, Any]]]] = {
    "ws_drop": [(1.0, "ws_drop", {})],
    "ws_drop_abrupt": [(1.0, "ws_drop", {"abrupt": True})],
    "stall": [(1.0, "stall", {"duration": 1.0})],
    "stale_book": [(1.0, "stale_book", {"duration": 1.0})],
    "crossed_book": [(1.0, "crossed_book", {"duration": 1.0})],
    "delay_updates": [(0.8, "delay_updates", {"duration": 1.5, "delay_s": 0.3})],
    "reorder_updates": [(0.8, "reorder_updates", {"duration": 1.5})],
    "fill_race": [(0.8, "fill_race", {"duration": 1.5})],
    "http_429": [(1.0, "http_429", {"duration": 0.7})],
    "http_5xx_lost_reply": [(1.0, "http_5xx", {"duration": 0.7, "when": "after"})],
    "http_5xx": [(1.0, "http_5xx", {"duration": 0.5, "status": 503})],
    "post_only": [(1.0, "post_only", {"duration": 1.0})],
    "restart": [(1.0, "restart", {"down_s": 0.5})],
    "http_timeout": [(1.0, "http_timeout", {"duration": 0.5, "hang_s": 1.0})],
    "bad_frame": [(1.0, "bad_frame", {})],
}
RECONNECTING = {"ws_drop", "ws_drop_abrupt", "stall", "restart"}


def test_every_fault_of_the_catalogue_has_a_scenario() -> None:
    covered = {name for steps in SCENARIOS.values() for _, name, _ in steps}
    assert covered == set(CATALOGUE)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_client_survives(scenario: str) -> None:
    r = asyncio.run(run_with_faults(SCENARIOS[scenario], duration_s=3.0))
    assert r.stopped_by == "duration"
    assert len(r.applied) == len(SCENARIOS[scenario])
    assert r.session.stats.action_counts.get("Place", 0) > 0, "the engine never quoted"
    # no orphaned order: the kill switch left nothing resting on the emulator
    assert r.emulator_open_orders == []
    # and while it traded, no order rested on the emulator untracked by the client
    assert r.samples > 10
    assert r.worst_orphan_s == 0.0
    # the client's position is the emulator's (every fill seen once, none lost)
    assert r.client_position == pytest.approx(r.emulator_position, abs=1e-9)
    acct = r.emulator.book.get("0x14791697260e4c9a71f18484c9f997b308e59325")
    assert acct is not None
    assert r.session.engine.portfolio.fill_count == len(acct.fills)
    stream = r.venue.stream
    assert stream is not None
    if scenario in RECONNECTING:
        assert stream.connects >= 2  # reconnected
        assert r.emulator.hub.connections_total >= 2  # and subscribed again on the new socket
        assert r.emulator.info.counts.get("userFillsByTime", 0) >= 1  # backfilled by REST
        assert r.emulator.info.counts.get("openOrders", 0) >= 2


def test_the_orphan_watch_sees_an_order_the_client_never_sent() -> None:
    """The check above is not vacuous: an order placed on the account behind the client's
    back is seen as untracked, and the kill switch still leaves nothing behind."""
    r = asyncio.run(run_with_faults([], duration_s=2.5, foreign_order_at=0.8))
    assert r.worst_orphan_s > 0.0
    assert r.emulator_open_orders == []
    assert r.client_position == pytest.approx(r.emulator_position, abs=1e-9)
