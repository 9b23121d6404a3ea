"""The replay feeds, built through the registry like any plugin's feed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmkit.core.events import BookSnapshot, Trade
from mmkit.core.types import Instrument
from mmkit.data.loaders import convert
from mmkit.data.params import CaptureParams, ReplayParams
from mmkit.errors import ConfigError, PluginError
from mmkit.plugin_manager import get_host
from mmkit.registry import BuildContext, RiskLimits

from .helpers import hl_book, hl_trades, write_capture


def _build(name: str, params: Any) -> Any:
    spec = get_host().registry.get("feed", name)
    return spec.build(BuildContext("feed", name, params, Instrument(), RiskLimits()))


def _capture(tmp_path: Path) -> Path:
    return write_capture(
        tmp_path / "hl.gz",
        [
            (1, hl_book(1000, [("100.0", "1")], [("101.0", "1")])),
            (2, hl_trades(1001, side="A", px="100.0")),
            (3, hl_book(1500, [("100.0", "2")], [("101.0", "1")])),
        ],
    )


def test_replay_of_store_and_of_capture_agree(tmp_path: Path) -> None:
    src = _capture(tmp_path)
    store = tmp_path / "hl.parquet"
    convert([src], store)
    from_store = list(_build("replay", ReplayParams(path=[str(store)])).events())
    from_raw = list(_build("replay", ReplayParams(path=[str(src)])).events())
    from_capture = list(_build("hyperliquid_capture", CaptureParams(path=[str(src)])).events())
    assert [repr(e) for e in from_store] == [repr(e) for e in from_raw]
    assert [repr(e) for e in from_raw] == [repr(e) for e in from_capture]
    assert [type(e) for e in from_store] == [BookSnapshot, Trade, BookSnapshot]
    trade = from_store[1]
    assert isinstance(trade, Trade) and int(trade.side) == -1 and trade.local_ts == 2


def test_replay_needs_a_path() -> None:
    with pytest.raises((ConfigError, PluginError), match="path"):
        _build("replay", ReplayParams())


def test_replay_twice_gives_the_same_events(tmp_path: Path) -> None:
    feed = _build("replay", ReplayParams(path=[str(_capture(tmp_path))], format="hyperliquid"))
    assert [repr(e) for e in feed.events()] == [repr(e) for e in feed.events()]
