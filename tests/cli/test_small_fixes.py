"""The small CLI error and flag fixes of issue 19, through the real command line.

Every error here is driven through :func:`mmkit.cli.main.main` as a user's shell would run
it, and must come out as exit status 2 with one ``error:`` message on stderr that names the
file or flag, says what is wrong in words, and carries no traceback and no raw bytes.
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.cli.helpers import run_cli as run
from tests.data.helpers import hl_book, hl_trades, write_capture

from mmkit.cli.main import main

USAGE_ERROR = 2  # MmkitError.exit_code: bad configuration or input


def usage_error(args: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    """Run ``args``, expect a clean usage error mentioning every needle; return the message."""
    code, out, err = run(args, capsys)
    assert code == USAGE_ERROR, (code, out, err)
    assert "Traceback" not in err + out
    assert err.startswith("error: "), err
    assert "b'" not in err and "\\x" not in err, err
    assert all(c.isprintable() or c == "\n" for c in err), repr(err)
    for n in needles:
        assert n in err, (n, err)
    return err


# -- data convert / info ----------------------------------------------------------------


def test_convert_random_bytes_says_binary_and_what_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "rand.bin"
    src.write_bytes(os.urandom(2000) + b"\x00")
    err = usage_error(
        ["data", "convert", str(src), str(tmp_path / "o.parquet")],
        capsys,
        "rand.bin",
        "binary data, not text",
        "accepted:",
        "--format",
    )
    assert err.count("\n") == 1  # one line
    assert not (tmp_path / "o.parquet").exists()


def test_convert_gzip_of_random_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "noise.gz"
    src.write_bytes(gzip.compress(b"\x00\x01\x02" + os.urandom(500)))
    usage_error(
        ["data", "info", str(src)], capsys, "noise.gz", "gzip-compressed binary data, not text"
    )


def test_forced_format_on_random_bytes_has_no_raw_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "junk.txt"
    src.write_bytes(bytes([0xE7, 0xFF, 0x80, 0x41]) * 50 + b"\n" + bytes(range(128, 256)) + b"\n")
    usage_error(
        ["data", "convert", "--format", "binance", str(src), str(tmp_path / "o.parquet")],
        capsys,
        "junk.txt: no usable binance records",
        "junk.txt:1: malformed",
        "looks like binary data",
    )


def test_directory_input_is_called_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "captures"
    d.mkdir()
    for cmd in (["data", "info", str(d)], ["data", "convert", str(d), str(tmp_path / "o.pq")]):
        err = usage_error(cmd, capsys, "captures: is a directory")
        assert "no such file" not in err


def test_empty_input_is_called_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = tmp_path / "empty.gz"
    e.write_bytes(b"")
    err = usage_error(["data", "info", str(e)], capsys, "empty.gz: the file is empty (0 bytes)")
    assert "cannot tell the format" not in err
    z = tmp_path / "nothing.gz"
    z.write_bytes(gzip.compress(b""))
    usage_error(["data", "info", str(z)], capsys, "nothing.gz: is empty once decompressed")


def test_convert_of_a_store_says_it_needs_no_conversion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.parquet"
    code, _, err = run(["data", "synth", str(store), "--duration-s", "5"], capsys)
    assert code == 0, err
    usage_error(
        ["data", "convert", str(store), str(tmp_path / "t.parquet")],
        capsys,
        "s.parquet: is an event store (Parquet)",
        "needs no conversion",
    )


def test_convert_refuses_a_missing_output_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_capture(
        tmp_path / "hl.gz",
        [(1, hl_book(1000, [("100.0", "1")], [("101.0", "1")])), (2, hl_trades(1001))],
    )
    out = tmp_path / "not" / "there" / "o.parquet"
    usage_error(
        ["data", "convert", str(src), str(out)],
        capsys,
        "output directory",
        str(tmp_path / "not" / "there"),
        "does not exist",
        "mkdir -p",
    )
    assert not (tmp_path / "not").exists()  # nothing created silently
    usage_error(
        ["data", "synth", str(out), "--duration-s", "5"], capsys, "does not exist", "mkdir -p"
    )
    assert not (tmp_path / "not").exists()
    # an existing directory as the output, and the input as its own output
    usage_error(["data", "convert", str(src), str(tmp_path)], capsys, "is a directory")
    usage_error(["data", "convert", str(src), str(src)], capsys, "is also an input")
    assert src.read_bytes()[:2] == b"\x1f\x8b"  # the input is untouched
    # the directory exists: converted as before
    code, out_text, err = run(["data", "convert", str(src), str(tmp_path / "ok.parquet")], capsys)
    assert code == 0, err
    assert "book_snapshot 1, trade 1" in out_text


# -- signals lead-lag ----------------------------------------------------------------------


def test_lead_lag_on_random_bytes_and_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1" + os.urandom(300))  # Parquet magic, not a readable store
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(300) + b"\x00")
    usage_error(["signals", "lead-lag", str(other), str(junk)], capsys, "other.bin", "binary")
    usage_error(["signals", "lead-lag", str(junk), str(other)], capsys, "junk.parquet")
    usage_error(["signals", "lead-lag", str(tmp_path), str(other)], capsys, "is a directory")


# -- flags -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "-0.5", "nan", "inf"])
def test_speed_message_mentions_zero(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["trade", "--speed", value], capsys, "--speed", "0 (as fast as possible)")
    assert "must be > 0" not in err


def test_cadence_lists_the_valid_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The message lists exactly the accepted cadences (``kernel`` was removed, so it is
    not one: asking for it says so), and ``--help`` says the same."""
    from mmkit.backtest.cadence import CADENCES, REMOVED

    err = usage_error(["backtest", "--cadence", "fast", str(tmp_path / "x")], capsys, "--cadence")
    listed = re.search(r"--cadence 'fast': choose (.+)$", err.strip())
    assert listed is not None, err
    assert listed.group(1).split(" or ") == list(CADENCES)
    for gone in REMOVED:
        err = usage_error(["backtest", "--cadence", gone, str(tmp_path / "x")], capsys)
        assert f"--cadence {gone!r} was removed" in err
    code, out, _ = run(["backtest", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0 and all(f"{c}:" in text for c in CADENCES)
    assert "'kernel' cadence was removed" in text


# -- trade --data --------------------------------------------------------------------------


def _tick_capture(path: Path, seconds: int = 120) -> Path:
    """A Hyperliquid-format capture on a 0.1 tick (the default instrument's tick is 1):
    a book every 0.5 s around 60,000 with a trade every second."""
    lines: list[tuple[int, object] | str] = []
    t0_ms = 1_737_900_000_000
    for i in range(seconds * 2):
        t = t0_ms + 500 * i
        mid = 60_000.0 + 0.1 * ((i * 7) % 23 - 11)
        bids = [(f"{mid - 0.1 * (k + 1):.1f}", "0.5123") for k in range(5)]
        asks = [(f"{mid + 0.1 * (k + 1):.1f}", "0.5123") for k in range(5)]
        lines.append((t * 1_000_000, hl_book(t, bids, asks)))
        if i % 2:
            side = "B" if i % 4 == 1 else "A"
            px = asks[0][0] if side == "B" else bids[0][0]
            lines.append((t * 1_000_000 + 1, hl_trades(t, side, px, "0.0123", tid=i)))
    return write_capture(path, lines)


def test_trade_data_errors_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    e = tmp_path / "e.gz"
    e.write_bytes(b"")
    usage_error(["trade", "--data", str(e), "--no-journal"], capsys, "e.gz: the file is empty")
    usage_error(["trade", "--data", str(tmp_path), "--no-journal"], capsys, "is a directory")


def test_tick_message_of_a_capture(tmp_path: Path) -> None:
    from mmkit.cli.trade_cmd import instrument_of_data, tick_message

    src = _tick_capture(tmp_path / "hl01.gz", seconds=5)
    inferred = instrument_of_data(src)
    assert inferred["instrument.tick"] == pytest.approx(0.1)
    assert inferred["instrument.sz_decimals"] == 4
    msg = tick_message(src, inferred)
    assert msg.startswith("instrument tick 0.1 and size decimals 4 taken from the data (hl01.gz)")


@pytest.mark.slow
def test_trade_data_infers_and_says_the_tick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mmkit.config.schema import InstrumentSection

    assert InstrumentSection().tick != pytest.approx(0.1)  # the capture's tick is not the default
    src = _tick_capture(tmp_path / "hl01.gz")
    args = ["trade", "--data", str(src), "--speed", "0", "--no-journal", "--no-dashboard"]
    args += ["--set", "estimators.warmup.max_warmup_secs=10"]
    code, out, err = run(args, capsys)
    assert code == 0, err[-2000:]
    assert "instrument tick 0.1 and size decimals 4 taken from the data (hl01.gz)" in out
    assert re.search(r"^instrument +BTC, tick 0\.1 \(from the data\)$", out, re.M), out
    # a tick set by the user wins, and the difference is pointed out
    code, out, err = run([*args, "--set", "instrument.tick=0.05"], capsys)
    assert code == 0, err[-2000:]
    assert "note: instrument.tick 0.05 (set in" in out and "differs from the tick 0.1" in out
    assert re.search(r"^instrument +BTC, tick 0\.05$", out, re.M), out
    # a tick the data's prices are not on: refused by the venue, naming both ticks
    code, out, err = run([*args, "--set", "instrument.tick=1"], capsys)
    assert code == USAGE_ERROR and "Traceback" not in err
    assert "not a multiple of the tick 1" in err and "differs from the tick 0.1" in out


def test_instrument_of_real_capture_differs_from_default(shared_data: Path) -> None:
    from mmkit.cli.trade_cmd import instrument_of_data, tick_message

    src = shared_data / "binance-usdm" / "btcusdt_20240808.gz"
    inferred = instrument_of_data(src)
    assert json.dumps(inferred)  # plain values
    assert "instrument tick 0.1 and size decimals 3" in tick_message(src, inferred)


# -- fuzz: any small file through the real commands ----------------------------------------


def _bytes_reprs_of(body: bytes, text: str) -> list[str]:
    """The places in ``text`` that read as a Python bytes literal (``b'..'``, ``b".."``)
    whose value is a non-empty piece of ``body``: a message that printed raw bytes."""
    found = []
    for m in re.finditer(r"(?<!\w)b('|\")", text):
        quote = m.group(1)
        end = text.find(quote, m.end())
        while end != -1:
            try:
                value = ast.literal_eval(text[m.start() : end + 1])
            except (ValueError, SyntaxError):
                value = None
            if isinstance(value, bytes) and value and value in body:
                found.append(text[m.start() : end + 1])
                break
            end = text.find(quote, end + 1)
    return found


def test_the_bytes_repr_check_finds_printed_bytes() -> None:
    body = b"\x1f\x8b:b'q"
    assert _bytes_reprs_of(body, f"error: it starts {body[:2]!r}")
    assert _bytes_reprs_of(body, f"error: it starts {body[2:4]!r} and more")
    assert not _bytes_reprs_of(b":b", "error: it looks like text starting ':b'; accepted: a")
    assert not _bytes_reprs_of(b"b", "error: text starting 'b'")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(gzip.compress),
        st.text(max_size=200).map(str.encode),
        st.sampled_from([b"PAR1", b"PK\x03\x04", b"\x1f\x8b", b"{}\n", b"1 {}\n", b"\n\n"]),
    ),
    command=st.sampled_from(["info", "convert", "lead-lag"]),
)
@example(body=b":b", command="info")  # a quoted ':b' once read as a bytes repr
def test_any_small_file_is_data_or_a_clean_error(body: bytes, command: str) -> None:
    """Whatever a small file holds, ``data info``, ``data convert`` and ``signals lead-lag``
    end normally or with exit 2 and a one-line ``error:`` without raw bytes: never an
    internal error (exit 70) or a traceback."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "input.gz"
        f.write_bytes(body)
        args = {
            "info": ["data", "info", str(f)],
            "convert": ["data", "convert", str(f), str(Path(d) / "o.parquet")],
            "lead-lag": ["signals", "lead-lag", str(f), str(f)],
        }[command]
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--no-entrypoints", *args])
            except SystemExit as exc:
                code = int(exc.code) if isinstance(exc.code, int) else 1
        text = err.getvalue()
        assert code in (0, USAGE_ERROR), text
        assert "Traceback" not in text and "internal error" not in text
        if code:
            assert text.startswith("error: ") and "input.gz" in text, text
            # no repr of the file's bytes (b'..' or b"..") and no \x escapes; the file's own
            # text may be quoted, so a b and a quote (starting 'b', starting ':b') are fine
            assert not _bytes_reprs_of(body, text) and "\\x" not in text, text


def test_ctrl_c_inside_a_command_says_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """typer turns a KeyboardInterrupt inside a command into a silent exit 130: the audit,
    a backtest or a calibration stopped with Ctrl-C ended with nothing said. main says so."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("mmkit.audit.runner.run_audit", interrupted)
    with pytest.raises(SystemExit) as exc:
        main(["--no-entrypoints", "audit", "--jobs", "1"])
    assert exc.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    # an exit 130 of its own (a second signal in a paper run) is not said twice
    monkeypatch.setattr("mmkit.audit.runner.run_audit", lambda *a, **k: sys.exit(130))
    with pytest.raises(SystemExit) as exc:
        main(["--no-entrypoints", "audit", "--jobs", "1"])
    assert exc.value.code == 130 and capsys.readouterr().err == ""
