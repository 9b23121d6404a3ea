"""The signing key: loaded only from an environment variable or an owner-only key file.

The secret lives inside a :class:`SigningKey`, whose ``repr``/``str`` show only the address.
It cannot be pickled or copied into a config dump, and no error message this module raises
ever contains it (exceptions from the key parser are replaced, not chained).

The key may belong to an *agent* (API wallet) approved by the master account: it signs L1
actions, while every query is made for the master (or sub-account) address, see
:mod:`mmkit.venues.hyperliquid.settings`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from eth_account.messages import SignableMessage
from eth_hash.auto import keccak
from eth_keys import datatypes as ec
from eth_utils.exceptions import ValidationError

from mmkit.errors import VenueError
from mmkit.redact import looks_like_key, register_key_like, register_secret

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class SigningKey:
    """A secp256k1 private key that never shows itself.

    Construct it with :func:`load_signing_key` (configuration) or :meth:`from_hex`
    (tests, in-process use). ``address`` is the checksummed Ethereum address of the key.
    """

    __slots__ = ("_pk", "address", "source")

    def __init__(self, private_key: Any, source: str) -> None:
        self._pk = private_key
        self.address: str = str(private_key.public_key.to_checksum_address())
        self.source = source

    @classmethod
    def from_hex(cls, secret: str, *, source: str = "in-process value") -> SigningKey:
        """Parse ``0x`` + 64 hex digits (the ``0x`` is optional). Errors never echo the value.

        The text is registered with :mod:`mmkit.redact` first, valid or not, so no
        later log line, journal row or error message can carry it.
        """
        register_secret(secret)
        text = secret.strip()
        body = text[2:] if text[:2] in ("0x", "0X") else text
        if len(body) != 64 or not set(body) <= _HEX_DIGITS:
            _refuse(
                f"{source}: expected a private key of 64 hex digits (optionally 0x-prefixed), "
                f"got {len(body)} characters"
            )
        pk: Any = None
        try:
            pk = ec.PrivateKey(bytes.fromhex(body))
        except ValidationError:  # 64 hex digits, but 0 or not below the curve order
            pk = None  # the parser's message may hold the key: never chain it
        if pk is None:
            _refuse(f"{source}: not a valid secp256k1 private key")
        return cls(pk, source)

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        """Sign a 32-byte message hash; returns ``(r, s, v)`` with ``v`` in {27, 28}.

        Deterministic (RFC 6979) and low-s, exactly as eth-account's ``sign_message``.
        """
        sig = self._pk.sign_msg_hash(digest)
        return int(sig.r), int(sig.s), int(sig.v) + 27

    def sign_parts(self, header: bytes, body: bytes) -> tuple[int, int, int]:
        """Sign the EIP-712 message ``0x19 0x01 ‖ header ‖ body``."""
        return self.sign_digest(keccak(b"\x19\x01" + header + body))

    def sign_typed_message(self, message: SignableMessage) -> tuple[int, int, int]:
        """Sign an eth-account ``SignableMessage`` (``0x19 ‖ version ‖ header ‖ body``)."""
        return self.sign_digest(keccak(b"\x19" + message.version + message.header + message.body))

    def __repr__(self) -> str:
        return f"SigningKey(address={self.address}, secret=<redacted>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SigningKey cannot be pickled or copied")

    def __copy__(self) -> NoReturn:
        raise TypeError("a SigningKey cannot be copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("a SigningKey cannot be copied")


def _refuse(message: str) -> NoReturn:
    raise VenueError(f"signing key refused: {message}")


def check_key_file(path: Path) -> None:
    """Refuse a key file that is missing, not a regular file, or readable by anyone else."""
    try:
        st = path.stat()
    except FileNotFoundError:
        _refuse(f"key file {path} does not exist")
    except OSError as exc:
        _refuse(f"key file {path} cannot be read: {exc.strerror}")
    if not stat.S_ISREG(st.st_mode):
        _refuse(f"key file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        _refuse(
            f"key file {path} has mode {mode:04o}; it must be readable by its owner only "
            f"(run: chmod 600 {path})"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        _refuse(f"key file {path} is owned by uid {st.st_uid}, not by the current user")


def load_signing_key(
    *, key_env: str, key_file: str = "", environ: Mapping[str, str] | None = None
) -> SigningKey:
    """The signing key from ``key_file`` (if set; mode 0600) or else the variable ``key_env``."""
    env = os.environ if environ is None else environ
    # a key pasted where a variable name or a path belongs: refuse without echoing it
    for setting, value in (("venue.key_env", key_env), ("venue.key_file", key_file)):
        if looks_like_key(value):
            register_key_like(value)
            _refuse(
                f"{setting} looks like a private key; refused ({setting} names "
                + (
                    "the environment variable that holds the key)"
                    if setting.endswith("env")
                    else "a file with mode 0600 that holds the key)"
                )
            )
    if key_file:
        path = Path(key_file).expanduser()
        check_key_file(path)
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            _refuse(f"key file {path} cannot be read as ASCII text")
        register_key_like(text)  # before any check can mention what it read
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) != 1:
            _refuse(f"key file {path} must hold exactly one non-empty line (the key)")
        return SigningKey.from_hex(lines[0], source=f"key file {path}")
    if not key_env:
        _refuse("neither venue.key_env nor venue.key_file is set")
    value = env.get(key_env, "")
    register_secret(value)
    if not value.strip():
        _refuse(
            f"environment variable {key_env} is not set (or set venue.key_file to a "
            "file with mode 0600)"
        )
    return SigningKey.from_hex(value, source=f"environment variable {key_env}")


__all__ = ["SigningKey", "check_key_file", "load_signing_key"]
