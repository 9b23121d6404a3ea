"""Nonce source and key handling (the key never shows itself)."""

from __future__ import annotations

import copy
import itertools
import os
import pickle
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmkit.errors import VenueError
from mmkit.venues.hyperliquid.keys import SigningKey, load_signing_key
from mmkit.venues.hyperliquid.nonce import NonceSource

SECRET = "0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=50))
def test_nonce_strictly_increasing_whatever_the_clock(clock: list[int]) -> None:
    it = iter(clock)
    src = NonceSource(lambda: next(it))
    out = [src.next() for _ in clock]
    assert all(b > a for a, b in itertools.pairwise(out))
    assert all(n >= c for n, c in zip(out, clock, strict=True))


def test_nonce_follows_clock_and_observe() -> None:
    now = [1000]
    src = NonceSource(lambda: now[0])
    assert src.next() == 1000
    assert src.next() == 1001
    now[0] = 5000
    assert src.next() == 5000
    src.observe(9000)
    assert src.next() == 9001


def test_nonce_thread_safe() -> None:
    src = NonceSource(lambda: 0)
    got: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [src.next() for _ in range(2000)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == len(got) == 8000


def test_key_never_shows_itself() -> None:
    key = SigningKey.from_hex("0x" + SECRET)
    assert key.address == ADDRESS
    for text in (repr(key), str(key), f"{key}", f"{key!r}", f"{[key]}"):
        assert SECRET not in text and "redacted" in text
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)


@pytest.mark.parametrize("bad", ["", "0x12", "zz" * 32, SECRET + "00", "0x" + "0" * 64])
def test_bad_key_errors_do_not_echo(bad: str) -> None:
    with pytest.raises(VenueError) as info:
        SigningKey.from_hex(bad, source="environment variable X")
    text = str(info.value) + repr(info.value.__cause__) + repr(info.value.__context__)
    assert "environment variable X" in text
    if len(bad) > 6:
        assert bad.removeprefix("0x") not in text


def test_load_from_env() -> None:
    key = load_signing_key(key_env="HL_KEY", environ={"HL_KEY": SECRET + "\n"})
    assert key.address == ADDRESS and "HL_KEY" in key.source


def test_load_missing_env_names_variable() -> None:
    with pytest.raises(VenueError, match="HL_KEY is not set"):
        load_signing_key(key_env="HL_KEY", environ={})


def test_key_file_mode_0600(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text("0x" + SECRET + "\n")
    os.chmod(f, 0o600)
    key = load_signing_key(key_env="UNUSED", key_file=str(f), environ={})
    assert key.address == ADDRESS


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_key_file_refused_when_others_can_read(tmp_path: Path, mode: int) -> None:
    f = tmp_path / "key"
    f.write_text(SECRET)
    os.chmod(f, mode)
    with pytest.raises(VenueError, match=r"chmod 600") as info:
        load_signing_key(key_env="", key_file=str(f), environ={})
    assert f"{mode:04o}" in str(info.value) and SECRET not in str(info.value)


def test_key_file_missing_or_directory(tmp_path: Path) -> None:
    with pytest.raises(VenueError, match="does not exist"):
        load_signing_key(key_env="", key_file=str(tmp_path / "nope"))
    with pytest.raises(VenueError, match="not a regular file"):
        load_signing_key(key_env="", key_file=str(tmp_path))


def test_key_file_with_garbage_does_not_echo(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text(SECRET[:-2] + "\n" + SECRET[-2:] + "\n")
    os.chmod(f, 0o600)
    with pytest.raises(VenueError, match="exactly one") as info:
        load_signing_key(key_env="", key_file=str(f))
    assert SECRET[:-2] not in str(info.value)
