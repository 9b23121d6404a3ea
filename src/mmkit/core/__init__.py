"""The deterministic core: typed events, actions, market state and the engine's data model.

Nothing in this package reads the wall clock, touches the network or imports scipy. numba
is imported only on the first book delta (:mod:`mmkit.core._kernels_book`), so importing the
core, and feeds of full snapshots, never load it.
"""
