"""Deliberately broken mmkit components (see README.md): the audit must catch every one."""

from __future__ import annotations

from typing import Any

from mmkit import hookimpl

_PKG = "mmkit_broken_fixtures"


@hookimpl
def register_estimators(register: Any) -> None:
    from mmkit_broken_fixtures.params import BrokenSigmaParams

    register(
        "broken_kappa",
        f"{_PKG}.estimators:build_kappa",
        description="BROKEN: kappa = fills / summed distance (0, inf or NaN)",
    )
    register(
        "broken_sigma",
        f"{_PKG}.estimators:build_sigma",
        params=BrokenSigmaParams,
        description="BROKEN: declares max_sigma_mult, never applies it",
    )
    from mmkit.estimators.params import KappaParams

    register(
        "broken_batch_kappa",
        f"{_PKG}.estimators:build_batch_drops_last",
        params=KappaParams,
        description="BROKEN: the built-in kappa, but its trade-batch path drops each "
        "batch's last trade",
    )
    register(
        "broken_deaf_throttle",
        f"{_PKG}.estimators:build_deaf_fill_throttle",
        description="BROKEN: throttles sizes after own fills, but declares it ignores them",
    )
    register(
        "ewma_vol",
        f"{_PKG}.twins:build_ewma_vol",
        description="a third-party estimator with a correct compiled twin (not broken)",
    )
    register(
        "broken_twin_vol",
        f"{_PKG}.twins:build_broken_twin",
        description="BROKEN: correct Python code whose compiled twin clamps jumps over 10 %",
    )
    register(
        "broken_exp2_vol",
        f"{_PKG}.twins:build_decay_vol",
        description="BROKEN: a decayed EWMA whose twin's 0.5 ** x LLVM compiles as exp2 "
        "(one ulp off on rare inputs)",
    )


@hookimpl
def register_quoters(register: Any) -> None:
    register(
        "broken_crossing",
        f"{_PKG}.quoters:build_crossing",
        description="BROKEN: bid above the mid, ask below it",
    )
    register(
        "broken_nan_quoter",
        f"{_PKG}.quoters:build_nan",
        description="BROKEN: quotes around a NaN mid when a book side is empty",
    )


@hookimpl
def register_gates(register: Any) -> None:
    register(
        "broken_never_closes",
        f"{_PKG}.gates:build_never_closes",
        description="BROKEN: a data-quality gate that never closes",
    )
    register(
        "broken_deaf_pause",
        f"{_PKG}.gates:build_deaf_fill_pause",
        description="BROKEN: pauses after own fills, but declares it ignores them",
    )


@hookimpl
def register_executors(register: Any) -> None:
    from mmkit.execution.params import SmartExecutorParams

    register(
        "broken_modify_drop",
        f"{_PKG}.executors:build_modify_drop",
        params=SmartExecutorParams,
        description="BROKEN: smart executor that forgets the level after a failed MODIFY",
    )
    register(
        "broken_budget",
        f"{_PKG}.executors:build_budget",
        params=SmartExecutorParams,
        description="BROKEN: smart executor whose budget has no emergency reserve",
    )
