"""Offline calibration (``mmkit calibrate``): fill intensity, sigma, own fills, forecast scores.

Modules: :mod:`.engine_state` (the engine's own estimators run over the data: the primary
result), :mod:`.scan` (streaming pass over the data, numba kernel in
:mod:`._kernels_scan`), :mod:`.intensity` (A and kappa fits, goodness of fit, honest
intervals), :mod:`.volatility` (sigma), :mod:`.compare` (engine end state vs offline fit),
:mod:`.journal_fits` (own-fill kappa, Brier / IR), :mod:`.report` (TOML overlay + JSON),
:mod:`.plots`, :mod:`.run` (the command's pipeline).
"""
