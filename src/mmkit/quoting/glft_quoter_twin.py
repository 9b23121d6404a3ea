"""The compiled twin of the ``glft`` quoter (see :mod:`mmkit.twins`).

:class:`GlftQuoterTwin` is a :class:`~mmkit.quoting.glft_quoter.GlftQuoter` (same
constructor, same public attributes, same :class:`~mmkit.quoting.ladder.LadderBuilder`)
whose :meth:`quote` is one call of the numba kernel
:func:`mmkit.quoting._kernels_glft_quoter_twin.glft_quote`: the kernel computes the closed-form
depths and the ladder's levels into preallocated rows and says whether they changed. The
Python side then

* returns the builder's last :class:`~mmkit.components.Ladder` object when the levels did
  not change (the reference returns the same object then: the engine and the executor
  rely on that identity for their quiet shortcuts);
* otherwise hands the levels to the builder's own ``_emit``, so new ladders, the recent
  ladders and sides caches and the object identities are exactly the reference's.

Calls the kernel does not cover exactly (see the kernels module: prices outside
``[1e-38, 1e38]``, grid indices or scaled sizes of 2**52 or more, more than 15 price
decimals, inputs that are not numbers) run the reference's Python code on the same builder.
:attr:`GlftQuoterTwin.python_calls` counts those calls.

With the exact solver (``depth_source`` ``finite_horizon`` / ``infinite_horizon``) the input
checks, the clamps and the :class:`~mmkit.quoting.hjb.DepthCache` lookup stay Python (the
reference's code: the same solves), and the modifiers and the ladder run in the kernel
(:func:`~mmkit.quoting._kernels_glft_quoter_twin.glft_quote_depths`).

Equality: exact (``TWIN_TOLERANCE`` is 0): the kernel does the reference's float operations
in the reference's order. :func:`outputs_differ` is the comparison the tests and the audit
use.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from mmkit.components import Estimates, Ladder, Quote, View
from mmkit.core.types import Instrument
from mmkit.quoting import _kernels_glft_quoter_twin as kt
from mmkit.quoting.glft import KAPPA_CAP
from mmkit.quoting.glft_quoter import _A_CAP, _INF, GlftQuoter
from mmkit.quoting.params import GlftParams
from mmkit.registry import RiskLimits
from mmkit.twins.compare import identical
from mmkit.twins.slots import compiled_entry

#: relative tolerance of the comparison: none, every output is bit-identical
TWIN_TOLERANCE: float = 0.0


def _bind_quote(*args: Any) -> int:
    """The first call of :func:`~mmkit.quoting._kernels_glft_quoter_twin.glft_quote`
    through its compiled entry point, which the twin calls when every number is a plain
    float (the dispatcher's typing of fourteen arguments cost ~0.1 us of every quote): looks
    it up (a deferred kernel is loaded then, as the dispatcher's first call would), then
    calls it."""
    global _glft_quote
    _glft_quote = compiled_entry(kt.glft_quote, kt.SIG_GLFT_QUOTE)
    return _glft_quote(*args)  # type: ignore[no-any-return]


_glft_quote: Callable[..., int] = _bind_quote
# (module globals: one lookup less each on every quote)
_SAME = kt.SAME
_BIDS_CHANGED = kt.BIDS_CHANGED
_ASKS_CHANGED = kt.ASKS_CHANGED
_LEVELS_FINE = kt.LEVELS_FINE
_I_NB = kt.I_NB
_I_NA = kt.I_NA

#: n -> the unpacker of a row of n float64s (its tuple of Python floats, the very values
#: ``tuple(row.tolist())`` gives, straight from the array's buffer: half the time of a numpy
#: slice, ``tolist`` and ``tuple``)
_UNPACK: dict[int, Callable[[Any, int], tuple[float, ...]]] = {}


def _unpacker(n: int) -> Callable[[Any, int], tuple[float, ...]]:
    got = _UNPACK[n] = struct.Struct(f"{n}d").unpack_from
    return got


#: public attributes of the quoter (and of its builder) that must read the same
_QUOTER_ATTRS = (
    "params",
    "instrument",
    "order_size",
    "max_position",
    "q_cap",
    "Q",
    "kappa_floor",
    "A_floor",
    "use_drift",
    "max_depth",
    "level_spacing",
)
_BUILDER_ATTRS = (
    "sz_decimals",
    "max_decimals",
    "min_notional",
    "levels",
    "min_ticks",
    "max_depth",
    "post_only",
    "allocation",
    "max_order_notional",
)


def _python_only_reason(q: GlftQuoter) -> str:
    """Why a quoter's every call must run the Python reference ("" when the kernel covers
    its configuration)."""
    b = q.builder
    if not (0 <= b.sz_decimals <= 15 and -(10**6) <= b.max_decimals <= 10**6):
        return f"sz_decimals={b.sz_decimals}, max_decimals={b.max_decimals} beyond int64 grids"
    if not 1 <= b.min_ticks <= 10**15:
        return f"min_level_ticks={b.min_ticks} beyond int64 grids"
    return ""


class GlftQuoterTwin(GlftQuoter):
    """The ``glft`` quoter with :meth:`quote` compiled (same arguments as
    :class:`GlftQuoter`)."""

    def __init__(self, params: GlftParams, instrument: Instrument, risk: RiskLimits) -> None:
        super().__init__(params, instrument, risk)
        b = self.builder
        levels = b.levels
        f = np.zeros(kt.f_size(levels), dtype=np.float64)
        i = np.zeros(kt.I_SLOTS, dtype=np.int64)
        f[kt.F_ORDER_SIZE] = self.order_size
        f[kt.F_MAX_POSITION] = self.max_position
        f[kt.F_Q_CAP] = self.q_cap
        f[kt.F_KAPPA_FLOOR] = self.kappa_floor
        f[kt.F_A_FLOOR] = self.A_floor
        f[kt.F_MAX_DEPTH] = b.max_depth  # the builder's and the quoter's: both params.max_depth
        f[kt.F_LEVEL_SPACING] = self.level_spacing
        f[kt.F_GAMMA] = params.gamma
        f[kt.F_XI_DELTA] = self._xi_delta
        f[kt.F_DELTA_LOTS] = params.delta_lots
        f[kt.F_MAX_DRIFT_LOTS] = params.max_drift_lots
        f[kt.F_MIN_NOTIONAL_X] = b._min_notional_x
        f[kt.F_MAX_NOTIONAL] = b.max_order_notional
        for e in range(kt.E_MIN, kt.E_MAX + 1):
            f[kt.F_POW10 + e - kt.E_MIN] = float(f"1e{e}")  # as mmkit.rounding's table
        f[kt.F_WEIGHTS : kt.F_WEIGHTS + levels] = b._weights
        self.python_only = _python_only_reason(self)
        if not self.python_only:
            i[kt.I_SZ_DECIMALS] = b.sz_decimals
            i[kt.I_MAX_DECIMALS] = b.max_decimals
            i[kt.I_MIN_TICKS] = b.min_ticks
        i[kt.I_LEVELS] = levels
        i[kt.I_POST_ONLY] = 1 if b.post_only else 0
        i[kt.I_INTENSITY] = 1 if b.allocation == "intensity" else 0
        i[kt.I_USE_DRIFT] = 1 if self.use_drift else 0
        i[kt.I_NEUMAIER_SUM] = 1 if sys.version_info >= (3, 12) else 0
        self._f = f
        self._i = i
        _, self._bids, self._asks, self._last_bids_at, self._last_asks_at = kt.rows(levels)
        #: the new rows' offsets in bytes (where :meth:`_new_ladder` unpacks them)
        self._bids_at = self._bids * f.itemsize
        self._asks_at = self._asks * f.itemsize
        #: calls that ran the Python reference (uncovered inputs or configuration)
        self.python_calls = 0
        self._sync_last()

    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        if self.python_only:
            self.python_calls += 1
            return GlftQuoter.quote(self, view, est, now_ns)
        if self.cache is not None:
            got = self._quote_table(view, est, now_ns)
            if got is not None:
                return got
        # the closed form (:func:`glft_quote`), here rather than in a method of its own (a
        # call less on every quote): the kernel's ladder, the last ladder object when the
        # levels did not change, or the reference's code when the kernel cannot cover the
        # inputs
        try:
            market = view.market
            portfolio = view.portfolio
            bb = market.best_bid
            ba = market.best_ask
            position = portfolio.position
            view_max = view.max_position
            known = portfolio.position_known
            k = est.kappa
            A = est.A
            sigma = est.sigma
            drift = est.drift
            spread_scale = est.spread_scale
            shift = est.fair_value_shift + est.skew_shift  # summed as the reference does
            size_scale = est.size_scale
            # the entry point converts any number (or string) as float() does: only plain
            # floats (and a bool flag) take it; anything else goes through the dispatcher,
            # which refuses what is no number (the reference then decides)
            if type(known) is bool and (
                type(bb) is type(ba) is type(position) is type(view_max) is type(k) is type(A)
                is type(sigma) is type(drift) is type(spread_scale) is type(shift)
                is type(size_scale) is float
            ):  # fmt: skip
                kern = _glft_quote
            else:
                kern = kt.glft_quote
            status = kern(
                self._f, self._i, bb, ba, position, view_max, known, k, A, sigma, drift,
                spread_scale, shift, size_scale,
            )  # fmt: skip
        except (AttributeError, TypeError, ValueError, OverflowError):
            status = kt.FALLBACK  # not numbers: the reference decides (and raises) alike
        if status == _SAME:
            return self.builder._last_ladder
        if status > 0:
            return self._new_ladder(status)
        return self._python_quote(view, est, now_ns)

    def _new_ladder(self, status: int) -> Ladder:
        """The ladder of the kernel's new rows, through the builder's ``_emit`` (its recent
        ladders and sides: the reference's objects and identities)."""
        f, i, b = self._f, self._i, self.builder
        if status & _BIDS_CHANGED:
            n = i.item(_I_NB)
            bids = (_UNPACK.get(n) or _unpacker(n))(f, self._bids_at)
        else:
            bids = b._last_bid_key  # the very tuple: _emit compares it at once
        if status & _ASKS_CHANGED:
            n = i.item(_I_NA)
            asks = (_UNPACK.get(n) or _unpacker(n))(f, self._asks_at)
        else:
            asks = b._last_ask_key
        return b._emit(bids, asks, status & _LEVELS_FINE != 0)

    def _quote_table(self, view: View, est: Estimates, now_ns: int) -> Ladder | None:
        """The exact solver's depth sources: the reference's checks and clamps and its
        :class:`~mmkit.quoting.hjb.DepthCache` lookup in Python (the same code, so the same
        solves), then the modifiers and the ladder in the kernel. Without a table (extreme
        inputs) the reference uses the closed form: so does this, answering None for
        :meth:`quote` to run it (:func:`glft_quote`).
        """
        try:
            market = view.market
            bb = market.best_bid
            ba = market.best_ask
            portfolio = view.portfolio
            position = portfolio.position
            max_pos = min(self.max_position, view.max_position)
            k = est.kappa
            A = est.A
            sigma = est.sigma
            valid = (
                0.0 < bb < ba < _INF
                and portfolio.position_known
                and -_INF < position < _INF
                and k == k
                and A == A
                and 0.0 <= sigma < _INF
                and max_pos >= 0.0
            )
            if valid:
                kf, af = self.kappa_floor, self.A_floor
                k = kf if k < kf else (KAPPA_CAP if k > KAPPA_CAP else k)
                A = af if af > A else (_A_CAP if A > _A_CAP else A)
                drift = 0.0
                if self.use_drift:
                    drift = est.drift
                    if not -_INF < drift < _INF:
                        drift = 0.0
                q = position / self.order_size
                cap = self.q_cap
                q = -cap if q < -cap else (cap if q > cap else q)
        except (AttributeError, TypeError, ValueError, OverflowError, ZeroDivisionError):
            return self._python_quote(view, est, now_ns)  # the reference raises alike
        table = self._table(k, A, sigma, drift, now_ns) if valid else None
        if table is None:  # invalid inputs (an empty ladder) or the closed form
            return None
        try:
            status = kt.glft_quote_depths(
                self._f,
                self._i,
                bb,
                ba,
                position,
                view.max_position,
                k,
                table.bid_depth(q),
                table.ask_depth(q),
                table.half0,
                est.spread_scale,
                est.fair_value_shift + est.skew_shift,
                est.size_scale,
            )
        except (AttributeError, TypeError, ValueError, OverflowError):
            status = kt.FALLBACK
        if status == kt.SAME:
            return self.builder._last_ladder
        if status > 0:
            return self._new_ladder(status)
        # (the reference's lookup of the same key again finds the cached table: no solve)
        return self._python_quote(view, est, now_ns)

    def _python_quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        """The reference's code for this call, then the kernel's last rows re-synced."""
        self.python_calls += 1
        try:
            return GlftQuoter.quote(self, view, est, now_ns)
        finally:
            self._sync_last()

    def _sync_last(self) -> None:
        """Copy the builder's last levels into the kernel's last rows (the kernel then
        reports SAME exactly when the builder's ``_emit`` would return its last ladder)."""
        b = self.builder
        bids, asks = b._last_bid_key, b._last_ask_key
        f, i = self._f, self._i
        n = 2 * int(i[kt.I_LEVELS])
        if len(bids) > n or len(asks) > n:  # cannot happen: the builder caps levels
            i[kt.I_LAST_VALID] = 0
            return
        f[self._last_bids_at : self._last_bids_at + len(bids)] = bids
        f[self._last_asks_at : self._last_asks_at + len(asks)] = asks
        i[kt.I_LAST_NB] = len(bids)
        i[kt.I_LAST_NA] = len(asks)
        i[kt.I_LAST_VALID] = 1


# -- comparison -------------------------------------------------------------------------------


def _quotes_differ(where: str, ref: tuple[Quote, ...], twin: tuple[Quote, ...]) -> list[str]:
    if len(ref) != len(twin):
        return [f"{where}: {len(ref)} levels (reference) != {len(twin)} (twin)"]
    out = []
    for n, (r, t) in enumerate(zip(ref, twin, strict=True)):
        for name in ("side", "px", "sz", "level"):
            rv, tv = getattr(r, name), getattr(t, name)
            if not identical(rv, tv):
                out.append(f"{where}[{n}].{name}: {rv!r} (reference) != {tv!r} (twin)")
    return out


def ladders_differ(ref: Ladder, twin: Ladder, where: str = "ladder") -> list[str]:
    """What differs between two ladders (every quote's side, price, size and level compared
    exactly, types included); empty when they are equal."""
    return _quotes_differ(f"{where}.bids", ref.bids, twin.bids) + _quotes_differ(
        f"{where}.asks", ref.asks, twin.asks
    )


def outputs_differ(
    ref: GlftQuoter,
    twin: GlftQuoter,
    ref_ladder: Ladder,
    twin_ladder: Ladder,
    ref_previous: Ladder | None = None,
    twin_previous: Ladder | None = None,
) -> list[str]:
    """Every difference between a reference quoter and its twin after one ``quote`` call
    each: the ladders they returned (exactly), whether each returned the very object of its
    previous call (``*_previous``: the engine's and executor's identity shortcut), and the
    public attributes of the quoters and of their ladder builders. Empty when they agree."""
    out = ladders_differ(ref_ladder, twin_ladder)
    if ref_previous is not None and twin_previous is not None:
        r_same = ref_ladder is ref_previous
        t_same = twin_ladder is twin_previous
        if r_same != t_same:
            out.append(
                f"ladder identity: reference returned {'the' if r_same else 'a new'} "
                f"ladder object of its previous call, twin {'the' if t_same else 'a new'} one"
            )
    r_empty, t_empty = ref_ladder.empty, twin_ladder.empty
    if r_empty != t_empty:  # (implied by the quotes; kept for the message)
        out.append(f"ladder.empty: {r_empty} (reference) != {t_empty} (twin)")
    for name in _QUOTER_ATTRS:
        rv, tv = getattr(ref, name), getattr(twin, name)
        if not identical(rv, tv):
            out.append(f"quoter.{name}: {rv!r} (reference) != {tv!r} (twin)")
    for name in _BUILDER_ATTRS:
        rv, tv = getattr(ref.builder, name), getattr(twin.builder, name)
        if not identical(rv, tv):
            out.append(f"builder.{name}: {rv!r} (reference) != {tv!r} (twin)")
    out += ladders_differ(ref.builder._last_ladder, twin.builder._last_ladder, "builder.last")
    rc, tc = ref.cache, twin.cache
    if (rc is None) != (tc is None):
        out.append(f"quoter.cache: {rc!r} (reference) != {tc!r} (twin)")
    elif rc is not None and tc is not None and rc.solves != tc.solves:
        out.append(f"quoter.cache.solves: {rc.solves} (reference) != {tc.solves} (twin)")
    return out


__all__ = ["TWIN_TOLERANCE", "GlftQuoterTwin", "ladders_differ", "outputs_differ"]
