"""Every numeric key of the default set's configuration, set to a hostile value (huge, tiny,
zero, negative, NaN), through a short paper run: the value is refused as a configuration
error (exit 2) or the run ends normally (0, or 3 when it trips the kill switch it was
configured into); never an internal error, a traceback or a run that does not end. Found:
the synthetic feed's step_ms / snapshot_interval_s / A asking numpy for arrays of
impossible sizes, and the kill switch's rejection window overflowing its clock."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mmkit.cli.main import main
from mmkit.config.loader import load_settings
from mmkit.data.synthetic import MAX_CHUNK_ROWS, _chunk_rows, resolve
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost


def _numeric_keys() -> list[tuple[str, bool]]:
    """(dotted key, is an int) of the core sections and the configured components."""
    host = PluginHost(load_entrypoints=False)
    full = load_settings(None, host.registry, env={}).merged_full()
    comps = full["components"]
    used = {f"estimators.{n}" for n in comps["estimators"]} | {f"gates.{n}" for n in comps["gates"]}
    used |= {f"quoters.{comps['quoter']}", f"executors.{comps['executor']}"}
    used |= {f"venues.{comps['venue']}", f"feeds.{comps['feed']}"}
    out: list[tuple[str, bool]] = []

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            p = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                walk(v, p)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                top = p.split(".")[0]
                if (
                    top in ("instrument", "risk", "engine", "trade")
                    or ".".join(p.split(".")[:2]) in used
                ):
                    out.append((p, isinstance(v, int)))

    walk(full, "")
    return out


KEYS = _numeric_keys()
FLOATS = ["1e300", "-1e300", "1e-300", "0", "-1", "nan", "inf"]
INTS = [str(2**63), str(-(2**63)), "0", "-1", str(2**31)]


@st.composite
def _hostile(draw: st.DrawFn) -> tuple[str, str]:
    key, is_int = draw(st.sampled_from(KEYS))
    return key, draw(st.sampled_from(INTS if is_int else FLOATS))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile())
@example(("feeds.synthetic.step_ms", "1e-300"))  # the three found before the bounds
@example(("feeds.synthetic.A", "1e300"))
@example(("gates.kill_switch.rejection_window_s", "1e300"))
@example(("trade.duration_s", "1e300"))
def test_a_hostile_value_is_refused_or_runs(kv: tuple[str, str]) -> None:
    key, value = kv
    err = io.StringIO()
    code: object = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(
                [
                    "--no-entrypoints",
                    "trade",
                    "--duration",
                    "5",
                    "--speed",
                    "0",
                    "--no-journal",
                    "--set",
                    f"{key}={value}",
                ]
            )
        except SystemExit as exc:
            code = exc.code
    text = err.getvalue()
    assert code in (None, 0, 2, 3), (key, value, text[-2000:])
    assert "internal error" not in text and "Traceback" not in text, (key, value, text[-2000:])


def test_the_key_list_covers_the_default_set() -> None:
    names = {k for k, _ in KEYS}
    for k in ("trade.duration_s", "feeds.synthetic.step_ms", "gates.kill_switch.max_stale_s"):
        assert k in names


_POS = st.floats(1e-300, 1e300, allow_nan=False)


@given(step_ms=_POS, snap=_POS, a=_POS, chunk_s=_POS, levels=st.integers(1, 200))
@example(step_ms=1.0, snap=1.234568e-07, a=1.0, chunk_s=9.2472981768793e299, levels=12)  # found
def test_a_synthetic_chunk_fits_or_the_params_are_refused(
    step_ms: float, snap: float, a: float, chunk_s: float, levels: int
) -> None:
    host = PluginHost(load_entrypoints=False)
    sets = [
        f"feeds.synthetic.step_ms={step_ms!r}",
        f"feeds.synthetic.snapshot_interval_s={snap!r}",
        f"feeds.synthetic.A={a!r}",
        f"feeds.synthetic.chunk_s={chunk_s!r}",
        f"feeds.synthetic.levels={levels}",
    ]
    try:
        s = load_settings(None, host.registry, env={}, sets=sets)
        p = resolve(s.component_params("feed", "synthetic"))
    except ConfigError as exc:
        assert any("synthetic" in m for m in exc.problems), exc.problems
        return
    steps = max(1, round(p.chunk_s / (p.step_ms / 1000.0)))
    assert _chunk_rows(p, steps) <= MAX_CHUNK_ROWS  # what generate_chunks allocates at most
