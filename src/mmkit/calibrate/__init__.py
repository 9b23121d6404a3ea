"""Offline calibration (``mmkit calibrate``): fill intensity, sigma, own fills, forecast scores.

Modules: :mod:`.scan` (streaming pass over the data, numba kernel in
:mod:`._kernels_scan`), :mod:`.intensity` (A and kappa fits), :mod:`.volatility` (sigma),
:mod:`.journal_fits` (own-fill kappa, Brier / IR), :mod:`.report` (TOML overlay + JSON),
:mod:`.plots`, :mod:`.run` (the command's pipeline).
"""
