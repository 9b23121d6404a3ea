"""The loopback emulator's order round trip with the mmkit client (median and p99).

Run: ``python benchmarks/emulator.py`` (prints figures; never asserts on time).

An in-process emulator (synthetic market) and :class:`HyperliquidClient` share one event
loop on 127.0.0.1. One round trip = ``client.execute([Place])``: round the order, sign it
(msgpack + keccak + secp256k1), POST /exchange, the emulator recovers the signer, checks
nonce/limits/price rules, matches on the simulated exchange, answers; the client parses the
reply into an ActionResult. Cancels are timed the same way. Each figure is the median over
several runs of the run's median / p99.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import figure, percentile

from mmkit.core.actions import Cancel, Place, make_cloid
from mmkit.core.types import Side, Tif
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.server import Emulator
from mmkit.venues.hyperliquid.client import HyperliquidClient
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint

KEY = SigningKey.from_hex("0x" + "42" * 32)
ORDERS_PER_RUN = 200
RUNS = 5


async def one_run(
    client: HyperliquidClient, emu: Emulator, rid0: int
) -> tuple[list[float], list[float]]:
    places: list[float] = []
    cancels: list[float] = []
    inst = emu.instrument
    for i in range(ORDERS_PER_RUN):
        bid = emu.market.book.bid_px[0]  # type: ignore[union-attr]
        rid = rid0 + 2 * i
        cloid = make_cloid(rid)
        t0 = time.perf_counter_ns()
        [res] = await client.execute(
            [Place(rid, cloid, Side.BUY, float(bid) - 50, 0.001, Tif.ALO)], inst
        )
        t1 = time.perf_counter_ns()
        await client.execute([Cancel(rid + 1, cloid, res.oid)], inst)  # type: ignore[union-attr]
        t2 = time.perf_counter_ns()
        places.append((t1 - t0) / 1e3)
        cancels.append((t2 - t1) / 1e3)
    return places, cancels


async def main() -> None:
    cfg = EmulatorConfig(
        accounts=(KEY.address,), ip_weight_per_min=10**9, address_initial_budget=10**9
    )
    async with Emulator(cfg) as emu:
        client = HyperliquidClient(ClientSettings(resolve_endpoint("testnet", emu.url)), KEY)
        await one_run(client, emu, 10**6)  # warm-up (connections, numba, caches)
        stats: dict[str, list[float]] = {"pm": [], "pp": [], "cm": [], "cp": []}
        for r in range(RUNS):
            places, cancels = await one_run(client, emu, (r + 1) * 10**5)
            stats["pm"].append(statistics.median(places))
            stats["pp"].append(percentile(places, 99))
            stats["cm"].append(statistics.median(cancels))
            stats["cp"].append(percentile(cancels, 99))
        await client.close()
    print(f"emulator order round trip, loopback, {RUNS} runs x {ORDERS_PER_RUN} orders")
    figure("place (ALO, resting) round trip, median", statistics.median(stats["pm"]), "us")
    figure("place (ALO, resting) round trip, p99", statistics.median(stats["pp"]), "us")
    figure("cancel round trip, median", statistics.median(stats["cm"]), "us")
    figure("cancel round trip, p99", statistics.median(stats["cp"]), "us")


if __name__ == "__main__":
    asyncio.run(main())
