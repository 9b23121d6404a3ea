"""numba kernels of the EWMA-volatility estimator's twins (a correct one and a broken one)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: slots of the float state: last valid price, EWMA of squared log returns
F_LAST, F_VAR = 0, 1
#: slot of the int state: returns counted
I_COUNT = 0


@njit(cache=True)
def update(f: np.ndarray, i: np.ndarray, px: float, alpha: float) -> None:
    """One valid trade price: the reference's update, operation for operation."""
    last = f[F_LAST]
    if last > 0.0:
        r = math.log(px / last)
        f[F_VAR] = f[F_VAR] + alpha * (r * r - f[F_VAR])
        i[I_COUNT] += 1
    f[F_LAST] = px


@njit(cache=True)
def update_clamped(f: np.ndarray, i: np.ndarray, px: float, alpha: float) -> None:
    """BROKEN: clamps squared returns above 1e-2 (a jump over 10 %), which the reference
    never does: an "optimisation" that makes the twin disagree on jumps."""
    last = f[F_LAST]
    if last > 0.0:
        r = math.log(px / last)
        r2 = min(r * r, 1e-2)
        f[F_VAR] = f[F_VAR] + alpha * (r2 - f[F_VAR])
        i[I_COUNT] += 1
    f[F_LAST] = px


#: the decay's base, a global: numba compiles it as the constant 0.5
HALF = 0.5


@njit(cache=True)
def update_decay(f: np.ndarray, i: np.ndarray, px: float, dt_s: float, half_life_s: float) -> None:
    """BROKEN (subtly): the decayed EWMA of :class:`DecayVol`, operation for operation, but
    ``HALF ** x`` with ``HALF`` a global is ``0.5 ** x`` to LLVM, which makes it ``exp2(x)``:
    one ulp off CPython's ``pow`` for about one exponent in a thousand."""
    last = f[F_LAST]
    if last > 0.0:
        r = math.log(px / last)
        w = 1.0 - HALF ** (dt_s / half_life_s)
        f[F_VAR] = f[F_VAR] + w * (r * r - f[F_VAR])
        i[I_COUNT] += 1
    f[F_LAST] = px
