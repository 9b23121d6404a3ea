"""Backtests (``mmkit backtest``): the live engine over the simulated exchange (event or timer
cadence, :mod:`.cadence`) and the Avellaneda–Stoikov model market. See ``docs/research.md``."""
