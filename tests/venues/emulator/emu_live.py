"""Drive the mmkit live path (LiveRunner + HyperliquidVenue + the default engine) against
an in-process emulator, with faults switched on at given times."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from mmkit.runtime.session import Session
from mmkit.testing.live_stack import live_stack
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.server import Emulator
from mmkit.venues.hyperliquid.params import HyperliquidParams
from mmkit.venues.hyperliquid.venue import HyperliquidVenue

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260e4c9a71f18484c9f997b308e59325"

#: a quick-to-warm engine: the warmup gate's thresholds are lowered for seconds-long runs
FAST_WARMUP = [
    "estimators.warmup.min_buckets=0",
    "estimators.warmup.min_trades=3",
    "estimators.warmup.require_kappa_graduation=false",
    "engine.timer_ms=100",
]


@dataclass
class RunResult:
    session: Session
    venue: HyperliquidVenue
    emulator: Emulator
    stopped_by: str
    applied: list[dict[str, Any]] = field(default_factory=list)
    #: longest time (s) an order rested on the emulator while the client did not track it
    worst_orphan_s: float = 0.0
    samples: int = 0

    @property
    def client_position(self) -> float:
        return float(self.session.engine.portfolio.position)

    @property
    def emulator_position(self) -> float:
        return self.emulator.book.position(ADDRESS)

    @property
    def emulator_open_orders(self) -> list[int]:
        acct = self.emulator.book.get(ADDRESS)
        return sorted(acct.open_oids) if acct is not None else []


def stream_params() -> HyperliquidParams:
    return HyperliquidParams(
        idle_ping_s=0.3,
        pong_timeout_s=0.4,
        backoff_initial_s=0.05,
        backoff_max_s=0.3,
        request_timeout_s=2.0,
    )


async def run_with_faults(
    faults: list[tuple[float, str, dict[str, Any]]],
    *,
    duration_s: float = 3.0,
    settle_s: float = 1.0,
    speed: float = 10.0,
    seed: int = 1,
    foreign_order_at: float | None = None,
) -> RunResult:
    """Run the live path for ``duration_s`` against a fresh emulator, arming each fault
    ``(at_s, name, params)`` on time; then the runner's shutdown (kill switch + final sync)."""
    cfg = EmulatorConfig(accounts=(ADDRESS,), speed=speed, seed=seed, book_interval_s=0.1)
    async with Emulator(cfg) as emu:
        stack = live_stack(
            emu.url, key=KEY, sets=FAST_WARMUP, params=stream_params(), settle_s=settle_s
        )
        venue, session, runner = stack.venue, stack.session, stack.runner
        engine = session.engine
        applied: list[dict[str, Any]] = []

        async def inject() -> None:
            t0 = asyncio.get_running_loop().time()
            steps: list[tuple[float, str, dict[str, Any]]] = list(faults)
            if foreign_order_at is not None:
                steps.append((foreign_order_at, "", {}))
            for at_s, name, params in sorted(steps, key=lambda f: f[0]):
                await asyncio.sleep(max(0.0, t0 + at_s - asyncio.get_running_loop().time()))
                if name:
                    applied.append(await emu.apply(name, params))
                    continue
                # an order the client never sent (another process on the same account)
                bid = int(emu.market.book.bid_px[0])  # type: ignore[union-attr]
                w = {
                    "a": 0,
                    "b": True,
                    "p": str(bid - 300),
                    "s": "0.001",
                    "r": False,
                    "t": {"limit": {"tif": "Alo"}},
                    "c": "0x" + "f" * 32,
                }
                await emu.control({"place": [w], "user": ADDRESS})

        result = RunResult(session, venue, emu, "", applied)

        async def watch() -> None:
            """Sample, while trading, the emulator's open orders the client does not track."""
            loop = asyncio.get_running_loop()
            end = loop.time() + duration_s - 0.2  # the shutdown's cancel-all comes after
            since: dict[str, float] = {}
            while loop.time() < end:
                await asyncio.sleep(0.05)
                tracker = getattr(engine.executor, "orders", None)
                acct = emu.book.get(ADDRESS)
                if tracker is None or acct is None:
                    continue
                tracked = {o.cloid for o in tracker.live()}
                now = loop.time()
                resting = {o.cloid or f"oid:{o.oid}" for o in acct.open_orders()}
                for c in resting - tracked:
                    since.setdefault(c, now)
                    result.worst_orphan_s = max(result.worst_orphan_s, now - since[c])
                for c in list(since):
                    if c not in resting - tracked:
                        del since[c]
                result.samples += 1

        injector = asyncio.create_task(inject())
        watcher = asyncio.create_task(watch())
        try:
            result.stopped_by = await asyncio.wait_for(
                runner.run(asyncio.Event(), duration_s), duration_s + 4 * settle_s + 10
            )
        finally:
            for t in (injector, watcher):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        return result


__all__ = ["ADDRESS", "FAST_WARMUP", "KEY", "RunResult", "run_with_faults"]
