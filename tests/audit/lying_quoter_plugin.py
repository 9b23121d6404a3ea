"""A quoter that says its ladders are checked (``Ladder.from_levels(checked=True)``) and is
wrong: the broken fixtures' crossing quoter (its bid above its ask), its ladder remade from
its numbers and marked ``checked``. The engine trusts the flag and does not check the
ladder again, so the audit has to catch the quoter on its own
(``tests/audit/test_checked_flag.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from mmkit import hookimpl
from mmkit.components import Estimates, Ladder, View

if importlib.util.find_spec("mmkit_broken_fixtures") is None:  # a checkout not installed
    sys.path.insert(
        0, str(Path(__file__).resolve().parents[2] / "plugins" / "mmkit-broken-fixtures" / "src")
    )

from mmkit_broken_fixtures.quoters import CrossingQuoter, build_crossing


class LyingCheckedQuoter(CrossingQuoter):
    def quote(self, view: View, est: Estimates, now_ns: int) -> Ladder:
        bids, asks = super().quote(view, est, now_ns).levels()
        return Ladder.from_levels(bids, asks, checked=True)


@hookimpl
def register_quoters(register: Any) -> None:
    def build(ctx: Any) -> LyingCheckedQuoter:
        base = build_crossing(ctx)
        return LyingCheckedQuoter(base.size, base.tick)

    register("lying_checked", build)
