"""Units of the emulator: nonce rules (against a model), IP weights, address budgets, fault
parameters and scenario files, loopback-only config, and the reply rows read back by the
mmkit client's own parsers (property tests)."""

from __future__ import annotations

import asyncio
import math
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mmkit.core.types import Side, Tif
from mmkit.errors import ConfigError
from mmkit.venues.emulator.config import EmulatorConfig, check_loopback
from mmkit.venues.emulator.faults import (
    CATALOGUE,
    FaultState,
    check_fault,
    inline_scenario,
    load_scenario,
)
from mmkit.venues.emulator.limits import AddressBudget, IpLimiter, NonceBook, exchange_weight
from mmkit.venues.emulator.rows import OrderRecord, fill_direction, num
from mmkit.venues.hyperliquid import info as inf

NOW = 1_800_000_000_000


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(NOW - 500, NOW + 500), min_size=1, max_size=250))
def test_nonce_book_matches_the_rule(nonces: list[int]) -> None:
    book = NonceBook()
    stored: list[int] = []
    for n in nonces:
        problem = book.check("s", n, NOW)
        if n in stored:
            expected = f"Invalid nonce: duplicate nonce {n}"
        elif len(stored) >= 100 and n < min(stored):
            expected = f"Invalid nonce: nonce too low {n} < {min(stored)}"
        else:
            expected = None
        assert problem == expected
        if problem is None:
            book.record("s", n)
            stored = sorted([*stored, n])[-100:]
        assert book.lowest("s") == (stored[0] if stored else None)


def test_nonce_window() -> None:
    book = NonceBook()
    assert book.check("s", NOW - 2 * 86_400_000, NOW) is not None
    assert book.check("s", NOW + 86_400_000, NOW) is not None
    assert book.check("s", NOW - 86_400_000, NOW) is None


def test_ip_limiter_rolls_over_a_minute() -> None:
    lim = IpLimiter(1200)
    assert lim.admit("a", 1200, 0.0)
    assert not lim.admit("a", 1, 59.9)
    assert lim.admit("b", 20, 59.9)  # per IP
    assert lim.admit("a", 1200, 60.0)
    assert exchange_weight(1) == 1 and exchange_weight(79) == 2 and exchange_weight(80) == 3


def test_address_budget() -> None:
    b = AddressBudget(initial=10)
    assert b.charge(10, 0) is None
    assert b.charge(1, 0) is None  # the request per 10 s of an exhausted address
    msg = b.charge(1, 5_000)
    assert msg is not None and msg.startswith("Too many cumulative requests sent (12 > 10)")
    assert b.charge(1, 5_000, cancels_only=True) is None  # cancels have a larger cap
    b.volume_usd = 100.0
    assert b.cap == 110 and b.charge(50, 5_000) is None


LOTS = st.integers(-500_000, 500_000)


@given(LOTS, LOTS.filter(lambda n: n != 0))
def test_fill_direction_is_consistent(start_lots: int, signed_lots: int) -> None:
    start, signed = start_lots / 1e5, signed_lots / 1e5
    d = fill_direction(start, signed)
    end_lots = start_lots + signed_lots
    if start_lots == 0 or (start_lots > 0) == (signed_lots > 0):
        assert d.startswith("Open") and d.endswith("Long" if signed > 0 else "Short")
    elif end_lots != 0 and (end_lots > 0) != (start_lots > 0):
        assert ">" in d
    else:
        assert d.startswith("Close")


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 2**40),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 10**6),
    st.integers(1, 10**5),
    st.integers(0, 10**5),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 2**128 - 1).map(lambda n: f"{n:#034x}")),
    st.sampled_from(["open", "filled", "canceled", "scheduledCancel", "marginCanceled"]),
)
def test_order_rows_parse_with_the_client(
    oid: int, side: Side, px: int, orig: int, left: int, ro: bool, cloid: str | None, status: str
) -> None:
    rec = OrderRecord(
        oid,
        "BTC",
        side,
        px / 10,
        min(left, orig) / 1e5,
        orig / 1e5,
        NOW,
        cloid,
        ro,
        Tif.ALO,
        status,
        NOW + 1,
    )
    [row] = inf.parse_open_orders([rec.open_row()])
    assert (row.order.oid, row.order.side, row.order.cloid, row.reduce_only) == (
        oid,
        side,
        cloid,
        ro,
    )
    assert row.order.px == pytest.approx(px / 10) and row.order.orig_sz == pytest.approx(orig / 1e5)
    upd = inf.parse_order_status(rec.status_reply())
    assert upd is not None and upd.raw_status == status and upd.oid == oid
    assert inf.parse_open_orders([rec.frontend_row()], "frontendOpenOrders")[0].order.oid == oid


@given(st.floats(-1e9, 1e9, allow_nan=False))
def test_num_is_a_plain_decimal(x: float) -> None:
    s = num(x)
    assert "e" not in s and not (s.endswith("0") and "." in s) and not s.endswith(".")
    assert float(s) == pytest.approx(x, abs=1e-8)


def test_fault_parameters_are_checked() -> None:
    assert check_fault("http_5xx", {}, "t") == {"status": 502, "when": "before", "duration": 2.0}
    for bad in ({"status": 404}, {"when": "later"}, {"speed": 1}, {"duration": -1}):
        with pytest.raises(ConfigError):
            check_fault("http_5xx", bad, "t")
    with pytest.raises(ConfigError, match="unknown fault"):
        check_fault("meteor", {}, "t")
    fs = FaultState()
    fs.arm("stall", check_fault("stall", {"duration": 1.0}, "t"), 0.0)
    assert fs.active("stall", 0.5) and not fs.active("stall", 1.0)
    assert set(CATALOGUE) >= {"ws_drop", "restart", "fill_race", "http_429"}


def test_scenario_files(tmp_path: Path) -> None:
    good = tmp_path / "s.toml"
    good.write_text(
        '[[step]]\nat = 0.2\nfault = "http_429"\nduration = 0.5\n\n'
        '[[step]]\nat = 0.1\nfault = "ws_drop"\nabrupt = true\n'
    )
    steps = load_scenario(good)
    assert [s.fault for s in steps] == ["ws_drop", "http_429"]
    bad = tmp_path / "b.toml"
    bad.write_text('[[step]]\nat = "soon"\nfault = "ws_drop"\n')
    with pytest.raises(ConfigError, match="step 1: at"):
        load_scenario(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    inline = load_scenario("restart@2.5,ws_drop")
    assert [(s.at_s, s.fault) for s in inline] == [(2.5, "restart"), (3.0, "ws_drop")]
    with pytest.raises(ConfigError, match="not seconds"):
        load_scenario("ws_drop@soon")

    async def main() -> None:
        from mmkit.venues.emulator.server import Emulator

        async with Emulator(EmulatorConfig(scenario=str(good))) as emu:
            await asyncio.sleep(0.4)
            assert emu.faults.active("http_429", emu.monotonic())
            assert [n for _, n in emu.faults.history] == ["ws_drop", "http_429"]

    asyncio.run(main())


def test_loopback_only() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert check_loopback(host) == host
    for host in ("0.0.0.0", "10.0.0.1", "example.com", "::"):
        with pytest.raises(ConfigError, match="loopback"):
            EmulatorConfig(host=host)
    with pytest.raises(ConfigError, match="speed"):
        EmulatorConfig(speed=0)


def test_cli_command_is_registered_and_refuses_public_hosts() -> None:
    from mmkit.cli.main import build_app

    runner = CliRunner()
    out = runner.invoke(build_app([]), ["venue", "emulate", "--help"])
    assert out.exit_code == 0 and "--scenario" in out.output
    cmd = [sys.executable, "-m", "mmkit", "venue", "emulate", "--host", "0.0.0.0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "loopback" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.network
def test_a_taken_port_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    """``--port`` that another socket listens on: was an internal error (exit 70)."""
    from tests.cli.helpers import run_cli

    from mmkit.errors import PortError
    from mmkit.venues.emulator.server import Emulator

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = int(s.getsockname()[1])
        code, out, err = run_cli(["venue", "emulate", "--port", str(port)], capsys)
        assert code == 2, (code, out, err)
        assert err == f"error: --port {port}: address already in use on 127.0.0.1\n"
        emu = Emulator(EmulatorConfig(port=port))
        with pytest.raises(PortError, match=f"--port {port}: address already in use"):
            asyncio.run(emu.start())
        assert emu._runner is None  # what start() set up is cleaned up


@pytest.mark.network
def test_cli_serves_and_stops_on_sigint() -> None:
    import json
    import re
    import signal
    import urllib.request

    cmd = [
        sys.executable,
        "-m",
        "mmkit",
        "venue",
        "emulate",
        "--port",
        "0",
        "--speed",
        "5",
        "--scenario",
        "http_429@600",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        assert m, line
        req = urllib.request.Request(
            m.group(1) + "/info",
            data=json.dumps({"type": "meta"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["universe"][0]["name"] == "BTC"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- --scenario and --account values --------------------------------------------------------

KNOWN = ", ".join(CATALOGUE)


@pytest.mark.parametrize(
    ("value", "unknown"), [("bogus@5", "bogus"), ("ws_dropp@5,restart@10", "ws_dropp")]
)
def test_an_inline_scenario_names_its_unknown_fault(
    value: str, unknown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was read as a file name: "cannot read: No such file or directory"."""
    from tests.cli.helpers import run_cli

    code, out, err = run_cli(["venue", "emulate", "--port", "0", "--scenario", value], capsys)
    assert code == 2, (code, out, err)
    assert f"scenario {value!r}: unknown fault {unknown!r}; known: {KNOWN}" in err
    assert "cannot read" not in err


def test_a_file_by_that_name_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented order: an existing file first, then the inline shape, then a path."""
    monkeypatch.chdir(tmp_path)
    Path("bogus@5").write_text('[[step]]\nat = 1.5\nfault = "stall"\n')
    assert [(s.at_s, s.fault) for s in load_scenario("bogus@5")] == [(1.5, "stall")]
    with pytest.raises(ConfigError, match=r"'nothere\.toml': cannot read"):
        load_scenario("nothere.toml")
    with pytest.raises(ConfigError, match="'faults/ws_drop@5': cannot read"):
        load_scenario("faults/ws_drop@5")


NAMES = st.sampled_from(sorted(CATALOGUE)) | st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True
)
STARTS = (
    st.none()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6).filter(lambda t: "," not in t)
)


@given(st.lists(st.tuples(NAMES, STARTS), min_size=1, max_size=5))
def test_inline_scenarios_against_their_items(items: list[tuple[str, float | str | None]]) -> None:
    """Every value of the inline shape is inline: steps when each name is a fault and each
    start a finite number of seconds >= 0, else one problem per bad item, an unknown name
    with the list of faults (the oracle reads the items as generated, not the string)."""
    spec = ",".join(name if at is None else f"{name}@{at}" for name, at in items)
    expected: list[tuple[float, str]] = []
    bad: list[str] = []
    for name, at in items:
        if name not in CATALOGUE:
            bad.append(f"unknown fault {name!r}; known: {KNOWN}")
            continue
        try:
            at_s = 3.0 if at is None or not str(at).strip() else float(str(at).strip())
        except ValueError:
            bad.append("after '@' is not seconds")
            continue
        if not (math.isfinite(at_s) and at_s >= 0):
            bad.append("must be a finite number of seconds >= 0")
            continue
        expected.append((at_s, name))
    if bad:
        with pytest.raises(ConfigError) as info:
            inline_scenario(spec)
        problems = info.value.problems
        assert len(problems) == len(bad)
        for p, b in zip(problems, bad, strict=True):
            assert p.startswith(f"scenario {spec!r}: ") and b in p, (p, b)
    else:
        steps = inline_scenario(spec)
        assert steps is not None
        assert [(s.at_s, s.fault) for s in steps] == sorted(expected, key=lambda e: e[0])


@given(st.text(max_size=30))
def test_any_scenario_text_is_steps_a_path_or_a_config_error(spec: str) -> None:
    """Never another exception; a value with a dot or a slash in a name is left to be a path."""
    try:
        steps = inline_scenario(spec)
    except ConfigError:
        return
    names = [part.partition("@")[0].strip() for part in spec.split(",")]
    if steps is None:
        assert not all(n.isidentifier() and n.isascii() for n in names)
    else:
        assert [s.fault for s in steps] and all(s.fault in CATALOGUE for s in steps)


@pytest.mark.network
def test_an_account_that_is_not_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    """Was accepted: the emulator started with an account no signature can recover to."""
    from tests.cli.helpers import run_cli

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # a taken port: where the account went unchecked, the command ends there (exit 2,
        # the port named) instead of serving for ever
        s.bind(("127.0.0.1", 0))
        s.listen()
        args = ["venue", "emulate", "--port", str(s.getsockname()[1]), "--account", "notanaddress"]
        code, out, err = run_cli(args, capsys)
    assert code == 2, (code, out, err)
    assert "emulator account (--account): 'notanaddress' is not an address" in err
    assert "0x + 40 hex digits" in err


HEX = "0123456789abcdefABCDEF"


@given(
    st.text(max_size=44)
    | st.builds(
        lambda h, tail: "0x" + h + tail,
        st.text(HEX, min_size=38, max_size=42),
        st.sampled_from(["", "\n", " ", "g"]),
    )
)
def test_accounts_are_addresses(value: str) -> None:
    """An account is accepted exactly when it is ``0x`` and 40 hex digits (the oracle parses
    the digits with ``int``; a final newline slipped past the live check's ``$``)."""
    digits = value[2:]
    ok = (
        value.startswith("0x")
        and len(digits) == 40
        and all(c in HEX for c in digits)
        and int(digits, 16) >= 0
    )
    try:
        cfg = EmulatorConfig(accounts=(value,))
    except ConfigError as exc:
        assert not ok, exc
        assert exc.problems == [
            f"emulator account (--account): {value!r} is not an address (0x + 40 hex digits)"
        ]
    else:
        assert ok and cfg.accounts == (value,)


def test_control_opens_only_accounts_that_are_addresses() -> None:
    """``/_control {"fund": ...}`` (and an agent's two addresses) took any string, opening
    an account no signature can recover to; now refused, naming the key, and nothing is
    opened; a real address still is."""
    from mmkit.errors import ConfigError
    from mmkit.venues.emulator.server import Emulator

    good = "0x" + "ab" * 20

    async def main() -> None:
        async with Emulator(EmulatorConfig(accounts=())) as emu:
            for cmd in (
                {"fund": "bogus"},
                {"fund": good + "\n"},
                {"fund": 12},
                {"agent": good, "master": "nope"},
                {"agent": "nope", "master": good},
            ):
                with pytest.raises(ConfigError, match="is not an address"):
                    await emu.control(cmd)
            assert "bogus" not in emu.book.seen and "nope" not in emu.book.agents
            assert await emu.control({"fund": good.upper().replace("0X", "0x")}) == {"funded": good}

    asyncio.run(main())
