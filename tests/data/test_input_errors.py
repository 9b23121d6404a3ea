"""What the loaders say about files that are not what they expect (issue 19, "Smaller").

Whatever bytes a file holds, opening it through the format detection or any loader ends in
records or in a :class:`DataError` whose message names the file, says what the file looks
like in words, and never quotes raw bytes (no ``b'...'`` reprs, no ``\\x`` escapes, nothing
unprintable).
"""

from __future__ import annotations

import gzip
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mmkit.data.inputs import (
    check_input_file,
    describe_file,
    describe_head,
    looks_binary,
    printable,
)
from mmkit.data.loaders import LOADERS, detect_format, make_loader
from mmkit.errors import DataError

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


#: the file's first line as the message quotes it (a str repr: the file's own text, which
#: may hold anything, "b'" or a backslash and an x included)
_QUOTED_TEXT = re.compile(r"""text starting ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def assert_clean(msg: str, name: str) -> None:
    """A message a user can read: names the file, no raw-byte reprs, printable."""
    assert name in msg, msg
    # outside the quoted text: no bytes repr (b'..' / b"..", starting a word) and no \x
    # escape
    body = _QUOTED_TEXT.sub("text starting <the text>", msg)
    assert not re.search(r"(?<![\w'\"])b['\"]", body), msg
    assert "\\x" not in body, msg
    assert all(c.isprintable() for c in msg), repr(msg)
    assert "Traceback" not in msg


def drain(fmt: str, path: Path) -> str:
    """'' when the file loaded, else the DataError's message (any other exception fails)."""
    try:
        loader = make_loader(fmt, [path])
        for _ in loader.chunks():
            pass
        loader.meta()
    except DataError as exc:
        return str(exc)
    return ""


@SETTINGS
@given(
    data=st.binary(max_size=600),
    gz=st.booleans(),
    suffix=st.sampled_from(["", ".gz", ".txt", ".bin", ".json"]),
    fmt=st.sampled_from(["auto", *sorted(k for k in LOADERS if k != "lobster")]),
)
# a file whose text holds what a bytes repr or an escape looks like: quoted as its text
@example(data=b":b", gz=False, suffix="", fmt="auto")
@example(data=b"x b'\\x00' y", gz=False, suffix="", fmt="auto")
def test_random_bytes_give_a_clean_data_error(data: bytes, gz: bool, suffix: str, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"capture{suffix}"
        p.write_bytes(gzip.compress(data) if gz else data)
        msg = drain(fmt, p)
        if msg:
            assert_clean(msg, "capture")


@SETTINGS
@given(data=st.binary(min_size=1, max_size=400))
def test_binary_never_detected_and_said_to_be_binary(data: bytes) -> None:
    """Bytes with a NUL in their first line are never taken for a capture: the message
    says they are binary (an oracle independent of :func:`looks_binary`: a NUL byte)."""
    body = b"\x00" + data.replace(b"\n", b"")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "blob.dat"
        p.write_bytes(body)
        with pytest.raises(DataError) as exc:
            detect_format(p)
        msg = str(exc.value)
        assert_clean(msg, "blob.dat")
        assert "binary data, not text" in msg and "accepted:" in msg


@SETTINGS
@given(text=st.text(max_size=300))
def test_describe_head_of_text_is_printable(text: str) -> None:
    what = describe_head(text.encode())
    assert all(c.isprintable() for c in what)
    assert "\\x" not in what or "\\x" in text  # only text the file really holds


@given(text=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1))
def test_printable_keeps_plain_ascii(text: str) -> None:
    out = printable(text, 1000)
    assert out == text


@given(blob=st.binary(min_size=1, max_size=200))
def test_looks_binary_on_nul(blob: bytes) -> None:
    assert looks_binary(blob + b"\x00")


def test_directory_empty_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.parquet").write_bytes(b"PAR1")
    (tmp_path / "empty.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"d: is a directory, not a data file; it holds 1 file"):
        check_input_file(tmp_path / "d")
    with pytest.raises(DataError, match=r"empty\.gz: the file is empty \(0 bytes\)"):
        make_loader("auto", [tmp_path / "empty.gz"])
    with pytest.raises(DataError, match=r"nope\.gz: no such file"):
        make_loader("binance", [tmp_path / "nope.gz"])


def test_compressed_empty_and_blank(tmp_path: Path) -> None:
    z = tmp_path / "z.gz"
    z.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match=r"z\.gz: is empty once decompressed \(gzip"):
        detect_format(z)
    b = tmp_path / "b.txt"
    b.write_bytes(b"\n  \n\n")
    with pytest.raises(DataError, match=r"b\.txt: holds only blank lines"):
        detect_format(b)


def test_parquet_and_other_known_files(tmp_path: Path) -> None:
    pq = tmp_path / "s.parquet"
    pq.write_bytes(b"PAR1" + bytes(range(256)) + b"PAR1")
    with pytest.raises(DataError, match=r"is an event store \(Parquet\)"):
        make_loader("auto", [pq])
    with pytest.raises(DataError, match="is an event store"):
        make_loader("binance", [pq])
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert describe_file(png) == "a PNG image"
    with pytest.raises(DataError, match="looks like a PNG image"):
        detect_format(png)


def test_text_that_is_no_capture_is_quoted_printably(tmp_path: Path) -> None:
    p = tmp_path / "notes.csv"
    p.write_text("time,price\n1,2\n")
    with pytest.raises(DataError) as exc:
        detect_format(p)
    assert "looks like text starting 'time,price'" in str(exc.value)


def test_forced_format_on_binary_names_line_without_bytes(tmp_path: Path) -> None:
    p = tmp_path / "rand.gz"
    # bytes that are not UTF-8 and do not start with digits, on several lines
    p.write_bytes(b"\xe7\xff\x01abc\n\xfe\xfe 12\n")
    msg = drain("binance", p)
    assert_clean(msg, "rand.gz")
    assert "no usable binance records" in msg and "rand.gz:1: malformed" in msg
    assert "looks like binary data" in msg


@SETTINGS
@given(data=st.binary(max_size=600), zipped=st.booleans())
@example(data=b"b", zipped=False)  # "text starting 'b'" is not a bytes repr
@example(data=b":b", zipped=False)
def test_lobster_on_random_bytes_is_clean(data: bytes, zipped: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if zipped:
            z = tmp / "AMZN_2012-06-21_1_2_5.zip"
            z.write_bytes(data)
            msg = drain("lobster", z)
            if msg:
                assert_clean(msg, "AMZN")
        else:
            m, b = tmp / "AMZN_message_5.csv", tmp / "AMZN_orderbook_5.csv"
            m.write_bytes(data)
            b.write_bytes(data[::-1])
            try:
                loader = make_loader("lobster", [m, b])
                for _ in loader.chunks():
                    pass
            except DataError as exc:
                assert_clean(str(exc), "AMZN")
