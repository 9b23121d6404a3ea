"""Hyperliquid price and size rules: the one rounding module of mmkit.

The quoter, the Hyperliquid client and the emulator all use these functions, so that what the
strategy decides, what is signed and sent, and what the simulated venue accepts cannot drift
apart. Standard library only (it is imported on hot paths and at CLI start-up).

The rules (protocol reference §5):

* a **size** has at most ``sz_decimals`` decimals;
* a **price** has at most 5 significant figures **and** at most ``max_decimals - sz_decimals``
  decimals (``max_decimals`` is 6 for perps, 8 for spot); an **integer price is always
  allowed**, whatever its number of significant figures (``123456`` is valid, ``12345.6`` is
  not);
* wire strings carry no trailing zeros (``"100"``, not ``"100.0"``), because the signature
  covers the exact string;
* an order must be worth at least $10.

Prices live on a grid whose step depends on the decade of the price: with ``e =
floor(log10(px))`` the number of decimals allowed is ``min(max_decimals - sz_decimals,
max(0, 4 - e))``. Every rounding here works on that grid with integers (``n / 10**d`` is the
float nearest the decimal ``n * 10**-d``), so results are the canonical floats of their wire
strings and ``float_to_wire`` never complains about them.

Non-finite inputs: :func:`round_price` and :func:`round_size` return ``nan`` for them (so the
hot path needs no ``try``), every ``is_valid_*`` returns ``False``, and every ``*_to_wire``
raises :class:`ValueError` naming the value.

Negative zero: the SDK's ``float_to_wire`` turns ``-0.0`` into ``"-0"`` (its ``-0`` check
compares against the unformatted ``"-0.00000000"``). mmkit emits ``"0"`` instead: both
strings are signed consistently, the venue reads both as zero, and a canonical spelling keeps
our own comparisons simple. Anything that formats to zero (``-1e-13`` too) becomes ``"0"``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

Direction = Literal["down", "up", "nearest"]

#: significant figures a non-integer price may have
MAX_SIG_FIGS = 5
#: ``max_decimals`` for perpetuals (8 for spot)
PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
#: the venue's minimum order value, USD
MIN_NOTIONAL = 10.0

# Exact powers of ten (as ints, so that ``n / _POW10_INT[d]`` is correctly rounded) and the
# nearest floats to them (for decade comparisons).
_POW10_INT: tuple[int, ...] = tuple(int(10**k) for k in range(40))
_E_MIN, _E_MAX = -40, 40
_POW10_FLOAT = {e: float(f"1e{e}") for e in range(_E_MIN, _E_MAX + 1)}
# slack (in grid steps) when deciding that ``px * 10**d`` is already an integer, absorbing
# floating-point noise such as ``0.1 + 0.2``: far below a step, far above double rounding error
_SNAP_ABS = 1e-9
_SNAP_REL = 1e-13


def _near_int(n: float, k: int) -> bool:
    return abs(n - k) <= _SNAP_ABS + _SNAP_REL * abs(n)


# --------------------------------------------------------------------------------------------
# SDK-compatible wire helpers
# --------------------------------------------------------------------------------------------


def float_to_wire(x: float) -> str:
    """The SDK's wire spelling of a number: 8 decimals at most, normalised, no trailing zeros.

    ``100.0 -> "100"``, ``1e-5 -> "0.00001"``, ``1670.1 -> "1670.1"``. Raises
    :class:`ValueError` (``"float_to_wire causes rounding"``) when 8 decimals would change the
    value by 1e-12 or more, and for non-finite values. Does **not** check tick rules (use
    :func:`price_to_wire` / :func:`size_to_wire`). ``-0.0`` gives ``"0"`` (see module doc).
    """
    if isinstance(x, bool) or not math.isfinite(x):
        raise ValueError(f"float_to_wire: {x!r} is not a finite number")
    rounded = f"{x:.8f}"
    if abs(float(rounded) - x) >= 1e-12:
        raise ValueError(f"float_to_wire causes rounding: {x!r}")
    s = f"{Decimal(rounded).normalize():f}"
    if s == "-0":
        return "0"
    return s


def _float_to_int(x: float, power: int, name: str) -> int:
    if isinstance(x, bool) or not math.isfinite(x):
        raise ValueError(f"{name}: {x!r} is not a finite number")
    with_decimals = x * _POW10_INT[power]  # an int stays exact, as in the SDK
    res = round(with_decimals)
    if abs(res - with_decimals) >= 1e-3:
        raise ValueError(f"{name} causes rounding: {x!r}")
    return int(res)


def float_to_int_for_hashing(x: float) -> int:
    """``round(x * 1e8)``, raising :class:`ValueError` if that loses precision (SDK semantics).

    ``123123123123 -> 12312312312300000000``, ``0.00001231 -> 1231``; ``0.000012312312``
    raises.
    """
    return _float_to_int(x, 8, "float_to_int_for_hashing")


def float_to_usd_int(x: float) -> int:
    """``round(x * 1e6)`` (USD amounts in micro-dollars), raising if that loses precision."""
    return _float_to_int(x, 6, "float_to_usd_int")


# --------------------------------------------------------------------------------------------
# The price grid
# --------------------------------------------------------------------------------------------


def _decade(x: float) -> int:
    """``floor(log10(x))`` for finite ``x > 0``, exact at powers of ten."""
    e = math.floor(math.log10(x))
    if e < _E_MIN:
        return e
    if e > _E_MAX - 1:
        return e
    if _POW10_FLOAT[e] > x:
        e -= 1
    elif _POW10_FLOAT[e + 1] <= x:
        e += 1
    return e


def price_decimals(px: float, sz_decimals: int, max_decimals: int = PERP_MAX_DECIMALS) -> int:
    """How many decimals a price in the decade of ``px`` may have (``px`` finite, > 0)."""
    return min(max(0, max_decimals - sz_decimals), max(0, MAX_SIG_FIGS - 1 - _decade(px)))


def price_step(px: float, sz_decimals: int, max_decimals: int = PERP_MAX_DECIMALS) -> float:
    """The grid step of valid prices in the decade of ``px`` (``px`` finite, > 0)."""
    return 1.0 / _POW10_INT[price_decimals(px, sz_decimals, max_decimals)]


def _scaled(x: float, d: int, direction: Direction) -> int:
    """``x * 10**d`` rounded to an integer in ``direction`` (with noise snapping)."""
    return scaled_index(x * _POW10_INT[d], direction)


def scaled_index(n: float, direction: Direction) -> int:
    """``n`` (a price or size already multiplied by ``10**d``: grid steps) rounded to an
    integer in ``direction``; within ``1e-9 + 1e-13 * |n|`` of an integer it snaps to it, so
    float noise (``0.1 + 0.2``) never moves a value by a whole step. Every rounding in this
    module, and the ladder's, goes through here."""
    r = round(n)
    if abs(n - r) <= _SNAP_ABS + _SNAP_REL * abs(n):  # _near_int, inlined: the ladder's hot path
        return r
    if direction == "down":
        return math.floor(n)
    if direction == "up":
        return math.ceil(n)
    return int(r)


class PriceGrid:
    """The price grid of one instrument, for hot paths that round many prices per call.

    ``decade(px)`` gives ``(lo, hi, scale)``: the decade ``lo <= px < hi`` and ``scale =
    10**price_decimals(px)``, so that grid prices there are ``n / scale`` for integers ``n``
    and :func:`scaled_index` of ``px * scale`` rounds onto the grid exactly as
    :func:`round_price` does. The last decade is remembered (consecutive prices of a quoter
    almost always share it), which skips the ``log10``.
    """

    __slots__ = ("_last", "max_decimals", "sz_decimals")

    def __init__(self, sz_decimals: int, max_decimals: int = PERP_MAX_DECIMALS) -> None:
        self.sz_decimals = sz_decimals
        self.max_decimals = max_decimals
        self._last: tuple[float, float, int] = (math.inf, -math.inf, 1)

    def decade(self, px: float) -> tuple[float, float, int]:
        """``(lo, hi, 10**decimals)`` of the decade of ``px`` (finite, > 0)."""
        last = self._last
        if last[0] <= px < last[1]:
            return last
        e = _decade(px)
        d = price_decimals(px, self.sz_decimals, self.max_decimals)
        last = self._last = (_pow10_float(e), _pow10_float(e + 1), _POW10_INT[d])
        return last

    def scale(self, px: float) -> int:
        """``10**decimals`` of the decade of ``px`` (finite, > 0)."""
        return self.decade(px)[2]


def _pow10_float(e: int) -> float:
    """The float nearest ``10**e``."""
    got = _POW10_FLOAT.get(e)
    return got if got is not None else float(f"1e{e}")


def round_price(
    px: float,
    sz_decimals: int,
    *,
    max_decimals: int = PERP_MAX_DECIMALS,
    direction: Direction = "nearest",
) -> float:
    """Round ``px`` onto the venue's price grid.

    ``direction``: ``"down"`` for bids (never more aggressive than asked), ``"up"`` for asks,
    ``"nearest"`` otherwise. Returns ``nan`` if ``px`` is not finite or not positive; rounding
    a price below the smallest step down gives ``0.0``, which :func:`is_valid_price` rejects.
    """
    if not (px > 0.0 and px < math.inf):
        return math.nan
    d = price_decimals(px, sz_decimals, max_decimals)
    return _scaled(px, d, direction) / _POW10_INT[d]


def next_price_below(
    px: float, sz_decimals: int, *, max_decimals: int = PERP_MAX_DECIMALS
) -> float:
    """The largest valid price strictly below ``px`` (``0.0`` if none, ``nan`` if ``px`` bad)."""
    if not (px > 0.0 and px < math.inf):
        return math.nan
    d = price_decimals(px, sz_decimals, max_decimals)
    n = _scaled(px, d, "down")
    exact = _near_int(px * _POW10_INT[d], n)
    if not exact:
        return n / _POW10_INT[d]
    # px is on the grid: step down by the grid step of the decade just below px (finer when px
    # is itself a power of ten: below 10000 comes 9999.9 when decimals allow)
    e = _decade(px)
    if _POW10_FLOAT.get(e) == px:
        e -= 1
    d_below = min(max(0, max_decimals - sz_decimals), max(0, MAX_SIG_FIGS - 1 - e))
    n_below = n * _POW10_INT[d_below - d] if d_below >= d else n
    d_below = max(d_below, d)
    return max(0, n_below - 1) / _POW10_INT[d_below]


def next_price_above(
    px: float, sz_decimals: int, *, max_decimals: int = PERP_MAX_DECIMALS
) -> float:
    """The smallest valid price strictly above ``px`` (``nan`` if ``px`` is not finite/> 0)."""
    if not (px >= 0.0 and px < math.inf):
        return math.nan
    if px == 0.0:
        d = max(0, max_decimals - sz_decimals)
        return 1.0 / _POW10_INT[d]
    d = price_decimals(px, sz_decimals, max_decimals)
    n = _scaled(px, d, "up")
    exact = _near_int(px * _POW10_INT[d], n)
    if not exact:
        return n / _POW10_INT[d]
    return (n + 1) / _POW10_INT[d]


def post_only_price(
    px: float,
    is_bid: bool,
    best_bid: float,
    best_ask: float,
    sz_decimals: int,
    *,
    max_decimals: int = PERP_MAX_DECIMALS,
) -> float:
    """A post-only (ALO) price on the grid that does not cross the book.

    A bid is rounded down and, if it would reach the best ask, moved to the largest valid
    price strictly below it; an ask is rounded up and, if it would reach the best bid, moved
    to the smallest valid price strictly above it. A missing (non-finite) opposite best leaves
    the price as rounded. Returns ``nan`` if no valid positive price exists.
    """
    if not (px > 0.0 and px < math.inf):
        return math.nan
    if is_bid:
        out = round_price(px, sz_decimals, max_decimals=max_decimals, direction="down")
        if best_ask > 0.0 and best_ask < math.inf and not (out < best_ask):
            out = next_price_below(best_ask, sz_decimals, max_decimals=max_decimals)
        return out if out > 0.0 else math.nan
    out = round_price(px, sz_decimals, max_decimals=max_decimals, direction="up")
    if best_bid > 0.0 and best_bid < math.inf and not (out > best_bid):
        out = next_price_above(best_bid, sz_decimals, max_decimals=max_decimals)
    return out if out > 0.0 else math.nan


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


def round_size(sz: float, sz_decimals: int, direction: Direction = "down") -> float:
    """Round ``sz`` to ``sz_decimals`` decimals (down by default: never more than asked).

    Returns ``nan`` for a non-finite ``sz``; a negative size is rounded as a number (callers
    quote magnitudes).
    """
    if not math.isfinite(sz):
        return math.nan
    d = max(0, sz_decimals)
    return _scaled(sz, d, direction) / _POW10_INT[d]


# --------------------------------------------------------------------------------------------
# Validity and wire strings
# --------------------------------------------------------------------------------------------


def _canonical_parts(s: str) -> tuple[str, str] | None:
    """(whole, fraction) digits of a canonical positive decimal string, else None."""
    whole, dot, frac = s.partition(".")
    if not whole.isdigit() or not whole.isascii() or (len(whole) > 1 and whole[0] == "0"):
        return None
    if dot and (not frac or not frac.isdigit() or not frac.isascii() or frac[-1] == "0"):
        return None
    return whole, frac


def is_valid_price_str(s: str, sz_decimals: int, max_decimals: int = PERP_MAX_DECIMALS) -> bool:
    """Whether a wire price string obeys the rules (positive, no trailing zeros, grid)."""
    parts = _canonical_parts(s)
    if parts is None:
        return False
    whole, frac = parts
    if not frac:
        return whole != "0"  # integers are always allowed
    if len(frac) > max(0, max_decimals - sz_decimals):
        return False
    sig = (whole + frac).lstrip("0")
    return len(sig) <= MAX_SIG_FIGS


def is_valid_price(px: float, sz_decimals: int, max_decimals: int = PERP_MAX_DECIMALS) -> bool:
    """Whether ``px`` is a positive, finite price on the venue grid (judged on its wire form)."""
    if isinstance(px, bool) or not (px > 0.0 and px < math.inf):
        return False
    try:
        s = float_to_wire(px)
    except ValueError:
        return False
    return is_valid_price_str(s, sz_decimals, max_decimals)


def is_valid_size_str(s: str, sz_decimals: int) -> bool:
    """Whether a wire size string is positive with at most ``sz_decimals`` decimals."""
    parts = _canonical_parts(s)
    if parts is None:
        return False
    whole, frac = parts
    return len(frac) <= max(0, sz_decimals) and (whole + frac).strip("0") != ""


def is_valid_size(sz: float, sz_decimals: int) -> bool:
    """Whether ``sz`` is a positive, finite size with at most ``sz_decimals`` decimals."""
    if isinstance(sz, bool) or not (sz > 0.0 and sz < math.inf):
        return False
    try:
        s = float_to_wire(sz)
    except ValueError:
        return False
    return is_valid_size_str(s, sz_decimals)


def price_to_wire(px: float, sz_decimals: int, max_decimals: int = PERP_MAX_DECIMALS) -> str:
    """The wire string of a valid price; :class:`ValueError` naming the price otherwise."""
    if not is_valid_price(px, sz_decimals, max_decimals):
        raise ValueError(
            f"price {px!r} is not valid on the venue grid (at most {MAX_SIG_FIGS} significant "
            f"figures and {max(0, max_decimals - sz_decimals)} decimals unless an integer; "
            f"sz_decimals={sz_decimals}, max_decimals={max_decimals}); round it with "
            f"mmkit.rounding.round_price first"
        )
    return float_to_wire(px)


def size_to_wire(sz: float, sz_decimals: int) -> str:
    """The wire string of a valid size; :class:`ValueError` naming the size otherwise."""
    if not is_valid_size(sz, sz_decimals):
        raise ValueError(
            f"size {sz!r} is not a positive size with at most {sz_decimals} decimals; "
            f"round it with mmkit.rounding.round_size first"
        )
    return float_to_wire(sz)


def meets_min_notional(px: float, sz: float, min_notional: float = MIN_NOTIONAL) -> bool:
    """Whether an order of ``sz`` at ``px`` is worth at least ``min_notional`` USD.

    A relative slack of 1e-12 absorbs float noise (``0.1 * 100`` counts as $10).
    """
    notional = px * sz
    if not math.isfinite(notional):
        return False
    return notional >= min_notional * (1.0 - 1e-12)


def min_size_for_notional(px: float, sz_decimals: int, min_notional: float = MIN_NOTIONAL) -> float:
    """The smallest valid size worth at least ``min_notional`` at ``px`` (``nan`` if px bad)."""
    if not (px > 0.0 and px < math.inf):
        return math.nan
    sz = round_size(min_notional / px, sz_decimals, "up")
    if not meets_min_notional(px, sz, min_notional):
        sz = (round(sz * _POW10_INT[sz_decimals]) + 1) / _POW10_INT[sz_decimals]
    return sz


__all__ = [
    "MAX_SIG_FIGS",
    "MIN_NOTIONAL",
    "PERP_MAX_DECIMALS",
    "SPOT_MAX_DECIMALS",
    "Direction",
    "PriceGrid",
    "float_to_int_for_hashing",
    "float_to_usd_int",
    "float_to_wire",
    "is_valid_price",
    "is_valid_price_str",
    "is_valid_size",
    "is_valid_size_str",
    "meets_min_notional",
    "min_size_for_notional",
    "next_price_above",
    "next_price_below",
    "post_only_price",
    "price_decimals",
    "price_step",
    "price_to_wire",
    "round_price",
    "round_size",
    "scaled_index",
    "size_to_wire",
]
