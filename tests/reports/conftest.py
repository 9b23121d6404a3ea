from __future__ import annotations

from pathlib import Path

import pytest

from mmkit.core.types import Instrument
from mmkit.data.params import SyntheticParams
from mmkit.data.store import write_store
from mmkit.data.synthetic import generate_chunks, resolve, store_meta


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four simulated minutes of the synthetic market (tick 0.1) as an event store."""
    p = resolve(
        SyntheticParams(duration_s=240.0, seed=5, tick=0.1, lot=0.001, A=3.0, k=3000.0),
        Instrument(),
        5,
    )
    path = tmp_path_factory.mktemp("rep") / "syn.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    return path
