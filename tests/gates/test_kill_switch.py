"""The kill switch: one test per trip reason, latching, reset, modes, broken PnL."""

from __future__ import annotations

import math

from mmkit.components import Estimates, GateMode, View
from mmkit.core.events import ActionResult, BookSnapshot, OwnFill, levels
from mmkit.core.market import MarketState
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_S, Instrument, Side
from mmkit.gates import reasons
from mmkit.gates.kill_switch import NS_PER_DAY, KillSwitch
from mmkit.gates.params import KillSwitchParams

T0 = 5 * NS_PER_DAY + 1_000 * NS_PER_S


class Rig:
    def __init__(self, params: KillSwitchParams | None = None, pos: float = 0.0) -> None:
        self.ks = KillSwitch(params)
        self.m = MarketState()
        self.pf = Portfolio(pos, True)
        self.view = View(Instrument(), self.m, self.pf, 1.0)
        self.now = T0

    def mid(self, px: float, dt_s: float = 1.0) -> None:
        self.now += int(dt_s * NS_PER_S)
        ev = BookSnapshot(
            self.now, levels([px - 0.5]), levels([1.0]), levels([px + 0.5]), levels([1.0])
        )
        self.m.apply(ev, self.now)

    def check(self) -> object:
        return self.ks.check(self.view, Estimates(), self.now)

    def fill(self, side: Side, sz: float, px: float, liquidation: bool = False) -> None:
        f = OwnFill(self.now, 7, None, side, px, sz, liquidation=liquidation)
        self.pf.apply_fill(f)
        self.ks.on_event(f, self.now)


def test_quiet_market_is_open() -> None:
    r = Rig()
    r.mid(100.0)
    assert r.check() is None


def test_drawdown_is_from_peak_not_start() -> None:
    r = Rig(KillSwitchParams(max_drawdown_usd=50.0, max_daily_loss_usd=1e9), pos=1.0)
    r.pf.avg_entry = 100.0
    r.pf.cash = -100.0
    r.mid(100.0)
    assert r.check() is None
    r.mid(180.0)  # equity +80 above start: peak
    assert r.check() is None
    r.mid(140.0)  # 40 below peak, still 40 above start
    assert r.check() is None
    r.mid(125.0)  # 55 below peak but 25 above the start
    d = r.check()
    assert d is not None and d.reason == reasons.DRAWDOWN  # type: ignore[attr-defined]


def test_daily_loss_resets_each_utc_day() -> None:
    r = Rig(KillSwitchParams(max_drawdown_usd=1e9, max_daily_loss_usd=30.0), pos=1.0)
    r.pf.cash = -100.0
    r.mid(100.0)
    assert r.check() is None
    r.mid(75.0)
    assert r.check() is None
    r.mid(75.0, dt_s=86_400)  # next day: the baseline is 75
    assert r.check() is None
    r.mid(40.0)
    d = r.check()
    assert d is not None and d.reason == reasons.DAILY_LOSS  # type: ignore[attr-defined]


def test_max_position() -> None:
    r = Rig(KillSwitchParams(max_position_mult=1.5))
    r.mid(100.0)
    r.fill(Side.BUY, 1.6, 100.0)
    d = r.check()
    assert d is not None and d.reason == reasons.MAX_POSITION  # type: ignore[attr-defined]


def test_stale_data_too_long() -> None:
    r = Rig(KillSwitchParams(max_stale_s=60.0))
    r.mid(100.0)
    r.now += 59 * NS_PER_S
    assert r.check() is None
    r.now += 2 * NS_PER_S
    d = r.check()
    assert d is not None and d.reason == reasons.STALE_TOO_LONG  # type: ignore[attr-defined]


def test_no_data_at_all_for_too_long() -> None:
    r = Rig(KillSwitchParams(max_stale_s=60.0))
    assert r.check() is None
    r.now += 61 * NS_PER_S
    d = r.check()
    assert d is not None and d.reason == reasons.STALE_TOO_LONG  # type: ignore[attr-defined]


def test_position_change_without_fill() -> None:
    r = Rig(KillSwitchParams(unexplained_position_frac=0.25))
    r.mid(100.0)
    assert r.check() is None
    r.fill(Side.BUY, 0.5, 100.0)  # explained by a fill
    r.mid(100.0)
    assert r.check() is None
    r.pf.sync(0.0)  # the venue says flat: no fill explains it (liquidation?)
    r.mid(100.0)
    d = r.check()
    assert d is not None and d.reason == reasons.UNEXPLAINED_POSITION  # type: ignore[attr-defined]


def test_liquidation_fill() -> None:
    r = Rig()
    r.mid(100.0)
    r.fill(Side.SELL, 0.01, 100.0, liquidation=True)
    d = r.check()
    assert d is not None and d.reason == reasons.LIQUIDATION  # type: ignore[attr-defined]


def test_too_many_rejections_in_window() -> None:
    r = Rig(KillSwitchParams(max_rejections=3, rejection_window_s=10.0))
    r.mid(100.0)
    rej = ActionResult(r.now, 1, None, None, Outcome.REJECTED, RejectReason.INSUFFICIENT_MARGIN)
    gone = ActionResult(r.now, 2, None, None, Outcome.REJECTED, RejectReason.ORDER_GONE)
    for _ in range(5):
        r.ks.on_event(gone, r.now)  # gone orders are not rejections
    r.ks.on_event(rej, r.now)
    r.ks.on_event(rej, r.now)
    assert r.check() is None
    r.now += 11 * NS_PER_S  # the window rolled
    r.mid(100.0, dt_s=0)
    r.ks.on_event(rej, r.now)
    assert r.check() is None
    r.ks.on_event(rej, r.now)
    r.ks.on_event(rej, r.now)
    d = r.check()
    assert d is not None and d.reason == reasons.TOO_MANY_REJECTIONS  # type: ignore[attr-defined]


def test_nan_equity_trips() -> None:
    r = Rig(pos=1.0)
    r.pf.cash = math.nan
    r.mid(100.0)
    d = r.check()
    assert d is not None and d.reason == reasons.PNL_UNAVAILABLE  # type: ignore[attr-defined]


def test_raising_pnl_trips() -> None:
    class Broken(Portfolio):
        def equity(self, mark: float) -> float:
            raise RuntimeError("boom")

    r = Rig()
    r.pf = Broken(0.0, True)
    r.view = View(Instrument(), r.m, r.pf, 1.0)
    r.mid(100.0)
    d = r.check()
    assert d is not None and d.reason == reasons.PNL_UNAVAILABLE  # type: ignore[attr-defined]


def test_latches_until_reset_and_is_idempotent() -> None:
    r = Rig()
    r.mid(100.0)
    r.fill(Side.SELL, 0.01, 100.0, liquidation=True)
    d1 = r.check()
    r.mid(100.0)
    d2 = r.check()
    assert d1 is not None and d1 is d2 and r.ks.trip_count == 1
    r.ks.reset()
    r.mid(100.0)
    assert r.check() is None


def test_modes_and_emergency() -> None:
    for mode, gm in (("halt", GateMode.HALT), ("reduce_only", GateMode.REDUCE_ONLY)):
        r = Rig(KillSwitchParams(mode=mode))  # type: ignore[arg-type]
        r.mid(100.0)
        r.fill(Side.SELL, 0.01, 100.0, liquidation=True)
        d = r.check()
        assert d is not None and d.mode is gm and d.emergency  # type: ignore[attr-defined]


def test_every_reason_has_a_test() -> None:
    assert len(reasons.KILL_SWITCH_REASONS) == 8


def test_post_only_crosses_are_routine_not_a_trip() -> None:
    """ALO quoting meets a moved book all the time (the per-side backoff paces it): a storm
    of post-only crosses does not trip the switch by default; counted when configured."""
    cross = ActionResult(T0, 1, None, None, Outcome.REJECTED, RejectReason.POST_ONLY_WOULD_CROSS)
    r = Rig(KillSwitchParams(max_rejections=3, rejection_window_s=10.0))
    r.mid(100.0)
    for _ in range(50):
        r.ks.on_event(cross, r.now)
    assert r.check() is None
    strict = Rig(KillSwitchParams(max_rejections=3, rejection_window_s=10.0, ignored_rejections=[]))
    strict.mid(100.0)
    for _ in range(3):
        strict.ks.on_event(cross, strict.now)
    d = strict.check()
    assert d is not None and d.reason == reasons.TOO_MANY_REJECTIONS  # type: ignore[attr-defined]


def test_an_unknown_ignored_reason_is_a_config_error() -> None:
    import pytest

    from mmkit.errors import ConfigError

    with pytest.raises(ConfigError, match="ignored_rejections: unknown reject reason"):
        KillSwitch(KillSwitchParams(ignored_rejections=["post_only_crossed"]))
