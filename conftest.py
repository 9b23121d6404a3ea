"""The property tests' two profiles, for every test of this checkout (``tests/`` and the
bundled plugins' own tests)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Two ways to run the property tests (``MMKIT_HYPOTHESIS``):
#
# * ``gate`` (the default; the README's command and CI): derandomised, so that a run tries
#   the examples the last run tried and a commit's verdict does not depend on luck; no
#   example database. A change to a test or a strategy changes its examples.
# * ``explore`` (``nox -s explore``): fresh random examples every run, failures kept in
#   the example database (``.hypothesis/``) and replayed first next time. Run it to look
#   for what the gate's fixed examples miss; pin what it finds with ``@example``.
#
# Both print the blob that reproduces a failure. No wall-clock limit on examples in either:
# numba compiles a kernel on its first call, and CI machines are shared and noisy (timings
# are measured in benchmarks/, never asserted).
HYPOTHESIS_PROFILES = ("gate", "explore")
settings.register_profile("gate", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, derandomize=False, print_blob=True)


def pytest_configure(config: pytest.Config) -> None:
    profile = os.environ.get("MMKIT_HYPOTHESIS", "gate")
    if profile not in HYPOTHESIS_PROFILES:
        raise pytest.UsageError(
            f"MMKIT_HYPOTHESIS={profile!r}: expected one of {', '.join(HYPOTHESIS_PROFILES)}"
        )
    settings.load_profile(profile)
