"""mmkit: run, backtest, calibrate and audit a market maker on Hyperliquid perpetuals.

Plugin authors import :data:`hookimpl` from here::

    from mmkit import hookimpl

    @hookimpl
    def register_quoters(register):
        register("my_quoter", build_my_quoter, params=MyParams)
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: The pluggy project name; also the entry-point group plugins are found under.
PROJECT = "mmkit"

hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "__version__", "hookimpl"]
