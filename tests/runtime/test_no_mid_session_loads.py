"""``mmkit trade`` loads every deferred kernel (mmkit.deferred_kernels) once its engine is
built, before the first event: no kernel is loaded from numba's cache mid-session, where
the first quote after warm-up once waited ~10 ms for the GLFT quoter's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmkit import deferred_kernels
from mmkit.config.loader import load_settings
from mmkit.engine import Engine
from mmkit.plugin_manager import PluginHost
from mmkit.runtime import paper_run


def test_a_paper_session_loads_its_deferred_kernels_before_its_first_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[str] = []
    real_all = deferred_kernels.compile_deferred
    real_one = deferred_kernels._DeferredDispatcher._compile_deferred
    real_event = Engine.on_event

    def load_all() -> int:
        log.append("load all")
        return real_all()

    def load_one(self: Any) -> None:
        log.append("load one")
        real_one(self)

    def on_event(self: Engine, event: Any, now_ns: int) -> Any:
        if not log or log[-1] != "event":
            log.append("event")
        return real_event(self, event, now_ns)

    monkeypatch.setattr(paper_run, "compile_deferred", load_all)
    monkeypatch.setattr(deferred_kernels._DeferredDispatcher, "_compile_deferred", load_one)
    monkeypatch.setattr(Engine, "on_event", on_event)
    host = PluginHost(load_entrypoints=False)
    s = load_settings(
        None,
        host.registry,
        env={},
        sets=["components.feed='synthetic'", "estimators.warmup.max_warmup_secs=20"],
    )
    out = paper_run.run_paper(
        s, host, journal_dir=tmp_path, speed=None, duration_s=60.0, dashboard=False
    )
    assert out.session.engine.portfolio.fill_count > 0  # it quoted (and filled)
    first_event = log.index("event")
    assert "load one" not in log[first_event:], log  # nothing loaded mid-session
    assert "load all" in log[:first_event], log  # the session loaded them up front
