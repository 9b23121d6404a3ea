"""Keeping secrets out of logs, journals, config dumps and error messages.

A :class:`SecretRegistry` remembers every secret the process loaded (the signing key, in
its hex forms); :func:`redact` replaces any occurrence in a string. Key loaders call
:func:`register_secret` as soon as they read a key, before anything can print it. As a second
line of defence, anything that looks like a 32-byte hex private key is masked too.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***redacted***"
_HEX_KEY = re.compile(r"(?<![0-9a-fA-Fx])(0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(secret: str) -> None:
    """Remember a secret (and its 0x/no-0x, upper/lower-case forms) for redaction."""
    s = secret.strip()
    if len(s) < 8:
        return
    bare = s[2:] if s.lower().startswith("0x") else s
    with _lock:
        for form in (s, bare, bare.lower(), bare.upper(), "0x" + bare.lower()):
            _secrets.add(form)


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    # Any 64-hex-digit string has a private key's shape and is masked. Transaction hashes
    # share that shape; mmkit stores none, so nothing of value is lost.
    return _HEX_KEY.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        red = redact(msg)
        if red != msg:
            record.msg = red
            record.args = None
        return True
