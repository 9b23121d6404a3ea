"""The dead-man's switch's decisions (pure: the clocks are passed in) and its renewal loop
against a fake client with injected clocks."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.errors import ConfigError
from mmkit.venues.hyperliquid.deadman import (
    MS_PER_DAY,
    VENUE_DAILY_FIRES,
    VENUE_MIN_LEAD_MS,
    DeadmanSettings,
    DeadmanState,
    DeadmanSwitch,
)
from mmkit.venues.priority import in_emergency_lane

DAY0 = 19_700 * MS_PER_DAY  # 00:00 UTC of some day


def test_settings_enforce_the_venue_rules() -> None:
    with pytest.raises(ConfigError, match="5 s ahead"):
        DeadmanSettings(horizon_s=5.0)
    with pytest.raises(ConfigError, match="renewed well before it fires"):
        DeadmanSettings(horizon_s=10.0, renew_every_s=6.0)
    with pytest.raises(ConfigError, match="finite"):
        DeadmanSettings(retry_s=float("nan"))
    with pytest.raises(ConfigError, match="reserve_fires"):
        DeadmanSettings(reserve_fires=VENUE_DAILY_FIRES)
    DeadmanSettings(horizon_s=10.0, renew_every_s=5.0)


@given(
    horizon=st.floats(6.0, 120.0),
    frac=st.floats(0.05, 1.0),
    gaps=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=60),
)
def test_renewed_before_it_can_fire(horizon: float, frac: float, gaps: list[float]) -> None:
    """Renewing whenever due (checked at arbitrary moments a few seconds apart at most): the
    armed time always stays >= 5 s ahead at every renewal and never lapses in between."""
    s = DeadmanSettings(horizon_s=horizon, renew_every_s=max(0.5, frac * (horizon - 5.0)))
    d = DeadmanState(s)
    t = 0.0  # seconds since start; wall = DAY0 + t
    for gap in gaps:
        t += gap
        wall = DAY0 + round(t * 1000)
        if d.armed_until_ms is not None:
            assert d.armed_until_ms > wall, "the switch lapsed before a renewal"
        if d.due(t):
            target = d.target_ms(wall)
            assert target is not None and target - wall >= VENUE_MIN_LEAD_MS
            d.on_armed(target, t)
            assert d.state == "armed"


def test_budget_stops_arming_and_rolls_over_at_utc_midnight() -> None:
    s = DeadmanSettings(reserve_fires=2)
    d = DeadmanState(s)
    wall = DAY0 + 3_600_000
    for i in range(VENUE_DAILY_FIRES - 3):
        d.note_fire(wall + i)
    assert d.target_ms(wall) is not None  # 3 left > reserve 2
    d.note_fire(wall + 100)
    assert d.target_ms(wall) is None  # 2 left: keep them
    assert d.state == "budget" and "2 of the venue's 10 daily fires left" in d.reason
    assert d.target_ms(DAY0 + MS_PER_DAY + 1) is not None  # a new UTC day


def test_refusal_is_news_once() -> None:
    d = DeadmanState(DeadmanSettings())
    msg = "Cannot set scheduled cancel time until enough volume traded. Required: $1000000."
    assert d.on_refused(msg, 0.0)
    assert not d.on_refused(msg, 60.0)
    assert d.describe(DAY0, 60.0).startswith("refused: Cannot set scheduled cancel time")
    assert d.status(DAY0, 60.0)["state"] == "refused"
    assert d.next_at == 60.0 + d.settings.refused_retry_s


@dataclass
class Reply:
    ok: bool
    kind: str = "default"
    unknown: bool = False
    error: Any = None


@dataclass
class Err:
    message: str


class FakeClient:
    def __init__(self, clock: list[float], refuse: str = "") -> None:
        self.clock = clock
        self.calls: list[tuple[float, int | None, bool]] = []
        self.refuse = refuse

    async def schedule_cancel(self, time_ms: int | None) -> Reply:
        self.calls.append((self.clock[0], time_ms, in_emergency_lane()))
        if self.refuse and time_ms is not None:
            return Reply(False, "err", error=Err(self.refuse))
        return Reply(True)


def test_switch_renews_on_schedule_and_clears_on_the_emergency_lane() -> None:
    now = [0.0]  # injected monotonic seconds; wall = DAY0 + now

    async def scenario() -> tuple[FakeClient, DeadmanSwitch]:
        c = FakeClient(now)
        sw = DeadmanSwitch(
            c,
            DeadmanSettings(horizon_s=15.0, renew_every_s=5.0),
            wall_ms=lambda: DAY0 + round(now[0] * 1000),
            mono=lambda: now[0],
            poll_s=0.005,
        )
        await sw.start()
        assert sw.status()["state"] == "armed"
        for _ in range(40):  # advance the injected clock; the loop renews when due
            now[0] += 0.5
            await asyncio.sleep(0.06)
        await sw.clear()
        return c, sw

    c, sw = asyncio.run(scenario())
    arms = [(t, ms) for t, ms, _ in c.calls if ms is not None]
    assert len(arms) >= 3
    for t, ms in arms:
        assert ms == DAY0 + round(t * 1000) + 15_000
    assert all(b - a <= 5.5 for (a, _), (b, _) in itertools.pairwise(arms))
    assert c.calls[-1][1] is None  # cleared at the end
    assert all(lane for *_, lane in c.calls)
    assert sw.status()["state"] == "cleared"


def test_switch_reports_the_venues_refusal_and_keeps_going() -> None:
    msg = (
        "Cannot set scheduled cancel time until enough volume traded. "
        "Required: $1000000. Traded: $12.50."
    )

    async def scenario() -> DeadmanSwitch:
        now = [0.0]
        sw = DeadmanSwitch(FakeClient(now, refuse=msg), wall_ms=lambda: DAY0, mono=lambda: now[0])
        await sw.start()
        await sw.clear()  # nothing to clear: never armed
        return sw

    sw = asyncio.run(scenario())
    assert sw.status() == {
        "state": "refused",
        "reason": msg,
        "fires_today": 0,
        "next_renewal_s": 60.0,  # volume grows while trading: asked again later
    }
    assert sw.describe() == f"refused: {msg}"
