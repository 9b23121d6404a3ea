from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from mmkit.params import build_params, defaults_of, describe_fields, option_problems, param


@dataclass(frozen=True)
class P:
    rate: float = param(1.0, gt=0, le=100, help="a rate")
    count: int = param(3, ge=1)
    mode: Literal["flat", "geometric"] = param("flat")
    names: list[str] = param(["a"])
    on: bool = param(True)


def test_defaults_and_roundtrip() -> None:
    d = defaults_of(P)
    assert d == {"rate": 1.0, "count": 3, "mode": "flat", "names": ["a"], "on": True}
    obj, errs = build_params(P, d, "x")
    assert errs == [] and obj == P()


def test_int_widens_to_float_but_bool_is_not_a_number() -> None:
    obj, errs = build_params(P, {"rate": 2}, "x")
    assert errs == [] and obj is not None and obj.rate == 2.0 and isinstance(obj.rate, float)
    _, errs = build_params(P, {"rate": True}, "x")
    assert errs == ["x.rate: expected a number, got bool True"]


def test_unknown_key_suggests_close_match() -> None:
    _, errs = build_params(P, {"rtae": 2.0}, "sec")
    assert errs == ["[sec] unknown key 'rtae'; did you mean 'rate'?"]


def test_unknown_key_without_match_lists_known_keys() -> None:
    _, errs = build_params(P, {"zzz": 1}, "sec")
    assert "known keys: count, mode, names, on, rate" in errs[0]


def test_range_and_literal_messages() -> None:
    _, errs = build_params(P, {"rate": 0.0, "count": 0, "mode": "geometrik"}, "s")
    assert "s.rate: 0.0 is out of range (must be > 0 and <= 100)" in errs
    assert "s.count: 0 is out of range (must be >= 1)" in errs
    assert any("did you mean 'geometric'" in e for e in errs)


def test_list_item_type_is_checked() -> None:
    _, errs = build_params(P, {"names": ["a", 3]}, "s")
    assert errs == ["s.names[1]: expected a string, got int 3"]


def test_source_prefix() -> None:
    _, errs = build_params(P, {"count": "x"}, "s", lambda k: f"file.toml ({k})")
    assert errs == ["file.toml (s.count): s.count: expected an integer, got str 'x'"]


def test_describe_fields_has_help() -> None:
    rows = describe_fields(P)
    assert rows[0][0] == "rate" and rows[0][3] == "a rate"


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.text(),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=3),
    )
)
def test_any_value_validates_or_explains(value: object) -> None:
    obj, errs = build_params(P, {"rate": value}, "s")
    assert (obj is None) != (errs == [])
    if obj is not None:
        assert 0 < obj.rate <= 100


@dataclass(frozen=True)
class Positive:
    tick: float = param(1.0, gt=0)


@given(st.none() | st.floats() | st.integers(-(10**6), 10**6).map(float))
def test_an_option_is_checked_as_a_parameter_with_the_same_bounds(value: float | None) -> None:
    """``option_problems`` (``--tick`` of data convert, backtest, calibrate) refuses exactly
    what a parameter with the same bounds refuses (``data synth --tick``), naming the option;
    an option not given passes."""
    problems = option_problems({"--tick": value}, gt=0)
    if value is None:
        assert problems == []
        return
    ok = value == value and abs(value) != float("inf") and value > 0
    assert (problems == []) is ok
    _, as_param = build_params(Positive, {"tick": value}, "")
    assert problems == [p.replace("tick: ", "--tick: ", 1) for p in as_param]
