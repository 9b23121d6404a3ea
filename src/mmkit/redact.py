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
_HEX_BODY = re.compile(r"[0-9a-fA-F]{8,128}")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(secret: str) -> None:
    """Remember a secret (and its 0x/no-0x, upper/lower-case forms) for redaction.

    A hex secret is also remembered as the decimal integer it spells: a TOML or JSON
    parser turns ``0x<key>`` into that integer, and a type error would print it.
    """
    s = secret.strip()
    if len(s) < 8:
        return
    bare = s[2:] if s.lower().startswith("0x") else s
    forms = {s, bare, bare.lower(), bare.upper(), "0x" + bare.lower(), "0X" + bare.upper()}
    if _HEX_BODY.fullmatch(bare):
        forms.add(str(int(bare, 16)))
    with _lock:
        _secrets.update(f for f in forms if len(f) >= 8)


def looks_like_key(text: str) -> bool:
    """True when ``text`` holds a private key's shape: 64 hex digits, with or without 0x.

    Settings that are not keys (names, paths, addresses, URLs) use this to refuse a key
    pasted into the wrong place, without echoing it.
    """
    return _HEX_KEY.search(text) is not None


def register_key_like(text: str) -> None:
    """Register every key-shaped run inside ``text`` (a value refused for looking like a
    key is still treated as one: any later echo of it is masked)."""
    for m in _HEX_KEY.finditer(text):
        register_secret(m.group())


def redact(text: str) -> str:
    """``text`` with every registered secret and every 64-hex-digit run masked."""
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
        # an attached exception is rendered by the formatter later: render and scrub it now
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
