"""How many CPU cores this process may use: the kernel warm-up
(:mod:`mmkit.runtime.precompile`) and the audit's workers (:mod:`mmkit.audit.parallel`)
size themselves by it."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)
