"""The simulated exchange: numba matching kernels and the ``sim`` venue.

* :mod:`mmkit.venues.sim.venue` — :class:`SimVenue`, the event-driven venue (paper trading,
  backtests through the engine);
* :mod:`mmkit.venues.sim.replay` — batch replay of columnar market arrays
  (:mod:`mmkit.venues.sim.arrays`) with an action schedule;
* ``_kernels_*`` — the numba kernels both use (and a backtest kernel can call directly).

Importing this package is light; the submodules import numpy and numba.
"""
