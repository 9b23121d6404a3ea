"""``/exchange`` and ``/info`` of the emulator over loopback HTTP, signed with mmkit's signer:
authentication, nonces, order rules, limits and the venue's own error strings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.server import Emulator
from mmkit.venues.hyperliquid import wire
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.signing import signed_envelope

pytestmark = pytest.mark.network

KEY = SigningKey.from_hex("0x" + "42" * 32)
OTHER = SigningKey.from_hex("0x" + "43" * 32)
ME = KEY.address.lower()


class Harness:
    def __init__(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        self.emu = emu
        self.http = http
        self.nonce = int(time.time() * 1000)

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(self.emu.url + path, json=body) as r:
            text = await r.text()
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, text

    async def act(
        self,
        action: dict[str, Any],
        key: SigningKey = KEY,
        *,
        nonce: int | None = None,
        expires: int | None = None,
    ) -> Any:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        body = signed_envelope(key, action, nonce, None, expires, False)
        status, reply = await self.post("/exchange", body)
        assert status == 200, reply
        return reply

    async def info(self, body: dict[str, Any]) -> Any:
        status, reply = await self.post("/info", body)
        assert status == 200, reply
        return reply

    def bbo(self) -> tuple[float, float]:
        book = self.emu.market.book
        assert book is not None
        return float(book.bid_px[0]), float(book.ask_px[0])


def order(px: str, sz: str = "0.001", *, tif: str = "Alo", buy: bool = True, **kw: Any) -> Any:
    w = wire.order_wire(
        0, buy, px, sz, kw.get("reduce_only", False), wire.limit_type(tif), kw.get("cloid")
    )
    return wire.order_action([w])


def status0(reply: Any) -> Any:
    assert reply["status"] == "ok", reply
    return reply["response"]["data"]["statuses"][0]


def run(cfg: EmulatorConfig, body: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        async with Emulator(cfg) as emu, aiohttp.ClientSession() as http:
            await body(Harness(emu, http))

    asyncio.run(main())


def cfg(**kw: Any) -> EmulatorConfig:
    base: dict[str, Any] = {"accounts": (ME,), "speed": 1.0}
    base.update(kw)
    return EmulatorConfig(**base)


def test_unknown_signer_listed_mode() -> None:
    async def body(h: Harness) -> None:
        bid, _ = h.bbo()
        reply = await h.act(order(str(int(bid - 210))), OTHER)
        assert reply == {
            "status": "err",
            "response": f"User or API Wallet {OTHER.address.lower()} does not exist.",
        }

    run(cfg(funding="listed"), body)


def test_seen_and_any_funding() -> None:
    async def seen(h: Harness) -> None:
        bid, _ = h.bbo()
        px = str(int(bid - 210))
        assert (await h.act(order(px), OTHER))["status"] == "err"
        await h.info({"type": "clearinghouseState", "user": OTHER.address.lower()})
        assert "resting" in status0(await h.act(order(px), OTHER))

    async def any_(h: Harness) -> None:
        bid, _ = h.bbo()
        assert "resting" in status0(await h.act(order(str(int(bid - 210))), OTHER))

    run(cfg(funding="seen", accounts=()), seen)
    run(cfg(funding="any", accounts=()), any_)


def test_nonce_rules_and_expiry() -> None:
    async def body(h: Harness) -> None:
        now = int(time.time() * 1000)
        for i in range(100):
            assert (await h.act(wire.noop_action(), nonce=now + i))["status"] == "ok"
        dup = await h.act(wire.noop_action(), nonce=now + 5)
        assert dup == {"status": "err", "response": f"Invalid nonce: duplicate nonce {now + 5}"}
        low = await h.act(wire.noop_action(), nonce=now - 1)
        assert low == {
            "status": "err",
            "response": f"Invalid nonce: nonce too low {now - 1} < {now}",
        }
        old = await h.act(wire.noop_action(), OTHER, nonce=now - 3 * 86_400_000)
        assert old["status"] == "err"  # OTHER is unknown: the signer check comes first
        far = await h.act(wire.noop_action(), nonce=now + 2 * 86_400_000)
        assert far["response"].startswith("Invalid nonce")
        expired = await h.act(wire.noop_action(), nonce=now + 200, expires=now - 1000)
        assert expired == {"status": "err", "response": "Action already expired"}

    run(cfg(), body)


def test_order_rules_use_the_venue_strings() -> None:
    async def body(h: Harness) -> None:
        bid, ask = h.bbo()
        px = str(int(bid - 210))
        assert status0(await h.act(order(px, "0.000001"))) == {"error": "Order has invalid size."}
        assert status0(await h.act(order(px + ".5"))) == {"error": "Order has invalid price."}
        assert status0(await h.act(order("100000.0"))) == {"error": "Order has invalid price."}
        assert status0(await h.act(order(px, "0.0001"))) == {
            "error": "Order must have minimum value of $10. asset=0"
        }
        ioc = status0(await h.act(order(str(int(bid - 500)), tif="Ioc")))
        assert ioc == {
            "error": "Order could not immediately match against any resting orders. asset=0"
        }
        taker = status0(await h.act(order(str(int(ask + 50)), tif="Ioc")))
        assert float(taker["filled"]["totalSz"]) == pytest.approx(0.001)
        far = status0(await h.act(order(str(int(bid * 0.1)), "0.01")))
        assert far["error"].startswith("Order price cannot be more than 80% away")

    run(cfg(), body)


def test_schema_errors_are_http_422() -> None:
    async def body(h: Harness) -> None:
        bad: list[dict[str, Any]] = [
            {"type": "frobnicate"},
            {"type": "updateLeverage", "asset": 0, "isCross": True, "leverage": 2.5},
            {
                "type": "order",
                "orders": [
                    {"a": 0, "b": True, "p": "1", "s": "1", "r": False, "t": {"market": {}}}
                ],
                "grouping": "na",
            },
        ]
        for action in bad:
            env = signed_envelope(KEY, action, h.nonce + 1, None, None, False)
            h.nonce += 1
            status, text = await h.post("/exchange", env)
            assert status == 422
            assert text.startswith("Failed to deserialize the JSON body into the target type")

    run(cfg(), body)


def test_cancels_modifies_and_batch_limit() -> None:
    async def body(h: Harness) -> None:
        bid, _ = h.bbo()
        cloid = "0x" + "ab" * 16
        rest = status0(await h.act(order(str(int(bid - 220)), cloid=cloid)))["resting"]
        assert rest["cloid"] == cloid
        mod = await h.act(
            wire.batch_modify_action(
                [
                    (
                        cloid,
                        wire.order_wire(
                            0, True, str(int(bid - 221)), "0.002", False, wire.limit_type("Alo")
                        ),
                    )
                ]
            )
        )
        new = status0(mod)["resting"]
        assert new["oid"] != rest["oid"] and new["cloid"] == cloid  # cloid carried over
        st = await h.info({"type": "orderStatus", "user": ME, "oid": rest["oid"]})
        assert st["order"]["status"] == "canceled"
        gone = status0(
            await h.act(
                wire.batch_modify_action(
                    [
                        (
                            rest["oid"],
                            wire.order_wire(
                                0, True, str(int(bid - 222)), "0.002", False, wire.limit_type("Alo")
                            ),
                        )
                    ]
                )
            )
        )
        assert gone == {"error": "Cannot modify canceled or filled order"}
        single = await h.act(
            {
                "type": "modify",
                "oid": rest["oid"],
                "order": wire.order_wire(
                    0, True, str(int(bid - 222)), "0.002", False, wire.limit_type("Alo")
                ),
            }
        )
        assert single == {"status": "err", "response": "Cannot modify canceled or filled order"}
        crossing = status0(
            await h.act(
                wire.batch_modify_action(
                    [
                        (
                            new["oid"],
                            wire.order_wire(
                                0, True, str(int(bid + 100)), "0.002", False, wire.limit_type("Alo")
                            ),
                        )
                    ]
                )
            )
        )
        assert crossing["error"].startswith(
            "Error placing new order during modify: Post only order would have immediately"
        )
        assert await h.info({"type": "openOrders", "user": ME, "dex": ""}) == []  # gone too
        rest2 = status0(await h.act(order(str(int(bid - 230)), cloid=cloid)))["resting"]
        by_cloid = await h.act(wire.cancel_by_cloid_action([(0, cloid)]))
        assert status0(by_cloid) == "success"
        assert status0(await h.act(wire.cancel_action([(0, rest2["oid"])]))) == {
            "error": "Order was never placed, already canceled, or filled. asset=0"
        }
        too_many = await h.act(wire.cancel_action([(0, i) for i in range(201)]))
        assert too_many == {"status": "err", "response": "Signed action over weight limit of 200."}

    run(cfg(), body)


def test_ip_weight_limit_is_http_429() -> None:
    async def body(h: Harness) -> None:
        assert (await h.post("/info", {"type": "meta"}))[0] == 200
        async with h.http.post(h.emu.url + "/info", json={"type": "meta"}) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "1"
        assert (await h.post("/info", {"type": "l2Book", "coin": "BTC"}))[0] == 200  # weight 2

    run(cfg(ip_weight_per_min=30), body)


def test_address_budget_and_open_order_cap() -> None:
    async def budget(h: Harness) -> None:
        bid, _ = h.bbo()
        for i in range(3):
            assert "resting" in status0(await h.act(order(str(int(bid - 210 - i)))))
        over = await h.act(order(str(int(bid - 220))))  # the one request per 10 s goes through
        assert "resting" in status0(over)
        refused = await h.act(order(str(int(bid - 221))))
        assert refused["status"] == "err"
        assert refused["response"].startswith("Too many cumulative requests sent (5 > 3)")
        rl = await h.info({"type": "userRateLimit", "user": ME})
        assert rl["nRequestsUsed"] == 4 and rl["nRequestsCap"] == 3

    async def cap(h: Harness) -> None:
        bid, _ = h.bbo()
        for i in range(2):
            assert "resting" in status0(await h.act(order(str(int(bid - 210 - i)))))
        third = status0(await h.act(order(str(int(bid - 230)))))
        assert third["error"].startswith("Too many open orders")

    run(cfg(address_initial_budget=3), budget)
    run(cfg(open_order_cap=2), cap)


def test_schedule_cancel_and_leverage() -> None:
    async def gated(h: Harness) -> None:
        reply = await h.act(wire.schedule_cancel_action(int(time.time() * 1000) + 10_000))
        assert reply == {
            "status": "err",
            "response": "Cannot set scheduled cancel time until enough volume traded. "
            "Required: $1000000. Traded: $0.00.",
        }

    async def fires(h: Harness) -> None:
        bid, ask = h.bbo()
        oid = status0(await h.act(order(str(int(bid - 210)))))["resting"]["oid"]
        now = int(time.time() * 1000)
        assert (await h.act(wire.schedule_cancel_action(now + 1000)))["status"] == "err"
        assert (await h.act(wire.schedule_cancel_action(now + 5_200)))["status"] == "ok"
        h.emu.book.get(ME).schedule_cancel_ms = now  # type: ignore[union-attr]
        await asyncio.sleep(0.6)
        st = await h.info({"type": "orderStatus", "user": ME, "oid": oid})
        assert st["order"]["status"] == "scheduledCancel"
        assert (await h.act(wire.update_leverage_action(0, True, 10)))["status"] == "ok"
        await h.act(order(str(int(ask + 50)), tif="Ioc"))  # open a position
        switch = await h.act(wire.update_leverage_action(0, False, 10))
        assert switch == {
            "status": "err",
            "response": "Cannot switch leverage type with open position.",
        }
        state = await h.info({"type": "clearinghouseState", "user": ME, "dex": ""})
        assert state["assetPositions"][0]["position"]["szi"] == "0.001"
        fills = await h.info({"type": "userFills", "user": ME, "aggregateByTime": False})
        assert fills[0]["dir"] == "Open Long" and fills[0]["crossed"] is True

    run(cfg(), gated)
    run(cfg(schedule_cancel_min_volume=0.0), fires)


def test_control_endpoint_and_faults() -> None:
    async def body(h: Harness) -> None:
        status, reply = await h.post("/_control", {"fault": "nope"})
        assert status == 400 and "unknown fault 'nope'" in reply["response"]
        status, reply = await h.post(
            "/_control", {"fault": "http_5xx", "status": 503, "duration": 5}
        )
        assert status == 200
        assert (await h.post("/info", {"type": "meta"}))[0] == 503
        await h.post("/_control", {"clear": "http_5xx"})
        status, _ = await h.post("/_control", {"fault": "http_429", "duration": 5})
        assert (await h.post("/info", {"type": "meta"}))[0] == 429
        await h.post("/_control", {"clear": None})
        await h.post("/_control", {"fault": "post_only", "duration": 5})
        bid, _ = h.bbo()
        gtc = status0(await h.act(order(str(int(bid - 210)), tif="Gtc")))
        assert gtc == {"error": "Only post-only orders are allowed during maintenance."}
        assert "resting" in status0(await h.act(order(str(int(bid - 210)), tif="Alo")))
        await h.post("/_control", {"fault": "restart", "down_s": 0.3})
        assert (await h.post("/info", {"type": "meta"}))[0] == 503
        await asyncio.sleep(0.35)
        assert len(await h.info({"type": "openOrders", "user": ME})) == 1  # orders persist
        status, state = await h.post("/_control", {"state": True})
        assert state["response"]["accounts"][ME]["open_orders"]

    run(cfg(), body)


def test_insufficient_margin() -> None:
    async def body(h: Harness) -> None:
        bid, _ = h.bbo()
        px = str(int(bid - 210))
        # $100 at 20x leverage: at most ~$2000 of exposure per side
        assert "resting" in status0(await h.act(order(px, "0.015")))
        second = status0(await h.act(order(px, "0.01")))
        assert second == {"error": "Insufficient margin to place order. asset=0"}
        sell = status0(await h.act(order(str(int(bid + 250)), "0.015", buy=False)))
        assert "resting" in sell  # the other side is checked on its own
        reduce = status0(await h.act(order(px, "0.01", reduce_only=True)))
        assert "error" not in reduce or "margin" not in reduce["error"]

    run(cfg(balance_usd=100.0), body)


def test_fill_race_beats_cancel_and_modify() -> None:
    async def body(h: Harness) -> None:
        bid, _ = h.bbo()
        a = status0(await h.act(order(str(int(bid - 300)))))["resting"]["oid"]
        b = status0(await h.act(order(str(int(bid - 301)))))["resting"]["oid"]
        await h.emu.apply("fill_race", {"duration": 5.0})
        assert status0(await h.act(wire.cancel_action([(0, a)]))) == {
            "error": "Order was never placed, already canceled, or filled. asset=0"
        }
        mod = wire.order_wire(0, True, str(int(bid - 302)), "0.001", False, wire.limit_type("Alo"))
        assert status0(await h.act(wire.batch_modify_action([(b, mod)]))) == {
            "error": "Cannot modify canceled or filled order"
        }
        fills = await h.info({"type": "userFills", "user": ME})
        assert sorted(f["oid"] for f in fills) == sorted([a, b])
        for oid in (a, b):
            st = await h.info({"type": "orderStatus", "user": ME, "oid": oid})
            assert st["order"]["status"] == "filled"

    run(cfg(), body)
