"""Shared helpers of the audit tests: hosts with the reference and broken components."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from mmkit.config.loader import Settings, load_settings
from mmkit.plugin_manager import PluginHost

REPO = Path(__file__).resolve().parents[2]
BROKEN_SRC = REPO / "plugins" / "mmkit-broken-fixtures" / "src"
HERE = Path(__file__).resolve().parent
REFERENCE_TOML = HERE / "reference.toml"


def _ensure_broken_importable() -> None:
    if importlib.util.find_spec("mmkit_broken_fixtures") is None:
        sys.path.insert(0, str(BROKEN_SRC))


@pytest.fixture
def host() -> PluginHost:
    """Defaults, audit reference and broken components, null venue/feed; no entry points."""
    _ensure_broken_importable()
    from . import null_plugin

    h = PluginHost(
        load_entrypoints=False, extra_modules=["mmkit.audit.reference", "mmkit_broken_fixtures"]
    )
    h.register_plugin(null_plugin, "audit_null")
    return h


def settings_for(host: PluginHost, *sets: str) -> Settings:
    """Settings of the reference config (every slot a reference component) plus ``sets``."""
    return load_settings(REFERENCE_TOML, host.registry, env={}, sets=list(sets))
