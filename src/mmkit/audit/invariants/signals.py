"""Invariants of signal estimators (seed report sections 3, 6, 7 and 8; recommendation 6).

Generic over any estimator. Applicability (:mod:`mmkit.audit.applicability`): a check is
NOT_APPLICABLE only when the field it is about is outside what the estimator was observed
to write or declares in ``publishes``; a skew publisher without the
:class:`~mmkit.components.BoundedSkew` contract is UNAUDITED:

* ``signals.bounded_actions`` - a component publishing ``skew_shift`` keeps
  ``|skew_shift| <= action_bound_sigma * sigma`` at every retrieval (``skew_shift = 0`` when
  sigma is not a positive finite number) and a finite, non-negative ``size_scale``;
* ``signals.finite_published`` - a component publishing any signal field
  (``fair_value_shift``, ``skew_shift``, ``spread_scale``, ``size_scale``, ``toxicity``) or
  any ``extras`` key never publishes NaN or inf in them or in ``extras`` (``toxicity`` may
  stay NaN: unknown);
* ``signals.leader_gating`` - a component publishing ``fair_value_shift`` from a leader venue
  publishes 0 while the leader is absent, stale (silent longer than its ``stale_s``, never
  more than the seed's 30 s) or disconnected, and *says so*: an ``extras`` key ending in ``.gated``
  equal to 1, or a non-empty ``gate_reason`` attribute. Leader events are BBOs on streams
  starting with the component's ``leader_prefix`` (``"leader:"`` by default) and a
  ``FeedStatus`` with ``connected=False`` on such a stream;
* ``signals.toxicity_range`` - published ``toxicity`` is NaN (unknown) or in [0, 1].

numpy and hypothesis are imported inside the checks (this module is imported at start-up).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from mmkit.audit import applicability as ap
from mmkit.audit.invariant import AuditContext, AuditTarget, Invariant, NotApplicable, Severity
from mmkit.audit.invariants.estimators import _event_of, _horizon, adversarial_ops, feed
from mmkit.core.types import NS_PER_S

_T0 = 1_700_000_000 * NS_PER_S
SIGNAL_FIELDS: tuple[str, ...] = (
    "fair_value_shift",
    "skew_shift",
    "spread_scale",
    "size_scale",
    "toxicity",
)
_FINITE_FIELDS = ("fair_value_shift", "skew_shift", "spread_scale", "size_scale")

_Decorator = Callable[[Callable[..., None]], Callable[..., None]]


def _settings(ctx: AuditContext) -> _Decorator:
    """``ctx.settings()`` typed as the decorator it is (the runner scales the examples)."""
    deco: _Decorator = ctx.settings()
    return deco


def _bbo(ts: int, mid: float, stream: str = "bbo") -> Any:
    from mmkit.core.events import BBO

    return BBO(ts, mid * (1 - 1e-5), 1.0, mid * (1 + 1e-5), 1.0, ts, stream=stream)


def _prefix(est: Any) -> str:
    p = getattr(est, "leader_prefix", "leader:")
    return p if isinstance(p, str) and p else "leader:"


def _note(ops: Any) -> None:
    from hypothesis import note

    from mmkit.audit.notes import describe_ops

    note(describe_ops(ops))  # times since the stream's start, fields named


def _drive(
    est: Any,
    ops: list[tuple[int, tuple[Any, ...]]],
    sigmas: list[float],
    after: Callable[[Any, int, float], None],
) -> None:
    """Adversarial ops (plus a leader BBO after every sane book), sigma set per step."""
    from mmkit.components import Estimates

    out = Estimates()
    now = _T0
    mid = [100.0]
    pre = _prefix(est)
    for i, (step, op) in enumerate(ops):
        now = max(0, now + step)
        feed(est, _event_of(op, now, mid), now)
        if op[0] == "book":
            est.on_event(_bbo(now, mid[0] * 1.0001, pre + "bbo"), now)
        sigma = sigmas[i % len(sigmas)] if sigmas else 1e-4
        out.sigma = sigma
        est.estimate(out, now)
        after(out, now, sigma)


def _sigma_values() -> Any:
    from hypothesis import strategies as st

    hostile = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1e-4, 1e300])
    return st.lists(st.one_of(hostile, st.floats(1e-7, 1e-1)), min_size=1, max_size=8)


# -- checks -----------------------------------------------------------------------------


def check_bounded_actions(target: AuditTarget, ctx: AuditContext) -> None:
    """|skew_shift| <= action_bound_sigma * sigma and size_scale finite >= 0 at every step."""
    from hypothesis import given

    from mmkit.components import BoundedSkew

    ap.not_applicable(target, "skew_shift", "bounded skew actions")
    est0 = ap.require(target.build(), BoundedSkew, "|skew_shift| <= action_bound_sigma * sigma")
    bound = est0.action_bound_sigma
    assert isinstance(bound, float | int) and not isinstance(bound, bool), (
        f"action_bound_sigma is {bound!r}, not a number"
    )
    assert math.isfinite(bound) and bound >= 0, f"action_bound_sigma {bound!r} not finite >= 0"

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)), _sigma_values())
    def run(ops: list[tuple[int, tuple[Any, ...]]], sigmas: list[float]) -> None:
        _note(ops)

        def after(out: Any, now: int, sigma: float) -> None:
            skew = out.skew_shift
            assert isinstance(skew, float | int) and math.isfinite(skew), (
                f"skew_shift {skew!r} at t={now}"
            )
            if 0.0 < sigma < math.inf:
                lim = float(bound) * sigma
                assert abs(skew) <= lim * (1 + 1e-9), (
                    f"|skew_shift| {abs(skew):.3g} > action_bound_sigma {bound} * sigma "
                    f"{sigma:.3g} = {lim:.3g} at t={now}"
                )
            else:
                assert skew == 0.0, f"skew_shift {skew!r} with unusable sigma {sigma!r}"
            s = out.size_scale
            assert isinstance(s, float | int) and 0.0 <= s < math.inf, f"size_scale {s!r}"

        _drive(target.build(), ops, sigmas, after)

    run()


def check_finite_published(target: AuditTarget, ctx: AuditContext) -> None:
    """No NaN or inf in published signal fields or extras, whatever the input."""
    from hypothesis import given

    if not any(ap.in_scope(target, f) for f in SIGNAL_FIELDS) and not ap.publishes_extras(target):
        raise NotApplicable(
            "finite signals: the estimator was not observed to write, and does not declare, "
            "any signal field or extras key"
        )

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)), _sigma_values())
    def run(ops: list[tuple[int, tuple[Any, ...]]], sigmas: list[float]) -> None:
        _note(ops)

        def after(out: Any, now: int, sigma: float) -> None:
            for f in _FINITE_FIELDS:
                v = getattr(out, f)
                assert isinstance(v, float | int) and math.isfinite(v), f"{f} {v!r} at t={now}"
            tox = out.toxicity
            assert isinstance(tox, float | int) and not math.isinf(tox), f"toxicity {tox!r}"
            bad = {k: v for k, v in out.extras.items() if not math.isfinite(v)}
            assert not bad, f"non-finite extras {bad} at t={now}"

        _drive(target.build(), ops, sigmas, after)

    run()


def _says_gated(est: Any, out: Any) -> bool:
    if any(k.endswith(".gated") and v == 1.0 for k, v in out.extras.items()):
        return True
    reason = getattr(est, "gate_reason", "")
    return isinstance(reason, str) and bool(reason)


def check_leader_gating(target: AuditTarget, ctx: AuditContext) -> None:
    """fair_value_shift is 0 and the component says it is gated while the leader is absent,
    stale or disconnected (recommendation 6)."""
    from hypothesis import given
    from hypothesis import strategies as st

    from mmkit.components import Estimates
    from mmkit.core.events import FeedStatus

    ap.not_applicable(target, "fair_value_shift", "leader gating")
    # the component's own staleness threshold, never laxer than the seed's 30 s
    stale_attr = getattr(target.build(), "stale_s", 30.0)
    own = float(stale_attr) if isinstance(stale_attr, float | int) else 30.0
    stale_s = min(own, 30.0) if math.isfinite(own) and own > 0 else 30.0

    @_settings(ctx)
    @given(
        st.sampled_from(["absent", "stale", "disconnected"]),
        st.integers(0, 2**31 - 1),
        st.integers(1, 8),
        st.floats(1.05, 4.0),
    )
    def run(mode: str, seed: int, lag: int, after_mult: float) -> None:
        from mmkit.signals.synthetic import lead_lag_mids

        est = target.build()
        pre = _prefix(est)
        out = Estimates()
        dt = NS_PER_S // 10
        warm = 0 if mode == "absent" else 700
        cut = int(stale_s * after_mult * 10) + 50
        lead, fol = lead_lag_mids(seed, warm + cut, lag, noise_ratio=0.5)
        lead_last = -1
        t = _T0
        for i in range(warm + cut):
            t = _T0 + i * dt
            est.on_event(_bbo(t, float(fol[i])), t)
            if i < warm:
                est.on_event(_bbo(t, float(lead[i]), pre + "bbo"), t)
                lead_last = t
            elif i == warm and mode == "disconnected":
                est.on_event(FeedStatus(t, pre + "bbo", connected=False), t)
            est.estimate(out, t)
            gated = (
                mode == "absent"
                or (mode == "disconnected" and i >= warm)
                or (lead_last >= 0 and t - lead_last > stale_s * NS_PER_S + dt)
            )
            if gated:
                shift = out.fair_value_shift
                assert shift == 0.0, (
                    f"{mode} leader: fair_value_shift {shift!r} at t+{(t - _T0) / 1e9:.1f}s "
                    f"(leader last seen at t+{(lead_last - _T0) / 1e9:.1f}s)"
                )
                assert _says_gated(est, out), (
                    f"{mode} leader: shift 0 but the component does not say it is gated "
                    "(no extras '*.gated' = 1, no gate_reason)"
                )

    run()


def check_toxicity_range(target: AuditTarget, ctx: AuditContext) -> None:
    """Published toxicity is NaN (unknown) or a probability in [0, 1]."""
    from hypothesis import given

    ap.not_applicable(target, "toxicity", "toxicity range")

    @_settings(ctx)
    @given(adversarial_ops(_horizon(target)), _sigma_values())
    def run(ops: list[tuple[int, tuple[Any, ...]]], sigmas: list[float]) -> None:
        _note(ops)

        def after(out: Any, now: int, sigma: float) -> None:
            tox = out.toxicity
            assert isinstance(tox, float | int), f"toxicity {tox!r}"
            assert math.isnan(tox) or 0.0 <= tox <= 1.0, f"toxicity {tox!r} at t={now}"

        _drive(target.build(), ops, sigmas, after)

    run()


def _quiet(check: Callable[[AuditTarget, AuditContext], None]) -> Any:
    @functools.wraps(check)
    def wrapped(target: AuditTarget, ctx: AuditContext) -> None:
        logger = logging.getLogger("mmkit.signals")
        was = logger.level
        logger.setLevel(logging.ERROR)
        try:
            check(target, ctx)
        finally:
            logger.setLevel(was)

    return wrapped


def _inv(
    id_: str, title: str, section: str, severity: Severity, check: Any, weight: float = 1.0
) -> Invariant:
    return Invariant(
        id=id_,
        title=title,
        section=section,
        severity=severity,
        kinds=("estimator",),
        check=_quiet(check),
        description=check.__doc__ or "",
        weight=weight,
    )


INVARIANTS: list[Invariant] = [
    _inv(
        "signals.bounded_actions",
        "RL actions bounded: |skew_shift| <= action_bound_sigma * sigma",
        "7. Execution Budget Protection",
        Severity.HIGH,
        check_bounded_actions,
        0.5,
    ),
    _inv(
        "signals.finite_published",
        "no NaN or inf in published signals or extras",
        "8. Numerical Stability",
        Severity.CRITICAL,
        check_finite_published,
        0.5,
    ),
    _inv(
        "signals.leader_gating",
        "lead-lag shift 0 and gated (and saying so) when the leader is absent or stale",
        "3. Data Staleness Handling",
        Severity.HIGH,
        check_leader_gating,
        0.15,
    ),
    _inv(
        "signals.toxicity_range",
        "toxicity is NaN or in [0, 1]",
        "6. Calibration Feedback Loop Integrity",
        Severity.HIGH,
        check_toxicity_range,
        0.5,
    ),
]
