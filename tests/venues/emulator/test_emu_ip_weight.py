"""The rate tracker weighs a submission as the venue charges it. The oracle is not ours to
shape: the real venue client sends random submissions to the loopback emulator over HTTP,
and the emulator's own IP accounting (per request, ``1 + n // 40`` for an exchange action,
the info weights of protocol §6) must have grown by exactly what
:func:`~mmkit.execution.rate_limit.batch_ip_weight` said, and by the sum of what
:func:`~mmkit.execution.rate_limit.requests_of` (the audit's fake venue's requests) said."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from tests.venues.emulator.emu_live import ADDRESS, KEY

from mmkit.core.actions import (
    Action,
    Cancel,
    CancelAll,
    Modify,
    Place,
    QueryOrder,
    SyncState,
    make_cloid,
)
from mmkit.core.events import ActionResult
from mmkit.core.outcomes import Outcome
from mmkit.core.types import Side, Tif
from mmkit.execution.rate_limit import MAX_BATCH, batch_ip_weight, requests_of
from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.thread import EmulatorThread
from mmkit.venues.hyperliquid.client import HyperliquidClient
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.settings import ClientSettings, resolve_endpoint

pytestmark = pytest.mark.network

IP = "127.0.0.1"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    # no IP limit in the way: every example's requests are admitted and charged
    cfg = EmulatorConfig(accounts=(ADDRESS,), speed=1.0, ip_weight_per_min=10**9)
    with EmulatorThread(cfg) as emu:
        yield emu


_ids = itertools.count(1)

#: a submission: how many of each kind (modifies, cancels by oid and by cloid, post-only
#: places, GTC places, position syncs, order queries)
kinds = st.fixed_dictionaries(
    {
        "modify": st.integers(0, MAX_BATCH + 3),
        "cancel_oid": st.integers(0, 3),
        "cancel_cloid": st.integers(0, 3),
        "alo": st.integers(0, MAX_BATCH + 2),
        "gtc": st.integers(0, 3),
        "sync": st.integers(0, 1),
        "query": st.integers(0, 1),
    }
)


def charged(emu: EmulatorThread) -> int:
    e = emu.emulator
    assert e is not None
    return e.ip_limits.used(IP, e.monotonic())


@settings(max_examples=20, deadline=None)
@given(kinds, st.randoms(use_true_random=False))
def test_the_tracker_weighs_a_submission_as_the_venue_charges_it(
    emulator: EmulatorThread, n: dict[str, int], rnd: Any
) -> None:
    note(f"submission: {n}")
    emu = emulator.emulator
    assert emu is not None
    inst = emu.instrument
    book = emu.market.book
    assert book is not None
    bid = float(book.bid_px[0])
    tick = inst.tick
    below = [round((bid * 0.98) / tick) * tick - k * tick for k in range(200)]
    settings_ = ClientSettings(
        endpoint=resolve_endpoint("testnet", emulator.url),
        account=ADDRESS,
        max_order_notional=1e7,
        request_timeout_s=5.0,
    )
    targets = n["modify"] + n["cancel_oid"] + n["cancel_cloid"]

    async def main() -> None:
        async with HyperliquidClient(settings_, SigningKey.from_hex(KEY)) as client:
            try:
                await submit(client)
            finally:
                # the emulator lives for the module: an example's resting orders must not
                # pile up to the venue's open-order cap (1000) over the examples
                await client.execute([CancelAll(next(_ids), "test done")], inst)
                acct = emu.book.get(ADDRESS)
                assert acct is not None and not acct.open_orders()

    async def submit(client: HyperliquidClient) -> None:
        # orders to modify and cancel, resting well below the touch
        base: list[Action] = []
        for k in range(targets):
            i = next(_ids)
            base.append(Place(i, make_cloid(i), Side.BUY, below[k], 0.001, Tif.ALO))
        got = await client.execute(base, inst) if base else []
        rest = [e for e in got if isinstance(e, ActionResult)]
        assert all(r.outcome is Outcome.RESTING for r in rest), rest
        placed = [(a, r.oid) for a, r in zip(base, rest, strict=True)]
        acts: list[Action] = []
        it = iter(placed)
        for _ in range(n["modify"]):
            a, oid = next(it)
            assert isinstance(a, Place)
            acts.append(Modify(next(_ids), a.cloid, oid, Side.BUY, a.px - tick, 0.001))
        for _ in range(n["cancel_oid"]):
            a, oid = next(it)
            acts.append(Cancel(next(_ids), None, oid))
        for _ in range(n["cancel_cloid"]):
            a, _oid = next(it)
            assert isinstance(a, Place)
            acts.append(Cancel(next(_ids), a.cloid, None))
        for k in range(n["alo"] + n["gtc"]):
            i = next(_ids)
            tif = Tif.ALO if k < n["alo"] else Tif.GTC
            acts.append(Place(i, make_cloid(i), Side.BUY, below[100 + k], 0.001, tif))
        acts += [SyncState(next(_ids), "test") for _ in range(n["sync"])]
        if n["query"] and placed:
            acts.append(QueryOrder(next(_ids), None, placed[0][1]))
        rnd.shuffle(acts)
        before = charged(emulator)
        await client.execute(acts, inst)
        spent = charged(emulator) - before
        weight = batch_ip_weight(acts)[0]
        assert spent == weight, f"the venue charged {spent}, the tracker weighed {weight}"
        assert sum(requests_of(acts)[1]) == weight

    asyncio.run(main())


def test_a_ten_modify_requote_is_one_request_of_weight_one() -> None:
    """What the change was for: ten modifies sent together are one ``batchModify``."""
    acts: list[Action] = [Modify(i, make_cloid(i), i, Side.BUY, 100.0, 0.001) for i in range(1, 11)]
    assert batch_ip_weight(acts) == (1, 10, False)
    of, weights = requests_of(acts)
    assert of == [0] * 10 and weights == [1]
