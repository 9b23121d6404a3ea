"""The fewest permutations whose smallest p-value ``1/(1+n)`` is below ``alpha``: checked
against its definition for any alpha, tiny ones included (counting up one by one from
``1/alpha`` never ended once ``n + 1`` rounded back to ``n``: ``lead_lag.alpha = 1e-300``
hung a paper run)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.config.loader import load_settings
from mmkit.errors import ConfigError
from mmkit.plugin_manager import PluginHost
from mmkit.signals.params import min_permutations


@given(st.floats(1e-9, 1.0, exclude_max=True))
def test_the_fewest_that_reach_alpha(alpha: float) -> None:
    n = min_permutations(alpha)
    assert 1.0 / (1.0 + n) < alpha  # reaches it
    assert n == 0 or 1.0 / n >= alpha  # one fewer does not


@given(st.floats(1e-300, 1e-9))
def test_tiny_alphas_end(alpha: float) -> None:
    assert 1.0 / (1.0 + min_permutations(alpha)) < alpha


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.5, 5e-324, float("nan")])
def test_outside_0_1_is_an_error(alpha: float) -> None:
    with pytest.raises(ValueError, match="must be in"):
        min_permutations(alpha)


def test_the_config_bound_is_the_commands() -> None:
    host = PluginHost(load_entrypoints=False)
    with pytest.raises(ConfigError, match="alpha"):
        load_settings(None, host.registry, env={}, sets=["estimators.lead_lag.alpha=1e-300"])
    with pytest.raises(ConfigError, match="use at least 1000000"):  # the message's figure
        load_settings(None, host.registry, env={}, sets=["estimators.lead_lag.alpha=1e-6"])
    load_settings(
        None,
        host.registry,
        env={},
        sets=["estimators.lead_lag.alpha=1e-6", "estimators.lead_lag.n_permutations=1000000"],
    )
