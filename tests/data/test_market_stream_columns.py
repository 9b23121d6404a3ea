"""A backtest's market is read from the columns the conversion uses only: the same market as
when every column of the store is read, for any store, whole or in chunks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.data.helpers import market_records

from mmkit.data import market_stream
from mmkit.data.market_stream import MarketStream, load_market, open_records
from mmkit.data.schema import COLUMN_NAMES, RecordBuilder, RecordKind
from mmkit.data.store import StoreMeta, write_store


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rec=market_records(), batch=st.integers(1, 64))
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
