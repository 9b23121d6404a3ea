"""The soak's overfill judgement: an excess explained by the cancel-replace race (the old
incarnation filled while the modify was in flight, at most ``RACE_WINDOW_MS`` of venue time
before it arrived) is reported as ``race overfill``; anything else (a fill the client had
seen for longer than the window, an incarnation not replaced by a modify) stays a failure.

Synthetic venue rows in the shapes the emulator serves (``userFillsByTime``,
``historicalOrders``, the order-arrival log); no sockets, no clock."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.testing.soak import (
    RACE_WINDOW_MS,
    SoakResult,
    Venue,
    classify_overfills,
    judge_overfill,
)

CLOID = "0x000000000000000000000000000000aa"
OTHER = "0x000000000000000000000000000000bb"
#: venue ms: the first incarnation's creation, the modify's arrival, the replacement's creation
T_PLACED, T_ARRIVED, T_REPLACED = 1_000_000, 1_010_000, 1_010_003


def _order(oid: int, ts: int, sz: str = "1.0", cloid: str = CLOID) -> dict[str, Any]:
    return {"oid": oid, "cloid": cloid, "origSz": sz, "timestamp": ts}


def _fill(oid: int, t: int, sz: str, tid: int, cloid: str = CLOID) -> dict[str, Any]:
    return {"oid": oid, "cloid": cloid, "sz": sz, "time": t, "tid": tid}


def _modify(targets: list[Any], arrived: int = T_ARRIVED, applied: int = T_REPLACED) -> Any:
    return {
        "type": "batchModify",
        "handled": True,
        "targets": targets,
        "wall_ms": arrived,
        "nonce": arrived - 4,
        "venue_ms": arrived,
        "venue_done_ms": applied,
    }


def _case(
    old_fills: list[tuple[int, str]], *, targets: list[Any] | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """cloid placed as oid 1 (size 1), partly filled at the given (ms before the modify's
    arrival, size); a modify naming ``targets`` (default: oid 1) replaces it with oid 2 at
    the full size 1, which then fills completely."""
    orders = [_order(1, T_PLACED), _order(2, T_REPLACED)]
    fills = [_fill(1, T_ARRIVED - before, sz, i) for i, (before, sz) in enumerate(old_fills)]
    fills.append(_fill(2, T_REPLACED + 500, "1.0", 99))
    return fills, orders, [_modify([1] if targets is None else targets)]


def test_a_fill_in_flight_during_the_modify_is_a_race() -> None:
    fills, orders, arrivals = _case([(12, "0.4")])
    (o,) = classify_overfills(fills, orders, arrivals)
    assert o.key == CLOID and o.race
    assert o.excess == pytest.approx(0.4) and o.explained == pytest.approx(0.4)
    assert o.ratio == pytest.approx(1.4)
    assert "12 ms before the modify to oid 2 arrived" in o.evidence[0]


def test_a_fill_older_than_the_window_is_a_late_fill() -> None:
    fills, orders, arrivals = _case([(RACE_WINDOW_MS + 1, "0.4")])
    (o,) = classify_overfills(fills, orders, arrivals)
    assert not o.race and o.explained == 0.0
    assert "late" in o.evidence[0]


def test_mixed_in_flight_and_late_fills_stay_a_failure() -> None:
    fills, orders, arrivals = _case([(30, "0.3"), (2_000, "0.2")])
    (o,) = classify_overfills(fills, orders, arrivals)
    assert o.excess == pytest.approx(0.5)
    assert o.explained == pytest.approx(0.3)  # only the in-flight part is explained
    assert not o.race


def test_a_modify_of_another_order_explains_nothing() -> None:
    """The deliberately broken link: the replacement was not made by a modify naming the old
    incarnation (here a modify of oid 7), so its fills are not in flight."""
    fills, orders, arrivals = _case([(12, "0.4")], targets=[7])
    (o,) = classify_overfills(fills, orders, arrivals)
    assert not o.race and o.explained == 0.0
    assert "not replaced by a modify" in o.evidence[0]
    # a modify naming the cloid instead of the oid does link
    fills, orders, arrivals = _case([(12, "0.4")], targets=[CLOID])
    assert classify_overfills(fills, orders, arrivals)[0].race


def test_no_overfill_no_levels_and_oid_only_fills_are_never_explained() -> None:
    fills, orders, arrivals = _case([])
    assert classify_overfills(fills, orders, arrivals) == []
    bare = [{"oid": 5, "sz": "2", "time": T_ARRIVED, "tid": 1}]
    (o,) = classify_overfills(bare, [{"oid": 5, "origSz": "1", "timestamp": 0}], arrivals)
    assert o.key == "oid:5" and not o.race


def test_the_soak_result_reports_a_race_and_fails_a_late_fill() -> None:
    race_fills, orders, arrivals = _case([(12, "0.4")])
    late = [_order(11, T_PLACED, cloid=OTHER), _order(12, T_REPLACED, cloid=OTHER)]
    late_fills = [
        _fill(11, T_ARRIVED - 5_000, "0.5", 50, OTHER),
        _fill(12, T_REPLACED + 10, "1.0", 51, OTHER),
    ]
    arrivals.append(_modify([11]))

    def judged(fills: list[Any], orders: list[Any]) -> SoakResult:
        res = SoakResult("synthetic")
        judge_overfill(res, Venue(0.0, 0.0, math.nan, [], fills, orders, arrivals))
        return res

    res = judged(race_fills, orders)
    assert res.race_overfill == pytest.approx(1.4) and res.overfill <= 1.0
    assert not [f for f in res.failures() if "its size" in f]
    assert any("race overfill" in n for n in res.notes)

    res = judged(race_fills + late_fills, orders + late)
    assert res.overfill == pytest.approx(1.5) and res.overfill_cloid == OTHER
    (bad,) = [f for f in res.failures() if "its size" in f]
    assert OTHER in bad and "late" in bad
    assert res.race_overfill == pytest.approx(1.4)


@given(
    before=st.integers(-3, 2 * RACE_WINDOW_MS),
    first=st.integers(1, 90),
    second=st.integers(0, 90),
)
def test_explained_is_exactly_the_old_fills_inside_the_window(
    before: int, first: int, second: int
) -> None:
    """Two fills of the old incarnation: one ``before`` ms ahead of the modify's arrival
    (negative: after it arrived, while it was applied), one well before the window."""
    fills, orders, arrivals = _case([(before, f"{first / 100:g}"), (10_000, f"{second / 100:g}")])
    (o,) = classify_overfills(fills, orders, arrivals)
    inside = before <= RACE_WINDOW_MS
    assert o.explained == pytest.approx(first / 100 if inside else 0.0)
    assert o.explained <= o.excess + 1e-12
    assert o.race == (inside and second == 0)
    # a narrower window never explains more
    (narrow,) = classify_overfills(fills, orders, arrivals, window_ms=max(0, before - 1))
    assert narrow.explained <= o.explained
