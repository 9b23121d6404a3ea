"""Columnar market and action arrays: the batch interface of the simulated exchange.

:class:`MarketArrays` holds a replayed market (one row per level change, trade or L3
message) and :class:`ActionArrays` a schedule of our actions; :func:`mmkit.venues.sim.replay`
runs them through the matching kernels. Both validate on construction and raise
:class:`~mmkit.errors.DataError` naming the first bad row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.errors import DataError
from mmkit.venues.sim import _layout as lay

_KINDS = (lay.EV_DEPTH, lay.EV_TRADE, lay.EV_L3_ADD, lay.EV_L3_CANCEL, lay.EV_L3_EXEC)
#: kind code (as a byte) -> whether it is one of _KINDS (a table look-up per row is several
#: times cheaper than ``np.isin``)
_KNOWN_KIND = np.zeros(256, dtype=np.bool_)
_KNOWN_KIND[np.array(_KINDS, dtype=np.int8).view(np.uint8)] = True
_ACTION_KINDS = (lay.A_PLACE, lay.A_MODIFY, lay.A_CANCEL, lay.A_CANCEL_ALL, lay.A_ECHO)


def _first_bad(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


@dataclass(frozen=True)
class MarketArrays:
    """A market as columns; rows sorted by exchange time ``ts`` (int64 ns)."""

    ts: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    side: npt.NDArray[np.int8]
    px: npt.NDArray[np.float64]
    sz: npt.NDArray[np.float64]
    ref: npt.NDArray[np.int64]

    @classmethod
    def build(
        cls,
        ts: npt.ArrayLike,
        kind: npt.ArrayLike,
        side: npt.ArrayLike,
        px: npt.ArrayLike,
        sz: npt.ArrayLike,
        ref: npt.ArrayLike | None = None,
        *,
        source: str = "market arrays",
    ) -> MarketArrays:
        """Validate and convert columns (``ref`` defaults to -1 everywhere)."""
        t = np.ascontiguousarray(ts, dtype=np.int64)
        n = t.shape[0]
        cols: dict[str, npt.NDArray[Any]] = {
            "kind": np.ascontiguousarray(kind, dtype=np.int8),
            "side": np.ascontiguousarray(side, dtype=np.int8),
            "px": np.ascontiguousarray(px, dtype=np.float64),
            "sz": np.ascontiguousarray(sz, dtype=np.float64),
            "ref": (
                np.full(n, -1, dtype=np.int64)
                if ref is None
                else np.ascontiguousarray(ref, dtype=np.int64)
            ),
        }
        for name, col in cols.items():
            if col.shape != (n,):
                raise DataError(f"{source}: column {name} has shape {col.shape}, expected ({n},)")
        if n:
            back = t[1:] < t[:-1]
            if back.any():
                raise DataError(
                    f"{source}: row {_first_bad(back) + 1}: timestamp "
                    "goes backwards (sort the events by exchange time)"
                )
            bad = ~_KNOWN_KIND[cols["kind"].view(np.uint8)]
            if bad.any():
                i = _first_bad(bad)
                raise DataError(f"{source}: row {i}: unknown event kind {int(cols['kind'][i])}")
            bad = (cols["side"] != 1) & (cols["side"] != -1)
            if bad.any():
                i = _first_bad(bad)
                raise DataError(f"{source}: row {i}: side {int(cols['side'][i])} is not +1 or -1")
            bad = ~(np.isfinite(cols["px"]) & (cols["px"] > 0))
            if bad.any():
                i = _first_bad(bad)
                raise DataError(
                    f"{source}: row {i}: price {float(cols['px'][i])!r} is not finite and > 0"
                )
            bad = ~(np.isfinite(cols["sz"]) & (cols["sz"] >= 0))
            if bad.any():
                i = _first_bad(bad)
                raise DataError(
                    f"{source}: row {i}: size {float(cols['sz'][i])!r} is not finite and >= 0"
                )
        return cls(t, cols["kind"], cols["side"], cols["px"], cols["sz"], cols["ref"])

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def check_tick(self, tick: float, *, source: str = "market arrays") -> None:
        """Every price must lie on the grid of ``tick`` (levels would otherwise merge)."""
        from mmkit.venues.sim._kernels_book import first_off_tick

        i = first_off_tick(self.px, 1.0 / tick)
        if i >= 0:
            raise DataError(
                f"{source}: row {i}: price {float(self.px[i])!r} is not a multiple of the "
                f"simulated exchange's tick {tick!r} (set venues.sim.tick)"
            )


@dataclass(frozen=True)
class ActionArrays:
    """A schedule of our actions, sorted by the local time ``ts`` they are sent.

    ``oid``/``cid`` name the target of a modify or cancel (oid -1: by client id); a place
    gives its client id in ``cid``. ``tif`` is ``TIF_*``; ``ro`` is 1 for reduce-only.
    """

    ts: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    req: npt.NDArray[np.int64]
    oid: npt.NDArray[np.int64]
    cid: npt.NDArray[np.int64]
    side: npt.NDArray[np.int64]
    tif: npt.NDArray[np.int64]
    ro: npt.NDArray[np.int64]
    px: npt.NDArray[np.float64]
    sz: npt.NDArray[np.float64]

    @classmethod
    def build(
        cls,
        ts: npt.ArrayLike,
        kind: npt.ArrayLike,
        side: npt.ArrayLike,
        px: npt.ArrayLike,
        sz: npt.ArrayLike,
        *,
        cid: npt.ArrayLike | None = None,
        oid: npt.ArrayLike | None = None,
        tif: npt.ArrayLike | None = None,
        ro: npt.ArrayLike | None = None,
        req: npt.ArrayLike | None = None,
        source: str = "action arrays",
    ) -> ActionArrays:
        t = np.ascontiguousarray(ts, dtype=np.int64)
        n = t.shape[0]

        def col(v: npt.ArrayLike | None, fill: int) -> npt.NDArray[np.int64]:
            if v is None:
                return np.full(n, fill, dtype=np.int64)
            return np.ascontiguousarray(np.broadcast_to(v, (n,)), dtype=np.int64)

        k = col(kind, 0)
        if n and np.any(np.diff(t) < 0):
            raise DataError(
                f"{source}: row {_first_bad(np.diff(t) < 0) + 1}: send time goes backwards"
            )
        bad = ~np.isin(k, _ACTION_KINDS)
        if bad.any():
            i = _first_bad(bad)
            raise DataError(f"{source}: row {i}: unknown action kind {int(k[i])}")
        return cls(
            ts=t,
            kind=k,
            req=np.arange(n, dtype=np.int64) if req is None else col(req, 0),
            oid=col(oid, -1),
            cid=col(cid, -1),
            side=col(side, 0),
            tif=col(tif, lay.TIF_ALO),
            ro=col(ro, 0),
            px=np.ascontiguousarray(np.broadcast_to(px, (n,)), dtype=np.float64),
            sz=np.ascontiguousarray(np.broadcast_to(sz, (n,)), dtype=np.float64),
        )

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> ActionArrays:
        z = np.zeros(0)
        return cls.build(z, z, z, z, z)
