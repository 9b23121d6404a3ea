"""The estimator invariants PASS on the built-ins and FAIL on deliberately broken ones."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import pytest

from mmkit.audit.invariant import Invariant
from mmkit.audit.invariants.estimators import INVARIANTS
from mmkit.components import Estimates
from mmkit.core.events import EventKind
from mmkit.plugin_manager import PluginHost
from mmkit.testing.verdicts import VerdictContext, builtin_target, target_of, verdict

BY_ID: dict[str, Invariant] = {inv.id: inv for inv in INVARIANTS}


CTX = VerdictContext(examples=40, seed=0)
NS = 1_000_000_000


EXPECTED_BUILTIN = {
    "kappa": {
        "estimators.kappa_positive": "pass",
        "estimators.conjugacy_counts": "pass",
        "estimators.warmup_graduation": "pass",
        "estimators.expiry_to_prior": "pass",
        "estimators.convex_blend": "pass",
        "estimators.batch_equivalence": "pass",
        "estimators.sigma_bounded": "not_applicable",
        "estimators.cascade_raises_sigma": "not_applicable",
    },
    "sigma": {
        "estimators.sigma_bounded": "pass",
        "estimators.cascade_raises_sigma": "pass",
        "estimators.batch_equivalence": "pass",
        "estimators.kappa_positive": "not_applicable",
        "estimators.conjugacy_counts": "not_applicable",
        "estimators.warmup_graduation": "not_applicable",
        "estimators.expiry_to_prior": "not_applicable",
        "estimators.convex_blend": "not_applicable",
    },
    "warmup": {"estimators.batch_equivalence": "pass"},
}


#: invariants of every estimator whatever it publishes: the built-ins pass them
EVERY_ESTIMATOR = {"estimators.confidence_bounded", "estimators.publishes_declared"}


@pytest.mark.parametrize("name", ["kappa", "sigma", "warmup"])
def test_builtins_pass(name: str) -> None:
    target = builtin_target("estimator", name)
    for inv in INVARIANTS:
        default = "pass" if inv.id in EVERY_ESTIMATOR else "not_applicable"
        expected = EXPECTED_BUILTIN.get(name, {}).get(inv.id, default)
        assert verdict(inv, target, CTX) == expected, inv.id


# -- broken components ------------------------------------------------------------------


class _Base:
    def on_event(self, event: Any, now_ns: int) -> None:
        self.last = event

    def estimate(self, out: Estimates, now_ns: int) -> None:
        pass


class KappaZeroOnBadBook(_Base):
    """Publishes kappa = 1 / spread, which is inf/NaN/negative on a bad book."""

    def __init__(self) -> None:
        self.kappa = 2000.0

    def on_event(self, event: Any, now_ns: int) -> None:
        if event.kind is EventKind.BOOK_SNAPSHOT and len(event.bid_px) and len(event.ask_px):
            with_spread = float(event.ask_px[0]) - float(event.bid_px[0])
            self.kappa = 1.0 / with_spread if with_spread != 0 else math.nan

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.kappa = self.kappa


class UncappedSigma(_Base):
    max_sigma = 1e-3

    def sigma_cap(self) -> float:
        return self.max_sigma

    def __init__(self) -> None:
        self.mid = math.nan
        self.sigma = 1e-4

    def on_event(self, event: Any, now_ns: int) -> None:
        if event.kind is EventKind.BOOK_SNAPSHOT and len(event.bid_px) and len(event.ask_px):
            mid = 0.5 * (float(event.bid_px[0]) + float(event.ask_px[0]))
            if self.mid == self.mid and mid > 0 and self.mid > 0:
                self.sigma = max(1e-4, abs(math.log(mid / self.mid)))
            self.mid = mid

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.sigma = self.sigma


class _FillBase(_Base):
    """Tracks mid and fills; subclasses decide how the posterior is computed."""

    prior = (10.0, 10.0 / 2000.0)
    warmup_fills = 5
    window_s = 600.0

    def __init__(self) -> None:
        self.mid = 100.0
        self.fills: deque[tuple[int, float, float]] = deque()
        self.count = 0
        self.graduated = False

    def on_event(self, event: Any, now_ns: int) -> None:
        if event.kind is EventKind.BOOK_SNAPSHOT and len(event.bid_px) and len(event.ask_px):
            self.mid = 0.5 * (float(event.bid_px[0]) + float(event.ask_px[0]))
        elif event.kind is EventKind.OWN_FILL:
            self.fills.append((now_ns, abs(event.px - self.mid) / self.mid, event.sz))
            self.count += 1
            self.graduated = self.graduated or len(self.fills) >= self.warmup_fills
        self.expire(now_ns)

    def expire(self, now_ns: int) -> None:
        while self.fills and self.fills[0][0] <= now_ns - self.window_s * NS:
            self.fills.popleft()

    @property
    def observation_count(self) -> int:
        return len(self.fills)

    @property
    def has_exited_warmup(self) -> bool:
        return self.graduated

    def posterior(self) -> tuple[float, float]:
        a0, b0 = self.prior
        return a0 + len(self.fills), b0 + sum(d for _t, d, _s in self.fills)

    def estimate(self, out: Estimates, now_ns: int) -> None:
        a, b = self.posterior()
        out.kappa = a / b


class VolumeWeightedConjugate(_FillBase):
    def posterior(self) -> tuple[float, float]:
        a0, b0 = self.prior
        return a0 + sum(s for _t, _d, s in self.fills), b0 + sum(d * s for _t, d, s in self.fills)


class ReenteringWarmup(_FillBase):
    @property
    def has_exited_warmup(self) -> bool:
        return len(self.fills) >= self.warmup_fills


class EarlyWarmupExit(_FillBase):
    @property
    def has_exited_warmup(self) -> bool:
        return self.count >= 1


class StickyPosterior(_FillBase):
    """Expires fills from the count but never subtracts their depths."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0.0

    def on_event(self, event: Any, now_ns: int) -> None:
        if event.kind is EventKind.OWN_FILL:
            self.total += abs(event.px - self.mid) / self.mid
        super().on_event(event, now_ns)

    def posterior(self) -> tuple[float, float]:
        a0, b0 = self.prior
        return a0 + len(self.fills), b0 + self.total


class ExtrapolatingBlend(_Base):
    def kappa_sources(self) -> list[tuple[str, float, float]]:
        return [("prior", 2000.0, 0.5), ("book", 1000.0, 0.5)]

    def blended_kappa(self) -> float:
        return 2500.0

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.kappa = 2500.0


class CascadeWithoutRaise(UncappedSigma):
    """Flags cascade mode on a jump but keeps publishing the calm sigma."""

    def __init__(self) -> None:
        super().__init__()
        self.cascade_until = -1

    def on_event(self, event: Any, now_ns: int) -> None:
        super().on_event(event, now_ns)
        if self.sigma > 5e-3:
            self.cascade_until = now_ns + 60 * NS

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.sigma = 1e-4
        out.cascade = now_ns <= self.cascade_until


class VolumeCounter(_Base):
    """Publishes the traded volume; its trade-batch fast path counts a batch's first row
    for the whole batch."""

    def __init__(self) -> None:
        self.volume = 0.0

    def on_event(self, event: Any, now_ns: int) -> None:
        if event.kind is EventKind.TRADE and 0 < event.sz < math.inf:
            self.volume += event.sz

    def on_trades(self, batch: Any, now_ns: int) -> None:
        sz = float(batch.sz[0])
        if 0 < sz < math.inf:
            self.volume += sz * len(batch)  # BUG: every row taken as the first

    def estimate(self, out: Estimates, now_ns: int) -> None:
        out.extras["test.volume"] = self.volume


BROKEN = [
    ("estimators.kappa_positive", KappaZeroOnBadBook),
    ("estimators.sigma_bounded", UncappedSigma),
    ("estimators.conjugacy_counts", VolumeWeightedConjugate),
    ("estimators.warmup_graduation", ReenteringWarmup),
    ("estimators.warmup_graduation", EarlyWarmupExit),
    ("estimators.expiry_to_prior", StickyPosterior),
    ("estimators.convex_blend", ExtrapolatingBlend),
    ("estimators.cascade_raises_sigma", CascadeWithoutRaise),
    ("estimators.batch_equivalence", VolumeCounter),
]


@pytest.mark.parametrize(("inv_id", "cls"), BROKEN, ids=[c.__name__ for _i, c in BROKEN])
def test_broken_component_fails(inv_id: str, cls: type) -> None:
    assert verdict(BY_ID[inv_id], target_of("estimator", lambda _ctx: cls()), CTX) == "fail"


def test_correct_fill_fixture_passes_the_own_fill_invariants() -> None:
    """The broken fixtures differ from a correct one only in the broken detail."""
    target = target_of("estimator", lambda _ctx: _FillBase())
    for inv_id in (
        "estimators.conjugacy_counts",
        "estimators.warmup_graduation",
        "estimators.expiry_to_prior",
    ):
        assert verdict(BY_ID[inv_id], target, CTX) == "pass", inv_id


def test_invariants_are_registered_through_the_plugin_host() -> None:
    ids = {inv.id for inv in PluginHost(load_entrypoints=False).invariants}
    assert set(BY_ID) <= ids
