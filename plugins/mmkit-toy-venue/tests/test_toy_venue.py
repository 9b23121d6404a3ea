"""The toy venue plugin: found through its entry point, its matching rules (with properties
that a broken matcher fails), and mmkit's own runners using it from the command line."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmkit_toy_venue import ToyVenueParams
from mmkit_toy_venue.venue import ToyVenue

from mmkit.components import Venue
from mmkit.core.actions import Cancel, CancelAll, Modify, Place, QueryOrder, SyncState, make_cloid
from mmkit.core.events import (
    BBO,
    ActionResult,
    Event,
    OrderStatus,
    OrderUpdate,
    OwnFill,
    PositionSnapshot,
    Trade,
    TradeBatch,
)
from mmkit.core.outcomes import Outcome, RejectReason
from mmkit.core.types import Instrument, Side, Tif
from mmkit.plugin_manager import get_host, reset_host
from mmkit.registry import BuildContext, RiskLimits, VenueSide
from mmkit.venues.hyperliquid.errors import reason_of

SRC = Path(__file__).resolve().parents[1] / "src" / "mmkit_toy_venue"
INST = Instrument("BTC", 0, sz_decimals=3, max_decimals=6, tick=0.1, min_notional=10.0)
PUBLIC = {
    "mmkit",
    "mmkit.components",
    "mmkit.core.actions",
    "mmkit.core.events",
    "mmkit.core.outcomes",
    "mmkit.core.types",
    "mmkit.hookspecs",
    "mmkit.params",
    "mmkit.registry",
    "mmkit.venues.hyperliquid.errors",
}


@pytest.fixture(autouse=True)
def _fresh_host() -> None:
    reset_host(None)


def toy(**kw: float | bool) -> ToyVenue:
    return ToyVenue(ToyVenueParams(**kw), INST)  # type: ignore[arg-type]


def book(v: Venue, bid: float = 100.0, ask: float = 100.2, sz: float = 1.0, t: int = 0) -> None:
    v.on_market(BBO(t, bid, sz, ask, sz, local_ts=t), t)


def results(events: list[Event]) -> list[ActionResult]:
    return [e for e in events if isinstance(e, ActionResult)]


# -- registration ------------------------------------------------------------------------


def test_found_through_its_entry_point_as_a_simulated_venue() -> None:
    spec = get_host().registry.get("venue", "toy")
    assert spec.distribution == "mmkit-toy-venue"
    assert spec.sides == frozenset({VenueSide.SIMULATED})
    assert spec.params is ToyVenueParams
    v = spec.build(BuildContext("venue", "toy", ToyVenueParams(latency_ms=5.0), INST, RiskLimits()))
    assert isinstance(v, Venue) and isinstance(v, ToyVenue) and v.latency_ns == 5_000_000


def test_imports_only_public_mmkit_api() -> None:
    for path in SRC.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mmkit"):
                if node.module.startswith("mmkit_toy_venue"):
                    continue
                assert node.module in PUBLIC, f"{path.name} imports {node.module}"


# -- matching rules ----------------------------------------------------------------------


def test_post_only_crossing_is_rejected_with_hyperliquids_message() -> None:
    v = toy()
    book(v)
    v.submit([Place(1, make_cloid(1), Side.BUY, 100.2, 0.5, Tif.ALO)], 10)
    (r,) = results(v.drain(10))
    assert r.outcome is Outcome.REJECTED and r.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert r.message == "Post only order would have immediately matched, bbo was 100@100.2."
    assert reason_of(r.message) is RejectReason.POST_ONLY_WOULD_CROSS  # the client agrees


def test_answers_wait_for_the_latency() -> None:
    v = toy(latency_ms=50.0)
    book(v)
    v.submit([Place(1, make_cloid(1), Side.BUY, 100.0, 0.5)], 1_000)
    assert v.drain(1_000 + 49_999_999) == []
    evs = v.drain(1_000 + 50_000_000)
    assert [type(e) for e in evs] == [ActionResult, OrderUpdate]
    assert evs[0].local_ts == 1_000 + 50_000_000 and evs[0].ts == 1_000


def test_resting_order_fills_only_through_its_price_up_to_the_trade_size() -> None:
    v = toy(maker_fee=0.0001)
    book(v)
    v.submit([Place(1, make_cloid(1), Side.BUY, 100.0, 0.5)], 0)
    v.drain(0)
    v.on_market(Trade(1, 100.0, 2.0, Side.SELL), 1)  # at the price: queue unknown, no fill
    assert v.drain(1) == []
    v.on_market(Trade(2, 99.9, 0.2, Side.SELL), 2)  # through: 0.2 of 0.5
    (fill,) = v.drain(2)
    assert isinstance(fill, OwnFill) and fill.px == 100.0 and fill.sz == pytest.approx(0.2)
    assert fill.fee == pytest.approx(100.0 * 0.2 * 0.0001) and not fill.crossed
    v.on_market(Trade(3, 99.8, 5.0, Side.SELL), 3)  # the rest, then the order is done
    evs = v.drain(3)
    assert isinstance(evs[0], OwnFill) and evs[0].sz == pytest.approx(0.3)
    assert isinstance(evs[1], OrderUpdate) and evs[1].status is OrderStatus.FILLED
    assert v.position == pytest.approx(0.5) and v.entry_px == pytest.approx(100.0)
    touch = toy(fill_at_touch=True)
    book(touch)
    touch.submit([Place(1, make_cloid(1), Side.SELL, 100.2, 0.5)], 0)
    touch.drain(0)
    touch.on_market(Trade(1, 100.2, 0.1, Side.BUY), 1)
    assert [type(e) for e in touch.drain(1)] == [OwnFill]


def test_modify_cancel_query_sync_and_cancel_all() -> None:
    v = toy()
    book(v)
    c = make_cloid(7)
    v.submit([Place(1, c, Side.SELL, 100.5, 0.5)], 0)
    oid = results(v.drain(0))[0].oid
    assert oid is not None
    v.submit([Modify(2, c, oid, Side.SELL, 100.1, 0.5)], 1)  # crosses the bid? no: rests
    r = results(v.drain(1))[0]
    assert r.outcome is Outcome.RESTING and r.oid != oid and r.cloid == c
    v.submit([Modify(3, c, r.oid, Side.SELL, 100.0, 0.5)], 2)  # would cross the 100 bid
    r3 = results(v.drain(2))[0]
    assert r3.reason is RejectReason.MODIFY_PLACE_FAILED
    assert reason_of(r3.message) is RejectReason.MODIFY_PLACE_FAILED
    v.submit([Cancel(4, c, None)], 3)  # the modify's cancel leg went through: gone
    assert results(v.drain(3))[0].reason is RejectReason.ORDER_GONE
    v.submit([QueryOrder(5, None, oid)], 4)
    (q,) = v.drain(4)
    assert isinstance(q, OrderUpdate) and q.status is OrderStatus.CANCELED
    v.submit(
        [
            Place(6, make_cloid(8), Side.BUY, 99.0, 0.5),
            Place(7, make_cloid(9), Side.BUY, 98.0, 0.5),
        ],
        5,
    )
    v.drain(5)
    v.submit([SyncState(8, "t"), CancelAll(9, "t"), SyncState(10, "t")], 6)
    evs = v.drain(6)
    snaps = [e for e in evs if isinstance(e, PositionSnapshot)]
    assert [len(s.open_orders or ()) for s in snaps] == [2, 0]
    assert results(evs)[0].outcome is Outcome.CANCELED


def test_bad_orders_are_rejected_with_a_reason_never_booked() -> None:
    v = toy()
    book(v)
    v.submit(
        [
            Place(1, make_cloid(1), Side.BUY, math.nan, 0.5),
            Place(2, make_cloid(2), Side.BUY, 99.0, math.inf),
            Place(3, make_cloid(3), Side.BUY, 99.0, 0.01),  # 0.99 USD < 10 USD minimum
            Place(4, make_cloid(4), Side.SELL, 101.0, 0.5, reduce_only=True),  # flat
            Place(5, make_cloid(5), Side.BUY, 99.0, 0.5, Tif.IOC),  # crosses nothing
        ],
        0,
    )
    reasons = [r.reason for r in results(v.drain(0))]
    assert reasons == [
        RejectReason.INVALID_PRICE,
        RejectReason.INVALID_SIZE,
        RejectReason.MIN_NOTIONAL,
        RejectReason.REDUCE_ONLY,
        RejectReason.IOC_NO_MATCH,
    ]
    assert v.orders == {} and v.position == 0.0


# -- properties (and a broken matcher they catch) ----------------------------------------

PRICES = st.sampled_from([99.5, 99.8, 99.9, 100.0, 100.1, 100.2, 100.3, 100.5])
ORDERS = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), PRICES, st.sampled_from([0.1, 0.2, 0.5])),
    min_size=1,
    max_size=6,
)
TRADES = st.lists(
    st.tuples(
        PRICES, st.sampled_from([0.05, 0.1, 0.3, 1.0]), st.sampled_from([Side.BUY, Side.SELL])
    ),
    max_size=12,
)


def run_and_check(
    venue: ToyVenue,
    orders: list[tuple[Side, float, float]],
    trades: list[tuple[float, float, Side]],
) -> None:
    """Drive ``venue`` and assert the contract's invariants:

    * every Place gets exactly one ActionResult with its request id;
    * a fill never exceeds the trade that caused it, is at the order's own price, and only
      where the trade printed through that price;
    * no order fills beyond its size; the position is the sum of the signed fills.
    """
    book(venue, 100.0, 100.2)
    places = [
        Place(i + 1, make_cloid(i + 1), side, px, sz) for i, (side, px, sz) in enumerate(orders)
    ]
    venue.submit(places, 0)
    evs = venue.drain(0)
    got = sorted(r.request_id for r in results(evs))
    assert got == [p.request_id for p in places]
    price_of = {r.oid: p for r, p in zip(results(evs), places, strict=True) if r.oid is not None}
    filled: dict[int, float] = {}
    position = 0.0
    prints = [Trade(i + 1, px, sz, side) for i, (px, sz, side) in enumerate(trades)]
    rows = TradeBatch.of(prints).trades() if prints else []
    for (trade, t), (px, sz, _side) in zip(rows, trades, strict=True):
        venue.on_market(trade, t)
        fills = [e for e in venue.drain(t) if isinstance(e, OwnFill)]
        assert sum(f.sz for f in fills) <= sz + 1e-12
        for f in fills:
            place = price_of[f.oid]
            assert f.px == place.px
            assert (px < f.px) if f.side is Side.BUY else (px > f.px)
            filled[f.oid] = filled.get(f.oid, 0.0) + f.sz
            assert filled[f.oid] <= place.sz + 1e-12
            position += f.sz * int(f.side)
    assert venue.position == pytest.approx(position, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(ORDERS, TRADES)
def test_fills_respect_trade_sizes_prices_and_order_sizes(
    orders: list[tuple[Side, float, float]], trades: list[tuple[float, float, Side]]
) -> None:
    run_and_check(toy(), orders, trades)


class _FillsAtTouchAndTwice(ToyVenue):
    """A broken matcher: every trade fills each order it touches, twice, ignoring its size."""

    def _trade(self, trade: Trade, now_ns: int) -> None:
        for o in list(self.orders.values()):
            if (trade.px <= o.px) if o.side is Side.BUY else (trade.px >= o.px):
                for _ in range(2):
                    self._fill(o, o.px, o.orig_sz, now_ns, taker=False)


def test_the_properties_catch_a_broken_matcher() -> None:
    orders = [(Side.BUY, 100.0, 0.5)]
    trades = [(99.9, 0.1, Side.SELL)]
    run_and_check(toy(), orders, trades)  # the real one passes this case
    with pytest.raises(AssertionError):
        run_and_check(_FillsAtTouchAndTwice(ToyVenueParams(), INST), orders, trades)


# -- mmkit's runners, from the command line, plugin found through its entry point --------


def _mmkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env["MMKIT_LOAD_ENTRYPOINTS"] = "1"  # the installed distribution, as a user has it
    return subprocess.run(
        [sys.executable, "-m", "mmkit", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


@pytest.mark.slow
def test_backtest_and_paper_trade_run_on_the_toy_venue(tmp_path: Path) -> None:
    store = tmp_path / "syn.parquet"
    r = _mmkit(
        "data",
        "synth",
        str(store),
        "--duration-s",
        "120",
        "--tick",
        "0.1",
        "--lot",
        "0.001",
        "--A",
        "3",
        "--seed",
        "3",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    sets = ["--set", "components.venue='toy'", "--set", "estimators.warmup.max_warmup_secs=10"]
    r = _mmkit("backtest", str(store), "--json", *sets, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout[r.stdout.index("{") :])
    assert rep["fills"] > 0 and rep["orders_sent"] > 0 and rep["market_events"] > 0
    # the same run on another venue differs: the toy venue really was the one matching
    other = _mmkit(
        "backtest",
        str(store),
        "--json",
        "--set",
        "estimators.warmup.max_warmup_secs=10",
        cwd=tmp_path,
    )
    assert other.returncode == 0, other.stderr[-2000:]
    assert json.loads(other.stdout[other.stdout.index("{") :])["fills"] != rep["fills"]
    r = _mmkit(
        "trade",
        "--venue",
        "toy",
        "--speed",
        "0",
        "--duration",
        "60",
        "--no-dashboard",
        "--no-journal",
        "--set",
        "estimators.warmup.max_warmup_secs=10",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"^mode +paper \(toy venue, synthetic feed\)$", r.stdout, re.M)
    assert "Traceback" not in r.stderr
