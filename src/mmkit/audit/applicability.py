"""Which invariants apply to a component: what it is observed to do, and what it declares.

The audit never decides applicability from an optional attribute read with a lenient
default. For each audited component:

* :func:`observed_publishes` drives a fresh estimator with a short deterministic stream
  (books, trade batches, own fills, leader BBOs, feed disconnects and reconnects, a
  both-sides-empty book, a two-hour silence) and records which :class:`Estimates` fields
  and ``extras`` keys it writes;
* :func:`scope` is that set together with the estimator's declared ``publishes``
  (:class:`mmkit.components.DeclaresPublishes`): an invariant about a field is
  NOT_APPLICABLE (:func:`not_applicable`) only when the field is outside the scope;
* :func:`consumes` says whether removing one kind of event from the stream changes what
  the estimator publishes (used to decide that a kappa estimator learns from own fills);
* :func:`require` raises :class:`~mmkit.audit.invariant.Unaudited` naming the members of a
  contract (:mod:`mmkit.components`) that an in-scope component lacks;
* :func:`gate_roles` reads a gate's declared roles (``roles``, or the older ``provides``).

Observations are cached per :class:`~mmkit.audit.invariant.AuditTarget` (the runner hands
every invariant the same target object), so each estimator is observed once per run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from mmkit.audit.invariant import AuditContext, AuditTarget, NotApplicable, Unaudited
from mmkit.components import GateRole, missing_members
from mmkit.core.types import NS_PER_S

T = TypeVar("T")

#: the kinds of input :func:`consumes` can remove from the observation stream
INPUT_KINDS: tuple[str, ...] = ("book", "trade", "fill", "leader", "feed_status")

_T0 = 1_700_000_000 * NS_PER_S
#: leader streams in the observation stream (the built-in lead-lag default prefix)
LEADER_STREAM = "leader:bbo"

# Distinctive but plausible values written before an estimator runs, so that a write of
# the default value is still seen (a reader of these gets sane numbers, never a negative
# sigma to take the square root of). Booleans get None (falsy), strings a marker.
_SENTINELS: dict[str, Any] = {
    "kappa": 1234.5678,
    "kappa_confidence": 0.123456,
    "A": 1.234567,
    "sigma": 1.234567e-4,
    "sigma_confidence": 0.123457,
    "warmed_up": None,
    "warmup_waiting": "\x00mmkit-audit-sentinel",
    "cascade": None,
    "drift": 1.234567e-7,
    "fair_value_shift": 1.234567e-7,
    "skew_shift": 1.234568e-7,
    "size_scale": 0.987654,
    "spread_scale": 1.234567,
    "toxicity": 0.123458,
}


def estimate_fields() -> tuple[str, ...]:
    """The :class:`Estimates` field names (``extras`` excluded)."""
    from mmkit.components import Estimates

    return tuple(n for n in Estimates.__slots__ if n != "extras")


# -- the observation stream -------------------------------------------------------------


def _events(
    drop: frozenset[str] = frozenset(), leaders: tuple[str, ...] = (LEADER_STREAM,)
) -> list[tuple[str, Any]]:
    """``(input kind, event)`` in time order: 90 s of a lively market with own fills and a
    leader venue (BBOs on each stream of ``leaders``), a leader disconnect and reconnect, a
    book with both sides empty, two hours of silence, then 20 s more of market. Kinds in
    ``drop`` are left out."""
    import numpy as np

    from mmkit.core.events import BBO, BookSnapshot, FeedStatus, OwnFill, TradeBatch, levels
    from mmkit.core.types import Side

    out: list[tuple[str, Any]] = []

    def book(t: int, mid: float) -> None:
        d = np.asarray((1e-4 + np.arange(10) * 1e-4) * mid, dtype=np.float64)
        sz = np.asarray(5.0 * np.exp(-1500.0 * d / mid), dtype=np.float64)
        out.append(("book", BookSnapshot(t, mid - d, sz.copy(), mid + d, sz.copy(), t)))

    def trades(t: int, mid: float, i: int) -> None:
        n = 6
        recv = np.array([t - (n - 1 - k) * 50_000_000 for k in range(n)], np.int64)
        px = np.array([mid * (1 + 2e-4 * ((i * 7 + k) % 9 - 4)) for k in range(n)], np.float64)
        sz = np.array([0.1 + 0.05 * k for k in range(n)], np.float64)
        side = np.array([1 if (i + k) % 2 else -1 for k in range(n)], np.int8)
        out.append(("trade", TradeBatch(recv.copy(), px, sz, side, recv)))

    def market(start: int, steps: int, phase: int) -> int:
        t = start
        for i in range(steps):
            t = start + i * NS_PER_S // 2
            k = i + phase
            mid = 100.0 * (1 + 3e-4 * math.sin(k / 5.0) + 1e-4 * math.sin(k * 1.3))
            book(t, mid)
            trades(t, mid, k)
            lead = 100.0 * (1 + 3e-4 * math.sin((k + 4) / 5.0))
            for s in leaders:
                out.append(
                    ("leader", BBO(t, lead * (1 - 1e-5), 1.0, lead * (1 + 1e-5), 1.0, t, stream=s))
                )
            if i % 9 == 4:  # one of our quotes filled, 1-3 bp from mid
                buy = (i // 9) % 2 == 0
                off = 1e-4 * (1 + i % 3)
                px = mid * (1 - off) if buy else mid * (1 + off)
                fill = OwnFill(
                    t, 1 + i, None, Side.BUY if buy else Side.SELL, px, 0.1, tid=1000 + i + phase
                )
                out.append(("fill", fill))
        return t

    t = market(_T0, 180, 0)
    t += NS_PER_S
    for s in (*leaders, "l2Book"):
        out.append(("feed_status", FeedStatus(t, s, connected=False, gap=True)))
    t += 5 * NS_PER_S
    for s in ("l2Book", *leaders):
        out.append(("feed_status", FeedStatus(t, s, connected=True, gap=True)))
    empty = BookSnapshot(t, levels([]), levels([]), levels([]), levels([]), t)
    out.append(("book", empty))
    t += 2 * 3600 * NS_PER_S  # two hours of silence: every window and timeout passes
    market(t, 40, 180)
    return [(k, ev) for k, ev in out if k not in drop]


def _leaders(est: Any) -> tuple[str, ...]:
    """The leader streams to play: the built-in default, and the component's own
    ``leader_prefix`` stream when it names one (this only widens what is observed)."""
    prefix = getattr(est, "leader_prefix", None)
    own = prefix + "bbo" if isinstance(prefix, str) and prefix else LEADER_STREAM
    return (LEADER_STREAM,) if own == LEADER_STREAM else (LEADER_STREAM, own)


def _drive(est: Any, drop: frozenset[str], out: Any, after: Callable[[str, Any], None]) -> None:
    """Feed the observation stream to ``est`` (a trade batch as the engine delivers it),
    calling ``estimate`` then ``after(input kind, out)`` after each event."""
    from mmkit.core.batching import deliver

    with _quiet_logs():
        for kind, ev in _events(drop, _leaders(est)):
            now = ev.local_ts if ev.kind.name == "TRADE_BATCH" else ev.ts
            if ev.kind.name == "TRADE_BATCH":
                deliver(est, ev)
            else:
                est.on_event(ev, now)
            est.estimate(out, now)
            after(kind, out)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The built-in components' warnings (cascade, gated signal, warmup timeout) are
    expected on the observation stream: keep them out of the audit output."""
    logger = logging.getLogger("mmkit")
    was = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(was)


def differs(value: Any, reference: Any) -> bool:
    """Whether a published value differs from a reference (NaN equals NaN)."""
    if isinstance(value, float) and isinstance(reference, float) and value != value:
        return reference == reference  # NaN stays NaN: unchanged
    return bool(value is not reference and value != reference)


def _observe(target: AuditTarget) -> frozenset[str]:
    """Fields and extras keys a fresh estimator writes on the observation stream: a field
    counts when it leaves its default (first pass) or overwrites a sentinel (second pass)."""
    from mmkit.components import Estimates

    fields = estimate_fields()
    seen: set[str] = set()
    defaults = Estimates()

    def note_changes(ref: Any) -> Callable[[str, Any], None]:
        def after(_kind: str, out: Any) -> None:
            for name in fields:
                if name not in seen and differs(getattr(out, name), getattr(ref, name)):
                    seen.add(name)
            seen.update(out.extras)

        return after

    _drive(target.build(), frozenset(), Estimates(), note_changes(defaults))
    primed = Estimates()
    for name, value in _SENTINELS.items():
        setattr(primed, name, value)
    reference = primed.copy()
    _drive(target.build(), frozenset(), primed, note_changes(reference))
    return frozenset(seen)


def _published_trace(target: AuditTarget, drop: frozenset[str]) -> list[tuple[str, Any]]:
    """``(input kind, everything published)`` after each event of the stream without the
    kinds in ``drop`` (the other events keep their times), for :func:`consumes`."""
    from mmkit.components import Estimates

    fields = estimate_fields()
    trace: list[tuple[str, Any]] = []

    def after(kind: str, out: Any) -> None:
        values = tuple(_canon(getattr(out, n)) for n in fields)
        extras = tuple(sorted((k, _canon(v)) for k, v in out.extras.items()))
        trace.append((kind, (values, extras)))

    _drive(target.build(), drop, Estimates(), after)
    return trace


def _canon(v: Any) -> Any:
    """NaN compares equal to NaN in a trace."""
    return "nan" if isinstance(v, float) and math.isnan(v) else v


# -- cache --------------------------------------------------------------------------------


class _Cache:
    """Values computed once per target object (held weakly: AuditTarget is unhashable)."""

    def __init__(self) -> None:
        self._data: dict[tuple[int, str], tuple[weakref.ref[AuditTarget], Any]] = {}

    def get(self, target: AuditTarget, key: str, make: Callable[[], T]) -> T:
        slot = (id(target), key)
        hit = self._data.get(slot)
        if hit is not None and hit[0]() is target:
            value: T = hit[1]
            return value
        value = make()
        self._data = {k: v for k, v in self._data.items() if v[0]() is not None}
        self._data[slot] = (weakref.ref(target), value)
        return value


_cache = _Cache()


# -- public helpers -------------------------------------------------------------------------


def observed_publishes(target: AuditTarget, ctx: AuditContext | None = None) -> frozenset[str]:
    """The :class:`Estimates` field names and ``extras`` keys a fresh instance of the
    estimator ``target`` writes on the observation stream (cached per target). Exceptions
    from the component propagate: the check that asked fails with the component's frame."""
    return _cache.get(target, "observed", lambda: _observe(target))


def declared_publishes(component: Any) -> frozenset[str] | None:
    """The component's ``publishes`` declaration, or None when it has none. A declaration
    that is not a set of strings is an error of the component (:class:`TypeError`)."""
    try:
        raw = component.publishes
    except AttributeError:
        return None
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        raise TypeError(
            f"publishes must be a set of Estimates field names and extras keys, got {raw!r}"
        )
    items = list(raw)
    bad = [x for x in items if not isinstance(x, str)]
    if bad:
        raise TypeError(f"publishes holds non-strings {bad!r}")
    return frozenset(items)


def covers(declared: frozenset[str], name: str) -> bool:
    """Whether a ``publishes`` declaration covers a field or extras key (``"sigma.*"``
    covers every key starting with ``"sigma."``)."""
    if name in declared:
        return True
    return any(d.endswith("*") and name.startswith(d[:-1]) for d in declared)


def scope(target: AuditTarget) -> frozenset[str]:
    """Observed ∪ declared: the fields and extras keys the audit holds ``target`` to
    (extras patterns like ``"sigma.*"`` included as declared)."""

    def make() -> frozenset[str]:
        declared = declared_publishes(target.build()) or frozenset()
        return observed_publishes(target) | declared

    return _cache.get(target, "scope", make)


def in_scope(target: AuditTarget, field: str) -> bool:
    """Whether ``field`` (an Estimates field or extras key) is in :func:`scope`."""
    return covers(scope(target), field)


def publishes_extras(target: AuditTarget) -> bool:
    """Whether the estimator writes or declares any ``extras`` key."""
    fields = set(estimate_fields())
    return any(name not in fields for name in scope(target))


def not_applicable(target: AuditTarget, field: str, what: str) -> None:
    """Raise :class:`NotApplicable` unless ``field`` is in the estimator's scope."""
    if not in_scope(target, field):
        raise NotApplicable(
            f"{what}: {field!r} is neither written (observed) nor declared in publishes"
        )


def consumes(target: AuditTarget, kind: str) -> bool:
    """Whether events of ``kind`` (one of :data:`INPUT_KINDS`) change what the estimator
    publishes at the other events' steps: the trace with them and without them differ."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"unknown input kind {kind!r}; one of {INPUT_KINDS}")

    def make() -> bool:
        full = _cache.get(target, "trace", lambda: _published_trace(target, frozenset()))
        without = _published_trace(target, frozenset({kind}))
        return [v for k, v in full if k != kind] != [v for _k, v in without]

    return _cache.get(target, "consumes:" + kind, make)


def require(component: T, proto: type, what: str) -> T:
    """``component`` when it implements the audit contract ``proto``; otherwise raise
    :class:`Unaudited` naming ``what`` could not be checked and the missing members."""
    missing = missing_members(component, proto)
    if missing:
        raise Unaudited(
            f"{what} cannot be checked: the component does not implement {proto.__name__} "
            f"(missing {', '.join(missing)}; see mmkit.components.{proto.__name__})",
            missing=missing,
        )
    return component


_PROVIDES = {
    "data_quality": GateRole.DATA_QUALITY,
    "kill_switch": GateRole.KILL_SWITCH,
    "warmup": GateRole.WARMUP,
}


def gate_roles(target: AuditTarget) -> frozenset[GateRole] | None:
    """The roles a gate declares (``roles``; the older ``provides`` strings are mapped),
    or None when it declares neither. A ``roles`` that is not a set of :class:`GateRole`
    (or of their string values) is an error of the component (:class:`TypeError`)."""
    gate = target.build()
    try:
        raw = gate.roles
    except AttributeError:
        try:
            old = gate.provides
        except AttributeError:
            return None
        if isinstance(old, str) or not isinstance(old, Iterable):
            raise TypeError(f"provides must be a set of strings, got {old!r}") from None
        return frozenset(_PROVIDES.get(str(p), GateRole.OTHER) for p in old)
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        raise TypeError(f"roles must be a set of GateRole, got {raw!r}")
    roles: set[GateRole] = set()
    for r in raw:
        try:
            roles.add(GateRole(r))
        except ValueError:
            raise TypeError(
                f"roles holds {r!r}, not a GateRole ({', '.join(m.value for m in GateRole)})"
            ) from None
    return frozenset(roles)


def require_role(target: AuditTarget, role: GateRole, what: str) -> None:
    """Raise :class:`Unaudited` when the gate declares no roles, :class:`NotApplicable`
    when its declared roles exclude ``role``."""
    roles = gate_roles(target)
    if roles is None:
        raise Unaudited(
            f"{what} cannot be scoped: the gate declares no roles (a class attribute "
            "roles = frozenset({GateRole....}); see mmkit.components.DeclaresRoles)",
            missing=("roles",),
        )
    if role not in roles:
        names = ", ".join(sorted(r.value for r in roles)) or "none"
        raise NotApplicable(f"{what}: the gate's declared roles are {names}")


__all__ = [
    "INPUT_KINDS",
    "consumes",
    "covers",
    "declared_publishes",
    "differs",
    "estimate_fields",
    "gate_roles",
    "in_scope",
    "not_applicable",
    "observed_publishes",
    "publishes_extras",
    "require",
    "require_role",
    "scope",
]
