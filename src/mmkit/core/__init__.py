"""The deterministic core: typed events, actions, market state and the engine's data model.

Nothing in this package reads the wall clock, touches the network or imports numba/scipy.
"""
