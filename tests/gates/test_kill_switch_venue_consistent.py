"""The kill switch judges the venue-consistent book (issue 16).

Fills the start-up snapshot already holds (made while no process ran, delivered by the
resume backfill) move no position: a switch that summed the fill events it saw (the old
behaviour) would call the unchanged position an unexplained change and trip, latched.
"""

from __future__ import annotations

from mmkit.components import Estimates, GateDecision, View
from mmkit.core.events import BookSnapshot, OwnFill, PositionSnapshot, levels
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_S, Instrument, Side
from mmkit.execution.position_sync import IN_SNAPSHOT, PositionReconciler
from mmkit.gates import reasons
from mmkit.gates.kill_switch import KillSwitch
from mmkit.gates.params import KillSwitchParams

T0 = 1_700_000_000 * NS_PER_S


class FillSummingKillSwitch(KillSwitch):
    """The broken variant: explains position changes by the fill events it was shown."""

    def reset(self) -> None:
        super().reset()
        self._seen = 0.0

    def on_event(self, event: object, now_ns: int) -> None:
        super().on_event(event, now_ns)  # type: ignore[arg-type]
        if isinstance(event, OwnFill):
            self._seen += float(event.side) * event.sz

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        real = view.portfolio.fill_position
        view.portfolio.fill_position = self._seen
        try:
            return super().check(view, est, now_ns)
        finally:
            view.portfolio.fill_position = real


def backfill_after_restart(ks: KillSwitch) -> GateDecision | None:
    pf = Portfolio(0.0, position_known=False)
    rec = PositionReconciler(pf, tolerance=0.0005)
    market = MarketState()
    view = View(Instrument(), market, pf, 0.01)
    rec.on_snapshot(PositionSnapshot(T0, -0.006, 100.0), 100.0)  # short, as the venue says
    d = None
    for k in range(4):
        now = T0 + (k + 1) * NS_PER_S
        market.apply(
            BookSnapshot(now, levels([99.5]), levels([1.0]), levels([100.5]), levels([1.0])),
            now,
        )
        if k == 1:  # the sells that made the short, made while down, delivered now
            f = OwnFill(T0 - 30 * NS_PER_S, 5, None, Side.SELL, 100.0, 0.006, tid=77)
            assert rec.on_fill(f) == IN_SNAPSHOT
            ks.on_event(f, now)
        d = ks.check(view, Estimates(), now) or d
    assert pf.position == -0.006
    return d


def test_backfilled_fills_in_the_startup_snapshot_do_not_trip() -> None:
    assert backfill_after_restart(KillSwitch(KillSwitchParams())) is None


def test_a_switch_that_sums_fill_events_is_caught() -> None:
    d = backfill_after_restart(FillSummingKillSwitch(KillSwitchParams()))
    assert d is not None and d.reason == reasons.UNEXPLAINED_POSITION
