"""Choosing twins: ``[engine] twins`` auto / off / require, and twins that cannot run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from mmkit.assembly import build_engine
from mmkit.config.loader import load_settings
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost
from mmkit.twins import TwinChoice, TwinError, choose, make_twin, summary

REPO = Path(__file__).resolve().parents[2]
BROKEN_SRC = REPO / "plugins" / "mmkit-broken-fixtures" / "src"


def _host() -> PluginHost:
    if importlib.util.find_spec("mmkit_broken_fixtures") is None:
        sys.path.insert(0, str(BROKEN_SRC))
    return PluginHost(load_entrypoints=False, extra_modules=["mmkit_broken_fixtures"])


class _Est:
    def on_event(self, event: Any, now_ns: int) -> None:
        return None

    def estimate(self, out: Any, now_ns: int) -> None:
        return None


class _Twinned(_Est):
    def __init__(self, make: Any) -> None:
        self._make = make

    def twin(self) -> Any:
        return self._make(self)


def test_auto_runs_the_twin_off_runs_the_reference() -> None:
    ref = _Twinned(lambda self: _Est())
    chosen, choice = choose("estimator", "x", ref, "auto")
    assert type(chosen) is _Est and choice == TwinChoice("estimator", "x", True, "compiled twin")
    chosen, choice = choose("estimator", "x", ref, "off")
    assert chosen is ref and not choice.compiled and choice.why == "twins off"


def test_no_twin_runs_python_under_auto_and_is_refused_under_require() -> None:
    ref = _Est()
    chosen, choice = choose("estimator", "plain", ref, "auto")
    assert chosen is ref and choice.why == "no twin"
    with pytest.raises(TwinError, match=r"estimator 'plain'.*no twin.*require"):
        choose("estimator", "plain", ref, "require")


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda self: 1 / 0, "twin() raised ZeroDivisionError"),
        (lambda self: self, "returned the component itself"),
        (lambda self: object(), "without on_event, estimate"),
    ],
)
def test_a_twin_that_cannot_run_falls_back_with_the_reason(make: Any, why: str) -> None:
    ref = _Twinned(make)
    chosen, choice = choose("estimator", "bad", ref, "auto")
    assert chosen is ref and not choice.compiled and why in choice.why
    assert choice.why.startswith("twin failed: ")
    with pytest.raises(TwinError, match=why.replace("(", r"\(").replace(")", r"\)")):
        make_twin("estimator", ref)


def test_summary_names_what_runs_python() -> None:
    choices = [
        TwinChoice("estimator", "kappa", True, "compiled twin"),
        TwinChoice("estimator", "mine", False, "no twin"),
    ]
    assert summary(choices) == "components: 1 of 2 compiled twins; python: estimator mine (no twin)"


def test_build_engine_records_every_choice_and_require_is_a_config_error() -> None:
    host = _host()
    s = load_settings(
        None, host.registry, env={}, sets=['components.estimators=["ewma_vol", "sigma"]']
    )
    eng = build_engine(s, host)
    by_name = {(c.kind, c.name): c for c in eng.twin_choices}
    assert len(eng.twin_choices) == 2 + len(s.components.gates) + 2
    assert by_name[("estimator", "ewma_vol")].compiled
    assert type(eng.components()[0][2]).__name__ == "EwmaVolTwin"
    s_off = load_settings(
        None,
        host.registry,
        env={},
        sets=['components.estimators=["ewma_vol"]', "engine.twins='off'"],
    )
    eng_off = build_engine(s_off, host)
    assert type(eng_off.components()[0][2]).__name__ == "EwmaVol"
    assert not any(c.compiled for c in eng_off.twin_choices)
    # every built-in of the default set has a twin that builds: require is satisfied
    s_req = load_settings(
        None,
        host.registry,
        env={},
        sets=['components.estimators=["ewma_vol", "sigma"]', "engine.twins='require'"],
    )
    assert all(c.compiled for c in build_engine(s_req, host).twin_choices)
    # a plugin without a twin under require: refused, named
    s_bad = load_settings(
        None,
        host.registry,
        env={},
        sets=['components.estimators=["broken_kappa"]', "engine.twins='require'"],
    )
    with pytest.raises(ConfigError, match=r"engine\.twins: estimator 'broken_kappa'.*no twin"):
        build_engine(s_bad, host)


def test_the_default_set_runs_fully_compiled() -> None:
    """Every default component's twin builds (a twin kernel that fails to compile would
    otherwise fall back to Python with only a warning)."""
    host = PluginHost(load_entrypoints=False)
    s = load_settings(None, host.registry, env={}, sets=["engine.twins='require'"])
    eng = build_engine(s, host)
    assert [c.describe() for c in eng.twin_choices if not c.compiled] == []
    assert len(eng.twin_choices) == 3 + 3 + 1 + 1


def test_a_bad_twins_setting_is_a_config_error() -> None:
    host = _host()
    with pytest.raises(ConfigError, match=r"engine\.twins"):
        load_settings(None, host.registry, env={}, sets=["engine.twins='fast'"])


def test_a_subclass_does_not_inherit_its_bases_twin() -> None:
    """A plugin extending a built-in inherits ``twin()``, whose twin would run the base's
    code without the subclass's: it runs its own Python code (and ``require`` refuses it)."""
    from mmkit.estimators.kappa_orchestrator import KappaOrchestrator
    from mmkit.estimators.params import KappaParams

    class Extended(KappaOrchestrator):
        def estimate(self, out: Any, now_ns: int) -> None:
            super().estimate(out, now_ns)
            out.kappa *= 2.0

    chosen, choice = choose("estimator", "ext", Extended(KappaParams()), "auto")
    assert type(chosen) is Extended and not choice.compiled
    assert "inherits twin() from KappaOrchestrator" in choice.why
    with pytest.raises(TwinError, match="inherits twin"):
        choose("estimator", "ext", Extended(KappaParams()), "require")
    base, choice = choose("estimator", "kappa", KappaOrchestrator(KappaParams()), "auto")
    assert choice.compiled and type(base).__name__ == "KappaOrchestratorTwin"
