"""Journals with known content, written through the real :class:`Journal` writer, for the
``journal show / export / plot / compare`` tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mmkit.cli.main import main
from mmkit.components import Estimates
from mmkit.core.actions import Place
from mmkit.core.events import ActionResult, OrderStatus, OrderUpdate, OwnFill
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Side
from mmkit.runtime.journal import Journal

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # 2023-11-14 22:13:20 UTC


@dataclass
class Spec:
    """A run of ``run_s`` seconds from T0: ``fills`` (t_s, side, px, sz, fee); equity and
    mid snapshots every second from ``mid`` (a function of the second); gate closures
    ``(gate, reason, start_s, end_s or None, mode, emergency)``; rejections by reason."""

    run_s: int = 100
    fills: list[tuple[float, int, float, float, float]] = field(default_factory=list)
    gates: list[tuple[str, str, float, float | None, str, bool]] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    #: order updates (t_s, oid, side, status, px)
    quotes: list[tuple[float, int, int, str, float]] = field(default_factory=list)
    mid0: float = 100.0
    mid_step: float = 0.01  # the mid rises this much (USD) every second
    places: int = 1  # place actions sent
    #: the warmup estimator's extras journaled in an estimates row at ``run_s`` (none: no row)
    warmup_extras: dict[str, float] | None = None


def ns(t_s: float) -> int:
    return T0 + round(t_s * NS)


def mid_at(spec: Spec, second: int) -> float:
    return spec.mid0 + spec.mid_step * second


def build(path: Path, spec: Spec) -> Path:
    """Write ``spec`` as a journal at ``path``. The local snapshots book the fills with
    average-cost accounting, written here independently of :mod:`mmkit.core.portfolio`."""
    j = Journal(path)
    j.set_meta("mode", "paper")
    j.set_meta("coin", "BTC")
    j.set_meta("mmkit_version", "test")
    j.set_meta("stopped_by", "duration")
    rid = 0
    for k in range(spec.places):
        rid += 1
        j.action(ns(1.0 + k * 1e-3), Place(rid, f"0x{rid:032x}", Side.BUY, 99.0, 1.0))
        j.action_result(ActionResult(ns(1.05 + k * 1e-3), rid, f"0x{rid:032x}", rid,
                                     Outcome.RESTING))  # fmt: skip
    for reason, n in spec.rejections.items():
        for _ in range(n):
            rid += 1
            j.action(ns(2.0), Place(rid, f"0x{rid:032x}", Side.SELL, 101.0, 1.0))
            j.action_result(
                ActionResult(ns(2.05), rid, f"0x{rid:032x}", None, Outcome.REJECTED,
                             RejectReason(reason), f"refused: {reason}")
            )  # fmt: skip
    for t, oid, side, status, px in spec.quotes:
        st = OrderStatus.OPEN if status == "open" else OrderStatus.CANCELED
        j.order_update(
            OrderUpdate(ns(t), oid, None, st, Side(side), px, 1.0 if st is OrderStatus.OPEN
                        else 0.0, 1.0, raw_status=status)
        )  # fmt: skip
    for gate, reason, a, b, mode, emergency in spec.gates:
        j.gate(ns(a), gate, "closed", reason, {"why": reason}, mode=mode, emergency=emergency)
        if b is not None:
            j.gate(ns(b), gate, "opened", mode=mode)
    fills = sorted(spec.fills)
    for i, (t, side, px, sz, fee) in enumerate(fills):
        # received on the engine clock at the venue's stamp, with the second's mid
        j.fill(OwnFill(ns(t), 1000 + i, None, Side(side), px, sz, fee, tid=i + 1),
               recv_ns=ns(t), mid=mid_at(spec, int(t)))  # fmt: skip
    pos = avg = realized = fees = 0.0
    fi = 0
    for second in range(spec.run_s + 1):
        while fi < len(fills) and fills[fi][0] <= second:
            _, side, px, sz, fee = fills[fi]
            signed = side * sz
            if pos == 0 or (pos > 0) == (signed > 0):
                avg = (avg * abs(pos) + px * sz) / (abs(pos) + sz)
            else:
                closed = min(abs(pos), sz)
                realized += closed * (px - avg) * (1 if pos > 0 else -1)
                if sz > abs(pos):
                    avg = px
            pos += signed
            if abs(pos) < 1e-12:
                pos, avg = 0.0, 0.0
            fees += fee
            fi += 1
        mid = mid_at(spec, second)
        j.position(ns(second), pos, "local", realized=realized,
                   unrealized=pos * (mid - avg), fees=fees, mid=mid)  # fmt: skip
    if spec.warmup_extras is not None:
        j.estimates(ns(spec.run_s), Estimates(warmed_up=True, extras=dict(spec.warmup_extras)))
    j.set_meta("first_event_ns", str(T0))
    j.set_meta("last_event_ns", str(ns(spec.run_s)))
    j.close()
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``mmkit --no-entrypoints journal ARGS`` in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["--no-entrypoints", "journal", *args])
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def summary_row(text: str, label: str) -> str:
    """The one line of ``text`` starting with ``label``, its whitespace collapsed."""
    hits = [ln for ln in text.splitlines() if ln.startswith(label)]
    assert len(hits) == 1, (label, hits)
    return " ".join(hits[0].split())
