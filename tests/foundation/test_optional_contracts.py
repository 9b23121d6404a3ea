"""Optional component contracts (``on_trades``, ``attach_prediction_log``, ``save``,
``close``): detected once at build time, and a component whose attribute of such a name is
not a fitting method is refused there with a message naming its plugin and component."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.foundation.test_engine import T0, toy_engine
from tests.foundation.toy_plugin import MidEstimator

from mmkit import hookimpl
from mmkit.components import (
    OPTIONAL_CONTRACTS,
    BatchExecutor,
    Estimates,
    TradeBatchConsumer,
    optional_contract_problem,
)
from mmkit.core.events import Event, TradeBatch
from mmkit.core.types import Instrument
from mmkit.engine import Engine
from mmkit.errors import PluginError
from mmkit.plugin_manager import PluginHost
from mmkit.registry import BuildContext, RiskLimits
from mmkit.runtime.observer import RunObserver
from mmkit.runtime.session import Session


class NotCallableOnTrades(MidEstimator):
    """An estimator whose ``on_trades`` is data, not a method."""

    on_trades = 5


class OneArgOnTrades(MidEstimator):
    def on_trades(self, batch: TradeBatch) -> None:  # missing now_ns
        pass


class BatchEstimator(MidEstimator):
    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def on_trades(self, batch: TradeBatch, now_ns: int) -> None:
        self.batches += 1


class BrokenPlugin:
    """Registers the estimator with a non-callable ``on_trades`` (a plugin author's slip)."""

    @hookimpl
    def register_estimators(self, register: Any) -> None:
        register("bad_batch", lambda ctx: NotCallableOnTrades())
        register("short_batch", lambda ctx: OneArgOnTrades())
        register("good_batch", lambda ctx: BatchEstimator())


def _host() -> PluginHost:
    h = PluginHost(load_entrypoints=False)
    h.register_plugin(BrokenPlugin(), "tests.broken_batch")
    return h


def _ctx(name: str) -> BuildContext[Any]:
    return BuildContext("estimator", name, None, Instrument(), RiskLimits())


def test_non_callable_on_trades_is_refused_at_build_naming_plugin_and_component() -> None:
    spec = _host().registry.get("estimator", "bad_batch")
    with pytest.raises(PluginError) as e:
        spec.build(_ctx("bad_batch"))
    msg = str(e.value)
    assert e.value.plugin == "tests.broken_batch"
    assert "plugin 'tests.broken_batch'" in msg
    assert "estimator 'bad_batch'" in msg and "NotCallableOnTrades" in msg
    assert "'on_trades'" in msg and "int" in msg and "TradeBatchConsumer" in msg


def test_on_trades_of_the_wrong_shape_is_refused_at_build() -> None:
    spec = _host().registry.get("estimator", "short_batch")
    with pytest.raises(PluginError) as e:
        spec.build(_ctx("short_batch"))
    assert "estimator 'short_batch'" in str(e.value)
    assert "on_trades(batch: 'TradeBatch')" in str(e.value)


def test_a_fitting_on_trades_builds() -> None:
    comp = _host().registry.get("estimator", "good_batch").build(_ctx("good_batch"))
    assert isinstance(comp, TradeBatchConsumer)


def test_engine_refuses_a_directly_given_component_with_a_broken_contract() -> None:
    base = toy_engine()
    with pytest.raises(TypeError, match=r"estimator 'bad'.*'on_trades'"):
        Engine(
            instrument=Instrument(),
            max_position=1.0,
            estimators=[("bad", NotCallableOnTrades())],
            quoter=(base._quoter_name, base._quoter),
            executor=(base._executor_name, base.executor),
        )


def test_engine_detects_the_contracts_once() -> None:
    base = toy_engine()
    est = BatchEstimator()
    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        estimators=[("batched", est), ("rows", MidEstimator())],
        quoter=(base._quoter_name, base._quoter),
        executor=(base._executor_name, base.executor),
    )
    assert [on_trades is not None for _label, on_trades, _ in eng._sinks] == [True, False]
    batch = TradeBatch(
        np.array([T0, T0 + 1], dtype=np.int64),
        np.array([100_000.0, 100_001.0]),
        np.array([0.1, 0.2]),
        np.array([1, -1], dtype=np.int8),
        np.array([T0, T0 + 1], dtype=np.int64),
    )
    eng.on_event(batch, batch.local_ts)
    assert est.batches == 1 and est.n == 0  # whole, not row by row
    assert not isinstance(base.executor, BatchExecutor) and eng._executor_on_trades is None


class Lifecycle:
    """A quoter with every lifecycle contract, recording the calls."""

    def __init__(self, calls: list[str], fail_save: bool = False) -> None:
        self.calls = calls
        self.fail_save = fail_save

    def quote(self, view: Any, est: Estimates, now_ns: int) -> Any:
        from mmkit.components import EMPTY_LADDER

        return EMPTY_LADDER

    def attach_prediction_log(self, log: Any) -> None:
        self.calls.append("attach")

    def save(self) -> None:
        self.calls.append("save")
        if self.fail_save:
            raise OSError("disk full")

    def close(self) -> None:
        self.calls.append("close")


def test_session_calls_the_lifecycle_contracts_save_before_close_even_after_a_failure() -> None:
    base = toy_engine()
    calls: list[str] = []
    eng = Engine(
        instrument=Instrument(),
        max_position=1.0,
        quoter=("life", Lifecycle(calls, fail_save=True)),
        executor=(base._executor_name, base.executor),
    )
    assert [(k, n, m) for k, n, m, _ in eng.finishers] == [
        ("quoter", "life", "save"),
        ("quoter", "life", "close"),
    ]
    assert [n for _k, n, _c in eng.prediction_loggers] == ["life"]
    sess = Session(eng, RunObserver(None))  # no journal: nothing to attach
    sess.close()
    assert calls == ["save", "close"]  # a failing save does not skip the close


# -- the shape check, for any arity ------------------------------------------------------


def _with_arity(n: int) -> Any:
    params = [inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(n)]

    def fn(*args: Any) -> None:
        return None

    fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return fn


@settings(max_examples=80, deadline=None)
@given(
    contract=st.sampled_from(OPTIONAL_CONTRACTS),
    arity=st.integers(min_value=0, max_value=5),
    kind=st.sampled_from(["estimator", "gate", "quoter", "executor"]),
)
def test_a_contract_method_is_refused_exactly_when_its_arity_does_not_fit(
    contract: tuple[str, type, frozenset[str], int], arity: int, kind: str
) -> None:
    method, _proto, kinds, nargs = contract

    class Comp:
        def on_event(self, event: Event, now_ns: int) -> None:
            pass

    comp = Comp()
    setattr(comp, method, _with_arity(arity))
    problem = optional_contract_problem(kind, comp)
    # the contracts that apply to this kind under this method name, and their arities
    wanted = {n for m, _p, ks, n in OPTIONAL_CONTRACTS if m == method and kind in ks}
    if not wanted:
        assert problem is None  # not a contract of this kind: its name is free
    elif arity in wanted:
        assert problem is None
    else:
        assert problem is not None and method in problem
    if kind in kinds and arity != nargs:
        assert problem is not None
