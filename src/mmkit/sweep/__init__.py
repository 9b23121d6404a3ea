"""Parameter sweeps (``mmkit sweep``): many backtests on a Dask cluster, ranked."""
