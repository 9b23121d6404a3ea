"""Hyperliquid action signing (protocol reference §7).

L1 actions (order, cancel, batchModify, ...) are signed through a *phantom agent*:

1. ``data = msgpack(action)`` with the dict's insertion order kept,
2. ``+ nonce`` as 8 bytes big-endian,
3. ``+ 0x00`` without a vault, or ``0x01 + 20 address bytes`` with one,
4. ``+ 0x00 + expiresAfter`` (8 bytes big-endian) when an expiry is set,
5. ``connectionId = keccak256(data)``,
6. EIP-712 message ``Agent{source: "a" (mainnet) | "b" (testnet), connectionId}`` in the
   domain ``Exchange / 1 / chainId 1337 / verifyingContract 0x0``.

User-signed actions (usdSend, withdraw3, approveAgent, ...) sign the action itself as an
EIP-712 message of the ``HyperliquidSignTransaction`` domain.

Signatures are ``{"r": hex, "s": hex, "v": 27|28}`` with r and s *not* zero-padded, like the
official SDK; a verifier must read r and s as integers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
from eth_account.messages import SignableMessage, encode_typed_data
from eth_hash.auto import keccak
from eth_keys import datatypes as ec
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

from mmkit.errors import VenueError
from mmkit.rounding import float_to_int_for_hashing, float_to_usd_int
from mmkit.venues.hyperliquid.keys import SigningKey

L1_CHAIN_ID = 1337
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
USER_SIGNED_CHAIN_ID_HEX = "0x66eee"  # what the SDK puts in signatureChainId (421614)

_EIP712_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
AGENT_TYPE = [
    {"name": "source", "type": "string"},
    {"name": "connectionId", "type": "bytes32"},
]

DOMAIN_TYPEHASH: bytes = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
AGENT_TYPEHASH: bytes = keccak(b"Agent(string source,bytes32 connectionId)")
L1_DOMAIN_SEPARATOR: bytes = keccak(
    DOMAIN_TYPEHASH
    + keccak(b"Exchange")
    + keccak(b"1")
    + L1_CHAIN_ID.to_bytes(32, "big")
    + bytes(32)  # verifyingContract = 0x0, left-padded to 32 bytes
)

# Field lists of the user-signed actions a market maker may need (reference §7.2).
USD_SEND_TYPES = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "destination", "type": "string"},
    {"name": "amount", "type": "string"},
    {"name": "time", "type": "uint64"},
]
WITHDRAW_TYPES = USD_SEND_TYPES
APPROVE_AGENT_TYPES = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "agentAddress", "type": "address"},
    {"name": "agentName", "type": "string"},
    {"name": "nonce", "type": "uint64"},
]


class SignatureError(VenueError):
    """A signature that cannot be read or from which no signer can be recovered."""


@dataclass(frozen=True, slots=True)
class Signature:
    r: int
    s: int
    v: int

    def to_wire(self) -> dict[str, Any]:
        """``{"r": "0x…", "s": "0x…", "v": 27|28}``; r and s unpadded like the SDK's ``to_hex``."""
        return {"r": hex(self.r), "s": hex(self.s), "v": self.v}

    @classmethod
    def from_wire(cls, obj: object) -> Signature:
        """Read a wire signature; r/s may be unpadded hex. Raises :class:`SignatureError`."""
        if not isinstance(obj, Mapping):
            raise SignatureError(f"signature: expected an object with r, s, v, got {_kind(obj)}")
        parts: list[int] = []
        for name in ("r", "s"):
            raw = obj.get(name)
            if not (isinstance(raw, str) and raw[:2] in ("0x", "0X") and 2 < len(raw) <= 66):
                raise SignatureError(f"signature.{name}: expected 0x-prefixed hex, got {raw!r}")
            try:
                parts.append(int(raw[2:], 16))
            except ValueError:
                raise SignatureError(f"signature.{name}: not hex: {raw!r}") from None
        v = obj.get("v")
        if isinstance(v, bool) or not isinstance(v, int) or v not in (27, 28):
            raise SignatureError(f"signature.v: expected 27 or 28, got {v!r}")
        return cls(parts[0], parts[1], v)


def _kind(obj: object) -> str:
    return type(obj).__name__


# --------------------------------------------------------------------------------------
# L1 actions
# --------------------------------------------------------------------------------------


def action_bytes(action: Mapping[str, Any]) -> bytes:
    """The msgpack encoding the signature covers (insertion-ordered maps, smallest ints)."""
    packed = msgpack.packb(action, use_bin_type=True)
    assert isinstance(packed, bytes)
    return packed


def _address_bytes(address: str) -> bytes:
    body = address[2:] if address[:2] in ("0x", "0X") else address
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise VenueError(f"vault address {address!r} is not hex") from None
    if len(raw) != 20:
        raise VenueError(f"vault address {address!r} must be 20 bytes, got {len(raw)}")
    return raw


def connection_id(
    action: Mapping[str, Any], nonce: int, vault: str | None, expires_after: int | None
) -> bytes:
    """keccak256 of msgpack(action) ‖ nonce ‖ vault flag/address ‖ [0x00 ‖ expiresAfter]."""
    data = bytearray(action_bytes(action))
    data += nonce.to_bytes(8, "big")
    if vault is None:
        data += b"\x00"
    else:
        data += b"\x01" + _address_bytes(vault)
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return bytes(keccak(bytes(data)))


def phantom_agent(conn_id: bytes, is_mainnet: bool) -> dict[str, Any]:
    return {"source": "a" if is_mainnet else "b", "connectionId": conn_id}


_SOURCE_HASH = {True: bytes(keccak(b"a")), False: bytes(keccak(b"b"))}


def agent_struct_hash(conn_id: bytes, is_mainnet: bool) -> bytes:
    """hashStruct(Agent{source, connectionId}); source is "a" on mainnet, "b" elsewhere."""
    return bytes(keccak(AGENT_TYPEHASH + _SOURCE_HASH[is_mainnet] + conn_id))


def l1_typed_data(conn_id: bytes, is_mainnet: bool) -> dict[str, Any]:
    """The full EIP-712 document of an L1 action (what the SDK hands to eth-account)."""
    return {
        "domain": {
            "chainId": L1_CHAIN_ID,
            "name": "Exchange",
            "verifyingContract": ZERO_ADDRESS,
            "version": "1",
        },
        "types": {"Agent": AGENT_TYPE, "EIP712Domain": _EIP712_DOMAIN_TYPE},
        "primaryType": "Agent",
        "message": phantom_agent(conn_id, is_mainnet),
    }


def l1_digest(conn_id: bytes, is_mainnet: bool) -> bytes:
    """keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(Agent))."""
    return bytes(keccak(b"\x19\x01" + L1_DOMAIN_SEPARATOR + agent_struct_hash(conn_id, is_mainnet)))


def sign_l1_action(
    key: SigningKey,
    action: Mapping[str, Any],
    nonce: int,
    vault: str | None,
    expires_after: int | None,
    is_mainnet: bool,
) -> Signature:
    conn = connection_id(action, nonce, vault, expires_after)
    r, s, v = key.sign_parts(L1_DOMAIN_SEPARATOR, agent_struct_hash(conn, is_mainnet))
    return Signature(r, s, v)


def signed_envelope(
    key: SigningKey,
    action: Mapping[str, Any],
    nonce: int,
    vault: str | None,
    expires_after: int | None,
    is_mainnet: bool,
) -> dict[str, Any]:
    """The /exchange body of an L1 action, signed (``vaultAddress``/``expiresAfter`` as null
    when unset, like the SDK)."""
    sig = sign_l1_action(key, action, nonce, vault, expires_after, is_mainnet)
    return {
        "action": action,
        "nonce": nonce,
        "signature": sig.to_wire(),
        "vaultAddress": vault,
        "expiresAfter": expires_after,
    }


def recover_digest_signer(digest: bytes, signature: Signature | Mapping[str, Any]) -> str:
    """The lowercase address whose key signed the 32-byte ``digest``."""
    sig = signature if isinstance(signature, Signature) else Signature.from_wire(signature)
    address: str | None = None
    try:
        obj = ec.Signature(vrs=(sig.v - 27, sig.r, sig.s))
        pub = obj.recover_public_key_from_msg_hash(digest)
        address = "0x" + pub.to_canonical_address().hex()
    except (BadSignature, ValidationError):  # r, s out of range, or no point recovers
        address = None
    if address is None:
        raise SignatureError("Unable to recover signer.")
    return address


def _recover(message: SignableMessage, signature: Signature | Mapping[str, Any]) -> str:
    digest = keccak(b"\x19" + message.version + message.header + message.body)
    return recover_digest_signer(bytes(digest), signature)


def recover_signer(
    action: Mapping[str, Any],
    nonce: int,
    vault: str | None,
    expires_after: int | None,
    signature: Signature | Mapping[str, Any],
    is_mainnet: bool,
) -> str:
    """The (lowercase) address that signed an L1 action; raises :class:`SignatureError`.

    A signature over different bytes recovers to a *different* address, not an error: the
    venue then answers "User or API Wallet 0x… does not exist.".
    """
    conn = connection_id(action, nonce, vault, expires_after)
    return recover_digest_signer(l1_digest(conn, is_mainnet), signature)


# --------------------------------------------------------------------------------------
# user-signed actions
# --------------------------------------------------------------------------------------


def user_signed_typed_data(
    action: Mapping[str, Any], primary_type: str, payload_types: Sequence[Mapping[str, str]]
) -> dict[str, Any]:
    chain_hex = action.get("signatureChainId")
    if not isinstance(chain_hex, str):
        raise VenueError(
            f"user-signed action: signatureChainId missing or not a string: {chain_hex!r}"
        )
    return {
        "domain": {
            "name": "HyperliquidSignTransaction",
            "version": "1",
            "chainId": int(chain_hex, 16),
            "verifyingContract": ZERO_ADDRESS,
        },
        "types": {primary_type: list(payload_types), "EIP712Domain": _EIP712_DOMAIN_TYPE},
        "primaryType": primary_type,
        "message": dict(action),
    }


def prepare_user_signed_action(action: Mapping[str, Any], is_mainnet: bool) -> dict[str, Any]:
    """A copy of ``action`` with ``signatureChainId`` and ``hyperliquidChain`` set like the SDK."""
    out = dict(action)
    out["signatureChainId"] = USER_SIGNED_CHAIN_ID_HEX
    out["hyperliquidChain"] = "Mainnet" if is_mainnet else "Testnet"
    return out


def sign_user_signed_action(
    key: SigningKey,
    action: Mapping[str, Any],
    primary_type: str,
    payload_types: Sequence[Mapping[str, str]],
) -> Signature:
    """Sign a prepared user-signed action (see :func:`prepare_user_signed_action`).

    ``primary_type`` is e.g. ``"HyperliquidTransaction:UsdSend"``.
    """
    message = encode_typed_data(
        full_message=user_signed_typed_data(action, primary_type, payload_types)
    )
    r, s, v = key.sign_typed_message(message)
    return Signature(r, s, v)


def recover_user_signer(
    action: Mapping[str, Any],
    primary_type: str,
    payload_types: Sequence[Mapping[str, str]],
    signature: Signature | Mapping[str, Any],
) -> str:
    try:
        message = encode_typed_data(
            full_message=user_signed_typed_data(action, primary_type, payload_types)
        )
    except VenueError:
        raise
    except Exception as exc:  # untrusted wire data through eth_account, whose set is open
        raise SignatureError(f"user-signed action does not fit {primary_type}: {exc}") from None
    return _recover(message, signature)


__all__ = [
    "AGENT_TYPEHASH",
    "APPROVE_AGENT_TYPES",
    "L1_DOMAIN_SEPARATOR",
    "USD_SEND_TYPES",
    "WITHDRAW_TYPES",
    "Signature",
    "SignatureError",
    "action_bytes",
    "agent_struct_hash",
    "connection_id",
    "float_to_int_for_hashing",
    "float_to_usd_int",
    "l1_digest",
    "l1_typed_data",
    "phantom_agent",
    "prepare_user_signed_action",
    "recover_digest_signer",
    "recover_signer",
    "recover_user_signer",
    "sign_l1_action",
    "sign_user_signed_action",
    "signed_envelope",
]
