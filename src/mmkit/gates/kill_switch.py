"""The kill switch (seed report §7): a latching gate that stops quoting on a risk breach.

Trips on: drawdown from the **peak** equity (not the start), the UTC day's loss, position
beyond ``max_position_mult`` × max position, no usable market data for ``max_stale_s``, a
position jump not explained by our fills (liquidation suspicion) or a liquidation fill, too
many rejections in a rolling window, and a PnL computation that fails (an exception, or a
non-finite equity while a mid exists): a broken PnL trips the switch, it never silences it.

Rejections are counted **by class** (:class:`~mmkit.core.outcomes.RejectionClass`), each
class against its own limit in ``rejection_window_s`` (``rejection_limits``): a post-only
order meeting a moved book is the routine outcome of ALO quoting and is not limited by
default, while 5 margin rejections in a minute mean the account cannot carry the quotes.
``max_rejections`` stays as a backstop over the classes together (reasons in
``ignored_rejections``, by default the post-only crosses, left out). The trip's detail
names the class (``"all"`` for the backstop), its count, its limit and the window. A
``modify_place_failed`` (the modify's cancel leg done, its new order refused) counts as
the refusal named in its message (``Error placing new order during modify: <inner>``): a
modify whose new order would cross is the same routine post-only cross.

The PnL checked is the portfolio's equity, which is venue-consistent: a venue position is
only adopted once sequenced against our fills and is booked as a reconciliation adjustment
(:class:`~mmkit.execution.position_sync.PositionReconciler`), so equity never jumps by size
x mid on a snapshot. Drawdown and daily loss are only tracked once the position is known
(start-up adopts the venue's position with its entry price). A position change "without a
fill" is the position's change minus the change our booked fills explain
(``Portfolio.fill_position``): only a divergence the reconciler confirmed (persisting
moves it, never a fill racing a snapshot.

Once tripped it stays tripped (the same decision every check) until :meth:`reset`. Mode
``halt`` closes with ``GateMode.HALT``; ``reduce_only`` with ``GateMode.REDUCE_ONLY``; both
are emergencies (their cancels may draw on the execution budget's reserve).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from mmkit.components import (
    DECLARABLE_KINDS,
    Estimates,
    GateDecision,
    GateMode,
    GateRole,
    View,
)
from mmkit.core.events import ActionResult, Event, EventKind, OwnFill, TradeBatch
from mmkit.core.outcomes import Outcome, RejectionClass, RejectReason
from mmkit.core.types import NS_PER_S
from mmkit.errors import ConfigError
from mmkit.gates import reasons
from mmkit.gates.params import KillSwitchParams
from mmkit.registry import BuildContext
from mmkit.venues.hyperliquid.errors import classify_error

if TYPE_CHECKING:
    from mmkit.gates.kill_switch_twin import KillSwitchTwin

NS_PER_DAY = 86_400 * NS_PER_S


class KillSwitch:
    #: audit contract :class:`mmkit.components.DeclaresRoles`
    roles = frozenset({GateRole.KILL_SWITCH})
    #: it counts its own fills (liquidations) and rejected actions; the rest (market data,
    #: timers, order updates...) is not delivered to it
    #: (:class:`mmkit.components.DeclaresIgnores`)
    ignores = DECLARABLE_KINDS - {EventKind.OWN_FILL, EventKind.ACTION_RESULT}

    def __init__(self, params: KillSwitchParams | None = None, name: str = "kill_switch") -> None:
        self.params = params or KillSwitchParams()
        self.name = name
        known = {r.value for r in RejectReason}
        unknown = [r for r in self.params.ignored_rejections if r not in known]
        if unknown:
            raise ConfigError(
                [
                    f"gates.{name}.ignored_rejections: unknown reject reason(s) {unknown}; "
                    f"known: {', '.join(sorted(known))}"
                ]
            )
        self._ignored = frozenset(self.params.ignored_rejections)
        #: limit per counted class (classes whose limit is 0 are not tracked at all)
        self._class_limits: dict[RejectionClass, int] = {
            c: self.params.rejection_limit(c)
            for c in RejectionClass
            if self.params.rejection_limit(c) > 0
        }
        self._mode = GateMode.HALT if self.params.mode == "halt" else GateMode.REDUCE_ONLY
        self.tripped: GateDecision | None = None
        self.trip_count = 0
        self.reset()

    def twin(self) -> KillSwitchTwin:
        """The compiled twin of this component: same parameters, fresh state
        (see mmkit.twins)."""
        from mmkit.gates.kill_switch_twin import KillSwitchTwin

        return KillSwitchTwin(self.params, name=self.name)

    def reset(self) -> None:
        """Re-arm the switch (an operator action); every baseline starts afresh."""
        self.tripped = None
        self._peak = -math.inf
        self._day = -1
        self._day_start = math.nan
        self._last_pos: float | None = None
        self._last_fill_pos = 0.0
        self._liquidation = False
        self._rejections: deque[int] = deque()  # times (ns) of the backstop total
        self._by_class: dict[RejectionClass, deque[int]] = {c: deque() for c in self._class_limits}
        self._last_good_ns = -1

    # -- events -------------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        kind = event.kind
        if kind is EventKind.OWN_FILL:
            assert isinstance(event, OwnFill)
            if event.liquidation:
                self._liquidation = True
        elif kind is EventKind.ACTION_RESULT:
            assert isinstance(event, ActionResult)
            if event.outcome is not Outcome.REJECTED:
                return
            reason = effective_reason(event)
            times = self._by_class.get(reason.rejection_class)
            if times is not None:
                times.append(now_ns)
            if reason.counts_as_rejection and reason.value not in self._ignored:
                self._rejections.append(now_ns)

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        return None  # market trades change nothing here

    # -- decision -----------------------------------------------------------------------
    def _trip(self, reason: str, **detail: float | str) -> GateDecision:
        self.tripped = GateDecision(self.name, reason, detail, mode=self._mode, emergency=True)
        self.trip_count += 1
        return self.tripped

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        if self.tripped is not None:
            return self.tripped
        p = self.params
        if self._liquidation:
            return self._trip(reasons.LIQUIDATION)
        tripped = self._check_rejections(now_ns)
        if tripped is not None:
            return tripped
        pf = view.portfolio
        if pf.position_known:
            pos = pf.position
            if not math.isfinite(pos):
                return self._trip(reasons.PNL_UNAVAILABLE, error="non-finite position")
            if abs(pos) > p.max_position_mult * view.max_position:
                return self._trip(
                    reasons.MAX_POSITION,
                    position=pos,
                    limit=p.max_position_mult * view.max_position,
                )
            fill_pos = pf.fill_position
            if self._last_pos is not None:
                fills = fill_pos - self._last_fill_pos
                unexplained = (pos - self._last_pos) - fills
                if abs(unexplained) > p.unexplained_position_frac * view.max_position:
                    return self._trip(
                        reasons.UNEXPLAINED_POSITION, change=pos - self._last_pos, fills=fills
                    )
            self._last_pos = pos
            self._last_fill_pos = fill_pos
        else:
            return self._check_stale(view, now_ns)  # no PnL without a known position
        return self._check_pnl(view, now_ns)

    def rejection_counts(self, now_ns: int) -> dict[str, int]:
        """Rejections (count) in the window ending at ``now_ns`` per limited class, plus
        ``"all"`` (the ``max_rejections`` backstop's total); for reports and tests."""
        self._roll(now_ns)
        out = {c.value: len(t) for c, t in self._by_class.items()}
        out["all"] = len(self._rejections)
        return out

    def _roll(self, now_ns: int) -> None:
        """Drop the rejections older than the window (an age equal to it still counts)."""
        window = int(self.params.rejection_window_s * NS_PER_S)
        for times in (self._rejections, *self._by_class.values()):
            while times and now_ns - times[0] > window:
                times.popleft()

    def _check_rejections(self, now_ns: int) -> GateDecision | None:
        """Trip when a class reaches its limit (checked first: it names the trouble), or
        when every counted class together reaches ``max_rejections``."""
        self._roll(now_ns)
        window_s = self.params.rejection_window_s
        for cls, limit in self._class_limits.items():
            n = len(self._by_class[cls])
            if n >= limit:
                return self._trip(
                    reasons.TOO_MANY_REJECTIONS,
                    rejection_class=cls.value,
                    count=float(n),
                    limit=float(limit),
                    window_s=window_s,
                )
        n = len(self._rejections)
        if n >= self.params.max_rejections:
            return self._trip(
                reasons.TOO_MANY_REJECTIONS,
                rejection_class="all",
                count=float(n),
                limit=float(self.params.max_rejections),
                window_s=window_s,
            )
        return None

    def _check_stale(self, view: View, now_ns: int) -> GateDecision | None:
        """Only the no-usable-data check (the PnL is meaningless before start-up)."""
        p = self.params
        if self._last_good_ns < 0:
            self._last_good_ns = now_ns
        fresh = max(view.market.last_update.values(), default=-1)
        if fresh < 0 or not math.isfinite(view.mid):
            if now_ns - self._last_good_ns > p.max_stale_s * NS_PER_S:
                return self._trip(
                    reasons.STALE_TOO_LONG, age_s=(now_ns - self._last_good_ns) / NS_PER_S
                )
            return None
        if now_ns - fresh > p.max_stale_s * NS_PER_S:
            return self._trip(reasons.STALE_TOO_LONG, age_s=(now_ns - fresh) / NS_PER_S)
        self._last_good_ns = now_ns
        return None

    def _check_pnl(self, view: View, now_ns: int) -> GateDecision | None:
        p = self.params
        if self._last_good_ns < 0:
            self._last_good_ns = now_ns
        try:
            mid = view.mid
            equity = view.portfolio.equity(mid)
        except Exception as exc:  # a broken PnL must trip, never silence the switch
            return self._trip(reasons.PNL_UNAVAILABLE, error=f"{type(exc).__name__}: {exc}")
        fresh = max(view.market.last_update.values(), default=-1)
        if not math.isfinite(mid) or fresh < 0:
            if now_ns - self._last_good_ns > p.max_stale_s * NS_PER_S:
                return self._trip(
                    reasons.STALE_TOO_LONG, age_s=(now_ns - self._last_good_ns) / NS_PER_S
                )
            return None
        if not math.isfinite(equity):
            return self._trip(reasons.PNL_UNAVAILABLE, error=f"equity {equity!r}")
        age_ns = now_ns - fresh
        if age_ns > p.max_stale_s * NS_PER_S:
            return self._trip(reasons.STALE_TOO_LONG, age_s=age_ns / NS_PER_S)
        self._last_good_ns = now_ns
        if equity > self._peak:
            self._peak = equity
        if self._peak - equity > p.max_drawdown_usd:
            return self._trip(
                reasons.DRAWDOWN, peak=self._peak, equity=equity, limit=p.max_drawdown_usd
            )
        day = now_ns // NS_PER_DAY
        if day != self._day:
            self._day = day
            self._day_start = equity
        if self._day_start - equity > p.max_daily_loss_usd:
            return self._trip(
                reasons.DAILY_LOSS,
                day_start=self._day_start,
                equity=equity,
                limit=p.max_daily_loss_usd,
            )
        return None


def effective_reason(result: ActionResult) -> RejectReason:
    """The reason a rejection counts as: its own, except a ``modify_place_failed`` whose
    message names the new order's refusal (the venue catalogue's wording), which counts as
    that refusal (an unrecognised or missing inner text keeps ``modify_place_failed``)."""
    if result.reason is not RejectReason.MODIFY_PLACE_FAILED or not result.message:
        return result.reason
    inner = classify_error(result.message).inner
    if inner in (RejectReason.NONE, RejectReason.OTHER):
        return result.reason
    return inner


def build(ctx: BuildContext[KillSwitchParams]) -> KillSwitch:
    return KillSwitch(ctx.params, name=ctx.name)
