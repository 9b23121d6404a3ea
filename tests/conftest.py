"""Suite-wide fixtures.

Every test starts with a fresh process-wide plugin host built with entry-point loading as the
environment says (CI installs the example plugins, so they are visible unless a test turns
entry points off), and with no ``MMKIT__*`` variables leaking in from the developer's shell.
The suite keeps its converted markets in a cache of its own (``MMKIT_CACHE_DIR``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mmkit.plugin_manager import reset_host
from mmkit.runtime import precompile

# the suite's own converted-market cache (mmkit.data.market_cache), never the developer's:
# set before any test runs, so the commands the tests start inherit it
_CACHE = tempfile.mkdtemp(prefix="mmkit-test-cache-")
os.environ["MMKIT_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _fresh_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("MMKIT__") or name in ("MMKIT_PLUGINS", "MMKIT_CONFIG"):
            monkeypatch.delenv(name, raising=False)
    reset_host(None)
    yield
    reset_host(None)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


# -- a synthetic market store (backtests, twins) -------------------------------------------


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten simulated minutes of the synthetic market (tick 0.1) as an event store."""
    from mmkit.core.types import Instrument
    from mmkit.data.params import SyntheticParams
    from mmkit.data.store import write_store
    from mmkit.data.synthetic import generate_chunks, resolve, store_meta

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


# -- the kernel warm-up with every group cold and fake workers ---------------------------

_REAL_POPEN = subprocess.Popen


class _DoneProc:
    """A warm-up worker that has already finished with status ``rc``."""

    def __init__(self, rc: int) -> None:
        self.returncode = rc

    def poll(self) -> int:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode

    def kill(self) -> None:  # pragma: no cover - never past the timeout here
        pass


@pytest.fixture
def cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """An empty stamp directory (every group cold) and fake warm-up workers; returns the
    command lines of the workers started. Other processes start for real."""
    stamp_home = tmp_path / "stamps"
    stamp_home.mkdir()
    monkeypatch.setattr(precompile, "stamp_dir", lambda: stamp_home)
    started: list[list[str]] = []

    def popen(cmd: Any, *a: Any, **kw: Any) -> Any:
        if isinstance(cmd, list) and cmd[1:3] == ["-m", "mmkit.runtime.precompile"]:
            started.append(cmd)
            return _DoneProc(0)
        return _REAL_POPEN(cmd, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", popen)
    return started
