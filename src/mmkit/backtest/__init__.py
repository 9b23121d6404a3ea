"""Backtests (``mmkit backtest``): the live engine over the simulated exchange, the numba GLFT
fast path and the Avellaneda–Stoikov model market. See ``docs/research.md``."""
