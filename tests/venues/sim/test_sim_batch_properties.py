"""Property tests of the batch layer (the kernels a numba backtest drives), L2 and L3 markets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim._kernels_orders import enqueue
from mmkit.venues.sim._kernels_replay import advance
from mmkit.venues.sim.arrays import MarketArrays
from mmkit.venues.sim.replay import drain
from mmkit.venues.sim.state import MatchConfig, new_state

# one market event: (kind, side, price offset, size); L3 events reference an earlier add
event = st.tuples(
    st.sampled_from([lay.EV_DEPTH, lay.EV_TRADE, lay.EV_L3_ADD, lay.EV_L3_CANCEL, lay.EV_L3_EXEC]),
    st.sampled_from([1, -1]),
    st.integers(-2, 4),
    st.integers(0, 8).map(lambda k: 0.5 * k),
    st.integers(0, 50),
)
action = st.tuples(
    st.sampled_from([lay.A_PLACE, lay.A_PLACE, lay.A_MODIFY, lay.A_CANCEL]),
    st.integers(0, 3),  # client id
    st.sampled_from([1, -1]),
    st.integers(-2, 4),
    st.integers(1, 6).map(lambda k: 0.5 * k),
    st.sampled_from([lay.TIF_ALO, lay.TIF_GTC, lay.TIF_IOC]),
)
step = st.one_of(event.map(lambda e: ("m", e)), action.map(lambda a: ("a", a)))


def price(side: int, off: int) -> float:
    return 100.0 - off if side == 1 else 101.0 + off


def run(steps: list[tuple[str, tuple]], seed: int = 0) -> tuple:  # type: ignore[type-arg]
    cfg = MatchConfig(
        tick=1.0,
        entry_latency_ns=1,
        response_latency_ns=1,
        seed=seed,
        latency_model=lay.LAT_EXPONENTIAL,
        latency_jitter=1.0,
    )
    st_ = new_state(cfg, 80, 40)
    init = MarketArrays.build([0, 0], [lay.EV_DEPTH] * 2, [1, -1], [100.0, 101.0], [3.0, 3.0])
    advance(st_, init.ts, init.kind, init.side, init.px, init.sz, init.ref, 0, 0)
    adds: list[int] = []
    records = []
    min_ahead = 0.0
    limit: dict[int, float] = {}
    for t, (what, x) in enumerate(steps, start=1):
        if what == "m":
            kind, side, off, sz, pick = x
            ref = -1
            if kind in (lay.EV_L3_CANCEL, lay.EV_L3_EXEC):
                ref = adds[pick % len(adds)] if adds else -1
            if kind == lay.EV_L3_ADD:
                adds.append(t)
            if kind == lay.EV_TRADE:
                p = 101.0 + off if side == 1 else 100.0 - off
            else:
                p = price(side, off)
            ts = np.full(t + 1, t, np.int64)  # row t is the event; its index is its add id
            m = MarketArrays.build(
                ts,
                np.full(t + 1, kind),
                np.full(t + 1, side),
                np.full(t + 1, p),
                np.full(t + 1, sz),
                np.full(t + 1, ref),
            )
            advance(st_, m.ts, m.kind, m.side, m.px, m.sz, m.ref, t, t)
        else:
            kind, cid, side, off, sz, tif = x
            enqueue(st_, kind, t, t, -1, cid, side, tif, False, price(side, off), sz)
            idle = np.zeros(t + 1, np.int64)  # no event; keeps the market index at t + 1
            advance(
                st_,
                idle + t,
                idle.astype(np.int8),
                idle.astype(np.int8) + 1,
                idle + 100.0,
                idle * 0.0,
                idle - 1,
                t + 1,
                t + 5,
            )
        n = int(st_.si[lay.SI_NORD])
        if n:
            min_ahead = min(min_ahead, float(st_.of[:n, lay.OF_AHEAD].min()))
        ri, rf = drain(st_)
        for r in range(ri.shape[0]):
            if ri[r, lay.RI_TYPE] == lay.REC_ORDER:
                limit[int(ri[r, lay.RI_OID])] = float(rf[r, lay.RF_PX])
        records.append((ri, rf))
    ri = np.concatenate([r[0] for r in records])
    rf = np.concatenate([r[1] for r in records])
    return st_, ri, rf, min_ahead, limit


@settings(max_examples=120, deadline=None)
@given(st.lists(step, min_size=1, max_size=50))
def test_batch_invariants(steps: list[tuple[str, tuple]]) -> None:  # type: ignore[type-arg]
    st_, ri, rf, min_ahead, limit = run(steps)
    assert min_ahead >= 0.0
    assert np.all(st_.grid >= 0.0)
    fills = ri[:, lay.RI_TYPE] == lay.REC_FILL
    side = ri[fills, lay.RI_SIDE]
    px = rf[fills, lay.RF_PX]
    sz = rf[fills, lay.RF_SZ]
    fee = rf[fills, lay.RF_FEE]
    for o, s, p in zip(ri[fills, lay.RI_OID].tolist(), side.tolist(), px.tolist(), strict=True):
        assert (p <= limit[o] + 1e-9) if s == 1 else (p >= limit[o] - 1e-9)
    assert np.all(sz > 0)
    pos = float(np.sum(side * sz))
    assert np.isclose(st_.sf[lay.SF_POSITION], pos, atol=1e-9)
    mark = 97.0
    pnl = float(np.sum(side * sz * (mark - px)))
    assert np.isclose(st_.sf[lay.SF_CASH] + pos * mark + st_.sf[lay.SF_FEES], pnl, atol=1e-6)
    assert np.isclose(st_.sf[lay.SF_FEES], float(fee.sum()), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(step, min_size=1, max_size=40), st.integers(0, 2**40))
def test_batch_replay_is_deterministic(steps: list[tuple[str, tuple]], seed: int) -> None:  # type: ignore[type-arg]
    a = run(steps, seed)
    b = run(steps, seed)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2], equal_nan=True)
