"""The live engine's clock: wall time at start + monotonic elapsed, immune to wall steps."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from mmkit.components import Estimates, View
from mmkit.core.events import BookSnapshot, levels
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_S, Instrument
from mmkit.gates import reasons
from mmkit.gates.data_quality import DataQualityGate
from mmkit.runtime.live import LiveClock

START = 1_700_000_000 * NS_PER_S


class Steps:
    """A fake clock source returning the values it is given, one per call (the last repeats)."""

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.i = 0

    def __call__(self) -> int:
        v = self.values[min(self.i, len(self.values) - 1)]
        self.i += 1
        return v


@given(
    st.lists(st.integers(-(10**13), 10**13), min_size=1, max_size=30),
    st.lists(st.integers(0, 10**12), min_size=1, max_size=30),
)
def test_live_clock_follows_monotonic_time_whatever_the_wall_does(
    wall_steps: list[int], mono_steps: list[int]
) -> None:
    wall = Steps([START + w for w in wall_steps])
    mono_values = [5 * NS_PER_S]
    for d in mono_steps:
        mono_values.append(mono_values[-1] + d)
    mono = Steps(mono_values)
    clock = LiveClock(wall_ns=wall, mono_ns=mono)
    assert clock.start_ns == START + wall_steps[0]
    readings = [clock() for _ in mono_values[1:]]
    assert readings == sorted(readings)  # never decreases
    for r, m in zip(readings, mono_values[1:], strict=True):
        assert r == START + wall_steps[0] + (m - mono_values[0])


def _silent_feed_after_wall_step(clock_of: Callable[[Steps, Steps], Callable[[], int]]) -> bool:
    """A book arrives, the wall clock is set back one hour, then the feed is silent for 60 s
    of real (monotonic) time. Whether the data-quality gate says Stale (it must)."""
    hour = 3600 * NS_PER_S
    wall = Steps([START, START, START - hour + 60 * NS_PER_S])  # stepped back, 60 s later
    mono = Steps([0, 0, 60 * NS_PER_S])
    clock = clock_of(wall, mono)
    gate, market = DataQualityGate(), MarketState()
    t = clock()
    book = BookSnapshot(t, levels([100.0]), levels([1.0]), levels([101.0]), levels([1.0]))
    market.apply(book, t)
    gate.on_event(book, t)
    now = clock()
    d = gate.check(View(Instrument(), market, Portfolio(0.0, True), 1.0), Estimates(), now)
    return d is not None and d.reason == reasons.STALE


def test_backward_wall_step_does_not_keep_a_silent_feeds_gate_open() -> None:
    def live(wall: Steps, mono: Steps) -> Callable[[], int]:
        c = LiveClock(wall_ns=wall, mono_ns=mono)
        wall.i = 2  # every later wall reading is the stepped-back one: unused by LiveClock
        return c

    assert _silent_feed_after_wall_step(live)


def test_the_wall_clock_would_keep_it_open() -> None:
    """The broken variant (the engine on the wall clock): the same run never goes stale."""

    def wall_only(wall: Steps, mono: Steps) -> Callable[[], int]:
        wall.i = 1
        return wall

    assert not _silent_feed_after_wall_step(wall_only)
