"""The compiled twin of the data-quality gate (see :mod:`mmkit.twins`):
:class:`DataQualityGateTwin` decides exactly as
:class:`~mmkit.gates.data_quality.DataQualityGate`, with its per-event bookkeeping and its
``check`` run by the numba kernels of :mod:`mmkit.gates._kernels_data_quality_twin`.

What stays in Python, and why it is still exact:

* ``check`` reads the market's per-stream dicts (``last_update``, ``connected``) itself:
  the twin judges the :class:`~mmkit.components.View` it is given, whatever fed it, as the
  reference does. No data or a disconnected feed (rare) are decided by the reference's own
  code; otherwise the freshest stream's receive time (or the oldest of the configured
  ``streams``) goes to the kernel with the market's scalars.
* The kernel answers a code; the :class:`~mmkit.components.GateDecision` is built in
  Python only when the gate is closed, with the reference's expressions (the stale streams
  case calls the reference's ``_streams_staleness``, which names the right stream).
* Times outside +-2**62 ns (no feed produces them) make the kernel answer ``FALLBACK``: the
  reference's Python code then decides, on the same state (the reference's private
  attributes are properties over the twin's state array). Times outside int64 cannot be
  held and are refused with a :class:`ValueError` naming the value.

The hot calls go through the kernels' compiled entry points with the signature fixed at
load time (numba's dispatcher would spend ~100 ns per argument choosing one), so the twin
only ever passes its own int64 state array, Python ints and floats to them; trade batch
columns (arrays from outside) go through the dispatcher, which checks their type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkit.components import Estimates, GateDecision, View
from mmkit.core.events import Event, EventKind, TradeBatch
from mmkit.core.types import NS_PER_MS
from mmkit.gates import _kernels_data_quality_twin as dqk
from mmkit.gates import reasons
from mmkit.gates.data_quality import DataQualityGate
from mmkit.gates.params import DataQualityParams
from mmkit.twins.compare import identical
from mmkit.twins.slots import compiled_entry

#: the event kinds the gate keeps books on (``EventKind.is_market_data``, without the
#: property call on the per-event path)
_MARKET_DATA = frozenset(k for k in EventKind if k.is_market_data)

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1

#: numba signatures of the kernels called through their entry points
_SIG_EVENT = "int64(int64[::1], int64, int64, int64)"
_SIG_BATCH = "int64(int64[::1], int64, int64[::1], int64[::1])"
_SIG_CHECK = "int64(int64[::1], int64, int64, int64, int64, int64, float64, float64, int64)"


def _clamp(ns: int) -> int:
    """A threshold (ns) held in int64: beyond int64 it compares with any time difference
    the kernel computes (|d| < 2**63, see ``SAFE_NS``) as the clamped value does."""
    return min(max(ns, _I64_MIN), _I64_MAX)


def _as_ns(x: Any, what: str, gate: str) -> int:
    """``x`` as an int64 ns time, or a ValueError naming ``what`` (a float time with a
    fraction, or one beyond int64, cannot be held in the twin's int64 state)."""
    try:
        v = int(x)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"gate {gate!r} (compiled twin): {what}={x!r} is not a ns time") from None
    if v != x or not _I64_MIN <= v <= _I64_MAX:
        raise ValueError(
            f"gate {gate!r} (compiled twin): {what}={x!r} is not an int64 ns time (the twin "
            "holds times as int64 nanoseconds)"
        )
    return v


class DataQualityGateTwin(DataQualityGate):
    """:class:`DataQualityGate` with its hot paths compiled; same constructor arguments,
    same decisions (see the module docstring). The reference's private state
    (``_last_md_ts``, ``_regressions``, ``_regressions_seen``, ``_last_regression_ns``)
    reads and writes through to the int64 state array ``_s``."""

    def __init__(self, params: DataQualityParams | None = None, name: str = "data_quality") -> None:
        #: all state: the scalar slots and per-stream cells of the kernels module
        self._s: npt.NDArray[np.int64] = np.zeros(dqk.BASE + dqk.STREAM_CELLS * 4, np.int64)
        #: stream -> its slot in ``_s`` (in order of first sight)
        self._slots: dict[str, int] = {}
        super().__init__(params, name)
        s = self._s
        s[dqk.THRESHOLD] = _clamp(self._threshold_ns)
        s[dqk.BOOK_THRESHOLD] = _clamp(self._book_threshold_ns)
        s[dqk.HOLD] = _clamp(self._hold_ns)
        s[dqk.CHECK_POSITION] = 1 if self.params.check_position_known else 0
        #: whether the position must be known (the portfolio is read only then, as the
        #: reference reads it)
        self._check_position = self.params.check_position_known
        #: the streams that must each be fresh (empty: the freshest one counts)
        self._watch = tuple(self.params.streams)
        self._k_event = compiled_entry(dqk.on_market_event, _SIG_EVENT)
        self._k_check = compiled_entry(dqk.check, _SIG_CHECK)
        dqk.on_trade_batch.compile(_SIG_BATCH)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and deep-copied without the compiled entry points (process-local);
        :meth:`__setstate__` looks them up again."""
        state = dict(self.__dict__)
        del state["_k_event"], state["_k_check"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._k_event = compiled_entry(dqk.on_market_event, _SIG_EVENT)
        self._k_check = compiled_entry(dqk.check, _SIG_CHECK)

    # -- the reference's state, over the array ----------------------------------------
    @property
    def _last_md_ts(self) -> dict[str, int]:
        """stream -> latest exchange time kept (a fresh dict built from ``_s``)."""
        s = self._s
        out: dict[str, int] = {}
        for stream, slot in self._slots.items():
            cell = dqk.BASE + dqk.STREAM_CELLS * slot
            if s[cell + 1]:
                out[stream] = int(s[cell])
        return out

    @_last_md_ts.setter
    def _last_md_ts(self, value: Mapping[str, int]) -> None:
        self._slots = {}
        self._s[dqk.N_STREAMS] = 0
        self._s[dqk.BASE :] = 0
        for stream, ts in value.items():
            cell = dqk.BASE + dqk.STREAM_CELLS * self._new_slot(stream)
            self._s[cell] = _as_ns(ts, f"_last_md_ts[{stream!r}]", self.name)
            self._s[cell + 1] = 1

    @property
    def _last_regression_ns(self) -> int:
        return int(self._s[dqk.LAST_REGRESSION])

    @_last_regression_ns.setter
    def _last_regression_ns(self, value: int) -> None:
        self._s[dqk.LAST_REGRESSION] = _as_ns(value, "_last_regression_ns", self.name)

    @property
    def _regressions_seen(self) -> int:
        return int(self._s[dqk.REGRESSIONS_SEEN])

    @_regressions_seen.setter
    def _regressions_seen(self, value: int) -> None:
        self._s[dqk.REGRESSIONS_SEEN] = _as_ns(value, "_regressions_seen", self.name)

    @property
    def _regressions(self) -> int:
        return int(self._s[dqk.REGRESSIONS])

    @_regressions.setter
    def _regressions(self, value: int) -> None:
        self._s[dqk.REGRESSIONS] = _as_ns(value, "_regressions", self.name)

    def _new_slot(self, stream: str) -> int:
        """A slot for a stream seen for the first time (its latest time -1, not kept);
        the state array doubles when full (rare: a handful of streams per run)."""
        slot = len(self._slots)
        cell = dqk.BASE + dqk.STREAM_CELLS * slot
        if cell + dqk.STREAM_CELLS > self._s.shape[0]:
            grown = np.zeros(2 * self._s.shape[0], np.int64)
            grown[: self._s.shape[0]] = self._s
            self._s = grown
        self._s[cell] = -1
        self._s[cell + 1] = 0
        self._s[dqk.N_STREAMS] = slot + 1
        self._slots[stream] = slot
        return slot

    # -- hot paths ----------------------------------------------------------------------
    def on_event(self, event: Event, now_ns: int) -> None:
        if event.kind not in _MARKET_DATA:
            return
        stream: str = event.stream  # type: ignore[union-attr]
        slot = self._slots.get(stream)
        if slot is None:
            slot = self._new_slot(stream)
        ts = event.ts
        if not type(ts) is type(now_ns) is int:
            ts = _as_ns(ts, f"{stream} event ts", self.name)
            now_ns = _as_ns(now_ns, "now_ns", self.name)
        try:
            self._k_event(self._s, slot, ts, now_ns)
        except OverflowError:
            _as_ns(ts, f"{stream} event ts", self.name)
            _as_ns(now_ns, "now_ns", self.name)
            raise

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        """The batch's rows, counted as ``on_event`` counts them one by one (one kernel
        call over the int64 columns)."""
        stream = batch.stream
        slot = self._slots.get(stream)
        if slot is None:
            slot = self._new_slot(stream)
        dqk.on_trade_batch(self._s, slot, batch.times, batch.recv)

    def check(self, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        m = view.market
        updates = m.last_update
        if not updates or not all(m.connected.values()):  # NoData, FeedDisconnected
            return DataQualityGate.check(self, view, est, now_ns)
        watch = self._watch
        if watch:
            try:
                t = min([updates[stream] for stream in watch])
            except KeyError:  # a required stream never delivered: the reference names it
                return DataQualityGate.check(self, view, est, now_ns)
        else:
            t = max(updates.values())
        book_ns = m.book_update_ns
        if not type(now_ns) is type(t) is type(book_ns) is int:
            return self._check_exotic(view, est, now_ns, t, book_ns)
        try:
            code = self._k_check(
                self._s,
                now_ns,
                t,
                book_ns,
                m.pending_gap,
                m.ts_regressions,
                m.best_bid,
                m.best_ask,
                view.portfolio.position_known if self._check_position else True,
            )
        except OverflowError:  # a time beyond int64: name it
            return self._check_exotic(view, est, now_ns, t, book_ns)
        except (TypeError, AttributeError):  # a field missing or of another type (None,
            # say): the reference decides (and raises only if it reaches that field);
            # nothing was changed yet
            return DataQualityGate.check(self, view, est, now_ns)
        if code == dqk.OPEN:
            return None
        return self._decision(code, view, est, now_ns)

    # -- rare paths ---------------------------------------------------------------------
    def _check_exotic(
        self, view: View, est: Estimates, now_ns: Any, t: Any, book_ns: Any
    ) -> GateDecision | None:
        """Times that are not Python ints: refused unless they are whole int64 ns values,
        then decided by the reference's code."""
        _as_ns(now_ns, "now_ns", self.name)
        _as_ns(t, "market.last_update time", self.name)
        _as_ns(book_ns, "market.book_update_ns", self.name)
        return DataQualityGate.check(self, view, est, now_ns)

    def _decision(self, code: int, view: View, est: Estimates, now_ns: int) -> GateDecision | None:
        """The closed decision for a kernel code, built with the reference's expressions."""
        m = view.market
        if code == dqk.EMPTY_BID:
            return self._closed(reasons.EMPTY_BOOK, side="bid")
        if code == dqk.EMPTY_ASK:
            return self._closed(reasons.EMPTY_BOOK, side="ask")
        if code == dqk.CROSSED:
            return self._closed(reasons.CROSSED, bid=m.best_bid, ask=m.best_ask)
        if code == dqk.POSITION_UNKNOWN:
            return self._closed(reasons.POSITION_UNKNOWN)
        if code == dqk.REGRESSION:
            return self._closed(
                reasons.TIMESTAMP_REGRESSION,
                count=float(max(self._regressions, m.ts_regressions)),
            )
        if code == dqk.SEQUENCE_GAP:
            return self._closed(reasons.SEQUENCE_GAP, gaps=float(m.gap_count))
        if code == dqk.STALE_BOOK:
            book_ns = m.book_update_ns
            return self._closed(
                reasons.STALE,
                stream="book",
                age_ms=(now_ns - book_ns) / NS_PER_MS,
                threshold_ms=self.params.max_book_age_ms,
            )
        if code == dqk.STALE_STREAMS:
            stale = self._streams_staleness(view, now_ns)
            if stale is not None:
                return stale
        # FALLBACK (times near the int64 edge), or a code this module does not know: the
        # reference decides (the kernel touched no state before its staleness answers, and
        # its regression bookkeeping is idempotent for the same inputs)
        return DataQualityGate.check(self, view, est, now_ns)


# -- comparison (used by the tests and the audit's twin equivalence) --------------------
def decisions_differ(a: GateDecision | None, b: GateDecision | None) -> list[str]:
    """How two gate decisions differ (empty: identical): open vs closed, gate name,
    reason, mode, emergency, and every ``detail`` key and value (exactly, see
    :func:`mmkit.twins.compare.identical`)."""
    if a is None or b is None:
        return [] if a is b else [f"decision: {a!r} != {b!r}"]
    out = [
        f"{name}: {x!r} != {y!r}"
        for name, x, y in (
            ("gate", a.gate, b.gate),
            ("reason", a.reason, b.reason),
            ("mode", a.mode, b.mode),
            ("emergency", a.emergency, b.emergency),
        )
        if not identical(x, y)
    ]
    if list(a.detail) != list(b.detail):
        out.append(f"detail keys: {list(a.detail)} != {list(b.detail)}")
    for key in a.detail:
        if key in b.detail and not identical(a.detail[key], b.detail[key]):
            out.append(f"detail[{key!r}]: {a.detail[key]!r} != {b.detail[key]!r}")
    return out


def state_differ(ref: DataQualityGate, twin: DataQualityGate) -> list[str]:
    """How the two gates' public and private state differ (empty: identical)."""
    out = []
    for attr in (
        "name",
        "params",
        "roles",
        "_threshold_ns",
        "_book_threshold_ns",
        "_hold_ns",
        "_last_md_ts",
        "_last_regression_ns",
        "_regressions_seen",
        "_regressions",
    ):
        x, y = getattr(ref, attr), getattr(twin, attr)
        if not identical(x, y):
            out.append(f"{attr}: {x!r} != {y!r}")
    return out


def outputs_differ(
    ref: DataQualityGate,
    twin: DataQualityGate,
    view: View,
    est: Estimates,
    now_ns: int,
    twin_view: View | None = None,
) -> list[str]:
    """Check both gates at ``now_ns`` (on ``view``, or ``twin_view`` for the twin when the
    two are fed separate but equal markets) and list every difference in their decisions
    (see :func:`decisions_differ`) and, after the check, their state
    (:func:`state_differ`). A gate that raises is compared by exception type and text."""
    got: list[GateDecision | str | None] = []
    for gate, v in ((ref, view), (twin, twin_view if twin_view is not None else view)):
        try:
            got.append(gate.check(v, est, now_ns))
        except Exception as exc:  # compared, not hidden: both must raise alike
            got.append(f"raised {type(exc).__name__}: {exc}")
    a, b = got
    if isinstance(a, str) or isinstance(b, str):
        diff = [] if a == b else [f"check: {a!r} != {b!r}"]
    else:
        diff = decisions_differ(a, b)
    return diff + state_differ(ref, twin)
