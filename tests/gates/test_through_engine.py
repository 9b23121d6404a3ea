"""Both gates in an Engine with the smart executor and the fake venue."""

from __future__ import annotations

from mmkit.audit.invariants.execution import INSTRUMENT, ladder
from mmkit.core.actions import CancelAll, Modify, Place
from mmkit.core.types import NS_PER_MS, NS_PER_S, Side
from mmkit.engine import Engine
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.gates.data_quality import DataQualityGate
from mmkit.gates.kill_switch import KillSwitch
from mmkit.testing.fake_venue import FakeVenue, ScriptedQuoter, VenueLoop, book


def rig() -> tuple[Engine, FakeVenue, VenueLoop, SmartExecutor, KillSwitch]:
    ex = SmartExecutor(instrument=INSTRUMENT)
    ks = KillSwitch()
    eng = Engine(
        instrument=INSTRUMENT,
        max_position=3.0,
        gates=[("data_quality", DataQualityGate()), ("kill_switch", ks)],
        quoter=("q", ScriptedQuoter(ladder(99, 101, 2))),
        executor=("smart", ex),
    )
    v = FakeVenue(INSTRUMENT)
    loop = VenueLoop(eng, v, now_ns=10 * NS_PER_S, step_ns=100 * NS_PER_MS)
    for _ in range(10):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    return eng, v, loop, ex, ks


def test_quotes_only_after_startup_sync_and_fresh_data() -> None:
    _, v, loop, ex, _ = rig()
    first_place = next(i for i, (_, a) in enumerate(loop.sent) if isinstance(a, Place))
    assert any(a.__class__.__name__ == "SyncState" for _, a in loop.sent[:first_place])
    assert len(v.open_orders()) == 4 and ex.startup_done


def test_crossed_book_cancels_everything_then_requotes_when_healthy() -> None:
    eng, v, loop, _, _ = rig()
    mark = len(loop.sent)
    for _ in range(5):
        loop.market(book(101.0, 100.0, loop.now))
        loop.step()
    assert v.open_orders() == []
    assert not [a for _, a in loop.sent[mark:] if isinstance(a, Place | Modify)]
    assert eng.closed["data_quality"].reason == "Crossed"
    for _ in range(5):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    assert len(v.open_orders()) == 4 and "data_quality" not in eng.closed


def test_liquidation_trips_kill_switch_with_an_empty_budget_and_latches() -> None:
    eng, v, loop, ex, ks = rig()
    ex.exhaust_budget()
    v.external_fill(Side.SELL, 0.5, 100.0, liquidation=True, now_ns=loop.now)
    for _ in range(5):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    assert v.open_orders() == []
    cancel_alls = [a for _, a in loop.sent if isinstance(a, CancelAll)]
    assert cancel_alls and cancel_alls[-1].emergency
    assert eng.closed["kill_switch"].reason == "Liquidation"
    for _ in range(20):
        loop.market(book(99.5, 100.5, loop.now))
        loop.step()
    assert v.open_orders() == [] and ks.tripped is not None  # latched
