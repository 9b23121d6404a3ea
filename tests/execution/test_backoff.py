"""Rejection backoff (every step) and 429 backoff (jitter, Retry-After)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.core.types import NS_PER_S, Side
from mmkit.execution.backoff import (
    RejectionBackoff,
    RetryBackoff,
    parse_retry_after,
    rejection_backoff_s,
)


@pytest.mark.parametrize(
    ("n", "seconds"),
    [(1, 0), (2, 0), (3, 5), (4, 10), (5, 20), (6, 40), (7, 80), (8, 120), (9, 120), (30, 120)],
)
def test_each_backoff_step(n: int, seconds: float) -> None:
    assert rejection_backoff_s(n, 3, 5.0, 2.0, 120.0) == seconds
    b = RejectionBackoff()
    t = 0
    for _ in range(n):
        b.on_rejection(Side.BUY, t)
    assert b.should_skip(Side.BUY, t + int(seconds * NS_PER_S) - 1) == (seconds > 0)
    assert not b.should_skip(Side.BUY, t + int(seconds * NS_PER_S))
    assert not b.should_skip(Side.SELL, t)  # per side


def test_success_resets_the_side() -> None:
    b = RejectionBackoff()
    for _ in range(5):
        b.on_rejection(Side.SELL, 0)
    assert b.should_skip(Side.SELL, 1)
    b.on_success(Side.SELL)
    assert not b.should_skip(Side.SELL, 1)
    b.on_rejection(Side.SELL, 2)
    b.on_rejection(Side.SELL, 2)
    assert not b.should_skip(Side.SELL, 3)  # counting starts again from zero
    assert b.status(3)["rejections_sell"] == 2


@given(st.integers(1, 60))
def test_backoff_never_exceeds_cap_and_is_monotone(n: int) -> None:
    seq = [rejection_backoff_s(k, 3, 5.0, 2.0, 120.0) for k in range(1, n + 1)]
    assert all(0 <= s <= 120 for s in seq)
    assert seq == sorted(seq)


@pytest.mark.parametrize(
    ("msg", "value"),
    [
        ("HTTP 429 Too Many Requests Retry-After: 2", 2.0),
        ("retry_after=0.5", 0.5),
        ('{"Retry-After": "7"}', 7.0),
        ("HTTP 429 Too Many Requests", None),
        ("", None),
    ],
)
def test_parse_retry_after(msg: str, value: float | None) -> None:
    assert parse_retry_after(msg) == value


def test_retry_after_is_honoured_exactly() -> None:
    r = RetryBackoff(seed=1)
    assert r.on_rate_limited(0, "HTTP 429 Retry-After: 3") == 3.0
    assert r.active(3 * NS_PER_S - 1) and not r.active(3 * NS_PER_S)


def test_exponential_with_seeded_jitter() -> None:
    a, b = RetryBackoff(1.0, 60.0, 0.25, seed=7), RetryBackoff(1.0, 60.0, 0.25, seed=7)
    da = [a.on_rate_limited(0) for _ in range(10)]
    db = [b.on_rate_limited(0) for _ in range(10)]
    assert da == db  # deterministic
    for k, d in enumerate(da):
        base = min(60.0, 2.0**k)
        assert base <= d <= min(60.0, base * 1.25)
    a.on_success()
    assert a.on_rate_limited(0) <= 1.25
