"""Broken twins of the whole-system invariants (section "9. Whole System").

Each component reintroduces one defect the live-trading issue fixed, in an otherwise
correct built-in; put in the default set in place of its built-in, it makes exactly one
``system.*`` invariant FAIL:

=================================  ===================================  ==================
component                          defect                               invariant
=================================  ===================================  ==================
executor ``broken_halt_budget``    a halt's cancels go through the      halt_cancels_within
                                   budget and 429 backoff like any      _bound
                                   update (blocked when spent)
executor ``broken_halt_requote``   a non-emergency halt cancels, then   no_place_while
                                   re-places its last ladder            _halted
executor ``broken_snapshot_adopt`` adopts every position snapshot into  stale_snapshot
                                   the portfolio at once                _ignored
executor ``broken_pending_blind``  counts no pending order (placing,    position_limit_with
                                   modifying, cancelling, unknown)      _pending
                                   against max_position
gate ``broken_unlatching_kill``    the kill switch re-arms itself an    kill_switch_stays
                                   hour after it tripped                _latched
executor ``broken_429_forever``    a 429 starts a backoff that never    quoting_resumes
                                   ends
=================================  ===================================  ==================

This module is a plugin of its own (its own hook implementations): load it with
``PluginHost(extra_modules=["mmkit_broken_fixtures.system"])``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates, GateDecision, Ladder, Levels, View
from mmkit.core.actions import Action
from mmkit.core.events import ActionResult, Event, PositionSnapshot
from mmkit.core.types import NS_PER_S
from mmkit.execution.orders import TrackedOrder
from mmkit.execution.reconciler import Op, Tolerances, diff_levels
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.gates.kill_switch import KillSwitch

_PKG = "mmkit_broken_fixtures.system"


class HaltBudgetExecutor(SmartExecutor):
    """BUG: every halt cancel asks the budget, the rate tracker and the 429 backoff like a
    normal update, so a halt with the budget spent (or during a backoff) cancels nothing."""

    def _permit(self, actions: list[Action], now_ns: int, *, emergency: bool = False) -> bool:
        return super()._permit(actions, now_ns, emergency=False)


class HaltRequoteExecutor(SmartExecutor):
    """BUG: a non-emergency halt ("only data quality") cancels and then re-places the last
    ladder it was asked for, to be back in the queue as soon as the data recovers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_ladder: Ladder | None = None

    def reconcile(self, ladder: Ladder, view: View, now_ns: int) -> list[Action]:
        self._last_ladder = ladder
        return super().reconcile(ladder, view, now_ns)

    def halt(self, decision: GateDecision, view: View, now_ns: int) -> list[Action]:
        out = super().halt(decision, view, now_ns)
        if decision.emergency or self._last_ladder is None:
            return out
        return out + super().reconcile(self._last_ladder, view, now_ns)


class SnapshotAdoptExecutor(SmartExecutor):
    """BUG: its position sync writes every venue snapshot into the portfolio at once,
    whatever fills arrived since the snapshot was taken."""

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        if isinstance(event, PositionSnapshot) and math.isfinite(event.position):
            view.portfolio.sync(event.position, px=view.mid)
        return super().on_event(event, view, now_ns)


def _diff_ignoring_pending(
    desired: Levels,
    resting: Sequence[TrackedOrder],
    occupied: set[int],
    cap: float,
    tol: Tolerances,
    debt: Mapping[int, float] | None = None,
) -> list[Op]:
    """The built-in ladder diff, told that nothing is in flight: no level is occupied by
    an order being placed, modified or cancelled, no earlier order may still fill, and the
    room left under max_position is unlimited."""
    return diff_levels(desired, resting, set(), math.inf, tol, None)


class PendingBlindExecutor(SmartExecutor):
    """BUG: the position limit counts neither its pending orders (placing, modifying,
    cancelling, outcome unknown) nor the levels they hold: a level whose order's answer is
    lost is quoted again while the order may still rest."""

    diff = staticmethod(_diff_ignoring_pending)


class Forever429Executor(SmartExecutor):
    """BUG: an HTTP 429 starts a backoff that never ends (no Retry-After honoured, no cap);
    halts still cancel (they bypass the backoff), but quoting never resumes."""

    def on_event(self, event: Event, view: View, now_ns: int) -> list[Action]:
        out = super().on_event(event, view, now_ns)
        if isinstance(event, ActionResult) and event.reason.value == "rate_limited_ip":
            self.retry.until_ns = 1 << 62
        return out


class UnlatchingKillSwitch(KillSwitch):
    """BUG: the kill switch re-arms itself one hour after it tripped ("a cool-down")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tripped_at: int | None = None

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        d = super().check(view, est, now_ns)
        if d is None:
            self._tripped_at = None
            return None
        if self._tripped_at is None:
            self._tripped_at = now_ns
        elif now_ns - self._tripped_at > 3600 * NS_PER_S:
            self.reset()
            self._tripped_at = None
            return None
        return d


def _executor(cls: type[SmartExecutor]) -> Any:
    def build(ctx: Any) -> SmartExecutor:
        return cls(ctx.params, ctx.instrument, ctx.seed)

    return build


build_halt_budget = _executor(HaltBudgetExecutor)
build_halt_requote = _executor(HaltRequoteExecutor)
build_snapshot_adopt = _executor(SnapshotAdoptExecutor)
build_pending_blind = _executor(PendingBlindExecutor)
build_429_forever = _executor(Forever429Executor)


def build_unlatching_kill(ctx: Any) -> UnlatchingKillSwitch:
    return UnlatchingKillSwitch(ctx.params, name=ctx.name)


@hookimpl
def register_executors(register: Any) -> None:
    from mmkit.execution.params import SmartExecutorParams

    for name, fn, what in (
        ("broken_halt_budget", "build_halt_budget", "halt cancels obey the budget and backoff"),
        ("broken_halt_requote", "build_halt_requote", "a data halt re-places its last ladder"),
        ("broken_snapshot_adopt", "build_snapshot_adopt", "adopts any position snapshot"),
        ("broken_pending_blind", "build_pending_blind", "pending orders not in the limit"),
        ("broken_429_forever", "build_429_forever", "never quotes again after a 429"),
    ):
        register(name, f"{_PKG}:{fn}", params=SmartExecutorParams, description=f"BROKEN: {what}")


@hookimpl
def register_gates(register: Any) -> None:
    from mmkit.gates.params import KillSwitchParams

    register(
        "broken_unlatching_kill",
        f"{_PKG}:build_unlatching_kill",
        params=KillSwitchParams,
        description="BROKEN: a kill switch that re-arms itself an hour after tripping",
    )
