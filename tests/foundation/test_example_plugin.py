"""The example plugin installs as a real distribution and is found through its entry point.

The package is installed into a temporary ``--target`` directory (offline, no build
isolation), and a subprocess with that directory on ``PYTHONPATH`` sees it in
``mmkit plugins`` and runs it inside an engine. The developer's environment is not touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "mmkit-example"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(PLUGIN),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return target


def env_with(target: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKIT")}
    env["PYTHONPATH"] = os.pathsep.join([str(target), str(REPO)])
    return env


def test_mmkit_plugins_lists_it_with_distribution(installed: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "mmkit", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env_with(installed),
        timeout=120,
    )
    assert r.returncode in (0, 1), r.stderr
    plugins = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
    ex = plugins["example"]
    assert ex["source"] == "entrypoint"
    assert ex["distribution"] == "mmkit-example" and ex["version"] == "0.1.0"
    assert {"kind": "gate", "name": "max_spread"} in ex["components"]
    assert ex["hooks"] == ["mmkit_on_gate_closed", "register_gates"]


def test_it_runs_in_an_engine(installed: Path) -> None:
    script = textwrap.dedent("""
        import numpy as np
        from mmkit.assembly import build_engine
        from mmkit.config.loader import load_settings
        from mmkit.core.events import BookSnapshot
        from mmkit.plugin_manager import PluginHost
        from tests.foundation.toy_plugin import TOY_SETS

        host = PluginHost(extra_modules=["tests.foundation.toy_plugin"])
        sets = [s for s in TOY_SETS if not s.startswith("components.gates")]
        sets += ["components.gates=['max_spread']", "gates.max_spread.max_spread_bps=10"]
        eng = build_engine(load_settings(None, host.registry, env={}, sets=sets), host)
        a = lambda v: np.asarray([v], dtype=np.float64)
        eng.on_event(BookSnapshot(1, a(99990.0), a(1.0), a(100010.0), a(1.0)), 1)  # 2 bps
        print("closed-after-tight:", sorted(eng.closed))
        eng.on_event(BookSnapshot(2, a(99000.0), a(1.0), a(101000.0), a(1.0)), 2)  # 200 bps
        print("closed-after-wide:", {k: v.describe() for k, v in eng.closed.items()})
    """)
    r = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env_with(installed),
        timeout=120,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    assert "closed-after-tight: []" in r.stdout
    assert (
        "closed-after-wide: {'max_spread': 'WideSpread {spread_bps: 200.0, limit_bps: 10.0}'}"
        in r.stdout
    )
