"""``mmkit data convert|info|synth`` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmkit.cli.main import build_app, main

from .helpers import hl_book, hl_trades, write_capture


def _run(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(build_app(args), args)
    return res.exit_code, res.output


def test_convert_and_info(tmp_path: Path) -> None:
    src = write_capture(
        tmp_path / "hl.gz",
        [
            (1, hl_book(1000, [("100.0", "1.5")], [("101.0", "2.25")])),
            (2, hl_trades(1001)),
            "oops",
            (3, hl_book(1500, [("100.5", "1.5")], [("100.5", "2.25")])),
        ],
    )
    out = tmp_path / "hl.parquet"
    code, text = _run(["data", "convert", str(src), str(out)])
    assert code == 0, text
    assert "book_snapshot 2, trade 1" in text and "crossed books 1" in text
    assert "hl.gz:3: malformed" in text
    code, text = _run(["data", "info", str(out), "--json"])
    rep = json.loads(text)
    assert rep["events"] == {"book_snapshot": 2, "trade": 1} and rep["crossed"] == 1
    assert rep["tick"] == 0.1 and rep["lot"] == 0.01 and rep["coin"] == "BTC"
    assert rep["span_s"] == pytest.approx(2e-9)


def test_synth_then_info(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    code, text = _run(["data", "synth", str(out), "--duration-s", "30", "--seed", "1"])
    assert code == 0, text
    assert "source   synthetic" in text and "gaps     0" in text


def test_a_seed_the_store_cannot_keep_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store keeps its seed as a 64-bit integer: a larger seed wrote a store that could
    not be read back ("integer literal ... outside 64 bits"); it is refused before anything
    is written, and the largest that fits works."""
    from tests.cli.helpers import run_cli

    out = tmp_path / "big.parquet"
    synth = ["data", "synth", str(out), "--duration-s", "5", "--seed"]
    code, _, err = run_cli([*synth, str(2**64)], capsys)
    assert code == 2 and "seed" in err and "<= 9223372036854775807" in err
    assert not out.exists()
    code, _, err = run_cli([*synth, str(2**63 - 1)], capsys)
    assert code == 0, err
    code, text, err = run_cli(["data", "info", str(out)], capsys)
    assert code == 0 and "source   synthetic" in text, err


def test_errors_are_messages_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["mmkit", "data", "info", str(tmp_path / "missing.pq")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "missing.pq" in err and "Traceback" not in err
