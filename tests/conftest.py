"""Suite-wide fixtures.

Every test starts with a fresh process-wide plugin host built with entry-point loading as the
environment says (CI installs the example plugins, so they are visible unless a test turns
entry points off), and with no ``MMKIT__*`` variables leaking in from the developer's shell.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from mmkit.plugin_manager import reset_host

# No wall-clock limit on property-test examples: numba compiles a kernel on its first call,
# and CI machines are shared and noisy (timings are measured in benchmarks/, never asserted)
settings.register_profile("mmkit", deadline=None)
settings.load_profile("mmkit")

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
