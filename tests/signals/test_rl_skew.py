"""RL skew agent: bounded actions, seeded bounded exploration, state saved and restored."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.components import Estimates
from mmkit.core.events import BBO, OwnFill
from mmkit.core.types import Side
from mmkit.errors import ConfigError
from mmkit.signals.params import RlSkewParams
from mmkit.signals.rl_skew import N_STATES, RlSkewAgent

NS = 1_000_000_000


def _drive(agent: RlSkewAgent, n: int, sigma: float = 1e-4, seed: int = 0) -> list[float]:
    import random

    rng = random.Random(seed)
    out = Estimates()
    out.sigma = sigma
    skews = []
    mid = 100.0
    for i in range(n):
        t = (i + 1) * NS
        mid *= 1 + rng.gauss(0, 1e-4)
        agent.on_event(BBO(t, mid - 0.01, 1.0, mid + 0.01, 1.0), t)
        if rng.random() < 0.3:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            agent.on_event(OwnFill(t, i, None, side, mid, 0.1), t)
        agent.estimate(out, t)
        skews.append(out.skew_shift)
    return skews


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0.01, 5.0),
    st.one_of(st.floats(1e-7, 1e-1), st.sampled_from([math.nan, math.inf, 0.0, -1.0])),
    st.integers(0, 1000),
)
def test_skew_bounded_by_action_bound_sigma(bound: float, sigma: float, seed: int) -> None:
    agent = RlSkewAgent(RlSkewParams(action_bound_sigma=bound, epsilon=1.0), 1.0, seed)
    for s in _drive(agent, 60, sigma, seed):
        if 0 < sigma < math.inf:
            assert abs(s) <= bound * sigma * (1 + 1e-12)
        else:
            assert s == 0.0


def test_exploration_is_seeded_and_within_radius() -> None:
    a = RlSkewAgent(RlSkewParams(epsilon=0.5, epsilon_decay=1.0, explore_radius=1), 1.0, 42)
    b = RlSkewAgent(RlSkewParams(epsilon=0.5, epsilon_decay=1.0, explore_radius=1), 1.0, 42)
    assert _drive(a, 200) == _drive(b, 200)
    assert a.explored > 0
    for s in range(N_STATES):
        g = a.greedy(s)
        for _ in range(50):
            c = a.choose(s)
            assert abs(a._split(c)[0] - a._split(g)[0]) <= 1
            assert abs(a._split(c)[1] - a._split(g)[1]) <= 1


def test_epsilon_decays_to_its_floor() -> None:
    agent = RlSkewAgent(RlSkewParams(epsilon=0.5, epsilon_decay=0.5, epsilon_min=0.02), 1.0)
    _drive(agent, 100)
    assert agent.epsilon == 0.02


def test_state_saved_and_restored(tmp_path: Path) -> None:
    path = tmp_path / "agent" / "q.json"
    params = RlSkewParams(state_path=str(path), save_interval_s=10.0)
    agent = RlSkewAgent(params, 1.0, 1)
    _drive(agent, 200)
    assert path.exists()  # saved periodically
    agent.save()
    assert [p.name for p in path.parent.iterdir()] == ["q.json"]  # no temporary left
    again = RlSkewAgent(params, 1.0, 1)
    assert (again.q == agent.q).all() and (again.visits == agent.visits).all()
    assert again.epsilon == agent.epsilon and again.decisions == agent.decisions
    assert agent.visits.sum() > 0


def test_bad_state_files_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        RlSkewAgent(RlSkewParams(state_path=str(path)), 1.0)
    other = RlSkewAgent(RlSkewParams(skew_levels=3), 1.0)
    other.save(path)
    with pytest.raises(ConfigError, match="differ from the configured"):
        RlSkewAgent(RlSkewParams(state_path=str(path)), 1.0)
    d = json.loads(path.read_text())
    d["skews"] = RlSkewAgent(RlSkewParams(), 1.0).skews
    d["q"] = [[math.nan]]
    path.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match=r"malformed|shape"):
        RlSkewAgent(RlSkewParams(state_path=str(path)), 1.0)


def test_needs_a_position_normaliser() -> None:
    with pytest.raises(ConfigError, match="max_position"):
        RlSkewAgent(RlSkewParams(), 0.0)


def test_learns_to_lean_against_inventory() -> None:
    """Long inventory and a reward that penalises it: the greedy skew ends up <= 0."""
    agent = RlSkewAgent(
        RlSkewParams(epsilon=0.3, epsilon_decay=1.0, inventory_penalty=5.0, decision_interval_s=1),
        1.0,
        3,
    )
    out = Estimates()
    t = 0
    for _ in range(3000):
        t += NS
        mid = 100.0
        agent.on_event(BBO(t, mid - 0.01, 1.0, mid + 0.01, 1.0), t)
        i_skew, _ = agent._split(agent.action)
        # a lower skew sells: our long position shrinks when we skew down
        agent.position = max(-1.0, min(1.0, agent.position + 0.2 * agent.skews[i_skew] + 0.1))
        agent.estimate(out, t)
    agent.position = 1.0
    long_state = agent.state(False)
    assert agent.skews[agent._split(agent.greedy(long_state))[0]] <= 0.0


def test_without_a_state_path_the_end_of_run_save_writes_nothing_and_says_so(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The engine calls ``save()`` at the end of every run: an agent configured without a
    ``state_path`` (the default) keeps nothing, says so once, and does not fail (it used
    to raise, which every run reported as a fault); an explicit path still saves."""
    agent = RlSkewAgent(RlSkewParams(), 1.0)
    with caplog.at_level("INFO", logger="mmkit.signals.rl_skew"):
        assert agent.save() is None
        assert agent.save() is None
    said = [r for r in caplog.records if "no state_path" in r.getMessage()]
    assert len(said) == 1
    assert agent.save(tmp_path / "q.json") == tmp_path / "q.json"
    assert (tmp_path / "q.json").is_file()
