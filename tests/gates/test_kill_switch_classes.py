"""Kill-switch rejection limits by class (issue 19): routine post-only crosses apart from
rejections that signal trouble, each class with its own limit in the rolling window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.components import Estimates, GateDecision, View
from mmkit.config.loader import default_toml
from mmkit.core.events import ActionResult, BookSnapshot, levels
from mmkit.core.market import MarketState
from mmkit.core.outcomes import REJECTION_CLASS_OF, Outcome, RejectionClass, RejectReason
from mmkit.core.portfolio import Portfolio
from mmkit.core.types import NS_PER_S, Instrument
from mmkit.gates import reasons
from mmkit.gates.kill_switch import NS_PER_DAY, KillSwitch
from mmkit.gates.params import DEFAULT_REJECTION_LIMITS, KillSwitchParams
from mmkit.params import build_params

T0 = 5 * NS_PER_DAY + 1_000 * NS_PER_S


class Rig:
    """A kill switch over a flat, known position and a fresh two-sided book."""

    def __init__(self, params: KillSwitchParams | None = None) -> None:
        self.ks = KillSwitch(params)
        self.m = MarketState()
        self.view = View(Instrument(), self.m, Portfolio(0.0, True), 1.0)
        self.now = T0
        self.book()

    def book(self) -> None:
        ev = BookSnapshot(self.now, levels([99.5]), levels([1.0]), levels([100.5]), levels([1.0]))
        self.m.apply(ev, self.now)

    def reject(self, reason: RejectReason) -> None:
        ev = ActionResult(self.now, 1, None, None, Outcome.REJECTED, reason)
        self.ks.on_event(ev, self.now)

    def check(self) -> GateDecision | None:
        return self.ks.check(self.view, Estimates(), self.now)


def test_every_reason_maps_to_exactly_one_class() -> None:
    """The table is total (a new RejectReason without a class fails here) and each reason
    has one class; every class but ``none`` has a default limit."""
    assert set(REJECTION_CLASS_OF) == set(RejectReason)
    for r in RejectReason:
        assert isinstance(r.rejection_class, RejectionClass)
        assert [c for c in RejectionClass if r.rejection_class is c] == [r.rejection_class]
    assert set(DEFAULT_REJECTION_LIMITS) == {c.value for c in RejectionClass} - {"none"}
    # reasons that are not rejections for the backoff are never margin/price/auth trouble
    for r in RejectReason:
        if r.rejection_class is RejectionClass.NONE:
            assert not r.counts_as_rejection


def test_classes_follow_the_venue_catalogue() -> None:
    """Spot checks against the Hyperliquid error catalogue's own strings."""
    from mmkit.venues.hyperliquid.errors import MESSAGES, reason_of

    expect = {
        "post_only": RejectionClass.POST_ONLY,
        "margin": RejectionClass.MARGIN,
        "margin_tier": RejectionClass.MARGIN,
        "tick": RejectionClass.PRICE,
        "invalid_size": RejectionClass.PRICE,
        "min_notional": RejectionClass.PRICE,
        "price_too_far": RejectionClass.PRICE,
        "address_limit": RejectionClass.RATE_LIMIT,
        "nonce_low": RejectionClass.AUTH,
        "unrecoverable": RejectionClass.AUTH,
        "cancel_gone": RejectionClass.NONE,
    }
    for key, cls in expect.items():
        text = MESSAGES[key].format(
            bid=1, ask=2, amount=10, used=1, cap=1, volume=1, nonce=1, least=2, address="0x"
        )
        assert reason_of(text).rejection_class is cls, key


def test_routine_post_only_stream_does_not_trip_but_five_margin_rejections_do() -> None:
    """ALO quoting on a fast market: a post-only cross every 0.5 s for 10 minutes (1,200,
    far beyond any limit) leaves the switch open with the defaults; then 5 margin
    rejections within the minute trip it, and the detail names the class and count."""
    r = Rig()
    for _ in range(1_200):
        r.now += NS_PER_S // 2
        r.book()
        r.reject(RejectReason.POST_ONLY_WOULD_CROSS)
        assert r.check() is None
    for k in range(5):
        r.now += NS_PER_S
        r.book()
        r.reject(RejectReason.INSUFFICIENT_MARGIN)
        d = r.check()
        if k < 4:
            assert d is None
    assert d is not None and d.reason == reasons.TOO_MANY_REJECTIONS
    assert d.detail["rejection_class"] == "margin"
    assert d.detail["count"] == 5.0 and d.detail["limit"] == 5.0
    assert "margin" in d.describe()


def test_a_class_limit_of_zero_is_off_and_post_only_can_be_limited() -> None:
    p = KillSwitchParams(rejection_limits={"margin": 0, "post_only": 3})
    r = Rig(p)
    for _ in range(15):  # three times the default margin limit, under the backstop of 20
        r.reject(RejectReason.INSUFFICIENT_MARGIN)
    assert r.check() is None
    for _ in range(3):
        r.reject(RejectReason.POST_ONLY_WOULD_CROSS)
    d = r.check()
    assert d is not None and d.detail["rejection_class"] == "post_only"


def test_unnamed_classes_keep_their_default() -> None:
    p = KillSwitchParams(rejection_limits={"post_only": 100})
    assert p.rejection_limit(RejectionClass.MARGIN) == DEFAULT_REJECTION_LIMITS["margin"]
    assert p.rejection_limit(RejectionClass.POST_ONLY) == 100
    assert p.rejection_limit(RejectionClass.NONE) == 0


def test_the_backstop_total_still_works_as_documented() -> None:
    """``max_rejections`` counts every class together except ``ignored_rejections``."""
    p = KillSwitchParams(max_rejections=6, rejection_limits={"price": 0, "margin": 0})
    r = Rig(p)
    for reason in [RejectReason.TICK] * 3 + [RejectReason.INSUFFICIENT_MARGIN] * 2:
        r.reject(reason)
    for _ in range(40):
        r.reject(RejectReason.POST_ONLY_WOULD_CROSS)  # ignored by the total
    assert r.check() is None
    r.reject(RejectReason.INVALID_SIZE)
    d = r.check()
    assert d is not None and d.detail["rejection_class"] == "all" and d.detail["count"] == 6.0


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"margn": 3}, "unknown rejection class 'margn'; did you mean 'margin'?"),
        ({"none": 3}, "unknown rejection class 'none'"),
        ({"margin": -1}, "rejection_limits.margin: -1 must be an integer >= 0"),
        ({"margin": 2.5}, "gates.kill_switch.rejection_limits.margin: expected an integer"),
        ({"margin": True}, "gates.kill_switch.rejection_limits.margin: expected an integer"),
    ],
)
def test_bad_tables_are_clear_config_errors(table: dict[str, object], needle: str) -> None:
    obj, problems = build_params(KillSwitchParams, {"rejection_limits": table}, "gates.kill_switch")
    assert obj is None and len(problems) == 1
    assert needle in problems[0]
    assert "[gates.kill_switch]" in problems[0] or "gates.kill_switch." in problems[0]


def test_a_good_table_from_toml_builds() -> None:
    obj, problems = build_params(
        KillSwitchParams, {"rejection_limits": {"margin": 2, "rate_limit": 0}}, "gates.ks"
    )
    assert problems == [] and obj is not None
    assert obj.rejection_limit(RejectionClass.MARGIN) == 2
    assert obj.rejection_limit(RejectionClass.RATE_LIMIT) == 0
    assert obj.rejection_limit(RejectionClass.PRICE) == DEFAULT_REJECTION_LIMITS["price"]


def test_config_defaults_and_overrides_round_trip() -> None:
    """``mmkit config init`` writes the defaults as a sub-table that reads back the same;
    ``--set gates.kill_switch.rejection_limits.margin=2`` overrides one class only."""
    import tomllib

    import tomli_w

    from mmkit.config.loader import load_settings
    from mmkit.errors import ConfigError
    from mmkit.plugin_manager import PluginHost

    host = PluginHost(load_entrypoints=False)
    host.check()
    doc = default_toml(host.registry)
    assert doc["gates"]["kill_switch"]["rejection_limits"] == DEFAULT_REJECTION_LIMITS
    back = tomllib.loads(tomli_w.dumps(doc))["gates"]["kill_switch"]
    obj, problems = build_params(KillSwitchParams, back, "gates.kill_switch")
    assert problems == [] and obj == KillSwitchParams()
    s = load_settings(
        None, host.registry, env={}, sets=["gates.kill_switch.rejection_limits.margin=2"]
    )
    ks = s.component_params("gate", "kill_switch")
    assert ks.rejection_limit(RejectionClass.MARGIN) == 2
    assert ks.rejection_limit(RejectionClass.PRICE) == DEFAULT_REJECTION_LIMITS["price"]
    with pytest.raises(ConfigError, match="unknown rejection class 'marginn'"):
        load_settings(
            None, host.registry, env={}, sets=["gates.kill_switch.rejection_limits.marginn=2"]
        )


# -- the trip rule against a brute-force oracle ------------------------------------------

WINDOW_S = 10.0
REASONS = list(RejectReason)


def oracle(
    events: list[tuple[int, RejectReason]], check_ns: int, p: KillSwitchParams
) -> str | None:
    """Which class (or "all") is at its limit at ``check_ns``, by recounting every event
    whose age is within the window (the same first-class order as the switch's table)."""
    window_ns = int(p.rejection_window_s * NS_PER_S)
    recent = [r for t, r in events if t <= check_ns and check_ns - t <= window_ns]
    for cls in RejectionClass:
        limit = p.rejection_limit(cls)
        if limit > 0 and sum(1 for r in recent if r.rejection_class is cls) >= limit:
            return cls.value
    total = sum(1 for r in recent if r.counts_as_rejection and r.value not in p.ignored_rejections)
    return "all" if total >= p.max_rejections else None


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 4_000),  # ms since the previous event
            st.sampled_from(REASONS),
            st.booleans(),  # check after this event?
        ),
        min_size=1,
        max_size=80,
    ),
    limits=st.fixed_dictionaries({c: st.integers(0, 6) for c in DEFAULT_REJECTION_LIMITS}),
    max_rejections=st.integers(1, 12),
)
def test_trips_iff_some_class_reaches_its_limit_in_the_window(
    steps: list[tuple[int, RejectReason, bool]],
    limits: dict[str, int],
    max_rejections: int,
) -> None:
    p = KillSwitchParams(
        rejection_limits=limits, max_rejections=max_rejections, rejection_window_s=WINDOW_S
    )
    r = Rig(p)
    events: list[tuple[int, RejectReason]] = []
    for dt_ms, reason, do_check in steps:
        r.now += dt_ms * 1_000_000
        r.book()
        r.reject(reason)
        events.append((r.now, reason))
        if not do_check:
            continue
        expect = oracle(events, r.now, p)
        d = r.check()
        if expect is None:
            assert d is None, (d, events)
        else:
            assert d is not None and d.reason == reasons.TOO_MANY_REJECTIONS
            assert d.detail["rejection_class"] == expect
            return  # latched: the rest of the sequence cannot change it


def test_a_failed_modify_counts_as_the_refusal_its_message_names() -> None:
    """The sim and Hyperliquid say why a modify's new order was refused: a post-only cross
    there is routine, a margin refusal is margin trouble, an unknown text is ``other``."""
    from mmkit.venues.hyperliquid.errors import venue_message

    def modify_failed(inner: str) -> ActionResult:
        text = venue_message("modify_place", inner=inner)
        return ActionResult(
            T0, 1, None, None, Outcome.REJECTED, RejectReason.MODIFY_PLACE_FAILED, text
        )

    cross = modify_failed(venue_message("post_only", bid=1, ask=2, asset=0))
    margin = modify_failed(venue_message("margin", asset=0))
    weird = modify_failed("something new")
    r = Rig()
    for _ in range(100):
        r.ks.on_event(cross, r.now)
    assert r.check() is None
    assert r.ks.rejection_counts(r.now) == {
        "margin": 0,
        "price": 0,
        "rate_limit": 0,
        "auth": 0,
        "other": 0,
        "all": 0,
    }
    for _ in range(9):
        r.ks.on_event(weird, r.now)
    assert r.check() is None and r.ks.rejection_counts(r.now)["other"] == 9
    for _ in range(5):
        r.ks.on_event(margin, r.now)
    d = r.check()
    assert d is not None and d.detail["rejection_class"] == "margin"
