"""Built-in research commands: ``mmkit calibrate``, ``mmkit backtest`` and ``mmkit sweep``.

Registered through the same ``register_commands`` hook a third-party plugin uses; the
command modules import numpy, numba, matplotlib and dask only inside the command bodies.
"""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from mmkit.backtest import cli as backtest_cli
    from mmkit.calibrate import cli as calibrate_cli
    from mmkit.sweep import cli as sweep_cli

    calibrate_cli.register(cli)
    backtest_cli.register(cli)
    sweep_cli.register(cli)
