"""One model of the exchange: one error catalogue, one fault catalogue.

The simulated venue, the emulator and the audit harness format their strings from
:data:`mmkit.venues.hyperliquid.errors.MESSAGES` and describe their faults from
:mod:`mmkit.venues.faults`; these tests pin that down.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.audit.harness import FakeVenue
from mmkit.core.outcomes import RejectReason
from mmkit.errors import ConfigError
from mmkit.venues import faults
from mmkit.venues.emulator import faults as emulator_faults
from mmkit.venues.hyperliquid.errors import (
    ASSET_SUFFIXED,
    MESSAGES,
    classify_error,
    reason_of,
    venue_message,
)
from mmkit.venues.sim import _layout as lay
from mmkit.venues.sim.messages import REASONS, modify_place_message, reject_message

_CODES = [c for c in REASONS if c not in (lay.R_NONE, lay.R_MODIFY_PLACE_FAILED)]
_prices = st.floats(0.0001, 1e6, allow_nan=False) | st.just(math.nan)


@given(
    st.sampled_from(_CODES),
    st.integers(0, 10_000),
    _prices,
    _prices,
    st.floats(0.01, 1e4, allow_nan=False),
    st.integers(1, 4096),
)
def test_sim_strings_read_back_as_their_kernel_reason(
    code: int, asset: int, bid: float, ask: float, min_notional: float, cap: int
) -> None:
    msg = reject_message(
        code, asset=asset, bid=bid, ask=ask, min_notional=min_notional, max_orders=cap
    )
    c = classify_error(msg)
    assert c.reason is REASONS[code], msg
    assert "{" not in msg and "nan" not in msg.lower()
    assert c.asset == (asset if msg.endswith(f"asset={asset}") else None)
    placed = modify_place_message(msg)
    assert classify_error(placed).reason is RejectReason.MODIFY_PLACE_FAILED
    assert classify_error(placed).inner is REASONS[code]


def test_sim_has_no_string_of_its_own() -> None:
    """Each sim string is the catalogue's template, filled in (not a re-spelling)."""
    msg = reject_message(
        lay.R_MIN_NOTIONAL, asset=3, bid=1.0, ask=2.0, min_notional=12.5, max_orders=8
    )
    assert msg == venue_message("min_notional", asset=3, amount="12.5")
    assert msg == "Order must have minimum value of $12.5. asset=3"
    assert reject_message(lay.R_NONE, asset=0, bid=1, ask=2, min_notional=10, max_orders=1) == ""


def test_venue_message_names_what_is_missing() -> None:
    with pytest.raises(KeyError, match="no venue message 'nope'"):
        venue_message("nope")
    with pytest.raises(KeyError, match="needs field 'bid'"):
        venue_message("post_only", asset=0)
    assert venue_message("modify_gone", asset=4) == MESSAGES["modify_gone"]  # never suffixed
    assert "margin" in ASSET_SUFFIXED and venue_message("margin", asset=4).endswith(" asset=4")


def test_emulator_catalogue_is_the_shared_one() -> None:
    assert emulator_faults.CATALOGUE is faults.CATALOGUE
    assert emulator_faults.check_fault is faults.check_fault
    assert emulator_faults.POST_ONLY_MESSAGE is faults.POST_ONLY_MESSAGE
    emulated = {n for n, f in faults.FAULTS.items() if "emulator" in f.layers}
    assert set(faults.CATALOGUE) == emulated
    assert faults.check_fault("http_timeout", {"when": "after"}, "t")["hang_s"] == 15.0


def test_every_harness_fault_names_a_real_knob() -> None:
    v = FakeVenue()
    for f in faults.FAULTS.values():
        assert f.layers <= {"emulator", "harness"} and f.text
        assert ("harness" in f.layers) == (f.knob is not None), f.name
        if f.knob is not None:
            assert hasattr(v, f.knob), (f.name, f.knob)


@given(st.one_of(st.none(), st.floats(0, faults.MAX_RETRY_AFTER_S, allow_nan=False)))
def test_rate_limited_text(retry: float | None) -> None:
    msg = faults.rate_limited_message(faults.check_retry_after_s(retry))
    assert msg.startswith(faults.RATE_LIMITED_TEXT) and "429" in msg
    assert ("Retry-After" in msg) == (retry is not None)
    assert reason_of(msg) is RejectReason.OTHER  # a transport failure, not a venue string


@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=3)))
def test_knob_counts_are_checked(n: object) -> None:
    ok = isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= faults.MAX_COUNT
    if ok:
        assert faults.check_count(n, "k") == n
    else:
        with pytest.raises(ConfigError, match="fault knob k"):
            faults.check_count(n, "k")
