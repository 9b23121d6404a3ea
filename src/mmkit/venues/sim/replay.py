"""Batch replay: a columnar market and an action schedule in, record arrays out.

    >>> res = replay(market, actions, MatchConfig(tick=0.1))
    >>> res.fills.px, res.fills.sz, res.position, res.cash

The grid is sized to the market's price range. The same kernels serve
:class:`~mmkit.venues.sim.venue.SimVenue`, so a batch replay and an event-driven run agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim._kernels_replay import replay_actions
from mmkit.venues.sim.arrays import ActionArrays, MarketArrays
from mmkit.venues.sim.state import MatchConfig, SimState, new_state, roi_grid


@dataclass(frozen=True)
class Fills:
    """Our fills as columns (from the REC_FILL records)."""

    ts: npt.NDArray[np.int64]  # exchange time
    local_ts: npt.NDArray[np.int64]
    req: npt.NDArray[np.int64]
    oid: npt.NDArray[np.int64]
    cid: npt.NDArray[np.int64]
    side: npt.NDArray[np.int64]
    px: npt.NDArray[np.float64]
    sz: npt.NDArray[np.float64]
    fee: npt.NDArray[np.float64]
    taker: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True)
class Records:
    """Every record the exchange wrote, as the raw ``ri``/``rf`` column blocks."""

    ri: npt.NDArray[np.int64]
    rf: npt.NDArray[np.float64]

    @classmethod
    def concat(cls, parts: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]) -> Records:
        if not parts:
            return cls(np.zeros((0, lay.RI_SIZE), np.int64), np.zeros((0, lay.RF_SIZE)))
        return cls(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    def of_type(self, typ: int) -> Records:
        m = self.ri[:, lay.RI_TYPE] == typ
        return Records(self.ri[m], self.rf[m])

    @property
    def fills(self) -> Fills:
        f = self.of_type(lay.REC_FILL)
        return Fills(
            ts=f.ri[:, lay.RI_ETS],
            local_ts=f.ri[:, lay.RI_LTS],
            req=f.ri[:, lay.RI_REQ],
            oid=f.ri[:, lay.RI_OID],
            cid=f.ri[:, lay.RI_CID],
            side=f.ri[:, lay.RI_SIDE],
            px=f.rf[:, lay.RF_PX],
            sz=f.rf[:, lay.RF_SZ],
            fee=f.rf[:, lay.RF_FEE],
            taker=f.ri[:, lay.RI_SUB] == 1,
        )

    def __len__(self) -> int:
        return int(self.ri.shape[0])


@dataclass(frozen=True)
class ReplayResult:
    records: Records
    state: SimState

    @property
    def fills(self) -> Fills:
        return self.records.fills

    @property
    def position(self) -> float:
        return float(self.state.sf[lay.SF_POSITION])

    @property
    def cash(self) -> float:
        return float(self.state.sf[lay.SF_CASH])

    @property
    def fees(self) -> float:
        return float(self.state.sf[lay.SF_FEES])


def grid_for(
    market: MarketArrays, actions: ActionArrays, tick: float, price_range: float = 0.2
) -> tuple[int, int]:
    """(base tick, n ticks): the market's and the actions' prices within +-``price_range``
    of their median (levels outside are ignored, orders outside rejected)."""
    live = actions.px[np.isfinite(actions.px) & (actions.px > 0)]
    allp = np.concatenate((market.px, live))
    if not allp.size:
        return 1, 32
    return roi_grid(allp, tick, price_range)


def drain(st: SimState) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Copy out the records written so far and empty the buffer."""
    n = int(st.si[lay.SI_NREC])
    out = (st.ri[:n].copy(), st.rf[:n].copy())
    st.si[lay.SI_NREC] = 0
    return out


def replay(
    market: MarketArrays,
    actions: ActionArrays | None,
    cfg: MatchConfig,
    state: SimState | None = None,
    price_range: float = 0.2,
) -> ReplayResult:
    """Run ``market`` through the matching engine with ``actions``; every record returned.

    Without ``state`` a fresh exchange is made with a grid over the prices within
    ``+-price_range`` of their median.
    """
    acts = actions if actions is not None else ActionArrays.empty()
    market.check_tick(cfg.tick)
    if state is None:
        base, n = grid_for(market, acts, cfg.tick, price_range)
        state = new_state(cfg, base, n)
    st = state
    parts: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []
    i = j = 0
    while True:
        i, j, done = replay_actions(
            st,
            market.ts,
            market.kind,
            market.side,
            market.px,
            market.sz,
            market.ref,
            acts.ts,
            acts.kind,
            acts.req,
            acts.oid,
            acts.cid,
            acts.side,
            acts.tif,
            acts.ro,
            acts.px,
            acts.sz,
            i,
            j,
        )
        if st.si[lay.SI_NREC]:
            parts.append(drain(st))
        if done:
            break
    return ReplayResult(Records.concat(parts), st)
