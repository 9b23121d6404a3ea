"""Benchmark: one reconcile step of the smart executor for a 5-level ladder per side.

Target (issue 5): <= 10 µs median. Prints the median (and p90) of several runs for:

* ``keep``   — the desired ladder equals the resting orders (the common case);
* ``modify`` — every level moved by one tick (10 MODIFYs produced);
* ``diff``   — the bare ladder diff of both sides (:func:`mmkit.execution.reconciler.diff_side`).

Then the reconcile core of the executor's compiled twin with its kernel on, against the
reference's Python, for ladders of 1 to 30 levels a side resting in place (issue 20; the
twin runs the reference's diff by default because of these figures: ``reconcile_in_kernel``
in :mod:`mmkit.execution.smart_executor_twin`).

Run: ``python benchmarks/execution.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace

from _util import machine_speed_line

from mmkit.components import Ladder, Quote, View
from mmkit.core.market import MarketState
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_S, Instrument, Side
from mmkit.execution.order_state import Pending
from mmkit.execution.orders import OrderState, TrackedOrder
from mmkit.execution.params import SmartExecutorParams
from mmkit.execution.reconciler import Tolerances, diff_side
from mmkit.execution.smart_executor import SmartExecutor
from mmkit.testing.fake_venue import book

LEVELS = 5
INST = Instrument(sz_decimals=3)


def ladder(shift: float = 0.0) -> Ladder:
    return Ladder(
        tuple(Quote(Side.BUY, 99.0 - i + shift, 0.2, i) for i in range(LEVELS)),
        tuple(Quote(Side.SELL, 101.0 + i + shift, 0.2, i) for i in range(LEVELS)),
    )


def ready_executor() -> tuple[SmartExecutor, View]:
    """An executor past startup with the 5x2 ladder resting (no requote interval)."""
    from mmkit.core.events import PositionSnapshot

    params = SmartExecutorParams(
        min_requote_interval_ms=0.0,
        budget_initial=1e12,
        budget_max=1e12,
        ip_limit_per_min=1e12,
        address_initial_budget=1e12,
    )
    ex = SmartExecutor(params, INST)
    m = MarketState()
    t = 10 * NS_PER_S
    m.apply(book(99.5, 100.5, t), t)
    view = View(INST, m, Portfolio(0.0, True), 10.0)
    ex.reconcile(ladder(), view, t)
    ex.on_event(PositionSnapshot(t, 0.0, open_orders=()), view, t)
    ex.reconcile(ladder(), view, t)
    for o in ex.orders.live():
        o.state = OrderState.RESTING
        o.oid = o.req
        o.pending = Pending.NONE
    return ex, view


def timeit(fn: Callable[[], object], n: int, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        out.append((time.perf_counter_ns() - t0) / n / 1000.0)
    return out


def main() -> None:
    ex, view = ready_executor()
    lad = ladder()
    clock = [20 * NS_PER_S]

    def keep() -> object:
        clock[0] += 1
        return ex._reconcile(lad, view, clock[0])

    def keep_public() -> object:
        clock[0] += 1
        return ex.reconcile(lad, view, clock[0])

    moved = ladder(-1.0)

    def modify() -> object:
        # diff + build actions + permission checks, then undo the state change
        clock[0] += 1
        acts = ex._reconcile(moved, view, clock[0])
        for o in ex.orders.live():
            o.state = OrderState.RESTING
            o.pending = Pending.NONE
        return acts

    bids = [o for o in ex.orders.live() if o.side is Side.BUY]
    asks = [o for o in ex.orders.live() if o.side is Side.SELL]
    tol = Tolerances(lot=INST.lot)

    def diff() -> object:
        diff_side(lad.bids, bids, set(), 10.0, tol)
        return diff_side(lad.asks, asks, set(), 10.0, tol)

    print(f"smart executor reconcile, {LEVELS}-level ladder per side (target <= 10 us median)")
    print(f"  {machine_speed_line()}")
    for name, fn, n in (
        ("keep (_reconcile)", keep, 20_000),
        ("keep (reconcile, with service)", keep_public, 20_000),
        ("modify all 10 levels", modify, 5_000),
        ("diff only (both sides)", diff, 20_000),
    ):
        runs = timeit(fn, n, 7)
        runs.sort()
        p90 = runs[int(0.9 * (len(runs) - 1))]
        print(f"  {name:32s} median {statistics.median(runs):7.2f} us   p90 {p90:7.2f} us")


def resting(cls: type[SmartExecutor], n: int) -> tuple[SmartExecutor, Ladder]:
    """An executor of class ``cls`` with ``n`` orders a side resting where its ladder wants
    them (so a reconcile finds every order in place and sends nothing)."""
    ex = cls(SmartExecutorParams(), INST, 3)
    quotes: dict[Side, list[Quote]] = {Side.BUY: [], Side.SELL: []}
    for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
        for lvl in range(n):
            px = 100.0 + sign * (1 + lvl)
            ex.orders.add(
                TrackedOrder(
                    f"{side.name}{lvl}",
                    side,
                    px,
                    0.2,
                    lvl,
                    OrderState.RESTING,
                    oid=len(ex.orders.by_cloid),
                    orig_sz=0.2,
                    cap=0.2,
                    home=lvl,
                )
            )
            quotes[side].append(Quote(side, px, 0.2, lvl))
    return ex, Ladder(tuple(quotes[Side.BUY]), tuple(quotes[Side.SELL]))


def twin_vs_reference() -> None:
    from mmkit.execution.smart_executor_twin import SmartExecutorTwin

    view = SimpleNamespace(position=0.0, max_position=1e9)
    print("reconcile core, orders in place: reference Python vs twin with its kernel on")
    print("  (least of 7 runs of 300 calls: the figure least moved by other load)")
    for n in (1, 3, 10, 30):
        row = []
        for cls in (SmartExecutor, SmartExecutorTwin):
            ex, lad = resting(cls, n)
            if isinstance(ex, SmartExecutorTwin):
                ex.use_kernels_always()
            assert ex._reconcile(lad, view, 10**12) == []  # type: ignore[arg-type]
            runs = timeit(lambda: ex._reconcile(lad, view, 10**12), 300, 7)  # type: ignore[arg-type]  # noqa: B023
            row.append(min(runs))
        print(
            f"  {n:2d} levels a side: reference {row[0]:7.2f} us   twin kernel {row[1]:7.2f} us"
            f"   ({row[1] / row[0]:.2f}x)"
        )


if __name__ == "__main__":
    main()
    twin_vs_reference()
