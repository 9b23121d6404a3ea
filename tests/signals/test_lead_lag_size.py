"""The size of the lead-lag significance test: on independent venues it rejects at most at
its nominal alpha, also when the returns are tick-rounded (runs of zero returns), have
volatility clusters, and are sampled on a grid finer than a clock both venues step on (the
synthetic market's 100 ms step on the CLI's 50 ms grid), while a real lead stays significant.

The shuffled null (``circular=False``, the estimator's default until 2026-12-07) and the plain
circular shift of the leader's samples are the broken nulls the size test must catch: on such
pairs they rejected 100% and 96% of independent pairs at alpha = 0.05 (docs/signals.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mmkit.signals import _kernels_leadlag as kern
from mmkit.signals.lead_lag import analyse

ALPHA = 0.05
TICK = 1e-4  # relative tick: most 100 ms moves are 0 or one tick

Pvalue = Callable[[np.ndarray, np.ndarray, int], float]


def _walk(rng: np.random.Generator, steps: int) -> np.ndarray:
    """A stationary tick-rounded log mid on a clock: volatility regimes (x3, held ~300 steps)
    times a persistent log-volatility AR(1), the latent price rounded to ``TICK``."""
    regime = (rng.random() < 0.5) ^ (np.cumsum(rng.random(steps) < 1 / 300) % 2 == 1)
    h = np.empty(steps)
    h[0] = rng.normal(0.0, 0.5)
    e = rng.normal(0.0, 0.5 * math.sqrt(1 - 0.99**2), steps)
    for i in range(1, steps):
        h[i] = 0.99 * h[i - 1] + e[i]
    sig = 0.5e-4 * np.where(regime, 3.0, 1.0) * np.exp(h)
    latent = np.cumsum(rng.normal(0.0, 1.0, steps) * sig) + rng.random() * TICK
    out: np.ndarray = np.round(latent / TICK) * TICK
    return out


def _on_grid(log_mid: np.ndarray, per_step: int, n: int) -> np.ndarray:
    """Returns of a clock's log mid sampled ``per_step`` times per clock step (carried
    forward): with ``per_step = 2`` every other return is 0 whatever the price does."""
    out: np.ndarray = np.diff(np.repeat(log_mid, per_step))[:n]
    return np.ascontiguousarray(out)


def independent_pair(seed: int, n: int, per_step: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = n // per_step + 2
    return _on_grid(_walk(rng, steps), per_step, n), _on_grid(_walk(rng, steps), per_step, n)


def lead_pair(seed: int, n: int, per_step: int, lag_steps: int = 2) -> tuple[np.ndarray, ...]:
    """The follower's latent price is the leader's ``lag_steps`` clock steps late plus its own
    noise walk (three times the leader's step): correlation ~0.1 at the lag."""
    rng = np.random.default_rng(seed)
    steps = n // per_step + 2
    lead = np.cumsum(rng.normal(0.0, 1e-4, steps + lag_steps))
    own = np.cumsum(rng.normal(0.0, 3e-4, steps))
    x = np.round(lead[lag_steps:] / TICK) * TICK
    y = np.round((lead[:steps] + own) / TICK) * TICK
    return _on_grid(x, per_step, n), _on_grid(y, per_step, n)


def _new_null(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    return analyse(x, y, min_lag=1, max_lag=10, n_permutations=99, alpha=ALPHA, seed=seed).p_value


def _shuffled_null(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    res = analyse(
        x, y, min_lag=1, max_lag=10, n_permutations=99, alpha=ALPHA, seed=seed, circular=False
    )
    return res.p_value


def _plain_circular_null(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    """The circular shift of all the leader's samples (the CLI's null until 2026-12-07)."""
    bx, by = kern.quantile_bins(x, 8), kern.quantile_bins(y, 8)
    every = np.arange(x.size, dtype=np.int64)
    return kern.permutation_test(bx, by, every, 1, 10, 8, 99, seed, True)[0]


def binomial_upper(n: int, p: float, tail: float = 1e-3) -> int:
    """The smallest k with P(Binomial(n, p) > k) <= tail."""
    cdf = 0.0
    for k in range(n + 1):
        cdf += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if 1.0 - cdf <= tail:
            return k
    return n


def rejections(p_value: Pvalue, pairs: int, n: int, per_step: int) -> int:
    return sum(p_value(*independent_pair(10_000 + i, n, per_step), i) < ALPHA for i in range(pairs))


PAIRS = 100
BOUND = binomial_upper(PAIRS, ALPHA)  # 13 of 100: exceeded with probability <= 0.001


@pytest.mark.parametrize(("n", "per_step"), [(1001, 2), (1000, 1)])
def test_size_at_most_alpha_on_independent_tick_walks(n: int, per_step: int) -> None:
    """100 independent pairs (odd length on a 50 ms grid over a 100 ms clock; grid = clock):
    the rejections at alpha 0.05 stay within the binomial bound of alpha."""
    assert rejections(_new_null, PAIRS, n, per_step) <= BOUND


@pytest.mark.parametrize("broken", [_shuffled_null, _plain_circular_null])
def test_size_test_catches_the_broken_nulls(broken: Pvalue) -> None:
    """The same size check fails for the shuffle and for the plain circular shift (40 pairs
    are enough: they reject nearly all)."""
    pairs = 40
    assert rejections(broken, pairs, 1001, 2) > binomial_upper(pairs, ALPHA)


@pytest.mark.parametrize("per_step", [1, 2])
def test_real_lead_on_the_clock_still_significant(per_step: int) -> None:
    for seed in range(3):
        x, y = lead_pair(seed, 3001, per_step)
        res = analyse(x, y, min_lag=1, max_lag=10, n_permutations=199, alpha=0.01, seed=seed)
        assert res.significant and res.lag == 2 * per_step, (seed, res.p_value, res.lag)


def test_only_the_leaders_moves_are_re_paired() -> None:
    """Samples outside ``moves`` stay in place: with no moves every re-pairing is the
    observed pairing, so p is 1; the observed value returned is the raw max MI."""
    x, y = independent_pair(3, 501, 2)
    bx, by = kern.quantile_bins(x, 8), kern.quantile_bins(y, 8)
    p, _ = kern.permutation_test(bx, by, np.empty(0, dtype=np.int64), 1, 3, 8, 19, 0, True)
    assert p == 1.0
    moves = np.flatnonzero(x != 0.0).astype(np.int64)
    p2, obs = kern.permutation_test(bx, by, moves, 1, 3, 8, 19, 0, True)
    assert 0.0 < p2 <= 1.0 and obs == kern.lagged_mi(bx, by, 1, 3, 8).max()


def test_independent_synthetic_markets_not_significant(tmp_path: Path) -> None:
    """The newcomer's pair: ``mmkit data synth --seed 3`` and ``--seed 5`` (both step on one
    100 ms clock) on the CLI's 50 ms grid, at an even (20000) and an odd (11999) length."""
    from mmkit.data.params import SyntheticParams
    from mmkit.data.store import write_store
    from mmkit.data.synthetic import generate_chunks, resolve, store_meta
    from mmkit.signals.captures import capture_lead_lag, input_mids
    from mmkit.signals.lead_lag import grid_returns

    paths = []
    for seed in (3, 5):
        p = resolve(
            SyntheticParams(
                duration_s=1020.0, seed=seed, k=3000.0, A=1.0, tick=1.0, lot=1e-5, mid0=1e5
            )
        )  # as `mmkit data synth --seed N` wrote it until 2026-12-07 (the newcomer's pair)
        path = tmp_path / f"s{seed}.parquet"
        write_store(path, generate_chunks(p), store_meta(p))
        paths.append(path)
    for samples in (20_000, 11_999):
        found = capture_lead_lag(
            *paths, interval_s=0.05, max_lag=10, max_samples=samples, n_permutations=199
        )
        assert found.result.n == samples
        assert not found.result.significant, found.describe()
    # the shuffled null called the same pair a lead
    a, b = (input_mids(p) for p in paths)
    start = max(int(a.ts_ns[0]), int(b.ts_ns[0])) + 1
    dt = 50_000_000
    x = grid_returns(a.ts_ns, a.mid, start, start + 20_001 * dt, dt)
    y = grid_returns(b.ts_ns, b.mid, start, start + 20_001 * dt, dt)
    old = analyse(x, y, min_lag=1, max_lag=10, n_permutations=199, circular=False)
    assert old.significant
