"""Every test vector of the protocol reference §8, reproduced by our signer."""

from __future__ import annotations

from typing import Any

import pytest

from mmkit.venues.hyperliquid.keys import SigningKey
from mmkit.venues.hyperliquid.signing import (
    AGENT_TYPEHASH,
    L1_DOMAIN_SEPARATOR,
    USD_SEND_TYPES,
    WITHDRAW_TYPES,
    Signature,
    SignatureError,
    action_bytes,
    connection_id,
    float_to_int_for_hashing,
    l1_digest,
    prepare_user_signed_action,
    recover_signer,
    recover_user_signer,
    sign_l1_action,
    sign_user_signed_action,
)

KEY_HEX = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"

DUMMY: dict[str, Any] = {"type": "dummy", "num": float_to_int_for_hashing(1000)}
ORDER: dict[str, Any] = {
    "type": "order",
    "orders": [
        {"a": 1, "b": True, "p": "100", "s": "100", "r": False, "t": {"limit": {"tif": "Gtc"}}}
    ],
    "grouping": "na",
}
ORDER_CLOID: dict[str, Any] = {
    "type": "order",
    "orders": [
        {
            "a": 1,
            "b": True,
            "p": "100",
            "s": "100",
            "r": False,
            "t": {"limit": {"tif": "Gtc"}},
            "c": "0x00000000000000000000000000000001",
        }
    ],
    "grouping": "na",
}
TRIGGER: dict[str, Any] = {
    "type": "order",
    "orders": [
        {
            "a": 1,
            "b": True,
            "p": "100",
            "s": "100",
            "r": False,
            "t": {"trigger": {"isMarket": True, "triggerPx": "103", "tpsl": "sl"}},
        }
    ],
    "grouping": "na",
}

# (id, action, vault, connectionId, mainnet (r, s, v), testnet (r, s, v))
VECTORS: list[
    tuple[str, dict[str, Any], str | None, str, tuple[str, str, int], tuple[str, str, int]]
] = [
    (
        "1-dummy",
        DUMMY,
        None,
        "0xf528daee6a0bd11407b483cfcd9a48c56884180b70ee86f124053e5fc1bf4d57",
        (
            "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
            "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8",
            27,
        ),
        (
            "0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510",
            "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613",
            28,
        ),
    ),
    (
        "2-order",
        ORDER,
        None,
        "0x884f2c32bb6dbdd65f6033e32fb28c0cb6f5b345db0f6471fd3366d85c9252c1",
        (
            "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
            "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e",
            28,
        ),
        (
            "0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
            "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5",
            27,
        ),
    ),
    (
        "3-order-cloid",
        ORDER_CLOID,
        None,
        "0x0ba500cedd8f4ba6ded620a0b1cd04f124d9ba745e2e2893fcc763bcc1444af5",
        (
            "0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
            "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da",
            27,
        ),
        (
            "0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
            "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988",
            28,
        ),
    ),
    (
        "4-dummy-vault",
        DUMMY,
        VAULT,
        "0xde9e09a7a3da45cc694096d4bfdcd89bc1b892d05497c5ecc1f56c335945184c",
        (
            "0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239",
            "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c",
            28,
        ),
        (
            "0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b",
            "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60",
            27,
        ),
    ),
    (
        "5-trigger",
        TRIGGER,
        None,
        "0x430a86fb9876e901920d931f5bb20c9d011f6389bd179f39a73c09e6219adcad",
        (
            "0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
            "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405",
            27,
        ),
        (
            "0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4",
            "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac",
            28,
        ),
    ),
    (
        "6-create-sub",
        {"type": "createSubAccount", "name": "example"},
        None,
        "0x9a7b5272baf65d28b0589bd50863a42ac35897553a6beb274e625b6faf7d6bb1",
        (
            "0x51096fe3239421d16b671e192f574ae24ae14329099b6db28e479b86cdd6caa7",
            "0xb71f7d293af92d3772572afb8b102d167a7cef7473388286bc01f52a5c5b423",
            27,
        ),
        (
            "0xa699e3ed5c2b89628c746d3298b5dc1cca604694c2c855da8bb8250ec8014a5b",
            "0x53f1b8153a301c72ecc655b1c315d64e1dcea3ee58921fd7507e35818fcc1584",
            28,
        ),
    ),
    (
        "7-sub-transfer",
        {
            "type": "subAccountTransfer",
            "subAccountUser": "0x1d9470d4b963f552e6f671a81619d395877bf409",
            "isDeposit": True,
            "usd": 10,
        },
        None,
        "0xd12f71eba9e3e792812bfdf01a6a92f4d4016bb0541e850b41f770891c0cc447",
        (
            "0x43592d7c6c7d816ece2e206f174be61249d651944932b13343f4d13f306ae602",
            "0x71a926cb5c9a7c01c3359ec4c4c34c16ff8107d610994d4de0e6430e5cc0f4c9",
            28,
        ),
        (
            "0xe26574013395ad55ee2f4e0575310f003c5bb3351b5425482e2969fa51543927",
            "0xefb08999196366871f919fd0e138b3a7f30ee33e678df7cfaf203e25f0a4278",
            28,
        ),
    ),
    (
        "8-schedule-cancel-clear",
        {"type": "scheduleCancel"},
        None,
        "0xa2887a3147b6542306b61d311a056fd1753913d63cc904f30cba61712a98f4ae",
        (
            "0x6cdfb286702f5917e76cd9b3b8bf678fcc49aec194c02a73e6d4f16891195df9",
            "0x6557ac307fa05d25b8d61f21fb8a938e703b3d9bf575f6717ba21ec61261b2a0",
            27,
        ),
        (
            "0xc75bb195c3f6a4e06b7d395acc20bbb224f6d23ccff7c6a26d327304e6efaeed",
            "0x342f8ede109a29f2c0723bd5efb9e9100e3bbb493f8fb5164ee3d385908233df",
            28,
        ),
    ),
    (
        "9-schedule-cancel",
        {"type": "scheduleCancel", "time": 123456789},
        None,
        "0x4be18e445114437c5d1d9dd35a09f5601a3cc34ed4ac94a0281251b9bd8f6832",
        (
            "0x609cb20c737945d070716dcc696ba030e9976fcf5edad87afa7d877493109d55",
            "0x16c685d63b5c7a04512d73f183b3d7a00da5406ff1f8aad33f8ae2163bab758b",
            28,
        ),
        (
            "0x4e4f2dbd4107c69783e251b7e1057d9f2b9d11cee213441ccfa2be63516dc5bc",
            "0x706c656b23428c8ba356d68db207e11139ede1670481a9e01ae2dfcdb0e1a678",
            27,
        ),
    ),
]
IDS = [v[0] for v in VECTORS]


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.from_hex(KEY_HEX)


def test_key_address(key: SigningKey) -> None:
    assert key.address == ADDRESS


def test_eip712_constants() -> None:
    assert L1_DOMAIN_SEPARATOR.hex() == (
        "d79297fcdf2ffcd4ae223d01edaa2ba214ff8f401d7c9300d995d17c82aa4040"
    )
    assert AGENT_TYPEHASH.hex() == (
        "26f05c2f7239b6983075e58321292d77b3aa173d19b27257ac96ab362570f508"
    )


@pytest.mark.parametrize(("name", "action", "vault", "conn", "main", "test"), VECTORS, ids=IDS)
def test_connection_id(
    name: str,
    action: dict[str, Any],
    vault: str | None,
    conn: str,
    main: tuple[str, str, int],
    test: tuple[str, str, int],
) -> None:
    assert "0x" + connection_id(action, 0, vault, None).hex() == conn


@pytest.mark.parametrize(("name", "action", "vault", "conn", "main", "test"), VECTORS, ids=IDS)
@pytest.mark.parametrize("is_mainnet", [True, False], ids=["mainnet", "testnet"])
def test_signature(
    key: SigningKey,
    name: str,
    action: dict[str, Any],
    vault: str | None,
    conn: str,
    main: tuple[str, str, int],
    test: tuple[str, str, int],
    is_mainnet: bool,
) -> None:
    sig = sign_l1_action(key, action, 0, vault, None, is_mainnet)
    r, s, v = main if is_mainnet else test
    assert sig.to_wire() == {"r": r, "s": s, "v": v}
    # and the verifier (the emulator's) recovers the signer from the wire form
    assert recover_signer(action, 0, vault, None, sig.to_wire(), is_mainnet) == ADDRESS.lower()


@pytest.mark.parametrize(
    ("action", "mainnet", "testnet"),
    [
        (
            DUMMY,
            "e0aabfac88a47d3e7028b6ba6a94b30c8afcfffac26cbce788cf362b1312eafa",
            "c05ce2df9d9d18fab3570746cc27e1136a4020a28561171a24f60c2258989224",
        ),
        (
            ORDER,
            "a5cfed1f2d7948de30aecacc7fea3c5e05c1e759020e96239847879b906f801e",
            "606be2d25f68768f876dc04a2c3c86ceafd2d6a3c3cbb963454462d6734ebfa6",
        ),
    ],
)
def test_digests(action: dict[str, Any], mainnet: str, testnet: str) -> None:
    conn = connection_id(action, 0, None, None)
    assert l1_digest(conn, True).hex() == mainnet
    assert l1_digest(conn, False).hex() == testnet


@pytest.mark.parametrize(
    ("action", "packed"),
    [
        (DUMMY, "82a474797065a564756d6d79a36e756dcf000000174876e800"),
        (
            ORDER,
            "83a474797065a56f72646572a66f72646572739186a16101a162c3a170a3313030a173a331"
            "3030a172c2a17481a56c696d697481a3746966a3477463a867726f7570696e67a26e61",
        ),
        (
            {"type": "scheduleCancel", "time": 123456789},
            "82a474797065ae7363686564756c6543616e63656ca474696d65ce075bcd15",
        ),
    ],
)
def test_msgpack_bytes(action: dict[str, Any], packed: str) -> None:
    assert action_bytes(action).hex() == packed


def test_phantom_agent_matches_production() -> None:
    action = {
        "type": "order",
        "orders": [
            {
                "a": 4,
                "b": True,
                "p": "1670.1",
                "s": "0.0147",
                "r": False,
                "t": {"limit": {"tif": "Ioc"}},
            }
        ],
        "grouping": "na",
    }
    assert connection_id(action, 1677777606040, None, None).hex() == (
        "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"
    )


@pytest.mark.parametrize(
    ("x", "expected"),
    [(123123123123, 12312312312300000000), (0.00001231, 1231), (1.033, 103300000)],
)
def test_float_to_int_for_hashing(x: float, expected: int) -> None:
    assert float_to_int_for_hashing(x) == expected


def test_float_to_int_for_hashing_refuses_rounding() -> None:
    with pytest.raises(ValueError, match="rounding"):
        float_to_int_for_hashing(0.000012312312)


USER_MESSAGE = {
    "destination": "0x5e9ee1089755c3435139848e47e6635505d5a13a",
    "amount": "1",
    "time": 1687816341423,
}


@pytest.mark.parametrize(
    ("primary", "types", "r", "s", "v"),
    [
        (
            "HyperliquidTransaction:UsdSend",
            USD_SEND_TYPES,
            "0x637b37dd731507cdd24f46532ca8ba6eec616952c56218baeff04144e4a77073",
            "0x11a6a24900e6e314136d2592e2f8d502cd89b7c15b198e1bee043c9589f9fad7",
            27,
        ),
        (
            "HyperliquidTransaction:Withdraw",
            WITHDRAW_TYPES,
            "0x8363524c799e90ce9bc41022f7c39b4e9bdba786e5f9c72b20e43e1462c37cf9",
            "0x58b1411a775938b83e29182e8ef74975f9054c8e97ebf5ec2dc8d51bfc893881",
            28,
        ),
    ],
    ids=["UsdSend", "Withdraw"],
)
def test_user_signed(
    key: SigningKey, primary: str, types: list[dict[str, str]], r: str, s: str, v: int
) -> None:
    action = prepare_user_signed_action(USER_MESSAGE, is_mainnet=False)
    assert action["signatureChainId"] == "0x66eee"
    assert action["hyperliquidChain"] == "Testnet"
    sig = sign_user_signed_action(key, action, primary, types)
    assert sig.to_wire() == {"r": r, "s": s, "v": v}
    assert recover_user_signer(action, primary, types, sig) == ADDRESS.lower()


def test_tampered_action_recovers_another_address(key: SigningKey) -> None:
    sig = sign_l1_action(key, ORDER, 7, None, None, False)
    tampered = {**ORDER, "grouping": "normalTpsl"}
    assert recover_signer(tampered, 7, None, None, sig, False) != ADDRESS.lower()
    assert recover_signer(ORDER, 8, None, None, sig, False) != ADDRESS.lower()
    assert recover_signer(ORDER, 7, None, None, sig, True) != ADDRESS.lower()
    assert recover_signer(ORDER, 7, None, 5, sig, False) != ADDRESS.lower()


@pytest.mark.parametrize(
    "wire",
    [
        None,
        [],
        {"r": "0x1", "s": "0x1"},
        {"r": "12", "s": "0x1", "v": 27},
        {"r": "0xzz", "s": "0x1", "v": 27},
        {"r": "0x1", "s": "0x1", "v": 29},
        {"r": "0x1", "s": "0x1", "v": True},
        {"r": "0x" + "f" * 65, "s": "0x1", "v": 27},
    ],
)
def test_malformed_signature(wire: object) -> None:
    with pytest.raises(SignatureError):
        Signature.from_wire(wire)


def test_unrecoverable_signature() -> None:
    with pytest.raises(SignatureError, match="Unable to recover signer"):
        recover_signer(ORDER, 0, None, None, {"r": "0x0", "s": "0x0", "v": 27}, False)


def test_expires_after_changes_connection_id() -> None:
    a = connection_id(ORDER, 5, None, None)
    b = connection_id(ORDER, 5, None, 1_700_000_000_000)
    assert a != b


# ------------------------------------------------------------------ properties

from eth_account.messages import encode_typed_data  # noqa: E402
from eth_hash.auto import keccak  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mmkit.venues.hyperliquid.signing import l1_typed_data  # noqa: E402

actions = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["order", "cancel", "noop"]),
        "x": st.one_of(st.integers(0, 2**64 - 1), st.text(max_size=20), st.booleans()),
    }
)
vaults = st.one_of(st.none(), st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()))
expiries = st.one_of(st.none(), st.integers(0, 2**64 - 1))


@settings(max_examples=40, deadline=None)
@given(actions, st.integers(0, 2**64 - 1), vaults, expiries, st.booleans())
def test_digest_matches_eth_account_typed_data(
    action: dict[str, Any], nonce: int, vault: str | None, expires: int | None, is_mainnet: bool
) -> None:
    conn = connection_id(action, nonce, vault, expires)
    m = encode_typed_data(full_message=l1_typed_data(conn, is_mainnet))
    assert keccak(b"\x19" + m.version + m.header + m.body) == l1_digest(conn, is_mainnet)


@settings(max_examples=25, deadline=None)
@given(actions, st.integers(0, 2**64 - 2), vaults, expiries, st.booleans())
def test_sign_recover_roundtrip_and_tamper(
    action: dict[str, Any], nonce: int, vault: str | None, expires: int | None, is_mainnet: bool
) -> None:
    key = SigningKey.from_hex(KEY_HEX)
    sig = sign_l1_action(key, action, nonce, vault, expires, is_mainnet)
    assert sig.s <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0  # low-s
    wire_sig = Signature.from_wire(sig.to_wire())
    assert wire_sig == sig
    assert recover_signer(action, nonce, vault, expires, wire_sig, is_mainnet) == ADDRESS.lower()
    assert (
        recover_signer(action, nonce + 1, vault, expires, wire_sig, is_mainnet) != ADDRESS.lower()
    )
