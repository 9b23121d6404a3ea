"""Parameters of the built-in quoters (standard library only: read at CLI start-up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mmkit.params import param

DepthSource = Literal["closed_form", "finite_horizon", "infinite_horizon"]
SizeAllocation = Literal["flat", "geometric", "intensity"]
HorizonMode = Literal["rolling", "session"]


@dataclass(frozen=True)
class LadderParams:
    """How optimal depths become a ladder (shared by every quoter that uses the builder)."""

    levels: int = param(5, ge=1, le=50, help="levels per side")
    level_spacing: float = param(
        0.5,
        gt=0,
        help="spacing between levels, in average fill distances 1/max(kappa, 1)",
    )
    min_level_ticks: int = param(1, ge=1, help="at least this many price steps between levels")
    size_allocation: SizeAllocation = param(
        "flat", help="flat, geometric (ratio per level) or intensity (exp(-kappa * depth))"
    )
    geometric_ratio: float = param(1.5, gt=0, help="size ratio between consecutive levels")
    max_depth: float = param(
        0.05, gt=0, lt=1, help="no quote on a side whose optimal depth exceeds this (relative)"
    )
    post_only: bool = param(True, help="never cross the book's best bid / best ask")


@dataclass(frozen=True)
class GlftParams(LadderParams):
    """The GLFT quoter (closed form, exact finite-horizon or infinite-horizon depths).

    Inventory is counted in lots of ``risk.order_size`` (``q = position / order_size``), so
    ``gamma`` is risk aversion per lot of relative P&L and does not depend on the coin's units.
    """

    gamma: float = param(50.0, gt=0, help="risk aversion, per lot of relative P&L")
    xi: float = param(
        -1.0, help="xi of Guéant's general form; negative means xi = gamma (GLFT model A)"
    )
    delta_lots: float = param(1.0, gt=0, help="order size Δ in lots (closed form)")
    kappa_floor: float = param(1.0, gt=0, help="kappa is floored here where used")
    A_floor: float = param(1e-3, gt=0, help="fill intensity A (per second) floor")
    use_drift: bool = param(False, help="add the drift term mu / (gamma sigma^2)")
    max_drift_lots: float = param(
        5.0, ge=0, help="cap of the drift term, in lots of equivalent inventory"
    )
    depth_source: DepthSource = param(
        "closed_form", help="closed_form, finite_horizon (exact ODE) or infinite_horizon"
    )
    horizon_s: float = param(3600.0, gt=0, help="finite horizon T in seconds")
    horizon_mode: HorizonMode = param(
        "rolling", help="rolling: always T ahead; session: T - (now mod T)"
    )
    max_q: int = param(30, ge=1, le=500, help="inventory bound Q (lots) of the exact solver")
    resolve_tolerance: float = param(
        0.05, ge=0, help="re-solve the exact ODE when a parameter moved by this relative amount"
    )
