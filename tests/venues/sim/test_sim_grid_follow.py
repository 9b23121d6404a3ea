"""The simulated exchange fed event by event (paper trading, an event-cadence backtest, the
emulator) keeps the book of a market that travels beyond its first grid (the first price
+- ``price_range``): the grid widens, with the book, the best levels and our resting orders
carried over at their prices. Before, every level and trade beyond the first grid was
ignored, quietly: the book froze at the grid's edge. A price the grid cannot reach (beyond
the column limit, or on no positive tick) is counted in ``off_grid_rows``.

The oracles are the data (the last snapshot's best levels) and our own orders' sizes: what
rests plus what filled is what was placed, at the price it was placed at."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mmkit.core.actions import Cancel, Place
from mmkit.core.events import OwnFill
from mmkit.core.types import Side
from mmkit.venues.sim import venue as venue_mod
from mmkit.venues.sim.venue import SimVenue

from ._simkit import MS, book, cl, delta, step, trade, venue


def _walk(v: SimVenue, start: float, end: float, n: int, t0: int = 0) -> tuple[list[Any], int]:
    """Feed ``n`` snapshots of a book whose bid goes geometrically from ``start`` to ``end``
    (a second bid a tick below, the ask a tick above), each followed by a delta that adds a
    level two ticks below the bid and a trade at the bid; the events drained."""
    out: list[Any] = []
    ts = t0
    for k in range(n):
        bid = float(round(start * (end / start) ** (k / max(n - 1, 1))))
        ts += MS
        out += step(v, ts, market=book(ts, [(bid, 1.0), (bid - 1.0, 2.0)], [(bid + 1.0, 1.0)]))
        ts += MS
        out += step(v, ts, market=delta(ts, Side.BUY, bid - 2.0, 3.0))
        ts += MS
        out += step(v, ts, market=trade(ts, Side.SELL, bid, 0.25))
    return out, ts


def _sizes_add_up(v: SimVenue, placed: dict[str, tuple[float, float]], evs: list[Any]) -> None:
    filled: dict[str, float] = {}
    for e in evs:
        if isinstance(e, OwnFill) and e.cloid is not None:
            filled[e.cloid] = filled.get(e.cloid, 0.0) + e.sz
            assert e.px == placed[e.cloid][0], "a fill away from the order's price"
    resting = {o.cloid: o for o in v.open_orders()}
    for c, (px, sz) in placed.items():
        o = resting.get(c)
        rest = o.sz if o is not None else 0.0
        if o is not None:
            assert o.px == px, f"order {c} rests at {o.px}, placed at {px}"
        assert abs(rest + filled.get(c, 0.0) - sz) < 1e-9, (c, rest, filled.get(c), sz)


@given(st.integers(20, 5000), st.integers(20, 5000), st.integers(2, 25))
@example(100, 200, 10)  # doubles: beyond the first grid (50 .. 150)
@example(3000, 25, 8)  # falls below it: the grid grows downwards, orders' columns move
def test_a_fed_market_keeps_its_book_and_our_orders_however_far_it_travels(
    start: int, end: int, n: int
) -> None:
    v = venue()
    s = float(start)
    evs = step(v, MS // 2, market=book(MS // 2, [(s, 1.0)], [(s + 1.0, 1.0)]))
    placed = {cl(1): (s - 3.0, 0.5), cl(2): (s + 4.0, 0.5)}
    acts = [
        Place(1, cl(1), Side.BUY, *placed[cl(1)]),
        Place(2, cl(2), Side.SELL, *placed[cl(2)]),
    ]
    evs += step(v, MS // 2, actions=acts)
    more, ts = _walk(v, s, float(end), n)
    evs += more
    assert v.best_bid == float(round(float(end)))
    assert v.best_ask == float(round(float(end))) + 1.0
    assert v.off_grid_rows == 0
    _sizes_add_up(v, placed, evs)
    # an order placed where the market went rests there, and trades there fill it
    e = float(round(float(end)))
    evs = step(v, ts + MS, actions=[Place(3, cl(3), Side.BUY, e - 1.0, 0.5)])
    assert any(o.cloid == cl(3) and o.px == e - 1.0 for o in v.open_orders()), evs
    evs += step(v, ts + 2 * MS, market=trade(ts + 2 * MS, Side.SELL, e - 1.0, 10.0))
    assert sum(f.sz for f in evs if isinstance(f, OwnFill) and f.cloid == cl(3)) > 0.0


_OP = st.one_of(
    st.tuples(st.just("move"), st.floats(0.3, 3.0)),  # the market jumps by this factor
    st.tuples(st.just("trade"), st.sampled_from([Side.BUY, Side.SELL]), st.integers(0, 4)),
    st.tuples(
        st.just("place"),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(0, 6),
        st.sampled_from([0.25, 0.5, 1.5]),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
)


@given(st.integers(50, 2000), st.lists(_OP, min_size=1, max_size=40))
@example(100, [("place", Side.SELL, 3, 0.5), ("move", 0.4), ("move", 3.0), ("trade", Side.BUY, 0)])
# the market near its first grid's edge (60 +- 50 %: up to 90), our ask 5 ticks above it:
# it was refused as too far from the market
@example(60, [("move", 1.45), ("place", Side.SELL, 4, 0.25)])
def test_widening_is_invisible_next_to_a_grid_that_covered_everything(
    start: int, ops: list[tuple[Any, ...]]
) -> None:
    """Differential: an exchange whose grid widens as the market travels and one whose first
    grid already covered every price it will see (``price_range`` 300), fed the same market
    and the same orders (within 7 ticks of it, 14 % at the lowest price: the grid holds
    half of ``price_range`` around the market), answer with the same events, in the same
    order, and end with the same book, orders, position and cash."""
    a, b = venue(), venue(price_range=300.0)
    bid = float(start)
    ts = MS
    n_cl = 0
    out: list[list[Any]] = [[], []]

    def feed(market: Any = None, actions: Any = ()) -> None:
        for v, o in zip((a, b), out, strict=True):
            o += step(v, ts, market=market, actions=actions)

    feed(book(ts, [(bid, 1.0), (bid - 1.0, 2.0)], [(bid + 1.0, 1.0)]))
    for op in ops:
        ts += MS
        if op[0] == "move":
            bid = float(min(max(round(bid * op[1]), 50), 5000))
            feed(book(ts, [(bid, 1.0), (bid - 1.0, 2.0)], [(bid + 1.0, 1.0), (bid + 2.0, 1.0)]))
        elif op[0] == "trade":
            px = bid - op[2] if op[1] is Side.SELL else bid + 1.0 + op[2]
            feed(trade(ts, op[1], px, 0.75))
        elif op[0] == "place":
            n_cl += 1
            px = bid - op[2] if op[1] is Side.BUY else bid + 1.0 + op[2]
            feed(actions=[Place(n_cl, cl(n_cl), op[1], px, op[3])])
        else:
            feed(actions=[Cancel(1000 + op[1], cl(op[1] % max(n_cl, 1) + 1), None)])
    assert out[0] == out[1]
    assert a.open_orders() == b.open_orders()
    assert (a.best_bid, a.best_ask, a.position, a.cash) == (
        b.best_bid,
        b.best_ask,
        b.position,
        b.cash,
    )
    assert a.book_snapshot(ts).bid_px.tolist() == b.book_snapshot(ts).bid_px.tolist()
    assert a.off_grid_rows == b.off_grid_rows == 0


def test_a_resting_order_fills_at_its_price_after_the_grid_grew_below_it() -> None:
    """The grid grows downwards (every column shifts): our ask, placed first, must still be
    the level a trade at its price reaches."""
    v = venue()
    step(v, MS, market=book(MS, [(100.0, 1.0)], [(101.0, 1.0)]))
    step(v, MS, actions=[Place(1, cl(1), Side.SELL, 140.0, 0.5)])
    step(v, 2 * MS, market=book(2 * MS, [(40.0, 1.0)], [(41.0, 1.0)]))  # below 50: widens
    assert v.grid_widenings == 1 and v.best_bid == 40.0 and v.best_ask == 41.0
    (o,) = v.open_orders()
    assert o.px == 140.0 and o.sz == 0.5
    # the market comes back up to our ask: a trade at 140 fills it there
    step(v, 3 * MS, market=book(3 * MS, [(139.0, 1.0)], [(140.0, 1.0)]))
    fills = step(v, 4 * MS, market=trade(4 * MS, Side.BUY, 140.0, 2.0))
    assert [(f.px, f.sz) for f in fills if isinstance(f, OwnFill)] == [(140.0, 0.5)]


def test_the_grid_fixed_at_the_start_freezes_a_doubled_market(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The code before: a fed market's grid never moved, and the book of a market that
    doubles froze at the old grid's edge (the test above fails on it)."""
    monkeypatch.setattr(SimVenue, "_cover", lambda self, st, px: st)
    v = venue()
    _walk(v, 100.0, 200.0, 10)
    assert v.best_bid != 200.0


def test_a_price_the_grid_cannot_reach_is_counted_and_the_book_stays_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond the column limit (10,000 here) a stray trade and a stray level far off are
    counted and ignored; the book is the data's."""
    monkeypatch.setattr(venue_mod, "AUTO_GRID_MAX", 10_000)
    v = venue()
    _walk(v, 100.0, 110.0, 4)
    step(v, 20 * MS, market=trade(20 * MS, Side.BUY, 90_000.0, 1.0))
    step(v, 21 * MS, market=delta(21 * MS, Side.SELL, 95_000.0, 1.0))
    assert v.off_grid_rows == 2 and v.grid_widenings == 0
    assert v.best_bid == 110.0 and v.best_ask == 111.0
    # a move within the limit still widens
    step(v, 22 * MS, market=book(22 * MS, [(170.0, 1.0)], [(171.0, 1.0)]))
    assert v.grid_widenings == 1 and v.best_bid == 170.0 and v.off_grid_rows == 2


@pytest.mark.slow
def test_mmkit_trade_says_when_market_rows_were_ignored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """``mmkit trade`` (paper) on its embedded market: nothing ignored, nothing said; with a
    grid limit of 50 columns and a first grid of +-0.01 %, the summary says how many rows
    were ignored and what to change, and the session still runs to its end."""
    from tests.cli.helpers import run_cli

    base = ["trade", "--duration", "90", "--speed", "0", "--journal-dir", str(tmp_path)]
    base += ["--set", "estimators.warmup.max_warmup_secs=20"]
    code, out, err = run_cli(base, capsys)
    assert code == 0 and "OK: quoted" in out, out + err
    assert "market rows ignored" not in out
    monkeypatch.setattr(venue_mod, "AUTO_GRID_MAX", 50)
    code, out, err = run_cli([*base, "--set", "venues.sim.price_range=1e-4"], capsys)
    line = next((ln for ln in out.splitlines() if "market rows ignored" in ln), None)
    assert line is not None, out + err
    assert int(line.split(" ", 1)[0].replace(",", "")) > 0
    assert "set venues.sim.tick coarser" in line
    assert "stopped by" in out
