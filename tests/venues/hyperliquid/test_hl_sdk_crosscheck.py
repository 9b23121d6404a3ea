"""The official hyperliquid-python-sdk (test-only dependency) and mmkit sign identically.

For random orders, cancels and modifies, the SDK's ``Exchange`` (with its HTTP post
captured, nothing leaves the process) produces the same action dict, byte-identical msgpack
and the same signature as mmkit's wire builders and signer.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit import rounding
from mmkit.core.actions import Modify, Place, make_cloid
from mmkit.core.types import Instrument, Side, Tif
from mmkit.venues.hyperliquid import wire
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.signing import action_bytes, signed_envelope

sdk_exchange = pytest.importorskip(
    "hyperliquid.exchange",
    reason="hyperliquid-python-sdk not installed (pip install hyperliquid-python-sdk)",
)
sdk_types = pytest.importorskip("hyperliquid.utils.types")
sdk_constants = pytest.importorskip("hyperliquid.utils.constants")
from eth_account import Account  # noqa: E402

KEY_HEX = "0x0123456789012345678901234567890123456789012345678901234567890123"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
COINS = [("BTC", 5), ("ETH", 4), ("SOL", 2), ("DOGE", 0), ("kPEPE", 0), ("HYPE", 2)]
META = {"universe": [{"name": n, "szDecimals": d, "maxLeverage": 10} for n, d in COINS]}
SPOT_META: dict[str, Any] = {"universe": [], "tokens": []}
OUR_KEY = SigningKey.from_hex(KEY_HEX)


class Captured:
    def __init__(self, is_mainnet: bool, vault: str | None, expires: int | None) -> None:
        url = sdk_constants.MAINNET_API_URL if is_mainnet else "http://127.0.0.1:9"
        self.ex = sdk_exchange.Exchange(
            Account.from_key(KEY_HEX), url, meta=META, vault_address=vault, spot_meta=SPOT_META
        )
        self.ex.set_expires_after(expires)
        self.payloads: list[dict[str, Any]] = []

        def post(path: str, payload: dict[str, Any]) -> Any:
            assert path == "/exchange"
            self.payloads.append(payload)
            return {"status": "ok"}

        self.ex.post = post

    def last(self) -> dict[str, Any]:
        return self.payloads[-1]


def _fixed_nonce(monkeypatch: pytest.MonkeyPatch, nonce: int) -> None:
    monkeypatch.setattr(sdk_exchange, "get_timestamp_ms", lambda: nonce)


@st.composite
def orders(draw: st.DrawFn) -> tuple[str, Instrument, Place]:
    idx = draw(st.integers(0, len(COINS) - 1))
    coin, szd = COINS[idx]
    inst = Instrument(coin=coin, asset=idx, sz_decimals=szd)
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    raw_px = draw(st.floats(1e-4, 2e5, allow_nan=False))
    px = rounding.round_price(raw_px, szd, direction="down" if side is Side.BUY else "up")
    raw_sz = draw(st.floats(10.0**-szd, 1e4))
    sz = rounding.round_size(raw_sz, szd)
    cloid = make_cloid(draw(st.integers(0, 2**128 - 1)))
    tif = draw(st.sampled_from(list(Tif)))
    place = Place(
        request_id=1, cloid=cloid, side=side, px=px, sz=sz, tif=tif, reduce_only=draw(st.booleans())
    )
    return coin, inst, place


def _valid(inst: Instrument, p: Place) -> bool:
    return (
        rounding.is_valid_price(p.px, inst.sz_decimals)
        and rounding.is_valid_size(p.sz, inst.sz_decimals)
        and (p.reduce_only or rounding.meets_min_notional(p.px, p.sz))
    )


def _sdk_order_request(coin: str, p: Place, with_cloid: bool) -> dict[str, Any]:
    return {
        "coin": coin,
        "is_buy": p.side is Side.BUY,
        "sz": p.sz,
        "limit_px": p.px,
        "order_type": {"limit": {"tif": p.tif.value}},
        "reduce_only": p.reduce_only,
        "cloid": sdk_types.Cloid.from_str(p.cloid) if with_cloid else None,
    }


def _assert_same(sdk_payload: dict[str, Any], ours: dict[str, Any]) -> None:
    assert action_bytes(ours["action"]) == action_bytes(sdk_payload["action"])
    assert ours == sdk_payload


envs = st.tuples(
    st.booleans(),
    st.sampled_from([None, VAULT]),
    st.sampled_from([None, 1_800_000_000_000]),
    st.integers(1, 2**53),
)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)


@SETTINGS
@given(st.lists(orders(), min_size=1, max_size=4), envs, st.booleans())
def test_orders_match_sdk(
    monkeypatch: pytest.MonkeyPatch,
    batch: list[tuple[str, Instrument, Place]],
    env: tuple[bool, str | None, int | None, int],
    with_cloid: bool,
) -> None:
    batch = [b for b in batch if _valid(b[1], b[2])]
    if not batch:
        return
    is_mainnet, vault, expires, nonce = env
    cap = Captured(is_mainnet, vault, expires)
    _fixed_nonce(monkeypatch, nonce)
    cap.ex.bulk_orders([_sdk_order_request(c, p, with_cloid) for c, _, p in batch])
    wires = []
    for _, inst, p in batch:
        w = wire.order_wire_of(p, inst, max_order_notional=1e18)
        if not with_cloid:
            del w["c"]
        wires.append(w)
    ours = signed_envelope(OUR_KEY, wire.order_action(wires), nonce, vault, expires, is_mainnet)
    _assert_same(cap.last(), ours)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(COINS) - 1), st.integers(0, 2**63)), min_size=1, max_size=5
    ),
    envs,
)
def test_cancels_match_sdk(
    monkeypatch: pytest.MonkeyPatch,
    cancels: list[tuple[int, int]],
    env: tuple[bool, str | None, int | None, int],
) -> None:
    is_mainnet, vault, expires, nonce = env
    cap = Captured(is_mainnet, vault, expires)
    _fixed_nonce(monkeypatch, nonce)
    cap.ex.bulk_cancel([{"coin": COINS[a][0], "oid": o} for a, o in cancels])
    ours = signed_envelope(OUR_KEY, wire.cancel_action(cancels), nonce, vault, expires, is_mainnet)
    _assert_same(cap.last(), ours)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(COINS) - 1), st.integers(0, 2**128 - 1)),
        min_size=1,
        max_size=5,
    ),
    envs,
)
def test_cancels_by_cloid_match_sdk(
    monkeypatch: pytest.MonkeyPatch,
    cancels: list[tuple[int, int]],
    env: tuple[bool, str | None, int | None, int],
) -> None:
    is_mainnet, vault, expires, nonce = env
    cap = Captured(is_mainnet, vault, expires)
    _fixed_nonce(monkeypatch, nonce)
    cap.ex.bulk_cancel_by_cloid(
        [{"coin": COINS[a][0], "cloid": sdk_types.Cloid.from_int(c)} for a, c in cancels]
    )
    ours = signed_envelope(
        OUR_KEY,
        wire.cancel_by_cloid_action([(a, make_cloid(c)) for a, c in cancels]),
        nonce,
        vault,
        expires,
        is_mainnet,
    )
    _assert_same(cap.last(), ours)


@SETTINGS
@given(
    st.lists(
        st.tuples(orders(), st.one_of(st.integers(0, 2**63), st.none())), min_size=1, max_size=4
    ),
    envs,
)
def test_modifies_match_sdk(
    monkeypatch: pytest.MonkeyPatch,
    mods: list[tuple[tuple[str, Instrument, Place], int | None]],
    env: tuple[bool, str | None, int | None, int],
) -> None:
    mods = [m for m in mods if _valid(m[0][1], m[0][2])]
    if not mods:
        return
    is_mainnet, vault, expires, nonce = env
    cap = Captured(is_mainnet, vault, expires)
    _fixed_nonce(monkeypatch, nonce)
    requests = []
    pairs = []
    for (coin, inst, p), oid in mods:
        target: Any = oid if oid is not None else sdk_types.Cloid.from_str(p.cloid)
        requests.append({"oid": target, "order": _sdk_order_request(coin, p, True)})
        m = Modify(
            request_id=2,
            cloid=p.cloid,
            oid=oid,
            side=p.side,
            px=p.px,
            sz=p.sz,
            tif=p.tif,
            reduce_only=p.reduce_only,
        )
        pairs.append((wire.modify_target(m), wire.order_wire_of(m, inst, 1e18)))
    cap.ex.bulk_modify_orders_new(requests)
    ours = signed_envelope(
        OUR_KEY, wire.batch_modify_action(pairs), nonce, vault, expires, is_mainnet
    )
    _assert_same(cap.last(), ours)


@pytest.mark.parametrize("time_ms", [None, 1_800_000_000_000])
def test_schedule_cancel_matches_sdk(monkeypatch: pytest.MonkeyPatch, time_ms: int | None) -> None:
    cap = Captured(False, None, None)
    _fixed_nonce(monkeypatch, 1_700_000_000_000)
    cap.ex.schedule_cancel(time_ms)
    ours = signed_envelope(
        OUR_KEY, wire.schedule_cancel_action(time_ms), 1_700_000_000_000, None, None, False
    )
    _assert_same(cap.last(), ours)


@pytest.mark.parametrize(("lev", "cross"), [(5, True), (20, False)])
def test_update_leverage_matches_sdk(
    monkeypatch: pytest.MonkeyPatch, lev: int, cross: bool
) -> None:
    cap = Captured(False, None, None)
    _fixed_nonce(monkeypatch, 1_700_000_000_001)
    cap.ex.update_leverage(lev, "ETH", cross)
    ours = signed_envelope(
        OUR_KEY, wire.update_leverage_action(1, cross, lev), 1_700_000_000_001, None, None, False
    )
    _assert_same(cap.last(), ours)


def test_noop_matches_sdk() -> None:
    cap = Captured(True, None, None)
    cap.ex.noop(1_700_000_000_002)
    ours = signed_envelope(OUR_KEY, wire.noop_action(), 1_700_000_000_002, None, None, True)
    _assert_same(cap.last(), ours)
