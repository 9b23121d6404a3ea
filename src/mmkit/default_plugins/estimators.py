"""Built-in estimators (registered through the same hook as third-party plugins).

Also registers the ``warmup`` gate, which closes while the ``warmup`` estimator says the
estimators are not warmed up. Imports stay light: implementations load when built.
"""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl


@hookimpl
def register_estimators(register: Any) -> None:
    from mmkit.estimators.params import KappaParams, SigmaParams, WarmupParams

    register(
        "kappa",
        "mmkit.estimators.kappa_orchestrator:build",
        params=KappaParams,
        description="three-way kappa blend: book regression, robust Student-t of trades, "
        "own-fill Gamma posterior (seed report section 1)",
    )
    register(
        "sigma",
        "mmkit.estimators.sigma_estimator:build",
        params=SigmaParams,
        description="particle-filter + bipower sigma with a cap and cascade mode "
        "(seed report section 2, recommendations 1 and 3)",
    )
    register(
        "warmup",
        "mmkit.estimators.warmup:build",
        params=WarmupParams,
        description="volume buckets, market trades and a market kappa fit (own-fill "
        "graduation opt-in), with a timeout from the first market data; "
        "run it after kappa and sigma",
    )


@hookimpl
def register_gates(register: Any) -> None:
    register(
        "warmup",
        "mmkit.estimators.warmup:build_gate",
        description="halts quoting (reason Warmup) until the warmup estimator is done",
    )
