"""The executor twin's rate tracker and budget with their state in arrays, so that one
kernel call weighs, admits and records a batch (:mod:`mmkit.execution._kernels_permit`;
issue 20, step 3 of the compiled loop in ``docs/twins.md``).

:class:`RateTrackerArrays` and :class:`ExecutionBudgetArrays` are the reference
:class:`~mmkit.execution.rate_limit.RateTracker` and
:class:`~mmkit.execution.budget.ExecutionBudget` whose fields are properties over one
:class:`PermitArrays` (the rolling IP window a ring of (time, weight) entries): every
reference method, the status and the audit's reads work on them unchanged, and
:meth:`PermitArrays.permit` is ``SmartExecutor._permit`` after its 429 check in one call.

Why: measured in the synthetic market's paper run (2026-12-06), the reference's permit
costs ~7 µs of a quoting cycle that sends (its five objects, touched once a cycle, are out
of the caches by then; ~2 µs when timed in a loop); the arrays make it one call on a few
cache lines.

**A value the arrays cannot hold spills both objects back to the reference classes.** An
int slot holds an int64; a write of a larger int (a time near the int64 limit, which the
audit's extreme streams reach) turns both objects, in place, into plain
``RateTracker`` / ``ExecutionBudget`` instances with every field in their own
attributes (the arrays' values copied, then the write made as the reference makes it),
and the owner's kernel path ends (:attr:`PermitArrays.owner`'s ``_pa`` set to None). The
kernels take only times within ``±SAFE_NS``; the executor twin runs the reference's
permit for any other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mmkit.core.entry_points import compiled_entry
from mmkit.execution import _kernels_permit as P  # noqa: N812
from mmkit.execution.budget import ExecutionBudget
from mmkit.execution.rate_limit import RateTracker, log_ip_warning

__all__ = [
    "BUDGET_FIELDS",
    "RATE_FIELDS",
    "ExecutionBudgetArrays",
    "PermitArrays",
    "RateTrackerArrays",
    "permit_arrays",
    "permit_stand_ins",
    "permit_state",
]

_SIG_PERMIT = (
    "int64(float64[::1], int64[::1], int64[::1], int64[::1], int64, int64, int64, boolean, boolean)"
)
_SIG_RECORD = "int64(float64[::1], int64[::1], int64[::1], int64[::1], int64, int64, int64)"
_SIG_PRUNE = "void(int64[::1], int64[::1], int64[::1], int64)"
_INT64_MAX = (1 << 63) - 1


class _Owner(Protocol):
    """What holds the arrays' objects (the executor twin): its kernel path is ``_pa``."""

    _pa: PermitArrays | None


#: the permit's four arrays as a kernel takes them: ``pf, pi, wt, ww``
Arrays = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]


class PermitArrays:
    """The permit's state: ``pf`` / ``pi`` (the kernels' ``F_*`` / ``I_*`` slots) and the
    window's ring ``wt`` / ``ww``; ``rate`` and ``budget``: the two objects viewing them;
    ``owner``: whose ``_pa`` is cleared on a spill."""

    __slots__ = (
        "budget",
        "k_permit",
        "k_prune",
        "k_record",
        "owner",
        "pf",
        "pi",
        "rate",
        "spilled",
        "wt",
        "ww",
    )

    def __init__(self, ring: int = 256) -> None:
        self.pf: npt.NDArray[np.float64] = np.zeros(P.NF, dtype=np.float64)
        self.pi: npt.NDArray[np.int64] = np.zeros(P.NI, dtype=np.int64)
        self.wt: npt.NDArray[np.int64] = np.zeros(ring, dtype=np.int64)
        self.ww: npt.NDArray[np.int64] = np.zeros(ring, dtype=np.int64)
        self.rate: RateTracker | None = None
        self.budget: ExecutionBudget | None = None
        self.owner: _Owner | None = None
        self.spilled = False
        self.k_permit, self.k_record, self.k_prune = _entries()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and deep-copied without the compiled entry points (process-local);
        :meth:`__setstate__` looks them up again."""
        skip = ("k_permit", "k_record", "k_prune")
        return {name: getattr(self, name) for name in self.__slots__ if name not in skip}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self.k_permit, self.k_record, self.k_prune = _entries()

    def arrays(self) -> Arrays:
        """``pf, pi, wt, ww``: the four arrays a kernel takes, in that order."""
        return self.pf, self.pi, self.wt, self.ww

    # -- the window's ring ----------------------------------------------------------------
    def window(self) -> deque[tuple[int, int]]:
        """The window's entries, oldest first (what the reference's ``_window`` holds)."""
        pi, wt, ww = self.pi, self.wt, self.ww
        cap = wt.shape[0]
        head = int(pi[P.I_HEAD])
        return deque(
            (int(wt[(head + k) % cap]), int(ww[(head + k) % cap]))
            for k in range(int(pi[P.I_COUNT]))
        )

    def grow(self) -> None:
        """Twice the ring, its entries moved to the front (oldest first)."""
        entries = self.window()
        cap = 2 * self.wt.shape[0]
        self.wt = wt = np.zeros(cap, dtype=np.int64)
        self.ww = ww = np.zeros(cap, dtype=np.int64)
        for k, (t, w) in enumerate(entries):
            wt[k] = t
            ww[k] = w
        self.pi[P.I_HEAD] = 0

    # -- the calls --------------------------------------------------------------------------
    def permit(self, now_ns: int, weight: int, n: int, cancels_only: bool, emergency: bool) -> int:
        """:func:`~mmkit.execution._kernels_permit.permit` (growing the ring as needed);
        ``now_ns`` within ``±SAFE_NS``."""
        k = self.k_permit
        code = k(self.pf, self.pi, self.wt, self.ww, now_ns, weight, n, cancels_only, emergency)
        while code == P.RING_FULL:
            self.grow()
            code = k(self.pf, self.pi, self.wt, self.ww, now_ns, weight, n, cancels_only, emergency)
        return code

    def spill(self) -> None:
        """Both objects back to the reference classes, every field in its own attribute;
        the owner's kernel path ended (module docstring)."""
        if self.spilled:
            return
        rate, budget = self.rate, self.budget
        fields: list[tuple[Any, type, dict[str, Any]]] = []
        if rate is not None:
            values = {name: getattr(rate, name) for name in RATE_FIELDS}
            values["_window"] = self.window()
            fields.append((rate, RateTracker, values))
        if budget is not None:
            fields.append(
                (budget, ExecutionBudget, {name: getattr(budget, name) for name in BUDGET_FIELDS})
            )
        self.spilled = True
        for obj, cls, values in fields:
            obj.__class__ = cls
            obj.__dict__.pop("_pa", None)
            obj.__dict__.update(values)
        if self.owner is not None:
            self.owner._pa = None


def _entries() -> tuple[Callable[..., int], Callable[..., int], Callable[..., None]]:
    """The permit, record and prune kernels' entry points (compiled or loaded from the
    cache at the first executor twin made, not at import). The helpers first: numba keys
    its cache by the signature a kernel was compiled for, and a helper compiled only as
    ``permit``'s callee would be cached under its argument types, not under the explicit
    signature asked for here, so a later process would compile it again."""
    record = compiled_entry(P.record, _SIG_RECORD)
    prune = compiled_entry(P.prune, _SIG_PRUNE)
    return compiled_entry(P.permit, _SIG_PERMIT), record, prune


def _fits(value: object) -> bool:
    return type(value) is int and -_INT64_MAX <= value <= _INT64_MAX


#: the fields held in the arrays: name -> (kind, slot); kinds: "f" a float slot of ``pf``
#: (a Python float), "i" an int slot of ``pi`` (an int within int64), "b" a bool in an
#: int slot, "t" the budget's refill clock (an int within int64, or None: a flag slot)
RATE_FIELDS: dict[str, tuple[str, int]] = {
    "ip_limit": ("f", P.F_IP_LIMIT),
    "ip_soft": ("f", P.F_IP_SOFT),
    "ip_warn": ("f", P.F_IP_WARN),
    "address_initial": ("f", P.F_ADDR_INITIAL),
    "address_used": ("f", P.F_ADDR_USED),
    "volume_usd": ("f", P.F_VOLUME),
    "_ip_used": ("i", P.I_IP_USED),
    "_exhausted_interval_ns": ("i", P.I_EXH_INTERVAL),
    "_last_exhausted_send": ("i", P.I_LAST_EXH),
    "throttled": ("i", P.I_THROTTLED),
    "warnings": ("i", P.I_WARNINGS),
    "_warn_armed": ("b", P.I_WARN_ARMED),
    "peak_ip": ("i", P.I_PEAK),
}
BUDGET_FIELDS: dict[str, tuple[str, int]] = {
    "capacity": ("f", P.F_CAPACITY),
    "tokens": ("f", P.F_TOKENS),
    "per_usd": ("f", P.F_PER_USD),
    "refill_per_s": ("f", P.F_REFILL),
    "cost": ("f", P.F_COST),
    "reserve": ("f", P.F_RESERVE),
    "spent": ("f", P.F_SPENT),
    "emergency_spent": ("f", P.F_EM_SPENT),
    "skips": ("i", P.I_SKIPS),
    "_last_ns": ("t", P.I_LAST_NS),
}


def _holds(kind: str, value: object) -> bool:
    """Whether a field of ``kind`` holds ``value`` exactly (its type included)."""
    if kind == "f":
        return type(value) is float
    if kind == "i":
        return _fits(value)
    if kind == "b":
        return type(value) is bool
    return value is None or _fits(value)


def _field(name: str, kind: str, slot: int) -> property:
    """A property over one slot; a write the slot cannot hold exactly spills first."""

    def get(self: Any) -> Any:
        if kind == "f":
            return float(self._pa.pf[slot])
        pi = self._pa.pi
        if kind == "i":
            return int(pi[slot])
        if kind == "b":
            return bool(pi[slot])
        return int(pi[slot]) if pi[P.I_HAS_LAST] else None

    def put(self: Any, value: Any) -> None:
        pa = self._pa
        if not _holds(kind, value):
            pa.spill()
            setattr(self, name, value)  # now a plain attribute of the reference class
        elif kind == "f":
            pa.pf[slot] = value
        elif kind == "t":
            pa.pi[P.I_HAS_LAST] = 0 if value is None else 1
            pa.pi[slot] = 0 if value is None else value
        else:
            pa.pi[slot] = value

    return property(get, put, doc=f"the reference's ``{name}``, over the permit's arrays")


class RateTrackerArrays(RateTracker):
    """:class:`RateTracker` over :class:`PermitArrays` (module docstring). Build with
    :func:`permit_arrays`."""

    _pa: PermitArrays

    @property
    def _window(self) -> deque[tuple[int, int]]:  # type: ignore[override]  # the ring rules
        """The window's entries (a copy: the ring is the state)."""
        return self._pa.window()

    def _prune(self, now_ns: int) -> None:
        pa = self._pa
        if type(now_ns) is not int or not -P.SAFE_NS < now_ns < P.SAFE_NS:
            pa.spill()
            self._prune(now_ns)
            return
        pa.k_prune(pa.pi, pa.wt, pa.ww, now_ns)

    def record(
        self, actions: list[Any], now_ns: int, weighed: tuple[int, int, bool] | None = None
    ) -> None:
        pa = self._pa
        weighed = weighed if weighed is not None else self.weigh(actions)
        weight, n, _ = weighed
        if (
            type(now_ns) is not int
            or not -P.SAFE_NS < now_ns < P.SAFE_NS
            or not (_fits(weight) and _fits(n))
        ):
            pa.spill()
            self.record(actions, now_ns, weighed)
            return
        flags = pa.k_record(pa.pf, pa.pi, pa.wt, pa.ww, now_ns, weight, n)
        while flags == P.RING_FULL:
            pa.grow()
            flags = pa.k_record(pa.pf, pa.pi, pa.wt, pa.ww, now_ns, weight, n)
        if flags & P.WARN:
            log_ip_warning(self._ip_used, self.ip_limit)


class ExecutionBudgetArrays(ExecutionBudget):
    """:class:`ExecutionBudget` over :class:`PermitArrays` (module docstring). Build with
    :func:`permit_arrays`."""

    _pa: PermitArrays


for _cls, _fields in ((RateTrackerArrays, RATE_FIELDS), (ExecutionBudgetArrays, BUDGET_FIELDS)):
    for _name, (_kind, _slot) in _fields.items():
        setattr(_cls, _name, _field(_name, _kind, _slot))


def permit_stand_ins() -> Arrays:
    """Arrays of :meth:`PermitArrays.arrays`'s types for a kernel call that does not
    permit (the permit's arrays having spilled): never read."""
    ring = np.zeros(1, dtype=np.int64)
    return np.zeros(P.NF, dtype=np.float64), np.zeros(P.NI, dtype=np.int64), ring, ring.copy()


def permit_arrays(rate: RateTracker, budget: ExecutionBudget) -> PermitArrays | None:
    """Arrays holding ``rate``'s and ``budget``'s state, and the two objects turned, in
    place, into their array-backed classes over them; None (both left as they are) when
    a value does not fit the arrays exactly (a float field that is not a float, an int
    beyond int64, a window time beyond ``±SAFE_NS``) or an object is not of the
    reference class itself."""
    if type(rate) is not RateTracker or type(budget) is not ExecutionBudget:
        return None
    rv = {name: getattr(rate, name) for name in RATE_FIELDS}
    bv = {name: getattr(budget, name) for name in BUDGET_FIELDS}
    window = list(rate._window)
    for values, fields in ((rv, RATE_FIELDS), (bv, BUDGET_FIELDS)):
        if not all(_holds(fields[name][0], v) for name, v in values.items()):
            return None
    if not all(_fits(t) and -P.SAFE_NS < t < P.SAFE_NS and _fits(w) for t, w in window):
        return None
    pa = PermitArrays(ring=max(256, 2 * len(window)))
    for k, (t, w) in enumerate(window):
        pa.wt[k] = t
        pa.ww[k] = w
    pa.pi[P.I_COUNT] = len(window)
    for obj, cls, values in ((rate, RateTrackerArrays, rv), (budget, ExecutionBudgetArrays, bv)):
        for name in (*values, "_window"):  # the arrays' fields only: any other stays
            obj.__dict__.pop(name, None)
        obj.__dict__["_pa"] = pa
        obj.__class__ = cls
        for name, value in values.items():
            setattr(obj, name, value)
    pa.rate, pa.budget = rate, budget
    return pa


def permit_state(rate: RateTracker, budget: ExecutionBudget) -> dict[str, Any]:
    """Every field of the rate tracker and the budget, the window's entries included, by
    name (``rate.`` / ``budget.``): what the twin's equivalence compares, for the
    reference classes and the array-backed ones alike."""
    out: dict[str, Any] = {f"rate.{name}": getattr(rate, name) for name in RATE_FIELDS}
    out["rate._window"] = list(rate._window)
    out.update({f"budget.{name}": getattr(budget, name) for name in BUDGET_FIELDS})
    return out
