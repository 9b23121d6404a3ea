"""The emulator answers hostile request bodies like the venue: HTTP 422 with its text.

Real loopback sockets (127.0.0.1). Before issue 16 a body nested 100k deep ended in a
RecursionError (HTTP 500), an action type that is a list raised TypeError, and integers
beyond 64 bits were accepted.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkit.venues.emulator.config import EmulatorConfig
from mmkit.venues.emulator.server import Emulator
from mmkit.venues.hyperliquid.errors import MESSAGES
from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.signing import signed_envelope

pytestmark = pytest.mark.network

KEY = SigningKey.from_hex("0x" + "42" * 32)
ORDER = {
    "type": "order",
    "orders": [{"a": 0, "b": True, "p": "1", "s": "1", "r": False, "t": {"limit": {"tif": "Alo"}}}],
    "grouping": "na",
}

HOSTILE: list[tuple[str, str]] = [
    ("/exchange", "[" * 100_000 + "]" * 100_000),
    ("/info", '{"type": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    ("/exchange", '{"nonce": ' + "9" * 400 + "}"),
    ("/exchange", '{"nonce": 1, "signature": {}, "action": {"type": ["order"]}}'),
    ("/exchange", '{"nonce": 1e400, "signature": {}, "action": {"type": "noop"}}'),
    ("/info", '{"type": "orderStatus", "user": "0x00", "oid": NaN}'),
    ("/info", "not json at all"),
    ("/exchange", ""),
]


async def _post(http: aiohttp.ClientSession, url: str, body: str) -> tuple[int, str]:
    async with http.post(url, data=body.encode()) as r:
        return r.status, await r.text()


def _run(check: Any) -> None:
    async def main() -> None:
        cfg = EmulatorConfig(accounts=(KEY.address.lower(),), speed=1.0)
        async with Emulator(cfg) as emu, aiohttp.ClientSession() as http:
            await check(emu, http)

    asyncio.run(main())


def test_hostile_bodies_get_422_with_the_venue_text() -> None:
    async def check(emu: Emulator, http: aiohttp.ClientSession) -> None:
        for path, body in HOSTILE:
            status, text = await _post(http, emu.url + path, body)
            assert status == 422, (path, body[:40], status, text[:200])
            assert text.startswith(MESSAGES["schema_422"]), text[:200]
        # and the emulator still serves a good request afterwards
        status, text = await _post(http, emu.url + "/info", json.dumps({"type": "meta"}))
        assert status == 200 and "universe" in text

    _run(check)


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1])
def test_signed_action_with_integers_beyond_64_bits_is_422(bad: int) -> None:
    async def check(emu: Emulator, http: aiohttp.ClientSession) -> None:
        action = json.loads(json.dumps(ORDER))
        action["orders"][0]["a"] = bad
        env = signed_envelope(KEY, ORDER, 1, None, None, False)
        env["action"] = action
        status, text = await _post(http, emu.url + "/exchange", json.dumps(env))
        assert status == 422 and "64" in text

    _run(check)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda k: st.lists(k, max_size=4) | st.dictionaries(st.text(max_size=6), k, max_size=4),
        max_leaves=20,
    )
)
def test_random_bodies_never_500(body: Any) -> None:
    async def check(emu: Emulator, http: aiohttp.ClientSession) -> None:
        for path in ("/exchange", "/info"):
            status, text = await _post(http, emu.url + path, json.dumps(body))
            assert status in (200, 422, 429), (path, status, text[:200])

    _run(check)
