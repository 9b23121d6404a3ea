"""mmkit-audit-gauntlet: third-party components with one conditional bug each.

Registered through the ``register_*`` hooks under names prefixed ``g_``. :data:`CATALOGUE`
lists every component with its kind, whether it is meant to be correct, the seed invariant
its bug breaks and the condition under which it shows (``BUGS.md`` is the same table for
humans); the package's tests audit each component alone and compare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmkit import hookimpl
from mmkit.registry import BuildContext

from . import estimators as est
from . import executors as exe
from . import gates as gat
from . import quoters as quo


@dataclass(frozen=True)
class Entry:
    """One gauntlet component: ``invariant`` is the seed invariant (an ``mmkit audit``
    id) its bug breaks, or ``""`` for a correct component that should PASS."""

    name: str
    kind: str  # estimator | gate | quoter | executor
    factory: Callable[[BuildContext[Any]], Any]
    params: type
    description: str
    invariant: str = ""
    bug: str = ""
    condition: str = ""

    @property
    def broken(self) -> bool:
        return bool(self.invariant)


def _one(cls: Any) -> Callable[[BuildContext[Any]], Any]:
    return lambda ctx: cls(ctx.params)


def _quo(cls: Any) -> Callable[[BuildContext[Any]], Any]:
    return lambda ctx: cls(ctx.params, ctx.risk)


def _exe(cls: Any) -> Callable[[BuildContext[Any]], Any]:
    return lambda ctx: cls(ctx.params, ctx.seed)


CATALOGUE: tuple[Entry, ...] = (
    # -- estimators ---------------------------------------------------------------------
    Entry(
        "g_cascade_sigma",
        "estimator",
        _one(est.CascadeSigma),
        est.CascadeSigmaParams,
        "EWMA sigma with a cascade mode and a max_sigma cap",
        "estimators.sigma_bounded",
        "cap skipped while cascade mode is on",
        "cascade mode (a jump of > 8 sigma, for 30 s)",
    ),
    Entry(
        "g_quiet_kappa",
        "estimator",
        _one(est.QuietKappa),
        est.QuietKappaParams,
        "trade-depth kappa MLE shrunk to a prior, decaying in a quiet market",
        "estimators.kappa_positive",
        "quiet-market decay has no floor: underflows to 0.0",
        "no market trade for a few hours after the first one",
    ),
    Entry(
        "g_volume_kappa",
        "estimator",
        _one(est.VolumeKappa),
        est.VolumeKappaParams,
        "own-fill Gamma-Exponential kappa posterior",
        "estimators.conjugacy_counts",
        "shape grows by size/reference_size, not by 1",
        "after the 20th own fill",
    ),
    Entry(
        "g_reconnect_warmup",
        "estimator",
        _one(est.ReconnectWarmup),
        est.ReconnectWarmupParams,
        "own-fill Gamma kappa with the seed's permanent warmup graduation",
        "estimators.warmup_graduation",
        "graduation undone, fill counter reset",
        "on the second feed reconnect (FeedStatus down then up, twice)",
    ),
    Entry(
        "g_imbalance_toxicity",
        "estimator",
        _one(est.ImbalanceToxicity),
        est.ImbalanceToxicityParams,
        "toxicity = logistic(book depth imbalance)",
        "signals.toxicity_range",
        "publishes -1 as an 'unknown' sentinel",
        "a one-sided or empty book snapshot",
    ),
    Entry(
        "g_exchange_time_sigma",
        "estimator",
        _one(est.ExchangeTimeSigma),
        est.ExchangeTimeSigmaParams,
        "EWMA of r**2/dt on the exchange clock, capped",
        "estimators.sigma_bounded",
        "negative dt makes the variance negative: sqrt raises ValueError",
        "book exchange timestamps going backwards with a price move",
    ),
    Entry(
        "g_flow_extras",
        "estimator",
        _one(est.FlowExtras),
        est.FlowExtrasParams,
        "publishes only an extra: trade-flow imbalance in [-1, 1] (correct)",
    ),
    Entry(
        "g_range_sigma",
        "estimator",
        _one(est.RangeSigma),
        est.RangeSigmaParams,
        "Parkinson high-low sigma, clamped on every path (correct)",
    ),
    # -- gates --------------------------------------------------------------------------
    Entry(
        "g_trade_fresh_dq",
        "gate",
        _one(gat.TradeFreshDataQuality),
        gat.TradeFreshParams,
        "data-quality gate: no data, stale, crossed/empty",
        "gates.data_quality_closes",
        "staleness measured on the freshest of book and trades",
        "book frozen > 30 s while trades keep arriving",
    ),
    Entry(
        "g_nan_book_dq",
        "gate",
        _one(gat.NanBookDataQuality),
        gat.NanBookParams,
        "data-quality gate with the seed's `best_bid >= best_ask` crossed test",
        "gates.data_quality_closes",
        "NaN compares False: empty side leaves it open",
        "one-sided or empty book (seed section 8)",
    ),
    Entry(
        "g_heartbeat_dq",
        "gate",
        _one(gat.HeartbeatDataQuality),
        gat.HeartbeatParams,
        "data-quality gate on 'time since anything was heard'",
        "gates.data_quality_closes",
        "engine Timer events refresh the staleness clock",
        "silent feed while timers tick (after a first book)",
    ),
    Entry(
        "g_midnight_kill",
        "gate",
        _one(gat.MidnightKill),
        gat.MidnightKillParams,
        "daily drawdown kill switch, emergency HALT, latched",
        "gates.kill_switch_latches",
        "latch cleared by the daily reset",
        "a trip followed by a UTC day boundary",
    ),
    Entry(
        "g_sync_kill",
        "gate",
        _one(gat.SyncKill),
        gat.SyncKillParams,
        "kill switch on drawdown or position change without fill, latched",
        "gates.kill_switch_latches",
        "an agreeing position snapshot re-opens the latch",
        "a PositionSnapshot equal to the fills' sum after a trip",
    ),
    Entry(
        "g_gap_gate",
        "gate",
        _one(gat.GapGate),
        gat.GapGateParams,
        "sequence-gap gate (no seed role): closed from a gap to a healing snapshot",
        "gates.fail_safe",
        "KeyError on a gap/disconnect of an unseen stream",
        "FeedStatus gap or disconnect for a stream that sent no book yet",
    ),
    Entry(
        "g_strict_dq",
        "gate",
        _one(gat.StrictDataQuality),
        gat.StrictParams,
        "data-quality gate stricter than the seed (5 s, one-sided, feed down...) (correct)",
    ),
    # -- quoters ------------------------------------------------------------------------
    Entry(
        "g_skew_flip",
        "quoter",
        _quo(quo.SkewFlip),
        quo.SkewFlipParams,
        "inventory-skewed ladder, skew held beyond max_position/2",
        "quoting.inventory_skew",
        "held skew takes the opposite sign",
        "|position| > max_position / 2",
    ),
    Entry(
        "g_decade_round",
        "quoter",
        _quo(quo.DecadeRound),
        quo.LadderParams,
        "symmetric ladder on a grid worked out from the mid",
        "quoting.venue_grid",
        "grid of the mid's decade used for every level",
        "levels on the other side of a power of ten (prices < 10^5 with decimals)",
    ),
    Entry(
        "g_level_cap",
        "quoter",
        _quo(quo.LevelCap),
        quo.LadderParams,
        "symmetric ladder, each level kept within max_position",
        "quoting.exposure_cap",
        "per-level check, not cumulative",
        "high inventory (position + 2 levels > max_position)",
    ),
    Entry(
        "g_last_trade_fair",
        "quoter",
        _quo(quo.LastTradeFair),
        quo.LadderParams,
        "ladder around mid, or the last trade on a one-sided book",
        "quoting.post_only",
        "post-only clamp only on a two-sided book",
        "one-sided book with the last trade beyond the remaining side",
    ),
    Entry(
        "g_nearest_touch",
        "quoter",
        _quo(quo.NearestTouch),
        quo.NearestTouchParams,
        "one level per side, nearest rounding",
        "quoting.no_self_cross",
        "bid == ask after rounding",
        "half-spread under half a price step (high kappa)",
    ),
    Entry(
        "g_cascade_stepback",
        "quoter",
        _quo(quo.CascadeStepBack),
        quo.CascadeStepBackParams,
        "ladder whose depths scale with sigma/calm_sigma in a cascade",
        "quoting.finite_positive",
        "depth > 100% gives a NaN bid, unchecked",
        "cascade flag set with sigma well above calm_sigma",
    ),
    Entry(
        "g_asym_ladder",
        "quoter",
        _quo(quo.Asymmetric),
        quo.AsymmetricParams,
        "asymmetric 1-bid / 4-ask ladder, skewed, capped (correct)",
    ),
    # -- executors ----------------------------------------------------------------------
    Entry(
        "g_slot_exec",
        "executor",
        _exe(exe.SlotExecutor),
        exe.ExecParams,
        "one order per ladder slot, MODIFY, budget, IP limit, backoff, sync (correct)",
    ),
    Entry(
        "g_budget_exec",
        "executor",
        _exe(exe.ReserveExecutor),
        exe.ExecParams,
        "slot executor that lets only kill-switch halts use the budget reserve",
        "execution.halt_cancels_all",
        "a non-emergency (data-quality) halt sends no cancel",
        "budget down to the reserve when a non-emergency gate closes",
    ),
    Entry(
        "g_modify_ghost",
        "executor",
        _exe(exe.ModifyGhostExecutor),
        exe.ExecParams,
        "ladder executor with MODIFY -> PLACE fallback",
        "execution.modify_place_fallback",
        "ghost order kept, level never placed",
        "a MODIFY rejected with MODIFY_TARGET_CANCELED only",
    ),
    Entry(
        "g_reqid_session",
        "executor",
        _exe(exe.SessionExecutor),
        exe.SessionParams,
        "ladder executor that starts a new session after reconnects",
        "engine.request_ids_increasing",
        "request ids restart at 1",
        "the second feed reconnect",
    ),
    Entry(
        "g_unknown_forget",
        "executor",
        _exe(exe.UnknownForgetExecutor),
        exe.ExecParams,
        "slot executor that re-places after an UNKNOWN place",
        "execution.stateful_safety",
        "the order under an UNKNOWN place is forgotten: placed again (double exposure), and "
        "not cancelled by a halt when it was the only order",
        "an UNKNOWN outcome for a PLACE that in fact rests",
    ),
    Entry(
        "g_halt_keeps_reducing",
        "executor",
        _exe(exe.KeepReducingExecutor),
        exe.ExecParams,
        "ladder executor whose halt spares position-reducing orders",
        "execution.halt_cancels_all",
        "reducing side left resting while halted",
        "non-zero position when a gate closes",
    ),
    Entry(
        "g_minute_bucket_ip",
        "executor",
        _exe(exe.MinuteBucketExecutor),
        exe.ExecParams,
        "ladder executor with an IP weight limiter",
        "execution.ip_weight_limit",
        "calendar-minute bucket instead of a rolling window",
        "bursts straddling a minute boundary",
    ),
)


def _register(kind: str, register: Any) -> None:
    for e in CATALOGUE:
        if e.kind == kind:
            register(e.name, e.factory, params=e.params, description=e.description)


@hookimpl
def register_estimators(register: Any) -> None:
    _register("estimator", register)


@hookimpl
def register_gates(register: Any) -> None:
    _register("gate", register)


@hookimpl
def register_quoters(register: Any) -> None:
    _register("quoter", register)


@hookimpl
def register_executors(register: Any) -> None:
    _register("executor", register)


__all__ = ["CATALOGUE", "Entry"]
