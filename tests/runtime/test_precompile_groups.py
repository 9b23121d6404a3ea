"""The cold-cache warm-up workers: the venue worker's delta market is a sane book, and both
ways of exercising the simulated exchange run every action type without error."""

from __future__ import annotations

import pytest

from mmkit.core.market import MarketState
from mmkit.core.types import Instrument
from mmkit.runtime import precompile as warmup
from mmkit.venues.sim.params import SimParams
from mmkit.venues.sim.venue import SimVenue

INST = Instrument(coin="BTC", sz_decimals=3, tick=0.1)


@pytest.mark.parametrize("deltas", [False, True])
def test_the_toy_market_is_a_sane_moving_book(deltas: bool) -> None:
    m = MarketState()
    books = 0
    for ev in warmup._toy_market(INST, n=60, deltas=deltas):
        m.apply(ev, ev.local_ts)
        if ev.kind.name in ("BOOK_SNAPSHOT", "BOOK_DELTA"):
            books += 1
            assert m.best_bid < m.best_ask  # deltas remove the levels the book left
            assert m.bid_px.size == m.ask_px.size == 20
    assert books == 60


@pytest.mark.parametrize("deltas", [False, True])
def test_exercise_venue_runs_every_action_type(deltas: bool) -> None:
    venue = SimVenue(SimParams(), INST, 1)
    warmup.exercise_venue(venue, INST, deltas=deltas)


def test_every_probe_is_a_cached_numba_kernel() -> None:
    """A probe that does not resolve would make its group look cold on every run."""
    import importlib

    from numba.core.caching import FunctionCache

    assert set(warmup.GROUPS) == {"venue", "market", "twins"}  # what main() dispatches to
    for probes in warmup.GROUPS.values():
        for probe in probes:
            mod, _, name = probe.partition(":")
            kernel = getattr(importlib.import_module(mod), name)
            assert isinstance(kernel._cache, FunctionCache), probe  # njit(cache=True)
