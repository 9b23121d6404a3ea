"""What a cold first run compiles: each kernel once, no costly numba library code the
kernels can do without, and nothing left for the run after the warm-up workers.

Compile *times* are figures (``benchmarks/first_run.py``), never asserted; these tests pin
the causes of the cuts instead, from numba's own compile events, in fresh processes on an
empty cache (``NUMBA_CACHE_DIR``) so that nothing comes from an earlier run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: records numba's compile events while a snippet runs; prints one JSON line per compile
_RECORDER = """
import json, sys
from numba.core import event
stack = []
rows = []
class R(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        stack.append(f.__module__ + ":" + f.__qualname__)
    def on_end(self, ev):
        name = stack.pop()
        rows.append({"name": name, "depth": len(stack), "sig": str(ev.data.get("args"))})
event.register("numba:compile", R())
"""

_COMPILE_GROUPS = """
import os
from pathlib import Path
from mmkit.runtime import precompile
precompile.warm_in_process(precompile.GROUPS, Path(os.environ["NUMBA_CACHE_DIR"]), stamp=True)
for r in rows:
    print(json.dumps(r))
"""

_DEFAULT_TRADE = """
from mmkit.cli.main import main
try:
    main(["--no-entrypoints", "trade", "--duration", "60", "--speed", "0", "--no-journal",
          "--no-dashboard"])
except SystemExit as e:
    assert e.code in (None, 0, 3), e.code
for r in rows:
    print(json.dumps(r))
"""


def _run(code: str, cache: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "MMKIT_LOAD_ENTRYPOINTS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", _RECORDER + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(x) for x in out.stdout.splitlines() if x.startswith('{"name"')]


@pytest.fixture(scope="module")
def cold_compile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """Both precompile groups compiled in one process on an empty cache (then stamped)."""
    cache = tmp_path_factory.mktemp("numba-cache")
    return cache, _run(_COMPILE_GROUPS, cache)


@pytest.mark.slow
def test_every_mmkit_kernel_compiles_once(cold_compile: tuple[Path, list[dict[str, Any]]]) -> None:
    """A kernel called with constant arguments from another kernel used to be compiled again
    for every combination of constants (``result_record`` nine times, ``new_record`` seven);
    kernel-only helpers are now compiled once per argument types."""
    _, rows = cold_compile
    own = [r for r in rows if r["name"].startswith("mmkit.")]
    assert len(own) >= 10  # the groups did compile the venue, market and estimator kernels
    seen: dict[str, list[str]] = {}
    for r in own:
        seen.setdefault(r["name"], []).append(r["sig"])
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert not twice, json.dumps(twice, indent=1)[:3000]
    literal = [r for r in own if "Literal[" in r["sig"]]
    assert not literal, literal[:3]


@pytest.mark.slow
def test_no_costly_library_code_the_kernels_can_do_without(
    cold_compile: tuple[Path, list[dict[str, Any]]],
) -> None:
    """numba's quicksort (from ``np.argsort``) and the shape-mismatch error formatting of an
    array-to-array assignment (integer-to-string code) cost seconds of compile."""
    _, rows = cold_compile
    names = {r["name"] for r in rows}
    assert not [n for n in names if "quicksort" in n]
    assert not [n for n in names if "raise_with_shape_context" in n or "integer_str" in n]


@pytest.mark.slow
def test_the_default_trade_compiles_nothing_after_the_warm_up(
    cold_compile: tuple[Path, list[dict[str, Any]]],
) -> None:
    """The warm-up's groups cover every kernel a default ``mmkit trade`` calls, with the
    run's own signatures: the run itself only loads them from the cache (so the progress
    display covers the whole compile and the screen is never silently busy)."""
    cache, first = cold_compile
    assert first  # the groups compiled something into this cache
    rows = _run(_DEFAULT_TRADE, cache)
    own = sorted({r["name"] for r in rows if r["depth"] == 0 and r["name"].startswith("mmkit.")})
    assert own == []
