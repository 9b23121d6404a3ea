"""numba kernels of the compiled GLFT quoter twin (:mod:`mmkit.quoting.glft_quoter_twin`).

One kernel, :func:`glft_quote`, does all of :meth:`GlftQuoter.quote` for the closed-form depth
source: input checks, the clamps of ``kappa`` / ``A`` / inventory, Guéant's closed-form terms
(:mod:`mmkit.quoting.glft`), the estimate modifiers and the ladder builder's level arithmetic
(:class:`mmkit.quoting.ladder.LadderBuilder`: grid decades, rounding away from mid, post-only,
level spacing, size allocation, exposure / notional / minimum-notional clipping, the
self-cross rule). It writes the bid and ask levels ``(px0, sz0, px1, sz1, ...)`` into the
state array and says whether they differ from the last call's.

State: one ``float64`` array ``f`` and one ``int64`` array ``i`` with the named slots below
(parameters and outputs; the per-call inputs are arguments, see :func:`glft_quote`); ``f``
also holds the table of the floats nearest ``10**e`` (``e`` in ``[-40, 40]``, as
:mod:`mmkit.rounding`), the level weights, a scratch row of sizes and four level rows (this
call's bids and asks, the last call's bids and asks).

Exactness: every float operation is the reference's, in the reference's order (no fastmath,
no reassociation); Python's ``round`` (half to even) and integer arithmetic are reproduced on
``int64`` for grid indices below ``2**52`` (``_N_MAX``). Inputs outside what the kernel
covers exactly return :data:`FALLBACK` and the twin runs the Python reference for that call:
prices outside ``[1e-38, 1e38]``, grid indices or scaled sizes of ``2**52`` or more, more
than 15 price decimals. The rare branches (post-only pushing level 0 into another decade,
asks crossing into the next decade's coarser grid) are compiled too, with
:mod:`mmkit.rounding`'s ``round_price`` / ``next_price_above`` / ``next_price_below`` /
``post_only_price`` reproduced here.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mmkit.deferred_kernels import kernel_on_first_use

# -- status returned by glft_quote ------------------------------------------------------------
SAME = 0  #: the levels equal the last call's (the twin returns the last ladder object)
BIDS_CHANGED = 1  #: bit: new bid levels in the bid row
ASKS_CHANGED = 2  #: bit: new ask levels in the ask row
FALLBACK = -1  #: not covered exactly: run the Python reference for this call
#: bit, with a change: this call's levels pass :func:`levels_fine` (the ladder is made
#: ``checked``, and the engine skips ``ladder_problem``: see ``Ladder._checked``)
LEVELS_FINE = 4

# -- float slots (f) ----------------------------------------------------------------------------
# parameters (set at construction)
F_ORDER_SIZE = 0
F_MAX_POSITION = 1
F_Q_CAP = 2
F_KAPPA_FLOOR = 3
F_A_FLOOR = 4
F_MAX_DEPTH = 5
F_LEVEL_SPACING = 6
F_GAMMA = 7
F_XI_DELTA = 8
F_DELTA_LOTS = 9
F_MAX_DRIFT_LOTS = 10
F_MIN_NOTIONAL_X = 11
F_MAX_NOTIONAL = 12
#: where the table of powers of ten starts: f[F_POW10 + e + 40] is the float nearest 10**e
F_POW10 = 32
E_MIN = -40
E_MAX = 40
#: where the level weights start (``levels`` floats), then the scratch sizes (``levels``),
#: then the four level rows of ``2 * levels`` floats each (bids, asks, last bids, last asks)
F_WEIGHTS = F_POW10 + (E_MAX - E_MIN + 1)

# -- int slots (i) ------------------------------------------------------------------------------
I_SZ_DECIMALS = 0
I_MAX_DECIMALS = 1
I_LEVELS = 2
I_MIN_TICKS = 3
I_POST_ONLY = 4
I_INTENSITY = 5  #: 1: size allocation "intensity" (sizes ∝ exp(-kappa depth))
I_USE_DRIFT = 6
I_NB = 8  #: output: floats in this call's bid row (2 per level)
I_NA = 9  #: output: floats in this call's ask row
I_LAST_NB = 10  #: floats in the last call's bid row
I_LAST_NA = 11
I_LAST_VALID = 12  #: 0: the last rows are unknown (after a fallback): report CHANGED
#: 1: Python's ``sum`` of floats is compensated (Neumaier, CPython 3.12 and later), 0: a
#: plain left-to-right sum (3.11); the intensity allocation's mean is such a sum
I_NEUMAIER_SUM = 13
I_SLOTS = 16

#: grid indices and scaled sizes must stay below this for int64/float64 arithmetic to equal
#: Python's arbitrary-precision ints (floats hold every integer below 2**53)
_N_MAX = 4503599627370496.0  # 2**52
_PX_LO = 1e-38
_PX_HI = 1e38
_MAX_GRID_DECIMALS = 15
_INF = math.inf
_NAN = math.nan
_A_CAP = 1e12
_KAPPA_CAP = 1e12
_SCALE_MIN = 0.1
_SCALE_MAX = 100.0
_E = math.e


def f_size(levels: int) -> int:
    """Length of the float state array for ``levels`` levels per side."""
    return F_WEIGHTS + 2 * levels + 8 * levels


def rows(levels: int) -> tuple[int, int, int, int, int]:
    """Offsets of (scratch sizes, bids, asks, last bids, last asks) in ``f``."""
    sizes = F_WEIGHTS + levels
    bids = sizes + levels
    return sizes, bids, bids + 2 * levels, bids + 4 * levels, bids + 6 * levels


@njit(cache=True)
def _round_half_even(x: float) -> float:
    """Python's ``round(x)`` of a float below 2**52 in magnitude, as an integral float."""
    r = float(math.floor(x))
    d = x - r  # exact below 2**52
    if d > 0.5 or (d == 0.5 and r % 2.0 != 0.0):
        r += 1.0
    return r


@kernel_on_first_use("int64(float64, boolean)", cache=True)  # called with constant flags
def _scaled_index(n: float, up: bool) -> int:
    """:func:`mmkit.rounding.scaled_index` (``down`` or ``up``) for ``0 <= n < 2**52``."""
    r = _round_half_even(n)
    if abs(n - r) <= 1e-9 + 1e-13 * abs(n):
        return int(r)
    if up:
        return math.ceil(n)
    return math.floor(n)


@njit(cache=True)
def _decade(f: np.ndarray, px: float) -> int:
    """``floor(log10(px))`` exactly as :func:`mmkit.rounding._decade`, for ``px`` in
    ``[1e-38, 1e38]`` (the log's estimate is corrected against the table)."""
    e = math.floor(math.log10(px))
    if f[F_POW10 + e - E_MIN] > px:
        e -= 1
    elif f[F_POW10 + e + 1 - E_MIN] <= px:
        e += 1
    return e


@njit(cache=True)
def _grid_decimals(i: np.ndarray, e: int) -> int:
    """:func:`mmkit.rounding.price_decimals` for decade ``e``."""
    a = i[I_MAX_DECIMALS] - i[I_SZ_DECIMALS]
    if a < 0:
        a = 0
    b = 4 - e
    if b < 0:
        b = 0
    return a if a < b else b


@njit(cache=True)
def py_sum(f: np.ndarray, start: int, n: int, neumaier: bool) -> float:
    """Python's built-in ``sum`` of the ``n`` floats from ``f[start]`` (start value the
    int 0: the first float is taken as is). ``neumaier``: CPython 3.12+'s compensated
    loop, with the compensation added at the end when it is finite and non-zero."""
    if n == 0:
        return 0.0
    total = float(f[start])
    if not neumaier:
        for j in range(1, n):
            total += f[start + j]
        return total
    c = 0.0
    for j in range(1, n):
        x = f[start + j]
        t = total + x
        if abs(total) >= abs(x):
            c += (total - t) + x
        else:
            c += (x - t) + total
        total = t
    if c != 0.0 and -_INF < c < _INF:
        total += c
    return total


@njit(cache=True)
def _near_int(n: float, k: int) -> bool:
    """:func:`mmkit.rounding._near_int`."""
    return abs(n - k) <= 1e-9 + 1e-13 * abs(n)


@njit(cache=True)
def _grid_of(f: np.ndarray, i: np.ndarray, px: float) -> tuple[int, int, float]:
    """``(e, d, y)`` for a price: its decade ``e``, the grid's decimals ``d`` there and the
    price in ticks ``y = px * 10**d``; ``d`` is -1 (never a real count of decimals) for a
    fallback: ``px`` outside ``[1e-38, 1e38]``, more decimals than the kernel handles, or
    ``y`` beyond the floats that hold every integer. Run-time arguments only."""
    if not (_PX_LO <= px <= _PX_HI):
        return 0, -1, 0.0
    e = _decade(f, px)
    d = _grid_decimals(i, e)
    if d > _MAX_GRID_DECIMALS:
        return e, -1, 0.0
    y = px * float(10**d)  # exact: int ** int
    if not y < _N_MAX:
        return e, -1, 0.0
    return e, d, y


@kernel_on_first_use("float64(float64[::1], int64[::1], float64, boolean)", cache=True)
def _round_price(f: np.ndarray, i: np.ndarray, px: float, up: bool) -> float:
    """:func:`mmkit.rounding.round_price` (``up`` or ``down``) of a price in ``[1e-38,
    1e38]``; ``-1.0`` when the kernel cannot reproduce it exactly (a fallback)."""
    _, d, y = _grid_of(f, i, px)
    if d < 0:
        return -1.0
    return _scaled_index(y, up) / float(10**d)  # exact: int ** int


@njit(cache=True)
def _next_price_above(f: np.ndarray, i: np.ndarray, px: float) -> float:
    """:func:`mmkit.rounding.next_price_above` for ``px`` 0 or in ``[1e-38, 1e38]``;
    ``-1.0`` for a fallback."""
    if px == 0.0:
        d = i[I_MAX_DECIMALS] - i[I_SZ_DECIMALS]
        if d < 0:
            d = 0
        if d > _MAX_GRID_DECIMALS:
            return -1.0
        return 1.0 / float(10**d)  # exact: int ** int
    _, d, y = _grid_of(f, i, px)
    if d < 0:
        return -1.0
    p = float(10**d)  # exact: int ** int
    n = _scaled_index(y, True)
    if not _near_int(y, n):
        return n / p
    return (n + 1) / p


@njit(cache=True)
def _next_price_below(f: np.ndarray, i: np.ndarray, px: float) -> float:
    """:func:`mmkit.rounding.next_price_below` for ``px`` in ``[1e-38, 1e38]``; ``-1.0``
    for a fallback."""
    e, d, y = _grid_of(f, i, px)
    if d < 0:
        return -1.0
    p = float(10**d)  # exact: int ** int
    n = _scaled_index(y, False)
    if not _near_int(y, n):
        return n / p
    # on the grid: one step of the decade just below (finer below a power of ten)
    if f[F_POW10 + e - E_MIN] == px:
        e -= 1
    d_below = _grid_decimals(i, e)
    if d_below > _MAX_GRID_DECIMALS:
        return -1.0
    n_below = n * 10 ** (d_below - d) if d_below >= d else n  # exact: int ** int
    if not n_below < _N_MAX:
        return -1.0
    if d_below < d:
        d_below = d
    m = n_below - 1
    if m < 0:
        m = 0
    return m / float(10**d_below)  # exact: int ** int


@kernel_on_first_use("float64(float64[::1], int64[::1], float64, boolean, float64)", cache=True)
def _post_only_price(
    f: np.ndarray, i: np.ndarray, px: float, is_bid: bool, opposite: float
) -> float:
    """:func:`mmkit.rounding.post_only_price` against the opposite best (finite, > 0
    here): NaN when no valid price exists, ``-1.0`` for a fallback."""
    if not (px > 0.0 and px < _INF):
        return _NAN
    if is_bid:
        out = _round_price(f, i, px, False)
        if out < 0.0:
            return -1.0
        if not out < opposite:
            out = _next_price_below(f, i, opposite)
            if out < 0.0:
                return -1.0
    else:
        out = _round_price(f, i, px, True)
        if out < 0.0:
            return -1.0
        if not out > opposite:
            out = _next_price_above(f, i, opposite)
            if out < 0.0:
                return -1.0
    return out if out > 0.0 else _NAN


@njit(cache=True)
def _scaled_index_down_signed(n: float) -> int:
    """``scaled_index(n, "down")`` for ``|n| < 2**52`` (a size may round from a negative)."""
    r = _round_half_even(n)
    if abs(n - r) <= 1e-9 + 1e-13 * abs(n):
        return int(r)
    return math.floor(n)


@njit(cache=True)
def _on_grid(f: np.ndarray, i: np.ndarray, px: float) -> tuple[float, float, int, float]:
    """The price grid of ``px``'s decade: ``(lo, hi, scale, y)``, the decade's bounds, its
    ticks per unit (``10**decimals``) and ``px`` in ticks (``px * scale``); ``scale`` 0 for
    a fallback (``px`` out of range, too many decimals, or ``y`` beyond exact float ints).
    Called with run-time prices only (one compiled version)."""
    e, d, y = _grid_of(f, i, px)
    if d < 0:
        return 0.0, 0.0, 0, 0.0
    return f[F_POW10 + e - E_MIN], f[F_POW10 + e + 1 - E_MIN], 10**d, y  # exact: int ** int


@kernel_on_first_use(
    "int64(float64[::1], int64[::1], boolean, float64, float64, float64, float64, float64,"
    " float64, float64, int64)",
    cache=True,
)  # explicit: called per side with a constant, compiled once (not once per constant)
def _side(
    f: np.ndarray,
    i: np.ndarray,
    is_bid: bool,
    mid: float,
    depth: float,
    spacing: float,
    base: float,
    room: float,
    opposite: float,
    kappa: float,
    out: int,
) -> int:
    """:meth:`LadderBuilder._side` then ``_fill``, writing ``(px, sz)`` pairs from
    ``f[out]``; returns how many floats it wrote, or -1 for a fallback."""
    max_depth = f[F_MAX_DEPTH]
    if not (room > 0.0 and depth <= max_depth):
        return 0
    if depth < -max_depth:
        depth = -max_depth
    if is_bid:
        if not depth < 1.0:
            return 0
        raw = mid * (1.0 - depth)
    else:
        raw = mid * (1.0 + depth)
    lo, hi, scale, y = _on_grid(f, i, raw)
    if scale == 0:
        return -1
    fscale = float(scale)
    n0 = _scaled_index(y, not is_bid)
    if n0 > hi * fscale - 0.5 and n0 > 0:
        # rounded up out of the decade: continue on the next decade's grid
        px0 = n0 / fscale
        if not (_PX_LO <= px0 <= _PX_HI):
            return -1
        e = _decade(f, px0)
        d2 = _grid_decimals(i, e)
        lo = f[F_POW10 + e - E_MIN]
        hi = f[F_POW10 + e + 1 - E_MIN]
        coarser = 10**d2  # exact: int ** int
        n0 //= scale // coarser
        scale = coarser
        fscale = float(scale)
    crosses = not (n0 / fscale < opposite) if is_bid else not (n0 / fscale > opposite)
    if crosses and (i[I_POST_ONLY] != 0 and 0.0 < opposite < _INF):
        n0 = 0
        if lo < opposite < hi:
            y = opposite * fscale
            if not y < _N_MAX:
                return -1
            if is_bid:
                n0 = _scaled_index(y, True) - 1
            else:
                n0 = _scaled_index(y, False) + 1
        if not (lo * fscale - 0.5 < n0 < hi * fscale - 0.5):
            # the valid price next to the opposite best lies in another decade
            p0 = _post_only_price(f, i, raw, is_bid, opposite)
            if p0 == -1.0:
                return -1
            if not 0.0 < p0 < _INF:
                return 0
            lo, hi, scale, y = _on_grid(f, i, p0)
            if scale == 0:
                return -1
            fscale = float(scale)
            n0 = int(_round_half_even(y))
    if n0 <= 0:
        return 0
    units = spacing * mid * fscale
    if units < 1e15:
        s = int(units + 0.5)
    else:
        s = 1_000_000_000_000_000
    if s < i[I_MIN_TICKS]:
        s = i[I_MIN_TICKS]
    levels = i[I_LEVELS]
    sizes = F_WEIGHTS + levels
    if i[I_INTENSITY] != 0:
        gap = kappa * float(s) / (fscale * mid)
        for j in range(levels):
            f[sizes + j] = math.exp(-gap * float(j))
        mean = py_sum(f, sizes, levels, i[I_NEUMAIER_SUM] != 0) / float(levels)
        for j in range(levels):
            f[sizes + j] = base * f[sizes + j] / mean
    else:
        for j in range(levels):
            f[sizes + j] = base * f[F_WEIGHTS + j]
    if is_bid:
        step = -s
        upper = 0
    else:
        step = s
        upper = int(_round_half_even(hi * fscale))
    # _fill
    mn = f[F_MIN_NOTIONAL_X]
    max_notional = f[F_MAX_NOTIONAL]
    szd = i[I_SZ_DECIMALS]
    if szd < 0:
        szd = 0
    sz_scale = float(10**szd)  # exact: int ** int
    k = 0
    last_target = -1.0
    sz = 0.0
    prev_px = 0.0
    n = n0
    for j in range(levels):
        want = f[sizes + j]
        if n <= 0:
            break
        px = n / fscale
        if upper != 0 and n >= upper:
            # in the next decade: re-rounded onto its (coarser) grid, strictly increasing
            px = _round_price(f, i, px, True)
            if px < 0.0:
                return -1
            if not px > prev_px:
                px = _next_price_above(f, i, prev_px)
                if px < 0.0:
                    return -1
        prev_px = px
        n += step
        target = want if want < room else room
        if target * px > max_notional:
            target = max_notional / px
        if target != last_target:
            if not (-_INF < target < _INF):
                sz = _NAN
            else:
                t = target * sz_scale
                if not abs(t) < _N_MAX:
                    return -1
                sz = _scaled_index_down_signed(t) / sz_scale
            last_target = target
        if not (sz > 0.0 and px * sz >= mn):
            if want >= room:
                break
            continue
        f[out + k] = px
        f[out + k + 1] = sz
        k += 2
        room -= sz
        if room <= 0.0:
            break
    return k


@njit(cache=True)
def levels_fine(f: np.ndarray, bids: int, nb: int, asks: int, na: int) -> bool:
    """Whether the levels in ``f[bids : bids + nb]`` and ``f[asks : asks + na]`` (price,
    size, ... as :data:`~mmkit.components.Levels`; an odd last number is no level, as
    ``Ladder.from_levels`` drops it) pass what :func:`mmkit.engine.ladder_problem` checks
    of a ladder made from them: every price and size finite and positive, and the highest
    bid below the lowest ask when both sides quote. False is not a verdict: the engine
    then runs ``ladder_problem`` itself (which names the problem)."""
    top = -_INF
    for j in range(0, nb - 1, 2):
        px = f[bids + j]
        sz = f[bids + j + 1]
        if not (0.0 < px < _INF and 0.0 < sz < _INF):  # False for NaN
            return False
        if px > top:
            top = px
    low = _INF
    for j in range(0, na - 1, 2):
        px = f[asks + j]
        sz = f[asks + j + 1]
        if not (0.0 < px < _INF and 0.0 < sz < _INF):
            return False
        if px < low:
            low = px
    return not (nb > 1 and na > 1 and top >= low)


@njit(cache=True)
def _status(f: np.ndarray, i: np.ndarray) -> int:
    """Compare this call's rows with the last call's (and make them the last ones); a
    change carries :data:`LEVELS_FINE` when the rows pass :func:`levels_fine`."""
    levels = i[I_LEVELS]
    bids = F_WEIGHTS + 2 * levels
    asks = bids + 2 * levels
    last_b = asks + 2 * levels
    last_a = last_b + 2 * levels
    nb = i[I_NB]
    na = i[I_NA]
    status = BIDS_CHANGED | ASKS_CHANGED
    if i[I_LAST_VALID] != 0:
        status = 0
        if nb != i[I_LAST_NB]:
            status = BIDS_CHANGED
        else:
            for j in range(nb):
                if f[bids + j] != f[last_b + j]:
                    status = BIDS_CHANGED
                    break
        if na != i[I_LAST_NA]:
            status |= ASKS_CHANGED
        else:
            for j in range(na):
                if f[asks + j] != f[last_a + j]:
                    status |= ASKS_CHANGED
                    break
    if status & BIDS_CHANGED:
        for j in range(nb):
            f[last_b + j] = f[bids + j]
        i[I_LAST_NB] = nb
    if status & ASKS_CHANGED:
        for j in range(na):
            f[last_a + j] = f[asks + j]
        i[I_LAST_NA] = na
    i[I_LAST_VALID] = 1
    if status != SAME and levels_fine(f, bids, nb, asks, na):
        status |= LEVELS_FINE
    return status


@kernel_on_first_use(
    "int64(float64[::1], int64[::1], float64, float64, float64, float64, float64, float64,"
    " float64, float64, float64, float64, float64)",
    cache=True,
)
def glft_quote_depths(
    f: np.ndarray,
    i: np.ndarray,
    bb: float,
    ba: float,
    position: float,
    view_max: float,
    k: float,
    bid_d: float,
    ask_d: float,
    half0: float,
    spread_scale: float,
    shift: float,
    size_scale: float,
) -> int:
    """The end of one :meth:`GlftQuoter.quote` whose depths came from the exact solver's
    table (``finite_horizon`` / ``infinite_horizon``): the caller has checked the inputs
    and clamped ``k`` as the reference does, and passes the table's bid and ask depths at
    the clamped inventory and its ``half0``. Same outputs and status as
    :func:`glft_quote`, which ends here too (one copy of the ladder code). Writes the bid
    and ask rows and their lengths (``i[I_NB]``, ``i[I_NA]``)."""
    # min(self.max_position, view.max_position): a NaN view limit leaves ours
    max_pos = f[F_MAX_POSITION]
    if view_max < max_pos:
        max_pos = view_max
    levels = i[I_LEVELS]
    bids = F_WEIGHTS + 2 * levels
    asks = bids + 2 * levels
    nb = 0
    na = 0
    # estimate modifiers
    scale = spread_scale
    if not -_INF < scale < _INF:
        scale = 1.0
    scale = _SCALE_MIN if scale < _SCALE_MIN else (_SCALE_MAX if scale > _SCALE_MAX else scale)
    if not -_INF < shift < _INF:
        shift = 0.0
    md = f[F_MAX_DEPTH]
    shift = -md if shift < -md else (md if shift > md else shift)
    widen = (scale - 1.0) * half0
    if not -_INF < size_scale < _INF:
        size_scale = 1.0
    # LadderBuilder.levels_of
    mid = 0.5 * (bb + ba)
    bdepth = bid_d + widen - shift
    adepth = ask_d + widen + shift
    spacing = f[F_LEVEL_SPACING] / (k if k > 1.0 else 1.0)
    base = f[F_ORDER_SIZE] * size_scale
    if 0.0 < mid < _INF and base > 0.0 and base < _INF:
        if not (0.0 <= spacing < _INF):
            spacing = 0.0
        kap = k if 0.0 <= k < _INF else 0.0
        nb = _side(f, i, True, mid, bdepth, spacing, base, max_pos - position, ba, kap, bids)
        if nb < 0:
            return FALLBACK
        na = _side(f, i, False, mid, adepth, spacing, base, max_pos + position, bb, kap, asks)
        if na < 0:
            return FALLBACK
        if bdepth + adepth < 1e-6 and nb > 0 and na > 0:
            top = f[asks]
            if f[bids] >= top:
                # never let our own quotes cross: drop the bids at or above the best ask
                m = 0
                for j in range(0, nb, 2):
                    if f[bids + j] < top:
                        f[bids + m] = f[bids + j]
                        f[bids + m + 1] = f[bids + j + 1]
                        m += 2
                nb = m
    i[I_NB] = nb
    i[I_NA] = na
    return _status(f, i)


#: the signature of :func:`glft_quote` (the twin calls its compiled entry point for it)
SIG_GLFT_QUOTE = (
    "int64(float64[::1], int64[::1], float64, float64, float64, float64, boolean, float64,"
    " float64, float64, float64, float64, float64, float64)"
)


@kernel_on_first_use(SIG_GLFT_QUOTE, cache=True)
def glft_quote(
    f: np.ndarray,
    i: np.ndarray,
    bb: float,
    ba: float,
    position: float,
    view_max: float,
    known: bool,
    k: float,
    A: float,
    sigma: float,
    drift_in: float,
    spread_scale: float,
    shift: float,
    size_scale: float,
) -> int:
    """One :meth:`GlftQuoter.quote` (closed form).

    Arguments: the market's best bid and ask, the position, the view's position limit,
    whether the position is known, and the estimates (``kappa``, ``A``, ``sigma``,
    ``drift``, ``spread_scale``, ``fair_value_shift + skew_shift``, ``size_scale``). The
    per-call inputs are arguments rather than state slots: measured, 12 numpy stores cost
    more than 12 more arguments (~0.6 µs against ~0.4 µs per call on this machine).

    Writes the bid and ask rows and their lengths (``i[I_NB]``, ``i[I_NA]``) and returns
    :data:`SAME`, a mask of :data:`BIDS_CHANGED` / :data:`ASKS_CHANGED` (the last rows are
    then updated) or :data:`FALLBACK`.
    """
    # min(self.max_position, view.max_position): a NaN view limit leaves ours
    max_pos = f[F_MAX_POSITION]
    if view_max < max_pos:
        max_pos = view_max
    if (
        0.0 < bb < ba < _INF
        and known
        and -_INF < position < _INF
        and k == k
        and A == A
        and 0.0 <= sigma < _INF
        and max_pos >= 0.0
    ):
        kf = f[F_KAPPA_FLOOR]
        k = kf if k < kf else (_KAPPA_CAP if k > _KAPPA_CAP else k)
        af = f[F_A_FLOOR]
        A = af if af > A else (_A_CAP if A > _A_CAP else A)
        drift = 0.0
        if i[I_USE_DRIFT] != 0:
            drift = drift_in
            if not -_INF < drift < _INF:
                drift = 0.0
        q = position / f[F_ORDER_SIZE]
        cap = f[F_Q_CAP]
        q = -cap if q < -cap else (cap if q > cap else q)
        # glft.closed_form and drift_in_lots
        gamma = f[F_GAMMA]
        xd = f[F_XI_DELTA]
        delta = f[F_DELTA_LOTS]
        x = xd / k
        if x < 1e-9:
            base_d = (1.0 - 0.5 * x) / k
            util = _E * (1.0 - 0.5 * x)
        else:
            base_d = math.log1p(x) / xd
            util = math.exp((1.0 + 1.0 / x) * math.log1p(x))
        omega2 = gamma * sigma * sigma / (2.0 * A * delta * k) * util
        omega = math.sqrt(omega2)
        half0 = base_d + 0.5 * omega * delta
        mdl = f[F_MAX_DRIFT_LOTS]
        if drift == 0.0:
            drift_lots = 0.0
        else:
            var = gamma * sigma * sigma
            if var > 0.0:
                v = drift / var
                lo_v = v if v < mdl else mdl  # min(mdl, v)
                drift_lots = lo_v if lo_v > -mdl else -mdl  # max(-mdl, lo_v)
            elif -_INF < mdl < _INF:
                drift_lots = math.copysign(mdl, drift)
            else:
                drift_lots = 0.0
        r = omega * (drift_lots - q)
        bid_d = half0 - r
        ask_d = half0 + r
        # the rest is the exact solver's path's: one copy, called with run-time values only
        return glft_quote_depths(
            f,
            i,
            bb,
            ba,
            position,
            view_max,
            k,
            bid_d,
            ask_d,
            half0,
            spread_scale,
            shift,
            size_scale,
        )
    i[I_NB] = 0
    i[I_NA] = 0
    return _status(f, i)
