from __future__ import annotations

from pathlib import Path

import pytest

from mmkit.core.types import Instrument
from mmkit.data.params import SyntheticParams
from mmkit.data.store import write_store
from mmkit.data.synthetic import generate_chunks, resolve, store_meta


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten simulated minutes of the synthetic market (tick 0.1) as an event store."""
    p = resolve(
        SyntheticParams(
            duration_s=600.0,
            seed=3,
            tick=0.1,
            lot=0.001,
            A=3.0,
            k=3000.0,
            # the market these tests were written on (the defaults before the synthetic
            # market was recalibrated to the capture's volatility): the new informed flow
            # (depth impact 2.6, made for A = 0.35 and k = 20000) on 6 orders/s reaching
            # 3 bp would make a ~27 bp/sqrt(s) mid
            sigma_regimes=[5e-5, 1.5e-4],
            informed_frac=0.65,
            informed_depth_impact=1.0,
        ),
        Instrument(),
        3,
    )
    path = tmp_path_factory.mktemp("bt") / "syn.parquet"
    write_store(path, generate_chunks(p), store_meta(p))
    return path
