"""A cheap fingerprint of mmkit's own source tree.

Two caches key on "the code that produced this": the kernel warm-up's stamps
(:mod:`mmkit.runtime.precompile`) and the converted-market cache
(:mod:`mmkit.data.market_cache`). Hashing every source costs ~20 ms; the fingerprint below
hashes what ``stat`` says of each file instead (~1 ms), so any file added, removed,
resized or touched changes it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def source_root() -> Path:
    """The mmkit package directory."""
    return Path(__file__).resolve().parent


def tree_fingerprint(root: Path) -> str:
    """SHA-256 over the relative path, size and modification time (ns) of every ``.py``
    file under ``root`` (``__pycache__`` skipped): what numba's own cache index keys on, a
    few hundred ``stat`` calls (~1 ms) where reading the sources costs ~20 ms."""
    rows: list[str] = []
    base = os.fspath(root)
    cut = len(base) + 1  # an entry's path relative to root: the text after "root/"
    stack = [base]
    slash = os.sep != "/"
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if e.name != "__pycache__":
                            stack.append(e.path)
                    elif e.name.endswith(".py"):
                        st = e.stat()
                        rel = e.path[cut:]
                        if slash:
                            rel = rel.replace(os.sep, "/")
                        rows.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}")
        except OSError:
            rows.append(f"{Path(d)}\0unreadable")
    return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()
