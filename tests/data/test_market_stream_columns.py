"""A backtest's market is read from the columns the conversion uses only: the same market as
when every column of the store is read, for any store, whole or in chunks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.data import market_stream
from mmkit.data.market_stream import MarketStream, load_market, open_records
from mmkit.data.schema import COLUMN_NAMES, RecordBuilder, RecordKind
from mmkit.data.store import StoreMeta, write_store

_PX = st.integers(900, 1100).map(lambda k: k / 10)
_SZ = st.integers(0, 50).map(lambda k: k / 10)
_LEVELS = st.lists(st.tuples(_PX, _SZ), max_size=4)


@st.composite
def _records(draw: st.DrawFn) -> RecordBuilder:
    b = RecordBuilder()
    t = 1_000
    b.add_book(RecordKind.BOOK_SNAPSHOT, t, t + 1, [(99.9, 1.0)], [(100.1, 1.0)], seq=1)
    for k in range(draw(st.integers(1, 40))):
        t += draw(st.integers(0, 5_000_000))
        what = draw(st.sampled_from(["delta", "snap", "trade", "bbo"]))
        if what == "trade":
            side = draw(st.sampled_from([1, -1]))
            b.add(RecordKind.TRADE, t, t + 7, side, draw(_PX), draw(_SZ), seq=k, aux=k)
        elif what == "bbo":
            b.add(RecordKind.BBO, t, t + 3, 1, draw(_PX), draw(_SZ), seq=k)
        else:
            kind = RecordKind.BOOK_DELTA if what == "delta" else RecordKind.BOOK_SNAPSHOT
            b.add_book(kind, t, t + 2, draw(_LEVELS), draw(_LEVELS), seq=k, aux=k)
    return b


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rec=_records(), batch=st.integers(1, 64))
def test_the_market_is_the_one_read_from_every_column(
    tmp_path_factory: pytest.TempPathFactory, rec: RecordBuilder, batch: int
) -> None:
    store = tmp_path_factory.mktemp("s") / "m.parquet"
    write_store(store, [rec.take()], StoreMeta(coin="X", tick=0.1))

    def market(columns: Sequence[str] | None) -> tuple[list[np.ndarray], float]:
        real = market_stream.open_records

        def opened(
            p: Path,
            fmt: str = "auto",
            *,
            batch_rows: int = 0,
            columns: Sequence[str] | None = None,
        ) -> market_stream.RecordSource:
            return real(p, fmt, batch_rows=batch, columns=wanted)  # chunk boundaries anywhere

        wanted = columns
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(market_stream, "open_records", opened)
            m, tick = load_market([store])
        return [getattr(m, c) for c in ("ts", "kind", "side", "px", "sz", "ref")], tick

    few, tick_few = market(MarketStream.COLUMNS)
    every, tick_every = market(None)
    assert tick_few == tick_every
    assert len(few[0]) > 0  # the opening snapshot at least
    for a, b in zip(few, every, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def test_only_the_named_columns_are_read(tmp_path: Path) -> None:
    b = RecordBuilder()
    b.add_book(RecordKind.BOOK_SNAPSHOT, 10, 11, [(100.0, 1.0)], [(101.0, 3.0)], seq=5)
    b.add(RecordKind.TRADE, 30, 31, -1, 100.0, 0.25, seq=77)
    store = tmp_path / "s.parquet"
    write_store(store, [b.take()], StoreMeta(coin="X", tick=0.5))
    chunk = next(open_records(store, columns=MarketStream.COLUMNS).chunks)
    assert tuple(chunk) == MarketStream.COLUMNS
    assert set(MarketStream.COLUMNS) < set(COLUMN_NAMES)
    assert tuple(next(open_records(store).chunks)) == COLUMN_NAMES
