"""numba kernels of the smart executor's permit: the rate tracker's rolling IP window and
address count, and the execution budget, held in arrays (issue 20, step 3 of the compiled
loop in ``docs/twins.md``; :mod:`mmkit.execution.permit_arrays` holds the arrays and the
views over them).

State: ``pf`` (float64, the ``F_*`` slots), ``pi`` (int64, the ``I_*`` slots) and the
rolling window as a ring of (time, weight) entries: ``wt`` / ``ww`` (int64), the oldest
at ``pi[I_HEAD]``, ``pi[I_COUNT]`` of them. Each kernel does what the named method of
:class:`~mmkit.execution.rate_limit.RateTracker` or
:class:`~mmkit.execution.budget.ExecutionBudget` does, with Python's own semantics where
they differ from numba's (``min`` / ``max`` keep their first argument on a tie or a NaN).

The callers keep every time within ``±SAFE_NS`` (so that no difference of two times the
kernels take overflows int64), pass weights and counts as the rate tracker computes them,
and run the reference's Python for what a kernel reports it cannot do exactly:

* ``RING_FULL``: the window needs one more entry than the ring holds (nothing recorded;
  the caller grows the ring and calls again);
* ``FALLBACK``: a budget refill over 2**53 ns or more, whose ``(now - last) / 1e9`` Python
  computes from the exact integer and numba from its nearest double (nothing changed).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mmkit.core.types import NS_PER_S

#: times the kernels take are within +- this (differences of two stay within int64)
SAFE_NS = 1 << 61
#: a refill interval from which numba's float conversion may differ from Python's
EXACT_NS = 1 << 53
WINDOW_NS = 60 * NS_PER_S

# float slots (pf)
F_IP_LIMIT = 0
F_IP_SOFT = 1
F_IP_WARN = 2
F_ADDR_INITIAL = 3
F_ADDR_USED = 4
F_VOLUME = 5
F_CAPACITY = 6
F_TOKENS = 7
F_PER_USD = 8
F_REFILL = 9
F_COST = 10
F_RESERVE = 11
F_SPENT = 12
F_EM_SPENT = 13
NF = 14

# int slots (pi)
I_IP_USED = 0
I_EXH_INTERVAL = 1
I_LAST_EXH = 2
I_THROTTLED = 3
I_WARNINGS = 4
I_WARN_ARMED = 5
I_PEAK = 6
I_HEAD = 7
I_COUNT = 8
I_LAST_NS = 9
I_HAS_LAST = 10
I_SKIPS = 11
NI = 12

# permit outcomes (the low three bits: ``code & OUTCOME``) and flags
OK = 0
SKIP_RATE = 1
SKIP_BUDGET = 2
RING_FULL = 3
FALLBACK = 4
OUTCOME = 7
#: flag: the IP warning is due (logged by the caller, once per episode)
WARN = 8
#: flag: an emergency batch went over the IP limit (sent all the same)
OVER_LIMIT = 16


@njit(cache=True)
def prune(pi: np.ndarray, wt: np.ndarray, ww: np.ndarray, now: int) -> None:
    """``RateTracker._prune``: drop the window's entries a minute old or older."""
    head = pi[I_HEAD]
    count = pi[I_COUNT]
    cap = wt.shape[0]
    used = pi[I_IP_USED]
    while count > 0 and now - wt[head] >= WINDOW_NS:
        used -= ww[head]
        head += 1
        if head == cap:
            head = 0
        count -= 1
    pi[I_HEAD] = head
    pi[I_COUNT] = count
    pi[I_IP_USED] = used


@njit(cache=True)
def _address_ok(pf: np.ndarray, pi: np.ndarray, n: int, cancels_only: bool, now: int) -> bool:
    if n == 0:
        return True
    cap = pf[F_ADDR_INITIAL] + pf[F_VOLUME]
    if cancels_only:
        wide = 2.0 * cap
        cap = cap + 100_000.0 if not (wide < cap + 100_000.0) else wide  # Python's min
    if pf[F_ADDR_USED] + n <= cap:
        return True
    return n == 1 and now - pi[I_LAST_EXH] >= pi[I_EXH_INTERVAL]


@njit(cache=True)
def allows(
    pf: np.ndarray,
    pi: np.ndarray,
    wt: np.ndarray,
    ww: np.ndarray,
    now: int,
    weight: int,
    n: int,
    cancels_only: bool,
    emergency: bool,
) -> bool:
    """``RateTracker.allows`` for a weighed batch, the window already pruned at ``now``
    (:func:`permit` prunes first); counts a refusal."""
    limit = pf[F_IP_LIMIT] if emergency else pf[F_IP_SOFT]
    if pi[I_IP_USED] + weight > limit:
        pi[I_THROTTLED] += 1
        return False
    if not _address_ok(pf, pi, n, cancels_only, now):
        pi[I_THROTTLED] += 1
        return False
    return True


@njit(cache=True)
def record(
    pf: np.ndarray, pi: np.ndarray, wt: np.ndarray, ww: np.ndarray, now: int, weight: int, n: int
) -> int:
    """``RateTracker.record`` for a weighed batch: ``WARN`` when the warning is to be
    logged; ``RING_FULL`` (nothing recorded) when the window's entry does not fit."""
    if weight:
        count = pi[I_COUNT]
        cap = wt.shape[0]
        if count == cap:
            return RING_FULL
        k = pi[I_HEAD] + count
        if k >= cap:
            k -= cap
        wt[k] = now
        ww[k] = weight
        pi[I_COUNT] = count + 1
        pi[I_IP_USED] += weight
    if n:
        if pf[F_ADDR_USED] + n > pf[F_ADDR_INITIAL] + pf[F_VOLUME]:
            pi[I_LAST_EXH] = now
        pf[F_ADDR_USED] += n
    used = pi[I_IP_USED]
    if used > pi[I_PEAK]:
        pi[I_PEAK] = used
    flags = 0
    if used >= pf[F_IP_WARN]:
        if pi[I_WARN_ARMED]:
            flags = WARN
            pi[I_WARN_ARMED] = 0
        pi[I_WARNINGS] += 1
    elif used < 0.7 * pf[F_IP_LIMIT]:
        pi[I_WARN_ARMED] = 1
    return flags


@njit(cache=True)
def refill(pf: np.ndarray, pi: np.ndarray, now: int) -> None:
    """``ExecutionBudget._refill`` (the caller has excluded intervals of 2**53 ns or more
    when a refill applies: :func:`inexact`)."""
    has = pi[I_HAS_LAST] != 0
    last = pi[I_LAST_NS]
    if has and now > last and pf[F_REFILL] > 0:
        dt = (now - last) / NS_PER_S
        x = pf[F_TOKENS] + dt * pf[F_REFILL]
        cap = pf[F_CAPACITY]
        pf[F_TOKENS] = x if x < cap else cap  # Python's min(capacity, x)
    if not has or now > last:
        pi[I_LAST_NS] = now
        pi[I_HAS_LAST] = 1


@njit(cache=True)
def inexact(pf: np.ndarray, pi: np.ndarray, now: int) -> bool:
    """Whether a refill at ``now`` would divide an interval of 2**53 ns or more."""
    return bool(
        pi[I_HAS_LAST] != 0
        and pf[F_REFILL] > 0
        and now > pi[I_LAST_NS]
        and now - pi[I_LAST_NS] >= EXACT_NS
    )


@njit(cache=True)
def spend(pf: np.ndarray, pi: np.ndarray, n: int, now: int, emergency: bool) -> bool:
    """``ExecutionBudget.spend``."""
    if n <= 0:
        return True
    cost = n * pf[F_COST]
    refill(pf, pi, now)
    if emergency:
        tokens = pf[F_TOKENS]
        paid = tokens if tokens < cost else cost  # Python's min(cost, tokens)
        pf[F_TOKENS] = tokens - paid
        pf[F_EM_SPENT] += paid
        return True
    free = pf[F_TOKENS] - pf[F_RESERVE]
    avail = free if free > 0.0 else 0.0  # Python's max(0.0, free)
    if not (cost <= avail + 1e-12):
        pi[I_SKIPS] += 1
        return False
    pf[F_TOKENS] -= cost
    pf[F_SPENT] += cost
    return True


@njit(cache=True)
def permit(
    pf: np.ndarray,
    pi: np.ndarray,
    wt: np.ndarray,
    ww: np.ndarray,
    now: int,
    weight: int,
    n: int,
    cancels_only: bool,
    emergency: bool,
) -> int:
    """``SmartExecutor._permit`` after its 429 check (the caller's), for a batch the rate
    tracker weighed (``weight``, ``n``, ``cancels_only``): the rate tracker's check, the
    budget's spend, the record. Returns ``OK`` (with ``WARN`` / ``OVER_LIMIT`` flags),
    ``SKIP_RATE``, ``SKIP_BUDGET``, ``RING_FULL`` (the window pruned, nothing else done)
    or ``FALLBACK`` (nothing done)."""
    if n > 0 and inexact(pf, pi, now):
        return FALLBACK
    prune(pi, wt, ww, now)
    if weight and pi[I_COUNT] == wt.shape[0]:
        return RING_FULL
    # the helpers take ``emergency`` as a variable, never a constant: numba would compile
    # them once per constant value (tests/runtime/test_compile_budget.py)
    ok = allows(pf, pi, wt, ww, now, weight, n, cancels_only, emergency)
    if emergency:
        spend(pf, pi, n, now, emergency)  # never refused: the reserve, down to zero
        return OK | (0 if ok else OVER_LIMIT) | record(pf, pi, wt, ww, now, weight, n)
    if not ok:
        return SKIP_RATE
    if n and not spend(pf, pi, n, now, emergency):
        return SKIP_BUDGET
    return OK | record(pf, pi, wt, ww, now, weight, n)
